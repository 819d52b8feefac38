"""The month (`iuran/month.py`) as plain calls, for database tests on both backends.

The full path every time, as a test that looks at what a month writes needs it: no unchanged-rerun
shortcut (nothing recalled, nothing kept), no delivery (the outbox stays pending for the test to
look at or deliver), nothing published; `render=False` also leaves out the reports and documents.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from typing import Any

from iuran.config import load_settings
from iuran.mail.deliver import DeliveryReport
from iuran.month import PLAIN, run_month
from iuran.periods import Period
from iuran.programs import Program
from iuran.rerun import Kept

TODAY = dt.date(2026, 1, 5)


def full_path(*_: object) -> tuple[None, Kept | None]:
    return None, None


def nothing_delivered(*_: object) -> DeliveryReport:
    return DeliveryReport()


def nothing_written(*_: object) -> None:
    return None


STEPS = dataclasses.replace(PLAIN, recall=full_path, deliver=nothing_delivered)
WITHOUT_DOCUMENTS = dataclasses.replace(STEPS, reports=nothing_written, render=nothing_written)


def run(
    url: str,
    program: Program,
    period: str,
    inbox: Path,
    out: Path,
    *,
    render: bool = True,
    dry_run: bool = False,
) -> dict[str, Any]:
    settings = load_settings(url, inbox, out)
    steps = STEPS if render else WITHOUT_DOCUMENTS
    return run_month(steps, settings, program, Period.parse(period), TODAY, dry_run).summary
