"""The command line finds `make up`'s Prefect server from the file `make up` writes, and falls back to
the embedded default when that file is stale; `iuran --help` starts nothing heavy."""

from __future__ import annotations

import http.server
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from deployments.local import announce
from iuran.config import running_server, use_running_server

ROOT = Path(__file__).resolve().parents[2]


def _health_server(body: bytes) -> http.server.ThreadingHTTPServer:
    class Health(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            ok = self.path == "/api/health"
            self.send_response(200 if ok else 404)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body if ok else b"{}")

        def log_message(self, *_: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def prefect_like() -> Iterator[str]:
    """A loopback server answering `/api/health` as Prefect's does; its API address."""
    server = _health_server(b"true")
    yield f"http://127.0.0.1:{server.server_address[1]}/api"
    server.shutdown()
    server.server_close()


def test_the_address_make_up_writes_is_found_while_the_server_answers(
    prefect_like: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    file = tmp_path / "run" / "prefect-api-url"
    announce(prefect_like, file)
    assert running_server(file) == prefect_like
    assert use_running_server(file) == prefect_like
    assert os.environ["PREFECT_API_URL"] == prefect_like


def test_a_stale_file_falls_back_to_the_embedded_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server `make up` started is gone (its port closed): no API address, nothing set."""
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    gone = _health_server(b"true")
    url = f"http://127.0.0.1:{gone.server_address[1]}/api"
    gone.server_close()
    file = tmp_path / "prefect-api-url"
    announce(url, file)
    assert use_running_server(file) is None
    assert "PREFECT_API_URL" not in os.environ


@pytest.mark.parametrize("content", ["", "not an address", "http://127.0.0.1:1/api"])
def test_no_file_or_a_useless_one_is_the_embedded_default(
    content: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    assert running_server(tmp_path / "absent") is None
    (tmp_path / "file").write_text(content)
    assert use_running_server(tmp_path / "file") is None


def test_something_else_on_the_port_is_not_taken_for_the_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another program took the port after the server stopped: it does not say `true`."""
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    other = _health_server(b'{"status": "ok"}')
    try:
        announce(f"http://127.0.0.1:{other.server_address[1]}/api", tmp_path / "f")
        assert use_running_server(tmp_path / "f") is None
    finally:
        other.shutdown()
        other.server_close()


def test_an_explicit_prefect_api_url_wins(
    prefect_like: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    announce(prefect_like, tmp_path / "f")
    monkeypatch.setenv("PREFECT_API_URL", "http://elsewhere:4200/api")
    assert use_running_server(tmp_path / "f") == "http://elsewhere:4200/api"
    monkeypatch.setenv("PREFECT_API_URL", "")  # asked for the embedded default
    assert use_running_server(tmp_path / "f") is None
    assert os.environ["PREFECT_API_URL"] == ""


def test_help_imports_neither_prefect_nor_pandas(tmp_path: Path) -> None:
    probe = (
        "import sys\n"
        "from iuran.cli import app\n"
        "try:\n"
        "    app(['--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "sys.stderr.write(' '.join(m for m in ('prefect', 'pandas') if m in sys.modules))\n"
    )
    env = {**os.environ, "IURAN_VAR": str(tmp_path / "var"), "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", probe], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert "cycle" in done.stdout
    assert done.stderr.strip() == ""
