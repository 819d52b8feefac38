"""The payment-status and reminders flows as Prefect flow runs, each in a process of its own, to be
killed from outside (`tests/crash/test_random_kill.py`): SIGKILL at any moment, then run again.

    python -m tests.crash.flow_driver payment-status --root DIR --program lahat --today 2025-09-20
    python -m tests.crash.flow_driver reminders --root DIR --program lahat --today 2025-09-20

`DIR` as for `tests/crash/kill_driver.py`; the SP2D files the payment-status flow imports lie in
`DIR/inbox/<program>/pembayaran/`. Without PREFECT_API_URL a flow runs on Prefect's ephemeral API: a
temporary server (a uvicorn child process on the database of PREFECT_HOME) started with the run and
stopped at its end, as `iuran cycle` runs the month. A kill from outside takes the whole process
group, the server with it, as a machine failure does. The month's flow needs no driver here: the
suite runs the real command line (`python -m iuran.cli cycle`).
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

from flows.payment_status import payment_status
from flows.reminders import reminders
from tests.crash.kill_driver import settings_at


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("run", choices=("payment-status", "reminders"))
    ap.add_argument("--root", type=Path, required=True)
    ap.add_argument("--program", required=True)
    ap.add_argument("--today", type=dt.date.fromisoformat, required=True)
    args = ap.parse_args(argv)
    settings = settings_at(args.root)
    if args.run == "payment-status":
        payment_status(
            args.program, inbox=str(args.root / "inbox"), db=settings.database_url, today=args.today
        )
    else:
        reminders(args.program, db=settings.database_url, today=args.today)


if __name__ == "__main__":
    main()
