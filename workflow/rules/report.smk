# Figures for `snakemake --report artifacts/report.html` (captions in workflow/report/).


rule report_figures:
    input:
        calibrated=get_report_calibrated,
        holdout="artifacts/preds/holdout.npz",
        labels=get_labels,
        score="artifacts/metrics/score.json",
        submission="artifacts/submission/submission.csv",
    output:
        light_curves=report(
            "artifacts/report/light_curves.png",
            caption="../report/light_curves.rst",
            category="Calibration",
        ),
        spectra=report(
            "artifacts/report/spectra.png",
            caption="../report/spectra.rst",
            category="Validation",
        ),
        timings=report(
            "artifacts/report/timings.png",
            caption="../report/timings.rst",
            category="Benchmarks",
        ),
    log:
        "logs/report/figures.log",
    benchmark:
        "artifacts/benchmarks/report/figures.tsv"
    conda:
        "../../envs/submit.yaml"
    params:
        wildcards=get_wildcards_json,
        dataset=get_dataset,
    shell:
        "spectramind run-stage --stage report --rule report_figures --threads {threads} --log {log:q}"
        " --wildcards {params.wildcards:q} --input {input:q} --output {output:q} -- "
        "spectramind report --data-dir {params.dataset:q} --calibrated {input.calibrated:q}"
        " --holdout {input.holdout:q} --labels {input.labels:q} --benchmarks artifacts/benchmarks"
        " --out-dir artifacts/report"
