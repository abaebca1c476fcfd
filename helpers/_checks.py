"""Argument checks shared by every module of ``helpers`` (private: not part of the series' API).

One family, one argument order: ``check(value, name, ...)`` returns the checked value (converted
where that is the point of the check) or raises ``TypeError`` / ``ValueError`` with a message that
names the argument, what was expected and what arrived.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor


def _is_int(value: Any) -> bool:
    return not isinstance(value, bool | np.bool_) and isinstance(value, int | np.integer)


def positive_int(value: Any, name: str) -> int:
    """``int(value)`` when it is an integer ≥ 1 (Python or NumPy; ``bool`` is not an int here)."""
    if not _is_int(value) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def non_negative_int(value: Any, name: str) -> int:
    """``int(value)`` when it is an integer ≥ 0 (Python or NumPy; not ``bool``)."""
    if not _is_int(value) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    return int(value)


def positive_number(value: Any, name: str) -> float:
    """``float(value)`` when it is a finite real number > 0 (not ``bool``)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    if value <= 0:
        raise ValueError(f"{name} must be positive, got {value!r}")
    return float(value)


def number_in(value: Any, name: str, low: float, high: float, *, high_open: bool = False) -> float:
    """``float(value)`` when it is a real number in [low, high] (or [low, high) with high_open)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    inside = low <= value < high if high_open else low <= value <= high
    if not inside:
        bracket = ")" if high_open else "]"
        raise ValueError(f"{name} must lie in [{low:g}, {high:g}{bracket}, got {value!r}")
    return float(value)


def choice(value: Any, name: str, allowed: Sequence[Any]) -> Any:
    """``value`` when it is one of ``allowed``."""
    if value not in allowed or (isinstance(value, bool) and not any(a is value for a in allowed)):
        choices = ", ".join(repr(a) for a in allowed)
        raise ValueError(f"{name} must be one of {choices}; got {value!r}")
    return value


def widths(value: Any, name: str) -> tuple[int, ...]:
    """A sequence of positive layer widths such as ``(256, 64)``, as a tuple (may be empty)."""
    if isinstance(value, int | str) or not isinstance(value, Sequence):
        raise TypeError(f"{name} must be a sequence of layer widths like (256, 64), got {value!r}")
    return tuple(positive_int(width, f"each entry of {name}") for width in value)


def float_tensor(value: Any, name: str) -> Tensor:
    """``value`` when it is a floating-point ``torch.Tensor``."""
    if not isinstance(value, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(value).__name__}")
    if not value.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {value.dtype}")
    return value


def probabilities(value: Any, name: str) -> Tensor:
    """``value`` when it is a floating-point tensor with every entry in [0, 1] (no NaN)."""
    if not isinstance(value, Tensor):
        raise TypeError(
            f"{name} must be a torch.Tensor of pixel intensities; got {type(value).__name__}"
        )
    if not value.is_floating_point():
        raise TypeError(
            f"{name} must be a floating-point tensor with values in [0, 1]; got dtype {value.dtype}"
        )
    if value.numel():
        low, high = torch.aminmax(value)
        low, high = float(low), float(high)
        if low != low or high != high:  # NaN propagates through min and max
            raise ValueError(f"{name} must have values in [0, 1]; it contains NaN")
        if low < 0.0 or high > 1.0:
            raise ValueError(f"{name} must have values in [0, 1]; got values from {low} to {high}")
    return value


def mu_logvar(mu: Any, logvar: Any) -> tuple[Tensor, Tensor]:
    """The parameters of a diagonal Gaussian: two float tensors of one shape (..., k), k ≥ 1."""
    mu = float_tensor(mu, "mu")
    logvar = float_tensor(logvar, "logvar")
    if mu.shape != logvar.shape:
        raise ValueError(
            f"mu and logvar must have the same shape, got {tuple(mu.shape)} and {tuple(logvar.shape)}"
        )
    if mu.dim() < 1:
        raise ValueError("mu and logvar need at least one dimension (the latent size k)")
    return mu, logvar
