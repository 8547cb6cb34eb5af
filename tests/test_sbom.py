"""`spectramind sbom`: both SBOMs validate, same bytes twice, and each gate fails on a broken case.

Real tools throughout: cyclonedx-py on this venv, spdx-tools and cyclonedx-python-lib validators,
`pip freeze` for the lock. The SBOM is built twice (~20 s each).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from spectramind.cli import main
from spectramind.supply import (
    Component,
    GateStatus,
    SupplyChainError,
    audit_environment,
    check_cves,
    check_licenses,
    check_undeclared,
    declared_expression,
    expression_allowed,
    load_components,
    load_policy,
    parse_lock,
    parse_pip_audit_json,
    validate_cyclonedx,
    validate_spdx,
)
from spectramind.supply.cve import pip_audit_command
from spectramind.supply.inventory import pin_matches
from spectramind.supply.licenses import LicenseOverride, LicensePolicy

REPO = Path(__file__).resolve().parents[1]
ALLOWLIST = REPO / "config" / "license-allowlist.yaml"
IGNORE = REPO / "config" / "sbom-ignore.yaml"
PYPROJECT = REPO / "pyproject.toml"


def freeze() -> str:
    """A full lock of this venv, as the project generates requirements.lock."""
    argv = [sys.executable, "-m", "pip", "freeze", "--all", "--exclude-editable"]
    return subprocess.run(argv, capture_output=True, text=True, check=True).stdout


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    """One audit of this venv against a complete lock and the repo's allowlist."""
    root = tmp_path_factory.mktemp("sbom")
    lock = root / "requirements.lock"
    lock.write_text(freeze(), encoding="utf-8")
    report = audit_environment(
        out_dir=root / "out",
        lock_path=lock,
        allowlist_path=ALLOWLIST,
        ignore_path=IGNORE,
        pyproject=PYPROJECT,
        cve=True,
    )
    return root, report


# --- end to end -------------------------------------------------------------------------------


def test_both_sboms_written_and_valid(clean):
    _, report = clean
    assert validate_spdx(report.sboms.spdx) == []
    spdx = json.loads(report.sboms.spdx.read_text())
    cdx = json.loads(report.sboms.cyclonedx.read_text())
    assert spdx["spdxVersion"] == "SPDX-2.3"
    assert cdx["bomFormat"] == "CycloneDX" and cdx["serialNumber"].startswith("urn:uuid:")
    # installed components + the project's root package
    assert len(spdx["packages"]) == report.components + 1 == len(cdx["components"]) + 1
    assert any(p["name"] == "numpy" for p in spdx["packages"])
    # no wall-clock time anywhere: namespace is a content hash, created is SOURCE_DATE_EPOCH/epoch
    assert len(spdx["documentNamespace"].rsplit("-", 1)[1]) == 64
    assert "timestamp" not in cdx["metadata"] or "SOURCE_DATE_EPOCH" in os.environ


def test_cyclonedx_validator_accepts_valid_and_rejects_broken(clean, tmp_path):
    _, report = clean
    doc = json.loads(report.sboms.cyclonedx.read_text())
    doc["components"] = doc["components"][:3]
    doc["dependencies"] = []
    small = tmp_path / "small.cdx.json"
    small.write_text(json.dumps(doc))
    assert validate_cyclonedx(small) == []
    doc["components"][0]["licenses"] = [{"license": {"id": "NOT-A-LICENSE"}}]
    small.write_text(json.dumps(doc))
    assert validate_cyclonedx(small) != []


def test_spdx_validator_rejects_broken(clean, tmp_path):
    _, report = clean
    doc = json.loads(report.sboms.spdx.read_text())
    doc["packages"][0]["SPDXID"] = "not-an-spdx-id"
    broken = tmp_path / "broken.spdx.json"
    broken.write_text(json.dumps(doc))
    assert validate_spdx(broken) != []


def test_clean_environment_passes_with_cve_skipped(clean):
    _, report = clean
    status = {g.name: g.status for g in report.gates}
    assert status["undeclared"] is GateStatus.PASS
    assert status["licenses"] is GateStatus.PASS, report.lines()
    assert status["cve-offline"] is GateStatus.PASS, report.lines()
    if pip_audit_command() is None:
        assert status["cve"] is GateStatus.SKIPPED
        assert any(line.startswith("  CVE scan SKIPPED: pip-audit") for line in report.lines())
    assert not report.failed
    assert report.lines()[-1] == "RESULT: PASS"


