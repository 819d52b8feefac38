"""The month's story: recall → collect → validate → reconcile → price → record → reports → render
→ notify → publish → remember, told once in `iuran/month.py` and run here with each step a task.

A run is one (program, period). Running it again is the rerun: when nothing the month depends on
changed since its last complete run, that run's answer is given at once (`iuran/rerun.py`); a
fixed roster revises only what changed, and `dry_run` reports what a rerun would change, writing
nothing. Scheduled runs pass no period and bill the month they were scheduled in (the program's
timezone, Asia/Jakarta unless the program file says otherwise); an admin passes `period=2026-01`.

While it writes, a run holds the cycle's lease in the database (`iuran/locks.py`): a second run of the
same (program, period), from any worker on any machine, is refused instead of billing twice. A program
with `approval_required` stops before issuing, shows the summary, and waits for an operator's decision
in the Prefect UI. A failed run e-mails the operations team (`flows/hooks.py`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from typing import Any, cast
from zoneinfo import ZoneInfo

from prefect import flow, get_run_logger
from prefect.client.orchestration import get_client
from prefect.context import FlowRunContext
from prefect.flow_runs import pause_flow_run
from prefect.input import RunInput
from prefect.runtime import flow_run as current_run
from prefect.settings import PREFECT_API_URL
from prefect.states import Completed, State
from pydantic import Field

import flows.engine  # noqa: F401  (a run's end does not wait for its heartbeat thread)
from flows.hooks import notify_operations
from iuran.config import APPROVAL_POLL_SECONDS, APPROVAL_TIMEOUT, Settings, load_settings
from iuran.locks import default_holder, held
from iuran.money import rupiah
from iuran.month import Steps, run_month
from iuran.periods import Period
from iuran.programs import Program, ProgramError, load_program
from iuran.rerun import remember
from tasks.billing import price, recall_unchanged, record, render, reports
from tasks.notify import send
from tasks.report import publish
from tasks.rosters import collect, reconcile_registry, validate

#: The month, one task run per step (ten; an unchanged rerun: recall and publish).
MONTH = Steps(
    recall=recall_unchanged,  # nothing changed since the last complete run? its answer, and stop
    collect=collect,  # every roster file of the month's inbox folder into one frame
    validate=validate,  # row rules: accepted rows, rejected rows with a code and a message
    reconcile=reconcile_registry,  # against the registry: new, continuing, ended, conflicts
    price=price,  # the program's premium rule for the period, discounts, integer Rupiah
    record=record,  # one transaction: registry, invoices and lines, the outbox
    reports=reports,  # correction lists, data quality, mutation list, the program report
    render=render,  # invoice PDF and XLSX detail sheet of every invoice not rendered yet
    deliver=send,  # the outbox, by SMTP or to the file outbox
    publish=publish,  # the summary and tables as artifacts in the Prefect UI
    remember=remember,  # the key and answer of this complete run, for the next rerun
)


class Approval(RunInput):
    """The form an operator fills in the Prefect UI ("Resume") before a gated program issues."""

    approve: bool = Field(
        False, title="Terbitkan tagihan?", description="Centang untuk menerbitkan"
    )
    note: str = Field("", title="Catatan", description="Siapa memutuskan dan mengapa")


class ApprovalUnavailable(RuntimeError):
    """A gated program run on Prefect's ephemeral API: nobody could ever approve it."""


def run_name() -> str:
    """`cycle-lebak-2026-01`: the program and the period the run bills (scheduled runs included)."""
    params = current_run.parameters
    code = str(params["program"])
    return f"cycle-{code}-{period_of(code, params.get('period'))}"


@flow(
    name="monthly-cycle",
    flow_run_name=run_name,
    log_prints=False,
    on_failure=[notify_operations],
    on_crashed=[notify_operations],
)
def monthly_cycle(
    program: str,
    period: str | None = None,
    inbox: str | None = None,
    db: str | None = None,
    out: str | None = None,
    dry_run: bool = False,
    today: dt.date | None = None,
) -> dict[str, Any]:
    """Bill one program for one month (period `YYYY-MM`; empty: the month the run was scheduled in).

    `dry_run` reports what the run would change and writes nothing.
    """
    settings = load_settings(db, inbox, out)
    plan = load_program(program)
    month = period_of(plan, period)
    tag_run(plan)
    approved_inputs = None

    if plan.approval_required and not dry_run:
        preview = run_month(MONTH, settings, plan, month, today, dry_run=True)
        if preview.summary["status"] in ("issued", "revised"):
            decision = ask_approval(
                preview.summary, settings.approval_timeout, settings.approval_poll_seconds
            )
            if not decision.approve:
                return cast(dict[str, Any], rejected(preview.summary, decision))
            approved_inputs = preview.inputs

    with lease(settings, plan, month, dry_run):
        summary = run_month(MONTH, settings, plan, month, today, dry_run, approved_inputs).summary

    get_run_logger().info(
        "cycle %s %s: %s%s, %d billed, total %d, %d rejected rows",
        plan.code, month, summary["status"], " (dry run)" if dry_run else "",
        summary["participants"]["billed"], summary["total_due"], summary["rows"]["rejected"],
    )  # fmt: skip
    return summary


# ---------------------------------------------------------------------------------------------------
# Run plumbing: the period of a scheduled run, tags, the lease, the approval gate


