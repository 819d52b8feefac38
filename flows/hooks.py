"""When a run fails: one e-mail to the operations team (IURAN_OPS_EMAIL) with the link to the run.

`notify_operations` is an `on_failure` / `on_crashed` hook (the open-source Prefect server has no
e-mail notifications of its own). The message goes through the outbox like every other e-mail, keyed
`ops_failure:<flow run id>`, so a hook that runs twice for one run still sends one message; it is
delivered at once, alone (the run's other pending e-mails keep their own retry schedule). If the
registry database is what failed, the message goes through a local fallback outbox (SQLite under
IURAN_VAR) instead, so the failure that matters most is still reported.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from typing import Any
from zoneinfo import ZoneInfo

from prefect.client.schemas.objects import FlowRun
from prefect.logging.loggers import flow_run_logger
from prefect.states import State
from prefect.utilities.urls import url_for
from sqlalchemy.exc import SQLAlchemyError

from iuran.config import VAR, Settings, load_settings
from iuran.db.session import session_scope, upgrade
from iuran.mail.deliver import deliver_pending_sync
from iuran.mail.outbox import queue

log = logging.getLogger("iuran.hooks")

_NIK_LIKE = re.compile(r"(?<!\d)(\d{4})\d{8}(\d{4})(?!\d)")
_PERIOD_IN_NAME = re.compile(r"(\d{4}-\d{2})$")

HINTS = {
    "CycleBusy": "Run lain sedang memproses siklus yang sama; tunggu sampai selesai, lalu jalankan "
    "ulang bila perlu. Lease yang tidak diperbarui kedaluwarsa sendiri (IURAN_CYCLE_LEASE_MINUTES).",
    "RostersChanged": "Roster berubah setelah ringkasan disetujui; jalankan ulang siklus dan setujui "
    "angka yang baru.",
    "paused and never resumed": "Tidak ada keputusan persetujuan dalam batas waktu; jalankan ulang "
    "siklus bila tagihan tetap perlu diterbitkan.",
}
DEFAULT_HINT = (
    "Baca log flow run pada tautan di atas, perbaiki penyebabnya, lalu jalankan ulang siklus "
    "(Run → Custom run di Prefect UI, atau `prefect deployment run`)."
)


def notify_operations(flow: Any, flow_run: FlowRun, state: State[Any]) -> None:
    """Prefect hook: e-mail operations about a failed or crashed run; never raises."""
    logger = flow_run_logger(flow_run, flow)
    try:
        logger.info("operations: %s", send_failure_mail(flow.name, flow_run, state))
    except Exception:  # a hook must not hide the run's own failure behind its own
        logger.exception("could not e-mail operations about the failure of %s", flow_run.name)


def failure_context(flow_name: str, flow_run: FlowRun, state: State[Any]) -> dict[str, Any]:
    """The ops_failure template's context (see templates/email/ops_failure.txt.j2)."""
    params = flow_run.parameters or {}
    message = _NIK_LIKE.sub(lambda m: m[1] + "*" * 8 + m[2], state.message or "")[:4000]
    context: dict[str, Any] = {
        "flow_name": flow_name,
        "flow_run_name": flow_run.name,
        "state": state.name or "Failed",
        "error": message or "(no message)",
        "hint": next((h for k, h in HINTS.items() if k in message), DEFAULT_HINT),
        "occurred_at": (state.timestamp or dt.datetime.now(dt.UTC))
        .astimezone(ZoneInfo("Asia/Jakarta"))
        .isoformat(timespec="seconds"),
    }
    url = url_for("flow-run", obj_id=flow_run.id)
    if url:
        context["flow_run_url"] = url
    if params.get("program"):
        context["program"] = str(params["program"])
        period = params.get("period") or _period_in(flow_run.name)
        if period:
            context["period"] = str(period)
    return context


def _period_in(name: str) -> str | None:
    found = _PERIOD_IN_NAME.search(name or "")
    return found[1] if found else None


def send_failure_mail(
    flow_name: str, flow_run: FlowRun, state: State[Any], settings: Settings | None = None
) -> str:
    """Queue and deliver the ops_failure message of one run; says what happened."""
    params = flow_run.parameters or {}
    settings = settings or load_settings(params.get("db"), params.get("inbox"), params.get("out"))
    if not settings.ops_recipients:
        return f"IURAN_OPS_EMAIL is not set: nobody is told that {flow_run.name} failed"
    context = failure_context(flow_name, flow_run, state)
    key = f"ops_failure:{flow_run.id}"
    url = settings.database_url
    try:
        _queue(url, key, settings, context)
    except SQLAlchemyError as exc:
        log.warning("registry database unavailable (%s): using the fallback outbox", exc)
        url = f"sqlite:///{VAR / 'ops-outbox.db'}"
        upgrade(url)
        _queue(url, key, settings, context)
    report = deliver_pending_sync(url, settings, keys=[key])
    if report.sent:
        return f"failure of {flow_run.name} e-mailed to {', '.join(settings.ops_recipients)}"
    if report.errors:
        return f"failure e-mail for {flow_run.name} queued, not sent yet: {report.errors[0]}"
    return f"failure of {flow_run.name} was already reported"


def _queue(url: str, key: str, settings: Settings, context: dict[str, Any]) -> None:
    with session_scope(url) as session:
        queue(
            session,
            key=key,
            event="ops_failure",
            program=context.get("program", "-"),
            period=context.get("period"),
            to=settings.ops_recipients,
            template="ops_failure",
            context=context,
        )
