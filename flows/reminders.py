"""Reminders before the due date, after it, and before the workers lose their protection: one per
invoice (or payer) per window, so the flow can run any number of times a day."""

from __future__ import annotations

import datetime as dt
from typing import Any

from prefect import flow, get_run_logger

import flows.engine  # noqa: F401  (a run's end does not wait for its heartbeat thread)
from iuran.config import load_settings
from iuran.programs import load_program
from tasks.notify import send
from tasks.payments import remind


@flow(name="reminders", flow_run_name="reminders-{program}", log_prints=False)
def reminders(program: str, db: str | None = None, today: dt.date | None = None) -> dict[str, Any]:
    settings = load_settings(db)
    plan = load_program(program)
    today = today or dt.date.today()
    queued = remind(settings.database_url, plan, today)
    delivered = send(settings)
    get_run_logger().info("reminders %s %s: %s queued", plan.code, today, queued)
    return {
        "program": plan.code,
        "today": today.isoformat(),
        "queued": queued,
        "notifications": {"sent": delivered.sent, "failed": delivered.failed},
    }
