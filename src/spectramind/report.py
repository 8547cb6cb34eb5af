"""Figures for the Snakemake report (``snakemake --report artifacts/report.html``).

Three figures a scientist wants to look at after a run:

- ``light_curves.png``: one planet visit's raw white light curve (CDS of the ADC-decoded AIRS
  frames summed over the detector, no other correction) next to the calibrated FGS1 and AIRS
  white light curves, each normalised to its median.
- ``spectra.png``: predicted transit spectra (Rp/Rs)^2 with 1-sigma bands against the true
  spectra of held-out train planets, titled with the validation score (``score.json``) and the
  data it was computed on (the predictions and labels files, the number of planets).
- ``timings.png``: wall time per stage summed over its jobs, from the ``benchmark:`` TSV files.
"""

from __future__ import annotations

import csv
import logging
from collections import defaultdict
from pathlib import Path

import numpy as np

from spectramind.artifacts.calibrated import read_calibrated_visit
from spectramind.artifacts.predictions import read_predictions
from spectramind.artifacts.scores import read_score_json
from spectramind.artifacts.tables import align_on_planet_id, read_labels
from spectramind.data import layout, reader
from spectramind.io import atomic_path

log = logging.getLogger(__name__)

FIGURE_DPI = 110


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> None:
    # No timestamp or version in the PNG metadata: the same data gives the same bytes.
    with atomic_path(path, ".png") as tmp:
        fig.savefig(tmp, dpi=FIGURE_DPI, format="png", metadata={"Software": None})
    _pyplot().close(fig)


def raw_white_light_curve(data_dir: Path, split: str, planet_id: int, visit: int) -> np.ndarray:
    """Raw AIRS white light curve: ADC-decoded CDS frames summed over all pixels, shape (n_cds,).

    Reads the signal file in pixel blocks so memory stays near one file's uint16 size.
    """
    path = layout.signal_path(data_dir, split, planet_id, layout.AIRS, visit)
    signal = reader.read_signal(path, layout.AIRS)  # (frames, rows, cols) uint16
    gain = reader.read_adc_info(data_dir)[layout.AIRS.name].gain
    # Offsets cancel in CDS; sum in float64 over pixels per frame.
    frame_sums = signal.reshape(signal.shape[0], -1).sum(axis=1, dtype=np.float64) / gain
    return frame_sums[1::2] - frame_sums[0::2]


def plot_light_curves(data_dir: Path, calibrated_path: Path, out: Path) -> None:
    calibrated = read_calibrated_visit(calibrated_path)
    planet_id, split, visit = calibrated.planet_id, calibrated.split, calibrated.visit
    raw = raw_white_light_curve(Path(data_dir), split, planet_id, visit)
    axis = reader.read_axis_info(data_dir)
    raw_time_h = axis.airs_time_h[1::2][: raw.size]
    flux = calibrated.flux  # (n_bins, 283)
    fgs = flux[:, 0]
    airs_white = np.nansum(flux[:, 1:], axis=1)
    plt = _pyplot()
    fig, axes = plt.subplots(2, 1, figsize=(8, 6), sharex=True)
    axes[0].plot(raw_time_h, raw / np.nanmedian(raw), ".", ms=2, color="0.4")
    axes[0].set_ylabel("raw AIRS CDS sum / median")
    axes[0].set_title(f"planet {planet_id} ({split}, visit {visit})")
    axes[1].plot(calibrated.time_h, fgs / np.nanmedian(fgs), ".", ms=3, label="FGS1")
    axes[1].plot(
        calibrated.time_h, airs_white / np.nanmedian(airs_white), ".", ms=3, label="AIRS white"
    )
    axes[1].set_ylabel("calibrated flux / median")
    axes[1].set_xlabel("time [h]")
    axes[1].legend(loc="lower right")
    fig.tight_layout()
    _save(fig, out)


def score_title(score_json: Path) -> str:
    """The title "validation score S on N planets: P vs L" of a score file, naming its data."""
    record = read_score_json(score_json)
    first = [record.inputs[k] for k in ("predictions", "submission") if k in record.inputs]
    files = list(dict.fromkeys(str(path) for path in [*first, *record.inputs.values()]))
    return f"validation score {record.score:.4f} on {record.n_planets} planets: " + " vs ".join(
        files
    )


