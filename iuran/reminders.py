"""Reminders: due soon, overdue, lapse warning. One message per invoice (or payer) per window,
however often the `reminders` flow runs.

- **Due soon** (`reminder_due`): windows open `REMINDER_DAYS` days before the due date (7 and 2 days:
  two reminders at most); an invoice gets one reminder per window, and none for a window that opened
  before the invoice was issued. Nothing once it is paid.
- **Overdue** (`overdue`): once per invoice revision, the first run after the due date.
- **Lapse warning** (`lapse_warning`): once per payer and period when a payer has `LAPSE_AFTER - 1`
  consecutive past-due unpaid months: the next one makes the workers lose their protection.

Where the regency pays, each invoice has its own message; where villages pay, the villages' invoices
go to BKAD in one digest per period and window. `PaymentReminder` rows (unique kind + subject +
window) record what was sent, in the same transaction as the outbox rows (`mail.queue`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from typing import Any

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from iuran import mail
from iuran.db.models import LIVE, DocumentState, Invoice, PaymentReminder
from iuran.db.session import session_scope
from iuran.payments.state import begin_write, refresh_invoices
from iuran.periods import Period
from iuran.programs import Program
from iuran.status import LAPSE_AFTER, load_invoices, unpaid_streaks

REMINDER_DAYS = (7, 2)


def reminder_window(
    due: dt.date, issued: dt.date, today: dt.date, days: Sequence[int] = REMINDER_DAYS
) -> dt.date | None:
    """The start of the reminder window `today` falls in (None: no reminder due today)."""
    if today > due:
        return None
    opened = [due - dt.timedelta(days=d) for d in days]
    eligible = [s for s in opened if issued < s <= today]
    return max(eligible) if eligible else None


def _digest(subjects: Sequence[str]) -> str:
    return hashlib.sha256("\n".join(sorted(subjects)).encode()).hexdigest()[:10]


def _log(
    session: Session, kind: str, program: str, window: dt.date, subjects: list[str], key: str
) -> list[str]:
    """Record reminders not sent yet; returns the subjects recorded now (the others were sent)."""
    if not subjects:
        return []
    done = set(
        session.scalars(
            select(PaymentReminder.subject).where(
                PaymentReminder.kind == kind,
                PaymentReminder.window_start == window,
                PaymentReminder.subject.in_(subjects),
            )
        )
    )
    new = [s for s in subjects if s not in done]
    for s in new:
        session.add(
            PaymentReminder(
                kind=kind, subject=s, window_start=window, program=program, notification_key=key
            )
        )
    session.flush()
    return new


def _base(program: Program) -> dict[str, Any]:
    return {
        "program_name": program.name,
        "regency_name": program.regency_name,
        "payee": program.payee.model_dump(),
    }


def _invoice_items(group: pd.DataFrame, villages: bool) -> list[dict[str, Any]]:
    items = []
    for r in group.itertuples(index=False):
        item: dict[str, Any] = {
            "number": r.number,
            "total": int(r.total),
            "outstanding": int(r.total - r.paid),
        }
        if villages:
            item["payer_name"] = r.payer_name
        items.append(item)
    return items


def queue_reminders(
    database_url: str, program: Program, today: dt.date | None = None
) -> dict[str, int]:
    """Queue whatever reminders are due today for `program`; returns counts per kind."""
    today = today or dt.date.today()
    counts = {"reminder_due": 0, "overdue": 0, "lapse_warning": 0}
    villages = program.payer == "village"
    with session_scope(database_url) as session:
        begin_write(session)
        ids = session.scalars(
            select(Invoice.id).where(
                Invoice.program == program.code, Invoice.document_state.in_(LIVE)
            )
        ).all()
        refresh_invoices(session, ids)  # states from allocations, whatever ran before
        invoices = load_invoices(session, program.code)
        invoices = invoices.loc[
            invoices["document_state"] == DocumentState.ISSUED
        ]  # a draft is not sent yet
        if not len(invoices):
            return counts
        streaks = unpaid_streaks(invoices, today)
        streak_of = dict(zip(streaks["payer_key"], streaks["streak"], strict=True))
        open_ = invoices.loc[invoices["total"] > invoices["paid"]].copy()
        open_["subject"] = open_["number"] + ":r" + open_["revision"].astype(str)
        open_["due"] = pd.to_datetime(open_["due_date"]).dt.date
        open_["issued"] = pd.to_datetime(open_["issue_date"]).dt.date

        # Due soon.
        open_["window"] = [
            reminder_window(d, i, today) for d, i in zip(open_["due"], open_["issued"], strict=True)
        ]
        soon = open_.loc[open_["window"].notna()]
        for (period, window), group in soon.groupby(["period", "window"], sort=True):
            for part in [group.iloc[[i]] for i in range(len(group))] if not villages else [group]:
                counts["reminder_due"] += _queue(
                    session, program, "reminder_due", str(period), window, part, today, villages,
                    streak_of,
                )  # fmt: skip

        # Overdue.
        late = open_.loc[open_["due"] < today]
        for (period, due), group in late.groupby(["period", "due"], sort=True):
            for part in [group.iloc[[i]] for i in range(len(group))] if not villages else [group]:
                counts["overdue"] += _queue(
                    session, program, "overdue", str(period), due, part, today, villages, streak_of
                )

        # Lapse warning: one month away from losing protection.
        warn = streaks.loc[streaks["streak"] == LAPSE_AFTER - 1]
        for latest, group in warn.groupby("latest_period", sort=True):
            parts = [group.iloc[[i]] for i in range(len(group))] if not villages else [group]
            for part in parts:
                counts["lapse_warning"] += _queue_lapse(session, program, str(latest), part)
    return counts


def _queue(
    session: Session,
    program: Program,
    kind: str,
    period: str,
    window: dt.date,
    group: pd.DataFrame,
    today: dt.date,
    villages: bool,
    streak_of: dict[str, int],
) -> int:
    subjects = list(group["subject"])
    single = len(group) == 1 and not villages
    key = (
        f"{kind}:{subjects[0]}:{window.isoformat()}"
        if kind == "reminder_due" and single
        else f"{kind}:{subjects[0]}"
        if single
        else f"{kind}:{program.code}:{period}:{window.isoformat()}:{_digest(subjects)}"
    )
    new = _log(session, kind, program.code, window, subjects, key)
    if not new:
        return 0
    group = group.loc[group["subject"].isin(new)]
    due = min(group["due"])
    outstanding = int((group["total"] - group["paid"]).sum())
    context = _base(program) | {
        "period_label": Period.parse(period).label,
        "due_date": due,
        "invoices": _invoice_items(group, villages),
        "outstanding": outstanding,
        "participants": int(group["participants"].sum()),
    }
    if kind == "reminder_due":
        context["days_left"] = (due - today).days
    else:
        context["days_overdue"] = (today - due).days
        context["unpaid_months"] = max(streak_of.get(str(p), 0) for p in group["payer_key"])
        context["lapse_after"] = LAPSE_AFTER
    inserted = mail.queue(
        session,
        key=key,
        event=kind,
        program=program.code,
        period=period,
        to=program.recipients.bkad,
        cc=program.recipients.disnaker,
        template=kind,
        context=context,
        invoice_id=int(group["id"].iloc[0]) if len(group) == 1 else None,
    )
    return int(inserted)


def _queue_lapse(session: Session, program: Program, latest: str, group: pd.DataFrame) -> int:
    month = Period.parse(latest)
    window = month.first_day
    subjects = [f"{program.code}:{p}" for p in group["payer_key"]]
    single = len(group) == 1 and program.payer == "regency"
    key = (
        f"lapse_warning:{program.code}:{group['payer_key'].iloc[0]}:{latest}"
        if single
        else f"lapse_warning:{program.code}:desa:{latest}:{_digest(subjects)}"
    )
    new = set(_log(session, "lapse_warning", program.code, window, subjects, key))
    if not new:
        return 0
    group = group.loc[[s in new for s in subjects]]
    first = Period.parse(min(p for periods in group["periods"] for p in periods))
    labels = [first.shift(i).label for i in range(LAPSE_AFTER - 1)]
    context = _base(program) | {
        "unpaid_periods": labels,
        "participants": int(group["participants"].sum()),
        "outstanding": int(group["outstanding"].sum()),
        "lapse_period_label": first.shift(LAPSE_AFTER).label,
        "pay_by": first.shift(LAPSE_AFTER - 1).due_date,
        "lapse_after": LAPSE_AFTER,
    }
    if program.payer == "village":
        context["payers"] = [
            {
                "name": r.payer_name,
                "kode": r.payer_key,
                "unpaid_periods": [Period.parse(p).label for p in r.periods],
                "participants": int(r.participants),
                "outstanding": int(r.outstanding),
            }
            for r in group.itertuples(index=False)
        ]
    return int(
        mail.queue(
            session,
            key=key,
            event="lapse_warning",
            program=program.code,
            period=latest,
            to=(*program.recipients.bkad, *program.recipients.disnaker),
            cc=program.recipients.bpjs,
            template="lapse_warning",
            context=context,
        )
    )


__all__ = ["REMINDER_DAYS", "queue_reminders", "reminder_window"]
