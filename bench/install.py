"""Install: seconds from a fresh clone to a working environment, with `make lab`'s set-up step.

``git clone`` of this repository (its last commit; uncommitted changes are not part of a clone)
into a scratch folder, then ``make setup`` there: the step ``make lab`` and ``make test`` run
first, which makes ``.venv`` with Python 3.11 and pip-installs the pinned packages. Then one
check that the environment works (``.venv/bin/python -c "import helpers, torch, jupyterlab"``).
pip takes the packages from this machine's download cache (or local wheel folders named in its
configuration), normally filled by earlier installs, so the number is the **warm-cache** install
time; a first install on a new machine also downloads about 1 GB. The clone is removed afterwards.

The smoke run does not clone or install; it only checks that ``git``, ``make`` and the
``setup`` target exist (``make -n setup``).

Run alone: ``python -m bench.install [--smoke] [--out FILE]``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from bench.common import ROOT, Section, log, markdown_table, remove_tree, scratch_dir, script_main

SETUP_TIMEOUT_S = 3600


def _environment() -> dict[str, str]:
    """The caller's environment without the signs of an active virtualenv or a parent make."""
    environment = dict(os.environ)
    for name in ("VIRTUAL_ENV", "PYTHONHOME", "PYTHONPATH", "MAKELEVEL", "MAKEFLAGS", "MFLAGS"):
        environment.pop(name, None)
    venv_bin = str(ROOT / ".venv" / "bin")
    environment["PATH"] = os.pathsep.join(
        p for p in environment.get("PATH", "").split(os.pathsep) if p != venv_bin
    )
    return environment


def _timed(command: list[str], cwd: Path, timeout: float) -> tuple[float, int, str]:
    began = time.perf_counter()
    try:
        done = subprocess.run(
            command, cwd=cwd, env=_environment(), capture_output=True, text=True, timeout=timeout
        )
        code, output = done.returncode, done.stdout + done.stderr
    except subprocess.TimeoutExpired:
        code, output = -1, f"timed out after {timeout:.0f} s"
    return time.perf_counter() - began, code, output


def _folder_size(path: Path) -> int:
    total = 0
    for folder, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(folder, name)).st_size
            except OSError:
                pass
    return total


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return (lines[-1][:160] if lines else "no output").replace("|", "\\|")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument_group("install")


def measure(args: argparse.Namespace) -> Section:
    missing = [tool for tool in ("git", "make") if shutil.which(tool) is None]
    if missing:
        body = f"Not measured: {' and '.join(missing)} not found on PATH."
        return Section("install", "Install", body, ok=False)
    if args.smoke:
        seconds, code, output = _timed(["make", "-n", "setup"], ROOT, 60)
        row = [
            "`make -n setup` (dry run)",
            f"{seconds:.2f} s",
            "ok" if code == 0 else f"exit {code}: {_last_line(output)}",
        ]
        table = markdown_table(["step", "wall time", "status"], [row], align="lrl")
        body = (
            "Smoke run: nothing cloned or installed; only checked that the `setup` target exists.\n\n"
            + table
        )
        return Section("install", "Install", body, ok=code == 0)

    workdir = scratch_dir("install-")
    rows, ok = [], True
    try:
        clone = workdir / "clone"
        log("install: git clone")
        seconds, code, output = _timed(
            ["git", "clone", "--quiet", "--no-hardlinks", str(ROOT), str(clone)], workdir, 600
        )
        rows.append(
            [
                "`git clone` (local)",
                f"{seconds:.1f} s",
                "ok" if code == 0 else f"exit {code}: {_last_line(output)}",
            ]
        )
        total = seconds
        if code == 0:
            log("install: make setup (this takes minutes)")
            seconds, code, output = _timed(["make", "setup"], clone, SETUP_TIMEOUT_S)
            total += seconds
            rows.append(
                [
                    "`make setup` (venv + pinned packages, warm pip cache)",
                    f"{seconds:.1f} s",
                    "ok" if code == 0 else f"exit {code}: {_last_line(output)}",
                ]
            )
        if code == 0:
            check = [
                str(clone / ".venv" / "bin" / "python"),
                "-c",
                "import helpers, torch, jupyterlab, nbval",
            ]
            seconds, code, output = _timed(check, clone, 600)
            total += seconds
            rows.append(
                [
                    "first import of helpers, torch, jupyterlab, nbval",
                    f"{seconds:.1f} s",
                    "ok" if code == 0 else f"exit {code}: {_last_line(output)}",
                ]
            )
        ok = code == 0
        size = _folder_size(clone / ".venv") / 2**30 if (clone / ".venv").is_dir() else None
        rows.append(
            [
                "**total, fresh clone to working environment**",
                f"**{total:.1f} s**",
                "ok" if ok else "failed",
            ]
        )
    finally:
        remove_tree(workdir)
    table = markdown_table(["step", "wall time", "status"], rows, align="lrl")
    size_text = f" The new `.venv` took {size:.1f} GiB." if ok and size is not None else ""
    body = (
        "A fresh `git clone` of the repository's last commit into a scratch folder, then "
        "`make setup` there (the set-up step of `make lab` and `make test`). pip takes the "
        "packages from this machine's download cache (and any local wheel folders its "
        "configuration names), so this is the **warm-cache** number; a first install on a new "
        "machine also downloads about 1 GB." + size_text + "\n\n" + table
    )
    return Section("install", "Install", body, ok=ok)


def main(argv: Sequence[str] | None = None) -> int:
    return script_main("install", add_arguments, measure, argv, __doc__.splitlines()[0])


if __name__ == "__main__":
    raise SystemExit(main())
