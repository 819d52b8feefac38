"""Delivering the outbox: retried with backoff, and never twice for a delivered row."""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from iuran.config import Settings
from iuran.mail.deliver import DeliveryReport, deliver_pending_sync


@task(
    name="send-notifications", retries=3, retry_delay_seconds=[10, 60, 300], cache_policy=NO_CACHE
)
def send(settings: Settings) -> DeliveryReport:
    return deliver_pending_sync(settings.database_url, settings)
