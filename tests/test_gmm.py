"""Tests of helpers.gmm against independent references: scikit-learn's GaussianMixture,
scipy.stats.multivariate_normal and closed-form KL divergences."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy.special import logsumexp
from scipy.stats import multivariate_normal
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture

from helpers import gmm


def _blobs(seed: int = 0, n: int = 300) -> np.ndarray:
    """Three overlapping 2-D Gaussian blobs, (n, 2)."""
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 0.0], [3.0, 1.0], [0.5, 3.5]])
    scales = [
        np.array([[1.0, 0.4], [0.4, 0.6]]),
        np.eye(2) * 0.5,
        np.array([[0.3, -0.2], [-0.2, 1.2]]),
    ]
    parts = [
        rng.multivariate_normal(c, s, size=n // 3) for c, s in zip(centres, scales, strict=True)
    ]
    return np.concatenate(parts)


def _init(X: np.ndarray, k: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A deliberately poor initialization shared by both implementations."""
    rng = np.random.default_rng(seed)
    means = X[rng.choice(len(X), size=k, replace=False)]
    cov = np.cov(X, rowvar=False) * 0.5
    covariances = np.repeat(cov[None], k, axis=0)
    weights = rng.dirichlet(np.ones(k) * 5)
    return weights, means, covariances


def _sklearn_after(
    X, weights, means, covariances, n_iter: int, reg_covar: float
) -> GaussianMixture:
    ref = GaussianMixture(
        n_components=len(weights),
        covariance_type="full",
        weights_init=weights,
        means_init=means,
        precisions_init=np.linalg.inv(covariances),
        max_iter=n_iter,
        tol=0.0,
        reg_covar=reg_covar,
        random_state=0,
    )
    with warnings.catch_warnings():
        # tol=0 never converges, so sklearn warns on purpose; the warning is expected here.
        warnings.simplefilter("ignore", ConvergenceWarning)
        ref.fit(X)
    return ref


@pytest.mark.parametrize(("k", "reg_covar"), [(3, 1e-6), (4, 1e-3), (2, 0.0)])
def test_every_iteration_matches_sklearn(k: int, reg_covar: float) -> None:
    X = _blobs()
    w0, m0, c0 = _init(X, k)
    n_max = 12
    ours = gmm.fit_gmm(
        X,
        k,
        init_weights=w0,
        init_means=m0,
        init_covariances=c0,
        max_iter=n_max,
        tol=0.0,
        reg_covar=reg_covar,
    )
    assert ours.n_iter == n_max and len(ours.log_likelihood) == n_max and not ours.converged
    for n in range(1, n_max + 1):
        ref = _sklearn_after(X, w0, m0, c0, n, reg_covar)
        partial = gmm.fit_gmm(
            X,
            k,
            init_weights=w0,
            init_means=m0,
            init_covariances=c0,
            max_iter=n,
            tol=0.0,
            reg_covar=reg_covar,
        )
        # The per-iteration curve: entry n-1 is the score after n iterations.
        assert abs(ours.log_likelihood[n - 1] - ref.score(X)) < 1e-6
        np.testing.assert_allclose(partial.weights, ref.weights_, atol=1e-8)
        np.testing.assert_allclose(partial.means, ref.means_, atol=1e-7)
        np.testing.assert_allclose(partial.covariances, ref.covariances_, atol=1e-7)


def test_initial_log_likelihood_matches_scipy() -> None:
    X = _blobs()
    w0, m0, c0 = _init(X, 3)
    fit = gmm.fit_gmm(X, 3, init_weights=w0, init_means=m0, init_covariances=c0, max_iter=1)
    dens = np.stack([multivariate_normal(m0[j], c0[j]).logpdf(X) for j in range(3)], axis=1)
    expected = np.mean(logsumexp(dens + np.log(w0), axis=1))
    assert abs(fit.initial_log_likelihood - expected) < 1e-10


