"""Payments in, states up to date, BKAD and BPJS told: safe to run any number of times a day.

The payment day (`iuran/payment_day.py`), each step a task: new files in `INBOX/<program>/pembayaran/`
(SP2D lists from BKAD) and `INBOX/<program>/penerimaan/` (what the BPJS branch received) are imported
once each (by content hash); credit pays new invoices; receipts waiting for their SP2D are matched;
the outbox is delivered. Then the day's summary, as the return value and an artifact.
"""

from __future__ import annotations

import datetime as dt
from functools import partial
from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact

import flows.engine  # noqa: F401  (a run's end does not wait for its heartbeat thread)
from iuran.config import load_settings
from iuran.mail.deliver import DeliveryReport
from iuran.money import rupiah
from iuran.payment_day import PaymentSteps, run_payment_day
from iuran.programs import load_program
from tasks.notify import send
from tasks.payments import import_payments, import_receipts, settle_payments


def _count(results: list[dict[str, Any]], key: str) -> int:
    return sum(int(r.get("summary", {}).get(key, 0)) for r in results)


@flow(name="payment-status", flow_run_name="payments-{program}", log_prints=False)
def payment_status(
    program: str,
    inbox: str | None = None,
    db: str | None = None,
    today: dt.date | None = None,
) -> dict[str, Any]:
    settings = load_settings(db, inbox)
    plan = load_program(program)
    today = today or dt.date.today()
    log = get_run_logger()

    url = settings.database_url
    steps = PaymentSteps(
        import_payments=partial(import_payments, url, plan, settings.inbox, today),
        import_receipts=partial(import_receipts, url, plan, settings.inbox, today),
        settle=settle_payments,
        deliver=send,
    )
    day = run_payment_day(steps, settings, today, program=plan.code)
    payments, receipts, settled = day.payments, day.receipts, day.settled[plan.code]
    delivered = day.delivered or DeliveryReport()  # a program's day always delivers

    read = [r for r in payments if r["status"] == "read"]
    summary: dict[str, Any] = {
        "program": plan.code,
        "today": today.isoformat(),
        "files": {
            "payments": len(read),
            "receipts": sum(r["status"] == "read" for r in receipts),
            "skipped": sum(r["status"] == "skipped" for r in [*payments, *receipts]),
            "rejected": [
                {"file": r["file"], "code": r["code"], "message": r["message"]}
                for r in [*payments, *receipts]
                if r["status"] == "rejected"
            ],
        },
        "payments": {
            k: _count(read, k)
            for k in (
                "recorded",
                "already_recorded",
                "conflicts",
                "rejected",
                "matched",
                "partial",
                "credit",
                "unmatched",
                "amount_recorded",
                "amount_allocated",
            )
        },
        "problems": [
            {"file": r["file"], **{k: p.get(k) for k in ("row", "nomor_sp2d", "code", "message")}}
            for r in [*read, *receipts]
            for p in r.get("payments", r.get("receipts", []))
            if p["result"] in ("conflict", "rejected")
            or p.get("status") in ("unmatched", "mismatch")
        ],
        "receipts": {
            k: _count(receipts, k) for k in ("recorded", "confirmed", "mismatch", "unmatched")
        },
        "credits_applied": settled["credits_applied"],
        "invoices_changed": settled["invoices_changed"],
        "notifications": {"sent": delivered.sent, "failed": delivered.failed},
    }
    p = summary["payments"]
    create_markdown_artifact(
        key=f"{plan.code}-pembayaran",
        description=f"Pembayaran {plan.code} per {today.isoformat()}",
        markdown="\n".join(
            [
                f"# Pembayaran {plan.code} per {today.isoformat()}",
                "",
                f"- Berkas SP2D baru: {len(read)}, penerimaan BPJS baru: {summary['files']['receipts']}",
                f"- SP2D dicatat: {p['recorded']} ({rupiah(p['amount_recorded'])}); "
                f"cocok {p['matched']}, sebagian {p['partial']}, kredit {p['credit']}, "
                f"belum cocok {p['unmatched']}",
                f"- Konflik: {p['conflicts']}, baris ditolak: {p['rejected']}",
                f"- Penerimaan BPJS selisih: {summary['receipts']['mismatch']}",
                "",
                *(f"- baris {x['row']} {x['file']}: {x['message']}" for x in summary["problems"]),
            ]
        ),
    )
    log.info(
        "payments %s: %d files, %d recorded, %d unmatched, %d conflicts, %d receipts",
        plan.code, len(read), p["recorded"], p["unmatched"], p["conflicts"],
        summary["receipts"]["recorded"],
    )  # fmt: skip
    return summary
