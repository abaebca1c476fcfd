"""Gaussian mixture models fitted by expectation-maximization, in NumPy.

Notebook 03 derives every function here: the E-step
computes the exact posterior Q_i(z^(i)) = p(z^(i) | x^(i); ψ) in log space, the M-step
maximizes Σ_i ELBO(x^(i); Q_i, ψ) in closed form, and ``fit_gmm`` alternates the two.

Shapes: N data points, D features, K components. Parameters ψ are
``weights`` (K,) summing to one, ``means`` (K, D) and ``covariances`` (K, D, D), each
symmetric positive definite. Log-likelihoods are in nats.

The conventions follow scikit-learn's ``GaussianMixture(covariance_type="full")`` so the two
can be compared iteration by iteration: ``reg_covar`` is added to the diagonal of every
covariance in the M-step (never to initial values), and component counts get a floor of
``10 * machine epsilon`` so a component whose responsibilities vanish does not divide by zero.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "GMMFit",
    "e_step",
    "elbo",
    "fit_gmm",
    "log_gaussian_densities",
    "log_likelihood",
    "m_step",
    "sample_gmm",
]

_LOG_2PI = float(np.log(2.0 * np.pi))


@dataclass(frozen=True)
class GMMFit:
    """Result of :func:`fit_gmm`.

    Attributes:
        weights: (K,) mixing proportions p(z = j).
        means: (K, D) component means.
        covariances: (K, D, D) component covariances.
        log_likelihood: (n_iter,) mean per-sample log-likelihood in nats of the parameters
            after each iteration (entry t is after t + 1 E/M iterations); the same quantity as
            scikit-learn's ``GaussianMixture.score``.
        initial_log_likelihood: mean per-sample log-likelihood in nats before the first
            iteration.
        n_iter: number of iterations run.
        converged: True when the last gain was below ``tol`` (always False for ``tol=0``).
    """

    weights: np.ndarray
    means: np.ndarray
    covariances: np.ndarray
    log_likelihood: np.ndarray
    initial_log_likelihood: float
    n_iter: int
    converged: bool


# ---------------------------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------------------------


def _check_data(X: np.ndarray, name: str = "X") -> np.ndarray:
    if isinstance(X, np.ndarray) and X.dtype == object:
        raise TypeError(f"{name} must be a numeric array, got dtype object")
    try:
        arr = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a numeric array of shape (N, D); {exc}") from exc
    if arr.ndim != 2:
        raise ValueError(f"{name} must have shape (N, D) (2 dimensions), got shape {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{name} must have at least one row and one column, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise ValueError(f"{name} contains {bad} NaN or infinite values; clean the data first")
    return arr


def _check_params(
    weights: np.ndarray, means: np.ndarray, covariances: np.ndarray, n_features: int | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    w = np.asarray(weights, dtype=np.float64)
    mu = np.asarray(means, dtype=np.float64)
    cov = np.asarray(covariances, dtype=np.float64)
    if w.ndim != 1:
        raise ValueError(f"weights must have shape (K,), got shape {w.shape}")
    k = w.shape[0]
    if mu.ndim != 2 or mu.shape[0] != k or (n_features is not None and mu.shape[1] != n_features):
        expected_d = "D" if n_features is None else str(n_features)
        raise ValueError(
            f"means must have shape (K, D) = ({k}, {expected_d}) to match weights (K,) and the "
            f"data, got shape {mu.shape}"
        )
    d = mu.shape[1]
    if cov.shape != (k, d, d):
        raise ValueError(
            f"covariances must have shape (K, D, D) = ({k}, {d}, {d}), got shape {cov.shape}"
        )
    for name, arr in (("weights", w), ("means", mu), ("covariances", cov)):
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{name} contains NaN or infinite values")
    if np.any(w < 0) or abs(w.sum() - 1.0) > 1e-6:
        raise ValueError(
            f"weights must be non-negative and sum to 1 (within 1e-6), got sum {w.sum():.8g} "
            f"and minimum {w.min():.3g}"
        )
    if not np.allclose(cov, np.swapaxes(cov, 1, 2), rtol=1e-8, atol=1e-10):
        raise ValueError("covariances must be symmetric matrices")
    return w, mu, cov


def _cholesky(covariances: np.ndarray) -> np.ndarray:
    """Lower Cholesky factors (K, D, D); a clear error names the first non-PD component."""
    try:
        return np.linalg.cholesky(covariances)
    except np.linalg.LinAlgError:
        for j, c in enumerate(covariances):
            try:
                np.linalg.cholesky(c)
            except np.linalg.LinAlgError:
                smallest = float(np.linalg.eigvalsh((c + c.T) / 2).min())
                raise ValueError(
                    f"covariance of component {j} is not positive definite (smallest "
                    f"eigenvalue {smallest:.3g}); increase reg_covar or fix the initial "
                    "covariances"
                ) from None
        raise


# ---------------------------------------------------------------------------------------------
# Densities, E-step, M-step
# ---------------------------------------------------------------------------------------------


def log_gaussian_densities(X: np.ndarray, means: np.ndarray, covariances: np.ndarray) -> np.ndarray:
    """log N(x^(i); μ_j, Σ_j) for every point and component (notebook 03, section 4).

    Uses the Cholesky factor L_j of Σ_j: the Mahalanobis term is ||L_j^{-1}(x − μ_j)||² and
    log det Σ_j = 2 Σ log diag(L_j), so no matrix is ever inverted.

    Args:
        X: (N, D) data.
        means: (K, D).
        covariances: (K, D, D), positive definite.

    Returns:
        (N, K) log densities in nats.
    """
    X = _check_data(X)
    mu = np.asarray(means, dtype=np.float64)
    cov = np.asarray(covariances, dtype=np.float64)
    if (
        mu.ndim != 2
        or mu.shape[1] != X.shape[1]
        or cov.shape != (mu.shape[0], X.shape[1], X.shape[1])
    ):
        raise ValueError(
            f"expected means (K, {X.shape[1]}) and covariances (K, {X.shape[1]}, {X.shape[1]}), "
            f"got {mu.shape} and {cov.shape}"
        )
    chol = _cholesky(cov)  # (K, D, D)
    diff = X[None, :, :] - mu[:, None, :]  # (K, N, D)
    # Solve L_j y = (x - μ_j)^T for all j at once: (K, D, N).
    solved = np.linalg.solve(chol, np.swapaxes(diff, 1, 2))
    mahalanobis = np.sum(solved**2, axis=1)  # (K, N)
    log_det = 2.0 * np.sum(np.log(np.diagonal(chol, axis1=1, axis2=2)), axis=1)  # (K,)
    d = X.shape[1]
    return (-0.5 * (d * _LOG_2PI + log_det[:, None] + mahalanobis)).T


def _logsumexp(a: np.ndarray, axis: int) -> np.ndarray:
    """log Σ exp(a) along ``axis``, shifted by the maximum so nothing overflows."""
    a_max = np.max(a, axis=axis, keepdims=True)
    a_max = np.where(np.isfinite(a_max), a_max, 0.0)
    out = np.log(np.sum(np.exp(a - a_max), axis=axis, keepdims=True)) + a_max
    return np.squeeze(out, axis=axis)


def e_step(
    X: np.ndarray, weights: np.ndarray, means: np.ndarray, covariances: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """E-step: the exact posterior over components, in log space (notebook 03, section 4).

    Q_i(z^(i) = j) = p(z^(i) = j | x^(i); ψ) = π_j N(x^(i); μ_j, Σ_j) / p(x^(i); ψ), with
    log p(x^(i); ψ) = logsumexp_j [log π_j + log N(x^(i); μ_j, Σ_j)].

    Args:
        X: (N, D) data.
        weights: (K,), means: (K, D), covariances: (K, D, D).

    Returns:
        log_responsibilities: (N, K), log Q_i(z^(i) = j); each row's exp sums to one.
        log_px: (N,) log p(x^(i); ψ) in nats.
    """
    X = _check_data(X)
    w, mu, cov = _check_params(weights, means, covariances, X.shape[1])
    with np.errstate(divide="ignore"):
        log_w = np.log(w)
    log_joint = log_gaussian_densities(X, mu, cov) + log_w[None, :]  # (N, K) log p(x, z=j)
    log_px = _logsumexp(log_joint, axis=1)  # (N,)
    return log_joint - log_px[:, None], log_px


def m_step(
    X: np.ndarray, responsibilities: np.ndarray, reg_covar: float = 1e-6
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """M-step: closed-form argmax_ψ Σ_i ELBO(x^(i); Q_i, ψ) (notebook 03, section 4).

    With N_j = Σ_i Q_i(j): π_j = N_j / N, μ_j = Σ_i Q_i(j) x^(i) / N_j,
    Σ_j = Σ_i Q_i(j) (x^(i) − μ_j)(x^(i) − μ_j)^T / N_j + reg_covar · I.
    N_j gets a floor of 10·eps so a component with vanishing responsibilities keeps finite
    parameters (its covariance is then reg_covar · I, still positive definite).

    Args:
        X: (N, D) data.
        responsibilities: (N, K) Q_i(z^(i) = j), rows summing to one.
        reg_covar: non-negative number added to every covariance diagonal.

    Returns:
        weights (K,), means (K, D), covariances (K, D, D).
    """
    X = _check_data(X)
    resp = np.asarray(responsibilities, dtype=np.float64)
    if resp.ndim != 2 or resp.shape[0] != X.shape[0]:
        raise ValueError(
            f"responsibilities must have shape (N, K) with N = {X.shape[0]}, got {resp.shape}"
        )
    if not np.all(np.isfinite(resp)) or np.any(resp < 0):
        raise ValueError("responsibilities must be finite and non-negative")
    if not np.allclose(resp.sum(axis=1), 1.0, atol=1e-6):
        raise ValueError("each row of responsibilities must sum to 1 (within 1e-6)")
    _check_reg_covar(reg_covar)
    counts = resp.sum(axis=0) + 10 * np.finfo(np.float64).eps  # (K,)
    means = resp.T @ X / counts[:, None]  # (K, D)
    diff = X[None, :, :] - means[:, None, :]  # (K, N, D)
    weighted = diff * resp.T[:, :, None]  # (K, N, D): Q_i(j) (x^(i) - μ_j)
    covariances = np.swapaxes(weighted, 1, 2) @ diff / counts[:, None, None]  # (K, D, D)
    d = X.shape[1]
    covariances[:, np.arange(d), np.arange(d)] += reg_covar
    weights = counts / counts.sum()
    return weights, means, covariances


def log_likelihood(
    X: np.ndarray, weights: np.ndarray, means: np.ndarray, covariances: np.ndarray
) -> float:
    """Mean per-sample log-likelihood (1/N) Σ_i log p(x^(i); ψ) in nats."""
    return float(np.mean(e_step(X, weights, means, covariances)[1]))


def elbo(
    X: np.ndarray,
    responsibilities: np.ndarray,
    weights: np.ndarray,
    means: np.ndarray,
    covariances: np.ndarray,
) -> np.ndarray:
    """ELBO(x^(i); Q_i, ψ) = Σ_j Q_i(j) [log p(x^(i), z = j; ψ) − log Q_i(j)] (notebook 03, §3).

    Any distribution Q over components is allowed; terms with Q_i(j) = 0 contribute 0
    (0 log 0 = 0). Equals log p(x^(i); ψ) exactly when Q_i is the posterior.

    Args:
        X: (N, D); responsibilities: (N, K) rows summing to one; ψ as in :func:`e_step`.

    Returns:
        (N,) ELBO per data point in nats.
    """
    X = _check_data(X)
    w, mu, cov = _check_params(weights, means, covariances, X.shape[1])
    q = np.asarray(responsibilities, dtype=np.float64)
    if q.shape != (X.shape[0], w.shape[0]):
        raise ValueError(
            f"responsibilities must have shape {(X.shape[0], w.shape[0])}, got {q.shape}"
        )
    with np.errstate(divide="ignore"):
        log_joint = log_gaussian_densities(X, mu, cov) + np.log(w)[None, :]
        log_q = np.log(q)
    terms = np.where(q > 0, q * (log_joint - np.where(q > 0, log_q, 0.0)), 0.0)
    return terms.sum(axis=1)


def sample_gmm(
    n_samples: int,
    weights: np.ndarray,
    means: np.ndarray,
    covariances: np.ndarray,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """The generative story: z^(i) ~ Categorical(π), x^(i) | z^(i) = j ~ N(μ_j, Σ_j) (notebook 03, §1).

    Returns:
        x: (n_samples, D) samples; z: (n_samples,) int64 component of each sample.
    """
    if not isinstance(n_samples, int | np.integer) or n_samples < 1:
        raise ValueError(f"n_samples must be a positive integer, got {n_samples!r}")
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    w, mu, cov = _check_params(weights, means, covariances, None)
    chol = _cholesky(cov)
    z = rng.choice(w.shape[0], size=int(n_samples), p=w).astype(np.int64)
    eps = rng.standard_normal((int(n_samples), mu.shape[1]))
    x = mu[z] + np.einsum("nij,nj->ni", chol[z], eps)
    return x, z


# ---------------------------------------------------------------------------------------------
# The EM loop
# ---------------------------------------------------------------------------------------------


def _check_reg_covar(reg_covar: float) -> None:
    if (
        not isinstance(reg_covar, int | float | np.floating)
        or not np.isfinite(reg_covar)
        or reg_covar < 0
    ):
        raise ValueError(f"reg_covar must be a finite number >= 0, got {reg_covar!r}")


def _default_init(
    X: np.ndarray, n_components: int, reg_covar: float, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """K distinct data points as means, the data covariance for every component, equal weights."""
    rng = np.random.default_rng(seed)
    idx = rng.choice(X.shape[0], size=n_components, replace=False)
    means = X[idx].copy()
    d = X.shape[1]
    data_cov = np.atleast_2d(np.cov(X, rowvar=False, bias=True)) + max(reg_covar, 1e-6) * np.eye(d)
    covariances = np.repeat(data_cov[None], n_components, axis=0)
    weights = np.full(n_components, 1.0 / n_components)
    return weights, means, covariances


def fit_gmm(
    X: np.ndarray,
    n_components: int,
    *,
    init_means: np.ndarray | None = None,
    init_covariances: np.ndarray | None = None,
    init_weights: np.ndarray | None = None,
    max_iter: int = 100,
    tol: float = 1e-6,
    reg_covar: float = 1e-6,
    seed: int = 0,
) -> GMMFit:
    """Fit a full-covariance Gaussian mixture by EM (notebook 03, section 5).

    Each iteration is one E-step on the current parameters followed by one M-step; the
    log-likelihood of the new parameters is recorded after it. Iteration stops when the gain
    in mean log-likelihood is below ``tol`` nats per sample; ``tol=0`` runs exactly
    ``max_iter`` iterations.

    Args:
        X: (N, D) data with N >= n_components.
        n_components: K >= 1.
        init_means: optional (K, D); missing values are initialized from ``seed``:
            K distinct data points as means, the data covariance (+ reg_covar) for every
            component, equal weights.
        init_covariances: optional (K, D, D), symmetric positive definite (used as given).
        init_weights: optional (K,), non-negative, summing to one.
        max_iter: maximum number of iterations (>= 1).
        tol: stopping threshold on the per-iteration gain (>= 0).
        reg_covar: added to covariance diagonals in every M-step (>= 0).
        seed: seed of the default initialization.

    Returns:
        A :class:`GMMFit`.
    """
    X = _check_data(X)
    if (
        isinstance(n_components, bool)
        or not isinstance(n_components, int | np.integer)
        or n_components < 1
    ):
        raise ValueError(f"n_components must be a positive integer, got {n_components!r}")
    n_components = int(n_components)
    if X.shape[0] < n_components:
        raise ValueError(
            f"need at least as many data points as components: got {X.shape[0]} points for "
            f"{n_components} components"
        )
    if isinstance(max_iter, bool) or not isinstance(max_iter, int | np.integer) or max_iter < 1:
        raise ValueError(f"max_iter must be a positive integer, got {max_iter!r}")
    if not isinstance(tol, int | float | np.floating) or not np.isfinite(tol) or tol < 0:
        raise ValueError(f"tol must be a finite number >= 0, got {tol!r}")
    _check_reg_covar(reg_covar)

    weights, means, covariances = _default_init(X, n_components, float(reg_covar), seed)
    if init_weights is not None:
        weights = init_weights
    if init_means is not None:
        means = init_means
    if init_covariances is not None:
        covariances = init_covariances
    for name, given, shape in (
        ("init_weights", init_weights, (n_components,)),
        ("init_means", init_means, (n_components, X.shape[1])),
        ("init_covariances", init_covariances, (n_components, X.shape[1], X.shape[1])),
    ):
        if given is not None and np.shape(given) != shape:
            raise ValueError(f"{name} must have shape {shape}, got {np.shape(given)}")
    weights, means, covariances = _check_params(weights, means, covariances, X.shape[1])
    _cholesky(covariances)  # clear error for a non-positive-definite initial covariance

    log_resp, log_px = e_step(X, weights, means, covariances)
    initial = float(np.mean(log_px))
    history: list[float] = []
    previous = initial
    converged = False
    for _ in range(int(max_iter)):
        weights, means, covariances = m_step(X, np.exp(log_resp), reg_covar)
        log_resp, log_px = e_step(X, weights, means, covariances)
        current = float(np.mean(log_px))
        history.append(current)
        if tol > 0 and current - previous < tol:
            converged = True
            break
        previous = current
    return GMMFit(
        weights=weights,
        means=means,
        covariances=covariances,
        log_likelihood=np.asarray(history),
        initial_log_likelihood=initial,
        n_iter=len(history),
        converged=converged,
    )
