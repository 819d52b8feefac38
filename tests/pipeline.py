"""The cycle's steps called as plain functions (no Prefect), for database tests on both backends."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from iuran.cycle import record_cycle
from iuran.cycle_reports import write_reports
from iuran.documents import render_pending
from iuran.periods import Period
from iuran.pricing import price_lines
from iuran.programs import Program
from iuran.registry import decide
from iuran.rosters.read import KEEP_NAME, collect_rosters
from iuran.rosters.validate import validate_rows
from iuran.summary import all_rejections, summarize

TODAY = dt.date(2026, 1, 5)


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
    month = Period.parse(period)
    keep = None if dry_run else out / program.code / period / KEEP_NAME  # as the flow keeps it
    rosters = collect_rosters(str(inbox / program.code / period), keep)
    checked = validate_rows(rosters.rows, program, month)
    decided = decide(
        url, rosters.rows, checked.accepted, program, month, inbox / program.code / period
    )
    lines = price_lines(decided.billed, program, month)
    rejected = all_rejections(checked, decided)
    recorded = record_cycle(
        url,
        program,
        month,
        rosters.files,
        rejected,
        decided,
        lines,
        out / program.code / period,
        TODAY,
        dry_run,
    )
    if render and not dry_run and recorded.status != "stopped":
        write_reports(
            url, program, month, rosters.rows, rosters.files, rejected, decided,
            recorded.budget.as_dict(), out / program.code / period, TODAY,
            unchanged=recorded.status == "unchanged",
        )  # fmt: skip
        render_pending(url, program, month)
    return summarize(program, month, rosters, checked, decided, recorded, 0)
