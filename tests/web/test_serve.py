"""`iuran web` serves the counter: the command starts uvicorn on loopback and the login form answers."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_iuran_web_serves_the_login_form(tmp_path: Path, sqlite_url: str) -> None:
    port = _free_port()
    env = os.environ | {"IURAN_PRIVATE": str(tmp_path / "private"), "IURAN_WEB_SECRET": ""}
    server = subprocess.Popen(
        [sys.executable, "-m", "iuran.cli", "web", "--port", str(port), "--db", sqlite_url],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline, page = time.monotonic() + 90, None
        while page is None:
            assert server.poll() is None, server.stderr.read().decode() if server.stderr else ""
            assert time.monotonic() < deadline, "iuran web did not answer"
            try:
                page = httpx.get(f"http://127.0.0.1:{port}/masuk", timeout=5)
            except httpx.TransportError:
                time.sleep(0.2)
        assert page.status_code == 200 and 'name="csrf"' in page.text
        assert "server" not in page.headers  # uvicorn does not say what it is
        assert httpx.get(f"http://127.0.0.1:{port}/desa").status_code == 303
        secret = tmp_path / "private" / "web-secret"  # made once, owner-only
        assert secret.stat().st_mode & 0o777 == 0o600
    finally:
        server.terminate()
        server.wait(30)
