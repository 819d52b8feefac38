"""The roster end of the month as Prefect tasks: read the inbox, check every row, decide who is
billed. Reading the inbox and the registry is retried for the errors a retry can fix
(`tasks/retry.py`); checking rows is pure and is not."""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from iuran.registry import decide
from iuran.rosters.read import collect_rosters
from iuran.rosters.validate import validate_rows
from tasks.retry import at_the_edge

collect = at_the_edge(collect_rosters, "collect-rosters")
validate = task(name="validate-rosters", cache_policy=NO_CACHE)(validate_rows)
reconcile_registry = at_the_edge(decide, "reconcile-registry")
