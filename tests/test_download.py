"""Tests for helpers/download.py: IDX decoding, file digests and verified downloads.

No test touches the internet: downloads go to an http.server on 127.0.0.1 that the tests start,
every test runs with VAE_OFFLINE=1 (loopback URLs stay allowed), and every file lives under
tmp_path. Expected values come from independent references: IDX files are written byte by byte
here and digests come from hashlib.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import os
import struct
from pathlib import Path

import numpy as np
import pytest

from helpers import download
from tests.loopback import idx_bytes, leftovers, sha256_of

# ---------------------------------------------------------------------------------------------
# Fixtures and builders.


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Every test: a private cache folder, no data folder, offline (loopback still allowed)."""
    monkeypatch.setenv("VAE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("VAE_DATA_DIR", raising=False)
    monkeypatch.setenv("VAE_OFFLINE", "1")


# ---------------------------------------------------------------------------------------------
# IDX parsing.


@pytest.mark.parametrize("compress", [True, False], ids=["gzip", "raw"])
@pytest.mark.parametrize(
    "array",
    [
        np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4),
        np.array([7, 0, 255, 1], dtype=np.uint8),
        np.array([[-3, 1_000_000], [5, -70_000]], dtype=np.int32),
        np.array([[0.5, -1.25, 3.0]], dtype=np.float32),
    ],
    ids=["uint8-3d", "uint8-1d", "int32-2d", "float32-2d"],
)
def test_read_idx_decodes_files_and_bytes(
    tmp_path: Path, array: np.ndarray, compress: bool
) -> None:
    encoded = idx_bytes(array)
    if compress:
        encoded = gzip.compress(encoded)
    path = tmp_path / "file.idx"
    path.write_bytes(encoded)
    for source in (path, str(path), encoded):
        decoded = download.read_idx(source)
        assert decoded.shape == array.shape
        assert decoded.dtype == array.dtype  # native byte order, same kind and size
        np.testing.assert_array_equal(decoded, array)
        assert decoded.flags.writeable


def test_read_idx_rejects_bad_magic(tmp_path: Path) -> None:
    good = idx_bytes(np.zeros((2, 2), dtype=np.uint8))
    with pytest.raises(download.IDXFormatError, match=r"magic.*0x00 0x00.*got 0x50 0x4b"):
        download.read_idx(b"PK" + good[2:])
    path = tmp_path / "bad.gz"
    path.write_bytes(gzip.compress(b"\x01\x00" + good[2:]))
    with pytest.raises(ValueError, match=r"'bad.gz'.*magic"):
        download.read_idx(path)


def test_read_idx_rejects_unknown_type_code_and_short_header() -> None:
    with pytest.raises(download.IDXFormatError, match=r"type code .* got 0x07"):
        download.read_idx(b"\x00\x00\x07\x01" + struct.pack(">I", 1) + b"\x00")
    with pytest.raises(
        download.IDXFormatError, match=r"12-byte header for 2 dimension\(s\), got only 8"
    ):
        download.read_idx(b"\x00\x00\x08\x02" + struct.pack(">I", 3))
    with pytest.raises(download.IDXFormatError, match="at least one dimension"):
        download.read_idx(b"\x00\x00\x08\x00")


