"""ExoSim 2 payload of the validation set: an AIRS-CH0-like spectrometer, an FGS1-like photometer.

The Ariel payload files (optical chain, PSFs, QE and detector maps) are not public, so this module
describes an instrument from public, round numbers. What is approximated (docs/exosim.md):

- telescope: one collecting area (0.64 m^2, ~1.1 x 0.7 m elliptical primary) and one flat
  efficiency (0.8 per element); FGS1 gets 20 % of the light (a beam splitter); no thermal
  emission of the optics (70 K, emissivity 0), no zodiacal light;
- AIRS-CH0: 32 x 356 pixels of 18 micron, ~1.6-4.1 micron dispersed along the columns by a
  smooth (cubic) wavelength solution of this module, not the real one; Airy PSF at F/13 x F/20;
  QE of 0.55-0.7 with a broad maximum; 10 Hz clock, CDS of 4.5 s every 4.8 s;
- FGS1: 32 x 32 pixels, 0.6-0.8 micron band, Airy PSF at F/50, CDS of 0.1 s every 0.4 s;
- detector (both): per-pixel QE map (the flat field), dark current map with hot pixels, dead
  pixels, per-pixel read noise, kTC offset, a cubic pixel non-linearity map, cosmic rays with
  ExoSim's interaction shapes, gain drift (ExoSim's polynomial model), shot noise, a 16-bit ADC;
- pointing jitter: ExoSim's ``EstimatePointingJitter`` (0.05 arcsec RMS per axis, sampled at
  100 Hz: ExoSim shifts the oversampled focal plane once per sample, the main cost).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

AIRS_NAME = "AIRS-CH0"
FGS_NAME = "FGS1"
FULL_AIRS_CDS = 5625
AIRS_CADENCE_S = 4.8
FGS_CADENCE_S = 0.4
FGS_PER_AIRS = 12
ROWS = 32
AIRS_COLS = 356
FGS_COLS = 32
PIXEL_UM = 18.0
CLOCK_HZ = 10.0
# ADC: digital = floor((counts - offset) * gain) (ExoSim's AnalogToDigital), run at 32 bits:
# ExoSim's 16-bit ADC casts without clipping, so a read past full scale wraps modulo 65536 (a
# bright star's trace then loses 163840 counts per wrap and its transit looks 1.5-2.5x deeper).
# generate.write_visit applies FORMAT.md's 16-bit encoder, clip to 0..65535, to the 32-bit reads.
ADC_BITS = 32
ADC_GAIN = {"AIRS-CH0": 0.4, "FGS1": 0.1}  # FGS1 pixels at the PSF peak collect ~1e5 e- per read
AIRS_WL_RANGE = (1.62, 4.12)  # micron, columns in ExoSim order (increasing wavelength)
FGS_BAND = (0.6, 0.8)
FGS_SPLIT = 0.2  # fraction of the light a beam splitter sends to FGS1 (sets its count level)
WL_GRID_R = 1000  # ExoSim's wavelength grid (log bins); ~2x the AIRS pixel resolution
JITTER_HZ = 100  # pointing-jitter sampling; a multiple of 10 samples per 0.1 s clock (at 20 Hz
# ExoSim puts 1-3 samples in a sub-exposure and the FGS1 flux jumps by +-40 %)
ADC_OFFSET = -200.0  # fixed, so that adc_info holds one value for the whole dataset


def airs_wavelength_solution() -> tuple[np.ndarray, np.ndarray]:
    """(wavelength [micron], x [micron on the focal plane]) of the spectrometer, increasing."""
    k = np.linspace(-0.5, AIRS_COLS - 0.5, 400)  # pixel coordinate
    u = k / (AIRS_COLS - 1)
    lo, hi = AIRS_WL_RANGE
    wl = lo + (hi - lo) * (0.9 * u + 0.08 * u * u + 0.02 * u**3)
    x = (k - (AIRS_COLS - 1) / 2) * PIXEL_UM
    return wl, x


def _ecsv(path: Path, columns: dict[str, tuple[np.ndarray, str]]) -> None:
    """A minimal astropy ECSV table (columns with units)."""
    names = list(columns)
    lines = ["# %ECSV 1.0", "# ---", "# datatype:"]
    for name in names:
        unit = columns[name][1]
        unit_text = f", unit: {unit}" if unit else ""
        lines.append(f"# - {{name: {name}{unit_text}, datatype: float64}}")
    lines.append("# delimiter: ','")
    lines.append("# schema: astropy-2.0")
    lines.append(",".join(names))
    values = [np.asarray(columns[n][0], dtype=np.float64) for n in names]
    for row in zip(*values, strict=True):
        lines.append(",".join(repr(float(v)) for v in row))
    path.write_text("\n".join(lines) + "\n")


def write_payload_files(folder: Path, maps: dict[str, dict[str, np.ndarray]]) -> None:
    """Tables and maps shared by every run: optics, QE, wavelength solution, detector maps."""
    folder.mkdir(parents=True, exist_ok=True)
    wl = np.linspace(0.4, 5.0, 461)
    for name, transmission in (("optics", 0.8), ("fgs_splitter", FGS_SPLIT)):
        _ecsv(
            folder / f"{name}.ecsv",
            {
                "Wavelength": (wl, "um"),
                "Transmission": (np.full_like(wl, transmission), ""),
                "Emissivity": (np.zeros_like(wl), ""),
            },
        )
    qe_airs = 0.55 + 0.15 * np.exp(-0.5 * ((wl - 2.6) / 1.1) ** 2)
    qe_fgs = 0.6 + 0.1 * np.exp(-0.5 * ((wl - 0.7) / 0.2) ** 2)
    _ecsv(
        folder / "qe.ecsv",
        {
            "Wavelength": (wl, "um"),
            AIRS_NAME: (qe_airs, ""),
            FGS_NAME: (qe_fgs, ""),
        },
    )
    sol_wl, sol_x = airs_wavelength_solution()
    _ecsv(
        folder / "airs_wl_solution.ecsv",
        {"Wavelength": (sol_wl, "um"), "y": (np.zeros_like(sol_x), "um"), "x": (sol_x, "um")},
    )
    for ch, chmaps in maps.items():
        for name, array in chmaps.items():
            np.save(folder / f"{ch}_{name}.npy", array)


def draw_maps(rng: np.random.Generator, cols: int) -> dict[str, np.ndarray]:
    """Per-pixel detector maps of one visit (ExoSim inputs, and our calibration files)."""
    shape = (ROWS, cols)
    # QE map (the flat field): smooth gradient x pixel scatter, mean 1
    yy, xx = np.meshgrid(np.linspace(-1, 1, ROWS), np.linspace(-1, 1, cols), indexing="ij")
    flat = 1 + 0.02 * rng.normal() * xx + 0.02 * rng.normal() * yy + rng.normal(0, 0.025, shape)
    flat = np.clip(flat, 0.6, 1.3)
    dark = np.abs(rng.normal(0.02, 0.01, shape))  # [ct/s]
    hot = rng.uniform(size=shape) < 0.012
    dark[hot] = np.exp(rng.uniform(np.log(1.0), np.log(40.0), int(hot.sum())))
    dead = rng.uniform(size=shape) < 0.006
    read = np.clip(rng.normal(12.0, 1.5, shape), 6.0, 25.0)  # [ct] per read
    # non-linearity: measured = q - a q^2 + b q^3 (ExoSim: sum_i c_i q^(i+1))
    a = rng.uniform(2.0e-7, 4.0e-7, shape)
    b = a * a * rng.uniform(0.1, 0.5, shape)
    pnl = np.stack([np.ones(shape), -a, b])
    return {"flat": flat, "dark": dark, "dead": dead, "read": read, "pnl": pnl}


def _channel_xml(
    name: str,
    kind: str,
    folder: Path,
    n_clocks: dict[str, int],
) -> str:
    ph = kind == "photometer"
    wl_lo, wl_hi = FGS_BAND if ph else AIRS_WL_RANGE
    cols = FGS_COLS if ph else AIRS_COLS
    plate = (
        '<plate_scale unit="arcsec/micron"> 0.0085 </plate_scale>'
        if ph
        else (
            '<plate_scale>\n            <spatial unit="arcsec/micron"> 0.0085 </spatial>\n'
            '            <spectral unit="arcsec/micron"> 0.0085 </spectral>\n        </plate_scale>'
        )
    )
    # FGS1 at F/50: a ~2-pixel Airy core (a sharper one saturates the ADC at the peak)
    fnum = ("50", "50") if ph else ("13", "20")
    wl_solution = (
        ""
        if ph
        else f"""
    <wl_solution>
        <wl_solution_task>LoadWavelengthSolution</wl_solution_task>
        <datafile>{folder}/airs_wl_solution.ecsv</datafile>
        <center>auto</center>
    </wl_solution>"""
    )
    target_r = "" if ph else "<targetR>100</targetR>"
    return f"""<root>
    <type>{kind}</type>
    <wl_min unit="micron"> {wl_lo} </wl_min>
    <wl_max unit="micron"> {wl_hi} </wl_max>
    {target_r}
    <optical_path>
        <opticalElement>{name}-optics
            <type>surface</type>
            <task_model>LoadOpticalElement</task_model>
            <temperature unit='K'>70</temperature>
            <datafile>{folder}/{"fgs_splitter" if ph else "optics"}.ecsv</datafile>
            <wavelength_key>Wavelength</wavelength_key>
            <emissivity_key>Emissivity</emissivity_key>
            <efficiency_key>Transmission</efficiency_key>
        </opticalElement>
    </optical_path>
    <Fnum_x>{fnum[0]}</Fnum_x>
    <Fnum_y>{fnum[1]}</Fnum_y>
    <detector>
        {plate}
        <delta_pix unit="micron"> {PIXEL_UM} </delta_pix>
        <spatial_pix>{ROWS}</spatial_pix>
        <spectral_pix>{cols}</spectral_pix>
        <oversampling>3</oversampling>
        <convolution_method>fftconvolve</convolution_method>
        <add_background_to_se> False </add_background_to_se>
        <add_foregrounds_to_se> False </add_foregrounds_to_se>
        <qe_map_task> LoadQeMapNumpy </qe_map_task>
        <qe_map_filename> {folder}/{name}_flat.npy </qe_map_filename>
        <well_depth unit="count"> 100000000 </well_depth>
        <f_well_depth unit=""> 1.0 </f_well_depth>
        <dark_current> True </dark_current>
        <dc_task> AddDarkCurrentMapNumpy </dc_task>
        <dc_map_filename> {folder}/{name}_dark.npy </dc_map_filename>
        <shot_noise> True </shot_noise>
        <cosmic_rays> True </cosmic_rays>
        <cosmic_rays_task> AddCosmicRays </cosmic_rays_task>
        <cosmic_rays_rate unit="ct/cm^2/s"> 5 </cosmic_rays_rate>
        <saturation_rate> 0.03 </saturation_rate>
        <interaction_shapes>
            <single> 0.89 </single>
            <line_v> 0.05 </line_v>
            <line_h> 0.05 </line_h>
            <square> 0.01 </square>
        </interaction_shapes>
        <ktc_offset> True </ktc_offset>
        <ktc_offset_task> AddKTC </ktc_offset_task>
        <ktc_sigma unit="ct"> 10 </ktc_sigma>
        <dead_pixels> True </dead_pixels>
        <dp_map_task> ApplyDeadPixelMapNumpy </dp_map_task>
        <dp_map_filename> {folder}/{name}_dead.npy </dp_map_filename>
        <pixel_non_linearity> True </pixel_non_linearity>
        <pnl_task> ApplyPixelsNonLinearity </pnl_task>
        <pnl_map_task> LoadPixelsNonLinearityMapNumpy </pnl_map_task>
        <pnl_filename> {folder}/{name}_pnl.npy </pnl_filename>
        <saturation> False </saturation>
        <read_noise> True </read_noise>
        <read_noise_task> AddReadNoiseMapNumpy </read_noise_task>
        <read_noise_filename> {folder}/{name}_read.npy </read_noise_filename>
        <gain_drift> True </gain_drift>
        <gain_drift_task> AddGainDrift </gain_drift_task>
        <gain_drift_amplitude_range_min> 5e-4 </gain_drift_amplitude_range_min>
        <gain_drift_amplitude_range_max> 3e-3 </gain_drift_amplitude_range_max>
        <gain_coeff_order_t> 3 </gain_coeff_order_t>
        <gain_coeff_t_min> -1.0 </gain_coeff_t_min>
        <gain_coeff_t_max> 1.0 </gain_coeff_t_max>
        <gain_coeff_order_w> 2 </gain_coeff_order_w>
        <gain_coeff_w_min> -1.0 </gain_coeff_w_min>
        <gain_coeff_w_max> 1.0 </gain_coeff_w_max>
        <ADC> True </ADC>
        <ADC_num_bit> {ADC_BITS} </ADC_num_bit>
        <ADC_gain> {ADC_GAIN[name]} </ADC_gain>
        <ADC_offset> {ADC_OFFSET} </ADC_offset>
        <ADC_round_method>floor</ADC_round_method>
    </detector>
    <readout>
        <readout_frequency unit="Hz">{CLOCK_HZ}</readout_frequency>
        <n_NRDs_per_group> 1 </n_NRDs_per_group>
        <n_groups> 2 </n_groups>
        <n_sim_clocks_Ground> {n_clocks["ground"]} </n_sim_clocks_Ground>
        <n_sim_clocks_first_NDR> {n_clocks["first"]} </n_sim_clocks_first_NDR>
        <n_sim_clocks_Reset> {n_clocks["reset"]} </n_sim_clocks_Reset>
        <n_sim_clocks_groups> {n_clocks["groups"]} </n_sim_clocks_groups>
    </readout>
    <qe>
        <responsivity_task>LoadResponsivity</responsivity_task>
        <datafile>{folder}/qe.ecsv</datafile>
    </qe>{wl_solution}
    <psf>
        <shape>Airy</shape>
        <nzero>4</nzero>
    </psf>
