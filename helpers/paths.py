"""Where the series keeps files it makes: the data cache and model checkpoints.

Nothing here touches the disk at import time; the folders are created by the code that writes
into them.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

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


def cache_data_dir() -> Path:
    """The series' own data folder, ``cache_dir() / "data"``: where downloads go."""
    return cache_dir() / "data"


def data_dir() -> Path:
    """Folder holding ``mnist/`` and ``fashion-mnist/`` with the canonical gzip IDX files.

    ``$VAE_DATA_DIR`` if set, else ``cache_dir() / "data"``.
    """
    override = os.environ.get("VAE_DATA_DIR")
    if override:
        return Path(override).expanduser()
    return cache_data_dir()


def checkpoint_dir() -> Path:
    """Folder for model checkpoints written by one notebook and read by a later one."""
    return cache_dir() / "checkpoints"


def _fsync_directory(folder: Path) -> None:
    """Make a rename durable (best effort: not every platform can open a directory)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(destination: str | os.PathLike[str], write: Callable[[BinaryIO], None]) -> Path:
    """Write a file so that a reader sees the old file or the whole new one, never a part.

    ``write(handle)`` fills a temporary file in the destination's folder; the file is flushed,
    fsynced, given the permissions a new file gets under the current umask, and renamed onto
    ``destination`` (``os.replace``, atomic on one file system); then the folder is fsynced.
    If ``write`` raises (a failed check, a KeyboardInterrupt), the temporary file is removed and
    ``destination`` is untouched. A process killed outright can leave a ``.<name>.*.part`` file
    beside it, never a half-written ``destination``.

    Returns:
        ``destination`` as a Path.
    """
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(
        dir=destination.parent, prefix=f".{destination.name}.", suffix=".part"
    )
    temp_path = Path(temp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temp_path, 0o666 & ~umask)
        os.replace(temp_path, destination)
    except BaseException:
        temp_path.unlink(missing_ok=True)
        raise
    _fsync_directory(destination.parent)
    return destination
