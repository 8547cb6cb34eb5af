"""License normalisation and the license allowlist gate.

Packages declare licenses in three ways, all kept by cyclonedx-py: an SPDX expression
(``License-Expression``), SPDX ids recognised in the ``License`` field, and trove classifiers
(``License :: OSI Approved :: BSD License``). :func:`declared_expression` turns them into one
SPDX-syntax expression:

- an expression or SPDX ids win over classifiers (they are more precise); several ids or several
  classifiers are alternatives joined with ``OR`` (the reading pip-licenses uses);
- a classifier maps to its SPDX id when the classifier names a version (``MPL 2.0``), else to a
  ``LicenseRef-`` family (``LicenseRef-BSD``: the classifier does not say which BSD);
- nothing usable gives ``UNKNOWN``.

Curated facts override metadata (``config/sbom-ignore.yaml``, ``license_overrides``: UNKNOWN or
misleading metadata, each with a reason). The allowlist (``config/license-allowlist.yaml``) lists
allowed license keys and, separately, per-package exceptions for licenses that are not allowed
in general (copyleft), each with a reason. An expression passes when it evaluates true with the
allowed keys true: ``A OR B`` needs one of them, ``A AND B`` both.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from license_expression import (
    AND,
    OR,
    ExpressionError,
    LicenseSymbol,
    LicenseWithExceptionSymbol,
    Licensing,
)
from packaging.utils import canonicalize_name

from spectramind.supply.findings import Finding, GateResult, SupplyChainError
from spectramind.supply.inventory import Component

GATE_LICENSES = "licenses"
UNKNOWN = "UNKNOWN"

# Trove classifier (text after the last "::") -> SPDX id, or a LicenseRef family where the
# classifier does not pin a version. Unlisted classifiers become LicenseRef-<slug>.
CLASSIFIER_TO_SPDX: dict[str, str] = {
    "MIT License": "MIT",
    "MIT No Attribution License (MIT-0)": "MIT-0",
    "BSD License": "LicenseRef-BSD",
    "Apache Software License": "LicenseRef-Apache",
    "ISC License (ISCL)": "ISC",
    "Python Software Foundation License": "PSF-2.0",
    "Mozilla Public License 2.0 (MPL 2.0)": "MPL-2.0",
    "Mozilla Public License 1.1 (MPL 1.1)": "MPL-1.1",
    "The Unlicense (Unlicense)": "Unlicense",
    "Zope Public License": "LicenseRef-ZPL",
    "Historical Permission Notice and Disclaimer (HPND)": "HPND",
    "Eclipse Public License 2.0 (EPL-2.0)": "EPL-2.0",
    "Eclipse Public License 1.0 (EPL-1.0)": "EPL-1.0",
    "Boost Software License 1.0 (BSL-1.0)": "BSL-1.0",
    "zlib/libpng License": "Zlib",
    "Public Domain": "LicenseRef-Public-Domain",
    "Artistic License": "LicenseRef-Artistic",
    "GNU General Public License (GPL)": "LicenseRef-GPL",
    "GNU General Public License v2 (GPLv2)": "GPL-2.0-only",
    "GNU General Public License v2 or later (GPLv2+)": "GPL-2.0-or-later",
    "GNU General Public License v3 (GPLv3)": "GPL-3.0-only",
    "GNU General Public License v3 or later (GPLv3+)": "GPL-3.0-or-later",
    "GNU Lesser General Public License v2 (LGPLv2)": "LGPL-2.0-only",
    "GNU Lesser General Public License v2 or later (LGPLv2+)": "LGPL-2.0-or-later",
    "GNU Lesser General Public License v3 (LGPLv3)": "LGPL-3.0-only",
    "GNU Lesser General Public License v3 or later (LGPLv3+)": "LGPL-3.0-or-later",
    "GNU Library or Lesser General Public License (LGPL)": "LicenseRef-LGPL",
    "GNU Affero General Public License v3": "AGPL-3.0-only",
    "GNU Affero General Public License v3 or later (AGPLv3+)": "AGPL-3.0-or-later",
    "Other/Proprietary License": "LicenseRef-Proprietary",
}

_LICENSING = Licensing()


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.]+", "-", text).strip("-") or "Unnamed"


def normalise_license_name(name: str) -> str:
    """Map one free-text license name or trove classifier to an SPDX id or ``LicenseRef-``."""
    text = name.strip()
    if not text or text.upper() in {UNKNOWN, "NONE", "NOASSERTION"}:
        return UNKNOWN
    if text.startswith("License ::"):
        tail = text.split("::")[-1].strip()
        if tail == "OSI Approved":
            return UNKNOWN  # the bare classifier names no license
        return CLASSIFIER_TO_SPDX.get(tail, f"LicenseRef-{_slug(tail)}")
    return f"LicenseRef-{_slug(text)}"


def _or(parts: list[str]) -> str:
    unique = list(dict.fromkeys(parts))
    if len(unique) == 1:
        return unique[0]
    return " OR ".join(f"({p})" if " " in p else p for p in unique)


def declared_expression(component: Component) -> str:
    """The component's declared license as one SPDX-syntax expression, or ``UNKNOWN``."""
    expressions = [text for kind, text in component.licenses if kind == "expression"]
    ids = [text for kind, text in component.licenses if kind == "id"]
    names = [normalise_license_name(t) for kind, t in component.licenses if kind == "name"]
    names = [n for n in names if n != UNKNOWN]
    for parts in (expressions, ids, names):
        if parts:
            return _or(parts)
    return UNKNOWN


