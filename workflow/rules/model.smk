# Predict-only mode (config key model): the shipped checkpoint, verified against its training
# record, becomes artifacts/ckpt/model.pt in place of the train rule's output.


rule import_model:
    input:
        ckpt=get_model,
        record=get_model_record,
    output:
        "artifacts/ckpt/model.pt",
    log:
        "logs/import_model/import_model.log",
    benchmark:
        "artifacts/benchmarks/import_model/import_model.tsv"
    conda:
        "../../envs/train.yaml"
    params:
        wildcards=get_wildcards_json,
    shell:
        "spectramind run-stage --stage import_model --rule import_model --threads {threads}"
        " --log {log:q} --wildcards {params.wildcards:q} --input {input:q} --output {output:q} -- "
        "spectramind import-model --ckpt {input.ckpt:q} --out {output:q}"
