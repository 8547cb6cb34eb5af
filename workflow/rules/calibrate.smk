# Raw frames -> light curves: one job per planet visit, so --cores N and clusters parallelise it.


rule calibrate:
    input:
        get_calibrate_input,
    output:
        "artifacts/calib/{split}/{planet_id}/visit_{visit}.npz",
    log:
        "logs/calibrate/{split}/{planet_id}/visit_{visit}.log",
    benchmark:
        "artifacts/benchmarks/calibrate/{split}/{planet_id}/visit_{visit}.tsv"
    conda:
        "../../envs/calibrate.yaml"
    threads: config["threads"]
    params:
        wildcards=get_wildcards_json,
        data_dir=get_dataset,
        preset=config["calibrate"]["preset"],
        steps=get_calibrate_steps(),
    shell:
        "spectramind run-stage --stage calibrate --rule calibrate --threads {threads} --log {log:q}"
        " --wildcards {params.wildcards:q} --input {input:q} --output {output:q} -- "
        "spectramind calibrate --data-dir {params.data_dir:q} --split {wildcards.split:q}"
        " --planet {wildcards.planet_id:q} --visit {wildcards.visit:q} --preset {params.preset:q}"
        " --steps-json {params.steps:q} --out {output:q}"
