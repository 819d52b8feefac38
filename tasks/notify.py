"""Delivering the outbox: retried with backoff for the errors a retry can fix (`tasks/retry.py`),
and never twice for a delivered row."""

from __future__ import annotations

from iuran.mail.deliver import deliver_outbox
from tasks.retry import at_the_edge

send = at_the_edge(
    deliver_outbox, "send-notifications", retries=3, retry_delay_seconds=[10, 60, 300]
)
