"""One month of a program, start to end, as plain functions in a process of its own (no Prefect).

    python -m tests.crash.driver --root DIR --program lahat --period 2025-09 --today 2025-09-05 \
        [--payments FILE --payments-today 2025-09-20] [--clock 2025-09-05T08:00:00+00:00]

`DIR` holds `inbox/`, `out/` (documents, and `out/outbox/` for the file outbox) and `iuran.db`.
The steps are the cycle's (collect → validate → reconcile → price → record → reports → render →
deliver), then, with `--payments`, what `iuran payments import` does (import → settle → deliver).
The crash suite runs it with IURAN_FAULT_POINT set, so it dies at that point, and then again without.
`--clock` pins the sender's clock: the run after a crash passes a later one, as a sender that comes
back after the claim lease of the dead one has run out.
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

from iuran.config import load_settings
from iuran.cycle import record_cycle
from iuran.cycle_reports import write_reports
from iuran.db.session import upgrade
from iuran.documents import render_pending
from iuran.mail.deliver import deliver_pending_sync
from iuran.payments.credit import settle
from iuran.payments.imports import import_payment_file
from iuran.periods import Period
from iuran.pricing import price_lines
from iuran.programs import load_program
from iuran.registry import decide
from iuran.rosters.read import KEEP_NAME, collect_rosters
from iuran.rosters.validate import validate_rows
from iuran.summary import all_rejections


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

    program = load_program(args.program)
    month = Period.parse(args.period)
    folder = settings.inbox / program.code / str(month)
    out_dir = settings.out / program.code / str(month)

    rosters = collect_rosters(str(folder), out_dir / KEEP_NAME)
    checked = validate_rows(rosters.rows, program, month)
    decided = decide(url, rosters.rows, checked.accepted, program, month, folder)
    lines = price_lines(decided.billed, program, month)
    rejected = all_rejections(checked, decided)
    recorded = record_cycle(
        url, program, month, rosters.files, rejected, decided, lines, out_dir, args.today
    )
    write_reports(
        url, program, month, rosters.rows, rosters.files, rejected, decided,
        recorded.budget.as_dict(), out_dir, args.today, unchanged=recorded.status == "unchanged",
    )  # fmt: skip
    render_pending(url, program, month)
    deliver_pending_sync(url, settings, now=args.clock)

    if args.payments is not None:
        day = args.payments_today or args.today
        result = import_payment_file(url, args.payments, program=program.code, today=day)
        assert result["status"] == "read", result
        settle(url, program.code, day)
        deliver_pending_sync(url, settings, now=args.clock)


if __name__ == "__main__":
    main()
