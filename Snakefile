# SpectraMind: ADC 2025 raw detector frames -> submission.csv, with ADR-0006 run manifests.
#
#   simulate (only without data_dir) -> calibrate (one job per planet visit)
#   -> fit (one job per planet) -> train -> predict -> submit, plus validation score and report.
#
# Outputs land in artifacts/<stage>/..., logs in logs/<stage>/..., benchmarks in
# artifacts/benchmarks/<stage>/..., run manifests in artifacts/runs/<stage>/<run id>/events.jsonl.
# Configuration: config/config.yaml (validated by schemas/config.schema.yaml).


from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/simulate.smk"
include: "workflow/rules/calibrate.smk"
include: "workflow/rules/fit.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/predict.smk"
include: "workflow/rules/submit.smk"
include: "workflow/rules/report.smk"


# Under a cluster profile (profiles/slurm) these run on the submitting host, not as cluster jobs
# (docs/slurm.md): each is seconds of one-CPU work on small files, less than one job's queueing
# and status polling; `simulate` only makes the embedded demo/CI dataset (not run with data_dir).
localrules:
    all,
    simulate,
    score,
    submit,
    report_figures,


rule all:
    input:
        "artifacts/submission/submission.csv",
        "artifacts/metrics/score.json",
        rules.report_figures.output,
