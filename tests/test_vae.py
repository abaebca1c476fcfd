"""Tests for helpers/vae.py against independent references.

References: torch.distributions (KL, Bernoulli and Normal log-densities, the multivariate normal
density), scikit-learn's probabilistic PCA likelihood, closed forms of a linear Gaussian model
(its exact log-likelihood and its exact ELBO) and Monte Carlo estimates with stated standard
errors.
"""

from __future__ import annotations

import math

import pytest
import torch
from sklearn.decomposition import PCA
from torch import distributions as D

from helpers import vae as V
from helpers import vi

# ----------------------------------------------------------------------------------------------
# A linear Gaussian VAE whose marginal likelihood, posterior and ELBO are known in closed form.
# ----------------------------------------------------------------------------------------------
DATA_DIM, LATENT_DIM = 6, 2


def linear_gaussian_vae(encoder_noise: float = 0.3, variance_scale: float = 1.5, seed: int = 0):
    """A pPCA decoder x|z ~ N(Wz + b, σ² I) and a linear encoder near (not at) the exact posterior.

    Returns (model in float64, W, b, σ²).
    """
    gen = torch.Generator().manual_seed(seed)
    # orthogonal columns make WᵀW diagonal, so the exact posterior is a diagonal Gaussian
    basis = torch.linalg.qr(torch.randn(DATA_DIM, LATENT_DIM, generator=gen, dtype=torch.float64))[
        0
    ]
    w = basis * torch.tensor([2.0, 1.0], dtype=torch.float64)
    b = torch.randn(DATA_DIM, generator=gen, dtype=torch.float64)
    sigma2 = torch.tensor(0.5, dtype=torch.float64)
    model = V.VAE(DATA_DIM, hidden_dims=(), latent_dim=LATENT_DIM, likelihood="gaussian").double()
    # exact posterior: mean M⁻¹Wᵀ(x − b), covariance σ² M⁻¹ with M = WᵀW + σ²I
    m_inv = torch.linalg.inv(w.T @ w + sigma2 * torch.eye(LATENT_DIM, dtype=torch.float64))
    gain = m_inv @ w.T
    with torch.no_grad():
        model.decoder[0].weight.copy_(w)
        model.decoder[0].bias.copy_(b)
        model.decoder_logvar.fill_(math.log(sigma2))
        model.encoder_mu.weight.copy_(
            gain + encoder_noise * torch.randn(gain.shape, generator=gen, dtype=torch.float64)
        )
        model.encoder_mu.bias.copy_(-(gain @ b))
        model.encoder_logvar.weight.zero_()
        model.encoder_logvar.bias.copy_(torch.log(variance_scale * sigma2 * torch.diagonal(m_inv)))
    return model, w, b, sigma2


def exact_log_px(
    x: torch.Tensor, w: torch.Tensor, b: torch.Tensor, sigma2: torch.Tensor
) -> torch.Tensor:
    cov = w @ w.T + sigma2 * torch.eye(DATA_DIM, dtype=torch.float64)
    return D.MultivariateNormal(b, covariance_matrix=cov).log_prob(x)


def sample_data(w, b, sigma2, n: int, seed: int = 1) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn(n, LATENT_DIM, generator=gen, dtype=torch.float64)
    return (
        z @ w.T + b + sigma2.sqrt() * torch.randn(n, DATA_DIM, generator=gen, dtype=torch.float64)
    )



