# Shared setup and input functions. Logic lives in the spectramind package (spectramind.plan,
# spectramind.repro); this file only wires it to Snakemake.
import json

from snakemake.utils import validate

from spectramind import artifacts, plan
from spectramind.assets import SUBMISSION_SCHEMA, beside_workdir
from spectramind.preflight import run_preflight
from spectramind.repro import shipped
from spectramind.repro.cpu import pin_environment
from spectramind.repro.runid import JOB_ENVVARS, begin_run, plan_run

# Jobs inherit the CPU kernel pin (spectramind.repro.cpu) from their first instruction, so the
# wrapper runs its stage in its own process: no restart, no second interpreter per job.
pin_environment()

# Refuses unknown keys and wrong types before any job runs, and fills schema defaults.
validate(config, "../../schemas/config.schema.yaml")

SIMULATED = config["data_dir"] == ""
# Predict-only mode: a shipped checkpoint (verified against its training record by preflight
# and by the import_model job) replaces simulate and train; only the test split is read.
PREDICT_ONLY = config["model"] != ""
DATA_DIR = "data/synthetic" if SIMULATED else config["data_dir"]
# The fit settings the train planets chose (rule fit_select). Predict-only runs read the one
# shipped with the model (spectramind.repro.shipped.FIT_SELECTION), verified against its
# training record, and fit no train planet.
SELECTED_FIT = "artifacts/fit_select/selected.json"
SHIPPED_FIT = shipped.fit_selection_of(config["model"]) if PREDICT_ONLY else None
FIT_SELECT = config["fit_select"]["planets"] > 0 and not PREDICT_ONLY
# Before any job, also in dry runs: cores, calibration steps, the data folder's layout and
# tables; one line and exit 2 on the first problem (spectramind.preflight).
if workflow.is_main_process:
    run_preflight(
        config,
        workflow.resource_settings.cores,
        None if SIMULATED else DATA_DIR,
        model=config["model"] or None,
    )
# One run id per snakemake invocation, shared by its jobs (also cluster jobs, which re-parse
# this file): see docs/reproducibility.md. Nothing is written until jobs run (onstart).
RUN = plan_run(
    config,
    main_process=workflow.is_main_process,
    seed=config["seed"],
    manifest=config["manifest"],
)


# Claims the run folder, freezes the config snapshot, repairs what killed runs left.
onstart:
    begin_run(RUN, config)


envvars:
    *JOB_ENVVARS,


wildcard_constraints:
    split="train|test",
    planet_id=r"\d+",
    visit=r"\d+",


def get_final_outputs():
    """The final outputs: the submission; with training also the validation score and
    the report (they need the train split and its labels, which predict-only never reads).
    """
    if PREDICT_ONLY:
        return [artifacts.submission_path()]
    return [
        artifacts.submission_path(),
        artifacts.score_path(),
        *rules.report_figures.output,
    ]


def get_submission_schema(wildcards):
    """The submission Table Schema as installed with the workflow (checkout or wheel)."""
    return beside_workdir(workflow.basedir, f"schemas/{SUBMISSION_SCHEMA}")


def get_dataset(wildcards=None):
    """The dataset folder: the simulate checkpoint's output, or the user's data_dir."""
    if SIMULATED:
        return checkpoints.simulate.get().output.dataset
    return DATA_DIR


def get_calibrate_input(wildcards):
    """The raw files of one planet visit (after the simulate checkpoint when simulated)."""
    return plan.raw_inputs_of_visit(
        get_dataset(), wildcards.split, wildcards.planet_id, wildcards.visit
    )


def get_calibrated_visits(wildcards):
    return plan.calibrated_paths_of_planet(
        get_dataset(), wildcards.split, wildcards.planet_id
    )


def get_star_info(wildcards):
    return f"{get_dataset()}/{wildcards.split}_star_info.csv"


def get_star_info_of(split):
    def get_star_info_of_split(wildcards):
        return f"{get_dataset()}/{split}_star_info.csv"

    return get_star_info_of_split


def get_fits(split):
    def get_fits_of_split(wildcards):
        return plan.fit_paths_of_split(get_dataset(), split)

    return get_fits_of_split


def get_labels(wildcards):
    return f"{get_dataset()}/train.csv"


def get_sample_submission(wildcards):
    return f"{get_dataset()}/sample_submission.csv"


def get_calibrate_steps():
    return json.dumps(config["calibrate"]["steps"], sort_keys=True)


def get_fit_config():
    """config["fit"] as the JSON of spectramind fit --fit-config."""
    return json.dumps(config["fit"], sort_keys=True)


def get_fit_candidates():
    """config["fit_select"]["candidates"] as the JSON of spectramind fit-select --candidates."""
    return json.dumps(config["fit_select"]["candidates"], sort_keys=True)


def get_selection_visits(wildcards):
    """Calibrated visits of the train planets fit_select fits (a seeded subset)."""
    visits = plan.planet_visits(get_dataset(), "train")
    planets = plan.selection_subset(
        list(visits), config["fit_select"]["planets"], seed=0
    )
    return [plan.calibrated_path("train", p, v) for p in planets for v in visits[p]]


def get_fit_selection(wildcards):
    """The chosen fit settings: fit_select's output, the file shipped with a predict-only
    model, or nothing (selection off, fit_select.planets: 0)."""
    if FIT_SELECT:
        return SELECTED_FIT
    return SHIPPED_FIT or []


def get_fit_args():
    """The fit settings as arguments of spectramind fit (a list, quoted per item): the chosen
    file, or config["fit"] itself."""
    chosen = SELECTED_FIT if FIT_SELECT else SHIPPED_FIT
    if chosen:
        return ["--fit-config-file", chosen]
    return ["--fit-config", get_fit_config()]


def get_spectral_prior_flag():
    """config["train"]["spectral_prior"] as the spectramind train flag."""
    return (
        "--spectral-prior"
        if config["train"]["spectral_prior"]
        else "--no-spectral-prior"
    )


def get_wavelengths(wildcards):
    return f"{get_dataset()}/wavelengths.csv"


def get_simulate_variant_args(wildcards):
    """config["simulate"]["variants"] as repeated --variant arguments (a list, quoted per item)."""
    args = []
    for name in config["simulate"].get("variants", []):
        args += ["--variant", name]
    return args


def get_report_calibrated(wildcards):
    """The first train planet's first calibrated visit: the report's light-curve example."""
    planets = plan.planet_visits(get_dataset(), "train")
    planet_id = min(planets)
    return plan.calibrated_path("train", planet_id, planets[planet_id][0])


def get_wildcards_json(wildcards):
    """The job's wildcards as JSON, for its manifest record."""
    return json.dumps(dict(wildcards.items()), sort_keys=True)


def get_model(wildcards):
    """Predict-only mode: the shipped checkpoint (config key model)."""
    return config["model"]


def get_model_record(wildcards):
    """Predict-only mode: the training record beside the shipped checkpoint."""
    return str(shipped.record_path_of(config["model"]))
