"""The month's story: collect → validate → reconcile → price → record → render → notify."""

from __future__ import annotations

import datetime as dt
from typing import Any

from prefect import flow, get_run_logger

from iuran.config import load_settings
from iuran.periods import Period
from iuran.programs import load_program
from iuran.summary import all_rejections, summarize, village_table
from tasks.billing import price, record, render
from tasks.notify import send
from tasks.report import publish
from tasks.rosters import collect, reconcile_registry, validate


@flow(name="monthly-cycle", flow_run_name="cycle-{program}-{period}", log_prints=False)
def monthly_cycle(
    program: str,
    period: str,
    inbox: str | None = None,
    db: str | None = None,
    out: str | None = None,
    dry_run: bool = False,
    today: dt.date | None = None,
) -> dict[str, Any]:
    settings = load_settings(db, inbox, out)
    plan = load_program(program)
    month = Period.parse(period)
    log = get_run_logger()

    rosters = collect(settings.inbox / plan.code / str(month))
    checked = validate(rosters.rows, plan, month)
    decided = reconcile_registry(
        settings.database_url,
        rosters.rows,
        checked,
        plan,
        month,
        settings.inbox / plan.code / str(month),
    )
    lines = price(decided, plan, month)
    rejected = all_rejections(checked, decided)
    recorded = record(
        settings.database_url,
        plan,
        month,
        rosters.files,
        rejected,
        decided,
        lines,
        settings.out / plan.code / str(month),
        today,
        dry_run,
    )
    sent = 0
    if not dry_run:
        render(settings.database_url, plan, month)
        sent = send(settings).sent

    summary = summarize(plan, month, rosters, checked, decided, recorded, sent)
    publish(summary, village_table(rosters, rejected, decided))
    log.info(
        "cycle %s %s: %s, %d billed, total %d, %d rejected rows",
        plan.code, month, summary["status"], summary["participants"]["billed"],
        summary["total_due"], summary["rows"]["rejected"],
    )  # fmt: skip
    return summary
