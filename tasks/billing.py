"""Tasks that price, record and document the month's invoices."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
from prefect import task
from prefect.cache_policies import NO_CACHE

from iuran.cycle import Recorded, record_cycle
from iuran.cycle_reports import ReportPaths, write_reports
from iuran.documents import render_pending
from iuran.periods import Period
from iuran.pricing import price_lines
from iuran.programs import Program
from iuran.reconcile import Reconciled
from iuran.rerun import Kept, inputs_key, recall


@task(name="price", cache_policy=NO_CACHE)
def price(decided: Reconciled, program: Program, period: Period) -> pd.DataFrame:
    return price_lines(decided.billed, program, period)


@task(name="record-cycle", retries=2, retry_delay_seconds=10, cache_policy=NO_CACHE)
def record(
    database_url: str,
    program: Program,
    period: Period,
    files: pd.DataFrame,
    rejected: pd.DataFrame,
    decided: Reconciled,
    lines: pd.DataFrame,
    out_dir: Path,
    today: dt.date | None = None,
    dry_run: bool = False,
) -> Recorded:
    return record_cycle(
        database_url, program, period, files, rejected, decided, lines, out_dir, today, dry_run
    )


@task(name="write-reports", retries=2, retry_delay_seconds=10, cache_policy=NO_CACHE)
def reports(
    database_url: str,
    program: Program,
    period: Period,
    rows: pd.DataFrame,
    files: pd.DataFrame,
    rejected: pd.DataFrame,
    decided: Reconciled,
    recorded: Recorded,
    out_dir: Path,
    today: dt.date | None = None,
) -> ReportPaths:
    return write_reports(
        database_url, program, period, rows, files, rejected, decided,
        recorded.budget.as_dict(), out_dir, today or dt.date.today(),
        unchanged=recorded.status == "unchanged",
    )  # fmt: skip


@task(name="render-documents", retries=2, retry_delay_seconds=10, cache_policy=NO_CACHE)
def render(database_url: str, program: Program, period: Period) -> list[str]:
    return render_pending(database_url, program, period)


@task(name="recall-unchanged", retries=2, retry_delay_seconds=10, cache_policy=NO_CACHE)
def recall_unchanged(
    database_url: str, program: Program, period: Period, folder: Path, out_dir: Path
) -> tuple[str, Kept | None]:
    """The key of this run's inputs, and the last complete run's answer if the key is the same."""
    key = inputs_key(database_url, program, period, folder)
    return key, recall(database_url, program, period, key, out_dir)