# ----------------------------------------------------------------------------------------------
# The model and the loss
# ----------------------------------------------------------------------------------------------
def test_vae_shapes_and_errors():
    model = V.VAE(latent_dim=5)
    images = torch.rand(3, 1, 28, 28)
    mu, logvar = model.encode(images)
    assert mu.shape == logvar.shape == (3, 5)
    torch.testing.assert_close(model.encode(images.reshape(3, 784))[0], mu)
    assert model.decode(torch.zeros(4, 5)).shape == (4, 784)
    assert model.decode(torch.zeros(7, 4, 5)).shape == (7, 4, 784)
    samples = model.sample(6, torch.Generator().manual_seed(0))
    assert samples.shape == (6, 784) and 0 <= samples.min() and samples.max() <= 1
    with pytest.raises(ValueError, match=r"\(N, 1, 28, 28\) or \(N, 784\)"):
        model.encode(torch.zeros(3, 100))
    with pytest.raises(ValueError, match="last dimension 5"):
        model.decode(torch.zeros(3, 4))
    with pytest.raises(ValueError, match="likelihood"):
        V.VAE(likelihood="poisson")
    with pytest.raises(ValueError, match="hidden_dims"):
        V.VAE(hidden_dims=(400, -1))
    with pytest.raises(TypeError, match="VAE"):
        V.negative_elbo(torch.nn.Linear(2, 2), torch.zeros(2, 784))


def test_negative_elbo_parts_and_beta():
    torch.manual_seed(0)
    model = V.VAE(hidden_dims=(32,), latent_dim=3)
    x = (torch.rand(16, 1, 28, 28) < 0.3).float()
    loss, parts = V.negative_elbo(model, x, None, generator=torch.Generator().manual_seed(5))
    assert set(parts) == {"recon", "kl"}
    assert loss.item() == pytest.approx(parts["recon"] + parts["kl"], rel=1e-6)
    # the reconstruction term is the Bernoulli negative log-likelihood of one reparameterized sample
    g = torch.Generator().manual_seed(5)
    mu, logvar = model.encode(x)
    z = mu + (0.5 * logvar).exp() * torch.randn(mu.shape, generator=g)
    recon = -D.Bernoulli(logits=model.decode(z)).log_prob(x.reshape(16, 784)).sum(-1).mean()
    assert parts["recon"] == pytest.approx(recon.item(), rel=1e-5)
    loss_beta, parts_beta = V.negative_elbo(
        model, x, None, beta=0.25, generator=torch.Generator().manual_seed(5)
    )
    assert loss_beta.item() == pytest.approx(
        parts_beta["recon"] + 0.25 * parts_beta["kl"], rel=1e-6
    )
    loss.backward()
    assert model.encoder_mu.weight.grad is not None and model.decoder[0].weight.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="beta"):
        V.negative_elbo(model, x, beta=-1.0)


