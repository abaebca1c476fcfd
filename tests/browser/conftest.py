"""Fixtures for the real-browser test: Debian's chromium, a JupyterLab server, an artefacts folder.

See the docstring of ``test_latent_explorer_browser.py`` for how to run it. The server runs on
loopback with a random token, from a temporary folder that holds a fresh copy of the notebook
(outputs cleared), with its own settings folder (no news or update checks, no cell
virtualization). It is stopped by its PID when the test ends.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK_NAME = "07_latent_space_explorer.ipynb"
ENABLE_HINT = (
    "Debian's chromium is needed for the browser test of notebook 07; install it with "
    "`apt-get install chromium` (it must be on PATH as `chromium`). "
    "Playwright's own browser download is not used."
)


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def _missing(message: str) -> None:
    """Skip on a developer machine; fail in CI, where the browser test must always run."""
    if _in_ci():
        pytest.fail(f"CI=true but the browser test cannot run: {message}", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = shutil.which("chromium")
    if path is None:
        _missing(ENABLE_HINT)
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _missing("the Python package playwright is not installed: `pip install playwright`")
    return path


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """``$VAE_BROWSER_ARTIFACTS`` or ``<repo>/test-artifacts/browser`` (git-ignored)."""
    folder = Path(
        os.environ.get("VAE_BROWSER_ARTIFACTS", REPO_ROOT / "test-artifacts" / "browser")
    )
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _fresh_copy(source: Path, destination: Path) -> None:
    """Copy a notebook without outputs or execution counts, so that every widget and every
    ``[n]:`` prompt seen in the page comes from this run."""
    import nbformat

    notebook = nbformat.read(source, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    nbformat.write(notebook, destination)


def _write_settings(settings_dir: Path) -> None:
    """No network calls or pop-ups; every cell stays in the DOM (no windowing)."""
    notification = settings_dir / "@jupyterlab" / "apputils-extension"
    notification.mkdir(parents=True, exist_ok=True)
    (notification / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False})
    )
    notebook = settings_dir / "@jupyterlab" / "notebook-extension"
    notebook.mkdir(parents=True, exist_ok=True)
    (notebook / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))


@dataclass(frozen=True)
class LabServer:
    base_url: str
    token: str
    root: Path
    notebook: str
    log_path: Path

    def notebook_url(self) -> str:
        return f"{self.base_url}/lab/tree/{self.notebook}?reset&token={self.token}"


def _wait_ready(url: str, token: str, process: subprocess.Popen, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    request = urllib.request.Request(f"{url}/api/status", headers={"Authorization": f"token {token}"})
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"jupyter lab exited early with code {process.returncode}")
        try:
            with urllib.request.urlopen(request, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.25)
    raise TimeoutError(f"jupyter lab did not answer /api/status within {timeout_s:.0f} s")


@pytest.fixture
def lab_server(tmp_path: Path, artifacts_dir: Path, chromium_path: str) -> Iterator[LabServer]:
    """A JupyterLab server on 127.0.0.1 serving a fresh copy of notebook 07."""
    root = tmp_path / "root"
    root.mkdir()
    _fresh_copy(REPO_ROOT / "notebooks" / NOTEBOOK_NAME, root / NOTEBOOK_NAME)
    settings_dir = tmp_path / "lab-settings"
    _write_settings(settings_dir)
    port, token = _free_port(), secrets.token_hex(16)
    env = dict(os.environ)
    env["JUPYTERLAB_SETTINGS_DIR"] = str(settings_dir)
    env["JUPYTERLAB_WORKSPACES_DIR"] = str(tmp_path / "lab-workspaces")
    command = [
        sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
        f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
        "--ServerApp.port_retries=0",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")
    log_path = artifacts_dir / "jupyter-lab.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=root)
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base_url, token, process, timeout_s=60)
        yield LabServer(base_url, token, root, NOTEBOOK_NAME, log_path)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
