"""Series runtime: every notebook executed top to bottom in a fresh kernel, timed, RSS sampled.

The notebooks are copied to a scratch folder first (the committed ones are never touched) and run
in order with ``nbclient``, one new kernel each, the way a reader runs them: notebook 07 finds the
checkpoints notebook 06 wrote, in a cache folder that is new for each pass over the series, so no
earlier run's files are reused. The data (``VAE_DATA_DIR``) is the reader's usual data folder,
made ready before the clock starts, so download time is not counted.

Per notebook: wall seconds from kernel start to the last cell, and the peak resident memory
(RSS) of the kernel's process tree, sampled every 50 ms with psutil. The series is run several
times while that stays cheap (``--repeats``, ``--repeat-budget-s``); the table gives medians.

Run alone: ``python -m bench.runtime [--smoke] [--out FILE] [--notebooks 00,01] [--repeats N]``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.common import (
    FIGURE_DPI,
    ROOT,
    Section,
    figure_path,
    log,
    markdown_table,
    median,
    remove_tree,
    scratch_dir,
    script_main,
    seconds,
)

NOTEBOOK_DIR = ROOT / "notebooks"
SAMPLE_INTERVAL_S = 0.05
CELL_TIMEOUT_S = 1800


@dataclass
class NotebookRun:
    name: str
    seconds: float
    peak_rss_bytes: int
    error: str | None = None


class TreeRSSSampler:
    """Samples the summed RSS of this process's descendants (the kernel and anything it starts).

    Use as a context manager around one notebook run; ``peak`` holds the largest sum seen.
    """

    def __init__(self, interval_s: float = SAMPLE_INTERVAL_S) -> None:
        import psutil

        self._psutil = psutil
        self._me = psutil.Process()
        self.interval_s = interval_s
        self.peak = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def sample(self) -> int:
        total = 0
        for child in self._me.children(recursive=True):
            try:
                total += child.memory_info().rss
            except (
                self._psutil.NoSuchProcess,
                self._psutil.AccessDenied,
                self._psutil.ZombieProcess,
            ):
                continue
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.sample())
            self.samples += 1
            self._stop.wait(self.interval_s)

    def __enter__(self) -> TreeRSSSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def find_notebooks(selection: Sequence[str] | None = None) -> list[Path]:
    """The series' notebooks (``notebooks/NN_*.ipynb``) in order; ``selection`` keeps those whose
    two-digit number or file name is listed."""
    notebooks = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))
    if selection:
        wanted = {s.strip() for s in selection if s.strip()}
        notebooks = [
            nb
            for nb in notebooks
            if nb.name[:2] in wanted or nb.name in wanted or nb.stem in wanted
        ]
        missing = (
            wanted
            - {nb.name[:2] for nb in notebooks}
            - {nb.name for nb in notebooks}
            - {nb.stem for nb in notebooks}
        )
        if missing:
            raise ValueError(f"no notebook matches {sorted(missing)} in {NOTEBOOK_DIR.name}/")
    if not notebooks:
        raise ValueError(f"no notebooks named NN_*.ipynb in {NOTEBOOK_DIR}")
    return notebooks


def execute_notebook(path: Path, workdir: Path) -> NotebookRun:
    """Run one notebook (a copy in ``workdir``) in a new kernel; time it and sample its RSS."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT_S,
        kernel_name="python3",
        resources={"metadata": {"path": str(workdir)}},
    )
    error = None
    with TreeRSSSampler() as sampler:
        started = time.perf_counter()
        try:
            client.execute()
        except CellExecutionError as failure:
            error = f"{failure.ename}: {str(failure.evalue)[:120]}"
        except Exception as failure:  # noqa: BLE001 - a timeout or dead kernel is reported, not raised
            error = f"{type(failure).__name__}: {str(failure)[:120]}"
        elapsed = time.perf_counter() - started
    return NotebookRun(path.name, elapsed, sampler.peak, error)


