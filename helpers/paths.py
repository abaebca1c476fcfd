"""Where the series keeps files it makes: the data cache and model checkpoints.

Nothing here touches the disk at import time; the folders are created by the code that writes
into them.
"""

from __future__ import annotations

import os
from pathlib import Path

APP_NAME = "vae-series"


def cache_dir() -> Path:
    """Root folder for downloads and checkpoints.

    ``$VAE_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/vae-series``, else ``~/.cache/vae-series``.
    """
    override = os.environ.get("VAE_CACHE_DIR")
    if override:
        return Path(override).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / APP_NAME


def data_dir() -> Path:
    """Folder holding ``mnist/`` and ``fashion-mnist/`` with the canonical gzip IDX files.

    ``$VAE_DATA_DIR`` if set, else ``cache_dir() / "data"``.
    """
    override = os.environ.get("VAE_DATA_DIR")
    if override:
        return Path(override).expanduser()
    return cache_dir() / "data"


def checkpoint_dir() -> Path:
    """Folder for model checkpoints written by one notebook and read by a later one."""
    return cache_dir() / "checkpoints"