def plot_spectra(
    holdout_predictions: Path,
    labels_csv: Path,
    out: Path,
    n_planets: int = 6,
    score_json: Path | None = None,
) -> None:
    predictions = read_predictions(holdout_predictions)
    labels = read_labels(labels_csv)
    rows = align_on_planet_id(
        predictions.planet_id,
        labels.planet_ids,
        source=str(labels_csv),
        expected="labels for every held-out planet",
    )
    planet_ids, mu, sigma = predictions.planet_id, predictions.mu, predictions.sigma
    truth_of = {int(pid): labels.values[row] for pid, row in zip(planet_ids, rows, strict=True)}
    shown = list(range(planet_ids.size))[:n_planets]
    wavelengths = layout.target_wavelengths_um()
    plt = _pyplot()
    n_rows = max(1, (len(shown) + 1) // 2)
    fig, axes = plt.subplots(n_rows, 2, figsize=(10, 2.6 * n_rows), squeeze=False)
    for ax, i in zip(axes.flat, shown, strict=False):
        pid = int(planet_ids[i])
        ax.fill_between(
            wavelengths[1:], (mu[i] - sigma[i])[1:], (mu[i] + sigma[i])[1:], alpha=0.3, lw=0
        )
        ax.plot(wavelengths[1:], mu[i, 1:], lw=1, label="predicted (AIRS)")
        ax.plot(wavelengths[1:], truth_of[pid][1:], lw=1, color="k", label="truth")
        ax.errorbar(wavelengths[0], mu[i, 0], yerr=sigma[i, 0], fmt="o", ms=3, label="FGS1")
        ax.plot(wavelengths[0], truth_of[pid][0], "kx")
        ax.set_title(f"planet {pid}", fontsize=9)
        ax.set_xlabel("wavelength [µm]")
        ax.set_ylabel("(Rp/Rs)²")
    for ax in list(axes.flat)[len(shown) :]:
        ax.set_visible(False)
    if shown:
        axes.flat[0].legend(fontsize=7)
    if score_json is not None:
        fig.suptitle(score_title(score_json), fontsize=9)
    fig.tight_layout()
    _save(fig, out)


def stage_timings(benchmarks_dir: Path) -> dict[str, tuple[float, int]]:
    """``{stage: (total wall seconds, number of jobs)}`` from Snakemake benchmark TSV files."""
    totals: dict[str, list[float]] = defaultdict(list)
    for tsv in sorted(Path(benchmarks_dir).rglob("*.tsv")):
        stage = tsv.relative_to(benchmarks_dir).parts[0]
        with tsv.open(newline="") as handle:
            for row in csv.DictReader(handle, delimiter="\t"):
                totals[stage].append(float(row["s"]))
    return {stage: (float(sum(v)), len(v)) for stage, v in sorted(totals.items())}


def plot_timings(benchmarks_dir: Path, out: Path) -> None:
    timings = stage_timings(benchmarks_dir)
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 3.5))
    stages = list(timings)
    seconds = [timings[s][0] for s in stages]
    bars = ax.barh(stages, seconds)
    for bar, stage in zip(bars, stages, strict=True):
        ax.text(
            bar.get_width(),
            bar.get_y() + bar.get_height() / 2,
            f" {timings[stage][1]} jobs",
            va="center",
            fontsize=8,
        )
    ax.set_xlabel("wall time summed over jobs [s]")
    fig.tight_layout()
    _save(fig, out)


def write_report_figures(
    data_dir: Path,
    calibrated_path: Path,
    holdout_predictions: Path,
    labels_csv: Path,
    benchmarks_dir: Path,
    out_dir: Path,
    score_json: Path | None = None,
) -> list[Path]:
    out_dir = Path(out_dir)
    paths = [out_dir / "light_curves.png", out_dir / "spectra.png", out_dir / "timings.png"]
    plot_light_curves(Path(data_dir), Path(calibrated_path), paths[0])
    plot_spectra(Path(holdout_predictions), Path(labels_csv), paths[1], score_json=score_json)
    plot_timings(Path(benchmarks_dir), paths[2])
    log.info("report figures written to %s", out_dir)
    return paths
