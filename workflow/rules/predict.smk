# Checkpoint + physics depths -> predicted spectra (mu, sigma) for the test planets and for
# the held-out train planets (the validation score).


rule predict:
    input:
        ckpt="artifacts/ckpt/model.pt",
        fits=get_fits("test"),
        star_info=get_star_info_of("test"),
    output:
        "artifacts/preds/test.npz",
    log:
        "logs/predict/test.log",
    benchmark:
        "artifacts/benchmarks/predict/test.tsv"
    conda:
        "../../envs/train.yaml"
    threads: config["threads"]
    resources:
        gpu=0,
    params:
        wildcards=get_wildcards_json,
        device=config["train"]["device"],
    shell:
        "spectramind run-stage --stage predict --rule predict --threads {threads} --log {log:q}"
        " --wildcards {params.wildcards:q} --input {input:q} --output {output:q} -- "
        "spectramind predict --ckpt {input.ckpt:q} --features {input.fits:q}"
        " --star-info {input.star_info:q} --device {params.device:q} --out {output:q}"


rule predict_holdout:
    input:
        ckpt="artifacts/ckpt/model.pt",
        fits=get_fits("train"),
        star_info=get_star_info_of("train"),
    output:
        "artifacts/preds/holdout.npz",
    log:
        "logs/predict/holdout.log",
    benchmark:
        "artifacts/benchmarks/predict/holdout.tsv"
    conda:
        "../../envs/train.yaml"
    threads: config["threads"]
    resources:
        gpu=0,
    params:
        wildcards=get_wildcards_json,
        device=config["train"]["device"],
    shell:
        "spectramind run-stage --stage predict --rule predict_holdout --threads {threads} --log {log:q}"
        " --wildcards {params.wildcards:q} --input {input:q} --output {output:q} -- "
        "spectramind predict --ckpt {input.ckpt:q} --features {input.fits:q} --planets holdout"
        " --star-info {input.star_info:q} --device {params.device:q} --out {output:q}"