</root>
"""


def write_configuration(
    workdir: Path, payload_dir: Path, planet, n_airs_cds: int, signal_task: Path
) -> Path:
    """ExoSim main/sky/payload XML files of one planet visit; returns the main file."""
    workdir.mkdir(parents=True, exist_ok=True)
    visit_s = n_airs_cds * AIRS_CADENCE_S
    # planet: radius-ratio table and limb-darkening table (read by the chromatic LD task)
    wl = planet.rp_wavelength_um
    (workdir / "rp.csv").write_text(
        "Wavelength,rp/rs\n"
        + "\n".join(f"{w!r},{r!r}" for w, r in zip(wl, planet.rp_rs, strict=True))
        + "\n"
    )
    ld = planet.ld(wl)
    (workdir / "ld.csv").write_text(
        "Wavelength,u1,u2\n"
        + "\n".join(f"{w!r},{a!r},{b!r}" for w, (a, b) in zip(wl, ld, strict=True))
        + "\n"
    )
    sky = f"""<root>
    <source> star
        <source_target>True</source_target>
        <source_type>planck</source_type>
        <R unit="R_sun"> {planet.r_star!r} </R>
        <M unit="M_sun"> {planet.m_star!r} </M>
        <T unit="K"> {planet.t_eff!r} </T>
        <D unit="pc"> {planet.distance_pc!r} </D>
        <z unit=""> 0.0 </z>
        <ra> 12h00m00s </ra>
        <dec> +00d00m00s </dec>
        <planet> b
            <signal_task>{signal_task}</signal_task>
            <t0 unit='hour'>{planet.t0_h!r}</t0>
            <period unit='day'>{planet.period_days!r}</period>
            <sma>{planet.a_rs!r}</sma>
            <inc unit='deg'>{planet.inc_deg!r}</inc>
            <w unit='deg'>90.0</w>
            <ecc>0.0</ecc>
            <rp>{workdir}/rp.csv</rp>
            <limb_darkening>quadratic</limb_darkening>
            <limb_darkening_coefficients>{workdir}/ld.csv</limb_darkening_coefficients>
        </planet>
    </source>
