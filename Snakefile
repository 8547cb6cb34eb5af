# SpectraMind: ADC 2025 raw detector frames -> submission.csv, with ADR-0006 run manifests.
#
#   simulate (only without data_dir) -> calibrate (one job per planet visit)
#   -> fit (one job per planet) -> train -> predict -> submit, plus validation score and report.
#
# Outputs land in artifacts/<stage>/..., logs in logs/<stage>/..., benchmarks in
# artifacts/benchmarks/<stage>/..., run manifests in artifacts/runs/<stage>/<run id>/events.jsonl.
# Configuration: config/config.yaml (validated by schemas/config.schema.yaml). Predict-only mode
# (config key model): a shipped checkpoint, verified, replaces simulate and train.
# The same files ship in the wheel: `spectramind workflow run` runs them in any folder.


from snakemake.utils import min_version

from spectramind.assets import beside_workdir

min_version("9.0")


configfile: beside_workdir(workflow.basedir, "config/config.yaml")


include: "workflow/rules/common.smk"
include: "workflow/rules/simulate.smk"
include: "workflow/rules/calibrate.smk"
include: "workflow/rules/fit.smk"


if PREDICT_ONLY:

    include: "workflow/rules/model.smk"

else:

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
        get_final_outputs(),
