"""The roster end of the month as Prefect tasks: read the inbox, check every row, decide who is
billed. Reading the inbox and the registry is retried for the errors a retry can fix
(`tasks/retry.py`); checking rows is pure and is not."""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from iuran import month
from iuran.rosters.validate import validate_rows
from tasks.retry import transient

collect = task(
    name="collect-rosters",
    retries=2,
    retry_delay_seconds=10,
    retry_condition_fn=transient,
    cache_policy=NO_CACHE,
)(month.collect)

validate = task(name="validate-rosters", cache_policy=NO_CACHE)(validate_rows)

reconcile_registry = task(
    name="reconcile-registry",
    retries=2,
    retry_delay_seconds=10,
    retry_condition_fn=transient,
    cache_policy=NO_CACHE,
)(month.reconcile)