def run_series(notebooks: Sequence[Path], environment: dict[str, str]) -> list[NotebookRun]:
    """One pass over ``notebooks`` in order, in a fresh scratch copy with a fresh cache folder."""
    workdir = scratch_dir("runtime-")
    saved = {name: os.environ.get(name) for name in {*environment, "VAE_CACHE_DIR"}}
    try:
        copy = workdir / "notebooks"
        shutil.copytree(NOTEBOOK_DIR, copy, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
        cache = workdir / "cache"
        cache.mkdir()
        os.environ.update(environment)
        os.environ["VAE_CACHE_DIR"] = str(cache)
        runs = []
        for notebook in notebooks:
            run = execute_notebook(copy / notebook.name, copy)
            state = "FAILED " + run.error if run.error else "ok"
            log(
                f"  {run.name}: {run.seconds:.1f} s, peak RSS {run.peak_rss_bytes / 2**20:.0f} MiB, {state}"
            )
            runs.append(run)
        return runs
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        remove_tree(workdir)


def kernel_environment() -> dict[str, str]:
    """What the kernels inherit: the reader's data folder, made ready now (download not timed)."""
    from helpers.data import ensure_mnist
    from helpers.paths import cache_dir, data_dir

    ensure_mnist("mnist")
    environment: dict[str, str] = {}
    for folder in (data_dir(), cache_dir() / "data"):  # where helpers.data looks, in its order
        if (folder / "mnist").is_dir():
            environment["VAE_DATA_DIR"] = str(folder)
            break
    return environment


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("runtime")
    group.add_argument(
        "--notebooks",
        default=None,
        help="comma-separated notebook numbers to run (default: all; smoke: 00)",
    )
    group.add_argument(
        "--repeats", type=int, default=3, help="passes over the series at most (default 3; smoke 1)"
    )
    group.add_argument(
        "--repeat-budget-s",
        type=float,
        default=1200.0,
        help="start another pass only while the passes so far took less than this (default 1200)",
    )


def _figure(
    args: argparse.Namespace, names: list[str], medians: list[float], peaks: list[float]
) -> Path:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.0, 0.45 * len(names) + 1.2), dpi=FIGURE_DPI, layout="constrained")
    ax = fig.add_subplot()
    positions = list(range(len(names)))[::-1]
    ax.barh(positions, medians, color="#4c72b0")
    for y, value, peak in zip(positions, medians, peaks, strict=True):
        ax.text(value, y, f"  {value:.0f} s, {peak:.0f} MiB", va="center", fontsize=8)
    ax.set_yticks(positions, [name.removesuffix(".ipynb") for name in names], fontsize=8)
    ax.set_xlabel("wall seconds in a fresh kernel (median)")
    ax.set_title("Series runtime per notebook")
    ax.set_xlim(0, max(medians) * 1.45 if medians else 1)
    path = figure_path(args, "runtime")
    fig.savefig(path)
    return path


def measure(args: argparse.Namespace) -> Section:
    """Run the series ``repeats`` times (while cheap) and tabulate medians per notebook."""
    selection = args.notebooks.split(",") if args.notebooks else (["00"] if args.smoke else None)
    repeats = 1 if args.smoke else max(1, args.repeats)
    notebooks = find_notebooks(selection)
    environment = kernel_environment()
    passes: list[list[NotebookRun]] = []
    spent = 0.0
    while len(passes) < repeats and (not passes or spent < args.repeat_budget_s):
        log(f"runtime: pass {len(passes) + 1} over {len(notebooks)} notebook(s)")
        runs = run_series(notebooks, environment)
        passes.append(runs)
        spent += sum(run.seconds for run in runs)
        if any(run.error for run in runs):
            break

    rows, names, medians, peaks = [], [], [], []
    failures = []
    for index, notebook in enumerate(notebooks):
        runs = [runs[index] for runs in passes]
        errors = [run.error for run in runs if run.error]
        if errors:
            failures.append(f"{notebook.name}: {errors[0]}")
        wall = [run.seconds for run in runs]
        peak = max(run.peak_rss_bytes for run in runs) / 2**20
        names.append(notebook.name)
        medians.append(median(wall))
        peaks.append(peak)
        rows.append(
            [
                f"`{notebook.name}`",
                seconds(median(wall)),
                f"{min(wall):.1f} – {max(wall):.1f} s" if len(wall) > 1 else "–",
                f"{peak:,.0f} MiB",
                "failed: " + errors[0].replace("|", "\\|") if errors else "ok",
            ]
        )
    totals = [sum(run.seconds for run in runs) for runs in passes]
    rows.append(
        [
            "**total**",
            f"**{seconds(median(totals))}**",
            f"{min(totals):.1f} – {max(totals):.1f} s" if len(totals) > 1 else "–",
            f"{max(peaks):,.0f} MiB (largest)",
            "ok" if not failures else f"{len(failures)} failed",
        ]
    )
    table = markdown_table(
        ["notebook", "wall time (median)", "range over passes", "peak kernel RSS", "status"],
        rows,
        align="lrrrl",
    )
    figure = _figure(args, names, medians, peaks)
    body = "\n".join(
        [
            f"Each notebook executed top to bottom in a fresh kernel (nbclient), in order, on a scratch "
            f"copy; {len(passes)} pass(es) over the series, each with a new empty cache folder "
            "(notebook 07 uses the checkpoints notebook 06 wrote in the same pass). Wall time counts "
            "kernel start-up and every cell; peak RSS is the kernel's process tree, sampled every "
            f"{SAMPLE_INTERVAL_S * 1000:.0f} ms. Data loading is timed, its download is not.",
            "",
            table,
            "",
            f"![Seconds per notebook]({figure.name})",
            "",
            f"*Figure: median wall seconds per notebook in a fresh kernel, labelled with the peak "
            f"kernel memory; the whole series took {median(totals):.0f} s.*",
        ]
    )
    notes = []
    if len(passes) < repeats:
        notes.append(
            f"Runtime: {len(passes)} of {repeats} passes ran (a pass failed, or the passes took "
            f"longer than --repeat-budget-s {args.repeat_budget_s:.0f} s)."
        )
    return Section("runtime", "Series runtime", body, ok=not failures, notes=notes)


def main(argv: Sequence[str] | None = None) -> int:
    return script_main("runtime", add_arguments, measure, argv, __doc__.splitlines()[0])


if __name__ == "__main__":
    raise SystemExit(main())
