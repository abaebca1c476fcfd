"""The entry point: run the chosen benchmarks and write one report (see ``bench/__init__.py``).

``python -m bench [--smoke] [--only runtime,quality,overhead,widgets,install] [--out docs/benchmarks.md]``
plus each script's own options (``--budgets``, ``--repeats``, ``--events`` ...).
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

if __package__ in (None, ""):  # run as a file: python bench/run.py
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import install, overhead, quality, runtime, widgets  # noqa: E402
from bench.common import add_common_arguments, write_report  # noqa: E402

SCRIPTS = {
    "runtime": runtime,
    "quality": quality,
    "overhead": overhead,
    "widgets": widgets,
    "install": install,
}
"""Every benchmark, in the order the report shows them."""


def parse_only(text: str | None) -> list[str]:
    """'quality,widgets' → ['quality', 'widgets'] in report order; None → all."""
    if not text:
        return list(SCRIPTS)
    chosen = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [name for name in chosen if name not in SCRIPTS]
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(
            f"--only takes a comma-separated list of {', '.join(SCRIPTS)}; got {text!r}"
        )
    return [name for name in SCRIPTS if name in chosen]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Measure the series' runtime, VAE quality, widget latency and install time; "
        "write a Markdown report.",
    )
    add_common_arguments(parser)
    parser.add_argument(
        "--only",
        type=parse_only,
        default=list(SCRIPTS),
        metavar="NAMES",
        help=f"comma-separated subset of {','.join(SCRIPTS)} (default: all)",
    )
    for script in SCRIPTS.values():
        script.add_arguments(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    measures = [(name, SCRIPTS[name].measure) for name in args.only]
    return write_report(measures, args, command=shlex.join(["python", "-m", "bench", *argv]))


if __name__ == "__main__":
    raise SystemExit(main())