def test_read_idx_rejects_truncated_or_padded_payload(tmp_path: Path) -> None:
    header = b"\x00\x00\x08\x01" + struct.pack(">I", 5)
    with pytest.raises(
        download.IDXFormatError, match=r"shape \(5,\).*5 payload bytes.*3 payload bytes"
    ):
        download.read_idx(header + b"\x01\x02\x03")
    with pytest.raises(download.IDXFormatError, match=r"6 payload bytes arrived"):
        download.read_idx(header + bytes(6))
    # int32 images: 2*2 values need 16 bytes.
    header32 = b"\x00\x00\x0c\x02" + struct.pack(">2I", 2, 2)
    with pytest.raises(download.IDXFormatError, match=r"16 payload bytes.*15 payload bytes"):
        download.read_idx(header32 + bytes(15))
    # A gzip stream cut short is reported as such.
    full = gzip.compress(idx_bytes(np.arange(1000, dtype=np.int32)))
    path = tmp_path / "cut.gz"
    path.write_bytes(full[: len(full) // 2])
    with pytest.raises(download.IDXFormatError, match="gzip"):
        download.read_idx(path)


def test_read_idx_rejects_other_types() -> None:
    with pytest.raises(TypeError, match="path .* or bytes; got int"):
        download.read_idx(42)  # type: ignore[arg-type]


def test_idx_length_reads_only_the_header(tmp_path: Path) -> None:
    path = tmp_path / "labels.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.arange(37, dtype=np.uint8) % 10)))
    assert download.idx_length(path) == 37
    assert download.idx_length(str(path)) == 37
    # Only the header is read: a payload cut short does not matter here.
    images = gzip.compress(idx_bytes(np.zeros((12, 28, 28), dtype=np.uint8))[:100])
    path.write_bytes(images)
    assert download.idx_length(path) == 12
    path.write_bytes(gzip.compress(b"PK\x03\x04 not an IDX header"))
    with pytest.raises(download.IDXFormatError, match=r"'labels.gz'.*IDX header"):
        download.idx_length(path)


def test_file_sha256_matches_hashlib(tmp_path: Path) -> None:
    payload = os.urandom(3 * (1 << 20) + 17)  # more than one 1 MiB chunk
    path = tmp_path / "blob"
    path.write_bytes(payload)
    assert download.file_sha256(path) == sha256_of(payload)
    assert download.file_sha256(str(path)) == sha256_of(payload)
    (tmp_path / "empty").write_bytes(b"")
    assert download.file_sha256(tmp_path / "empty") == hashlib.sha256(b"").hexdigest()


@pytest.mark.parametrize(
    ("value", "expected"),
    [("1", True), ("yes", True), ("", False), ("0", False), ("false", False), (" Off ", False)],
)
def test_offline_reads_vae_offline(monkeypatch: pytest.MonkeyPatch, value: str, expected) -> None:
    monkeypatch.setenv("VAE_OFFLINE", value)
    assert download.offline() is expected
    monkeypatch.delenv("VAE_OFFLINE")
    assert download.offline() is False


# ---------------------------------------------------------------------------------------------
# Downloads (loopback server only).


def test_download_skips_a_refusing_mirror_and_verifies(tmp_path: Path, server) -> None:
    payload = os.urandom(300_000)
    server.files["file.gz"] = payload
    destination = tmp_path / "dl" / "file.gz"
    urls = [f"{server.base}/forbidden/file.gz", f"{server.base}/ok/file.gz"]

    used = download.download_verified(
        urls, destination, sha256_of(payload), timeout=5, progress=False
    )

    assert used == urls[1]
    assert destination.read_bytes() == payload
    assert leftovers(destination.parent) == ["file.gz"]  # no temp file left


def test_download_cut_mid_file_leaves_nothing(tmp_path: Path, server) -> None:
    payload = os.urandom(300_000)
    server.files["file.gz"] = payload
    destination = tmp_path / "dl" / "file.gz"
    with pytest.raises(download.DownloadError, match=r"closed after 150,000 of 300,000 bytes"):
        download.download_verified(
            [f"{server.base}/cut/file.gz"],
            destination,
            sha256_of(payload),
            timeout=5,
            progress=False,
        )
    assert leftovers(destination.parent) == []


def test_download_with_wrong_bytes_is_a_checksum_error(tmp_path: Path, server) -> None:
    payload = os.urandom(50_000)
    server.files["file.gz"] = payload
    destination = tmp_path / "dl" / "file.gz"
    with pytest.raises(download.ChecksumError, match=rf"expected {sha256_of(payload)}"):
        download.download_verified(
            [f"{server.base}/wrong/file.gz"], destination, sha256_of(payload), progress=False
        )
    assert leftovers(destination.parent) == []


def test_download_reports_every_failed_mirror(tmp_path: Path, server) -> None:
    payload = b"x" * 1000
    server.files["file.gz"] = payload
    urls = [f"{server.base}/forbidden/file.gz", f"{server.base}/slow/file.gz"]
    with pytest.raises(download.DownloadError) as caught:
        download.download_verified(
            urls, tmp_path / "file.gz", sha256_of(payload), timeout=0.5, progress=False
        )
    message = str(caught.value)
    assert "HTTP 403" in message and "timed out" in message
    assert not isinstance(caught.value, download.ChecksumError)
    assert leftovers(tmp_path) == []


def test_download_follows_redirects_but_never_to_insecure_urls(tmp_path: Path, server) -> None:
    payload = os.urandom(10_000)
    server.files["file.gz"] = payload
    destination = tmp_path / "file.gz"
    with pytest.raises(download.DownloadError, match="refused redirect to an insecure URL"):
        download.download_verified(
            [f"{server.base}/redirect-insecure/file.gz"],
            destination,
            sha256_of(payload),
            progress=False,
        )
    assert leftovers(tmp_path) == []
    used = download.download_verified(
        [f"{server.base}/redirect/file.gz"], destination, sha256_of(payload), progress=False
    )
    assert used.endswith("/redirect/file.gz") and destination.read_bytes() == payload


def test_download_interrupted_leaves_nothing(
    tmp_path: Path, server, monkeypatch: pytest.MonkeyPatch
) -> None:
    payload = os.urandom(100_000)
    server.files["file.gz"] = payload

    class InterruptingBar:
        def update(self, n: int) -> None:
            raise KeyboardInterrupt

    def fake_bar(total, description, enabled):
        return contextlib.nullcontext(InterruptingBar())

    monkeypatch.setattr(download, "_progress_bar", fake_bar)
    destination = tmp_path / "dl" / "file.gz"
    with pytest.raises(KeyboardInterrupt):
        download.download_verified(
            [f"{server.base}/ok/file.gz", f"{server.base}/ok/file.gz"],
            destination,
            sha256_of(payload),
        )
    assert leftovers(destination.parent) == []


@pytest.mark.parametrize(
    "url",
    ["http://example.com/mnist/file.gz", "ftp://127.0.0.1/file.gz", "file:///etc/hostname"],
)
def test_download_allows_plain_http_only_for_loopback(tmp_path: Path, url: str) -> None:
    with pytest.raises(ValueError, match="https://"):
        download.download_verified([url], tmp_path / "f", "0" * 64)
    assert leftovers(tmp_path) == []


def test_download_checks_its_arguments(tmp_path: Path) -> None:
    url = "http://127.0.0.1:9/f"
    with pytest.raises(ValueError, match="at least one URL"):
        download.download_verified([], tmp_path / "f", "0" * 64)
    with pytest.raises(TypeError, match="list of URL strings"):
        download.download_verified(url, tmp_path / "f", "0" * 64)
    with pytest.raises(ValueError, match="64 hexadecimal"):
        download.download_verified([url], tmp_path / "f", "abc")
    with pytest.raises(ValueError, match="timeout"):
        download.download_verified([url], tmp_path / "f", "0" * 64, timeout=0)


def test_offline_mode_refuses_internet_urls(tmp_path: Path) -> None:
    with pytest.raises(download.DataUnavailableError, match="VAE_OFFLINE=1"):
        download.download_verified(["https://example.com/file.gz"], tmp_path / "file.gz", "0" * 64)
    assert leftovers(tmp_path) == []