def license_keys(expression: str) -> list[str]:
    """The license keys of ``expression`` (``GPL-2.0-only WITH X`` is one key), sorted."""
    return sorted(
        {_symbol_key(s) for s in _LICENSING.license_symbols(_parse(expression), decompose=False)}
    )


def _parse(expression: str):
    try:
        return _LICENSING.parse(expression, simple=False)
    except ExpressionError as err:
        raise SupplyChainError(f"license expression {expression!r} does not parse: {err}") from err


def _symbol_key(symbol) -> str:
    if isinstance(symbol, LicenseWithExceptionSymbol):
        return f"{symbol.license_symbol.key} WITH {symbol.exception_symbol.key}"
    return symbol.key


def expression_allowed(expression: str, allowed: set[str]) -> bool:
    """True if ``expression`` is satisfied when exactly the keys in ``allowed`` are usable.

    Keys compare case-insensitively; ``UNKNOWN`` is never allowed.
    """
    if expression == UNKNOWN:
        return False
    allowed_lc = {a.lower() for a in allowed}

    def ok(node) -> bool:
        if isinstance(node, (LicenseSymbol, LicenseWithExceptionSymbol)):
            return _symbol_key(node).lower() in allowed_lc
        if isinstance(node, AND):
            return all(ok(a) for a in node.args)
        if isinstance(node, OR):
            return any(ok(a) for a in node.args)
        raise SupplyChainError(f"unsupported node {node!r} in license expression {expression!r}")

    return ok(_parse(expression))


@dataclass(frozen=True)
class LicenseOverride:
    """A curated license for one package whose metadata is missing or misleading."""

    package: str
    license: str
    reason: str
    version: str = ""


@dataclass(frozen=True)
class PackageException:
    """Licenses accepted for one package only (e.g. a copyleft tool), with the reason."""

    package: str
    licenses: tuple[str, ...]
    reason: str


@dataclass
class LicensePolicy:
    """The allowlist plus curated overrides and per-package exceptions."""

    allowed: set[str]
    overrides: dict[str, LicenseOverride] = field(default_factory=dict)
    exceptions: dict[str, PackageException] = field(default_factory=dict)


def _load_yaml(path: Path) -> dict:
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as err:
        raise SupplyChainError(f"cannot read {path}: {err}") from err
    if not isinstance(data, dict):
        raise SupplyChainError(f"{path}: expected a mapping at the top level")
    return data


