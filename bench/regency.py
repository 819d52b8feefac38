"""Cases 1 and 4: a Lahat-size regency cycle through the Prefect flow, and what Prefect costs.

Three runs of `flows.monthly_cycle.monthly_cycle` on a fresh SQLite database with the ephemeral
Prefect API: the first cycle, an unchanged rerun, and a rerun after one village's file changed (its
last worker removed: one invoice is revised, re-rendered and mailed again).

The ephemeral server starts on the first flow call of a process; it is timed apart by calling a
trivial flow first (its first call = server start + one flow run; its second = one flow run).

The work is timed by running the same three cycles as plain function calls, outside Prefect, on a
second copy of the inbox and a second fresh database (`plain_cycle` runs the month the flow runs,
`iuran/month.py`, with plain steps). Prefect's share of a cycle = (flow wall − plain wall) / flow wall; the
task runs' own durations, read back from the API, give a second estimate.

The plain cycles run once more with PostgreSQL as the registry (`on_postgres`), beside SQLite's.

The render step's worker processes (`iuran/render.py`, one a core) against the cycle's own process:
the first cycle once more as plain calls with `IURAN_RENDER_WORKERS=1` on a third copy
(`render_serial`), its render step beside the plain first cycle's.

Must run in its own process (`python -m bench.run regency`): the Prefect settings are read at import.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import shutil
import time
from pathlib import Path
from typing import Any

from bench import data

TODAY = dt.date(2025, 9, 2)
PERIOD = str(data.LAHAT_PERIOD)


def _fresh(workdir: Path, inbox: Path, name: str) -> dict[str, Any]:
    """A copy of the generated inbox, a fresh database, documents and outbox folders."""
    base = workdir / name
    if base.exists():
        shutil.rmtree(base)
    base.mkdir(parents=True)
    shutil.copytree(inbox, base / "inbox")
    return {
        "inbox": base / "inbox",
        "db": f"sqlite:///{base / 'iuran.db'}",
        "out": base / "out",
        "outbox": base / "outbox",
    }


def change_one_village(inbox: Path) -> str:
    """Remove the last worker of the first CSV village: one invoice changes."""
    folder = inbox / data.LAHAT / PERIOD
    path = sorted(folder.glob("*.csv"))[0]
    lines = path.read_text(encoding="utf-8").splitlines()
    path.write_text("\n".join(lines[:-1]) + "\n", encoding="utf-8")
    return path.name


# ---------------------------------------------------------------------------------- plain calls


def plain_cycle(where: dict[str, Any]) -> dict[str, Any]:
    """The month (`iuran/month.py`) as the flow runs it, with plain calls (no Prefect), timed per
    step: each step's lap runs from the end of the step before it."""
    import dataclasses

    from iuran.config import load_settings
    from iuran.locks import held
    from iuran.month import PLAIN, Steps, run_month
    from iuran.periods import Period
    from iuran.programs import load_program

    steps: dict[str, float] = {}
    returned: dict[str, Any] = {}
    t0 = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal t0
        now = time.perf_counter()
        steps[name] = round(now - t0, 3)
        t0 = now

    def timed(name: str, step: Any) -> Any:
        def run(*args: Any) -> Any:
            returned[name] = step(*args)
            lap(name)
            return returned[name]

        return run

    laps = {
        "recall": "recall", "collect": "collect", "validate": "validate",
        "reconcile": "reconcile", "price": "price", "record": "record", "reports": "reports",
        "render": "render", "deliver": "send", "remember": "summary",
    }  # fmt: skip
    month_steps: Steps = dataclasses.replace(
        PLAIN, **{field: timed(name, getattr(PLAIN, field)) for field, name in laps.items()}
    )
    start = time.perf_counter()
    settings = load_settings(where["db"], where["inbox"], where["out"])
    plan = load_program(data.LAHAT)
    with held(settings.database_url, plan.code, PERIOD, "bench"):
        lap("setup")
        summary = run_month(month_steps, settings, plan, Period.parse(PERIOD), TODAY).summary
    return {
        "wall_s": round(time.perf_counter() - start, 3),
        "steps_s": steps,
        "status": summary["status"],
        "rendered": len(returned.get("render", [])),
        "sent": summary["notifications"]["sent"],
        "rows": summary["rows"]["received"],
        "invoices": len(summary["invoices"]),
    }


# ------------------------------------------------------------------------------------ the flow


async def _task_runs(flow_run_id: Any) -> list[dict[str, Any]]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    async with get_client() as client:
        runs = await client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
        )
        flow_run = await client.read_flow_run(flow_run_id)
    out = [
        {"name": r.name, "seconds": r.total_run_time.total_seconds(), "state": r.state_name}
        for r in runs
    ]
    out.append({"flow": flow_run.name, "seconds": flow_run.total_run_time.total_seconds()})
    return out


