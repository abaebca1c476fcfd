"""`make lab` itself: JupyterLab starts, answers only with its token, and listens on loopback only.

The test runs `make lab` as a subprocess from the repository root, so the server gets exactly the
command line a reader gets. It is steered only through environment variables that jupyter_server
2.x reads itself: ``JUPYTER_PORT`` and ``JUPYTER_PORT_RETRIES`` (``ServerApp.port`` and
``port_retries`` defaults), ``JUPYTER_TOKEN`` (``IdentityProvider.token`` default), ``BROWSER``
(Python's ``webbrowser``: ``true`` opens nothing), and the ``JUPYTER_*_DIR``,
``JUPYTERLAB_*_DIR`` and ``HOME`` folders, moved into a temporary folder so nothing of the user's
is read or written. ``make -o .venv/.installed`` leaves the venv as it is (no reinstall inside a
test) without changing the recipe.

Checks: the echoed command line and the server's own argv are the Makefile's (with
``--allow-root`` exactly when the user is root, and the note saying why); ``/api/status``
answers 200 with the token and 401/403 without it or with a wrong one; every listening socket of
the process tree is on a loopback address, and connecting to this machine's other addresses on
that port fails; SIGTERM to the process group stops everything. When the test runs as root it
also runs the whole check as a non-root user (``nobody`` via ``setpriv``, or uid 1000 in a user
namespace via ``unshare --user`` when nobody cannot run the venv), so both branches of the
Makefile are exercised on a root CI machine.
"""

from __future__ import annotations

import ipaddress
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

pytestmark = pytest.mark.slow

REPO_ROOT = Path(__file__).resolve().parents[1]
JUPYTER = REPO_ROOT / ".venv" / "bin" / "jupyter"
STAMP = ".venv/.installed"  # the Makefile's $(STAMP)
MAKEFILE_ARGS = ["--ServerApp.root_dir=notebooks"]  # what the lab recipe passes besides the flag
ROOT_NOTE = "Running as root (a container or cloud VM): adding --allow-root"
NOBODY_UID = 65534
READY_TIMEOUT_S = 60
STOP_TIMEOUT_S = 20


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


@dataclass(frozen=True)
class User:
    name: str
    uid: int  # the uid `id -u` prints for it
    outer_uid: int  # the uid this test (psutil) sees its processes run as
    prefix: tuple[str, ...]  # put in front of `make lab`, e.g. setpriv to drop root


def _runs_jupyter(prefix: tuple[str, ...], uid: int) -> bool:
    """Whether `prefix` runs the venv's jupyter from a shell, as make will, with `id -u` = uid."""
    probe = [*prefix, "sh", "-c", ".venv/bin/jupyter --paths >/dev/null && id -u"]
    try:
        done = subprocess.run(probe, cwd=REPO_ROOT, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0 and done.stdout.strip() == str(uid)


def _unprivileged() -> User:
    """A non-root user for the other branch of the Makefile: `nobody` via setpriv when it can run
    the venv's Python, else uid 1000 in a user namespace (`unshare --user`), where `id -u` and
    os.geteuid() say 1000 while files keep root's access (a venv built on a Python under /root)."""
    nobody = User(
        "nobody",
        NOBODY_UID,
        NOBODY_UID,
        ("setpriv", f"--reuid={NOBODY_UID}", f"--regid={NOBODY_UID}", "--clear-groups"),
    )
    mapped = User(
        "uid-1000-in-a-user-namespace",
        1000,
        os.geteuid(),
        ("unshare", "--user", "--map-user=1000", "--map-group=1000"),
    )
    for user in (nobody, mapped):
        if shutil.which(user.prefix[0]) and _runs_jupyter(user.prefix, user.uid):
            return user
    pytest.skip("cannot run as a non-root user here (neither setpriv to nobody nor unshare --user)")


@pytest.fixture(params=["current-user", "non-root"])
def user(request: pytest.FixtureRequest) -> User:
    if request.param == "current-user":
        return User("current-user", os.geteuid(), os.geteuid(), ())
    if not _is_root():
        pytest.skip("already not root: the current-user run covers the non-root branch")
    return _unprivileged()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def home(user: User) -> Iterator[Path]:
    """A fresh folder for HOME and Jupyter's folders, owned by the user who runs `make lab`."""
    folder = Path(tempfile.mkdtemp(prefix="vae-lab-test-"))
    try:
        if user.outer_uid != os.geteuid():
            os.chmod(folder, 0o755)  # /tmp/vae-lab-test-*: traversable, written only by its owner
            os.chown(folder, user.outer_uid, user.outer_uid)
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _environment(home: Path, port: int, token: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        # a clean start: no settings of an outer make or of the developer's own Jupyter
        if not key.startswith(("JUPYTER", "MAKE", "MFLAGS", "XDG_"))
    }
    env.update(
        HOME=str(home),
        JUPYTER_PORT=str(port),
        JUPYTER_PORT_RETRIES="0",
        JUPYTER_TOKEN=token,
        BROWSER="true",
        JUPYTER_CONFIG_DIR=str(home / "jupyter-config"),
        JUPYTER_DATA_DIR=str(home / "jupyter-data"),
        JUPYTER_RUNTIME_DIR=str(home / "jupyter-runtime"),
        JUPYTERLAB_SETTINGS_DIR=str(home / "lab-settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(home / "lab-workspaces"),
    )
    return env


def _get(url: str, token: str | None) -> int:
    headers = {"Authorization": f"token {token}"} if token is not None else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=5) as r:
            json.loads(r.read())  # /api/status answers JSON
            return r.status
    except urllib.error.HTTPError as error:
        return error.code


def _wait_ready(url: str, token: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"`make lab` exited with {process.returncode}:\n{log.read_text()}")
        try:
            if _get(url, token) == 200:
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.25)
    pytest.fail(f"no 200 from {url} within {READY_TIMEOUT_S} s:\n{log.read_text()}")


