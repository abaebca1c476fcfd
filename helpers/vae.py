"""The variational autoencoder and the quantities around it.

Notebook 05 (variational inference) derives the ELBO, the closed-form Gaussian KL and the two
gradient estimators; notebook 06 (the VAE) trains the model below and evaluates it with the
importance-weighted bound; notebook 07 loads the checkpoints that notebook 06 writes.

Notation follows the series (and the source paper): data x^(i), latent z^(i) ~ N(0, I_k),
Encoder(ϕ) gives q_ϕ(z|x) = N(μ_ϕ(x), diag σ²_ϕ(x)), Decoder(θ) gives p_θ(x|z).

Shapes: images arrive as (N, 1, 28, 28) or flattened (N, D); latent codes are (N, k).
All log-densities are in nats; "per image" means summed over the D pixels.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from helpers.models import mlp

LIKELIHOODS = ("bernoulli", "gaussian")
LOG_2PI = math.log(2.0 * math.pi)

__all__ = [
    "LATENT2_RECIPE",
    "MAIN_RECIPE",
    "VAE",
    "active_units",
    "bernoulli_log_likelihood",
    "checkpoint_config",
    "checkpoint_path",
    "elbo_terms",
    "elbo_terms_per_image",
    "gaussian_kl",
    "gaussian_log_density",
    "init_output_bias",
    "iwae_bound",
    "iwae_bounds",
    "load_checkpoint",
    "load_or_train",
    "log_importance_weights",
    "negative_elbo",
    "ppca_fit",
    "ppca_log_likelihood",
    "reparameterization_gradient_samples",
    "recipe_epochs",
    "reparameterize",
    "save_checkpoint",
    "score_function_gradient_samples",
    "train_recipe",
]


# ----------------------------------------------------------------------------------------------
# Input checks
# ----------------------------------------------------------------------------------------------
def _check_tensor(name: str, value: Any) -> Tensor:
    if not isinstance(value, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(value).__name__}")
    if not value.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {value.dtype}")
    return value


def _check_mu_logvar(mu: Any, logvar: Any) -> tuple[Tensor, Tensor]:
    mu = _check_tensor("mu", mu)
    logvar = _check_tensor("logvar", logvar)
    if mu.shape != logvar.shape:
        raise ValueError(
            f"mu and logvar must have the same shape, got {tuple(mu.shape)} and {tuple(logvar.shape)}"
        )
    if mu.dim() < 1:
        raise ValueError("mu and logvar need at least one dimension (the latent size k)")
    return mu, logvar


def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return value


# ----------------------------------------------------------------------------------------------
# Densities and the closed-form KL (notebook 05)
# ----------------------------------------------------------------------------------------------
def gaussian_kl(mu: Tensor, logvar: Tensor) -> Tensor:
    """KL( N(mu, diag(exp(logvar))) || N(0, I) ) per row, in closed form (notebook 05, section 5).

    KL = ½ Σ_j ( σ_j² + μ_j² − 1 − log σ_j² ).

    Args:
        mu, logvar: (N, k) (any leading shape works; the last dimension is the latent size k).

    Returns:
        (N,) KL in nats, summed over the k latent dimensions.
    """
    mu, logvar = _check_mu_logvar(mu, logvar)
    return 0.5 * (logvar.exp() + mu.pow(2) - 1.0 - logvar).sum(dim=-1)


def gaussian_log_density(
    z: Tensor, mu: Tensor | float = 0.0, logvar: Tensor | float = 0.0
) -> Tensor:
    """log N(z; mu, diag(exp(logvar))) summed over the last dimension (notebook 05).

    Args:
        z: (..., k) points. mu, logvar: broadcastable to z (default: the standard normal prior).

    Returns:
        (...,) log-densities in nats.
    """
    z = _check_tensor("z", z)
    mu_t = torch.as_tensor(mu, dtype=z.dtype, device=z.device)
    logvar_t = torch.as_tensor(logvar, dtype=z.dtype, device=z.device)
    per_dim = -0.5 * (LOG_2PI + logvar_t + (z - mu_t).pow(2) * torch.exp(-logvar_t))
    return per_dim.expand(torch.broadcast_shapes(per_dim.shape, z.shape)).sum(dim=-1)


def bernoulli_log_likelihood(logits: Tensor, x: Tensor) -> Tensor:
    """log p(x|z) = Σ_d [x_d log p_d + (1 − x_d) log(1 − p_d)] with p = sigmoid(logits) (notebook 06).

    Computed from logits (never from probabilities) so it stays finite for saturated pixels.

    Args:
        logits: (..., D) decoder outputs. x: broadcastable to logits, values in [0, 1].

    Returns:
        (...,) log-likelihood in nats per image.
    """
    logits = _check_tensor("logits", logits)
    x = _check_tensor("x", x)
    return -F.binary_cross_entropy_with_logits(logits, x.expand_as(logits), reduction="none").sum(
        -1
    )


def reparameterize(mu: Tensor, logvar: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """z = μ + σ ⊙ ε with ε ~ N(0, I): a sample of q that is differentiable in μ and log σ² (notebook 05).

    Args:
        mu, logvar: (..., k). generator: optional torch.Generator for reproducible noise.

    Returns:
        (..., k) samples.
    """
    mu, logvar = _check_mu_logvar(mu, logvar)
    eps = torch.randn(mu.shape, generator=generator, dtype=mu.dtype, device=mu.device)
    return mu + torch.exp(0.5 * logvar) * eps


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
        _positive_int("input_dim", input_dim)
        _positive_int("latent_dim", latent_dim)
        if isinstance(hidden_dims, int) or not all(
            isinstance(h, int) and not isinstance(h, bool) and h > 0 for h in hidden_dims
        ):
            raise ValueError(
                f"hidden_dims must be a sequence of positive ints, got {hidden_dims!r}"
            )
        if decoder_hidden_dims is None:
            decoder_hidden_dims = tuple(reversed(tuple(hidden_dims)))
        if isinstance(decoder_hidden_dims, int) or not all(
            isinstance(h, int) and not isinstance(h, bool) and h > 0 for h in decoder_hidden_dims
        ):
            raise ValueError(
                f"decoder_hidden_dims must be a sequence of positive ints, got {decoder_hidden_dims!r}"
            )
        if likelihood not in LIKELIHOODS:
            raise ValueError(f"likelihood must be one of {LIKELIHOODS}, got {likelihood!r}")
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

    @property
    def config(self) -> dict[str, Any]:
        """The constructor arguments, as plain data (stored in checkpoints)."""
        return {
            "input_dim": self.input_dim,
            "hidden_dims": list(self.hidden_dims),
            "latent_dim": self.latent_dim,
            "likelihood": self.likelihood,
            "decoder_hidden_dims": list(self.decoder_hidden_dims),
        }

    def flatten(self, x: Tensor) -> Tensor:
        """(N, 1, 28, 28) or (N, D) → (N, D), with a clear error for anything else."""
        x = _check_tensor("x", x)
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
        z = _check_tensor("z", z)
        if z.shape[-1] != self.latent_dim:
            raise ValueError(
                f"expected z with last dimension {self.latent_dim}, got {tuple(z.shape)}"
            )
        return self.decoder(z)

    def log_likelihood(self, x_flat: Tensor, decoded: Tensor) -> Tensor:
        """log p_θ(x|z) in nats per image: x_flat (N, D) or broadcastable, decoded (..., D) → (...,)."""
        if self.likelihood == "bernoulli":
            return bernoulli_log_likelihood(decoded, x_flat)
        logvar = self.decoder_logvar
        return -0.5 * (LOG_2PI + logvar + (x_flat - decoded).pow(2) * torch.exp(-logvar)).sum(-1)

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
        _positive_int("num_images", num_images)
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
    _positive_int("batch_size", batch_size)
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
    _positive_int("num_samples", num_samples)
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
    log_prior = (-0.5 * (LOG_2PI + z.pow(2))).sum(-1)
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
    ks = sorted({_positive_int("each K in ks", k) for k in ks})
    if not ks:
        raise ValueError("ks must be a non-empty collection of positive ints, got an empty one")
    _positive_int("batch_size", batch_size)
    _positive_int("max_rows", max_rows)
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
    _positive_int("num_samples", num_samples)
    return iwae_bounds(model, x, (num_samples,), batch_size=batch_size, seed=seed)[num_samples]


# ----------------------------------------------------------------------------------------------
# Gradient estimators (notebook 05)
# ----------------------------------------------------------------------------------------------
def score_function_gradient_samples(
    f: Callable[[Tensor], Tensor],
    mu: Tensor,
    logvar: Tensor,
    num_samples: int,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor]:
    """Per-sample score-function (REINFORCE) estimates of ∇ E_q[f(z)], q = N(mu, diag e^logvar) (notebook 05).

    ∇_λ E_q[f(z)] = E_q[ f(z) ∇_λ log q_λ(z) ], with
    ∇_μ log q = (z − μ)/σ²  and  ∂ log q / ∂ log σ² = ½ ((z − μ)²/σ² − 1).

    Args:
        f: maps (S, k) points to (S,) values; only evaluated, never differentiated.
        mu, logvar: (k,) parameters of q. num_samples: S.

    Returns:
        (grad_mu (S, k), grad_logvar (S, k)): one unbiased gradient estimate per row; their mean
        is the S-sample estimator, their spread measures its variance.
    """
    mu, logvar = _check_mu_logvar(mu, logvar)
    if mu.dim() != 1:
        raise ValueError(f"mu and logvar must be 1-D (k,), got shape {tuple(mu.shape)}")
    _positive_int("num_samples", num_samples)
    mu, logvar = mu.detach(), logvar.detach()
    var = logvar.exp()
    with torch.no_grad():
        z = mu + var.sqrt() * torch.randn(
            num_samples, mu.shape[0], generator=generator, dtype=mu.dtype
        )
        values = f(z)
        if values.shape != (num_samples,):
            raise ValueError(f"f must map (S, k) to (S,), got output shape {tuple(values.shape)}")
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
    """Per-sample reparameterization estimates of ∇ E_q[f(z)], q = N(mu, diag e^logvar) (notebook 05).

    With z = μ + σ ε, ε ~ N(0, I): ∇_μ f(z) = ∇f(z) and ∂f(z)/∂ log σ² = ∇f(z) ⊙ ε σ / 2.
    ∇f comes from autograd, so f must be differentiable and act row by row.

    Returns:
        (grad_mu (S, k), grad_logvar (S, k)), one unbiased estimate per row.
    """
    mu, logvar = _check_mu_logvar(mu, logvar)
    if mu.dim() != 1:
        raise ValueError(f"mu and logvar must be 1-D (k,), got shape {tuple(mu.shape)}")
    _positive_int("num_samples", num_samples)
    mu, logvar = mu.detach(), logvar.detach()
    std = torch.exp(0.5 * logvar)
    eps = torch.randn(num_samples, mu.shape[0], generator=generator, dtype=mu.dtype)
    z = (mu + std * eps).requires_grad_(True)
    with torch.enable_grad():
        values = f(z)
        if values.shape != (num_samples,):
            raise ValueError(f"f must map (S, k) to (S,), got output shape {tuple(values.shape)}")
        (grad_z,) = torch.autograd.grad(values.sum(), z)
    return grad_z, grad_z * eps * std * 0.5


# ----------------------------------------------------------------------------------------------
# Probabilistic PCA in closed form (notebook 06, the exactness check)
# ----------------------------------------------------------------------------------------------
def _as_flat_float64(x: Tensor) -> Tensor:
    x = _check_tensor("x", x)
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
    _positive_int("latent_dim", latent_dim)
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
    w = _check_tensor("w", w).double()
    b = _check_tensor("b", b).double()
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
    means = torch.cat(
        [
            model.encode(x_flat[s : s + batch_size].to(device))[0].cpu()
            for s in range(0, len(x_flat), batch_size)
        ]
    )
    model.train(was_training)
    variances = means.double().var(dim=0)
    return int((variances > threshold).sum()), variances


# ----------------------------------------------------------------------------------------------
# Recipes: what notebook 06 trains and notebook 07 reuses
# ----------------------------------------------------------------------------------------------
MAIN_RECIPE: dict[str, Any] = {
    "name": "vae_main",
    "model": {"input_dim": 784, "hidden_dims": [400], "latent_dim": 32, "likelihood": "bernoulli"},
    "epochs": 18,
    "batch_size": 256,
    "lr": 8e-3,
    "lr_schedule": "cosine",
    "warmup_fraction": 0.05,
    "output_bias": "pixel_log_odds",
    "train_images": None,
}
"""The quality model of notebook 06: 784-400-32 MLP VAE, dynamically binarized MNIST, batches of 256,
fused Adam with a peak learning rate of 8e-3 reached by a linear warm-up over the first 5 % of the
steps and decayed to zero with a cosine, the decoder's output bias started at the pixels' log-odds,
and a fixed number of epochs (35-45 s on 2 idle cores with full MNIST). ``train_images`` None
means all training images."""

LATENT2_RECIPE: dict[str, Any] = {
    "name": "vae_latent2",
    "model": {"input_dim": 784, "hidden_dims": [400], "latent_dim": 2, "likelihood": "bernoulli"},
    "epochs": 4,
    "batch_size": 128,
    "lr": 2e-3,
    "lr_schedule": "cosine",
    "train_images": 30_000,
    "min_images_seen": 120_000,
}
"""The 2-D model of notebook 06 (the latent manifold and the codes coloured by digit), explored
with widgets in notebook 07. ``train_images``: the first 30,000 training images (all of them on
the offline subset). ``min_images_seen``: on a smaller training set, more epochs are run so that
at least this many images are seen (the offline subset's 4,000 images get 30 epochs)."""


OUTPUT_BIAS_INITS = (None, "pixel_log_odds")
"""Values of a recipe's optional ``output_bias`` key: None keeps PyTorch's initialization,
"pixel_log_odds" calls :func:`init_output_bias` on the training images before training."""


def _check_recipe(recipe: Any) -> dict[str, Any]:
    required = {"name", "model", "epochs", "batch_size", "lr", "lr_schedule", "train_images"}
    if not isinstance(recipe, Mapping) or not required <= set(recipe):
        raise ValueError(f"a recipe must be a dict with keys {sorted(required)}, got {recipe!r}")
    if recipe["lr_schedule"] not in ("cosine", "constant"):
        raise ValueError(
            f"lr_schedule must be 'cosine' or 'constant', got {recipe['lr_schedule']!r}"
        )
    warmup = recipe.get("warmup_fraction", 0.0)
    if isinstance(warmup, bool) or not isinstance(warmup, int | float) or not 0.0 <= warmup < 1.0:
        raise ValueError(f"warmup_fraction must be a number in [0, 1), got {warmup!r}")
    if recipe.get("output_bias") not in OUTPUT_BIAS_INITS:
        raise ValueError(
            f"output_bias must be one of {OUTPUT_BIAS_INITS}, got {recipe.get('output_bias')!r}"
        )
    return dict(recipe)


@torch.no_grad()
def init_output_bias(model: VAE, images: Tensor, clamp: float = 1e-3) -> VAE:
    """Start a Bernoulli decoder at the average image: output bias b_d = logit(mean pixel d).

    With the weights near zero at initialization, the untrained decoder then predicts each pixel's
    marginal probability instead of ½ everywhere, and the first gradient steps go into what the
    code should explain rather than into learning the background (notebook 06).

    Args:
        model: a VAE with ``likelihood="bernoulli"``; its last decoder layer's bias is overwritten.
        images: (N, 1, 28, 28) or (N, D) grey levels in [0, 1] (the probabilities that dynamic
            binarization uses, so their mean is the probability that pixel d is 1).
        clamp: the means are clipped to [clamp, 1 − clamp] so always-black pixels get a finite
            logit (−6.9 at the default).

    Returns:
        the model (changed in place).
    """
    model = _check_model(model)
    if model.likelihood != "bernoulli":
        raise ValueError(f"init_output_bias needs a Bernoulli decoder, got {model.likelihood!r}")
    if not isinstance(clamp, float) or not 0.0 < clamp < 0.5:
        raise ValueError(f"clamp must be a float in (0, 0.5), got {clamp!r}")
    from helpers.data import _check_probabilities

    x_flat = model.flatten(_check_probabilities(images, "images"))
    if x_flat.shape[0] == 0:
        raise ValueError("images must hold at least one image, got 0")
    means = x_flat.double().mean(0)
    bias = model.decoder[-1].bias
    bias.copy_(torch.logit(means.clamp(clamp, 1 - clamp)).to(bias))
    return model


def recipe_epochs(recipe: Mapping[str, Any], num_images: int) -> int:
    """Epochs ``train_recipe`` runs on ``num_images`` images: ``recipe["epochs"]``, raised so that at
    least ``recipe["min_images_seen"]`` images are seen when the recipe sets it."""
    recipe = _check_recipe(recipe)
    epochs = int(recipe["epochs"])
    minimum = recipe.get("min_images_seen")
    if minimum:
        epochs = max(epochs, math.ceil(minimum / max(1, num_images)))
    return epochs


def _plain(value: Any) -> Any:
    """Tuples → lists, recursively, so configs compare equal after a round trip through a file."""
    return json.loads(json.dumps(value))


def _recipe_images(recipe: Mapping[str, Any], train_images: Tensor) -> Tensor:
    _check_tensor("train_images", train_images)
    limit = recipe["train_images"]
    return train_images if limit is None else train_images[:limit]


def checkpoint_config(
    recipe: Mapping[str, Any], train_images: Tensor, seed: int = 0
) -> dict[str, Any]:
    """Everything that determines a trained model: the recipe, the seed and a fingerprint of the data.

    The fingerprint (number of images and their pixel sum) keeps a model trained on the offline
    5,000-image subset from being mistaken for one trained on full MNIST, and vice versa.
    """
    recipe = _check_recipe(recipe)
    used = _recipe_images(recipe, train_images)
    return _plain(
        {
            "recipe": recipe,
            "seed": int(seed),
            "num_train_images": int(used.shape[0]),
            "train_pixel_sum": round(float(used.double().sum()), 1),
        }
    )


def checkpoint_path(recipe: Mapping[str, Any]) -> Path:
    """``helpers.paths.checkpoint_dir() / f"{recipe['name']}.pt"`` (no disk access)."""
    from helpers.paths import checkpoint_dir

    return checkpoint_dir() / f"{_check_recipe(recipe)['name']}.pt"


def save_checkpoint(model: VAE, path: str | Path, config: Mapping[str, Any]) -> Path:
    """Write the model's weights, its constructor arguments and ``config`` (plain data) to ``path``."""
    model = _check_model(model)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    torch.save(
        {"config": _plain(dict(config)), "model_config": model.config, "state_dict": state}, path
    )
    return path


def load_checkpoint(path: str | Path, config: Mapping[str, Any]) -> VAE | None:
    """Load a VAE saved by ``save_checkpoint`` (``torch.load(weights_only=True)``), in eval mode on the CPU.

    Returns None when the file is missing, unreadable (with a warning) or was saved with a
    different ``config``: the caller then retrains (see ``load_or_train``).
    """
    path = Path(path)
    if not path.is_file():
        return None
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
        if _plain(dict(config)) != saved["config"]:
            return None
        model = VAE(**saved["model_config"])
        model.load_state_dict(saved["state_dict"])
    except Exception as error:  # noqa: BLE001 - any unreadable file means "retrain"
        warnings.warn(
            f"could not read checkpoint {path.name} ({error}); it will be retrained", stacklevel=2
        )
        return None
    return model.eval()


def train_recipe(
    recipe: Mapping[str, Any],
    train_images: Tensor,
    *,
    seed: int = 0,
    progress: bool = True,
    device: torch.device | str | None = None,
    test_images: Tensor | None = None,
) -> tuple[VAE, Any]:
    """Train a VAE as the recipe says, on dynamically binarized images (notebook 06).

    Each batch is binarized afresh (``helpers.data.binarize_dynamic``); the model is built under
    ``seed`` and trained with ``helpers.training.train`` (fused Adam where available), a fixed
    number of epochs, so the result repeats exactly on the same machine and data.

    Args:
        recipe: MAIN_RECIPE, LATENT2_RECIPE or a dict with the same keys.
        train_images: (N, 1, 28, 28) grey-level training images in [0, 1] (labels are not used).
        test_images: optional already-binarized held-out images (e.g. ``binarize_fixed(test)``);
            the negative ELBO and its parts on them are recorded after every epoch.

    Returns:
        (model in eval mode, helpers.training.History).
    """
    from helpers.data import binarize_dynamic
    from helpers.training import cosine_schedule, train

    recipe = _check_recipe(recipe)
    images = _recipe_images(recipe, train_images)
    if images.dim() != 4 or images.shape[1:] != (1, 28, 28):
        raise ValueError(f"train_images must be (N, 1, 28, 28), got {tuple(train_images.shape)}")
    # "constant" is the same schedule with the cosine ending where it starts (final_fraction 1)
    schedule = cosine_schedule(
        warmup_fraction=float(recipe.get("warmup_fraction", 0.0)),
        final_fraction=0.0 if recipe["lr_schedule"] == "cosine" else 1.0,
    )
    epochs = recipe_epochs(recipe, len(images))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = VAE(**recipe["model"])
        if recipe.get("output_bias") == "pixel_log_odds":
            init_output_bias(model, images)
        model, history = train(
            model,
            negative_elbo,
            images,
            test_x=test_images,
            epochs=epochs,
            batch_size=recipe["batch_size"],
            lr=recipe["lr"],
            lr_schedule=schedule,
            batch_transform=binarize_dynamic,
            device=device,
            seed=seed,
            progress=progress,
            desc=recipe["name"],
        )
    return model.eval(), history


def load_or_train(
    recipe: Mapping[str, Any],
    train_images: Tensor,
    *,
    seed: int = 0,
    progress: bool = True,
    device: torch.device | str | None = None,
) -> tuple[VAE, bool]:
    """The checkpoint notebook 06 saved for ``recipe`` if it matches these data; else train and save it.

    Returns:
        (model in eval mode, loaded) where ``loaded`` is True when it came from the checkpoint.
    """
    config = checkpoint_config(recipe, train_images, seed)
    path = checkpoint_path(recipe)
    model = load_checkpoint(path, config)
    if model is not None:
        if device is not None:
            model = model.to(device)
        return model, True
    model, _ = train_recipe(recipe, train_images, seed=seed, progress=progress, device=device)
    save_checkpoint(model, path, config)
    return model, False
