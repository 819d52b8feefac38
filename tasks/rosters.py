"""Tasks at the roster end of the cycle: read the inbox, check every row, decide who is billed."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from prefect import task
from prefect.cache_policies import NO_CACHE

from iuran.periods import Period
from iuran.programs import Program
from iuran.reconcile import Reconciled
from iuran.registry import decide
from iuran.rosters.read import Collected, collect_rosters
from iuran.rosters.validate import Validated, validate_rows


@task(name="collect-rosters", retries=2, retry_delay_seconds=10, cache_policy=NO_CACHE)
def collect(folder: Path, keep: Path | None = None) -> Collected:
    return collect_rosters(str(folder), keep)


@task(name="validate-rosters", cache_policy=NO_CACHE)
def validate(rows: pd.DataFrame, program: Program, period: Period) -> Validated:
    return validate_rows(rows, program, period)


@task(name="reconcile-registry", retries=2, retry_delay_seconds=10, cache_policy=NO_CACHE)
def reconcile_registry(
    database_url: str,
    rows: pd.DataFrame,
    checked: Validated,
    program: Program,
    period: Period,
    folder: Path | None = None,
) -> Reconciled:
    return decide(database_url, rows, checked.accepted, program, period, folder)
