"""``spectramind workflow``: the Snakemake workflow shipped in the package, run in any folder."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "workflow",
        help="run the installed Snakemake workflow in the current folder, or print where it is",
        description=(
            "The workflow files (Snakefile, workflow/rules, config/, schemas/, envs/, profiles/) "
            "ship inside the package. `spectramind workflow path` prints their folder; "
            "`spectramind workflow run [SNAKEMAKE ARGS...]` runs `snakemake --snakefile "
            "<that folder>/Snakefile` with the current folder as the working folder (outputs "
            "under artifacts/, logs/, data/ there), e.g. `spectramind workflow run --cores 4 "
            "--config data_dir=/kaggle/input/ariel-data-challenge-2025 model=model/model.pt`."
        ),
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    path = actions.add_parser("path", help="print the installed workflow folder")
    path.set_defaults(func=run_path)
    run = actions.add_parser(
        "run",
        help="run snakemake on the installed Snakefile here; other arguments go to snakemake",
        prefix_chars="\0",  # every argument, --cores included, belongs to snakemake
    )
    run.add_argument("snakemake_args", nargs=argparse.REMAINDER, help="snakemake arguments")
    run.set_defaults(func=run_workflow)


def run_path(args: argparse.Namespace) -> int:
    import sys

    from spectramind.assets import project_root

    sys.stdout.write(f"{project_root()}\n")
    return 0


def run_workflow(args: argparse.Namespace) -> int:
    import os
    import subprocess
    import sys

    from spectramind.assets import snakefile

    command = [sys.executable, "-m", "snakemake", "--snakefile", str(snakefile())]
    # The jobs call `spectramind`: this installation's, whatever else is on PATH.
    bindir = os.path.dirname(sys.executable)
    env = {**os.environ, "PATH": os.pathsep.join([bindir, os.environ.get("PATH", "")])}
    return subprocess.run([*command, *args.snakemake_args], env=env, check=False).returncode
