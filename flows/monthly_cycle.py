"""The month's story: collect → validate → reconcile → price → record → reports → render → notify.

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
import hashlib
from collections.abc import Iterator
from typing import Any, cast
from zoneinfo import ZoneInfo

import pandas as pd
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
from iuran.periods import Period
from iuran.programs import Program, ProgramError, load_program
from iuran.rerun import remember
from iuran.rosters.read import KEEP_NAME
from iuran.summary import all_rejections, summarize, village_table
from tasks.billing import price, recall_unchanged, record, render, reports
from tasks.notify import send
from tasks.report import publish
from tasks.rosters import collect, reconcile_registry, validate


class Approval(RunInput):
    """The form an operator fills in the Prefect UI ("Resume") before a gated program issues."""

    approve: bool = Field(
        False, title="Terbitkan tagihan?", description="Centang untuk menerbitkan"
    )
    note: str = Field("", title="Catatan", description="Siapa memutuskan dan mengapa")


class ApprovalUnavailable(RuntimeError):
    """A gated program run on Prefect's ephemeral API: nobody could ever approve it."""


class RostersChanged(RuntimeError):
    """The rosters changed between the summary an operator approved and the run that issues."""


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
        preview, inputs = bill(settings, plan, month, today, dry_run=True)
        if preview["status"] in ("issued", "revised"):
            decision = ask_approval(
                preview, settings.approval_timeout, settings.approval_poll_seconds
            )
            if not decision.approve:
                return cast(dict[str, Any], rejected(preview, decision))
            approved_inputs = inputs

    with lease(settings, plan, month, dry_run):
        summary, _ = bill(settings, plan, month, today, dry_run, approved_inputs)

    get_run_logger().info(
        "cycle %s %s: %s%s, %d billed, total %d, %d rejected rows",
        plan.code, month, summary["status"], " (dry run)" if dry_run else "",
        summary["participants"]["billed"], summary["total_due"], summary["rows"]["rejected"],
    )  # fmt: skip
    return summary


def bill(
    settings: Settings,
    plan: Program,
    month: Period,
    today: dt.date | None,
    dry_run: bool,
    approved_inputs: str | None = None,
) -> tuple[dict[str, Any], str]:
    """The month's steps; returns the summary and a fingerprint of the rosters it read."""
    folder = settings.inbox / plan.code / str(month)
    out_dir = settings.out / plan.code / str(month)
    key = None
    if not dry_run:  # most reruns change nothing: answer them from the last complete run
        key, kept = recall_unchanged(settings.database_url, plan, month, folder, out_dir)
        if kept is not None:
            publish(kept.summary, kept.villages, settings.documents_url)
            return kept.summary, kept.inputs
    rosters = collect(folder, None if dry_run else out_dir / KEEP_NAME)  # reread what changed
    inputs = fingerprint(rosters.files)
    if approved_inputs is not None and inputs != approved_inputs:
        raise RostersChanged(
            f"the rosters of {plan.code} {month} changed after the summary was approved; "
            "nothing was issued: run the cycle again to approve the new figures"
        )
    checked = validate(rosters.rows, plan, month)
    decided = reconcile_registry(settings.database_url, rosters.rows, checked, plan, month, folder)
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
        out_dir,
        today,
        dry_run,
    )
    sent = 0
    if not dry_run and recorded.status != "stopped":
        reports(settings.database_url, plan, month, rosters.rows, rosters.files, rejected, decided, recorded, out_dir, today)  # fmt: skip
        render(settings.database_url, plan, month)
        sent = send(settings).sent

    summary = summarize(plan, month, rosters, checked, decided, recorded, sent)
    villages = village_table(rosters, rejected, decided)
    publish(summary, villages, settings.documents_url)
    if key is not None and recorded.status != "stopped":
        remember(settings.database_url, plan, month, key, summary, villages, inputs)
    return summary, inputs


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


def fingerprint(files: pd.DataFrame) -> str:
    """The roster files a run read, as one hash: path and content of each."""
    pairs = sorted(zip(files["path"].astype(str), files["sha256"].astype(str), strict=True))
    return hashlib.sha256("\n".join(f"{p}\t{h}" for p, h in pairs).encode()).hexdigest()


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
