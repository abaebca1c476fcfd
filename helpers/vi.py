"""Variational-inference building blocks: densities, the Gaussian KL, reparameterization, gradients.

Notebook 05 (variational inference) derives every function here: the Gaussian log density and the
Bernoulli log-likelihood that make up log p(x, z), the closed-form KL from a diagonal Gaussian
q = N(μ, diag σ²) to the prior N(0, I), the reparameterization z = μ + σ ⊙ ε, and the two
gradient estimators of ∇ E_q[f(z)] whose variance it compares. ``helpers.vae`` builds the VAE
from them.

Shapes: latent points and Gaussian parameters are (..., k), the last dimension being the latent
size k; images are flattened to (..., D). Every log-density is in nats, summed over its last
dimension.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor
from torch.nn import functional as F

from helpers import _checks

LOG_2PI = math.log(2.0 * math.pi)
"""log(2π), the constant of every Gaussian log density."""

__all__ = [
    "LOG_2PI",
    "bernoulli_log_likelihood",
    "gaussian_kl",
    "gaussian_kl_per_dimension",
    "gaussian_log_density",
    "reparameterization_gradient_samples",
    "reparameterize",
    "score_function_gradient_samples",
]


def gaussian_log_density(
    z: Tensor, mu: Tensor | float = 0.0, logvar: Tensor | float = 0.0
) -> Tensor:
    """log N(z; μ, diag exp(logvar)) summed over the last dimension (notebook 05).

    log N = −½ Σ_j ( log 2π + log σ_j² + (z_j − μ_j)² / σ_j² ).

    Args:
        z: (..., k) points. mu, logvar: broadcastable to z (default: the standard normal prior).

    Returns:
        (...,) log-densities in nats.
    """
    z = _checks.float_tensor(z, "z")
    mu_t = torch.as_tensor(mu, dtype=z.dtype, device=z.device)
    logvar_t = torch.as_tensor(logvar, dtype=z.dtype, device=z.device)
    per_dim = -0.5 * (LOG_2PI + logvar_t + (z - mu_t).pow(2) * torch.exp(-logvar_t))
    return per_dim.expand(torch.broadcast_shapes(per_dim.shape, z.shape)).sum(dim=-1)


def bernoulli_log_likelihood(logits: Tensor, x: Tensor) -> Tensor:
    """log p(x|z) = Σ_d [x_d log p_d + (1 − x_d) log(1 − p_d)] with p = sigmoid(logits) (notebook 05).

    Computed from logits (never from probabilities) so it stays finite for saturated pixels. It
    is a log-likelihood in the Bernoulli sense only for binary x (notebook 06 binarizes MNIST).

    Args:
        logits: (..., D) decoder outputs. x: broadcastable to logits, values in [0, 1].

    Returns:
        (...,) log-likelihood in nats per image.
    """
    logits = _checks.float_tensor(logits, "logits")
    x = _checks.float_tensor(x, "x")
    return -F.binary_cross_entropy_with_logits(
        logits, x.expand_as(logits), reduction="none"
    ).sum(-1)


def gaussian_kl_per_dimension(mu: Tensor, logvar: Tensor) -> Tensor:
    """KL( N(μ_j, σ_j²) || N(0, 1) ) for each latent dimension j, in closed form (notebook 05).

    KL_j = ½ ( σ_j² + μ_j² − 1 − log σ_j² ) ≥ 0, zero only at μ_j = 0, σ_j = 1. A dimension whose
    KL is near zero for every x carries no information about x (notebooks 06 and 07).

    Args:
        mu, logvar: (..., k).

    Returns:
        (..., k) KL in nats, one entry per dimension.
    """
    mu, logvar = _checks.mu_logvar(mu, logvar)
    return 0.5 * (logvar.exp() + mu.pow(2) - 1.0 - logvar)


def gaussian_kl(mu: Tensor, logvar: Tensor) -> Tensor:
    """KL( N(μ, diag exp(logvar)) || N(0, I) ) per row: :func:`gaussian_kl_per_dimension` summed.

    KL = ½ Σ_j ( σ_j² + μ_j² − 1 − log σ_j² ) (notebook 05, section 5).

    Args:
        mu, logvar: (N, k) (any leading shape works; the last dimension is the latent size k).

    Returns:
        (N,) KL in nats, summed over the k latent dimensions.
    """
    return gaussian_kl_per_dimension(mu, logvar).sum(dim=-1)


def reparameterize(mu: Tensor, logvar: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """z = μ + σ ⊙ ε with ε ~ N(0, I): a sample of q, differentiable in μ and log σ² (notebook 05).

    Args:
        mu, logvar: (..., k). generator: optional torch.Generator for reproducible noise (on the
            device of mu); None draws from torch's global generator.

    Returns:
        (..., k) samples.
    """
    mu, logvar = _checks.mu_logvar(mu, logvar)
    eps = torch.randn(mu.shape, generator=generator, dtype=mu.dtype, device=mu.device)
    return mu + torch.exp(0.5 * logvar) * eps


def _vector_parameters(mu: Tensor, logvar: Tensor, num_samples: int) -> tuple[Tensor, Tensor]:
    mu, logvar = _checks.mu_logvar(mu, logvar)
    if mu.dim() != 1:
        raise ValueError(f"mu and logvar must be 1-D (k,), got shape {tuple(mu.shape)}")
    _checks.positive_int(num_samples, "num_samples")
    return mu.detach(), logvar.detach()


def _check_values(values: Tensor, num_samples: int) -> Tensor:
    if not isinstance(values, Tensor) or values.shape != (num_samples,):
        shape = tuple(values.shape) if isinstance(values, Tensor) else type(values).__name__
        raise ValueError(f"f must map (S, k) to (S,), got output shape {shape}")
    return values


def score_function_gradient_samples(
    f: Callable[[Tensor], Tensor],
    mu: Tensor,
    logvar: Tensor,
    num_samples: int,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor]:
    """Per-sample score-function (REINFORCE) estimates of ∇ E_q[f(z)], q = N(μ, diag e^logvar) (notebook 05).

    ∇_λ E_q[f(z)] = E_q[ f(z) ∇_λ log q_λ(z) ], with
    ∇_μ log q = (z − μ)/σ²  and  ∂ log q / ∂ log σ² = ½ ((z − μ)²/σ² − 1).

    Args:
        f: maps (S, k) points to (S,) values; only evaluated, never differentiated.
        mu, logvar: (k,) parameters of q. num_samples: S.

    Returns:
        (grad_mu (S, k), grad_logvar (S, k)): one unbiased gradient estimate per row; their mean
        is the S-sample estimator, their spread measures its variance.
    """
    mu, logvar = _vector_parameters(mu, logvar, num_samples)
    var = logvar.exp()
    with torch.no_grad():
        z = mu + var.sqrt() * torch.randn(
            num_samples, mu.shape[0], generator=generator, dtype=mu.dtype
        )
        values = _check_values(f(z), num_samples)
        grad_mu = values[:, None] * (z - mu) / var
        grad_logvar = values[:, None] * 0.5 * ((z - mu).pow(2) / var - 1.0)
    return grad_mu, grad_logvar


def reparameterization_gradient_samples(
    f: Callable[[Tensor], Tensor],
    mu: Tensor,
    logvar: Tensor,
    num_samples: int,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor]:
    """Per-sample reparameterization estimates of ∇ E_q[f(z)], q = N(μ, diag e^logvar) (notebook 05).

    With z = μ + σ ε, ε ~ N(0, I): ∇_μ f(z) = ∇f(z) and ∂f(z)/∂ log σ² = ∇f(z) ⊙ ε σ / 2.
    ∇f comes from autograd, so f must be differentiable and act row by row.

    Returns:
        (grad_mu (S, k), grad_logvar (S, k)), one unbiased estimate per row.
    """
    mu, logvar = _vector_parameters(mu, logvar, num_samples)
    std = torch.exp(0.5 * logvar)
    eps = torch.randn(num_samples, mu.shape[0], generator=generator, dtype=mu.dtype)
    z = (mu + std * eps).requires_grad_(True)
    with torch.enable_grad():
        values = _check_values(f(z), num_samples)
        (grad_z,) = torch.autograd.grad(values.sum(), z)
    return grad_z, grad_z * eps * std * 0.5
