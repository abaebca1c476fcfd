"""The first code cell of every notebook: seeds, device, plotting style, one status line.

Notebook 00 explains why every run repeats exactly: the same seeds, the same library versions
(pinned in ``pyproject.toml``), and the same order of random draws.
"""

from __future__ import annotations

import os
import platform
import random
from dataclasses import dataclass

import numpy as np
import torch

from helpers import _checks
from helpers.data import ensure_mnist
from helpers.plotting import use_series_style


@dataclass(frozen=True)
class SetupInfo:
    """What :func:`setup_notebook` chose.

    Attributes:
        seed: the seed given to Python, NumPy and torch.
        device: where models should live: CUDA, Apple MPS, else the CPU.
        data_source: where MNIST comes from in this run (None when data was not checked).
        versions: library name -> version string.
    """

    seed: int
    device: torch.device
    data_source: str | None
    versions: dict[str, str]


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, NumPy's global generator and torch (CPU and CUDA).

    Notebooks call it again before any cell whose randomness should not depend on the cells
    above it.
    """
    seed = _checks.non_negative_int(seed, "seed")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def choose_device(prefer: str | None = None) -> torch.device:
    """CUDA when present, else Apple's MPS, else the CPU; ``$VAE_DEVICE`` or ``prefer`` overrides.

    No notebook requires a GPU; each runs in minutes on a laptop CPU.
    """
    wanted = prefer or os.environ.get("VAE_DEVICE")
    if wanted:
        device = torch.device(wanted)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"device {wanted!r} was asked for, but torch sees no CUDA device")
        if device.type == "mps" and not torch.backends.mps.is_available():
            raise ValueError(f"device {wanted!r} was asked for, but MPS is not available")
        return device
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def library_versions() -> dict[str, str]:
    """Versions of the libraries whose numbers end up in the notebooks' outputs."""
    import matplotlib

    versions = {
        "python": platform.python_version(),
        "torch": torch.__version__.split("+")[0],
        "numpy": np.__version__,
        "matplotlib": matplotlib.__version__,
    }
    try:
        import ipywidgets

        versions["ipywidgets"] = ipywidgets.__version__
    except ImportError:
        pass
    return versions


def setup_notebook(seed: int = 0, *, data: bool = True, device: str | None = None) -> SetupInfo:
    """Seed everything, pick the device, set the series' plotting style and print one line.

    It also makes the CPU flush denormal floats (magnitudes below about 1e-38 in float32) to
    zero (``torch.set_flush_denormal``). Late in training, Adam's running averages hold many such
    tiny numbers and CPU arithmetic on them is slow: training ``helpers.recipes.VAE_32D`` measured
    epochs growing from 2.0 to 2.8 s without it, and the same final loss to every printed digit
    with it.

    Args:
        seed: seed for Python, NumPy and torch.
        data: also make sure MNIST is available (folder, download, or the offline subset)
            and report where it comes from.
        device: force a device ("cpu", "cuda", ...); default: :func:`choose_device`.

    Returns:
        A :class:`SetupInfo` with the seed, the device, the data source and versions.
    """
    seed_everything(seed)
    torch.set_flush_denormal(True)  # returns False (and changes nothing) on CPUs without support
    chosen = choose_device(device)
    use_series_style()
    source = None
    if data:
        source = ensure_mnist("mnist")
    versions = library_versions()
    parts = [" ".join(f"{name} {version}" for name, version in versions.items())]
    parts.append(f"device {chosen.type} ({torch.get_num_threads()} CPU threads)")
    if source is not None:
        parts.append(f"data: {source}")
    print(" | ".join(parts))
    return SetupInfo(seed=seed, device=chosen, data_source=source, versions=versions)
