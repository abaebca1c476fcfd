"""Smoke tests of bench/: every benchmark script runs with tiny budgets and writes its tables.

Benchmarks are not timed tests (nothing here fails on a slow machine); these tests keep the
scripts from rotting and check the few pieces of arithmetic the report relies on against
independent references (NumPy, closed forms, torch's own losses).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.nn import functional as F

# bench/ is a folder of scripts beside helpers/, not part of the installed package: pytest's
# pythonpath setting (pyproject.toml) puts the repository root on sys.path.
from bench import install, overhead, quality, run, runtime, widgets
from bench.common import ROOT, markdown_table, percentile

# ----------------------------------------------------------------------------------------------
# Pieces of arithmetic
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("q", [0, 5, 50, 95, 100])
def test_percentile_agrees_with_numpy(q):
    values = list(np.random.default_rng(0).exponential(size=37))
    assert percentile(values, q) == pytest.approx(np.percentile(values, q))


def test_markdown_table_shape_and_alignment():
    table = markdown_table(["a", "b"], [[1, 2], ["x", "y"]])
    assert table.splitlines() == ["| a | b |", "| --- | ---: |", "| 1 | 2 |", "| x | y |"]
    with pytest.raises(ValueError, match="2 cells"):
        markdown_table(["a", "b", "c"], [[1, 2]])


def test_slider_values_always_move_far_enough():
    values = widgets.slider_values(200, limit=3.0)
    assert len(set(values)) == 200
    assert all(-3.0 <= v <= 3.0 for v in values)
    assert min(abs(a - b) for a, b in zip(values, values[1:], strict=False)) >= 2.0


def _snapshot(seconds, nats):
    return quality.Trained("reference", seconds, seconds, 1.0, torch.nn.Identity(), neg_iwae=nats)


def test_time_to_reach_interpolates_between_snapshots():
    snapshots = [_snapshot(15, 110.0), _snapshot(30, 100.0), _snapshot(60, 96.0)]
    needed, text = quality.time_to_reach(snapshots, 98.0)
    assert needed == pytest.approx(45.0)  # halfway from 100 (30 s) to 96 (60 s)
    assert text == "45 s"
    needed, text = quality.time_to_reach(snapshots, 90.0)
    assert needed is None and text.startswith("> 60 s") and "96.00" in text
    assert quality.time_to_reach(snapshots, 120.0)[0] == 15


def test_fixed_epochs_gives_exactly_that_many_epochs():
    from helpers.recipes import VAE_2D

    recipe = quality.fixed_epochs(VAE_2D, 2, 1000)
    assert recipe.epochs_for(1000) == 2 and recipe.name == VAE_2D.name


def test_reference_model_is_the_pytorch_examples_vae_and_converts_exactly():
    torch.manual_seed(0)
    reference = quality.ExamplesVAE()
    shapes = {name: tuple(p.shape) for name, p in reference.named_parameters()}
    assert shapes == {
        "fc1.weight": (400, 784), "fc1.bias": (400,),
        "fc21.weight": (20, 400), "fc21.bias": (20,),
        "fc22.weight": (20, 400), "fc22.bias": (20,),
        "fc3.weight": (400, 20), "fc3.bias": (400,),
        "fc4.weight": (784, 400), "fc4.bias": (784,),
    }  # fmt: skip
    series = quality.to_series_vae(reference)
    x = (torch.rand(16, 1, 28, 28, generator=torch.Generator().manual_seed(1)) < 0.4).float()
    with torch.no_grad():
        mu_ref, logvar_ref = reference.encode(x.view(-1, 784))
        mu, logvar = series.encode(x)
        torch.testing.assert_close(mu, mu_ref)
        torch.testing.assert_close(logvar, logvar_ref)
        z = torch.randn(16, 20, generator=torch.Generator().manual_seed(2))
        probabilities = reference.decode(z)
        torch.testing.assert_close(torch.sigmoid(series.decode(z)), probabilities)
        # The example's loss at these z: BCE summed + closed-form KL, against torch's own BCE
        # on logits and torch.distributions' KL.
        loss = quality.examples_loss(probabilities, x, mu_ref, logvar_ref)
        bce = F.binary_cross_entropy_with_logits(series.decode(z), x.view(-1, 784), reduction="sum")
        q = torch.distributions.Normal(mu_ref, torch.exp(0.5 * logvar_ref))
        p = torch.distributions.Normal(torch.zeros_like(mu_ref), torch.ones_like(mu_ref))
        kl = torch.distributions.kl_divergence(q, p).sum()
        assert float(loss) == pytest.approx(float(bce + kl), rel=1e-4)


def test_notebook_06_binarizes_the_test_set_with_the_seed_the_benchmark_uses():
    notebooks = sorted((ROOT / "notebooks").glob("06_*.ipynb"))
    if not notebooks:
        pytest.skip("notebook 06 is not written yet")
    cells = json.loads(notebooks[0].read_text(encoding="utf-8"))["cells"]
    source = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    calls = re.findall(
        r"binarize_fixed\(\s*test\.images\s*(?:,\s*(?:seed\s*=\s*)?(\d+))?\s*\)", source
    )
    assert calls, "notebook 06 no longer binarizes test.images with binarize_fixed; update bench/"
    seeds = {int(seed) if seed else 0 for seed in calls}  # binarize_fixed's default seed is 0
    assert seeds == {quality.TEST_BINARIZATION_SEED}


# ----------------------------------------------------------------------------------------------
# Each script's main with --smoke
# ----------------------------------------------------------------------------------------------


def _report(path: Path) -> str:
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# Benchmarks")
    assert "**Smoke run:**" in text
    assert "## Machine" in text and "| torch |" in text and "| cores |" in text
    return text


def _table_rows(text: str, header_start: str) -> list[str]:
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header_start))
    assert lines[start + 1].startswith("| ---")
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append(line)
    return rows


def test_runtime_smoke_runs_notebook_00_in_a_fresh_kernel(tmp_path):
    out = tmp_path / "report.md"
    before = sorted(p.stat().st_mtime_ns for p in (ROOT / "notebooks").glob("*.ipynb"))
    assert runtime.main(["--smoke", "--out", str(out)]) == 0
    text = _report(out)
    assert "## Series runtime" in text
    rows = _table_rows(text, "| notebook |")
    assert rows[0].startswith("| `00_start_here.ipynb` |") and rows[0].endswith("| ok |")
    assert rows[-1].startswith("| **total** |")
    peak = re.search(r"\| ([\d,]+) MiB \|", rows[0])
    assert peak and int(peak.group(1).replace(",", "")) > 50  # a kernel with numpy loaded
    assert (tmp_path / "report_runtime.png").stat().st_size > 1000
    after = sorted(p.stat().st_mtime_ns for p in (ROOT / "notebooks").glob("*.ipynb"))
    assert after == before, "the committed notebooks must never be rewritten"


def test_quality_smoke_compares_both_recipes(tmp_path):
    out = tmp_path / "report.md"
    assert quality.main(["--smoke", "--out", str(out)]) == 0
    text = _report(out)
    assert "## VAE quality against training time" in text
    rows = _table_rows(text, "| budget | ours: trained |")
    assert len(rows) == 2
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        ours_elbo, ours_iwae = float(cells[2]), float(cells[3].strip("*"))
        ref_elbo, ref_iwae = float(cells[5]), float(cells[6])
        # IWAE with K > 1 is a tighter bound than the ELBO (up to Monte Carlo noise).
        assert ours_iwae < ours_elbo + 1.0 and ref_iwae < ref_elbo + 1.0
        assert float(cells[7]) == pytest.approx(ref_iwae - ours_iwae, abs=0.011)
    assert "**Ratio (validation).**" in text
    # the test set appears once, for the headline budget's two models, after the comparison
    assert text.index("**Test set, evaluated once**") > text.index("**Ratio (validation).**")
    test_rows = _table_rows(text, "| model | trained | validation −ELBO |")
    assert [row.split("|")[1].strip() for row in test_rows] == ["ours", "reference"]
    for row in test_rows:
        cells = [c.strip().strip("*") for c in row.strip("|").split("|")]
        validation_iwae, test_elbo, test_iwae = float(cells[3]), float(cells[4]), float(cells[5])
        assert test_iwae < test_elbo + 1.0 and validation_iwae > 0
    assert (tmp_path / "report_quality.png").stat().st_size > 1000


def test_overhead_smoke_compares_the_loop_with_the_steps_alone(tmp_path):
    out = tmp_path / "report.md"
    assert overhead.main(["--smoke", "--out", str(out)]) == 0
    text = _report(out)
    assert "## Training-loop overhead" in text
    rows = {r.split("|")[1].strip(): r for r in _table_rows(text, "| per epoch (median of 1) |")}
    loop = float(rows["loop epoch (`train_recipe`, `VAE_32D`)"].split("|")[2])
    steps = float(rows["steps alone (one fixed batch)"].split("|")[2])
    assert loop > 0 and steps > 0
    shown = float(rows["**loop overhead**"].split("|")[3].strip(" *%"))
    rounding = 100 * 0.005 * (1 / steps + loop / steps**2) + 0.05  # seconds shown to 0.01 s
    assert shown == pytest.approx(100 * (loop / steps - 1), abs=rounding)


def test_widgets_smoke_times_both_models(tmp_path):
    out = tmp_path / "report.md"
    assert widgets.main(["--smoke", "--out", str(out)]) == 0
    text = _report(out)
    rows = _table_rows(text, "| model |")
    assert [row.split("|")[1].strip() for row in rows] == [
        "2-D latent (VAE_2D)",
        "main (VAE_32D)",
    ]
    for row in rows:
        assert len(re.findall(r"\d+\.\d\d ms", row)) == 4


def test_install_smoke_checks_the_setup_target_without_cloning(tmp_path):
    out = tmp_path / "report.md"
    assert install.main(["--smoke", "--out", str(out)]) == 0
    rows = _table_rows(_report(out), "| step |")
    assert rows == [rows[0]] and "make -n setup" in rows[0] and rows[0].endswith("| ok |")


def test_entry_point_runs_only_the_chosen_parts(tmp_path):
    out = tmp_path / "nested" / "bench.md"
    assert run.main(["--smoke", "--only", "install,widgets", "--out", str(out)]) == 0
    text = _report(out)
    assert text.index("## Widget latency") < text.index("## Install")
    assert "## Series runtime" not in text and "## VAE quality" not in text


def test_entry_point_refuses_an_unknown_part(capsys):
    with pytest.raises(SystemExit):
        run.main(["--only", "speed"])
    assert "runtime, quality, overhead, widgets, install" in capsys.readouterr().err


def test_a_failed_part_is_reported_and_sets_the_exit_code(tmp_path):
    out = tmp_path / "bench.md"
    assert (
        run.main(["--smoke", "--only", "runtime,install", "--notebooks", "99", "--out", str(out)])
        == 1
    )
    text = out.read_text(encoding="utf-8")
    assert "**Failed:** `ValueError: no notebook matches ['99']" in text
    assert "## Install" in text  # the other part still ran


def test_figures_of_an_earlier_run_are_removed(tmp_path):
    out = tmp_path / "bench.md"
    stale = tmp_path / "bench_quality.png"
    stale.write_bytes(b"old")
    unrelated = tmp_path / "other_quality.png"
    unrelated.write_bytes(b"keep")
    assert run.main(["--smoke", "--only", "install", "--out", str(out)]) == 0
    assert not stale.exists() and unrelated.exists()
