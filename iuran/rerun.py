"""The unchanged rerun, answered without redoing the month.

Admins rerun months, and schedules rerun them; most reruns change nothing. A run that completed stores
the key of everything its decisions were made from (`inputs_key`) and its summary; a later run with the
same key, whose documents, reports and e-mails are all done, answers with that summary (status
`unchanged`) instead of reading, deciding and recording the month again.

The key holds: every file in the month's roster folder (names and bytes, the BPJS status list
included), the program file, the period, this code's version, and the registry as this program's
month sees it: this program's lines before the period and the other programs' lines in the period
(counted), and the UPDATEs and DELETEs of those lines and of any participant (`registry_change`,
counted by triggers, migration 0005). The registry part is read before the
run decides anything, so a change made by someone else during the run makes the next key differ:
the shortcut can be missed (the full run is then taken), never wrongly taken. The month's own lines
are this program's runs' output, not their input: a run that records clears the kept answer first
(`record_cycle`) and keeps a new one only once it has completed.

The shortcut never hides a message not delivered yet: while one of the month's messages is pending or
being sent it is refused (the full run delivers), and the answer's `undelivered` list is read from
the outbox when the answer is given, never taken from the kept summary.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from iuran import faults
from iuran.cycle_reports import ReportPaths
from iuran.db.models import (
    REGISTRY_CHANGE,
    ContributionLine,
    Cycle,
    Notification,
    NotificationStatus,
)
from iuran.db.session import session_scope
from iuran.invoicing import live_invoices
from iuran.mail.outbox import recipient_roles, undelivered
from iuran.periods import Period
from iuran.programs import Program
from iuran.render import needs_rendering
from iuran.rosters.folder import folder_digest

#: Bump when what a cycle computes from the same inputs changes in a way the version does not show.
KEY_VERSION = 1
DONE_MAIL = (NotificationStatus.SENT, NotificationStatus.CANCELLED)


def _code_version() -> str:
    try:
        return version("iuran")
    except PackageNotFoundError:  # running from a source tree that is not installed
        return "source"


def registry_state(session: Session, program: Program, period: Period) -> list[int]:
    """What this program's month reads from the registry, as a few counts (cheap, exact)."""
    line = ContributionLine
    own = session.execute(
        select(func.count(), func.coalesce(func.max(line.id), 0)).where(
            line.program == program.code, line.period < str(period)
        )
    ).one()
    others = session.execute(
        select(func.count(), func.coalesce(func.max(line.id), 0)).where(
            line.period == str(period), line.program != program.code
        )
    ).one()
    rc = REGISTRY_CHANGE.c
    changes = session.scalar(
        select(func.coalesce(func.sum(rc.n), 0)).where(
            sa.or_(
                sa.and_(rc.program == program.code, rc.period < str(period)),
                sa.and_(rc.program != program.code, rc.period == str(period)),
                rc.program == "*",
            )
        )
    )
    return [*own, *others, int(changes or 0)]


def inputs_key(database_url: str, program: Program, period: Period, folder: Path | str) -> str:
    """The key of a run's inputs; equal keys mean equal decisions."""
    with session_scope(database_url) as session:
        registry = registry_state(session, program, period)
    parts = {
        "key_version": KEY_VERSION,
        "code": _code_version(),
        "program": program.model_dump(mode="json"),
        "period": str(period),
        "folder": folder_digest(str(folder)),
        "registry": registry,
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class Kept:
    """What the last complete run answered: its summary, village table and roster fingerprint."""

    summary: dict[str, Any]
    villages: pd.DataFrame  # the per-village table the artifacts show
    inputs: str


def recall(
    database_url: str, program: Program, period: Period, key: str, out_dir: Path
) -> Kept | None:
    """The last complete run's answer as an unchanged rerun's, if nothing it depends on changed."""
    with session_scope(database_url) as session:
        cycle = session.scalars(
            select(Cycle).where(Cycle.program == program.code, Cycle.period == str(period))
        ).one_or_none()
        if cycle is None or cycle.input_hash != key or not cycle.summary:
            return None
        unfinished_mail = session.scalar(
            select(func.count()).where(
                Notification.program == program.code,
                Notification.period == str(period),
                Notification.status.not_in(DONE_MAIL),
            )
        )
        unrendered = any(needs_rendering(i) for i in live_invoices(session, program, period))
        stored = dict(cycle.summary)
        waiting = undelivered(
            session, program.code, str(period), recipient_roles(program.recipients)
        )
    if unfinished_mail or unrendered:
        return None
    paths = ReportPaths.of(program, period, out_dir)
    if not all(p.exists() for p in (paths.program_report, paths.mutation_list, paths.data_quality)):
        return None
    return Kept(
        summary=as_unchanged(stored["summary"], waiting),
        villages=pd.DataFrame.from_dict(stored["villages"], orient="tight"),
        inputs=stored["inputs"],
    )


def as_unchanged(
    summary: dict[str, Any], waiting: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """The summary a full unchanged rerun would give: same figures, nothing new issued or sent, and
    the messages not delivered yet as the outbox holds them now (`waiting`), not as they were."""
    invoices = [inv | {"status": "unchanged"} for inv in summary["invoices"]]
    return summary | {
        "status": "unchanged",
        "dry_run": False,
        "invoices": invoices,
        "notifications": {"queued": 0, "sent": 0},
        "undelivered": waiting or [],
    }


def remember(
    database_url: str,
    program: Program,
    period: Period,
    key: str,
    summary: dict[str, Any],
    villages: pd.DataFrame,
    inputs: str,
) -> None:
    """Keep a complete run's key and answer for the next rerun."""
    stored = json.loads(
        json.dumps(
            {"summary": summary, "villages": villages.to_dict(orient="tight"), "inputs": inputs},
            default=str,
        )
    )
    with session_scope(database_url) as session:
        session.execute(
            sa.update(Cycle)
            .where(Cycle.program == program.code, Cycle.period == str(period))
            .values(input_hash=key, summary=stored)
        )
        faults.point("rerun.before_commit")
    faults.point("rerun.remembered")
