"""Tasks of the payment flows: read the inbox's payment and receipt files, settle, remind; each
retried for the errors a retry can fix (`tasks/retry.py`)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from iuran.payments.credit import settle
from iuran.payments.imports import import_payment_file, import_receipt_file
from iuran.payments.read import inbox_files
from iuran.payments.rules import PAYMENT, RECEIPT
from iuran.programs import Program
from iuran.reminders import queue_reminders
from tasks.retry import transient

#: Inbox sub-folders of a program: SP2D files from BKAD, receipt files from the BPJS branch.
FOLDERS = {PAYMENT: "pembayaran", RECEIPT: "penerimaan"}


def import_inbox(
    database_url: str, program: Program, inbox: Path, kind: str, today: dt.date
) -> list[dict[str, Any]]:
    """Every file of `INBOX/<program>/<pembayaran|penerimaan>/` not imported before (by content)."""
    folder = inbox / program.code / FOLDERS[kind]
    importer = import_payment_file if kind == PAYMENT else import_receipt_file
    return [
        importer(
            database_url,
            path,
            program=program.code,
            today=today,
            source=str(path.relative_to(inbox)),
            skip_known=True,
        )
        for path in inbox_files(folder)
    ]


@task(
    name="import-payments",
    retries=2,
    retry_delay_seconds=10,
    retry_condition_fn=transient,
    cache_policy=NO_CACHE,
)
def import_payments(
    database_url: str, program: Program, inbox: Path, today: dt.date
) -> list[dict[str, Any]]:
    return import_inbox(database_url, program, inbox, PAYMENT, today)


@task(
    name="import-receipts",
    retries=2,
    retry_delay_seconds=10,
    retry_condition_fn=transient,
    cache_policy=NO_CACHE,
)
def import_receipts(
    database_url: str, program: Program, inbox: Path, today: dt.date
) -> list[dict[str, Any]]:
    return import_inbox(database_url, program, inbox, RECEIPT, today)


@task(
    name="settle-payments",
    retries=2,
    retry_delay_seconds=10,
    retry_condition_fn=transient,
    cache_policy=NO_CACHE,
)
def settle_payments(database_url: str, program: Program, today: dt.date) -> dict[str, Any]:
    return settle(database_url, program.code, today)


@task(
    name="queue-reminders",
    retries=2,
    retry_delay_seconds=10,
    retry_condition_fn=transient,
    cache_policy=NO_CACHE,
)
def remind(database_url: str, program: Program, today: dt.date) -> dict[str, int]:
    return queue_reminders(database_url, program, today)
