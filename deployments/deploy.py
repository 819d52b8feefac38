"""The deployments: one monthly cycle per program file, and the daily payment-status and reminders runs.

    python -m deployments.deploy [--pool iuran] [--only lebak] [--list]

Every `deployments/programs/<code>.yaml` becomes `monthly-cycle/cycle-<code>`, on the program's own
schedule (`schedule.cron`, in `schedule.timezone`, Asia/Jakarta by default) within the program's
months only (`cycle_schedules`: the cron written as an RRULE from the first year's first day UNTIL
the last year's last day, so no run is scheduled after the last program year), with `program` as its
parameter and no period: a scheduled run bills the month it was scheduled in; an admin's run passes
`-p period=2026-01`. Adding a program file and deploying again is all it takes to add a deployment.

The daily flows (`flows/payment_status.py:payment_status`, `flows/reminders.py:reminders`) are deployed
when their files exist: one deployment per program when the flow takes a `program` parameter, one for
all programs otherwise. Deploying again updates every deployment in place (same names), and the one
automation that marks a run Crashed when its heartbeats stop (`ensure_crash_detection`).

Deployments run on a `process` work pool: a worker started in this repository's environment runs
them (`prefect worker start --pool iuran`). Their code comes from IURAN_SOURCE: by default this source
tree's path (workers on other machines need the same release at the same path), or a git URL, which
each run clones (`https://git.example.go.id/disnaker/iuran.git`).
"""

from __future__ import annotations

import argparse
import datetime as dt
import inspect
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast
from uuid import UUID

from iuran.config import PROGRAMS_DIR, ROOT, WORK_POOL, load_settings, prefect_defaults
from iuran.programs import Program, ProgramError, load_programs

prefect_defaults()

CYCLE_ENTRYPOINT = "flows/monthly_cycle.py:monthly_cycle"


@dataclass(frozen=True)
class Daily:
    """A flow run every day for each program (or once for all), if its file is there."""

    entrypoint: str
    name: str  # deployment name prefix
    cron: str
    description: str

    @property
    def path(self) -> Path:
        return ROOT / self.entrypoint.partition(":")[0]


DAILY = (
    Daily(
        "flows/payment_status.py:payment_status",
        "payment-status",
        "0 8 * * *",  # after BKAD's SP2D of the previous working day have come in
        "Daily: payments received, invoice payment states, overdue invoices",
    ),
    Daily(
        "flows/reminders.py:reminders",
        "reminders",
        "0 9 * * *",
        "Daily: reminders before the due date, overdue and lapse warnings",
    ),
)


#: A cron field's RRULE part and its range: minute, hour, day of month, month, day of week.
_CRON_FIELDS = (("BYMINUTE", 0, 59), ("BYHOUR", 0, 23), ("BYMONTHDAY", 1, 31), ("BYMONTH", 1, 12),
                ("BYDAY", 0, 7))  # fmt: skip
_WEEKDAYS = ("SU", "MO", "TU", "WE", "TH", "FR", "SA", "SU")  # cron: 0 and 7 are Sunday


def _cron_values(field: str, low: int, high: int) -> list[int] | None:
    """A cron field's values (None for `*`): numbers, ranges `a-b`, steps `*/n` `a-b/n`, lists."""
    if field == "*":
        return None
    values: set[int] = set()
    for part in field.split(","):
        span, _, step = part.partition("/")
        if span == "*":
            first, last = low, high
        elif "-" in span:
            first, last = (int(v) for v in span.split("-", 1))
        else:
            first = int(span)
            last = high if step else first
        values.update(range(first, last + 1, int(step or 1)))
    if not values or min(values) < low or max(values) > high:
        raise ValueError(f"{field!r} is outside {low}-{high}")
    return sorted(values)


def cycle_schedules(program: Program) -> list[Any]:
    """The program's `schedule.cron` within its months, over all its years: an RRULE from 00:00 on
    the first day of each unbroken run of months (`Program.spans`: consecutive budget years make one
    run, from the first year's first month to the last year's last) UNTIL 23:59:59 on the run's
    last day, in the program's timezone. A cron has no end, and a run after the last month would
    bill a year no budget pays for (the month refuses it, `iuran.month.refuse_outside`, but the
    schedule should not ask). Cron fields are numbers, ranges, steps and lists; a day of month and
    a day of week both restricted (cron runs on either, an RRULE only on both) is refused, as are
    names (`MON`, `JAN`)."""
    from prefect.schedules import RRule

    cron = program.schedule.cron
    fields = cron.split()
    try:
        if len(fields) != 5:
            raise ValueError("five fields are needed: minute hour day month weekday")
        values = [
            _cron_values(f, lo, hi) for f, (_, lo, hi) in zip(fields, _CRON_FIELDS, strict=True)
        ]
        if values[2] is not None and values[4] is not None:
            raise ValueError("restrict the day of month or the day of week, not both")
    except ValueError as exc:
        raise ProgramError(f"program {program.code}: schedule.cron {cron!r}: {exc}") from exc
    parts = ["FREQ=DAILY"]
    for (name, low, high), found in zip(_CRON_FIELDS, values, strict=True):
        if found is None and name in ("BYMINUTE", "BYHOUR"):
            found = list(range(low, high + 1))  # cron's `*`: every minute / hour
        if found is not None:
            items = sorted({_WEEKDAYS[v] for v in found}) if name == "BYDAY" else found
            parts.append(f"{name}={','.join(str(v) for v in items)}")
    parts.append("BYSECOND=0")
    schedules = []
    for first, last in program.spans():
        end = last.shift(1).first_day - dt.timedelta(days=1)
        rule = (
            f"DTSTART:{first.first_day:%Y%m%d}T000000\n"
            f"RRULE:{';'.join(parts)};UNTIL={end:%Y%m%d}T235959"
        )
        schedules.append(RRule(rule, timezone=program.schedule.timezone))
    return schedules


