"""``spectramind determinism-check``: same seed, same bytes (ADR 0006 determinism job)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "determinism-check",
        help="run the workflow twice with one seed and once with another; compare SHA-256",
        description=(
            "Runs the workflow three times from scratch in fresh copies of the repository "
            "(git-tracked and untracked-not-ignored files): twice with the same seed, once "
            "with another. Passes (exit 0) when the same seed gives byte-identical key outputs "
            "and the other seed changes at least one. Writes the result JSON that "
            "`spectramind compliance` reads. Use --configfile config/tiny.yaml for a quick run. "
            "--cross-cpu adds a fourth run with the same seed under an emulated CPU (numpy, "
            "torch, OpenBLAS, MKL, oneDNN and libm kernels of a CPU without AVX2/FMA, two "
            "threads per job) and prints every key output's SHA-256 under both; any byte "
            "difference fails, unless declared with --tolerance (then compared as numbers and "
            "reported). Profiles: `spectramind cpu-profile --list`."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--repo", type=Path, default=Path("."), help="repository (default: .)")
    parser.add_argument(
        "--configfile", nargs="+", default=[], help="config overlays, relative to the repo"
    )
    parser.add_argument("--seed", type=int, default=None, help="seed (default: the config's)")
    parser.add_argument("--other-seed", type=int, default=None, help="control seed (seed + 1)")
    parser.add_argument("--cores", type=int, default=2, help="snakemake --cores (default 2)")
    parser.add_argument(
        "--target",
        nargs="+",
        default=argparse.SUPPRESS,
        help="snakemake targets (default: submission, score and the two science figures)",
    )
    parser.add_argument(
        "--output",
        nargs="+",
        default=argparse.SUPPRESS,
        help="globs of the outputs to compare, relative to the workflow folder (default: every "
        "file dvc.lock hashes: dataset, truth, calibrated data, fits, checkpoint, predictions, "
        "submission, score, science figures)",
    )
    parser.add_argument(
        "--workdir", type=Path, default=None, help="where the runs happen (default: a temp folder)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary run folders")
    parser.add_argument(
        "--cross-cpu",
        nargs="?",
        const="lower",
        default=None,
        metavar="PROFILE",
        help="also run under this emulated CPU profile (default when given: lower) and "
        "compare every key output byte for byte with the first run",
    )
    parser.add_argument(
        "--tolerance",
        action="append",
        default=[],
        metavar="GLOB=REL",
        help="declare an output (glob) that may differ across CPUs by at most this relative "
        "difference; reported as 'within tolerance' with the measured value (repeatable)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("artifacts/determinism/result.json"),
        help="result JSON (default: %(default)s)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    # Not at register(): `spectramind --help` must not pay for this module (issue 15).
    from spectramind.determinism_check import (
        DEFAULT_OUTPUTS,
        DEFAULT_TARGETS,
        configured_seed,
        determinism_check,
        write_result,
    )
    from spectramind.errors import ConfigError

    tolerances = {}
    for item in args.tolerance:
        pattern, _, value = item.rpartition("=")
        try:
            limit = float(value)
        except ValueError:
            limit = -1.0
        if not pattern or not limit >= 0:
            raise ConfigError(f"--tolerance {item!r}: expected GLOB=REL with REL >= 0")
        tolerances[pattern] = limit
    if tolerances and args.cross_cpu is None:
        raise ConfigError("--tolerance only applies with --cross-cpu")
    seed = args.seed if args.seed is not None else configured_seed(args.repo, args.configfile)
    result = determinism_check(
        repo=args.repo,
        seed=seed,
        other_seed=args.other_seed,
        configfiles=args.configfile,
        targets=getattr(args, "target", None) or list(DEFAULT_TARGETS),
        outputs=getattr(args, "output", None) or list(DEFAULT_OUTPUTS),
        cores=args.cores,
        workdir=args.workdir,
        keep=args.keep,
        cross_cpu=args.cross_cpu,
        tolerances=tolerances,
    )
    write_result(result, args.out)
    sys.stdout.write("\n".join(result.lines()) + f"\nresult: {args.out}\n")
    return 0 if result.passed else 1
