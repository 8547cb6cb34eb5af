# Light curves -> transit depths: one physics fit per planet, its visits combined.


rule fit:
    input:
        calibrated=get_calibrated_visits,
        star_info=get_star_info,
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
        ld_u1=get_ld_range("ld_u1_range"),
        ld_u2=get_ld_range("ld_u2_range"),
    shell:
        "spectramind run-stage --stage fit --rule fit --threads {threads} --log {log:q}"
        " --wildcards {params.wildcards:q} --input {input:q} --output {output:q} -- "
        "spectramind fit --calibrated {input.calibrated:q} --star-info {input.star_info:q}"
        " --planet {wildcards.planet_id:q} --out {output:q}"
        " --ld-u1-range {params.ld_u1:q} --ld-u2-range {params.ld_u2:q}"
