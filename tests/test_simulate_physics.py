"""The simulated physics and detector match FORMAT.md section 8 and the truth API.

Each check decodes the written parquet files with an independent, textbook calibration (ADC
decode, Horner linearity correction, dark * dt, CDS, flat) and compares with the documented
levels or with ``expected_light_curves``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from spectramind.data import discover_planets, discover_visits, load_visit
from spectramind.simulate import expected_light_curves, planet_truth


def linearize(counts: np.ndarray, coeffs: np.ndarray) -> np.ndarray:
    """sum_k c_k x^k by Horner; coeffs (6, rows, cols)."""
    out = np.zeros_like(counts) + coeffs[5]
    for k in range(4, -1, -1):
        out = out * counts + coeffs[k]
    return out


def calibrated_cds(inst_visit) -> tuple[np.ndarray, np.ndarray]:
    """(CDS electrons / flat (n_cds, rows, cols), bad pixel mask (n_cds, rows, cols))."""
    raw = inst_visit.signal
    cal = inst_visit.calibration
    counts = raw.astype(np.float64) / inst_visit.adc.gain + inst_visit.adc.offset
    lin = linearize(counts, cal.linear_corr)
    lay = inst_visit.instrument
    dt = np.where(np.arange(raw.shape[0]) % 2 == 0, lay.dark_dt_start_s, lay.dark_dt_end_s)
    lin -= cal.dark[None] * dt[:, None, None]
    cds = (lin[1::2] - lin[0::2]) / cal.flat
    bad = cal.dead[None] | (raw[1::2] == 65535) | (raw[0::2] == 65535)
    return cds, bad


def all_visits(data: Path):
    for split in ("train", "test"):
        for pid in discover_planets(data, split):
            for v in discover_visits(data, split, pid):
                yield split, pid, v


def test_linear_corr_inverts_nonlinearity(tiny_dataset: Path) -> None:
    """Forward model m = v - alpha v^2 (alpha = c2 of the file), then the stored degree-5
    inverse, recovers v to < 1e-4 relative from 1 e- to the ADC ceiling."""
    ceiling = 65535 / 0.4369 - 1000.0
    measured_max = 0.0
    for split, pid, v in all_visits(tiny_dataset):
        visit = load_visit(tiny_dataset, split, pid, v)
        for inst in (visit.airs, visit.fgs):
            coeffs = inst.calibration.linear_corr
            assert np.all(coeffs[0] == 0) and np.all(coeffs[1] == 1)
            alpha = coeffs[2]
            assert np.all((alpha > 1e-8) & (alpha < 1e-6))  # a few % at 1e5 e-
            true = np.geomspace(1.0, ceiling, 200)[:, None, None]
            measured = true - alpha[None] * true**2
            rel = np.abs(linearize(measured, coeffs) - true) / true
            assert rel.max() < 1e-4
            # and the non-linearity is not negligible: uncorrected error > 1% at the top
            assert (np.abs(measured - true) / true)[-1].min() > 0.01
            measured_max = max(measured_max, float(inst.signal.max()))
    assert measured_max == 65535  # cosmic rays saturate


def test_count_levels_and_maps(tiny_dataset: Path) -> None:
    hot = dead = n_pix = 0
    negative_dark_in_test = False
    for split, pid, v in all_visits(tiny_dataset):
        visit = load_visit(tiny_dataset, split, pid, v)
        cds, _ = calibrated_cds(visit.airs)
        flat = visit.airs.calibration.flat
        raw_cds = cds * flat  # electrons on the detector
        total = np.median(raw_cds[:, :, 39:321].sum(axis=(1, 2)))
        assert 0.65 * 1.6e7 < total < 1.5 * 1.6e7, total
        # mostly in rows 10:22
        rows = np.median(raw_cds[:, :, 39:321].sum(axis=2), axis=0)
        assert rows[10:22].sum() / rows.sum() > 0.95
        cds_fgs, _ = calibrated_cds(visit.fgs)
        total_fgs = np.median((cds_fgs * visit.fgs.calibration.flat).sum(axis=(1, 2)))
        assert 0.65 * 2.2e5 < total_fgs < 1.5 * 2.2e5, total_fgs

        cal = visit.airs.calibration
        hot += int((cal.dark > 0.5).sum())
        dead += int(cal.dead.sum())
        n_pix += cal.dark.size
        normal = cal.dark[(cal.dark > -0.1) & (cal.dark < 0.5)]
        assert normal.min() >= -0.0101 and normal.max() <= 0.0201
        assert cal.dark.max() < 26
        negative_dark_in_test |= split == "test" and bool((cal.dark < -0.3).any())
        assert 0.57 <= flat.min() < 0.65 and 1.15 < flat.max() <= 1.2
        assert np.all(visit.airs.signal[:, cal.dead] == 0)  # dead pixels read 0
        assert np.all(visit.fgs.signal[:, visit.fgs.calibration.dead] == 0)
        read = cal.read
        assert 9 < read.mean() < 11
    assert 0.013 < hot / n_pix < 0.021
    assert 0.008 < dead / n_pix < 0.014
    assert negative_dark_in_test


def test_calibrated_flux_matches_expected_light_curves(tiny_dataset: Path) -> None:
    """Sum over rows of the calibrated CDS minus background equals the truth's airs_flux."""
    split = "train"
    pid = discover_planets(tiny_dataset, split)[0]
    visit = load_visit(tiny_dataset, split, pid, 0)
    truth = expected_light_curves(tiny_dataset, split, pid, 0)
    cds, bad = calibrated_cds(visit.airs)
    edge = np.r_[0:5, 27:32]
    edge_vals = np.where(bad[:, edge], np.nan, cds[:, edge])
    background = np.nanmean(edge_vals, axis=1)  # (n_cds, cols)
    signal = np.where(bad, 0.0, cds - background[:, None, :])
    # only (frame, column) pairs with no bad pixel in the trace rows
    usable = ~bad[:, 6:26].any(axis=1)
    ratio = signal.sum(axis=1)[usable] / truth.airs_flux[usable]
    assert usable.mean() > 0.5
    # photon + read noise per column per frame: a few 1e-3; mean over >10^4 samples: < 2e-4
    assert abs(ratio.mean() - 1) < 3e-4
    assert ratio.std() < 0.02
    # FGS: whole-frame sum
    cds_f, bad_f = calibrated_cds(visit.fgs)
    ring = np.ones((32, 32), bool)
    ring[4:28, 4:28] = False
    bg_f = np.array([np.mean(c[ring & ~b]) for c, b in zip(cds_f, bad_f, strict=True)])
    sig_f = np.where(bad_f, 0.0, cds_f - bg_f[:, None, None]).sum(axis=(1, 2))
    # dead pixels (zeroed) may sit on the PSF: their flux is lost, a constant fraction
    hit = (visit.fgs.signal[1::2] == 65535).any(axis=(1, 2))  # cosmic ray in the frame
    ratio_f = (sig_f / truth.fgs_flux)[~hit]
    assert 0.85 < np.median(ratio_f) < 1.003
    # and the time series follows the truth to the noise (photon + read: ~4e-3 per frame)
    assert np.std(ratio_f / np.median(ratio_f)) < 0.008
    assert truth.airs_flux.shape == (56, 356) and truth.fgs_flux.shape == (672,)
    assert truth.airs_flux_targets.shape == (56, 282)


