"""``spectramind run-stage``: run a stage command inside a workflow rule and record it.

Example rule shell line (most fields come from variables the Snakefile exports)::

    spectramind run-stage --stage calibrate --rule {rule} --threads {threads}
        --wildcards {params.wildcards:q} --input {input:q} --output {output:q}
        -- spectramind calibrate ... 2> {log}
"""

from __future__ import annotations

import argparse
import json

from spectramind.errors import ConfigError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "run-stage",
        help="run a stage command and append its run manifest record (used by the workflow)",
        description=(
            "Run COMMAND (after --), copy its stderr to --log or our stderr, then append one "
            "record (inputs, outputs with SHA-256, config snapshot hash, versions, status) to "
            "<root>/<stage>/<run_id>/events.jsonl. On failure the outputs are removed and the "
            "command's exit code is returned. A `spectramind ...` COMMAND runs inside this "
            "process (no second interpreter; SPECTRAMIND_IN_PROCESS=0: a child process). Input "
            "hashes are reused from earlier records while size, mtime, ctime and inode match "
            "(SPECTRAMIND_HASH_REUSE=0: hash every time). SPECTRAMIND_MANIFEST=0 disables "
            "hashing and records."
        ),
    )
    parser.add_argument("--stage", required=True, help="stage name (folder under the runs root)")
    parser.add_argument("--rule", help="workflow rule name (default: the stage)")
    parser.add_argument("--run-id", help="run id YYYYMMDD_HHMMSS (default: $SPECTRAMIND_RUN_ID)")
    parser.add_argument("--snapshot", help="config snapshot (default: $SPECTRAMIND_SNAPSHOT)")
    parser.add_argument("--seed", type=int, help="the run's seed (default: $SPECTRAMIND_SEED)")
    parser.add_argument(
        "--threads", type=int, help="pin SPECTRAMIND_THREADS/OMP/MKL/OPENBLAS for the command"
    )
    parser.add_argument("--wildcards", default="{}", help="wildcards as a JSON object")
    parser.add_argument(
        "--wildcard", action="append", default=[], metavar="KEY=VALUE", help="one wildcard"
    )
    parser.add_argument("--input", nargs="*", default=[], help="input files or folders")
    parser.add_argument("--output", nargs="*", default=[], help="declared outputs")
    parser.add_argument("--log", help="file the command's stderr is appended to")
    parser.add_argument(
        "--root", help="runs root (default: $SPECTRAMIND_RUNS_ROOT or artifacts/runs)"
    )
    parser.add_argument("cmd", nargs=argparse.REMAINDER, metavar="-- COMMAND ...")
    parser.set_defaults(func=run)


def parse_wildcards(text: str, pairs: list[str]) -> dict[str, str]:
    """Merge the ``--wildcards`` JSON object and ``--wildcard KEY=VALUE`` pairs."""
    try:
        wildcards = json.loads(text)
    except ValueError as err:
        raise ConfigError(f"--wildcards is not JSON: {err}") from err
    if not isinstance(wildcards, dict):
        raise ConfigError("--wildcards must be a JSON object")
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"--wildcard {pair!r} is not KEY=VALUE")
        wildcards[key] = value
    return {str(key): str(value) for key, value in wildcards.items()}


def run(args: argparse.Namespace) -> int:
    from spectramind.commands import invoke
    from spectramind.repro.stage import StageRun, run_stage

    command = list(args.cmd)
    if command[:1] == ["--"]:
        command = command[1:]
    return run_stage(
        StageRun(
            stage=args.stage,
            command=command,
            rule=args.rule,
            wildcards=parse_wildcards(args.wildcards, args.wildcard),
            inputs=args.input,
            outputs=args.output,
            run_id=args.run_id,
            snapshot=args.snapshot,
            seed=args.seed,
            threads=args.threads,
            root=args.root,
            log_path=args.log,
        ),
        entry=invoke,
    )
