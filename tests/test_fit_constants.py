"""Issue 13: no physics-fit constant is one of our simulator's draw bounds (see
tests/fit_constant_audit.py for what counts on each side; run it to print the comparison)."""

from __future__ import annotations

import shutil

import pytest
from fit_constant_audit import COINCIDENCES, REPO, shared_values, unexplained


def test_no_fit_constant_equals_a_simulator_draw_bound_without_a_reason():
    left = unexplained(shared_values())
    assert not left, f"fit constants equal to simulator draw bounds, unexplained: {left}"


def test_every_listed_coincidence_is_still_there():
    """A stale entry would let the same value back in unexamined; remove it when it goes."""
    shared = shared_values()
    stale = {
        (value, site)
        for value, sites in COINCIDENCES.items()
        for site in sites
        if site not in shared.get(value, (set(), set()))[1]
    }
    assert not stale


@pytest.mark.parametrize(
    ("module", "line", "value"),
    [
        # the simulator draws u1 in (0.45, 0.75): an upper bound taken from it
        ("physics/config.py", "LD_U1_MAX = 0.75", 0.75),
        # a clip to the simulator's u2 draw range, inside a function
        ("physics/spectrum.py", "def _box(u):\n    return np.clip(u, 0.15, 0.35)", 0.15),
        # a start point named as such
        (
            "physics/geometry.py",
            "def _start():\n    impact_start = 0.35\n    return impact_start",
            0.35,
        ),
    ],
)
def test_the_audit_catches_a_bound_taken_from_the_simulator(tmp_path, module, line, value):
    src = tmp_path / "spectramind"
    for package in ("simulate", "physics"):
        shutil.copytree(REPO / "src" / "spectramind" / package, src / package)
    assert not unexplained(shared_values(src, None))
    path = src / module
    path.write_text(path.read_text(encoding="utf-8") + "\n\n" + line + "\n", encoding="utf-8")
    assert value in unexplained(shared_values(src, None))
