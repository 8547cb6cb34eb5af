"""Pre-commit check: pipeline code runs only through the ``spectramind`` CLI (ADR 0006 risk).

Every stage must go through ``spectramind <stage>`` (behind ``spectramind run-stage``) so that it
is recorded in the run manifest. :func:`check_file` reports the ways around it:

- Snakemake files (``Snakefile``, ``*.smk``): a rule with ``run:``, ``script:``, ``notebook:``,
  ``wrapper:`` or ``cwl:`` (Python executed by Snakemake, not by the CLI), or a line that runs
  ``python -m ...``, ``python -c ...`` or ``python some_script.py``;
- Python files under ``workflow/`` or ``scripts/``: importing a ``spectramind`` module other
  than the CLI entry points (:data:`CLI_MODULES`), i.e. running pipeline code directly;
- shell scripts under ``workflow/`` or ``scripts/``: a line that runs Python that way.

A line may opt out with the comment ``# cli-entrypoints: allow`` and a reason after it.
"""

from __future__ import annotations

import ast
import logging
import re
import sys
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

#: spectramind modules a script may import: the CLI itself, the hook, errors and the version.
CLI_MODULES = frozenset(
    {"spectramind", "spectramind.cli", "spectramind.errors", "spectramind.hooks"}
)
#: Snakemake directives that execute Python (or foreign code) instead of a shell command.
FORBIDDEN_DIRECTIVES = ("run", "script", "notebook", "wrapper", "cwl")
ALLOW_MARKER = "cli-entrypoints: allow"
#: Folders whose Python and shell scripts are checked (relative to the repository root).
SCRIPT_DIRS = ("workflow", "scripts")

_DIRECTIVE = re.compile(rf"^\s+({'|'.join(FORBIDDEN_DIRECTIVES)})\s*:")
# python, python3, python3.11, {sys.executable}-style paths ending in python, then -m/-c or a .py
_PYTHON_CALL = re.compile(r"(?:^|[\s'\"(;&|/])python[0-9.]*\s+(?:-[a-zA-Z]*[mc]\b|\S+\.py\b)")


@dataclass(frozen=True)
class Violation:
    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


def is_snakemake_file(path: Path) -> bool:
    return path.name == "Snakefile" or path.suffix in {".smk", ".snakefile"}


def in_script_dir(path: Path) -> bool:
    parts = path.parts
    return any(d in parts for d in SCRIPT_DIRS)


def _code_lines(text: str):
    for number, line in enumerate(text.splitlines(), 1):
        if ALLOW_MARKER in line or line.lstrip().startswith("#"):
            continue
        yield number, line


def check_snakemake(path: Path, text: str) -> list[Violation]:
    found = []
    for number, line in _code_lines(text):
        match = _DIRECTIVE.match(line)
        if match:
            found.append(
                Violation(
                    str(path),
                    number,
                    f"`{match.group(1)}:` runs code outside the CLI; use a `shell:` line "
                    "calling `spectramind run-stage ... -- spectramind <stage> ...`",
                )
            )
        elif _PYTHON_CALL.search(line):
            found.append(
                Violation(
                    str(path),
                    number,
                    "runs Python directly; call `spectramind <stage>` (through run-stage)",
                )
            )
    return found


def check_shell(path: Path, text: str) -> list[Violation]:
    return [
        Violation(str(path), n, "runs Python directly; call `spectramind <command>` instead")
        for n, line in _code_lines(text)
        if _PYTHON_CALL.search(line)
    ]


def check_python(path: Path, text: str) -> list[Violation]:
    try:
        tree = ast.parse(text, filename=str(path))
    except SyntaxError as err:
        return [Violation(str(path), err.lineno or 0, f"cannot parse: {err.msg}")]
    lines = text.splitlines()
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
            if node.module == "spectramind":
                names = [f"spectramind.{alias.name}" for alias in node.names]
        else:
            continue
        source_line = lines[node.lineno - 1] if node.lineno <= len(lines) else ""
        if ALLOW_MARKER in source_line:
            continue
        for name in names:
            if (name == "spectramind" or name.startswith("spectramind.")) and (
                name not in CLI_MODULES
            ):
                found.append(
                    Violation(
                        str(path),
                        node.lineno,
                        f"imports pipeline module {name}; scripts must run stages through "
                        "the CLI (`spectramind <stage>`, or spectramind.cli.main)",
                    )
                )
    return found


def check_file(path: Path | str) -> list[Violation]:
    """Violations in one file (nothing for files the rule does not cover)."""
    path = Path(path)
    if is_snakemake_file(path):
        kind = check_snakemake
    elif in_script_dir(path) and path.suffix == ".py":
        kind = check_python
    elif in_script_dir(path) and path.suffix in {".sh", ".bash"}:
        kind = check_shell
    else:
        return []
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        return [Violation(str(path), 0, f"cannot read: {err}")]
    return kind(path, text)


def main(argv: list[str] | None = None) -> int:
    """Pre-commit entry: check the files given; print violations; exit 1 if any."""
    paths = sys.argv[1:] if argv is None else argv
    violations = [v for p in paths for v in check_file(p)]
    for violation in violations:
        sys.stderr.write(f"{violation}\n")
    if violations:
        sys.stderr.write(
            f"{len(violations)} non-CLI entry point(s): pipeline code must run through "
            "`spectramind` so that every stage is recorded (docs/reproducibility.md)\n"
        )
    return 1 if violations else 0
