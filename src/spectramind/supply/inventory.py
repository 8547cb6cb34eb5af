"""Installed packages (read from a CycloneDX SBOM) and the declared-and-pinned gate.

The project declares its whole environment in ``requirements.lock`` (a ``pip freeze``-style
file of ``name==version`` pins). :func:`check_undeclared` reports every installed package that
is missing from the lock, pinned to another version, or listed without an ``==`` pin.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from spectramind.supply.findings import Finding, GateResult, SupplyChainError

GATE_UNDECLARED = "undeclared"


@dataclass(frozen=True)
class Component:
    """One installed distribution as the SBOM records it.

    ``licenses`` holds the raw CycloneDX license entries, each ``("id"|"name"|"expression",
    text)``, in document order.
    """

    name: str
    version: str
    purl: str = ""
    licenses: tuple[tuple[str, str], ...] = ()

    @property
    def key(self) -> str:
        """PEP 503 normalised name, the identity used by every gate."""
        return canonicalize_name(self.name)


@dataclass(frozen=True)
class LockEntry:
    """One requirement line of the lock: ``pin`` is the ``==`` version, or ``""`` if unpinned."""

    name: str
    pin: str
    line: int
    text: str


def component_from_cyclonedx(entry: dict) -> Component:
    """Build a :class:`Component` from one CycloneDX ``components[]`` object."""
    licenses: list[tuple[str, str]] = []
    for choice in entry.get("licenses", []):
        if "expression" in choice:
            licenses.append(("expression", choice["expression"]))
            continue
        lic = choice.get("license", {})
        if "id" in lic:
            licenses.append(("id", lic["id"]))
        elif "name" in lic:
            licenses.append(("name", lic["name"]))
    return Component(
        name=entry["name"],
        version=entry.get("version", ""),
        purl=entry.get("purl", ""),
        licenses=tuple(licenses),
    )


def load_components(cyclonedx_path: Path) -> tuple[str, list[Component]]:
    """Read a CycloneDX JSON SBOM: ``(root component name, installed components)``.

    The root component (the project itself, ``metadata.component``) is not in the list; the
    project's own installed distribution is (with the same name).
    """
    try:
        doc = json.loads(Path(cyclonedx_path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise SupplyChainError(f"cannot read CycloneDX SBOM {cyclonedx_path}: {err}") from err
    root = (doc.get("metadata", {}).get("component") or {}).get("name", "")
    components = [component_from_cyclonedx(c) for c in doc.get("components", [])]
    return root, sorted(components, key=lambda c: (c.key, c.version))


_OPTION_LINE = re.compile(r"^-{1,2}[a-zA-Z]")


def parse_lock(text: str) -> dict[str, LockEntry]:
    """Parse a ``pip freeze``-style lock into ``{normalised name: LockEntry}``.

    Comments, blank lines, pip options (``--index-url``, ``-c``...) and ``--hash`` continuation
    lines are skipped; environment markers are ignored (a pin is a declaration either way).
    Editable lines (``-e``) declare the project itself and are skipped.
    """
    entries: dict[str, LockEntry] = {}
    logical: list[tuple[int, str]] = []
    buf, start = "", 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split(" #", 1)[0].strip() if not raw.lstrip().startswith("#") else ""
        if not buf:
            start = number
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        logical.append((start, (buf + line).strip()))
        buf = ""
    for number, line in logical:
        if not line or _OPTION_LINE.match(line):
            continue
        line = re.split(r"\s--hash[=\s]", line, maxsplit=1)[0].strip()
        try:
            req = Requirement(line)
        except InvalidRequirement as err:
            raise SupplyChainError(
                f"lock line {number} is not a requirement: {line!r} ({err})"
            ) from err
        pins = [s.version for s in req.specifier if s.operator in ("==", "===")]
        pin = pins[0] if len(pins) == 1 and len(req.specifier) == 1 and not req.url else ""
        entries[canonicalize_name(req.name)] = LockEntry(req.name, pin, number, line)
    return entries


def read_lock(path: Path) -> dict[str, LockEntry]:
    """Read and parse the lock file at ``path`` (see :func:`parse_lock`)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as err:
        raise SupplyChainError(
            f"lock file {path} not readable ({err.strerror}); generate it with "
            "`pip freeze --all --exclude-editable > requirements.lock`"
        ) from err
    return parse_lock(text)


def pin_matches(pin: str, installed: str) -> bool:
    """True if ``installed`` satisfies ``==pin`` as pip would (``2.1`` matches ``2.1+cpu``)."""
    try:
        return SpecifierSet(f"=={pin}").contains(Version(installed), prereleases=True)
    except InvalidVersion:
        return pin == installed


def check_undeclared(
    installed: list[Component],
    lock: dict[str, LockEntry],
    exempt: dict[str, str] | None = None,
) -> list[Finding]:
    """Findings for installed packages that ``lock`` does not declare with a matching ``==`` pin.

    ``exempt`` maps normalised names to a reason (the project itself, curated tooling); an
    exempt package is never reported.
    """
    exempt = {canonicalize_name(k): v for k, v in (exempt or {}).items()}
    findings = []
    for comp in installed:
        if comp.key in exempt:
            continue
        entry = lock.get(comp.key)
        if entry is None:
            findings.append(
                Finding(
                    comp.name,
                    "undeclared",
                    f"{comp.version} is installed but not declared in the lock",
                )
            )
        elif not entry.pin:
            findings.append(
                Finding(
                    comp.name,
                    "unpinned",
                    f"{comp.version} is installed; lock line {entry.line} "
                    f"({entry.text!r}) has no == pin",
                )
            )
        elif not pin_matches(entry.pin, comp.version):
            findings.append(
                Finding(
                    comp.name,
                    "version-mismatch",
                    f"{comp.version} is installed but the lock pins =={entry.pin} "
                    f"(line {entry.line})",
                )
            )
    return findings


def undeclared_gate(
    installed: list[Component],
    lock: dict[str, LockEntry],
    exempt: dict[str, str] | None = None,
) -> GateResult:
    """The declared-and-pinned gate as a :class:`GateResult`."""
    findings = check_undeclared(installed, lock, exempt)
    notes = [f"exempt {name}: {why}" for name, why in sorted((exempt or {}).items())]
    return GateResult.from_findings(GATE_UNDECLARED, findings, len(installed), notes=notes)
