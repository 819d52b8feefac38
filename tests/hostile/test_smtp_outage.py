"""The one SMTP fault tests/unit/test_mail.py leaves out: the server entirely down (nothing listening
on its port, the connection refused), then back on the same address. Every message waits, then goes
out exactly once; the stored error says what happened and carries no password."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

import tests.smtp_server as smtp
from iuran.mail.deliver import backoff
from tests.unit.test_mail import PASSWORD, T0, deliver, enqueue, keys_received, no_secret, rows

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")


def test_server_down_then_back_delivers_each_message_once(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = smtp.free_port()
    monkeypatch.setattr(smtp, "free_port", lambda host="127.0.0.1": port)  # the same address twice
    with smtp.smtp_server(auth=("iuran", PASSWORD)) as server:
        settings = server.settings(sqlite_url, tmp_path / "outbox")
    for key in ("a", "b", "c"):
        enqueue(sqlite_url, key)

    down = deliver(sqlite_url, settings)  # nothing listens on the port any more
    assert (down.sent, down.failed, down.pending) == (0, 0, 3)
    for row in rows(sqlite_url).values():
        assert (row.status, row.attempts) == ("pending", 1)
        assert row.last_error and "cannot connect" in row.last_error and no_secret(row.last_error)
    later = T0 + backoff(1)
    assert deliver(sqlite_url, settings, now=later - dt.timedelta(seconds=1)).sent == 0

    with smtp.smtp_server(auth=("iuran", PASSWORD)) as server:
        assert server.port == port
        back = deliver(sqlite_url, settings, now=later)
        assert (back.sent, back.pending, back.errors) == (3, 0, [])
        assert deliver(sqlite_url, settings, now=later + dt.timedelta(days=1)).sent == 0
        assert keys_received(server) == ["a", "b", "c"]  # each exactly once
        assert server.connections == 1
    assert {r.status for r in rows(sqlite_url).values()} == {"sent"}
