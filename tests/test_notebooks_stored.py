"""The committed notebooks are what readers see on GitHub: check their stored form.

Each notebook must be executed top to bottom in a fresh kernel (execution counts 1, 2, 3, ...),
carry no machine paths, tracebacks or widget state, stay lean, and keep the series' frame.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("[0-9][0-9]_*.ipynb"))
MAX_BYTES = 4_000_000
MACHINE_PATH = re.compile(r"(?<![\w.])/(?:root|home|tmp|Users|work|private/var)/[^\s\"'\\]+")


def load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def test_the_series_is_numbered_without_gaps():
    numbers = [int(path.name[:2]) for path in NOTEBOOKS]
    assert numbers == list(range(len(numbers))), [path.name for path in NOTEBOOKS]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_executed_top_to_bottom_in_a_fresh_kernel(path):
    cells = [c for c in load(path)["cells"] if c["cell_type"] == "code" and "".join(c["source"]).strip()]
    counts = [c.get("execution_count") for c in cells]
    assert counts == list(range(1, len(cells) + 1)), f"{path.name}: execution counts {counts}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_paths_tracebacks_errors_or_widget_state(path):
    notebook = load(path)
    assert "widgets" not in notebook.get("metadata", {}), f"{path.name}: stored widget state"
    for index, cell in enumerate(notebook["cells"]):
        for output in cell.get("outputs", []):
            assert output.get("output_type") != "error", f"{path.name} cell {index}: error output"
            text = json.dumps({k: v for k, v in output.items() if k != "data"})
            text += json.dumps({k: v for k, v in output.get("data", {}).items() if not k.startswith("image/")})
            assert "Traceback (most recent call last)" not in text, f"{path.name} cell {index}: traceback"
            hit = MACHINE_PATH.search(text)
            assert hit is None, f"{path.name} cell {index}: machine path {hit.group(0)!r} in output"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_lean(path):
    assert path.stat().st_size < MAX_BYTES, f"{path.name}: {path.stat().st_size / 1e6:.1f} MB"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_frame_title_goals_summary_exercises_navigation(path):
    markdown = "\n".join("".join(c["source"]) for c in load(path)["cells"] if c["cell_type"] == "markdown")
    number = int(path.name[:2])
    assert markdown.lstrip().startswith("# "), f"{path.name}: first cell should be the title"
    assert re.search(r"what you will learn", markdown, re.I), f"{path.name}: no 'What you will learn'"
    assert re.search(r"^#+ .*summary", markdown, re.I | re.M), f"{path.name}: no summary section"
    assert re.search(r"^#+ .*exercises", markdown, re.I | re.M), f"{path.name}: no exercises section"
    later = [p.name for p in NOTEBOOKS if int(p.name[:2]) == number + 1]
    if later:
        assert f"({later[0]}" in markdown, f"{path.name}: no link to the next notebook {later[0]}"
    if number > 0:
        assert "(00_start_here.ipynb" in markdown, f"{path.name}: no link back to the map in 00"
