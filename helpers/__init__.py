"""Shared helpers for the notebook series "The variational autoencoder from first principles".

Each module is named by what it holds; each function's docstring names the notebook that
explains the idea. Importing the package does no work: submodules load when first used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_SUBMODULES = ("data", "gmm", "models", "notebook", "paths", "plotting", "training", "vae", "widgets")

__all__ = ["setup_notebook", *_SUBMODULES]

if TYPE_CHECKING:  # pragma: no cover
    from helpers.notebook import setup_notebook


def __getattr__(name: str) -> Any:
    if name == "setup_notebook":
        from helpers.notebook import setup_notebook

        return setup_notebook
    if name in _SUBMODULES:
        return importlib.import_module(f"helpers.{name}")
    raise AttributeError(f"module 'helpers' has no attribute {name!r}")
