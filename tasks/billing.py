"""The month's steps from the rerun shortcut to the documents, as Prefect tasks.

Each task is a step of `iuran/month.py` as it stands, with a name; the steps that touch the database
or the file system are retried for the errors a retry can fix (`tasks/retry.py`), pricing is not.
"""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from iuran import month
from iuran.cycle import record_cycle
from iuran.cycle_reports import write_reports
from iuran.pricing import price_lines
from iuran.render import render_pending
from tasks.retry import at_the_edge

recall_unchanged = at_the_edge(month.recall_unchanged, "recall-unchanged")
price = task(name="price", cache_policy=NO_CACHE)(price_lines)
record = at_the_edge(record_cycle, "record-cycle")
reports = at_the_edge(write_reports, "write-reports")
render = at_the_edge(render_pending, "render-documents")