def _require(item: dict, keys: tuple[str, ...], where: str) -> None:
    missing = [k for k in keys if not str(item.get(k, "")).strip()]
    if missing:
        raise SupplyChainError(f"{where}: entry {item!r} lacks {', '.join(missing)}")


def load_policy(allowlist_path: Path, ignore_path: Path | None = None) -> LicensePolicy:
    """Read ``license-allowlist.yaml`` (and ``license_overrides`` from ``sbom-ignore.yaml``).

    Every exception and override must give a ``reason``.
    """
    data = _load_yaml(allowlist_path)
    allowed: set[str] = set()
    for item in data.get("allowed", []):
        _require(item, ("id", "note"), f"{allowlist_path} allowed")
        allowed.add(str(item["id"]))
    exceptions = {}
    for item in data.get("package_exceptions", []) or []:
        _require(item, ("package", "licenses", "reason"), f"{allowlist_path} package_exceptions")
        exc = PackageException(
            item["package"], tuple(str(x) for x in item["licenses"]), item["reason"]
        )
        exceptions[canonicalize_name(exc.package)] = exc
    overrides = {}
    if ignore_path is not None:
        for item in _load_yaml(ignore_path).get("license_overrides", []) or []:
            _require(item, ("package", "license", "reason"), f"{ignore_path} license_overrides")
            ovr = LicenseOverride(
                item["package"], item["license"], item["reason"], str(item.get("version", ""))
            )
            _parse(ovr.license)
            overrides[canonicalize_name(ovr.package)] = ovr
    return LicensePolicy(allowed, overrides, exceptions)


def concluded_expression(component: Component, policy: LicensePolicy) -> tuple[str, str]:
    """``(expression, source)``: the override's license if one applies, else the declared one.

    ``source`` is ``"override"`` or ``"declared"``. An override pinned to another version does
    not apply (the package changed: review it again).
    """
    ovr = policy.overrides.get(component.key)
    if ovr and (not ovr.version or ovr.version == component.version):
        return ovr.license, "override"
    return declared_expression(component), "declared"


def check_licenses(installed: list[Component], policy: LicensePolicy) -> list[Finding]:
    """Findings for components whose license is UNKNOWN or not satisfied by the allowlist."""
    findings = []
    for comp in installed:
        expression, source = concluded_expression(comp, policy)
        exc = policy.exceptions.get(comp.key)
        allowed = policy.allowed | set(exc.licenses if exc else ())
        if expression == UNKNOWN:
            stale = policy.overrides.get(comp.key)
            hint = (
                f" (the override is for version {stale.version}: review it)"
                if stale
                else " (add a license_overrides entry with a reason to config/sbom-ignore.yaml)"
            )
            findings.append(
                Finding(comp.name, "license-unknown", f"{comp.version}: license UNKNOWN{hint}")
            )
        elif not expression_allowed(expression, allowed):
            bad = [
                k for k in license_keys(expression) if k.lower() not in {a.lower() for a in allowed}
            ]
            findings.append(
                Finding(
                    comp.name,
                    "license-disallowed",
                    f"{comp.version}: license {expression!r} ({source}) is not allowed "
                    f"(not in the allowlist: {', '.join(bad)})",
                )
            )
    return findings


def licenses_gate(installed: list[Component], policy: LicensePolicy) -> GateResult:
    """The license gate as a :class:`GateResult`, noting overrides and exceptions used."""
    findings = check_licenses(installed, policy)
    keys = {c.key for c in installed}
    used = [o.package for k, o in sorted(policy.overrides.items()) if k in keys]
    excepted = [
        f"{e.package} ({', '.join(e.licenses)})"
        for k, e in sorted(policy.exceptions.items())
        if k in keys
    ]
    notes = []
    if used:
        notes.append(f"license overrides applied ({len(used)}): {', '.join(used)}")
    if excepted:
        notes.append(f"package exceptions applied ({len(excepted)}): {', '.join(excepted)}")
    return GateResult.from_findings(GATE_LICENSES, findings, len(installed), notes=notes)