def flow_cycle(where: dict[str, Any]) -> dict[str, Any]:
    from flows.monthly_cycle import monthly_cycle

    os.environ["IURAN_OUTBOX"] = str(where["outbox"])
    t = time.perf_counter()
    state = monthly_cycle(
        program=data.LAHAT,
        period=PERIOD,
        inbox=str(where["inbox"]),
        db=where["db"],
        out=str(where["out"]),
        today=TODAY,
        return_state=True,
    )
    wall = time.perf_counter() - t
    summary = state.result()
    runs = asyncio.run(_task_runs(state.state_details.flow_run_id))
    tasks = [r for r in runs if "name" in r]
    return {
        "wall_s": round(wall, 3),
        "status": summary["status"],
        "rows": summary["rows"]["received"],
        "billed": summary["participants"]["billed"],
        "invoices": len(summary["invoices"]),
        "sent": summary["notifications"]["sent"],
        "task_runs": len(tasks),
        "task_s": round(sum(r["seconds"] for r in tasks), 3),
        "flow_run_s": round(runs[-1]["seconds"], 3),
        "tasks": {r["name"]: round(r["seconds"], 3) for r in tasks},
    }


# ---------------------------------------------------------------------------------- PostgreSQL


def on_postgres(workdir: Path, inbox: Path) -> dict[str, Any]:
    """The same three plain cycles with PostgreSQL as the registry (`bench.postgres`: the bench's
    server or a throwaway one), for the figures beside SQLite's plain calls."""
    from bench.postgres import fresh_database, server
    from iuran.db.session import upgrade

    with server() as (url, how):
        if url is None:
            return {"skipped": how}
        where = _fresh(workdir, inbox, "postgres")
        where["db"] = fresh_database(url, "iuran_bench_regency")
        upgrade(where["db"])
        os.environ["IURAN_OUTBOX"] = str(where["outbox"])
        runs: dict[str, Any] = {"server": how}
        for name in ("first", "unchanged", "one_village"):
            if name == "one_village":
                change_one_village(where["inbox"])
            runs[name] = plain_cycle(where)
        return runs


# ------------------------------------------------------------------------------------ the case


def run(workdir: Path, quick: bool = False) -> dict[str, Any]:
    from iuran.db.session import upgrade

    villages, per_village = (20, 10) if quick else (None, 100)
    lahat = data.lahat(villages, per_village)
    small = data.lahat(12, 5)  # case 4: the same flow on 60 workers, for the task-run count

    # The ephemeral API, apart: a trivial flow's first call starts it.
    from prefect import flow

    @flow(name="bench-ping")
    def ping() -> int:
        return 1

    t = time.perf_counter()
    ping()
    first_call = time.perf_counter() - t
    t = time.perf_counter()
    ping()
    empty_flow = time.perf_counter() - t

    result: dict[str, Any] = {
        "villages": lahat.files,
        "rows": lahat.rows,
        "generate_s": round(lahat.seconds, 1),
        "server_start_s": round(first_call - empty_flow, 2),
        "empty_flow_s": round(empty_flow, 3),
    }

    # Warm both sides alike (imports, the area-code list, the typst compiler): a small plain cycle.
    warm = _fresh(workdir, small.inbox, "warm")
    upgrade(warm["db"])
    os.environ["IURAN_OUTBOX"] = str(warm["outbox"])
    plain_cycle(warm)

    flow_dir = _fresh(workdir, lahat.inbox, "flow")
    plain_dir = _fresh(workdir, lahat.inbox, "plain")
    for where in (flow_dir, plain_dir):
        upgrade(where["db"])
    runs: dict[str, Any] = {}
    for name in ("first", "unchanged", "one_village"):
        if name == "one_village":
            result["changed_file"] = change_one_village(flow_dir["inbox"])
            change_one_village(plain_dir["inbox"])
        runs[name] = {"flow": flow_cycle(flow_dir), "plain": plain_cycle(plain_dir)}
    result["runs"] = runs
    result["postgres"] = on_postgres(workdir, lahat.inbox)

    from iuran.config import render_workers

    result["render_workers"] = render_workers()
    serial_dir = _fresh(workdir, lahat.inbox, "serial")
    upgrade(serial_dir["db"])
    setting = os.environ.get("IURAN_RENDER_WORKERS")
    os.environ["IURAN_RENDER_WORKERS"] = "1"
    try:
        serial = plain_cycle(serial_dir)
    finally:
        os.environ.pop("IURAN_RENDER_WORKERS")
        if setting is not None:
            os.environ["IURAN_RENDER_WORKERS"] = setting
    parallel_render = runs["first"]["plain"]["steps_s"]["render"]
    result["render_serial"] = {
        "wall_s": serial["wall_s"],
        "render_s": serial["steps_s"]["render"],
        "parallel_render_s": parallel_render,
        "ratio": round(serial["steps_s"]["render"] / parallel_render, 2)
        if parallel_render
        else 0.0,
    }

    small_dir = _fresh(workdir, small.inbox, "small")
    upgrade(small_dir["db"])
    small_run = flow_cycle(small_dir)
    result["small"] = {
        "rows": small.rows,
        "villages": small.files,
        "task_runs": small_run["task_runs"],
        "wall_s": small_run["wall_s"],
    }
    first = runs["first"]
    result["task_runs"] = first["flow"]["task_runs"]
    result["task_runs_small"] = small_run["task_runs"]
    for r in runs.values():
        fw, pw = r["flow"]["wall_s"], r["plain"]["wall_s"]
        r["prefect_share"] = round(max(0.0, fw - pw) / fw, 3) if fw else 0.0
        r["prefect_share_api"] = round(max(0.0, fw - r["flow"]["task_s"]) / fw, 3) if fw else 0.0
    return result
