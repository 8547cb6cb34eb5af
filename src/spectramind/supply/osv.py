"""Offline known-vulnerability gate: locked versions against a vendored advisory snapshot.

The snapshot (``spectramind/resources/advisories/``, docs/sbom.md) is a copy of the PyPA
Advisory Database (OSV format, one YAML file per advisory, CC-BY 4.0) restricted to the packages
of ``requirements.lock``, with ``snapshot.json`` naming its source commit and date. A locked
``name==version`` is affected by an advisory when an ``affected`` entry for that PyPI package
lists the version explicitly (``versions``) or one of its ``ECOSYSTEM`` ranges covers it (OSV
semantics: sorted ``introduced``/``fixed``/``last_affected`` events, ``introduced: "0"`` is the
start of time). Versions compare as PEP 440 public versions (``2.13.0+cpu`` is ``2.13.0``).
Withdrawn advisories and curated ignores (``cves`` in ``config/sbom-ignore.yaml``, by id or
alias) do not fail the gate; every ignore used is reported.

The gate always says which snapshot it used, its date and its age: an old snapshot can only
say that nothing *known at that date* affects the pins. :func:`refresh_snapshot` rebuilds the
snapshot from a checkout of the live database (the weekly ``sbom-refresh`` workflow).
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import yaml
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from spectramind.supply.cve import IgnoredVulnerability, load_ignored_vulnerabilities
from spectramind.supply.findings import Finding, GateResult, SupplyChainError
from spectramind.supply.inventory import read_lock

log = logging.getLogger(__name__)

GATE_CVE_OFFLINE = "cve-offline"
SNAPSHOT_DIR = Path(__file__).resolve().parents[1] / "resources" / "advisories"
META_NAME = "snapshot.json"
VULNS_DIR = "vulns"
SOURCE = "PyPA Advisory Database (https://github.com/pypa/advisory-database)"
#: A snapshot older than this is called stale in the gate's output (not a failure by itself).
STALE_AFTER_DAYS = 30

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class Advisory:
    """One OSV advisory as it applies to one PyPI package."""

    id: str
    aliases: tuple[str, ...]
    package: str  # PEP 503 normalised
    versions: frozenset[str]
    ranges: tuple[tuple[tuple[str, str], ...], ...]  # per range: ((event kind, version), ...)
    summary: str = ""
    withdrawn: bool = False

    @property
    def fixed_in(self) -> list[str]:
        return sorted(
            {v for events in self.ranges for kind, v in events if kind == "fixed"}, key=_sort_key
        )

    def affects(self, version: str) -> bool:
        """True if ``version`` is listed or inside an ECOSYSTEM range (module docstring)."""
        public = _public(version)
        if public is None:
            return version in self.versions
        if any(_public(listed) == public for listed in self.versions):
            return True
        return any(_in_range(public, events) for events in self.ranges)


def _public(version: str) -> Version | None:
    try:
        return Version(Version(version).public)
    except InvalidVersion:
        return None


def _sort_key(version: str) -> tuple[int, Any]:
    if version == "0":
        return (0, Version("0"))
    parsed = _public(version)
    return (1, parsed) if parsed is not None else (2, version)


def _in_range(version: Version, events: tuple[tuple[str, str], ...]) -> bool:
    affected = False
    for kind, bound in sorted(events, key=lambda e: _sort_key(e[1])):
        limit = Version("0") if bound == "0" else _public(bound)
        if limit is None:
            continue
        if kind == "introduced" and version >= limit:
            affected = True
        elif kind == "fixed" and version >= limit:
            affected = False
        elif kind == "last_affected" and version > limit:
            affected = False
    return affected


def parse_advisory(data: dict[str, Any]) -> list[Advisory]:
    """The :class:`Advisory` entries (one per affected PyPI package) of one OSV document."""
    if not isinstance(data, dict) or "id" not in data:
        raise SupplyChainError("not an OSV advisory (no id)")
    out = []
    for affected in data.get("affected") or []:
        package = affected.get("package") or {}
        if str(package.get("ecosystem", "")).split(":")[0] != "PyPI" or not package.get("name"):
            continue
        ranges = tuple(
            tuple(
                (kind, str(value))
                for event in r.get("events") or []
                for kind, value in event.items()
                if kind in ("introduced", "fixed", "last_affected")
            )
            for r in affected.get("ranges") or []
            if r.get("type") in ("ECOSYSTEM", "SEMVER")
        )
        out.append(
            Advisory(
                id=str(data["id"]),
                aliases=tuple(str(a) for a in data.get("aliases") or []),
                package=canonicalize_name(package["name"]),
                versions=frozenset(str(v) for v in affected.get("versions") or []),
                ranges=ranges,
                summary=str(data.get("summary") or data.get("details") or "").strip(),
                withdrawn=bool(data.get("withdrawn")),
            )
        )
    return out


def read_advisory_file(path: Path) -> dict[str, Any]:
    text = path.read_text(encoding="utf-8")
    try:
        return json.loads(text) if path.suffix == ".json" else yaml.load(text, Loader=_Loader)
    except (ValueError, yaml.YAMLError) as err:
        raise SupplyChainError(f"{path}: unreadable advisory ({err})") from err


def advisory_files(vulns: Path) -> list[Path]:
    return sorted(p for p in vulns.rglob("*") if p.suffix in (".yaml", ".yml", ".json"))


@dataclass
class Snapshot:
    """A vendored advisory snapshot: where it came from, and its advisories by package."""

    directory: Path
    commit: str
    date: date
    source: str
    advisories: dict[str, list[Advisory]] = field(default_factory=dict)

    @property
    def count(self) -> int:
        return len({a.id for items in self.advisories.values() for a in items})

    def age_days(self, today: date | None = None) -> int:
        return ((today or datetime.now(UTC).date()) - self.date).days

    def describe(self, today: date | None = None) -> str:
        age = self.age_days(today)
        line = (
            f"advisory snapshot {self.source}, commit {self.commit[:12]}, dated "
            f"{self.date.isoformat()}, {age} days old; {self.count} advisories for "
            f"{len(self.advisories)} packages"
        )
        if age > STALE_AFTER_DAYS:
            line += (
                f" (STALE: older than {STALE_AFTER_DAYS} days, so vulnerabilities published "
                "since are not known to this gate; refresh: sbom-refresh workflow)"
            )
        return line


def load_snapshot(directory: Path | str | None = None) -> Snapshot:
    """Read ``snapshot.json`` and every advisory under ``vulns/`` of a snapshot folder."""
    directory = Path(directory) if directory is not None else SNAPSHOT_DIR
    try:
        meta = json.loads((directory / META_NAME).read_text(encoding="utf-8"))
        snapshot = Snapshot(
            directory=directory,
            commit=str(meta["commit"]),
            date=date.fromisoformat(str(meta["date"])),
            source=str(meta.get("source", SOURCE)),
        )
    except (OSError, ValueError, KeyError) as err:
        raise SupplyChainError(
            f"advisory snapshot {directory} has no valid {META_NAME} ({err})"
        ) from err
    for path in advisory_files(directory / VULNS_DIR):
        try:
            advisories = parse_advisory(read_advisory_file(path))
        except SupplyChainError as err:
            raise SupplyChainError(f"{path}: {err}") from err
        for advisory in advisories:
            snapshot.advisories.setdefault(advisory.package, []).append(advisory)
    return snapshot


def check_offline_cves(
    packages: dict[str, str],
    snapshot: Snapshot,
    ignored: list[IgnoredVulnerability],
    today: date | None = None,
    max_age_days: int | None = None,
) -> GateResult:
    """The gate: ``packages`` (``{name: version}``) against ``snapshot`` minus ``ignored``.

    Fails on any known, non-withdrawn, non-ignored advisory, and when the snapshot is older
    than ``max_age_days`` (if given). The first note names the snapshot, its date and age.
    """
    ignore = {(canonicalize_name(i.package), i.id.upper()): i for i in ignored}
    findings, notes = [], [snapshot.describe(today)]
    used_ignores = set()
    for name, version in sorted(packages.items()):
        key = canonicalize_name(name)
        for advisory in snapshot.advisories.get(key, []):
            if advisory.withdrawn or not advisory.affects(version):
                continue
            ids = [advisory.id, *advisory.aliases]
            hit = next((ignore[(key, i.upper())] for i in ids if (key, i.upper()) in ignore), None)
            if hit is not None:
                used_ignores.add((key, hit.id.upper()))
                notes.append(f"ignored {hit.id} in {name} {version}: {hit.reason.strip()}")
                continue
            fixed = ", ".join(advisory.fixed_in) or "no fix known"
            findings.append(
                Finding(name, "vulnerability", f"{version}: {' / '.join(ids)} (fixed in {fixed})")
            )
    unused = sorted(f"{i.id} ({i.package})" for k, i in ignore.items() if k not in used_ignores)
    if unused:
        notes.append(f"ignores that matched nothing (delete if obsolete): {', '.join(unused)}")
    age = snapshot.age_days(today)
    if max_age_days is not None and age > max_age_days:
        findings.append(
            Finding(
                "(snapshot)",
                "stale-snapshot",
                f"advisory snapshot is {age} days old, more than --max-age-days {max_age_days}",
            )
        )
    return GateResult.from_findings(GATE_CVE_OFFLINE, findings, len(packages), notes=notes)


def locked_versions(lock_path: Path | str) -> tuple[dict[str, str], list[str]]:
    """``{name: pinned version}`` of a lock, and the names it lists without an ``==`` pin."""
    entries = read_lock(Path(lock_path))
    pinned = {e.name: e.pin for e in entries.values() if e.pin}
    return pinned, sorted(e.name for e in entries.values() if not e.pin)


def check_lock(
    lock_path: Path | str,
    ignore_path: Path | str | None = None,
    snapshot_dir: Path | str | None = None,
    today: date | None = None,
    max_age_days: int | None = None,
) -> GateResult:
    """:func:`check_offline_cves` on the pins of a ``requirements.lock``-style file."""
    pinned, unpinned = locked_versions(lock_path)
    result = check_offline_cves(
        pinned,
        load_snapshot(snapshot_dir),
        load_ignored_vulnerabilities(Path(ignore_path) if ignore_path else None),
        today=today,
        max_age_days=max_age_days,
    )
    if unpinned:
        result.notes.append(f"not checked (no == pin): {', '.join(unpinned)}")
    return result


def offline_cve_report(
    lock_path: Path | str, ignore_path: Path | str | None = None, **kwargs: Any
) -> dict[str, Any]:
    """:func:`check_lock` as a JSON-ready dict (with the lock path and the snapshot facts)."""
    snapshot = load_snapshot(kwargs.get("snapshot_dir"))
    result = check_lock(lock_path, ignore_path, **kwargs)
    return {
        "lock": str(lock_path),
        "snapshot": {
            "source": snapshot.source,
            "commit": snapshot.commit,
            "date": snapshot.date.isoformat(),
            "age_days": snapshot.age_days(kwargs.get("today")),
        },
        "gate": result.to_dict(),
    }


# --- refreshing the vendored snapshot ---------------------------------------------------------


@dataclass
class RefreshSummary:
    destination: Path
    commit: str
    date: str
    files: int
    packages: list[str]

    def line(self) -> str:
        return (
            f"advisory snapshot {self.destination}: commit {self.commit[:12]} of {self.date}, "
            f"{self.files} advisories for {len(self.packages)} locked packages"
        )


def refresh_snapshot(
    source: Path | str,
    lock_path: Path | str,
    commit: str,
    snapshot_date: str,
    destination: Path | str | None = None,
) -> RefreshSummary:
    """Rebuild the snapshot at ``destination`` from a database checkout at ``source``.

    ``source`` is the checkout (with ``vulns/`` and ``LICENSE``) or its ``vulns/`` folder. Keeps,
    byte for byte, every advisory that affects a package named in the lock; writes
    ``snapshot.json`` and the attribution; replaces ``destination`` only when all went well.
    """
    source = Path(source)
    vulns = source / VULNS_DIR if (source / VULNS_DIR).is_dir() else source
    license_file = next(
        (p for p in (vulns.parent / "LICENSE", source / "LICENSE") if p.is_file()), None
    )
    if not vulns.is_dir():
        raise SupplyChainError(f"{source}: no {VULNS_DIR}/ folder of OSV advisories")
    if license_file is None:
        raise SupplyChainError(f"{source}: no LICENSE beside {VULNS_DIR}/ (CC-BY 4.0 attribution)")
    try:
        when = date.fromisoformat(snapshot_date)
    except ValueError as err:
        raise SupplyChainError(f"snapshot date {snapshot_date!r} is not YYYY-MM-DD") from err
    destination = Path(destination) if destination is not None else SNAPSHOT_DIR
    wanted = {canonicalize_name(name) for name in read_lock(Path(lock_path))}
    kept: dict[Path, set[str]] = {}
    for path in advisory_files(vulns):
        packages = {a.package for a in parse_advisory(read_advisory_file(path))} & wanted
        if packages:
            kept[path] = packages
    destination.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{destination.name}.", dir=destination.parent))
    try:
        for path in kept:
            target = staging / VULNS_DIR / path.relative_to(vulns)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
        shutil.copyfile(license_file, staging / "LICENSE")
        packages = sorted({p for names in kept.values() for p in names})
        meta = {
            "source": SOURCE,
            "commit": commit,
            "date": when.isoformat(),
            "license": "CC-BY-4.0",
            "restricted_to": "packages of requirements.lock",
            "advisories": len(kept),
            "packages": packages,
        }
        (staging / META_NAME).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        (staging / "README.md").write_text(_attribution(meta), encoding="utf-8")
        old = destination.with_name(f".{destination.name}.old")
        if old.exists():
            shutil.rmtree(old)
        if destination.exists():
            destination.rename(old)
        staging.rename(destination)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return RefreshSummary(destination, commit, when.isoformat(), len(kept), packages)


def _attribution(meta: dict[str, Any]) -> str:
    return f"""# Vendored advisory snapshot (offline CVE gate)

Advisories from the {SOURCE}, in OSV format, copied unchanged and
restricted to the packages of `requirements.lock` that have advisories
({len(meta["packages"])} packages, {meta["advisories"]} advisories).

- Source commit: {meta["commit"]}
- Commit date: {meta["date"]}
- License: Creative Commons Attribution 4.0 International (CC-BY 4.0), see `LICENSE`.
  Attribution: "PyPA Advisory Database, https://github.com/pypa/advisory-database,
  licensed under CC-BY 4.0"; the files under `vulns/` are unmodified copies.

Used by `spectramind cve check`, `spectramind sbom` (gate `cve-offline`) and
`spectramind compliance` (gate `cve`). Regenerated by `spectramind cve refresh` (weekly in the
`sbom-refresh` workflow, which opens the diff as a pull request). Do not edit by hand.
"""
