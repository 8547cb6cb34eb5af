# The embedded synthetic dataset, in the exact ADC 2025 layout (only when data_dir is empty).
# A checkpoint: the planet ids are known only once it has run.


checkpoint simulate:
    output:
        dataset=directory("data/synthetic"),
        truth="data/synthetic.truth.csv",
        truth_dir=directory("data/synthetic.truth"),
    log:
        "logs/simulate/simulate.log",
    benchmark:
        "artifacts/benchmarks/simulate/simulate.tsv"
    conda:
        "../../envs/simulate.yaml"
    threads: 2
    params:
        wildcards=get_wildcards_json,
        train=config["simulate"]["train"],
        test=config["simulate"]["test"],
        seed=config["simulate"]["seed"],
        frames_scale=config["simulate"]["frames_scale"],
        second_visit_fraction=config["simulate"]["second_visit_fraction"],
        variant_args=get_simulate_variant_args,
    shell:
        "spectramind run-stage --stage simulate --rule simulate --threads {threads} --log {log:q}"
        " --wildcards {params.wildcards:q} --input {input:q} --output {output:q} -- "
        "spectramind simulate --out {output.dataset:q} --train {params.train:q} --test {params.test:q}"
        " --seed {params.seed:q} --frames-scale {params.frames_scale:q}"
        " --second-visit-fraction {params.second_visit_fraction:q} --workers {threads}"
        " {params.variant_args:q}"
