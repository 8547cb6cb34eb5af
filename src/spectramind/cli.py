"""The ``spectramind`` command: one subcommand per pipeline stage.

Subcommands live in :mod:`spectramind.commands`, one module each, discovered at start-up.
A module defines ``register(subparsers)`` which adds its parser and sets ``func`` (a callable
taking the parsed ``argparse.Namespace`` and returning an exit code). Modules import heavy
dependencies (torch, snakemake) inside ``func`` so that ``spectramind --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import pkgutil
import sys

from spectramind import __version__, commands
from spectramind.errors import SpectraMindError

log = logging.getLogger("spectramind")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="spectramind",
        description=(
            "SpectraMind: ADC 2025 pipeline from raw detector frames to submission.csv. "
            "Each subcommand is one pipeline stage; the Snakemake workflow calls them."
        ),
    )
    parser.add_argument("--version", action="version", version=f"spectramind {__version__}")
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)"
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module_info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        if module_info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{commands.__name__}.{module_info.name}")
        module.register(subparsers)
    return parser


def configure_logging(verbose: int, quiet: bool) -> None:
    level = logging.WARNING if quiet else (logging.DEBUG if verbose >= 2 else logging.INFO)
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stderr,
    )


def main(argv: list[str] | None = None) -> int:
    # Before anything imports numpy or torch: the libraries choose their kernels when they load
    # (same bytes on any CPU, spectramind.repro.cpu).
    from spectramind.repro.cpu import needs_restart, pin_environment, record_kernels

    changed = pin_environment()
    # Restart once so the loader sees the pinned GLIBC_TUNABLES (only as the real command, not
    # when called with an argument list, e.g. from tests). run-stage computes nothing itself;
    # its stage process inherits the pinned environment and starts pinned.
    command = next((arg for arg in sys.argv[1:] if not arg.startswith("-")), None)
    if argv is None and needs_restart(changed) and command != "run-stage":
        os.execv(sys.executable, [sys.executable, *sys.orig_argv[1:]])
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(args.verbose, args.quiet)
    try:
        code = int(args.func(args) or 0)
        record_kernels()  # which kernels produced the outputs, into the run manifest
        return code
    except SpectraMindError as err:
        log.error("%s", err)
        return err.exit_code
    except KeyboardInterrupt:
        log.error("interrupted")
        return 130
