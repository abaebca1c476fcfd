"""Plumbing under :mod:`helpers.data`: decoding IDX files and downloading files safely.

Notebook 00 mentions this layer: it is what makes "a checksum-verified download" true, and a
learner does not need to read it. It knows nothing about MNIST; :mod:`helpers.data` says which
files to fetch, from where, with which SHA-256, and where they may be stored.

- :func:`read_idx` decodes an IDX file (the MNIST format), gzip-compressed or raw;
  :func:`idx_length` reads only the header's first dimension.
- :func:`file_sha256` hashes a file in chunks.
- :func:`download_verified` fetches one file from a list of mirrors: https:// only (plain
  http:// for loopback hosts, which tests use), redirects followed only to URLs that pass the
  same check, a progress bar, a timeout, SHA-256 verification, and an atomic, fsynced write, so
  a partial or corrupt download never becomes a file at the destination.
- :func:`offline` says whether ``VAE_OFFLINE`` asks for no network access.

Errors: :class:`DataUnavailableError` (the base), :class:`DownloadError` (every mirror failed),
:class:`ChecksumError` (every mirror delivered the wrong bytes), :class:`IDXFormatError`.

Importing this module does no work: nothing touches the disk or the network until a function
is called.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import http.client
import ipaddress
import os
import urllib.error
import urllib.parse
import urllib.request
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from helpers import paths

__all__ = [
    "ChecksumError",
    "DataUnavailableError",
    "DownloadError",
    "IDXFormatError",
    "download_verified",
    "file_sha256",
    "idx_length",
    "offline",
    "read_idx",
]

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


def offline() -> bool:
    """True when ``$VAE_OFFLINE`` is set to anything but "", "0", "false", "no" or "off"."""
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


def idx_length(path: str | os.PathLike[str]) -> int:
    """First dimension (the number of items) of a gzip IDX file, reading only its header.

    Raises:
        IDXFormatError: the first 8 decompressed bytes are not an IDX header.
    """
    path = Path(path)
    with gzip.open(path, "rb") as handle:
        header = handle.read(8)
    if len(header) < 8 or header[:2] != b"\x00\x00" or header[3] == 0:
        raise IDXFormatError(f"IDX file {path.name!r}: expected an IDX header, got {header!r}")
    return int.from_bytes(header[4:8], "big")


# ---------------------------------------------------------------------------------------------
# Checksums and URL checks.


def _normalise_sha256(sha256: object) -> str:
    if not isinstance(sha256, str):
        raise TypeError(f"sha256 must be a hex string; got {type(sha256).__name__}")
    digest = sha256.strip().lower()
    if len(digest) != 64 or not set(digest) <= _HEX:
        raise ValueError(f"sha256 must be 64 hexadecimal characters; got {sha256!r}")
    return digest


def file_sha256(path: str | os.PathLike[str]) -> str:
    """SHA-256 of the file at ``path`` as 64 lowercase hex characters (read in 1 MiB chunks)."""
    hasher = hashlib.sha256()
    with Path(path).open("rb") as handle:
        while chunk := handle.read(_CHUNK_BYTES):
            hasher.update(chunk)
    return hasher.hexdigest()


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


# ---------------------------------------------------------------------------------------------
# Downloads.


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


def _fetch_one(url: str, destination: Path, expected: str, timeout: float, progress: bool) -> None:
    """Download ``url`` and verify it, through ``helpers.paths.atomic_write``: only a complete
    file with the expected SHA-256 is renamed onto ``destination``; on any failure
    (KeyboardInterrupt included) the temporary file is removed."""

    def write(out: Any) -> None:
        hasher = hashlib.sha256()
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
            raise _TransferFailed(f"the connection closed after {received:,} of {total:,} bytes")
        digest = hasher.hexdigest()
        if digest != expected:
            raise _ChecksumMismatch(
                f"SHA-256 mismatch: expected {expected}, got {digest} ({received:,} bytes)"
            )

    paths.atomic_write(destination, write)


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
    ``destination`` with ``os.replace`` (so an existing file there is replaced). A failed,
    short or corrupt transfer, or a KeyboardInterrupt, leaves no file behind (neither the temp
    file nor a partial destination). The caller decides where ``destination`` may be:
    :mod:`helpers.data` only ever passes a path in the series' own cache.

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
        OSError: the destination folder cannot be created or written.
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
    if offline() and not all(_is_loopback(p.hostname) for p in parsed):
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