</root>
"""
    (workdir / "sky.xml").write_text(sky)
    airs_clocks = {"ground": 1, "first": 1, "groups": 45, "reset": 1}  # 48 x 0.1 s = 4.8 s
    fgs_clocks = {"ground": 1, "first": 1, "groups": 1, "reset": 1}  # 4 x 0.1 s = 0.4 s
    (workdir / "airs.xml").write_text(
        _channel_xml(AIRS_NAME, "spectrometer", payload_dir, airs_clocks)
    )
    (workdir / "fgs.xml").write_text(_channel_xml(FGS_NAME, "photometer", payload_dir, fgs_clocks))
    payload = f"""<root>
    <Telescope>Telescope
        <Atel unit="m**2">0.64</Atel>
        <optical_path>
            <opticalElement>primary
                <type>surface</type>
                <task_model>LoadOpticalElement</task_model>
                <temperature unit='K'>70</temperature>
                <datafile>{payload_dir}/optics.ecsv</datafile>
                <wavelength_key>Wavelength</wavelength_key>
                <emissivity_key>Emissivity</emissivity_key>
                <efficiency_key>Transmission</efficiency_key>
            </opticalElement>
        </optical_path>
    </Telescope>
    <channel> {FGS_NAME}
        <config>{workdir}/fgs.xml</config>
    </channel>
    <channel> {AIRS_NAME}
        <config>{workdir}/airs.xml</config>
    </channel>