def _flow(entrypoint: str, source: str) -> Any:
    from prefect import Flow

    return Flow.from_source(source=source, entrypoint=entrypoint)


def cycle_deployment(
    program: Program,
    parameters: Mapping[str, Any] | None = None,
    job_variables: Mapping[str, Any] | None = None,
    scheduled: bool = True,
    source: str = str(ROOT),
) -> Any:
    """`monthly-cycle/cycle-<code>`: the program's schedule within its years' months, one run at a
    time."""
    code = program.code
    return _flow(CYCLE_ENTRYPOINT, source).to_deployment(
        name=f"cycle-{code}",
        description=f"Siklus iuran bulanan {program.name}",
        schedules=cycle_schedules(program),
        parameters={"program": code, **(parameters or {})},
        job_variables=dict(job_variables or {}),
        concurrency_limit=1,
        tags=[f"program:{code}", "monthly-cycle"],
        paused=not scheduled,  # deploy_all keeps a schedule an operator paused paused
    )


def daily_deployments(
    programs: Sequence[Program],
    parameters: Mapping[str, Any] | None = None,
    job_variables: Mapping[str, Any] | None = None,
    scheduled: bool = True,
    source: str = str(ROOT),
) -> list[Any]:
    """The daily flows whose files exist, per program when they take a `program` parameter."""
    from prefect.schedules import Cron

    found = []
    for daily in DAILY:
        if not daily.path.exists():
            print(f"skipped {daily.name}: {daily.path.relative_to(ROOT)} is not there yet")
            continue
        flow = _flow(daily.entrypoint, source)
        accepted = inspect.signature(flow.fn).parameters
        extra = {k: v for k, v in (parameters or {}).items() if k in accepted}
        required = {n for n, a in accepted.items() if a.default is inspect.Parameter.empty} - {
            "program",
            *extra,
        }
        if required:
            print(f"skipped {daily.name}: no value for its parameters {sorted(required)}")
            continue
        common: dict[str, Any] = dict(
            description=daily.description,
            job_variables=dict(job_variables or {}),
            concurrency_limit=1,
            paused=not scheduled,  # deploy_all keeps a schedule an operator paused paused
        )
        if "program" in accepted:
            for p in programs:
                found.append(
                    flow.to_deployment(
                        name=f"{daily.name}-{p.code}",
                        schedules=[Cron(daily.cron, timezone=p.schedule.timezone)],
                        parameters={"program": p.code, **extra},
                        tags=[f"program:{p.code}", daily.name],
                        **common,
                    )
                )
        else:
            found.append(
                flow.to_deployment(
                    name=daily.name,
                    schedules=[Cron(daily.cron, timezone="Asia/Jakarta")],
                    parameters=extra,
                    tags=[daily.name],
                    **common,
                )
            )
    return found


