"""Pieces every benchmark script shares: the report's sections, tables, the machine, the CLI.

Each script (``runtime``, ``quality``, ``widgets``, ``install``) defines
``add_arguments(parser)`` and ``measure(args) -> Section`` and gets its ``main(argv)`` from
:func:`script_main`; ``bench/run.py`` runs several of them into one report.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
"""The repository root (the folder that holds ``bench/``, ``helpers/`` and ``notebooks/``)."""

DEFAULT_OUT = ROOT / "docs" / "benchmarks.md"
SCRATCH = ROOT / "bench" / ".work"
"""Scratch space for temporary copies (ignored by git); every folder made here is removed."""

FIGURE_DPI = 80
FIGURES = ("runtime", "quality")
"""Suffixes of the figures the scripts write beside the report (``<report stem>_<suffix>.png``)."""


@dataclass
class Section:
    """One part of the report.

    Attributes:
        key: the name ``--only`` selects ("runtime", "quality", "widgets", "install").
        title: the section heading.
        body: Markdown under the heading (tables, notes, figure links).
        ok: False when a measurement failed; the report still gets written, the exit code is 1.
        notes: lines for the report's "what to keep in mind" list.
    """

    key: str
    title: str
    body: str
    ok: bool = True
    notes: list[str] = field(default_factory=list)


def markdown_table(
    headers: Sequence[str], rows: Sequence[Sequence[object]], align: str = ""
) -> str:
    """A GitHub-flavoured Markdown table; ``align`` is one letter per column (l/r), default l r r ..."""
    if not headers:
        raise ValueError("a table needs at least one column")
    for row in rows:
        if len(row) != len(headers):
            raise ValueError(f"row {list(row)} has {len(row)} cells, the header has {len(headers)}")
    align = align or "l" + "r" * (len(headers) - 1)
    rule = ["---:" if a == "r" else "---" for a in align]
    lines = ["| " + " | ".join(str(h) for h in headers) + " |", "| " + " | ".join(rule) + " |"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def seconds(value: float | None, digits: int = 1) -> str:
    """'12.3 s', or an en dash for a missing value."""
    return "–" if value is None else f"{value:,.{digits}f} s"


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) by linear interpolation, like ``numpy.percentile``."""
    if not values:
        raise ValueError("percentile of an empty sequence")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100.0
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def median(values: Sequence[float]) -> float:
    return percentile(values, 50.0)


def scratch_dir(prefix: str) -> Path:
    """A new empty folder under ``bench/.work/``; the caller removes it (``shutil.rmtree``)."""
    SCRATCH.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=prefix, dir=SCRATCH))


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
    try:
        SCRATCH.rmdir()  # only when empty
    except OSError:
        pass


# ----------------------------------------------------------------------------------------------
# The machine
# ----------------------------------------------------------------------------------------------
def cpu_model() -> str:
    """The CPU's marketing name from /proc/cpuinfo (Linux) or sysctl (macOS), else platform's."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith(("model name", "hardware", "cpu model")):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    if sys.platform == "darwin":
        try:
            out = subprocess.run(
                ["sysctl", "-n", "machdep.cpu.brand_string"],
                capture_output=True,
                text=True,
                timeout=5,
            )
            if out.stdout.strip():
                return out.stdout.strip()
        except (OSError, subprocess.SubprocessError):
            pass
    return platform.processor() or platform.machine() or "unknown"


def load_average() -> tuple[float, float, float] | None:
    try:
        return os.getloadavg()
    except (AttributeError, OSError):
        return None


def git_revision() -> str:
    """Short commit of the working tree, with '+ uncommitted changes' when it differs from it."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown (git not available)"
    if not commit:
        return "unknown (not a git checkout)"
    return commit + (" + uncommitted changes" if dirty else "")


def machine_rows(load_at_start: tuple[float, float, float] | None) -> list[tuple[str, str]]:
    """(item, value) rows describing the machine, the software and how busy the machine was."""
    import psutil
    import torch

    logical = psutil.cpu_count(logical=True) or os.cpu_count() or 0
    physical = psutil.cpu_count(logical=False) or logical
    memory_gib = psutil.virtual_memory().total / 2**30
    load_end = load_average()

    def fmt(load: tuple[float, float, float] | None) -> str:
        return "n/a" if load is None else " / ".join(f"{v:.2f}" for v in load)

    return [
        ("CPU", cpu_model()),
        ("cores", f"{logical} logical, {physical} physical"),
        ("memory", f"{memory_gib:.1f} GiB"),
        ("OS", f"{platform.system()} {platform.release()} ({platform.machine()})"),
        ("Python", platform.python_version()),
        ("torch", f"{torch.__version__} ({torch.get_num_threads()} intra-op threads)"),
        ("git", git_revision()),
        ("load average 1/5/15 min, at start", fmt(load_at_start)),
        ("load average 1/5/15 min, at end", fmt(load_end)),
    ]


