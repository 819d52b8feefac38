"""The classic double send: the SMTP server takes the message, then the connection drops before its
final `250`. The sender cannot know the message arrived, so it keeps the row undelivered (failing,
with its next attempt, shown in every summary) and sends it again: at-least-once, the resend with
the same Message-ID (derived from the outbox row's key), so the recipient's mail system or reader
can recognise it as the same message. On SQLite and PostgreSQL, against aiosmtpd."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from iuran.db.session import session_scope
from iuran.mail.compose import message_id
from iuran.mail.deliver import backoff, deliver_pending_sync
from iuran.mail.outbox import undelivered
from iuran.status import undelivered_lines
from tests.smtp_server import MAIL_FROM, smtp_server
from tests.unit.test_mail import enqueue, rows

T0 = dt.datetime(2026, 1, 5, 8, 0, tzinfo=dt.UTC)
KEY = "invoice_issued:lebak:2026-01:r0:bkad"


def waiting(url: str) -> list[dict[str, object]]:
    with session_scope(url) as session:
        return undelivered(session, "lebak", "2026-01")


def test_a_message_accepted_then_dropped_is_sent_again_with_the_same_message_id(
    database_url: str, tmp_path: Path
) -> None:
    enqueue(database_url, KEY)
    enqueue(database_url, "invoice_issued:lebak:2026-01:r1:bkad")
    with smtp_server() as server:
        settings = server.settings(database_url, tmp_path / "outbox")
        server.faults.accept_then_drop = 1

        first = deliver_pending_sync(database_url, settings, now=T0)
        assert len(server.messages) == 2  # the server has both: the first one's 250 never came
        assert (first.sent, first.failed, first.pending) == (1, 0, 1)  # the next one reconnects
        row = rows(database_url)[KEY]
        assert (row.status, row.attempts, row.sent_at) == ("pending", 1, None)
        assert "SMTPServerDisconnected" in (row.last_error or "")
        [shown] = waiting(database_url)  # what `iuran cycle` and `iuran status` print
        assert (shown["state"], shown["attempts"]) == ("failing", 1)
        assert shown["next_attempt_at"] == (T0 + backoff(1)).isoformat()
        [line] = undelivered_lines([shown])
        assert "1x dicoba" in line and "percobaan berikut 2026-01-05 08:00 UTC" in line

        again = deliver_pending_sync(database_url, settings, now=T0 + backoff(1))
        assert (again.sent, again.pending, again.errors) == (1, 0, [])
        assert deliver_pending_sync(database_url, settings, now=T0 + dt.timedelta(days=1)).sent == 0
        copies = [m.message for m in server.messages if m.message["X-Iuran-Notification"] == KEY]
    assert len(server.messages) == 3 and len(copies) == 2  # at-least-once: one duplicate
    sent = rows(database_url)[KEY]
    assert (sent.status, sent.attempts) == ("sent", 2) and waiting(database_url) == []
    assert copies[0]["Message-ID"] == copies[1]["Message-ID"] == sent.message_id
    assert sent.message_id == message_id(KEY, MAIL_FROM)
    texts = [c.get_body(("plain",)) for c in copies]
    assert texts[0] is not None and texts[1] is not None
    assert texts[0].get_content() == texts[1].get_content()
