# Shared setup and input functions. Logic lives in the spectramind package (spectramind.plan,
# spectramind.repro); this file only wires it to Snakemake.
import json
import shlex

from snakemake.utils import validate

from spectramind import plan
from spectramind.physics.selection import selection_subset
from spectramind.repro.runid import JOB_ENVVARS, start_run

# Refuses unknown keys and wrong types before any job runs, and fills schema defaults.
validate(config, "../../schemas/config.schema.yaml")

SIMULATED = config["data_dir"] == ""
DATA_DIR = "data/synthetic" if SIMULATED else config["data_dir"]
TRUTH_CSV = f"{DATA_DIR}.truth.csv"
SELECTED_FIT = "artifacts/fit/selected.json"
# One run id per snakemake invocation, shared by its jobs (also cluster jobs, which re-parse
# this file): see docs/reproducibility.md.
RUN = start_run(
    config,
    main_process=workflow.is_main_process,
    seed=config["seed"],
    manifest=config["manifest"],
)


envvars:
    *JOB_ENVVARS,


wildcard_constraints:
    split="train|test",
    planet_id=r"\d+",
    visit=r"\d+",


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


def get_truth(wildcards):
    """Test truth (simulated data only) for the report; none for real data."""
    return TRUTH_CSV if SIMULATED else []


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
    planets = selection_subset(list(visits), config["fit_select"]["planets"], seed=0)
    return [plan.calibrated_path("train", p, v) for p in planets for v in visits[p]]


def get_fit_selection(wildcards):
    """fit_select's output, or nothing when the selection is off (fit_select.planets: 0)."""
    return SELECTED_FIT if config["fit_select"]["planets"] > 0 else []


def get_fit_args():
    """The fit settings: fit_select's chosen file, or config["fit"] itself (shell-quoted)."""
    if config["fit_select"]["planets"] > 0:
        return f"--fit-config-file {shlex.quote(SELECTED_FIT)}"
    return f"--fit-config {shlex.quote(get_fit_config())}"


def get_spectral_prior_flag():
    """config["train"]["spectral_prior"] as the spectramind train flag."""
    return (
        "--spectral-prior"
        if config["train"]["spectral_prior"]
        else "--no-spectral-prior"
    )


def get_wavelengths(wildcards):
    return f"{get_dataset()}/wavelengths.csv"


def get_report_calibrated(wildcards):
    """The first train planet's first calibrated visit: the report's light-curve example."""
    planets = plan.planet_visits(get_dataset(), "train")
    planet_id = min(planets)
    return plan.calibrated_path("train", planet_id, planets[planet_id][0])


def get_wildcards_json(wildcards):
    """The job's wildcards as JSON, for its manifest record."""
    return json.dumps(dict(wildcards.items()), sort_keys=True)
