"""Whole runs in a process of their own, as an operator or a worker starts them, to be killed from
outside (`tests/crash/test_random_kill.py`): SIGKILL at any moment, then run again.

    python -m tests.crash.kill_driver cycle --root DIR --program lahat --period 2025-09 --today 2025-09-05
    python -m tests.crash.kill_driver reminders --root DIR --program lahat --today 2025-09-20
    python -m tests.crash.kill_driver deliver --root DIR

`DIR` holds `inbox/`, `out/` (documents, `out/outbox/` the file outbox unless IURAN_SMTP_HOST says
otherwise) and `iuran.db`. The payment day needs no driver: the suite runs the real command line
(`python -m iuran.cli payments import`), which is plain Python.

- `cycle`: the month as the flow runs it (`flows/monthly_cycle.py`: the cycle's lease held around
  `run_month`), its steps as plain calls (`iuran.month.PLAIN`), so a run costs no Prefect server.
  A rerun after a kill takes the dead run's lease over once it is stale (IURAN_CYCLE_LEASE_MINUTES)
  and with it the dead run's outbox claims (`iuran.locks.acquire`).
- `reminders`: the `reminders` flow's two steps (`flows/reminders.py`) as plain calls.
- `deliver`: the next delivery run once every claim a dead sender left has run out
  (the clock pushed past `CLAIM_LEASE`): what the daily payment-status flow would do later.
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

from iuran.config import Settings, load_settings
from iuran.db.session import upgrade
from iuran.locks import default_holder, held
from iuran.mail.deliver import CLAIM_LEASE, deliver_outbox, deliver_pending_sync
from iuran.month import PLAIN, run_month
from iuran.periods import Period
from iuran.programs import load_program
from iuran.reminders import queue_reminders

#: The lease's heartbeat: the suite's leases go stale in milliseconds, its runs last seconds.
HEARTBEAT = dt.timedelta(seconds=30)


def settings_at(root: Path) -> Settings:
    settings = load_settings(f"sqlite:///{root / 'iuran.db'}", root / "inbox", root / "out")
    upgrade(settings.database_url)
    return settings


def cycle(settings: Settings, program: str, period: str, today: dt.date) -> None:
    plan = load_program(program)
    with held(
        settings.database_url,
        plan.code,
        period,
        default_holder("kill-driver"),
        stale_after=settings.cycle_lease,
        heartbeat=HEARTBEAT,
    ):
        run_month(PLAIN, settings, plan, Period.parse(period), today)


def reminders(settings: Settings, program: str, today: dt.date) -> None:
    queue_reminders(settings.database_url, load_program(program), today)
    deliver_outbox(settings)


def deliver_after_claims(settings: Settings) -> None:
    later = dt.datetime.now(dt.UTC) + CLAIM_LEASE + dt.timedelta(minutes=1)
    deliver_pending_sync(settings.database_url, settings, now=later)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("run", choices=("cycle", "reminders", "deliver"))
    ap.add_argument("--root", type=Path, required=True)
    ap.add_argument("--program")
    ap.add_argument("--period")
    ap.add_argument("--today", type=dt.date.fromisoformat)
    args = ap.parse_args(argv)
    settings = settings_at(args.root)
    if args.run == "cycle":
        cycle(settings, args.program, args.period, args.today)
    elif args.run == "reminders":
        reminders(settings, args.program, args.today)
    else:
        deliver_after_claims(settings)


if __name__ == "__main__":
    main()