def test_log_gaussian_densities_match_scipy() -> None:
    X = _blobs(seed=3)
    _, means, _ = _init(X, 3)
    rng = np.random.default_rng(5)
    a = rng.normal(size=(3, 2, 2))
    covariances = a @ np.swapaxes(a, 1, 2) + 0.1 * np.eye(2)
    ours = gmm.log_gaussian_densities(X, means, covariances)
    ref = np.stack(
        [multivariate_normal(means[j], covariances[j]).logpdf(X) for j in range(3)], axis=1
    )
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-10)


def test_e_step_matches_sklearn_predict_proba() -> None:
    X = _blobs()
    w0, m0, c0 = _init(X, 3)
    ref = _sklearn_after(X, w0, m0, c0, 5, 1e-6)
    log_resp, log_px = gmm.e_step(X, ref.weights_, ref.means_, ref.covariances_)
    np.testing.assert_allclose(np.exp(log_resp), ref.predict_proba(X), atol=1e-10)
    np.testing.assert_allclose(log_px, ref.score_samples(X), atol=1e-10)


def test_log_likelihood_never_decreases_and_stops_on_tol() -> None:
    X = _blobs(seed=7, n=600)
    for seed in range(5):
        fit = gmm.fit_gmm(X, 4, max_iter=200, tol=1e-8, seed=seed)
        curve = np.concatenate([[fit.initial_log_likelihood], fit.log_likelihood])
        assert np.all(np.diff(curve) >= -1e-12), seed
        if fit.converged:
            assert curve[-1] - curve[-2] < 1e-8
        else:
            assert fit.n_iter == 200


def test_elbo_equals_log_likelihood_after_e_step_and_gap_is_kl() -> None:
    X = _blobs()
    w0, m0, c0 = _init(X, 3)
    log_resp, log_px = gmm.e_step(X, w0, m0, c0)
    tight = gmm.elbo(X, np.exp(log_resp), w0, m0, c0)
    np.testing.assert_allclose(tight, log_px, atol=1e-10)
    # Any other Q: ELBO = log p(x) - KL(Q || posterior), KL computed here from its definition.
    q = np.random.default_rng(0).dirichlet(np.ones(3), size=len(X))
    loose = gmm.elbo(X, q, w0, m0, c0)
    kl = np.sum(q * (np.log(q) - log_resp), axis=1)
    assert np.all(kl > 0)
    np.testing.assert_allclose(log_px - loose, kl, atol=1e-10)


def test_elbo_handles_zero_responsibilities() -> None:
    X = _blobs()
    w0, m0, c0 = _init(X, 3)
    q = np.zeros((len(X), 3))
    q[:, 0] = 1.0
    value = gmm.elbo(X, q, w0, m0, c0)
    expected = np.log(w0[0]) + multivariate_normal(m0[0], c0[0]).logpdf(X)
    np.testing.assert_allclose(value, expected, atol=1e-10)


def test_m_step_is_stable_when_a_component_gets_no_responsibility() -> None:
    X = _blobs()
    resp = np.zeros((len(X), 3))
    resp[:, 0] = 0.6
    resp[:, 1] = 0.4  # component 2 is empty
    weights, means, covariances = gmm.m_step(X, resp, reg_covar=1e-4)
    assert np.all(np.isfinite(means)) and np.all(np.isfinite(covariances))
    assert weights[2] < 1e-12
    np.testing.assert_allclose(covariances[2], 1e-4 * np.eye(2))
    # The next E-step still works (the empty component has a positive definite covariance).
    log_resp, log_px = gmm.e_step(X, weights, means, covariances)
    assert np.all(np.isfinite(log_px))
    np.testing.assert_allclose(np.exp(log_resp).sum(axis=1), 1.0)


