# Physics depths + train labels -> learned depth correction and per-wavelength sigma.


rule train:
    input:
        fits=get_fits("train"),
        labels=get_labels,
        star_info=get_star_info_of("train"),
        # the fit settings the fits used: hashed in the train record, shipped with the model
        selected=get_fit_selection,
    output:
        artifacts.checkpoint_path(),
    log:
        "logs/train/train.log",
    benchmark:
        "artifacts/benchmarks/train/train.tsv"
    conda:
        "../../envs/train.yaml"
    threads: config["threads"]
    resources:
        gpu=0,
    params:
        wildcards=get_wildcards_json,
        seed=config["seed"],
        holdout=config["train"]["holdout_fraction"],
        device=config["train"]["device"],
        n_folds=config["train"]["n_folds"],
        prior=get_spectral_prior_flag(),
    shell:
        "spectramind run-stage --stage train --rule train --threads {threads} --log {log:q}"
        " --wildcards {params.wildcards:q} --input {input:q} --output {output:q} -- "
        "spectramind train --features {input.fits:q} --labels {input.labels:q}"
        " --star-info {input.star_info:q} --seed {params.seed:q} --holdout-fraction {params.holdout:q}"
        " --device {params.device:q} --n-folds {params.n_folds:q} {params.prior:q} --out {output:q}"
