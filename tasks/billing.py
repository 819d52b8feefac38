"""The month's steps from the rerun shortcut to the documents, as Prefect tasks.

Each task is a step of `iuran/month.py` as it stands: these add a name, and retries where the step
touches the database or the file system, for the errors a retry can fix (`tasks/retry.py`).
"""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from iuran import month
from iuran.cycle import record_cycle, render_pending
from tasks.retry import transient

recall_unchanged = task(
    name="recall-unchanged",
    retries=2,
    retry_delay_seconds=10,
    retry_condition_fn=transient,
    cache_policy=NO_CACHE,
)(month.recall_unchanged)

price = task(name="price", cache_policy=NO_CACHE)(month.price)

record = task(
    name="record-cycle",
    retries=2,
    retry_delay_seconds=10,
    retry_condition_fn=transient,
    cache_policy=NO_CACHE,
)(record_cycle)

reports = task(
    name="write-reports",
    retries=2,
    retry_delay_seconds=10,
    retry_condition_fn=transient,
    cache_policy=NO_CACHE,
)(month.reports)

render = task(
    name="render-documents",
    retries=2,
    retry_delay_seconds=10,
    retry_condition_fn=transient,
    cache_policy=NO_CACHE,
)(render_pending)
