"""The month, told once: (BPJS's claims list) → recall → collect → validate → reconcile → price →
record → reports → render → deliver → summarize and publish → remember.

Four callers run a month: the flow (`flows/monthly_cycle.py`, each step a Prefect task), the tests'
pipeline (`tests/pipeline.py`), the crash driver (`tests/crash/driver.py`) and the benchmark
(`bench/regency.py`), the last three with plain calls. They differ only in the step implementations
they pass (`Steps`); the order of the steps, what each one is given, when the unchanged-rerun
shortcut answers and when an answer is kept for the next rerun are written here and nowhere else.
This module knows no Prefect: retries, names and artifacts belong to the tasks the flow passes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import select

from iuran.claims import ClaimsImport, import_month_claims
from iuran.config import Settings
from iuran.cycle import Recorded, record_cycle
from iuran.cycle_reports import write_reports
from iuran.db.models import Participant
from iuran.db.session import session_scope
from iuran.mail.deliver import DeliveryReport, deliver_outbox
from iuran.mail.outbox import recipient_roles, undelivered
from iuran.periods import Period
from iuran.pricing import price_lines
from iuran.programs import Program
from iuran.reconcile import Reconciled
from iuran.registry import decide
from iuran.render import render_pending
from iuran.rerun import Kept, inputs_key, recall, remember
from iuran.rosters.columns import Collected
from iuran.rosters.kept import kept_read_path
from iuran.rosters.read import collect_rosters
from iuran.rosters.validate import (
    Validated,
    confirm_rounded_niks,
    rounded_niks,
    validate_rows,
)
from iuran.summary import all_rejections, summarize, village_table


class RostersChanged(RuntimeError):
    """The rosters changed between the summary an operator approved and the run that issues."""


class OutsideProgram(ValueError):
    """A period outside the program's months: nothing is billed for it, by any caller."""


def refuse_outside(program: Program, period: Period) -> None:
    """Raise `OutsideProgram` for a period none of the program's years covers (`Program.covers`):
    a budget year pays for its own months only, so carried-forward workers are never billed past
    the last year's last month (nor in a gap between years)."""
    if not program.covers(period):
        raise OutsideProgram(
            f"{program.code} {period}: outside the program's months "
            f"({program.months_text()}); nothing was billed. "
            "A new budget year needs its own entry under years: in the program file."
        )


@dataclass(frozen=True)
class Answer:
    """The month's summary, and a fingerprint of the roster files it was made from."""

    summary: dict[str, Any]
    inputs: str


# ---------------------------------------------------------------------------------------------------
# The steps made of more than one call (the flow's tasks wrap these same functions); the other
# steps are the domain's functions as they are


def recall_unchanged(
    database_url: str, program: Program, period: Period, folder: Path, out_dir: Path
) -> tuple[str | None, Kept | None]:
    """The key of this run's inputs, and the last complete run's answer if the key is the same."""
    key = inputs_key(database_url, program, period, folder)
    return key, recall(database_url, program, period, key, out_dir)


def nothing_to_publish(summary: dict[str, Any], villages: pd.DataFrame, loket_url: str) -> None:
    """Publishing outside Prefect: the answer is the return value, there is no UI to show it in."""


@dataclass(frozen=True)
class Steps:
    """One implementation of each step of the month, in the order the month takes them."""

    recall: Callable[[str, Program, Period, Path, Path], tuple[str | None, Kept | None]]
    collect: Callable[[str, Path | None, str | None, int | None], Collected]
    validate: Callable[[pd.DataFrame, Program, Period], Validated]
    reconcile: Callable[[str, pd.DataFrame, pd.DataFrame, Program, Period, Path | None], Reconciled]
    price: Callable[[pd.DataFrame, Program, Period], pd.DataFrame]
    record: Callable[
        [
            str, Program, Period, pd.DataFrame, pd.DataFrame, Reconciled, pd.DataFrame, Path,
            dt.date | None, bool,
        ],
        Recorded,
    ]  # fmt: skip
    reports: Callable[
        [
            str, Program, Period, pd.DataFrame, pd.DataFrame, pd.DataFrame, Reconciled,
            dict[str, int], Path, dt.date, bool,
        ],
        object,  # what they write is on disk and in the database; the month reads it from there
    ]  # fmt: skip
    render: Callable[[str, Program, Period], object]
    deliver: Callable[
        [Settings, str], DeliveryReport
    ]  # (settings, the program whose mail it sends)
    publish: Callable[
        [dict[str, Any], pd.DataFrame, str], None
    ]  # (summary, villages, IURAN_LOKET_URL)
    remember: Callable[[str, Program, Period, str, dict[str, Any], pd.DataFrame, str], None]


#: The month as plain calls: what the crash driver runs (with its own clock for delivery).
PLAIN = Steps(
    recall=recall_unchanged,
    collect=collect_rosters,
    validate=validate_rows,
    reconcile=decide,
    price=price_lines,
    record=record_cycle,
    reports=write_reports,
    render=render_pending,
    deliver=deliver_outbox,
    publish=nothing_to_publish,
    remember=remember,
)


# ---------------------------------------------------------------------------------------------------
# The month


