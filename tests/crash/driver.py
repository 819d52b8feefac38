"""One month of a program, start to end, as plain functions in a process of its own (no Prefect).

    python -m tests.crash.driver --root DIR --program lahat --period 2025-09 --today 2025-09-05 \
        [--payments FILE --payments-today 2025-09-20] [--clock 2025-09-05T08:00:00+00:00]

`DIR` holds `inbox/`, `out/` (documents, and `out/outbox/` for the file outbox) and `iuran.db`.
The steps are the month's as the flow takes them (`iuran/month.py`: recall → collect → validate →
reconcile → price → record → reports → render → deliver → remember; the unchanged-rerun shortcut
included), then, with `--payments`, the payment day (`iuran/payment_day.py`: import → settle →
deliver) for that file, as `iuran payments import` runs it, settling the program whatever it paid.
The crash suite runs it with IURAN_FAULT_POINT set, so it dies at that point, and then again without.
`--clock` pins the sender's clock: the run after a crash passes a later one, as a sender that comes
back after the claim lease of the dead one has run out.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
from pathlib import Path

from iuran.config import Settings, load_settings
from iuran.db.session import upgrade
from iuran.mail.deliver import DeliveryReport, deliver_pending_sync
from iuran.month import PLAIN, run_month
from iuran.payment_day import PaymentSteps, nothing_arrived, run_payment_day
from iuran.payments.credit import settle
from iuran.payments.imports import import_file
from iuran.periods import Period
from iuran.programs import load_program


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", type=Path, required=True)
    ap.add_argument("--program", required=True)
    ap.add_argument("--period", required=True)
    ap.add_argument("--today", type=dt.date.fromisoformat, required=True)
    ap.add_argument("--payments", type=Path)
    ap.add_argument("--payments-today", type=dt.date.fromisoformat)
    ap.add_argument("--clock", type=dt.datetime.fromisoformat, required=True)
    args = ap.parse_args(argv)

    root: Path = args.root
    url = f"sqlite:///{root / 'iuran.db'}"
    settings = load_settings(url, root / "inbox", root / "out")
    assert not settings.smtp.configured, "the crash driver delivers to the file outbox only"
    upgrade(url)

    def deliver(at: Settings, program: str | None = None) -> DeliveryReport:
        return deliver_pending_sync(at.database_url, at, now=args.clock, program=program)

    month = dataclasses.replace(PLAIN, deliver=deliver)
    run_month(month, settings, load_program(args.program), Period.parse(args.period), args.today)

    if args.payments is not None:
        day = args.payments_today or args.today
        steps = PaymentSteps(
            import_payments=lambda: [
                import_file(url, args.payments, program=args.program, today=day)
            ],
            import_receipts=nothing_arrived,
            settle=settle,
            deliver=deliver,
        )
        paid = run_payment_day(steps, settings, day, program=args.program)
        assert paid.payments[0]["status"] == "read", paid.payments


if __name__ == "__main__":
    main()