def test_cli_same_bytes_and_failing_gates_name_packages(clean, tmp_path, capsys):
    """Second run of the same env: identical SBOM bytes; broken lock/allowlist fail by name."""
    _, first = clean
    lines = [ln for ln in freeze().splitlines() if not ln.lower().startswith("pyyaml==")]
    lines = [("jsonlines==0.0.1" if ln.startswith("jsonlines==") else ln) for ln in lines]
    lock = tmp_path / "requirements.lock"
    lock.write_text("\n".join(lines) + "\n")
    allow = yaml.safe_load(ALLOWLIST.read_text())
    allow["allowed"] = [a for a in allow["allowed"] if a["id"] != "MPL-2.0"]
    allowlist = tmp_path / "allow.yaml"
    allowlist.write_text(yaml.safe_dump(allow))
    out = tmp_path / "out"

    rc = main(
        ["sbom", "--out", str(out), "--lock", str(lock), "--allowlist", str(allowlist),
         "--ignore-file", str(IGNORE), "--pyproject", str(PYPROJECT), "--no-cve"]
    )  # fmt: skip

    text = capsys.readouterr().out
    assert rc == 1
    assert (out / "sbom.spdx.json").read_bytes() == first.sboms.spdx.read_bytes()
    assert (out / "sbom.cdx.json").read_bytes() == first.sboms.cyclonedx.read_bytes()
    assert "gate undeclared: FAIL" in text
    assert "  - PyYAML: 6.0.3 is installed but not declared in the lock" in text
    assert "  - jsonlines: 4.0.0 is installed but the lock pins ==0.0.1" in text
    assert "gate licenses: FAIL" in text
    assert "  - certifi: " in text and "MPL-2.0" in text
    assert "CVE scan SKIPPED: disabled by --no-cve" in text
    assert text.rstrip().endswith("RESULT: FAIL")
    gates = json.loads((out / "sbom-gates.json").read_text())
    statuses = {g["name"]: g["status"] for g in gates["gates"]}
    assert statuses == {
        "undeclared": "fail", "licenses": "fail", "cve-offline": "pass", "cve": "skipped",
    }  # fmt: skip
    assert "gate cve-offline: PASS" in text and "advisory snapshot" in text


# --- gate functions ---------------------------------------------------------------------------


def test_parse_lock_forms():
    lock = parse_lock(
        "# comment\n--index-url https://example.invalid\n-e /work/main\n"
        "Foo_Bar==1.0 ; python_version >= '3'  # trailing\n"
        "baz==2.0 \\\n    --hash=sha256:abc\n"
        "loose>=1\n"
        "direct @ https://example.invalid/direct-1.0.whl\n"
    )
    assert lock["foo-bar"].pin == "1.0"
    assert lock["baz"].pin == "2.0"
    assert lock["loose"].pin == "" and lock["direct"].pin == ""
    with pytest.raises(SupplyChainError):
        parse_lock("not a requirement !!\n")


def test_check_undeclared_reports_each_problem():
    installed = [
        Component("numpy", "2.4.6"),
        Component("torch", "2.13.0+cpu"),
        Component("extra", "1.0"),
        Component("loose", "3.0"),
        Component("old", "2.0"),
        Component("spectramind", "0.1.0"),
    ]
    lock = parse_lock("numpy==2.4.6\ntorch==2.13.0\nloose>=1\nold==1.0\n")
    found = {(f.package, f.kind) for f in check_undeclared(installed, lock, {"spectramind": "x"})}
    assert found == {("extra", "undeclared"), ("loose", "unpinned"), ("old", "version-mismatch")}
    assert pin_matches("2.13.0", "2.13.0+cpu") and not pin_matches("2.13.0+cu121", "2.13.0+cpu")


