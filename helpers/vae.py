"""The variational autoencoder and the bounds that evaluate it (notebook 06).

Notebook 06 builds the model below from notebook 05's pieces (``helpers.vi``: the Gaussian KL,
the Bernoulli log-likelihood, reparameterization), trains it on the negative ELBO and evaluates
it with the importance-weighted bound; the linear-Gaussian case is checked against probabilistic
PCA, whose log-likelihood is known in closed form. Recipes, checkpoints and training entry points
live one layer up, in ``helpers.recipes``.

Notation follows the series (and the source paper): data x^(i), latent z^(i) ~ N(0, I_k),
Encoder(ϕ) gives q_ϕ(z|x) = N(μ_ϕ(x), diag σ²_ϕ(x)), Decoder(θ) gives p_θ(x|z).

Shapes: images arrive as (N, 1, 28, 28) or flattened (N, D); latent codes are (N, k).
All log-densities are in nats; "per image" means summed over the D pixels.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from helpers import _checks
from helpers.models import mlp
from helpers.vi import (
    LOG_2PI,
    bernoulli_log_likelihood,
    gaussian_kl,
    gaussian_log_density,
    reparameterize,
)

LIKELIHOODS = ("bernoulli", "gaussian")
"""Decoder likelihoods a :class:`VAE` can have."""

__all__ = [
    "LIKELIHOODS",
    "VAE",
    "active_units",
    "elbo_terms",
    "elbo_terms_per_image",
    "iwae_bound",
    "iwae_bounds",
    "log_importance_weights",
    "negative_elbo",
    "ppca_fit",
    "ppca_log_likelihood",
]

# ----------------------------------------------------------------------------------------------
# The model (notebook 06)
# ----------------------------------------------------------------------------------------------
class VAE(nn.Module):
    """A fully connected VAE: Encoder(ϕ) → q_ϕ(z|x) = N(μ, diag σ²); Decoder(θ) → p_θ(x|z) (notebook 06).

    Args:
        input_dim: D, pixels per image (784 for MNIST).
        hidden_dims: encoder hidden widths, e.g. (400,). Empty () makes the encoder linear.
        latent_dim: k, the size of z.
        likelihood: "bernoulli" (binarized pixels; ``decode`` returns logits) or "gaussian"
            (real-valued x; ``decode`` returns the mean and a single learned log-variance
            ``decoder_logvar`` is shared by all pixels, as in probabilistic PCA).
        decoder_hidden_dims: decoder hidden widths; default: ``hidden_dims`` reversed. Empty ()
            makes the decoder linear (the pPCA check of notebook 06).

    Shapes: ``encode(x)``: x (N, 1, 28, 28) or (N, D) → (mu, logvar), each (N, k).
    ``decode(z)``: z (..., k) → (..., D) logits (Bernoulli) or means (Gaussian).
    """

    def __init__(
        self,
        input_dim: int = 784,
        hidden_dims: Sequence[int] = (400,),
        latent_dim: int = 20,
        likelihood: str = "bernoulli",
        decoder_hidden_dims: Sequence[int] | None = None,
    ) -> None:
        super().__init__()
        _checks.positive_int(input_dim, "input_dim")
        _checks.positive_int(latent_dim, "latent_dim")
        hidden_dims = _checks.widths(hidden_dims, "hidden_dims")
        if decoder_hidden_dims is None:
            decoder_hidden_dims = tuple(reversed(hidden_dims))
        decoder_hidden_dims = _checks.widths(decoder_hidden_dims, "decoder_hidden_dims")
        _checks.choice(likelihood, "likelihood", LIKELIHOODS)
        self.input_dim = input_dim
        self.hidden_dims = tuple(hidden_dims)
        self.decoder_hidden_dims = tuple(decoder_hidden_dims)
        self.latent_dim = latent_dim
        self.likelihood = likelihood

        encoder_sizes = [input_dim, *self.hidden_dims]
        # Linear-ReLU layers up to the last hidden width; mu and logvar heads read its output.
        self.encoder_body = (
            mlp(encoder_sizes, output_activation="relu") if self.hidden_dims else nn.Identity()
        )
        self.encoder_mu = nn.Linear(encoder_sizes[-1], latent_dim)
        self.encoder_logvar = nn.Linear(encoder_sizes[-1], latent_dim)
        self.decoder = mlp([latent_dim, *self.decoder_hidden_dims, input_dim])
        if likelihood == "gaussian":
            self.decoder_logvar = nn.Parameter(torch.zeros(()))

    def flatten(self, x: Tensor) -> Tensor:
        """(N, 1, 28, 28) or (N, D) → (N, D), with a clear error for anything else."""
        x = _checks.float_tensor(x, "x")
        if x.dim() >= 2 and math.prod(x.shape[1:]) == self.input_dim:
            return x.reshape(x.shape[0], self.input_dim)
        raise ValueError(
            f"expected images of shape (N, 1, 28, 28) or (N, {self.input_dim}), got {tuple(x.shape)}"
        )

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """q_ϕ(z|x): x (N, 1, 28, 28) or (N, D) → (mu, logvar), each (N, k)."""
        h = self.encoder_body(self.flatten(x))
        return self.encoder_mu(h), self.encoder_logvar(h)

    def decode(self, z: Tensor) -> Tensor:
        """p_θ(x|z): z (..., k) → (..., D) Bernoulli logits, or Gaussian means."""
        z = _checks.float_tensor(z, "z")
        if z.shape[-1] != self.latent_dim:
            raise ValueError(
                f"expected z with last dimension {self.latent_dim}, got {tuple(z.shape)}"
            )
        return self.decoder(z)

    def log_likelihood(self, x_flat: Tensor, decoded: Tensor) -> Tensor:
        """log p_θ(x|z) in nats per image: x_flat (N, D) or broadcastable, decoded (..., D) → (...,)."""
        if self.likelihood == "bernoulli":
            return bernoulli_log_likelihood(decoded, x_flat)
        return gaussian_log_density(x_flat, decoded, self.decoder_logvar)

    def forward(
        self, x: Tensor, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """One reparameterized pass: x → (decoded (N, D), mu (N, k), logvar (N, k), z (N, k))."""
        mu, logvar = self.encode(x)
        z = reparameterize(mu, logvar, generator)
        return self.decode(z), mu, logvar, z

    @torch.no_grad()
    def sample(self, num_images: int, generator: torch.Generator | None = None) -> Tensor:
        """Decode z ~ N(0, I): (num_images, D) pixel probabilities (Bernoulli) or means (Gaussian)."""
        _checks.positive_int(num_images, "num_images")
        device = next(self.parameters()).device
        z = torch.randn(num_images, self.latent_dim, generator=generator, device=device)
        decoded = self.decode(z)
        return torch.sigmoid(decoded) if self.likelihood == "bernoulli" else decoded

    @torch.no_grad()
    def mean_image(self, z: Tensor) -> Tensor:
        """E[x|z]: z (..., k) → (..., D) pixel probabilities (Bernoulli) or means (Gaussian)."""
        decoded = self.decode(z)
        return torch.sigmoid(decoded) if self.likelihood == "bernoulli" else decoded


def _check_model(model: Any) -> VAE:
    if not isinstance(model, VAE):
        raise TypeError(f"model must be a helpers.vae.VAE, got {type(model).__name__}")
    return model


def _model_device(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


# ----------------------------------------------------------------------------------------------
# The ELBO as a loss (notebook 06)
# ----------------------------------------------------------------------------------------------
def elbo_terms(
    model: VAE, x: Tensor, generator: torch.Generator | None = None
) -> tuple[Tensor, Tensor]:
    """Per-image parts of the negative ELBO with one reparameterized sample (notebook 06).

    −ELBO(x) = E_q[−log p_θ(x|z)] + KL(q_ϕ(z|x) || p(z)) = reconstruction + KL.

    Args:
        model: a VAE. x: (N, 1, 28, 28) or (N, D), on the model's device.

    Returns:
        (recon (N,), kl (N,)) in nats per image; recon is a one-sample estimate, KL is exact.
    """
    model = _check_model(model)
    x_flat = model.flatten(x)
    decoded, mu, logvar, _ = model(x_flat, generator)
    recon = -model.log_likelihood(x_flat, decoded)
    return recon, gaussian_kl(mu, logvar)


def negative_elbo(
    model: VAE,
    x: Tensor,
    y: Tensor | None = None,
    *,
    beta: float = 1.0,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, dict[str, float]]:
    """The training loss: mean over the batch of reconstruction + β·KL, in nats per image (notebook 06).

    Usable directly as ``loss_fn`` for ``helpers.training.train`` (the label ``y`` is ignored);
    for β ≠ 1 pass ``functools.partial(negative_elbo, beta=β)``. With β = 1 the loss is the
    negative ELBO; it is a bound, not the negative log-likelihood.

    Returns:
        (loss scalar tensor, {"recon": float, "kl": float}) with batch means in nats per image.
    """
    if not isinstance(beta, int | float) or isinstance(beta, bool) or beta < 0:
        raise ValueError(f"beta must be a non-negative number, got {beta!r}")
    recon, kl = elbo_terms(model, x, generator)
    recon_mean, kl_mean = recon.mean(), kl.mean()
    loss = recon_mean + beta * kl_mean
    return loss, {"recon": float(recon_mean.detach()), "kl": float(kl_mean.detach())}


@torch.no_grad()
def elbo_terms_per_image(
    model: VAE, x: Tensor, *, batch_size: int = 1000, seed: int = 0
) -> tuple[Tensor, Tensor]:
    """``elbo_terms`` over a whole data set in batches, without gradients (notebook 06).

    Args:
        x: (N, 1, 28, 28) or (N, D), e.g. the fixed-binarized test set. seed: seeds the noise.

    Returns:
        (recon (N,), kl (N,)) on the CPU, nats per image; their sum is a one-sample estimate of
        each image's negative ELBO.
    """
    model = _check_model(model)
    _checks.positive_int(batch_size, "batch_size")
    device = _model_device(model)
    generator = torch.Generator(device=device).manual_seed(seed)
    recons, kls = [], []
    for start in range(0, x.shape[0], batch_size):
        recon, kl = elbo_terms(model, x[start : start + batch_size].to(device), generator)
        recons.append(recon.cpu())
        kls.append(kl.cpu())
    return torch.cat(recons), torch.cat(kls)


# ----------------------------------------------------------------------------------------------
# Importance-weighted bounds (notebook 06)
# ----------------------------------------------------------------------------------------------
def log_importance_weights(
    model: VAE, x: Tensor, num_samples: int, generator: torch.Generator | None = None
) -> Tensor:
    """log w_j = log p_θ(x, z_j) − log q_ϕ(z_j|x) with z_j ~ q_ϕ(z|x), j = 1..K (notebook 06).

    Args:
        x: (N, 1, 28, 28) or (N, D) on the model's device. num_samples: K.

    Returns:
        (N, K) log-weights in nats, differentiable in the model's parameters (the IWAE exercise
        trains on them). Memory is about N·K·D floats: call it in chunks (``iwae_bounds`` does).
    """
    model = _check_model(model)
    _checks.positive_int(num_samples, "num_samples")
    x_flat = model.flatten(x)
    mu, logvar = model.encode(x_flat)
    return _log_weights_given_posterior(model, x_flat, mu, logvar, num_samples, generator)


def _log_weights_given_posterior(
    model: VAE,
    x_flat: Tensor,
    mu: Tensor,
    logvar: Tensor,
    num_samples: int,
    generator: torch.Generator | None,
) -> Tensor:
    """``log_importance_weights`` once the encoder has run: x_flat (N, D), mu/logvar (N, k) → (N, K)."""
    std = torch.exp(0.5 * logvar)
    shape = (mu.shape[0], num_samples, mu.shape[1])
    eps = torch.randn(shape, generator=generator, dtype=mu.dtype, device=mu.device)
    z = mu[:, None, :] + std[:, None, :] * eps  # (N, K, k)
    # log q(z|x) is exact with eps itself: (z - mu) / std = eps
    log_q = (-0.5 * (LOG_2PI + logvar[:, None, :] + eps.pow(2))).sum(-1)
    log_prior = gaussian_log_density(z)
    if model.likelihood == "bernoulli":
        # log p(x|z) = Σ_d x_d l_d − Σ_d softplus(l_d) for logits l = W h + b. The first sum is
        # h·(Wᵀx) + b·x, a batched matrix-vector product in the H hidden units, so only the
        # softplus needs a pass over the (N, K, D) logits: about half the time of the
        # elementwise cross-entropy, which matters for K = 1000.
        last = model.decoder[-1]
        hidden = model.decoder[:-1](z)  # (N, K, H)
        logits = last(hidden)  # (N, K, D)
        data_term = torch.bmm(hidden, (x_flat @ last.weight)[:, :, None]).squeeze(-1)
        data_term = data_term + (x_flat @ last.bias)[:, None]
        log_lik = data_term - F.softplus(logits).sum(-1)
    else:
        log_lik = model.log_likelihood(x_flat[:, None, :], model.decode(z))  # (N, K)
    return log_lik + log_prior - log_q


@torch.no_grad()
def iwae_bounds(
    model: VAE,
    x: Tensor,
    ks: Iterable[int] = (1, 10, 100, 1000),
    *,
    batch_size: int = 20,
    max_rows: int = 4000,
    seed: int = 0,
    progress: bool = False,
) -> dict[int, Tensor]:
    """Importance-weighted lower bounds L_K on log p(x), for several K from one pass (notebook 06).

    L_K(x) = log (1/K) Σ_{j=1..K} p_θ(x, z_j) / q_ϕ(z_j|x),  z_j ~ q_ϕ(z|x)  (Burda et al., 2015).

    One set of K_max = max(ks) samples is drawn per image and L_K uses its first K samples, so every
    L_K is an unbiased one-draw estimate of its own bound and the whole table costs one pass.
    E[L_1] = ELBO ≤ E[L_10] ≤ ... ≤ log p(x). Computed with log-sum-exp over chunks of samples so
    that at most ``max_rows`` decoder rows (images × samples) are held at once: a few thousand rows
    keep the (rows, D) logits in the CPU's cache, which measured faster than larger chunks.

    Args:
        model: a VAE (evaluated in eval mode, gradients off).
        x: (N, 1, 28, 28) or (N, D); moved to the model's device chunk by chunk.
        ks: the K values (positive ints). batch_size: images per chunk.
        max_rows: images × samples decoded at once (memory ≈ max_rows · D · 4 bytes · a few).
        seed: seeds the sampling noise, so the estimate repeats exactly.
        progress: show a tqdm bar over image chunks.

    Returns:
        {K: (N,) tensor of L_K in nats per image} on the CPU, keys in increasing order.
    """
    model = _check_model(model)
    ks = sorted({_checks.positive_int(k, "each K in ks") for k in ks})
    if not ks:
        raise ValueError("ks must be a non-empty collection of positive ints, got an empty one")
    _checks.positive_int(batch_size, "batch_size")
    _checks.positive_int(max_rows, "max_rows")
    k_max = ks[-1]
    device = _model_device(model)
    x_flat = model.flatten(x)
    was_training = model.training
    model.eval()
    generator = torch.Generator(device=device).manual_seed(seed)
    samples_per_chunk = max(1, max_rows // batch_size)
    out = {k: torch.empty(x_flat.shape[0]) for k in ks}
    starts = range(0, x_flat.shape[0], batch_size)
    if progress:
        from tqdm.auto import tqdm

        starts = tqdm(starts, desc=f"IWAE K={k_max}", unit="chunk")
    try:
        for start in starts:
            xb = x_flat[start : start + batch_size].to(device)
            mu, logvar = model.encode(xb)
            parts = []
            for done in range(0, k_max, samples_per_chunk):
                count = min(samples_per_chunk, k_max - done)
                parts.append(_log_weights_given_posterior(model, xb, mu, logvar, count, generator))
            log_w = torch.cat(parts, dim=1)  # (n, K_max)
            for k in ks:
                bound = torch.logsumexp(log_w[:, :k], dim=1) - math.log(k)
                out[k][start : start + xb.shape[0]] = bound.cpu()
    finally:
        model.train(was_training)
    return out


def iwae_bound(
    model: VAE, x: Tensor, num_samples: int, batch_size: int = 20, *, seed: int = 0
) -> Tensor:
    """L_K(x) for a single K = num_samples: (N,) nats per image (see ``iwae_bounds``; notebook 06)."""
    _checks.positive_int(num_samples, "num_samples")
    return iwae_bounds(model, x, (num_samples,), batch_size=batch_size, seed=seed)[num_samples]


# ----------------------------------------------------------------------------------------------
# Probabilistic PCA in closed form (notebook 06, the exactness check)
# ----------------------------------------------------------------------------------------------
def _as_flat_float64(x: Tensor) -> Tensor:
    x = _checks.float_tensor(x, "x")
    if x.dim() < 2:
        raise ValueError(f"x must be (N, D) or (N, 1, 28, 28), got shape {tuple(x.shape)}")
    return x.reshape(x.shape[0], -1).double()


def ppca_fit(x: Tensor, latent_dim: int) -> tuple[Tensor, Tensor, Tensor]:
    """Maximum-likelihood probabilistic PCA (Tipping & Bishop, 1999) in closed form (notebook 06).

    Model: z ~ N(0, I_k), x | z ~ N(W z + b, σ² I_D). With the eigen-decomposition of the data
    covariance S = U Λ Uᵀ: b = mean(x), σ² = mean of the D − k smallest eigenvalues,
    W = U_k (Λ_k − σ² I)^{1/2}.

    Args:
        x: (N, D) data (or images (N, 1, 28, 28)). latent_dim: k < D.

    Returns:
        (W (D, k), b (D,), sigma2 scalar), float64.
    """
    xf = _as_flat_float64(x)
    n, d = xf.shape
    _checks.positive_int(latent_dim, "latent_dim")
    if latent_dim >= d:
        raise ValueError(
            f"latent_dim must be smaller than the data dimension {d}, got {latent_dim}"
        )
    b = xf.mean(0)
    centered = xf - b
    cov = centered.T @ centered / n
    eigvals, eigvecs = torch.linalg.eigh(cov)
    eigvals, eigvecs = eigvals.flip(0).clamp_min(0.0), eigvecs.flip(1)
    sigma2 = eigvals[latent_dim:].mean()
    if sigma2 <= 0:
        raise ValueError("the data has rank ≤ latent_dim: probabilistic PCA's σ² would be 0")
    w = eigvecs[:, :latent_dim] * (eigvals[:latent_dim] - sigma2).clamp_min(0.0).sqrt()
    return w, b, sigma2


def ppca_log_likelihood(x: Tensor, w: Tensor, b: Tensor, sigma2: Tensor | float) -> Tensor:
    """Exact log p(x) = log N(x; b, W Wᵀ + σ² I) per row, via the k × k Woodbury form (notebook 06).

    Args:
        x: (N, D) (or images). w: (D, k). b: (D,). sigma2: positive scalar.

    Returns:
        (N,) float64 log-densities in nats.
    """
    xf = _as_flat_float64(x)
    w = _checks.float_tensor(w, "w").double()
    b = _checks.float_tensor(b, "b").double()
    d, k = w.shape
    if xf.shape[1] != d or b.shape != (d,):
        raise ValueError(
            f"shapes disagree: x {tuple(xf.shape)}, w {tuple(w.shape)}, b {tuple(b.shape)}"
        )
    sigma2 = torch.as_tensor(sigma2, dtype=torch.float64)
    if sigma2 <= 0:
        raise ValueError(f"sigma2 must be positive, got {float(sigma2)}")
    r = xf - b
    m = w.T @ w + sigma2 * torch.eye(k, dtype=torch.float64)  # (k, k)
    chol = torch.linalg.cholesky(m)
    # |C| = |M| σ^{2(D−k)};  C⁻¹ = (I − W M⁻¹ Wᵀ) / σ²
    logdet = 2.0 * torch.log(torch.diagonal(chol)).sum() + (d - k) * torch.log(sigma2)
    proj = torch.cholesky_solve((r @ w).T, chol).T  # (N, k) = r W M⁻¹
    maha = (r.pow(2).sum(1) - (proj * (r @ w)).sum(1)) / sigma2
    return -0.5 * (d * LOG_2PI + logdet + maha)


# ----------------------------------------------------------------------------------------------
# Active units (notebook 06)
# ----------------------------------------------------------------------------------------------
@torch.no_grad()
def active_units(
    model: VAE, x: Tensor, threshold: float = 0.01, batch_size: int = 1000
) -> tuple[int, Tensor]:
    """Latent dimensions that the encoder uses: A_u = Var_x( E_q[z_u | x] ) > threshold (notebook 06).

    Burda et al. (2015) count a unit as active when the variance over the data of its posterior
    mean exceeds 0.01; a collapsed unit has q(z_u|x) ≈ p(z_u) for every x.

    Returns:
        (number of active units, (k,) variances of the posterior means).
    """
    model = _check_model(model)
    device = _model_device(model)
    x_flat = model.flatten(x)
    was_training = model.training
    model.eval()
    try:
        means = torch.cat(
            [
                model.encode(x_flat[s : s + batch_size].to(device))[0].cpu()
                for s in range(0, len(x_flat), batch_size)
            ]
        )
    finally:
        model.train(was_training)
    variances = means.double().var(dim=0)
    return int((variances > threshold).sum()), variances
