"""Markers and shared fixtures for the whole test suite (tests/browser has its own conftest)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.loopback import server  # noqa: F401  (the loopback HTTP server fixture)

# Modules whose every test is `slow`: left out of `make check` (-m "not slow"), run by `make test`.
# test_bench.py smoke-runs every benchmark script in fresh kernels; test_lab.py marks itself.
SLOW_MODULES = {"test_bench.py"}
TESTS_DIR = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        path = Path(item.path).resolve()
        if path.parent == TESTS_DIR and path.name in SLOW_MODULES:
            item.add_marker(pytest.mark.slow)