def period_of(program: Program | str, period: str | None) -> Period:
    """The period asked for, or the month the run was scheduled in, in the program's timezone."""
    if period:
        return Period.parse(period)
    tz = "Asia/Jakarta"
    with contextlib.suppress(ProgramError):
        tz = (load_program(program) if isinstance(program, str) else program).schedule.timezone
    return month_at(current_run.scheduled_start_time, tz)


def month_at(moment: dt.datetime, tz: str) -> Period:
    local = moment.astimezone(ZoneInfo(tz))
    return Period(local.year, local.month)


def tag_run(plan: Program) -> None:
    """Tag the run `program:<code>` whoever started it (deployment runs carry it already).

    The run, not its task runs: Prefect asks the server for tag concurrency slots before every
    tagged task run, a round trip each that took seconds when the server was busy.
    """
    ctx = FlowRunContext.get()
    tag = f"program:{plan.code}"
    if ctx is None or ctx.flow_run is None or tag in ctx.flow_run.tags:
        return
    with get_client(sync_client=True) as client:
        client.update_flow_run(ctx.flow_run.id, tags=[*ctx.flow_run.tags, tag])
    ctx.flow_run.tags.append(tag)


def run_holder() -> str:
    """Who holds a lease, as the refusal message shows it: run name and id, host and pid."""
    return default_holder(f"{current_run.name} ({current_run.id})" if current_run.id else "cli")


@contextlib.contextmanager
def lease(settings: Settings, plan: Program, month: Period, dry_run: bool) -> Iterator[None]:
    """The cycle's lease for a run that writes; a dry run writes nothing and needs none."""
    if dry_run:
        yield
        return
    with held(
        settings.database_url,
        plan.code,
        str(month),
        run_holder(),
        stale_after=settings.cycle_lease,
    ):
        yield


def ask_approval(
    preview: dict[str, Any],
    timeout: dt.timedelta = APPROVAL_TIMEOUT,
    poll_seconds: int = APPROVAL_POLL_SECONDS,
) -> Approval:
    """Pause the run until an operator approves or rejects the summary in the UI; past `timeout`
    without a decision the run fails (and operations hear of it)."""
    if not PREFECT_API_URL.value():
        raise ApprovalUnavailable(
            f"program {preview['program']} needs an operator's approval before issuing, and this "
            "run has no Prefect server to ask it on: run it through its deployment (or with "
            "PREFECT_API_URL set), or preview it with a dry run"
        )
    get_run_logger().info(
        "cycle %s %s waits for approval: %s, total %s",
        preview["program"], preview["period"], preview["status"], rupiah(preview["total_due"]),
    )  # fmt: skip
    return pause_flow_run(
        wait_for_input=Approval.with_initial_data(
            description=approval_request(preview), approve=False
        ),
        timeout=int(timeout.total_seconds()),
        poll_interval=poll_seconds,
        key=f"approval-{preview['program']}-{preview['period']}",
    )


def approval_request(s: dict[str, Any]) -> str:
    """What the operator decides on: counts and totals, never a NIK."""
    r, p, b = s["rows"], s["participants"], s["budget"]
    lines = [
        f"## Persetujuan penerbitan tagihan {s['program']} {s['period']}",
        "",
        f"Jika disetujui, siklus ini akan **{s['status']}**: "
        f"total tagihan {rupiah(s['total_due'])} untuk {p['billed']} peserta.",
        "",
        f"- Baris roster: {r['received']} diterima, {r['accepted']} lolos, {r['rejected']} ditolak",
        f"- Peserta: baru {p['new']}, lanjutan {p['continuing']}, berhenti {p['ended']}",
        f"- Pagu {rupiah(b['pagu'])}; ditagih s.d. periode ini {rupiah(b['billed_to_date'])}; "
        f"proyeksi setahun {rupiah(b['projected_year'])}; kekurangan {rupiah(b['shortfall'])}",
        "",
        "| tagihan | revisi | perubahan | peserta | total |",
        "| --- | ---: | --- | ---: | ---: |",
        *(
            f"| {i['number']} | {i['revision']} | {i['status']} | {i['participants']} | {rupiah(i['total'])} |"
            for i in s["invoices"][:50]
        ),
    ]
    if len(s["invoices"]) > 50:
        lines.append(f"| … dan {len(s['invoices']) - 50} tagihan lain | | | | |")
    if s["rejections"]:
        lines += ["", "Penolakan per alasan: " + ", ".join(f"{k} {v}" for k, v in s["rejections"].items())]  # fmt: skip
    lines += [
        "",
        "Rincian per desa ada di artefak pratinjau run ini. Centang *approve* untuk menerbitkan, "
        "atau biarkan kosong dan isi catatan untuk menolak (tidak ada yang ditulis).",
    ]
    return "\n".join(lines)


def rejected(preview: dict[str, Any], decision: Approval) -> State[dict[str, Any]]:
    """The run ends as `Rejected` (a completed state): nothing issued, the decision on record."""
    note = decision.note.strip() or "tanpa catatan"
    get_run_logger().warning(
        "cycle %s %s: issue rejected by the operator (%s); nothing written",
        preview["program"], preview["period"], note,
    )  # fmt: skip
    summary = preview | {
        "status": "rejected",
        "dry_run": False,
        "notifications": {"queued": 0, "sent": 0},
        "approval": {"approve": False, "note": note},
    }
    return Completed(
        name="Rejected",
        message=f"Penerbitan ditolak operator: {note}. Tidak ada yang ditulis.",
        data=summary,
    )