</root>
"""
    (workdir / "payload.xml").write_text(payload)
    main = f"""<root>
    <ConfigPath>{workdir}</ConfigPath>
    <random_seed> {planet.exosim_seed} </random_seed>
    <wl_grid>
        <wl_min unit="micron">0.5</wl_min>
        <wl_max unit="micron">4.5</wl_max>
        <logbin_resolution unit="">{WL_GRID_R}</logbin_resolution>
    </wl_grid>
    <time_grid>
        <start_time unit="hour">0.0</start_time>
        <end_time unit="hour">{visit_s / 3600.0!r}</end_time>
        <low_frequencies_resolution unit="hour">{visit_s / 3600.0!r}</low_frequencies_resolution>
    </time_grid>
    <pointing>
        <ra> 12h00m00s </ra>
        <dec> +00d00m00s </dec>
    </pointing>
    <jitter>
        <jitter_task> EstimatePointingJitter </jitter_task>
        <spatial unit="arcsec"> 0.05 </spatial>
        <spectral unit="arcsec"> 0.05 </spectral>
        <frequency_resolution unit="Hz">{JITTER_HZ}</frequency_resolution>
    </jitter>
    <sky>
        <config>{workdir}/sky.xml</config>
    </sky>
    <payload>
        <config>{workdir}/payload.xml</config>
    </payload>
</root>
"""
    path = workdir / "main.xml"
    path.write_text(main)
    return path