def run_month(
    steps: Steps,
    settings: Settings,
    program: Program,
    period: Period,
    today: dt.date | None = None,
    dry_run: bool = False,
    approved_inputs: str | None = None,
) -> Answer:
    """Bill one program for one month; `dry_run` says what would change and writes nothing.

    `approved_inputs` is the fingerprint of the rosters an operator approved (a gated program): when
    the rosters read now differ, nothing is written and `RostersChanged` is raised. A period outside
    the program's months is refused before anything is read (`OutsideProgram`), a rerun's too.
    """
    refuse_outside(program, period)
    folder = settings.inbox / program.code / str(period)
    out_dir = settings.out / program.code / str(period)
    url = settings.database_url
    key: str | None = None
    claims: list[ClaimsImport] = []
    if not dry_run:  # most reruns change nothing: answer them from the last complete run
        claims, key, kept = recall_month(steps, settings, program, period)
        if kept is not None:
            steps.publish(kept.summary, kept.villages, settings.loket_url)
            return Answer(kept.summary, kept.inputs)
    rosters = steps.collect(
        str(folder),
        None if dry_run else kept_read_path(settings.private, program.code, str(period)),
        program.regency,
        program.per_village,  # the population-export guard (`iuran.rosters.read`)
    )  # what changed
    inputs = fingerprint(rosters.files)
    if approved_inputs is not None and inputs != approved_inputs:
        raise RostersChanged(
            f"the rosters of {program.code} {period} changed after the summary was approved; "
            "nothing was issued: run the cycle again to approve the new figures"
        )
    rows = confirm_rounded_niks(rosters.rows, registered(url, rounded_niks(rosters.rows["nik"])))
    checked = steps.validate(rows, program, period)
    decided = steps.reconcile(url, rosters.rows, checked.accepted, program, period, folder)
    decided = decided.with_status_list(decided.status_list, [n for c in claims for n in c.notes()])
    lines = steps.price(decided.billed, program, period)
    rejected = all_rejections(checked, decided)
    recorded = steps.record(
        url, program, period, rosters.files, rejected, decided, lines, out_dir, today, dry_run
    )
    sent = 0
    if not dry_run and recorded.status != "stopped":
        steps.reports(
            url, program, period, rosters.rows, rosters.files, rejected, decided,
            recorded.budget.as_dict(), out_dir, today or dt.date.today(),
            recorded.status == "unchanged",  # an unchanged rerun keeps the reports it finds
        )  # fmt: skip
        steps.render(url, program, period)
        sent = steps.deliver(settings, program.code).sent

    summary = summarize(
        program, period, rosters, checked, decided, recorded, sent, waiting(url, program, period)
    )
    villages = village_table(rosters, rejected, decided)
    steps.publish(summary, villages, settings.loket_url)
    if key is not None and recorded.status != "stopped":
        steps.remember(url, program, period, key, summary, villages, inputs)
    return Answer(summary, inputs)


def recall_month(
    steps: Steps, settings: Settings, program: Program, period: Period
) -> tuple[list[ClaimsImport], str | None, Kept | None]:
    """The start of every month that writes: BPJS's claims list in the folder stored first
    (idempotent: a death it reports is then in the registry, and so in the rerun key and in this
    month's decision, `iuran.claims`), then the key of the month's inputs and the last complete
    run's answer if the key is the same."""
    folder = settings.inbox / program.code / str(period)
    claims = import_month_claims(settings.database_url, program.code, folder)
    key, kept = steps.recall(
        settings.database_url, program, period, folder, settings.out / program.code / str(period)
    )
    return claims, key, kept


def unchanged_answer(settings: Settings, program: Program, period: Period) -> Answer | None:
    """The month's answer when nothing it depends on changed since its last complete run, taken
    the way `run_month` takes it but without its steps' machinery (the command line asks this
    before it starts Prefect on the embedded default); None: the month must be run."""
    refuse_outside(program, period)
    _, _, kept = recall_month(PLAIN, settings, program, period)
    return None if kept is None else Answer(kept.summary, kept.inputs)


def registered(database_url: str, niks: pd.Series) -> pd.DataFrame:
    """The registry's nik, nama, tanggal_lahir of these NIKs (<NA> ignored): the few a roster's
    rounded number cells may be (`iuran.rosters.validate.confirm_rounded_niks`)."""
    wanted = sorted(set(niks.dropna().astype(str)))
    if not wanted:
        return pd.DataFrame(columns=["nik", "nama", "tanggal_lahir"])
    with session_scope(database_url) as session:
        found = session.execute(
            select(Participant.nik, Participant.nama, Participant.tanggal_lahir).where(
                Participant.nik.in_(wanted)
            )
        ).all()
    return pd.DataFrame(found, columns=["nik", "nama", "tanggal_lahir"])


def waiting(database_url: str, program: Program, period: Period) -> list[dict[str, Any]]:
    """The month's messages not delivered yet, as the outbox holds them after this run's delivery."""
    with session_scope(database_url) as session:
        return undelivered(session, program.code, str(period), recipient_roles(program.recipients))


def fingerprint(files: pd.DataFrame) -> str:
    """The roster files a run read, as one hash: path and content of each."""
    pairs = sorted(zip(files["path"].astype(str), files["sha256"].astype(str), strict=True))
    return hashlib.sha256("\n".join(f"{p}\t{h}" for p, h in pairs).encode()).hexdigest()
