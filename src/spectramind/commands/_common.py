"""What the command modules share: how a command is registered, and the options several take.

Not a command itself (the leading underscore keeps :func:`spectramind.commands.build_parser`
from registering it). Like the command modules it imports nothing heavy.
"""

from __future__ import annotations

import argparse
import inspect
from collections.abc import Callable
from pathlib import Path

# The supply-chain inputs that `sbom`, `cve check` and `cve refresh` read (docs/sbom.md).
LOCK = "requirements.lock"
IGNORE_FILE = "config/sbom-ignore.yaml"


def add_command(
    subparsers: argparse._SubParsersAction,
    name: str,
    run: Callable[[argparse.Namespace], int],
) -> argparse.ArgumentParser:
    """Register the (sub)command ``name`` that calls ``run(args)``, documented by its docstring.

    The docstring's summary line is the command's line in the parent's ``--help`` list, the rest
    its own ``--help`` description (argparse reflows the text): what a command does is written
    once, on the function that does it.
    """
    summary, _, description = (inspect.getdoc(run) or "").partition("\n\n")
    parser = subparsers.add_parser(
        name, help=" ".join(summary.split()), description=description or None
    )
    parser.set_defaults(func=run)
    return parser


def add_path_option(
    parser: argparse.ArgumentParser,
    flag: str,
    default: str | None,
    help: str,
    **kwargs,
) -> None:
    """``flag PATH``, parsed to a :class:`~pathlib.Path`; a default path is named in the help."""
    parser.add_argument(
        flag,
        type=Path,
        default=None if default is None else Path(default),
        help=help if default is None else f"{help} (default {default})",
        **kwargs,
    )


def add_lock_option(parser: argparse.ArgumentParser, help: str) -> None:
    """``--lock``: the pinned requirements the supply-chain gates read."""
    add_path_option(parser, "--lock", LOCK, help)


def add_ignore_file_option(parser: argparse.ArgumentParser, help: str) -> None:
    """``--ignore-file``: the curated overrides and ignores of the supply-chain gates."""
    add_path_option(parser, "--ignore-file", IGNORE_FILE, help)


def add_calibrated_visits_option(
    parser: argparse.ArgumentParser, help: str, required: bool = False
) -> None:
    """``--calibrated VISIT.npz ...``: calibrated visit files (``spectramind calibrate``
    outputs, docs/CONTRACTS.md); an empty list when optional and not given."""
    parser.add_argument(
        "--calibrated",
        type=Path,
        nargs="+",
        metavar="VISIT.npz",
        help=help,
        **({"required": True} if required else {"default": []}),
    )