def test_white_light_curve_shows_injected_depth(tiny_dataset: Path) -> None:
    """A naive white light curve (sum of the calibrated frame, cubic baseline) dips by the
    injected limb-darkened depth within its noise."""
    for split, pid, v in all_visits(tiny_dataset):
        pt = planet_truth(tiny_dataset, split, pid)
        truth = expected_light_curves(tiny_dataset, split, pid, v)
        visit = load_visit(tiny_dataset, split, pid, v)
        cds, bad = calibrated_cds(visit.airs)
        good_pix = ~bad.any(axis=0)  # pixels never bad in this visit
        white = np.where(good_pix[None], cds, 0.0)[:, :, 39:321].sum(axis=(1, 2))
        t = truth.airs_time_h
        # contact times from the star info (independent closed form, Winn 2010 eq. 14)
        st = pt.star
        b = st.sma * np.cos(np.radians(st.i))
        k = np.sqrt(pt.labels[1:].mean())
        t14 = (
            st.P
            * 24
            / np.pi
            * np.arcsin(np.sqrt((1 + k) ** 2 - b**2) / (st.sma * np.sin(np.radians(st.i))))
        )
        t0 = pt.visits[v].t0_h
        assert t0 - t14 / 2 > t[0] and t0 + t14 / 2 < t[-1]  # baseline both sides
        in_transit = truth.airs_transit.mean(axis=1) < 1
        # the transit window from batman matches T14 from the star info to a cadence
        assert abs(in_transit.sum() * 4.8 / 3600 - t14) < 2 * 4.8 / 3600
        out = ~in_transit
        core = np.abs(t - t0) < 0.25 * t14
        coeffs = np.polyfit(t[out] - t0, white[out], 2)
        baseline = np.polyval(coeffs, t - t0)
        rel = white / baseline
        noise = np.std(rel[out]) / np.sqrt(core.sum())
        dip = 1 - rel[core].mean()
        # expected dip from the truth transit, weighted like the white sum
        weights = pt.airs_flux[39:321]
        expected = 1 - (truth.airs_transit[core][:, 39:321] @ weights / weights.sum()).mean()
        assert abs(dip - expected) < 5 * noise + 2e-4, (dip, expected, noise)
        # limb darkening makes the central dip deeper than (Rp/Rs)^2, but not by much
        assert 0.9 * pt.labels[1:].mean() < expected < 1.35 * pt.labels[1:].mean()


@pytest.mark.parametrize("split", ["train", "test"])
def test_second_visit_same_planet_new_systematics(tiny_dataset: Path, split: str) -> None:
    for pid in discover_planets(tiny_dataset, split):
        visits = discover_visits(tiny_dataset, split, pid)
        if len(visits) == 2:
            a = expected_light_curves(tiny_dataset, split, pid, 0)
            b = expected_light_curves(tiny_dataset, split, pid, 1)
            pt = planet_truth(tiny_dataset, split, pid)
            assert pt.visits[0].t0_h != pt.visits[1].t0_h
            # same star: same out-of-transit flux level up to the drift
            np.testing.assert_allclose(a.airs_flux[0] / b.airs_flux[0], 1, atol=0.03)
            return
    pytest.skip(f"no two-visit planet in {split}")
