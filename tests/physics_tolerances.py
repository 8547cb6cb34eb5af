"""One tolerance helper for the physics tests (jaxoplanet style): named tolerances, one assert."""

from __future__ import annotations

import numpy as np

TOLERANCES = {
    "exact": dict(rtol=0.0, atol=1e-12),  # analytic identities in double precision
    "quadrature": dict(rtol=0.0, atol=2e-8),  # vs. numerical integration of the stellar disk
    "small_planet": dict(rtol=2e-3, atol=0.0),  # small-planet limit, O(k^2) relative terms
    "depth_noise_free": dict(rtol=0.0, atol=1e-5),  # issue 4 acceptance: injected depths
}


def assert_physics_close(actual, expected, kind: str) -> None:
    """``numpy.testing.assert_allclose`` with the named tolerance ``kind``."""
    np.testing.assert_allclose(actual, expected, **TOLERANCES[kind])