def ensure_pool(pool: str = WORK_POOL) -> None:
    """Create the `process` work pool if it is not there (an existing pool keeps its settings)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectNotFound
    from prefect.workers.process import ProcessWorker

    with get_client(sync_client=True) as client:
        try:
            client.read_work_pool(pool)
        except ObjectNotFound:
            client.create_work_pool(
                WorkPoolCreate(
                    name=pool,
                    type="process",
                    description="iuran: monthly cycles and daily runs",
                    base_job_template=ProcessWorker.get_default_base_job_template(),
                )
            )
            print(f"created work pool {pool!r} (process)")


#: The automation that marks a flow run `Crashed` when its heartbeats stop (a killed worker, a machine
#: gone): without it such a run shows `Running` in the UI for ever. Prefect's own recipe
#: (docs: "detect zombie flows"), for every flow run on the server.
CRASH_DETECTION = "iuran: run crashed when its heartbeats stop"


def crash_window() -> dt.timedelta:
    """How long a run may go without a heartbeat: three beats missed (`IURAN_CRASH_AFTER_SECONDS`,
    `Settings.crash_after`, overrides it; Prefect's heartbeat, `PREFECT_FLOWS_HEARTBEAT_FREQUENCY`,
    is 180 s by default)."""
    from prefect.settings import get_current_settings

    return dt.timedelta(seconds=3 * (get_current_settings().flows.heartbeat_frequency or 180))


def ensure_crash_detection(window: dt.timedelta | None = None) -> UUID:
    """Create or update the crash-detection automation (one, by name). An automation an operator
    disabled in the UI stays disabled, as a paused schedule stays paused."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.objects import StateType
    from prefect.events.actions import ChangeFlowRunState
    from prefect.events.schemas.automations import AutomationCore, EventTrigger, Posture
    from prefect.events.schemas.events import ResourceSpecification

    window = window or crash_window()
    wanted = AutomationCore(
        name=CRASH_DETECTION,
        description=(
            f"A flow run without a heartbeat for {int(window.total_seconds())} s is marked "
            "Crashed: its process is gone (a killed worker, a machine restarted). Rerun the "
            "month; the cycle's lease lets the new run in once it is stale."
        ),
        trigger=EventTrigger(
            after={"prefect.flow-run.heartbeat"},
            expect={
                "prefect.flow-run.heartbeat",
                "prefect.flow-run.Completed",
                "prefect.flow-run.Failed",
                "prefect.flow-run.Cancelled",
                "prefect.flow-run.Crashed",
            },
            match=ResourceSpecification({"prefect.resource.id": ["prefect.flow-run.*"]}),
            for_each={"prefect.resource.id"},
            posture=Posture.Proactive,
            threshold=1,
            within=window,
        ),
        actions=[
            ChangeFlowRunState(
                name="Crashed",
                state=StateType.CRASHED,
                force=False,
                message=f"No heartbeat for {int(window.total_seconds())} s: the run's process is gone.",
            )
        ],
    )
    with get_client(sync_client=True) as client:
        found = client.read_automations_by_name(CRASH_DETECTION)
        if not found:
            return client.create_automation(wanted)
        keep, *extra = sorted(found, key=lambda a: str(a.id))
        for a in extra:  # one, whoever created more
            client.delete_automation(a.id)
        client.update_automation(keep.id, wanted.model_copy(update={"enabled": keep.enabled}))
        return keep.id


def _paused_now(name: str) -> bool:
    """Whether an operator paused this deployment's schedule: deploying again must not resume it."""
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    with get_client(sync_client=True) as client:
        try:
            return bool(client.read_deployment_by_name(name).paused)
        except ObjectNotFound:
            return False


def deploy_all(
    pool: str = WORK_POOL,
    programs_dir: Path = PROGRAMS_DIR,
    only: Sequence[str] = (),
    parameters: Mapping[str, Any] | None = None,
    job_variables: Mapping[str, Any] | None = None,
    scheduled: bool = True,
    source: str = str(ROOT),
    crash_after: dt.timedelta | None = None,
) -> list[UUID]:
    """Create or update every deployment (or those of the `only` programs) on `pool`.

    `parameters` and `job_variables` (e.g. `{"env": {...}}`) are added to every deployment;
    `scheduled=False` deploys with schedules paused (runs start only when asked for); with `True`,
    a deployment whose schedule an operator paused stays paused. `source`: where the deployments
    take their code from (`Settings.source`); `crash_after`: the crash-detection window
    (None: `crash_window`).
    """
    from prefect import deploy

    programs = [p for code, p in load_programs(programs_dir).items() if not only or code in only]
    missing = set(only) - {p.code for p in programs}
    if missing:
        raise SystemExit(f"no program file for {', '.join(sorted(missing))} in {programs_dir}")
    ensure_pool(pool)
    ensure_crash_detection(crash_after)
    deployments = [
        cycle_deployment(p, parameters, job_variables, scheduled, source) for p in programs
    ]
    deployments += daily_deployments(programs, parameters, job_variables, scheduled, source)
    for d in deployments:
        if not d.paused and _paused_now(f"{d.flow_name}/{d.name}"):
            d.paused = True
            print(f"kept {d.flow_name}/{d.name} paused (paused in the UI; resume it there)")
    ids = deploy(  # a sync call here: async_dispatch returns the list itself
        *deployments,
        work_pool_name=pool,
        build=False,
        push=False,
        print_next_steps_message=False,
        ignore_warnings=True,
    )
    for d in deployments:
        print(f"deployed {d.flow_name}/{d.name}")
    return cast(list[UUID], ids)


def main(argv: Sequence[str] | None = None) -> int:
    settings = load_settings()
    parser = argparse.ArgumentParser(prog="python -m deployments.deploy", description=__doc__)
    parser.add_argument(
        "--pool", default=settings.work_pool, help="process work pool (default %(default)s)"
    )
    parser.add_argument("--only", action="append", default=[], help="program code (repeatable)")
    parser.add_argument(
        "--list", action="store_true", help="print what would be deployed, deploy nothing"
    )
    args = parser.parse_args(argv)
    if args.list:
        for code, p in load_programs().items():
            if not args.only or code in args.only:
                print(
                    f"monthly-cycle/cycle-{code}  {p.schedule.cron}  {p.schedule.timezone}  "
                    f"{p.months_text()}"
                )
        for daily in DAILY:
            state = "present" if daily.path.exists() else "not there yet"
            print(f"{daily.entrypoint}  {daily.cron}  Asia/Jakarta  ({state})")
        return 0
    deploy_all(args.pool, only=args.only, source=settings.source, crash_after=settings.crash_after)
    return 0


if __name__ == "__main__":
    sys.exit(main())
