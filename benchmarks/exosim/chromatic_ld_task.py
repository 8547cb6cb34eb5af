"""ExoSim 2 planetary-signal task with wavelength-dependent limb darkening.

ExoSim 2.0.1's ``EstimatePlanetarySignal`` gives every wavelength the same limb-darkening
coefficients. Real stars darken less towards the infrared, so this subclass (loaded by ExoSim
from this file through ``<signal_task>``) reads ``limb_darkening_coefficients`` as a CSV table
(``Wavelength,u1,u2``) and interpolates it per wavelength; everything else (batman, the radius
table, the transit window) is ExoSim's own model.
"""

from __future__ import annotations

import astropy.units as u
import numpy as np
from astropy.io import ascii
from exosim.tasks.astrosignal.estimatePlanetarySignal import EstimatePlanetarySignal


class ChromaticLimbDarkeningSignal(EstimatePlanetarySignal):
    def model(self, timeline, wl_grid, ch_parameters={}, source_parameters={}):  # noqa: B006
        import batman

        planet = source_parameters["planet"]
        time_unit = u.s
        t = timeline.to(time_unit).value if hasattr(timeline, "unit") else np.asarray(timeline)
        wl = wl_grid.to(u.um).value if hasattr(wl_grid, "unit") else np.asarray(wl_grid)
        params = batman.TransitParams()
        params.t0 = planet["t0"].to(time_unit).value
        params.per = planet["period"].to(time_unit).value
        params.a = float(planet["sma"])
        params.inc = planet["inc"].to(u.deg).value
        params.ecc = float(planet["ecc"])
        params.w = planet["w"].to(u.deg).value
        params.limb_dark = "quadratic"
        rp_table = ascii.read(planet["rp"])
        rp = np.interp(wl, np.asarray(rp_table["Wavelength"]), np.asarray(rp_table["rp/rs"]))
        ld_table = ascii.read(planet["limb_darkening_coefficients"])
        ld_wl = np.asarray(ld_table["Wavelength"])
        u1 = np.interp(wl, ld_wl, np.asarray(ld_table["u1"]))
        u2 = np.interp(wl, ld_wl, np.asarray(ld_table["u2"]))
        params.rp = float(np.nanmax(rp))
        params.u = [float(u1[0]), float(u2[0])]
        t14 = (
            self.get_t14(params.inc * u.deg, params.a, params.per * time_unit, float(np.nanmax(rp)))
            .to(time_unit)
            .value
            * 1.05
        )
        start = int(np.abs(t - (params.t0 - t14 / 2)).argmin())
        end = int(np.abs(t - (params.t0 + t14 / 2)).argmin())
        window = t[start:end]
        model = batman.TransitModel(params, window)
        out = np.ones((wl.size, window.size))
        for i in range(wl.size):
            params.rp = float(rp[i])
            params.u = [float(u1[i]), float(u2[i])]
            out[i] = model.light_curve(params)
        return window * time_unit, out
