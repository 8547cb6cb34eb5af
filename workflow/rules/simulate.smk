# The embedded synthetic dataset, in the exact ADC 2025 layout (only when data_dir is empty).
# A checkpoint: the planet ids are known only once it has run.


checkpoint simulate:
    output:
        dataset=directory("data/synthetic"),
        truth="data/synthetic.truth.csv",
    log:
        "logs/simulate/simulate.log",
    benchmark:
        "artifacts/benchmarks/simulate/simulate.tsv"
    params:
        train=config["simulate"]["train"],
        test=config["simulate"]["test"],
        seed=config["simulate"]["seed"],
        frames_scale=config["simulate"]["frames_scale"],
        second_visit_fraction=config["simulate"]["second_visit_fraction"],
    threads: 2
    conda:
        "../../envs/simulate.yaml"
    shell:
        "{MANIFEST} --stage simulate --rule simulate --log {log} --output {output.dataset} --output {output.truth} -- "
        "spectramind simulate --out {output.dataset} --train {params.train} --test {params.test}"
        " --seed {params.seed} --frames-scale {params.frames_scale}"
        " --second-visit-fraction {params.second_visit_fraction} --workers {threads}"
