"""Delivering the outbox: retried with backoff for the errors a retry can fix, and never twice for
a delivered row."""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from iuran import month
from tasks.retry import transient

send = task(
    name="send-notifications",
    retries=3,
    retry_delay_seconds=[10, 60, 300],
    retry_condition_fn=transient,
    cache_policy=NO_CACHE,
)(month.deliver)
