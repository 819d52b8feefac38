"""The payment day's steps (`iuran/payment_day.py`) and the reminders as Prefect tasks: each adds a
name, and retries for the errors a retry can fix (`tasks/retry.py`)."""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from iuran import payment_day
from iuran.payments.credit import settle
from iuran.reminders import queue_reminders
from tasks.retry import transient

import_payments = task(
    name="import-payments",
    retries=2,
    retry_delay_seconds=10,
    retry_condition_fn=transient,
    cache_policy=NO_CACHE,
)(payment_day.import_payments)

import_receipts = task(
    name="import-receipts",
    retries=2,
    retry_delay_seconds=10,
    retry_condition_fn=transient,
    cache_policy=NO_CACHE,
)(payment_day.import_receipts)

settle_payments = task(
    name="settle-payments",
    retries=2,
    retry_delay_seconds=10,
    retry_condition_fn=transient,
    cache_policy=NO_CACHE,
)(settle)

remind = task(
    name="queue-reminders",
    retries=2,
    retry_delay_seconds=10,
    retry_condition_fn=transient,
    cache_policy=NO_CACHE,
)(queue_reminders)
