# Light curves -> transit depths: one physics fit per planet, its visits combined.


rule fit:
    input:
        calibrated=get_calibrated_visits,
        star_info=get_star_info,
        wavelengths=get_wavelengths,
    output:
        "artifacts/fit/{split}/{planet_id}.npz",
    log:
        "logs/fit/{split}/{planet_id}.log",
    benchmark:
        "artifacts/benchmarks/fit/{split}/{planet_id}.tsv"
    conda:
        "../../envs/fit.yaml"
    threads: config["threads"]
    params:
        wildcards=get_wildcards_json,
        seed=config["seed"],
        fit_config=get_fit_config(),
    shell:
        "spectramind run-stage --stage fit --rule fit --threads {threads} --log {log}"
        " --wildcards {params.wildcards:q} --input {input:q} --output {output:q} -- "
        "spectramind fit --calibrated {input.calibrated} --star-info {input.star_info}"
        " --planet {wildcards.planet_id} --out {output}"
        " --wavelengths {input.wavelengths:q} --fit-config {params.fit_config:q}"
