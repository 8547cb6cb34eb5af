"""SBOM generation: CycloneDX from cyclonedx-py, SPDX 2.3 converted from it, both validated.

Both files are byte-identical for the same environment: cyclonedx-py runs with
``--output-reproducible`` (no timestamp, no random serial); the CycloneDX ``serialNumber`` and
the SPDX ``documentNamespace`` are derived from a SHA-256 of the document content; the SPDX
``created`` time is ``SOURCE_DATE_EPOCH`` when set, else the Unix epoch.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import re
import subprocess
import sys
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from spectramind import __version__
from spectramind.io import atomic_path
from spectramind.supply.findings import SupplyChainError
from spectramind.supply.inventory import Component, component_from_cyclonedx
from spectramind.supply.licenses import (
    UNKNOWN,
    LicensePolicy,
    concluded_expression,
    declared_expression,
    license_keys,
)

log = logging.getLogger(__name__)

CYCLONEDX_NAME = "sbom.cdx.json"
SPDX_NAME = "sbom.spdx.json"
CYCLONEDX_SPEC = "1.6"
NAMESPACE_BASE = "https://spectramind.invalid/spdx"


@dataclass(frozen=True)
class SbomPaths:
    """Where :func:`generate_sboms` wrote the two documents."""

    cyclonedx: Path
    spdx: Path


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _dump_json(doc: dict, indent: int) -> bytes:
    return (json.dumps(doc, indent=indent, ensure_ascii=False) + "\n").encode("utf-8")


def build_cyclonedx(python: Path, pyproject: Path | None) -> dict:
    """Run cyclonedx-py on the environment of ``python``; return the document with a serial.

    cyclonedx-py validates nothing here (``--no-validate``): :func:`validate_cyclonedx` runs
    once on the final file instead, which halves the time.
    """
    argv = [
        sys.executable,
        "-m",
        "cyclonedx_py",
        "environment",
        str(python),
        "--output-reproducible",
        "--no-validate",
        "--sv",
        CYCLONEDX_SPEC,
        "--of",
        "JSON",
        "-o",
        "-",
    ]
    if pyproject is not None:
        argv += ["--pyproject", str(pyproject)]
    log.info("CycloneDX: %s", " ".join(argv))
    proc = subprocess.run(argv, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SupplyChainError(
            f"cyclonedx-py failed (exit {proc.returncode}) for {python}: {proc.stderr.strip()}"
        )
    doc = json.loads(proc.stdout)
    doc.pop("serialNumber", None)
    digest = bytes.fromhex(_sha256(_dump_json(doc, 2)))
    serial = f"urn:uuid:{uuid.UUID(bytes=digest[:16], version=5)}"
    # serialNumber goes right after specVersion, where CycloneDX tools put it.
    ordered = {}
    for key, value in doc.items():
        ordered[key] = value
        if key == "specVersion":
            ordered["serialNumber"] = serial
    ordered.setdefault("serialNumber", serial)
    return ordered


def source_date() -> datetime:
    """``SOURCE_DATE_EPOCH`` as a UTC time, else the Unix epoch (a fixed, reproducible time)."""
    raw = os.environ.get("SOURCE_DATE_EPOCH", "0")
    try:
        return datetime.fromtimestamp(int(raw), tz=UTC)
    except ValueError as err:
        raise SupplyChainError(f"SOURCE_DATE_EPOCH={raw!r} is not a Unix timestamp") from err


def _spdx_id(prefix: str, *parts: str) -> str:
    return "SPDXRef-" + prefix + "-" + re.sub(r"[^A-Za-z0-9.]+", "-", "-".join(parts)).strip("-")


def cyclonedx_to_spdx(cdx: dict, policy: LicensePolicy | None = None):
    """Convert a CycloneDX document (dict) to an spdx-tools ``Document`` (SPDX 2.3).

    One package per component; ``licenseDeclared`` is the normalised metadata license,
    ``licenseConcluded`` the curated override where one applies (else NOASSERTION). The
    namespace is a placeholder: :func:`write_spdx` replaces it with a content hash.
    """
    from spdx_tools.common.spdx_licensing import spdx_licensing
    from spdx_tools.spdx.model import (
        Actor,
        ActorType,
        CreationInfo,
        Document,
        ExternalPackageRef,
        ExternalPackageRefCategory,
        ExtractedLicensingInfo,
        Package,
        PackagePurpose,
        Relationship,
        RelationshipType,
        SpdxNoAssertion,
    )

    policy = policy or LicensePolicy(allowed=set())
    refs: dict[str, str] = {}
    license_refs: dict[str, str] = {}
    packages = []

    def license_value(expression: str, comp_name: str, origin: str):
        if expression == UNKNOWN:
            return SpdxNoAssertion()
        for key in license_keys(expression):
            for part in key.split(" WITH "):
                if part.startswith("LicenseRef-"):
                    license_refs.setdefault(part, f"{origin} (first seen on {comp_name})")
        return spdx_licensing.parse(expression)

    def make_package(entry: dict, spdx_id: str, purpose) -> None:
        comp: Component = component_from_cyclonedx(entry)
        declared = declared_expression(comp)
        concluded, source = concluded_expression(comp, policy)
        ext = []
        if comp.purl:
            ext.append(
                ExternalPackageRef(ExternalPackageRefCategory.PACKAGE_MANAGER, "purl", comp.purl)
            )
        packages.append(
            Package(
                spdx_id=spdx_id,
                name=comp.name,
                version=comp.version or None,
                download_location=SpdxNoAssertion(),
                files_analyzed=False,
                license_declared=license_value(
                    declared, comp.name, "license name or trove classifier in package metadata"
                ),
                license_concluded=(
                    license_value(concluded, comp.name, "curated override, sbom-ignore.yaml")
                    if source == "override"
                    else SpdxNoAssertion()
                ),
                copyright_text=SpdxNoAssertion(),
                summary=entry.get("description") or None,
                external_references=ext,
                primary_package_purpose=purpose,
            )
        )

    root = (cdx.get("metadata") or {}).get("component")
    root_id = None
    if root:
        root_id = _spdx_id("Project", root["name"])
        refs[root.get("bom-ref", "")] = root_id
        make_package(root, root_id, PackagePurpose.APPLICATION)
    for entry in cdx.get("components", []):
        spdx_id = _spdx_id("Package", entry["name"], entry.get("version", ""))
        if spdx_id in refs.values():
            raise SupplyChainError(f"two components map to the SPDX id {spdx_id}")
        refs[entry.get("bom-ref", spdx_id)] = spdx_id
        make_package(entry, spdx_id, PackagePurpose.LIBRARY)

    relationships = []
    if root_id:
        relationships.append(Relationship("SPDXRef-DOCUMENT", RelationshipType.DESCRIBES, root_id))
    for dep in cdx.get("dependencies", []):
        src = refs.get(dep["ref"])
        for target in dep.get("dependsOn", []):
            if src and target in refs:
                relationships.append(Relationship(src, RelationshipType.DEPENDS_ON, refs[target]))
    relationships.sort(key=lambda r: (r.spdx_element_id, r.related_spdx_element_id))

    tools = (cdx.get("metadata") or {}).get("tools", {}).get("components", [])
    creators = [Actor(ActorType.TOOL, f"spectramind-{__version__}")]
    creators += [
        Actor(ActorType.TOOL, f"{t['name']}-{t.get('version', '')}")
        for t in tools
        if t.get("name") == "cyclonedx-py"
    ]
    name = root["name"] if root else "environment"
    creation = CreationInfo(
        spdx_version="SPDX-2.3",
        spdx_id="SPDXRef-DOCUMENT",
        name=f"{name} runtime environment",
        document_namespace=f"{NAMESPACE_BASE}/placeholder",
        creators=creators,
        created=source_date(),
        creator_comment=f"Converted from CycloneDX {cdx.get('serialNumber', '')}",
    )
    extracted = [
        ExtractedLicensingInfo(
            license_id=ref,
            extracted_text=f"{ref}: {origin}; the text is in the package's license files.",
            license_name=ref.removeprefix("LicenseRef-").replace("-", " "),
        )
        for ref, origin in sorted(license_refs.items())
    ]
    return Document(
        creation, packages=packages, relationships=relationships, extracted_licensing_info=extracted
    )


def spdx_bytes(document) -> bytes:
    """Serialise an SPDX document to JSON with a namespace derived from its content hash."""
    from spdx_tools.spdx.writer.json.json_writer import write_document_to_stream

    def render() -> bytes:
        stream = io.StringIO()
        write_document_to_stream(document, stream, validate=False)
        return (stream.getvalue() + "\n").encode("utf-8")

    name = re.sub(r"[^A-Za-z0-9.-]+", "-", document.creation_info.name)
    document.creation_info.document_namespace = f"{NAMESPACE_BASE}/placeholder"
    digest = _sha256(render())
    document.creation_info.document_namespace = f"{NAMESPACE_BASE}/{name}-{digest}"
    return render()


def validate_spdx(path: Path) -> list[str]:
    """Parse ``path`` with spdx-tools and validate it as SPDX 2.3: messages, empty if valid."""
    from spdx_tools.spdx.parser.error import SPDXParsingError
    from spdx_tools.spdx.parser.parse_anything import parse_file
    from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document

    try:
        document = parse_file(str(path))
    except SPDXParsingError as err:
        return [str(m) for m in err.get_messages()]
    except (OSError, ValueError) as err:
        return [f"cannot parse {path}: {err}"]
    return [m.validation_message for m in validate_full_spdx_document(document, "SPDX-2.3")]


def validate_cyclonedx(path: Path) -> list[str]:
    """Validate ``path`` against the CycloneDX JSON schema of its ``specVersion`` (offline).

    Uses cyclonedx-python-lib's strict JSON validator, whose schemas ship with the library.
    """
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    try:
        text = Path(path).read_text(encoding="utf-8")
        spec = json.loads(text).get("specVersion", "")
        version = SchemaVersion.from_version(spec)
    except (OSError, json.JSONDecodeError, ValueError) as err:
        return [f"cannot read CycloneDX {path}: {err}"]
    error = JsonStrictValidator(version).validate_str(text)
    return [] if error is None else [str(error).splitlines()[0]]


def generate_sboms(
    out_dir: Path,
    python: Path | None = None,
    pyproject: Path | None = None,
    policy: LicensePolicy | None = None,
    validate: bool = True,
) -> SbomPaths:
    """Write ``sbom.cdx.json`` and ``sbom.spdx.json`` for the environment of ``python``.

    ``python`` defaults to the interpreter running this code. Raises
    :class:`SupplyChainError` if either document fails validation.
    """
    out_dir = Path(out_dir)
    cdx = build_cyclonedx(Path(python or sys.executable), pyproject)
    paths = SbomPaths(out_dir / CYCLONEDX_NAME, out_dir / SPDX_NAME)
    with atomic_path(paths.cyclonedx) as tmp:
        tmp.write_bytes(_dump_json(cdx, 2))
    with atomic_path(paths.spdx) as tmp:
        tmp.write_bytes(spdx_bytes(cyclonedx_to_spdx(cdx, policy)))
    if validate:
        for path, check in ((paths.spdx, validate_spdx), (paths.cyclonedx, validate_cyclonedx)):
            errors = check(path)
            if errors:
                shown = "; ".join(errors[:5])
                raise SupplyChainError(f"{path} is not valid ({len(errors)} errors): {shown}")
            log.info("valid: %s", path)
    return paths