def _listening(processes: list[psutil.Process]) -> list[tuple[str, int]]:
    addresses = []
    for process in processes:
        try:
            connections = process.net_connections(kind="inet")
        except psutil.NoSuchProcess:
            continue
        addresses += [c.laddr[:2] for c in connections if c.status == psutil.CONN_LISTEN]
    return addresses


def _other_local_addresses() -> list[str]:
    """This machine's own non-loopback addresses (link-local IPv6 left out: it needs a scope)."""
    found = []
    for addresses in psutil.net_if_addrs().values():
        for address in addresses:
            if address.family not in (socket.AF_INET, socket.AF_INET6):
                continue
            ip = ipaddress.ip_address(address.address.split("%")[0])
            if not ip.is_loopback and not ip.is_link_local:
                found.append(str(ip))
    return found


def _connects(ip: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in ip else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.settimeout(2)
        try:
            sock.connect((ip, port))
        except OSError:
            return False
        return True


def _stop(process: subprocess.Popen) -> None:
    """SIGTERM to the whole process group (make and JupyterLab), SIGKILL if it lingers."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)


def test_make_lab_serves_on_loopback_with_its_token(user: User, home: Path) -> None:
    if not JUPYTER.exists():
        pytest.skip(f"{JUPYTER.relative_to(REPO_ROOT)} is missing: run `make setup` first")
    if shutil.which("make") is None:
        pytest.skip("`make` is not on PATH")
    port, token = _free_port(), secrets.token_hex(16)
    log = home / "make-lab.log"
    with open(log, "w") as out:
        process = subprocess.Popen(
            [*user.prefix, "make", "--no-print-directory", "-o", STAMP, "lab"],
            cwd=REPO_ROOT,
            env=_environment(home, port, token),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group, stopped as one below
        )
    status_url = f"http://127.0.0.1:{port}/api/status"
    tree: list[psutil.Process] = []
    try:
        _wait_ready(status_url, token, process, log)
        tree = [psutil.Process(process.pid), *psutil.Process(process.pid).children(recursive=True)]

        # The command line: the one the Makefile prints, and the one the server really got.
        root = user.uid == 0
        expected = [*MAKEFILE_ARGS, *(["--allow-root"] if root else [])]
        lines = log.read_text().splitlines()
        echoed = [line.split() for line in lines if line.startswith(".venv/bin/jupyter lab")]
        assert echoed == [[".venv/bin/jupyter", "lab", *expected]], lines
        assert any(ROOT_NOTE in line for line in lines) == root, lines
        assert not any("pip install" in line for line in lines), "make lab reinstalled the venv"
        servers = [p for p in tree if any(a.endswith("jupyter-lab") for a in p.cmdline()[:2])]
        assert len(servers) == 1, [p.cmdline() for p in tree]
        server = servers[0]
        assert server.uids().effective == user.outer_uid
        argv = server.cmdline()
        assert (
            argv[argv.index(next(a for a in argv if a.endswith("jupyter-lab"))) + 1 :] == expected
        )
        assert Path(server.cwd()) == REPO_ROOT

        # The token: required, and only the right one works.
        assert _get(status_url, token) == 200
        assert _get(status_url, None) in (401, 403)
        assert _get(status_url, secrets.token_hex(16)) in (401, 403)

        # Loopback only: every listening socket of the tree, and no answer on other addresses.
        listening = _listening(tree)
        assert any(p == port for _, p in listening), listening
        assert all(ipaddress.ip_address(ip).is_loopback for ip, _ in listening), listening
        for ip in _other_local_addresses():
            assert not _connects(ip, port), f"JupyterLab answers on {ip}:{port}"
    finally:
        _stop(process)

    assert process.returncode is not None
    gone, alive = psutil.wait_procs(tree, timeout=5)
    assert not alive, f"still running after the process group was stopped: {alive}"