def test_e_step_is_stable_far_from_every_component() -> None:
    # A point 1e3 standard deviations away underflows exp(); log space keeps it finite.
    X = np.array([[1e3, -1e3], [0.0, 0.0]])
    weights = np.array([0.5, 0.5])
    means = np.array([[0.0, 0.0], [1.0, 1.0]])
    covariances = np.repeat(np.eye(2)[None], 2, axis=0)
    log_resp, log_px = gmm.e_step(X, weights, means, covariances)
    assert np.all(np.isfinite(log_resp)) and np.all(np.isfinite(log_px))
    np.testing.assert_allclose(np.exp(log_resp).sum(axis=1), 1.0)


def test_default_initialization_is_seeded() -> None:
    X = _blobs()
    a = gmm.fit_gmm(X, 3, seed=4, max_iter=5, tol=0)
    b = gmm.fit_gmm(X, 3, seed=4, max_iter=5, tol=0)
    c = gmm.fit_gmm(X, 3, seed=5, max_iter=5, tol=0)
    np.testing.assert_array_equal(a.means, b.means)
    assert not np.allclose(a.means, c.means)


def test_sample_gmm_moments() -> None:
    weights = np.array([0.3, 0.7])
    means = np.array([[-2.0, 0.0], [2.0, 1.0]])
    covariances = np.array([[[1.0, 0.5], [0.5, 1.0]], [[0.5, 0.0], [0.0, 2.0]]])
    x, z = gmm.sample_gmm(40_000, weights, means, covariances, np.random.default_rng(0))
    assert x.shape == (40_000, 2) and z.shape == (40_000,)
    assert abs(np.mean(z == 0) - 0.3) < 0.01
    np.testing.assert_allclose(x[z == 1].mean(axis=0), means[1], atol=0.05)
    np.testing.assert_allclose(np.cov(x[z == 0], rowvar=False), covariances[0], atol=0.05)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"X": np.zeros(10)}, ValueError, r"shape \(N, D\)"),
        ({"X": np.array([[0.0, np.nan]] * 5)}, ValueError, "NaN"),
        ({"X": np.zeros((2, 2)), "n_components": 3}, ValueError, "at least as many data points"),
        ({"n_components": 0}, ValueError, "n_components"),
        ({"init_means": np.zeros((3, 5))}, ValueError, "init_means must have shape"),
        ({"init_weights": np.ones(2) / 2}, ValueError, "init_weights must have shape"),
        ({"init_weights": np.array([0.5, 0.5, 0.5])}, ValueError, "sum to 1"),
        ({"init_covariances": np.zeros((3, 2))}, ValueError, "init_covariances must have shape"),
        (
            {"init_covariances": np.repeat(np.array([[1.0, 2.0], [2.0, 1.0]])[None], 3, axis=0)},
            ValueError,
            "not positive definite",
        ),
        (
            {"init_covariances": np.repeat(np.array([[1.0, 0.5], [0.0, 1.0]])[None], 3, axis=0)},
            ValueError,
            "symmetric",
        ),
        ({"max_iter": 0}, ValueError, "max_iter"),
        ({"tol": -1.0}, ValueError, "tol"),
        ({"reg_covar": -1e-6}, ValueError, "reg_covar"),
        ({"X": np.array([["a", "b"]] * 4, dtype=object)}, TypeError, "numeric"),
    ],
)
def test_bad_input_gets_a_clear_error(kwargs: dict, error: type[Exception], match: str) -> None:
    args = {"X": _blobs(), "n_components": 3, **kwargs}
    with pytest.raises(error, match=match):
        gmm.fit_gmm(args.pop("X"), args.pop("n_components"), **args)


def test_step_functions_reject_bad_shapes() -> None:
    X = _blobs()
    w0, m0, c0 = _init(X, 3)
    with pytest.raises(ValueError, match="responsibilities must have shape"):
        gmm.m_step(X, np.ones((5, 3)) / 3)
    with pytest.raises(ValueError, match="sum to 1"):
        gmm.m_step(X, np.ones((len(X), 3)))
    with pytest.raises(ValueError, match="means must have shape"):
        gmm.e_step(X, w0, m0[:, :1], c0)
    with pytest.raises(ValueError, match="not positive definite"):
        gmm.e_step(X, w0, m0, -c0)
