# Light curves -> transit depths: one physics fit per planet, its visits combined, with the
# configuration the train planets' labels choose among candidates (fit_select).


rule fit_select:
    input:
        calibrated=get_selection_visits,
        labels=get_labels,
        star_info=get_star_info_of("train"),
        wavelengths=get_wavelengths,
    output:
        SELECTED_FIT,
    log:
        "logs/fit_select/fit_select.log",
    benchmark:
        "artifacts/benchmarks/fit_select/fit_select.tsv"
    conda:
        "../../envs/fit.yaml"
    threads: config["threads"]
    params:
        wildcards=get_wildcards_json,
        fit_config=get_fit_config(),
        candidates=get_fit_candidates(),
        planets=config["fit_select"]["planets"],
    shell:
        "spectramind run-stage --stage fit --rule fit_select --threads {threads} --log {log:q}"
        " --wildcards {params.wildcards:q} --input {input:q} --output {output:q} -- "
        "spectramind fit-select --calibrated {input.calibrated:q} --labels {input.labels:q}"
        " --star-info {input.star_info:q} --wavelengths {input.wavelengths:q}"
        " --fit-config {params.fit_config:q} --candidates {params.candidates:q}"
        " --planets {params.planets:q} --out {output:q}"


rule fit:
    input:
        calibrated=get_calibrated_visits,
        star_info=get_star_info,
        wavelengths=get_wavelengths,
        selected=get_fit_selection,
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
        fit_args=get_fit_args(),
    shell:
        "spectramind run-stage --stage fit --rule fit --threads {threads} --log {log:q}"
        " --wildcards {params.wildcards:q} --input {input:q} --output {output:q} -- "
        "spectramind fit --calibrated {input.calibrated:q} --star-info {input.star_info:q}"
        " --planet {wildcards.planet_id:q} --out {output:q}"
        " --wavelengths {input.wavelengths:q} {params.fit_args:q}"