# ----------------------------------------------------------------------------------------------
# Importance-weighted bounds
# ----------------------------------------------------------------------------------------------
def test_log_importance_weights_match_torch_distributions():
    """The Bernoulli fast path (data term as a matmul) against a plain computation."""
    torch.manual_seed(0)
    model = V.VAE(hidden_dims=(20,), latent_dim=3).double()
    x = (torch.rand(5, 784, dtype=torch.float64) < 0.3).double()
    log_w = V.log_importance_weights(model, x, 7, torch.Generator().manual_seed(3))
    mu, logvar = model.encode(x)
    std = (0.5 * logvar).exp()
    # the noise is drawn as (N, K, k): image by image, K samples each
    eps = torch.randn((5, 7, 3), generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    z = mu[:, None] + std[:, None] * eps
    reference = (
        D.Bernoulli(logits=model.decode(z)).log_prob(x[:, None]).sum(-1)
        + D.Normal(0.0, 1.0).log_prob(z).sum(-1)
        - D.Normal(mu[:, None], std[:, None]).log_prob(z).sum(-1)
    )
    assert log_w.shape == (5, 7)
    torch.testing.assert_close(log_w, reference)


def test_iwae_k1_is_the_elbo_in_expectation():
    """Mean of L_1 over many draws equals the closed-form ELBO of a linear Gaussian model."""
    model, w, b, sigma2 = linear_gaussian_vae()
    x = sample_data(w, b, sigma2, 4)
    with torch.no_grad():
        mu, logvar = model.encode(x)
        residual = x - mu @ w.T - b
        expected_log_lik = -0.5 * (
            DATA_DIM * math.log(2 * math.pi * sigma2)
            + (residual.pow(2).sum(-1) + (logvar.exp() * w.pow(2).sum(0)).sum(-1)) / sigma2
        )
        elbo = expected_log_lik - vi.gaussian_kl(mu, logvar)
    repeats = 20_000
    l1 = V.iwae_bound(model, x.repeat(repeats, 1), 1, batch_size=20_000, seed=1).reshape(repeats, 4)
    standard_error = l1.std(0) / math.sqrt(repeats)
    assert torch.all((l1.mean(0) - elbo).abs() < 5 * standard_error)


def test_iwae_bounds_increase_with_k_and_stay_below_exact_log_likelihood():
    model, w, b, sigma2 = linear_gaussian_vae()
    x = sample_data(w, b, sigma2, 400)
    exact = exact_log_px(x, w, b, sigma2).mean().item()
    bounds = V.iwae_bounds(model, x, (1000, 1, 10, 100), batch_size=50, max_rows=10_000, seed=0)
    assert list(bounds) == [1, 10, 100, 1000]
    means = [bounds[k].mean().item() for k in bounds]
    gaps = [exact - m for m in means]
    # below log p(x) and non-decreasing in K (averaged over 400 points)
    assert all(gap > 0 for gap in gaps), gaps
    assert all(later > earlier for earlier, later in zip(means, means[1:], strict=False)), means
    # the bounds approach log p(x): the gap shrinks at least tenfold from K = 1 to K = 1000
    assert gaps[-1] < 0.1 * gaps[0], gaps


def test_iwae_bounds_are_exact_with_the_exact_posterior():
    """With q equal to the posterior every weight equals p(x), so L_K = log p(x) for every K."""
    model, w, b, sigma2 = linear_gaussian_vae(encoder_noise=0.0, variance_scale=1.0)
    x = sample_data(w, b, sigma2, 20)
    bounds = V.iwae_bounds(model, x, (1, 7))
    exact = exact_log_px(x, w, b, sigma2).float()
    for k in (1, 7):
        torch.testing.assert_close(bounds[k], exact, rtol=1e-5, atol=1e-5)


def test_iwae_rejects_bad_arguments():
    model = V.VAE(hidden_dims=(8,), latent_dim=2)
    with pytest.raises(ValueError, match="positive int"):
        V.iwae_bounds(model, torch.zeros(2, 784), (0, 10))
    with pytest.raises(ValueError, match="empty"):
        V.iwae_bounds(model, torch.zeros(2, 784), ())


# ----------------------------------------------------------------------------------------------
# Probabilistic PCA
# ----------------------------------------------------------------------------------------------
def test_ppca_matches_multivariate_normal_and_scikit_learn():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(500, 8, generator=gen, dtype=torch.float64) @ torch.randn(
        8, 8, generator=gen, dtype=torch.float64
    )
    w, b, sigma2 = V.ppca_fit(x, 3)
    cov = w @ w.T + sigma2 * torch.eye(8, dtype=torch.float64)
    reference = D.MultivariateNormal(b, covariance_matrix=cov).log_prob(x)
    got = V.ppca_log_likelihood(x, w, b, sigma2)
    torch.testing.assert_close(got, reference)
    # scikit-learn fits the same model from the covariance with 1/(n − 1); ours is the ML 1/n one
    sklearn_pca = PCA(n_components=3).fit(x.numpy())
    n = x.shape[0]
    torch.testing.assert_close(cov, torch.from_numpy(sklearn_pca.get_covariance()) * (n - 1) / n)
    # maximum likelihood: our parameters score at least as well as scikit-learn's on the same data
    assert got.mean().item() >= sklearn_pca.score(x.numpy())


# ----------------------------------------------------------------------------------------------
# Active units
# ----------------------------------------------------------------------------------------------
def test_active_units_counts_dimensions_that_depend_on_x():
    torch.manual_seed(0)
    model = V.VAE(hidden_dims=(16,), latent_dim=4)
    with torch.no_grad():
        model.encoder_mu.weight[2:].zero_()  # z_3, z_4 ignore x: collapsed
    count, variances = V.active_units(model, torch.rand(200, 784) * 5)
    assert count == 2 and variances.shape == (4,)
    assert torch.all(variances[2:] == 0) and torch.all(variances[:2] > 0.01)


# ----------------------------------------------------------------------------------------------
