"""Tests for helpers.vi against independent references: torch.distributions, Monte Carlo, and
gradients known in closed form."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import distributions as D

from helpers import vi as V


# ----------------------------------------------------------------------------------------------
# KL and log-densities
# ----------------------------------------------------------------------------------------------
def test_gaussian_kl_matches_torch_distributions():
    gen = torch.Generator().manual_seed(0)
    mu = torch.randn(50, 7, generator=gen, dtype=torch.float64)
    logvar = torch.randn(50, 7, generator=gen, dtype=torch.float64)
    reference = D.kl_divergence(D.Normal(mu, (0.5 * logvar).exp()), D.Normal(0.0, 1.0)).sum(-1)
    got = V.gaussian_kl(mu, logvar)
    assert got.shape == (50,)
    torch.testing.assert_close(got, reference, rtol=1e-12, atol=1e-12)


def test_gaussian_kl_matches_monte_carlo():
    gen = torch.Generator().manual_seed(1)
    mu = torch.tensor([[0.5, -1.0, 2.0]], dtype=torch.float64)
    logvar = torch.tensor([[0.3, -1.2, 0.0]], dtype=torch.float64)
    z = V.reparameterize(mu.expand(200_000, 3), logvar.expand(200_000, 3), gen)
    log_ratio = V.gaussian_log_density(z, mu, logvar) - V.gaussian_log_density(z)
    standard_error = log_ratio.std() / math.sqrt(len(log_ratio))
    assert abs(log_ratio.mean() - V.gaussian_kl(mu, logvar)[0]) < 5 * standard_error


def test_log_densities_match_torch_distributions():
    gen = torch.Generator().manual_seed(2)
    z, mu, logvar = (torch.randn(20, 4, generator=gen, dtype=torch.float64) for _ in range(3))
    reference = D.Normal(mu, (0.5 * logvar).exp()).log_prob(z).sum(-1)
    torch.testing.assert_close(V.gaussian_log_density(z, mu, logvar), reference)
    torch.testing.assert_close(V.gaussian_log_density(z), D.Normal(0.0, 1.0).log_prob(z).sum(-1))
    logits = 5 * torch.randn(20, 30, generator=gen, dtype=torch.float64)
    x = (torch.rand(20, 30, generator=gen) < 0.5).double()
    torch.testing.assert_close(
        V.bernoulli_log_likelihood(logits, x), D.Bernoulli(logits=logits).log_prob(x).sum(-1)
    )


def test_kl_rejects_bad_input():
    with pytest.raises(ValueError, match="same shape"):
        V.gaussian_kl(torch.zeros(3, 2), torch.zeros(3, 4))
    with pytest.raises(TypeError, match="floating-point"):
        V.gaussian_kl(torch.zeros(3, 2, dtype=torch.long), torch.zeros(3, 2, dtype=torch.long))



def test_kl_per_dimension_matches_torch_distributions_and_sums_to_the_kl():
    gen = torch.Generator().manual_seed(3)
    mu = torch.randn(40, 6, generator=gen, dtype=torch.float64)
    logvar = torch.randn(40, 6, generator=gen, dtype=torch.float64)
    reference = D.kl_divergence(D.Normal(mu, (0.5 * logvar).exp()), D.Normal(0.0, 1.0))
    per_dimension = V.gaussian_kl_per_dimension(mu, logvar)
    assert per_dimension.shape == (40, 6)
    torch.testing.assert_close(per_dimension, reference, rtol=1e-12, atol=1e-12)
    assert torch.all(per_dimension >= 0)
    zero = V.gaussian_kl_per_dimension(torch.zeros(1, 3), torch.zeros(1, 3))
    np.testing.assert_array_equal(zero.numpy(), np.zeros((1, 3)))


def test_reparameterize_has_the_mean_and_variance_of_q():
    gen = torch.Generator().manual_seed(4)
    mu = torch.tensor([1.0, -2.0], dtype=torch.float64)
    logvar = torch.tensor([0.5, -1.0], dtype=torch.float64)
    z = V.reparameterize(mu.expand(100_000, 2), logvar.expand(100_000, 2), gen)
    standard_error = (logvar.exp() / len(z)).sqrt()
    assert torch.all((z.mean(0) - mu).abs() < 5 * standard_error)
    torch.testing.assert_close(z.var(0), logvar.exp(), rtol=0.02, atol=0.0)


# ----------------------------------------------------------------------------------------------
# Gradient estimators: both unbiased on a problem with a known gradient
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "estimator", [V.score_function_gradient_samples, V.reparameterization_gradient_samples]
)
def test_gradient_estimators_are_unbiased(estimator):
    a = torch.tensor([1.0, -0.5, 2.0], dtype=torch.float64)
    c = torch.tensor([0.3, 1.0, -2.0], dtype=torch.float64)
    mu = torch.tensor([0.5, -1.0, 0.2], dtype=torch.float64)
    logvar = torch.tensor([0.0, -0.7, 0.4], dtype=torch.float64)

    def f(z):  # E_q f = Σ a(μ² + σ²) + c μ
        return (a * z.pow(2) + c * z).sum(-1)

    true_mu = 2 * a * mu + c
    true_logvar = a * logvar.exp()
    grad_mu, grad_logvar = estimator(f, mu, logvar, 200_000, torch.Generator().manual_seed(0))
    for samples, truth in ((grad_mu, true_mu), (grad_logvar, true_logvar)):
        standard_error = samples.std(0) / math.sqrt(len(samples))
        assert torch.all((samples.mean(0) - truth).abs() < 5 * standard_error), (
            samples.mean(0),
            truth,
        )


def test_gradient_estimators_reject_bad_f():
    with pytest.raises(ValueError, match=r"\(S, k\) to \(S,\)"):
        V.reparameterization_gradient_samples(lambda z: z, torch.zeros(2), torch.zeros(2), 10)


