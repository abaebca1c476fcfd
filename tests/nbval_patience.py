"""A pytest plugin that gives nbval a configurable wait for a cell's output.

Why: nbval 0.11 executes a cell, waits for its reply (``--nbval-cell-timeout``), then reads the
cell's output messages from the kernel's IOPub channel, giving up when no message arrives for
``IPyNbCell.output_timeout`` seconds. That wait is hard-coded to 5 s in ``IPyNbCell.__init__``
(nbval/plugin.py) with no command-line option, so on a loaded machine a cell that passed fails
with "Timeout of 5 seconds exceeded waiting for output." This plugin adds
``--nbval-output-timeout`` (default 60 s) and sets that attribute on every collected nbval cell.
A hung cell is still caught by ``--nbval-cell-timeout``, which the Makefile sets to 600 s.

Loaded for every pytest run from pyproject.toml's addopts (``-p tests.nbval_patience``); it only
touches nbval's cell items, so other tests are unaffected.
"""

from __future__ import annotations

import warnings

import pytest

DEFAULT_OUTPUT_TIMEOUT_S = 60.0


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.getgroup("nbval").addoption(
        "--nbval-output-timeout",
        action="store",
        type=float,
        default=DEFAULT_OUTPUT_TIMEOUT_S,
        help="Seconds nbval waits for a cell's next output message after the cell ran "
        f"(nbval's own fixed value is 5; default here {DEFAULT_OUTPUT_TIMEOUT_S:g}).",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    try:
        from nbval.plugin import IPyNbCell
    except ImportError:  # nbval not installed: nothing to adjust
        return
    seconds = config.getoption("nbval_output_timeout")
    for item in items:
        if not isinstance(item, IPyNbCell):
            continue
        if not hasattr(item, "output_timeout"):
            warnings.warn(
                "tests/nbval_patience.py: this nbval has no IPyNbCell.output_timeout; "
                "--nbval-output-timeout has no effect (check nbval's plugin.py)",
                pytest.PytestConfigWarning,
                stacklevel=1,
            )
            return
        item.output_timeout = seconds
