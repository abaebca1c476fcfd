"""Test helpers shared by tests/test_download.py and tests/test_data.py: IDX bytes written from
the format description (independent of helpers.download.read_idx), SHA-256 from hashlib, and a
loopback HTTP server whose routes misbehave on request. Nothing here reaches beyond 127.0.0.1."""

from __future__ import annotations

import hashlib
import http.server
import struct
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

_IDX_CODES = {np.uint8: 0x08, np.int8: 0x09, np.int16: 0x0B, np.int32: 0x0C, np.float32: 0x0D}


def idx_bytes(array: np.ndarray) -> bytes:
    """IDX encoding written from the format description, independent of read_idx."""
    code = _IDX_CODES[array.dtype.type]
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def sha256_of(payload: bytes) -> str:
    return hashlib.sha256(payload).hexdigest()


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


class MisbehavingHandler(http.server.BaseHTTPRequestHandler):
    """GET /<behaviour>/<file name>: ok, forbidden, cut (short body), wrong (bad bytes), slow,
    redirect (to /ok/ on this server), redirect-insecure (to http://example.com/)."""

    def do_GET(self) -> None:
        _, behaviour, name = self.path.split("/", 2)
        payload = self.server.files.get(name)  # type: ignore[attr-defined]
        if behaviour == "forbidden" or payload is None:
            self.send_error(403 if behaviour == "forbidden" else 404)
            return
        if behaviour.startswith("redirect"):
            target = "http://example.com/" if behaviour == "redirect-insecure" else "/ok/"
            self.send_response(302)
            self.send_header("Location", target + name)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if behaviour == "slow":
            time.sleep(1.5)
        if behaviour == "wrong":
            payload = bytes(reversed(payload))
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if behaviour == "cut":
            self.wfile.write(payload[: len(payload) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(payload)

    def log_message(self, format: str, *args: object) -> None:
        pass


class QuietServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # the client hung up on the slow route on purpose


@pytest.fixture
def server() -> Iterator[QuietServer]:
    """A loopback HTTP server; put payloads in ``server.files`` and use ``server.base``."""
    httpd = QuietServer(("127.0.0.1", 0), MisbehavingHandler)
    httpd.files = {}  # type: ignore[attr-defined]
    httpd.base = f"http://127.0.0.1:{httpd.server_address[1]}"  # type: ignore[attr-defined]
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
    )
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)
