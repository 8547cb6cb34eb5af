"""The offline CVE gate (`spectramind cve`) on the vendored PyPA advisory snapshot.

The gate runs with every proxy pointed at a closed port and, where this process may create a
network namespace (root, as in CI), inside one with no network at all (`unshare -n`).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
import yaml
from packaging.utils import canonicalize_name

from spectramind.supply.inventory import read_lock
from spectramind.supply.osv import SNAPSHOT_DIR, Advisory, check_offline_cves, load_snapshot

REPO = Path(__file__).resolve().parents[1]
OLD_PINS = REPO / "tests/data/old-pins.lock"  # PyYAML 5.3.1, urllib3 1.26.4, numpy 2.4.6


def offline_prefix() -> list[str]:
    """``unshare -n`` when this process can create a network namespace, else nothing."""
    unshare = shutil.which("unshare")
    if unshare and subprocess.run([unshare, "-n", "true"], capture_output=True).returncode == 0:
        return [unshare, "-n"]
    return []


def cve(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    closed = "http://127.0.0.1:9"
    env = {**os.environ, "HTTP_PROXY": closed, "HTTPS_PROXY": closed, "http_proxy": closed,
           "https_proxy": closed, "NO_PROXY": "", "no_proxy": ""}  # fmt: skip
    return subprocess.run(
        [*offline_prefix(), sys.executable, "-m", "spectramind", "cve", *args],
        cwd=cwd, capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip


def test_the_project_lock_passes_offline_and_the_snapshot_date_and_age_are_printed():
    proc = cve("check")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    age = (date.today() - date(2024, 10, 10)).days
    assert "gate cve-offline: PASS" in proc.stdout
    assert "commit 3ccb612573e2, dated 2024-10-10" in proc.stdout
    assert f"{age} days old" in proc.stdout or f"{age - 1} days old" in proc.stdout


def test_a_lock_with_old_pyyaml_and_urllib3_fails_naming_the_advisories(tmp_path):
    proc = cve("check", "--lock", str(OLD_PINS), "--json", str(tmp_path / "cve.json"))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "gate cve-offline: FAIL (3 checked" in proc.stdout
    assert "PyYAML: 5.3.1: PYSEC-2021-142 / CVE-2020-14343" in proc.stdout
    assert "(fixed in 5.4)" in proc.stdout
    assert "urllib3: 1.26.4: PYSEC-2021-108 / CVE-2021-33503" in proc.stdout
    assert "numpy" not in proc.stdout.split("note:")[0]
    saved = json.loads((tmp_path / "cve.json").read_text())
    assert saved["status"] == "fail" and {f["package"] for f in saved["findings"]} == {
        "PyYAML", "urllib3"}  # fmt: skip


def test_curated_ignores_match_ids_or_aliases_and_are_reported(tmp_path):
    lock = tmp_path / "old.lock"
    lock.write_text("PyYAML==5.3.1\n")
    ignore = tmp_path / "ignore.yaml"
    ignore.write_text(yaml.safe_dump({"cves": [
        {"id": "CVE-2020-14343", "package": "pyyaml", "reason": "only safe_load on our files"},
        {"id": "GHSA-0000-0000-0000", "package": "numpy", "reason": "obsolete entry"},
    ]}))  # fmt: skip
    proc = cve("check", "--lock", str(lock), "--ignore-file", str(ignore))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "ignored CVE-2020-14343 in PyYAML 5.3.1: only safe_load on our files" in proc.stdout
    assert "matched nothing (delete if obsolete): GHSA-0000-0000-0000 (numpy)" in proc.stdout


def test_max_age_fails_a_stale_snapshot_and_bad_input_is_a_usage_error(tmp_path):
    assert cve("check", "--max-age-days", "30").returncode == 1
    assert cve("check", "--lock", str(tmp_path / "missing.lock")).returncode == 2


def advisory(**kw) -> Advisory:
    base = {"id": "PYSEC-X", "aliases": (), "package": "pkg", "versions": frozenset(),
            "ranges": ()}  # fmt: skip
    return Advisory(**{**base, **kw})


def test_osv_range_semantics():
    ranged = advisory(ranges=((("introduced", "0"), ("fixed", "1.2")),
                              (("introduced", "2.0"), ("last_affected", "2.1.3"))))  # fmt: skip
    assert ranged.affects("1.1.9") and ranged.affects("0.1")
    assert not ranged.affects("1.2") and not ranged.affects("1.9")
    assert ranged.affects("2.0") and ranged.affects("2.1.3") and not ranged.affects("2.1.4")
    assert ranged.affects("1.1+cpu")  # local versions compare as their public version
    listed = advisory(versions=frozenset({"1.17", "1.18"}))
    assert listed.affects("1.18") and listed.affects("1.18.0") and not listed.affects("1.18.1")
    snapshot = load_snapshot()
    withdrawn = advisory(package="numpy", ranges=((("introduced", "0"),),), withdrawn=True)
    snapshot.advisories = {"numpy": [withdrawn]}
    assert check_offline_cves({"numpy": "2.4.6"}, snapshot, []).findings == []


def test_vendored_snapshot_is_restricted_to_the_lock_and_keeps_its_attribution():
    meta = json.loads((SNAPSHOT_DIR / "snapshot.json").read_text())
    assert meta["commit"] == "3ccb612573e2511ab5cad7dafecd838605c80cda"
    assert meta["date"] == "2024-10-10" and meta["license"] == "CC-BY-4.0"
    assert "Attribution 4.0 International" in (SNAPSHOT_DIR / "LICENSE").read_text()
    assert "licensed under CC-BY 4.0" in (SNAPSHOT_DIR / "README.md").read_text()
    locked = set(read_lock(REPO / "requirements.lock"))
    snapshot = load_snapshot()
    assert snapshot.advisories and set(snapshot.advisories) <= locked
    assert {canonicalize_name(p) for p in meta["packages"]} == set(snapshot.advisories)
    assert {"pyyaml", "urllib3"} <= set(snapshot.advisories)


def test_refresh_rebuilds_the_snapshot_from_a_database_checkout(tmp_path):
    database = tmp_path / "advisory-database"
    shutil.copytree(SNAPSHOT_DIR / "vulns" / "pyyaml", database / "vulns" / "pyyaml")
    shutil.copytree(SNAPSHOT_DIR / "vulns" / "urllib3", database / "vulns" / "urllib3")
    shutil.copy(SNAPSHOT_DIR / "LICENSE", database / "LICENSE")
    lock = tmp_path / "requirements.lock"
    lock.write_text("PyYAML==5.3.1\nnumpy==2.4.6\n")
    snapshot = tmp_path / "snapshot"
    proc = cve("refresh", "--source", str(database), "--commit", "f" * 40, "--date",
               "2026-11-30", "--lock", str(lock), "--snapshot", str(snapshot))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "4 advisories for 1 locked packages" in proc.stdout
    assert sorted(p.name for p in (snapshot / "vulns").iterdir()) == ["pyyaml"]
    for path in (snapshot / "vulns/pyyaml").iterdir():
        assert path.read_bytes() == (SNAPSHOT_DIR / "vulns/pyyaml" / path.name).read_bytes()
    checked = cve("check", "--lock", str(lock), "--snapshot", str(snapshot))
    assert checked.returncode == 1 and "dated 2026-11-30" in checked.stdout

    before = sorted(p.name for p in snapshot.rglob("*"))
    bad = cve("refresh", "--source", str(database), "--commit", "x", "--date", "30/11/2026",
              "--lock", str(lock), "--snapshot", str(snapshot))  # fmt: skip
    assert bad.returncode == 2 and "is not YYYY-MM-DD" in bad.stderr
    assert sorted(p.name for p in snapshot.rglob("*")) == before


@pytest.mark.parametrize("pin", ["PyYAML==6.0.3", "urllib3==2.8.0"])
def test_current_pins_of_the_examples_are_clean(tmp_path, pin):
    lock = tmp_path / "one.lock"
    lock.write_text(pin + "\n")
    assert cve("check", "--lock", str(lock)).returncode == 0
