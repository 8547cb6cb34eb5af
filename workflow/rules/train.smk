# Physics depths + train labels -> learned depth correction and per-wavelength sigma.


rule train:
    input:
        fits=get_fits("train"),
        labels=get_labels,
        star_info=get_star_info_of("train"),
    output:
        "artifacts/ckpt/model.pt",
    log:
        "logs/train/train.log",
    benchmark:
        "artifacts/benchmarks/train/train.tsv"
    params:
        seed=config["seed"],
        holdout=config["train"]["holdout_fraction"],
        device=config["train"]["device"],
    resources:
        gpu=0,
    conda:
        "../../envs/train.yaml"
    shell:
        "{MANIFEST} --stage train --rule {rule} --log {log} --input {input:q} --output {output:q} -- "
        "spectramind train --features {input.fits} --labels {input.labels}"
        " --star-info {input.star_info} --seed {params.seed} --holdout-fraction {params.holdout}"
        " --device {params.device} --out {output}"