def test_license_normalisation_and_expressions():
    bsd = Component("a", "1", licenses=(("name", "License :: OSI Approved :: BSD License"),))
    both = Component(
        "b", "1", licenses=(("id", "Apache-2.0"), ("name", "License :: OSI Approved :: GPL x"))
    )
    none = Component("c", "1")
    assert declared_expression(bsd) == "LicenseRef-BSD"
    assert declared_expression(both) == "Apache-2.0"  # ids win over classifiers
    assert declared_expression(none) == "UNKNOWN"
    assert expression_allowed("MIT OR GPL-3.0-only", {"MIT"})
    assert not expression_allowed("MIT AND GPL-3.0-only", {"MIT"})
    assert expression_allowed(
        "GPL-2.0-only WITH GCC-exception-2.0", {"gpl-2.0-only with gcc-exception-2.0"}
    )
    assert not expression_allowed("GPL-2.0-only WITH GCC-exception-2.0", {"GPL-2.0-only"})


def test_check_licenses_unknown_override_and_disallowed():
    comps = [
        Component("gpl-pkg", "1.0", licenses=(("id", "GPL-3.0-only"),)),
        Component("mystery", "2.0"),
        Component("fixed", "1.0"),
        Component("stale", "2.0"),
    ]
    policy = LicensePolicy(
        allowed={"MIT"},
        overrides={
            "fixed": LicenseOverride("fixed", "MIT", "LICENSE file is MIT"),
            "stale": LicenseOverride("stale", "MIT", "checked 1.0", version="1.0"),
        },
    )
    found = {(f.package, f.kind): f.message for f in check_licenses(comps, policy)}
    assert set(found) == {
        ("gpl-pkg", "license-disallowed"),
        ("mystery", "license-unknown"),
        ("stale", "license-unknown"),
    }
    assert "GPL-3.0-only" in found[("gpl-pkg", "license-disallowed")]
    assert "review it" in found[("stale", "license-unknown")]


def test_repo_policy_files_load_and_need_reasons(tmp_path):
    policy = load_policy(ALLOWLIST, IGNORE)
    assert "MIT" in policy.allowed
    assert not any("GPL" in key and "LGPL" not in key for key in policy.allowed)
    bad = tmp_path / "allow.yaml"
    bad.write_text(
        "allowed: [{id: MIT, note: ok}]\n"
        "package_exceptions: [{package: x, licenses: [GPL-3.0-only]}]\n"
    )
    with pytest.raises(SupplyChainError, match="reason"):
        load_policy(bad)


def test_cve_gate_skipped_offline_never_passes(monkeypatch):
    """No pip-audit, or no network (proxy to a closed port): SKIPPED with a reason."""
    for var in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"):
        monkeypatch.setenv(var, "http://127.0.0.1:9")
    result = check_cves([Component("numpy", "2.4.6")], [], timeout_s=120)
    assert result.status is GateStatus.SKIPPED and result.reason
    assert check_cves([], [], enabled=False).reason == "disabled by --no-cve"


def test_pip_audit_report_parsing_with_ignores():
    from spectramind.supply.cve import IgnoredVulnerability

    report = {
        "dependencies": [
            {"name": "jinja2", "version": "3.1.2", "vulns": [
                {"id": "GHSA-h5c8-rqwp-cp95", "fix_versions": ["3.1.3"],
                 "aliases": ["CVE-2024-22195"]},
                {"id": "PYSEC-1", "fix_versions": [], "aliases": []},
            ]},
            {"name": "local", "skip_reason": "not on PyPI"},
        ],
        "fixes": [],
    }  # fmt: skip
    ignored = [IgnoredVulnerability("CVE-2024-22195", "Jinja2", "templates are ours")]
    findings, notes = parse_pip_audit_json(report, ignored)
    assert [(f.package, f.message) for f in findings] == [
        ("jinja2", "3.1.2: PYSEC-1 (fixed in none known)")
    ]
    assert any("ignored CVE-2024-22195" in n for n in notes)
    assert any("skipped local" in n for n in notes)


def test_load_components_reads_root_and_licenses(clean):
    _, report = clean
    root, comps = load_components(report.sboms.cyclonedx)
    assert root == "spectramind"
    numpy = next(c for c in comps if c.key == "numpy")
    assert numpy.purl.startswith("pkg:pypi/numpy@") and numpy.licenses
