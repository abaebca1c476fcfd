"""Tests of helpers.notebook (seeding, the device choice, the status line), and of the map of the
series in notebook 00 against every notebook's own Prerequisites line."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

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


# ---------------------------------------------------------------------------------------------
# The map of the series (notebook 00) against each notebook's own "Prerequisites" line.

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOK_NUMBER = re.compile(r"(?<![\d.,])(0\d)(?![\d,])")


def _markdown_cells(path: Path) -> list[str]:
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return ["".join(c["source"]) for c in cells if c["cell_type"] == "markdown"]


def _map_of_the_series() -> dict[str, set[str]]:
    """{notebook number: its direct prerequisites}, from the table in 00's "Map of the series"."""
    (section,) = [m for m in _markdown_cells(NOTEBOOK_DIR / "00_start_here.ipynb") if "Map of the series" in m]
    needs = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and re.fullmatch(r"0\d", cells[0]):
            needs[cells[0]] = set(re.findall(r"0\d", cells[3]))
    return needs


def _stated_prerequisites(path: Path) -> set[str]:
    """Notebook numbers named in the first sentence of the notebook's **Prerequisites** line."""
    first = _markdown_cells(path)[0]
    match = re.search(r"\*\*Prerequisites:?\*\*:?(.*?)(?:\.\s+(?=[A-Z*])|\n\s*\n|$)", first, re.S)
    assert match, f"{path.name}: no **Prerequisites** line in the first cell"
    return set(NOTEBOOK_NUMBER.findall(match.group(1)))


def test_the_map_lists_every_notebook():
    numbers = sorted(p.name[:2] for p in NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))
    assert sorted(_map_of_the_series()) == numbers


@pytest.mark.parametrize(
    "path", sorted(NOTEBOOK_DIR.glob("0[1-9]_*.ipynb")), ids=lambda p: p.name
)
def test_prerequisites_line_agrees_with_the_map_in_00(path):
    assert _stated_prerequisites(path) == _map_of_the_series()[path.name[:2]], (
        f"{path.name}: its Prerequisites line names {sorted(_stated_prerequisites(path))}, "
        f"00's map says {sorted(_map_of_the_series()[path.name[:2]])}"
    )


def test_the_prerequisites_parser_reads_both_formats():
    # a check of the parser itself, on the two formats the series uses
    assert NOTEBOOK_NUMBER.findall("notebook 03 (EM, 1,000 points) and [04 · X](04_x.ipynb).") == ["03", "04", "04"]
    assert NOTEBOOK_NUMBER.findall("$\\mathcal N(0, I_k)$, 10,000 images, 0.05 nats") == []
