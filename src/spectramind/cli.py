"""The ``spectramind`` command: one subcommand per pipeline stage.

Subcommands live in :mod:`spectramind.commands`, one module each, discovered at start-up.
A module defines ``register(subparsers)`` which adds its parser and sets ``func`` (a callable
taking the parsed ``argparse.Namespace`` and returning an exit code). Modules import heavy
dependencies (numpy, pyarrow, torch, snakemake) inside ``func`` so that ``spectramind --help``
and the per-job wrapper ``spectramind run-stage`` stay fast (docs/performance.md).
"""

from __future__ import annotations

import os
import sys

from spectramind.commands import build_parser, configure_logging, run_parsed

__all__ = ["build_parser", "configure_logging", "main", "run_parsed"]


def main(argv: list[str] | None = None) -> int:
    # Before anything imports numpy or torch: the libraries choose their kernels when they load
    # (same bytes on any CPU, spectramind.repro.cpu).
    from spectramind.repro.cpu import needs_restart, pin_environment

    changed = pin_environment()
    parser = build_parser()
    # Parsing imports nothing heavy, so --help, --version and usage errors end here, before a
    # restart (issue 15: `spectramind --help` starts one interpreter, not two).
    args = parser.parse_args(argv)
    # Restart once so the loader sees the pinned GLIBC_TUNABLES (only as the real command, not
    # when called with an argument list, e.g. from tests). The workflow exports the pinned
    # environment (workflow/rules/common.smk), so its jobs start pinned and never restart.
    if argv is None and needs_restart(changed):
        os.execv(sys.executable, [sys.executable, *sys.orig_argv[1:]])
    configure_logging(args.verbose, args.quiet)
    return run_parsed(args)