def busy_warning(load: tuple[float, float, float] | None) -> str | None:
    """A warning line when the 1-minute load average was above 75 % of the logical cores."""
    cores = os.cpu_count() or 1
    if load is not None and load[0] > 0.75 * cores:
        return (
            f"The machine was busy when the run started (1-minute load {load[0]:.2f} on {cores} "
            "cores): other processes shared the CPU, so the timings are inflated."
        )
    return None


def data_description() -> str:
    """Which MNIST the benchmarks see (full or the offline subset), as ``helpers.data`` says."""
    from helpers.data import ensure_mnist

    return ensure_mnist("mnist")


# ----------------------------------------------------------------------------------------------
# Writing the report
# ----------------------------------------------------------------------------------------------
def render_report(
    sections: Sequence[Section],
    *,
    smoke: bool,
    started: float,
    load_at_start: tuple[float, float, float] | None,
    command: str,
) -> str:
    """The whole Markdown document: header, machine table, the sections, notes."""
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(started))
    elapsed = time.time() - started
    parts = [
        "# Benchmarks",
        "",
        f"Generated by `{command}` on {stamp} in {elapsed / 60:.1f} minutes. Every run rewrites "
        "this file and its figures from scratch; do not edit it by hand. The scripts live in "
        "`bench/` (see `bench/__init__.py` for what each one measures and how).",
    ]
    if smoke:
        parts += [
            "",
            "**Smoke run:** tiny budgets that only check the scripts work. The numbers below say "
            "nothing about speed or quality.",
        ]
    try:
        data = data_description()
    except Exception as error:  # noqa: BLE001 - the report still says what happened
        data = f"unavailable ({type(error).__name__}: {error})"
    rows = machine_rows(load_at_start) + [("data", data)]
    parts += ["", "## Machine", "", markdown_table(["item", "value"], rows, align="ll")]
    warning = busy_warning(load_at_start)
    if warning:
        parts += ["", f"> **Note.** {warning}"]
    for section in sections:
        parts += ["", f"## {section.title}", "", section.body.rstrip()]
    notes = [note for section in sections for note in section.notes]
    if notes:
        parts += ["", "## Keep in mind", ""] + [f"- {note}" for note in notes]
    return "\n".join(parts).rstrip() + "\n"


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="tiny budgets that check the scripts work in seconds (used by tests/test_bench.py)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        help="the Markdown report to write; figures go beside it (default: docs/benchmarks.md)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch threads for training and decoding in this process (default: torch's own "
        "choice, as in the notebooks; smoke: 1, which stays fast on a busy machine)",
    )


def write_report(
    measures: Sequence[tuple[str, Callable[[argparse.Namespace], Section]]],
    args: argparse.Namespace,
    command: str,
) -> int:
    """Run each (name, measure), write the report to ``args.out``; 0 when every section succeeded."""
    started = time.time()
    load_at_start = load_average()
    out: Path = args.out.expanduser().resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    args.figure_dir = out.parent
    args.figure_prefix = out.stem
    for suffix in FIGURES:  # from scratch: no figure of an earlier run survives
        figure_path(args, suffix).unlink(missing_ok=True)
    import torch

    threads_before = torch.get_num_threads()
    threads = args.threads if args.threads is not None else (1 if args.smoke else None)
    if threads is not None:
        if threads < 1:
            raise ValueError(f"--threads must be a positive integer, got {threads}")
        torch.set_num_threads(threads)
    torch.set_flush_denormal(True)  # as helpers.notebook.setup_notebook does for the notebooks
    sections = []
    try:
        for name, measure in measures:
            try:
                section = measure(args)
            except Exception as error:  # noqa: BLE001 - one broken part must not lose the others
                traceback.print_exc()
                section = Section(
                    name,
                    name.capitalize(),
                    f"**Failed:** `{type(error).__name__}: {error}` (traceback on stderr).",
                    ok=False,
                )
            sections.append(section)
            print(f"[bench] {section.title}: {'done' if section.ok else 'FAILED'}", flush=True)
        report = render_report(
            sections,
            smoke=args.smoke,
            started=started,
            load_at_start=load_at_start,
            command=command,
        )
    finally:
        torch.set_num_threads(threads_before)
    out.write_text(report, encoding="utf-8")
    print(f"[bench] wrote {out}", flush=True)
    return 0 if all(section.ok for section in sections) else 1


def script_main(
    name: str,
    add_arguments: Callable[[argparse.ArgumentParser], None],
    measure: Callable[[argparse.Namespace], Section],
    argv: Sequence[str] | None,
    description: str,
) -> int:
    """``main`` of one benchmark script: parse ``argv``, measure, write a one-section report."""
    parser = argparse.ArgumentParser(prog=f"python -m bench.{name}", description=description)
    add_common_arguments(parser)
    add_arguments(parser)
    args = parser.parse_args(argv)
    return write_report([(name, measure)], args, command=f"python -m bench.{name}")


def figure_path(args: argparse.Namespace, suffix: str) -> Path:
    """Where a figure goes: beside the report, named ``<report stem>_<suffix>.png``."""
    return Path(args.figure_dir) / f"{args.figure_prefix}_{suffix}.png"


def log(message: str) -> None:
    print(f"[bench] {message}", flush=True)
