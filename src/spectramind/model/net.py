"""The model: physics depth + a low-dimensional spectral correction, and a per-wavelength sigma.

    mu_j    = d_j (1 + g_j) + sum_k c_k(x) s_k B_kj
    sigma_j = exp(h(x)) sqrt((exp(a_j) e_j)^2 + (f0 exp(b_j))^2 + (m0 exp(q(x)))^2 + sigma_min^2)

d, e: physics depth and error [ppm]; B: (K, W) orthonormal spectral basis (FGS1, smooth Legendre
shapes, PCA of train residuals); s_k: typical size of the residual along B_k [ppm]; c(x), h(x):
a one-hidden-layer MLP of the normalised planet inputs x. The m0 exp(q(x)) term is a per-planet
common-mode error shared by all wavelengths (the depth offset that limb-darkening and geometry
uncertainties give every channel alike); m0 [ppm] is set from the train fold (0 disables it).
Every learnable part of mu starts at zero and weight decay pulls it back there, where mu = d:
with no data to learn from, the depth is the physics estimate. The sigma parameters start at
zero too (sigma = sqrt(e^2 + f0^2 + sigma_min^2)) unless training sets them from the train
fold's moments (``TrainConfig.moment_init``).

The normalised inputs x are clipped to +-INPUT_CLIP train-fold standard deviations, in training
and prediction alike: a planet unlike every training planet (another instrument model, a failed
fit, a checkpoint trained on smaller visits) then gets the correction and sigma scale of the
nearest edge of the training distribution instead of an extrapolation that overflows exp().
"""

from __future__ import annotations

import torch
from torch import nn

# Clip of the normalised MLP inputs [train-fold standard deviations]: a numerical guard, not a
# fitted value; wide enough that Gaussian-like train inputs are essentially never clipped.
INPUT_CLIP = 5.0


class SpectralCorrector(nn.Module):
    def __init__(
        self,
        n_inputs: int,
        basis: torch.Tensor,
        coef_scale: torch.Tensor,
        hidden: int,
        sigma_floor_init_ppm: float,
        sigma_min_ppm: float,
        common_init_ppm: float = 0.0,
    ) -> None:
        """n_inputs: planet features + star info (F + 8); basis: (K, W); coef_scale: (K,) [ppm]."""
        super().__init__()
        n_basis, n_wl = basis.shape
        n_x = n_inputs + n_basis + 1  # inputs, depth projected on the basis, log mean error
        self.register_buffer("basis", basis.clone())  # (K, W)
        self.register_buffer("coef_scale", coef_scale.clone())  # (K,)
        self.register_buffer("x_mean", torch.zeros(n_x))  # (D,) set from the train fold
        self.register_buffer("x_std", torch.ones(n_x))  # (D,)
        self.sigma_floor_init_ppm = sigma_floor_init_ppm
        self.sigma_min_ppm = sigma_min_ppm
        self.register_buffer("common_ppm", torch.tensor(float(common_init_ppm)))  # m0 [ppm]
        # (W,) post-hoc sigma calibration on the hold-out fold (1 = none; set by training)
        self.register_buffer("sigma_scale", torch.ones(n_wl))
        self.gain = nn.Parameter(torch.zeros(n_wl))  # (W,) multiplicative depth bias
        self.log_err_scale = nn.Parameter(torch.zeros(n_wl))  # (W,) a_j
        self.log_floor = nn.Parameter(torch.zeros(n_wl))  # (W,) b_j
        self.mlp = nn.Sequential(nn.Linear(n_x, hidden), nn.GELU(), nn.Linear(hidden, n_basis + 2))
        # Zero output layer: the untrained model adds nothing to the physics estimate.
        nn.init.zeros_(self.mlp[2].weight)
        nn.init.zeros_(self.mlp[2].bias)

    def raw_inputs(
        self, inputs: torch.Tensor, depth: torch.Tensor, depth_err: torch.Tensor
    ) -> torch.Tensor:
        """(B, D) unnormalised MLP inputs from inputs (B, F+8), depth and depth_err (B, W) [ppm]."""
        projection = depth @ self.basis.T  # (B, K) [ppm]
        log_err = depth_err.mean(dim=1, keepdim=True).log()  # (B, 1)
        return torch.cat([inputs, projection, log_err], dim=1)

    def forward(
        self, inputs: torch.Tensor, depth: torch.Tensor, depth_err: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """mu, sigma (B, W) [ppm] for inputs (B, F+8), depth and depth_err (B, W) [ppm]."""
        x = (self.raw_inputs(inputs, depth, depth_err) - self.x_mean) / self.x_std  # (B, D)
        x = x.clamp(-INPUT_CLIP, INPUT_CLIP)  # (B, D); NaN stays NaN (refused by predict)
        out = self.mlp(x)  # (B, K + 2)
        coef, log_common, log_planet_scale = out[:, :-2], out[:, -2:-1], out[:, -1:]
        correction = (coef * self.coef_scale) @ self.basis  # (B, W) [ppm]
        mu = depth * (1.0 + self.gain) + correction  # (B, W)
        variance = (
            (self.log_err_scale.exp() * depth_err) ** 2
            + (self.sigma_floor_init_ppm * self.log_floor.exp()) ** 2
            + (self.common_ppm * log_common.exp()) ** 2  # (B, 1)
            + self.sigma_min_ppm**2
        )  # (B, W)
        sigma = variance.sqrt() * log_planet_scale.exp() * self.sigma_scale  # (B, W)
        return mu, sigma

    def noise_parts(
        self,
        inputs: torch.Tensor,
        depth: torch.Tensor,
        depth_err: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The prediction split by noise structure, all (B, W) [ppm]: mu, the independent
        per-wavelength variance and the common-mode vector u (shared by all wavelengths), so
        that ``sigma^2 = independent + u^2`` as in :meth:`forward` (inputs clipped alike)."""
        x = (self.raw_inputs(inputs, depth, depth_err) - self.x_mean) / self.x_std  # (B, D)
        x = x.clamp(-INPUT_CLIP, INPUT_CLIP)  # (B, D)
        out = self.mlp(x)  # (B, K + 2)
        coef, log_common, log_planet_scale = out[:, :-2], out[:, -2:-1], out[:, -1:]
        mu = depth * (1.0 + self.gain) + (coef * self.coef_scale) @ self.basis  # (B, W)
        scale = log_planet_scale.exp() * self.sigma_scale  # (B, W)
        independent = (
            (self.log_err_scale.exp() * depth_err) ** 2
            + (self.sigma_floor_init_ppm * self.log_floor.exp()) ** 2
            + self.sigma_min_ppm**2
        ) * scale**2  # (B, W)
        common = self.common_ppm * log_common.exp() * scale  # (B, W)
        return mu, independent, common


def gaussian_nll(
    mu: torch.Tensor, sigma: torch.Tensor, target: torch.Tensor, weights: torch.Tensor
) -> torch.Tensor:
    """Weighted mean of log(sigma) + (target - mu)^2 / (2 sigma^2) over (B, W); weights (W,)."""
    nll = sigma.log() + 0.5 * ((target - mu) / sigma) ** 2  # (B, W)
    return (nll * weights).mean()
