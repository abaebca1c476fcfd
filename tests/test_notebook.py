"""Tests of helpers.notebook: seeding repeats draws, the device choice, the status line."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from helpers.notebook import choose_device, seed_everything, setup_notebook


def draws():
    return random.random(), float(np.random.rand()), float(torch.rand(()))


def test_seed_everything_repeats_all_three_generators():
    seed_everything(123)
    first = draws()
    seed_everything(123)
    assert draws() == first
    seed_everything(124)
    assert draws() != first


@pytest.mark.parametrize("bad", [-1, 1.5, "0", True])
def test_seed_must_be_a_non_negative_int(bad):
    with pytest.raises(ValueError, match="seed"):
        seed_everything(bad)


def test_choose_device_defaults_to_what_torch_has(monkeypatch):
    monkeypatch.delenv("VAE_DEVICE", raising=False)
    expected = "cuda" if torch.cuda.is_available() else ("mps" if torch.backends.mps.is_available() else "cpu")
    assert choose_device().type == expected
    assert choose_device("cpu") == torch.device("cpu")


def test_choose_device_refuses_a_missing_gpu(monkeypatch):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(ValueError, match="no CUDA"):
        choose_device("cuda")
    monkeypatch.setenv("VAE_DEVICE", "cuda")
    with pytest.raises(ValueError, match="no CUDA"):
        choose_device()


def test_setup_notebook_prints_one_line_with_versions_and_data_source(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("VAE_OFFLINE", "1")
    monkeypatch.setenv("VAE_DATA_DIR", str(tmp_path / "empty"))
    monkeypatch.setenv("VAE_CACHE_DIR", str(tmp_path / "cache"))
    info = setup_notebook(seed=5)
    lines = [line for line in capsys.readouterr().out.splitlines() if line.strip()]
    status = lines[-1]
    assert f"torch {torch.__version__.split('+')[0]}" in status
    assert f"numpy {np.__version__}" in status
    assert "device cpu" in status or "device cuda" in status or "device mps" in status
    assert "data:" in status and info.data_source in status
    assert info.seed == 5
    # the seed was applied: the next draw equals a fresh generator seeded with 5
    assert float(torch.rand(())) == float(torch.rand((), generator=torch.Generator().manual_seed(5)))


def test_setup_notebook_flushes_denormal_floats(monkeypatch, tmp_path):
    monkeypatch.setenv("VAE_OFFLINE", "1")
    monkeypatch.setenv("VAE_CACHE_DIR", str(tmp_path / "cache"))
    tiny = torch.tensor([1e-30], dtype=torch.float32)
    try:
        torch.set_flush_denormal(False)
        assert (tiny * 1e-10).item() > 0  # 1e-40 is representable as a denormal float32
        setup_notebook(seed=0, data=False)
        if torch.set_flush_denormal(True):  # this CPU supports flushing
            assert (tiny * 1e-10).item() == 0.0
            assert (tiny * 1e-5).item() == pytest.approx(1e-35)  # normal numbers are untouched
    finally:
        torch.set_flush_denormal(False)
