"""Physics stage: limb-darkened transit model and per-planet transit-depth spectra.

Modules by physical concept: :mod:`.transit` (light-curve model), :mod:`.lightcurves`
(calibrated visit input and drift basis), :mod:`.geometry` (white-light geometry fit),
:mod:`.spectrum` (limb darkening in wavelength and per-channel depths), :mod:`.fallback`
(model-free depths when a fit fails); the fit in layers: :mod:`.white_light` (detection,
geometry, drift) and :mod:`.depths` (per-channel depths) make :mod:`.visit`, :mod:`.features`
the feature vector, :mod:`.fit` the per-planet record; priors and bounds in :mod:`.config`.
"""
