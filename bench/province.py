"""Case 5: a province on the engine its users would run (issue 19, part 3).

Jawa Tengah (province 33): one program and one deployment per regency (35 kabupaten and kota, their
real village counts from `iuran.wilayah`, 10 workers a village), billed for January 2026 by
everything the README's Scaling section describes, started here on loopback:

* PostgreSQL (`initdb` into a temporary folder, `pg_ctl` on a free port, as `.ci/run` starts it):
  the registry every run writes to, and the Prefect server's own database;
* `prefect server start` (its PREFECT_HOME under `bench/data/runs/province/`);
* the process work pool with two workers (`prefect worker start --type process --limit N`), then
  again with one;
* the deployments, made by `deployments.deploy.cycle_deployment` from a copy of this source tree
  whose `deployments/programs/` holds the regencies' program files (a release at a path, as the
  README says workers use), schedules paused;

then every deployment triggered at once, as the schedule does on the 1st (`run_deployment(...,
timeout=0)`), and waited for until every run is final. From the API: the province's wall time
(first trigger → last run's end), the runs' own time (start → end), each run's overhead (created →
Running: the worker's poll, the process start, the flow's imports), the lease (`iuran/locks.py`:
how long after its start each run held it; a run refused by a held lease and lock or lease errors
counted from the runs' logs). Every regency's invoices, total and billed workers are then checked
against the same month run on its own as plain calls (`iuran.month.PLAIN`) on SQLite.

Everything started is stopped in `finally`, also on Ctrl-C or SIGTERM: the server and workers by
their process groups, PostgreSQL with `pg_ctl stop` (its folder deleted), and flow-run processes a
stopped worker left behind (they run in sessions of their own) by the ids the API gave and by this
case's server URL in their environment.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import psycopg
import yaml
from sqlalchemy import func, select

from bench import data
from bench.machine import timestamp
from deployments.local import api_url, client_env, start_server, start_worker, stop, wait_healthy
from iuran.config import load_settings
from iuran.db.models import ContributionLine, Invoice, Notification
from iuran.db.session import session_scope, upgrade
from iuran.locks import held
from iuran.mail.deliver import DeliveryReport
from iuran.month import PLAIN, run_month

PROVINCE = "33"  # Jawa Tengah
PERIOD = str(data.NATIONAL_PERIOD)
TODAY = data.NATIONAL_PERIOD.first_day  # as the schedule runs it: on the 1st
POOL = "bench-province"
WORKER_LIMIT = 4  # the README's `prefect worker start --pool iuran --limit 4`
#: What a run's logs say when a lease or a lock got in its way (iuran/locks.py, the databases).
LOCK_TROUBLE = (
    "is being run by",
    "could not renew the lease",
    "lost by",  # iuran.locks: "lease on cycle … lost by …"
    "lock timeout",
    "lock_timeout",
    "deadlock",
    "database is locked",
    "could not obtain lock",
)
SOURCE_PARTS = ("iuran", "flows", "tasks", "templates", "deployments", "pyproject.toml")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ---------------------------------------------------------------------------------- PostgreSQL


def _pg_bin() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: p.parts[-3])
    if not found:
        raise RuntimeError("no PostgreSQL server (/usr/lib/postgresql/*/bin/pg_ctl): install it")
    return found[-1].parent


def _as_postgres(cmd: list[str]) -> list[str]:
    """As root, PostgreSQL's tools run as the `postgres` user (initdb refuses root)."""
    if os.geteuid() != 0:
        return cmd
    return ["su", "postgres", "-c", " ".join(cmd)]


@contextlib.contextmanager
def postgres() -> Iterator[str]:
    """A throwaway PostgreSQL on a free loopback port: its server URL (no database), stopped and
    deleted on exit whatever happened."""
    pg = _pg_bin()
    folder = Path(tempfile.mkdtemp(prefix="iuran-bench-pg."))
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres")
    port = free_port()
    started = False
    try:
        subprocess.run(
            _as_postgres([str(pg / "initdb"), "-D", str(folder), "-A", "trust", "-U", "postgres",
                          "-E", "UTF8"]),
            check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip
        options = f"'-h 127.0.0.1 -p {port} -k {folder} -c max_connections=300'"
        subprocess.run(
            _as_postgres([str(pg / "pg_ctl"), "-D", str(folder), "-o", options, "-l",
                          str(folder / "server.log"), "-w", "start"]),
            check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip
        started = True
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}"
    finally:
        if started:
            subprocess.run(
                _as_postgres([str(pg / "pg_ctl"), "-D", str(folder), "-m", "fast", "stop"]),
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False,
            )  # fmt: skip
        shutil.rmtree(folder, ignore_errors=True)


def create_database(server: str, name: str) -> str:
    with psycopg.connect(server.replace("+psycopg", "") + "/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{server}/{name}"


# ------------------------------------------------------------------------------ the release copy


def release(programs: list[Any], where: Path) -> Path:
    """This source tree's code at `where`, with one program file per regency: what the workers run."""
    root = data.ROOT.parent
    if where.exists():
        shutil.rmtree(where)
    where.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for part in SOURCE_PARTS:
        source = root / part
        if source.is_dir():
            shutil.copytree(source, where / part, ignore=ignore)
        else:
            shutil.copy2(source, where / part)
    folder = where / "deployments" / "programs"
    for p in programs:
        text = yaml.safe_dump(p.model_dump(mode="json", exclude_none=True), allow_unicode=True,
                              sort_keys=False)  # fmt: skip
        (folder / f"{p.code}.yaml").write_text(text, encoding="utf-8")
    return where


# ---------------------------------------------------------------------------------- processes


def logging_settings(workdir: Path) -> Path:
    """Prefect's logging settings plus `iuran` at INFO to the API, so that each run's lease lines
    (`iuran.locks`: taken, released, lost) can be read back. (PREFECT_LOGGING_EXTRA_LOGGERS would
    send them, but in Prefect 3.8.8 an extra logger keeps the root's WARNING level.)"""
    import prefect.logging

    config = yaml.safe_load((Path(prefect.logging.__file__).parent / "logging.yml").read_text())
    config["loggers"]["iuran"] = {
        "level": "INFO",
        "handlers": ["api", "console"],
        "propagate": False,
    }
    path = workdir / "logging.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


@dataclass
class Engine:
    """The Prefect server and workers this case started, and the flow-run processes seen."""

    url: str
    workdir: Path
    source: Path
    processes: dict[str, subprocess.Popen[bytes]] = dataclasses.field(default_factory=dict)
    run_pids: set[int] = dataclasses.field(default_factory=set)

    def worker_env(self) -> dict[str, str]:
        return client_env(
            self.url,
            self.workdir / "client",
            {
                "PYTHONPATH": str(self.source),  # the release's iuran, flows and tasks
                "PREFECT_LOGGING_SETTINGS_PATH": str(logging_settings(self.workdir)),
            },
        )

    def start_workers(self, count: int, limit: int) -> None:
        for i in range(count):
            name = f"worker-{i + 1}"
            log = self.workdir / "logs" / f"{name}.log"
            self.processes[name] = start_worker(POOL, self.worker_env(), log, name, limit)

    def stop_workers(self) -> None:
        for name in [n for n in self.processes if n.startswith("worker-")]:
            stop(self.processes.pop(name).pid)
        self.stop_runs()

    def stop_runs(self) -> None:
        """Flow-run processes still alive (a worker stopped mid-run; they run in sessions of their
        own): those the API named, and any process whose environment names this case's server
        (its port is this case's alone)."""
        mine = f"PREFECT_API_URL={self.url}".encode()
        for proc in Path("/proc").glob("[0-9]*"):
            with contextlib.suppress(OSError):
                if mine in (proc / "environ").read_bytes().split(b"\0"):
                    self.run_pids.add(int(proc.name))
        for pid in self.run_pids - {os.getpid()}:
            with contextlib.suppress(OSError):
                if b"prefect" in Path(f"/proc/{pid}/cmdline").read_bytes():
                    os.kill(pid, signal.SIGKILL)

    def stop_all(self) -> None:
        self.stop_workers()
        for name in list(self.processes):
            stop(self.processes.pop(name).pid)


@contextlib.contextmanager
def engine(workdir: Path, source: Path, pg_server: str) -> Iterator[Engine]:
    """`prefect server start` on a free port, its database on PostgreSQL; stopped on exit."""
    port = free_port()
    url = api_url(port)
    os.environ["PREFECT_API_URL"] = url  # this process's client (deploy, trigger, read back)
    os.environ["PREFECT_HOME"] = str(workdir / "client")
    os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    prefect_db = create_database(pg_server, "prefect").replace("+psycopg", "+asyncpg")
    log = workdir / "logs" / "server.log"
    found = Engine(url, workdir, source)
    try:
        server = start_server(
            workdir / "server", port, log, {"PREFECT_SERVER_DATABASE_CONNECTION_URL": prefect_db}
        )
        found.processes["server"] = server
        wait_healthy(url, server, log, timeout=180)
        yield found
    finally:
        found.stop_all()


def deploy(programs: list[Any], source: Path) -> list[str]:
    """The regencies' `monthly-cycle/cycle-<code>` deployments on the bench pool, schedules paused."""
    # Prefect is imported once this process's PREFECT_API_URL names the bench's server (`engine`).
    from prefect import deploy as prefect_deploy

    from deployments.deploy import cycle_deployment, ensure_pool

    ensure_pool(POOL)
    deployments = [cycle_deployment(p, scheduled=False, source=str(source)) for p in programs]
    prefect_deploy(
        *deployments, work_pool_name=POOL, build=False, push=False,
        print_next_steps_message=False, ignore_warnings=True,
    )  # fmt: skip
    return [f"{d.flow_name}/{d.name}" for d in deployments]


# ------------------------------------------------------------------------------------ one wave


def median(values: list[float]) -> float | None:
    return sorted(values)[len(values) // 2] if values else None


def _seconds(a: dt.datetime | None, b: dt.datetime | None) -> float | None:
    return round((b - a).total_seconds(), 3) if a and b else None


async def _read_back(ids: list[Any]) -> dict[str, Any]:
    """Every run's states and the lease's log lines, from the API."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterId,
        LogFilter,
        LogFilterFlowRunId,
    )

    runs = []
    async with get_client() as client:
        flow_runs = await client.read_flow_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=ids)), limit=len(ids)
        )
        logs = []
        offset = 0
        while True:
            page = await client.read_logs(
                log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=ids)),
                offset=offset,
                limit=200,
            )
            logs += page
            offset += len(page)
            if len(page) < 200:
                break
        for r in flow_runs:
            states = await client.read_flow_run_states(r.id)
            runs.append((r, states))
    by_run: dict[Any, list[Any]] = {}
    for line in logs:
        by_run.setdefault(line.flow_run_id, []).append(line)
    out = []
    for r, states in runs:
        first: dict[str, dt.datetime] = {}
        for s in sorted(states, key=lambda s: s.timestamp):
            first.setdefault(s.type.value, s.timestamp)
        lines = by_run.get(r.id, [])
        taken = [
            x.timestamp for x in lines if "lease on cycle" in x.message and "taken" in x.message
        ]
        trouble = [
            x.message[:200] for x in lines if any(t in x.message.lower() for t in LOCK_TROUBLE)
        ]
        out.append(
            {
                "name": r.name,
                "state": r.state_name,
                "created": r.created,
                "start": r.start_time,
                "end": r.end_time,
                "run_s": round(r.total_run_time.total_seconds(), 3),
                "overhead_s": _seconds(r.created, first.get("RUNNING")),
                "pending_to_running_s": _seconds(first.get("PENDING"), first.get("RUNNING")),
                "lease_after_start_s": _seconds(r.start_time, min(taken)) if taken else None,
                "lock_trouble": trouble,
                "pid": r.infrastructure_pid,
            }
        )
    return {"runs": out}


def wave(
    found: Engine, names: list[str], db: str, inbox: Path, out: Path, workers: int, limit: int
) -> dict[str, Any]:
    """Every deployment triggered at once on `workers` workers; waits until every run is final."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
    from prefect.deployments import run_deployment

    found.start_workers(workers, limit)
    try:
        parameters = {"period": PERIOD, "inbox": str(inbox), "db": db, "out": str(out),
                      "today": TODAY.isoformat()}  # fmt: skip
        began = dt.datetime.now(dt.UTC)
        t0 = time.perf_counter()
        # A sync call here: async_dispatch returns the run itself.
        ids = [cast(Any, run_deployment(n, parameters=parameters, timeout=0)).id for n in names]
        triggered = time.perf_counter() - t0
        final: list[Any] = []
        with get_client(sync_client=True) as client:
            while True:
                final = client.read_flow_runs(
                    flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=ids)), limit=len(ids)
                )
                for r in final:
                    if r.infrastructure_pid:
                        with contextlib.suppress(ValueError):
                            found.run_pids.add(int(str(r.infrastructure_pid).rsplit(":", 1)[-1]))
                if all(r.state and r.state.is_final() for r in final):
                    break
                time.sleep(1)
        observed = time.perf_counter() - t0
        back = asyncio.run(_read_back(ids))
    finally:
        found.stop_workers()
    runs = back["runs"]
    ends = [r["end"] for r in runs if r["end"]]
    overheads = sorted(r["overhead_s"] for r in runs if r["overhead_s"] is not None)
    leases = [r["lease_after_start_s"] for r in runs if r["lease_after_start_s"] is not None]
    return {
        "workers": workers,
        "limit": limit,
        "runs": len(runs),
        "states": {s: sum(r["state"] == s for r in runs) for s in {r["state"] for r in runs}},
        "trigger_s": round(triggered, 2),
        "wall_s": _seconds(began, max(ends)) if ends else None,
        "observed_s": round(observed, 1),
        "runs_sum_s": round(sum(r["run_s"] for r in runs), 1),
        "overhead_s": {
            "min": overheads[0] if overheads else None,
            "median": median(overheads),
            "max": overheads[-1] if overheads else None,
        },
        "pending_to_running_s_median": median(
            [r["pending_to_running_s"] for r in runs if r["pending_to_running_s"] is not None]
        ),
        "lease_taken_after_start_s_max": max(leases) if leases else None,
        "lease_refusals": sum(any("is being run by" in m for m in r["lock_trouble"]) for r in runs),
        "lock_trouble": sum(len(r["lock_trouble"]) for r in runs),
        "lease_log_lines": len(leases),
        "per_run": [
            {k: v for k, v in r.items() if k not in ("created", "start", "end", "pid")}
            for r in runs
        ],
    }


# ----------------------------------------------------------------------------- totals, compared


def totals(db: str, codes: list[str]) -> dict[str, dict[str, int]]:
    """Per program: invoices (latest revisions), their total, billed workers (current lines)."""
    superseded = select(Invoice.supersedes_id).where(Invoice.supersedes_id.is_not(None))
    with session_scope(db) as s:
        invoices = s.execute(
            select(Invoice.program, func.count(), func.sum(Invoice.total))
            .where(Invoice.period == PERIOD, Invoice.id.not_in(superseded))
            .group_by(Invoice.program)
        ).all()
        lines = s.execute(
            select(ContributionLine.program, func.count())
            .where(ContributionLine.period == PERIOD, ContributionLine.is_current)
            .group_by(ContributionLine.program)
        ).all()
    out = {c: {"invoices": 0, "total": 0, "billed": 0} for c in codes}
    for program, n, total in invoices:
        out.setdefault(program, {"invoices": 0, "total": 0, "billed": 0})
        out[program].update(invoices=int(n), total=int(total or 0))
    for program, n in lines:
        out.setdefault(program, {"invoices": 0, "total": 0, "billed": 0})["billed"] = int(n)
    return out


def mail(db: str) -> dict[str, int]:
    """The month's notifications by status, and how many were deferred once because a document
    was not there yet (another regency's run delivering while this one still rendered)."""
    with session_scope(db) as s:
        found = dict(
            s.execute(
                select(Notification.status, func.count())
                .where(Notification.period == PERIOD)
                .group_by(Notification.status)
            ).all()
        )
        deferred = s.execute(
            select(func.count()).where(
                Notification.period == PERIOD, Notification.last_error.like("%attachment%")
            )
        ).scalar_one()
    return {**{str(k): int(v) for k, v in found.items()}, "deferred_no_document": int(deferred)}


def alone(programs: list[Any], inbox: Path, workdir: Path) -> tuple[dict[str, Any], float]:
    """Each regency's month on its own, as plain calls on a fresh SQLite database; no documents
    and no e-mail (they change no total)."""
    base = workdir / "alone"
    if base.exists():
        shutil.rmtree(base)
    base.mkdir(parents=True)
    db = f"sqlite:///{base / 'iuran.db'}"
    upgrade(db)
    steps = dataclasses.replace(PLAIN, render=lambda *_: [], deliver=lambda *_: DeliveryReport())
    t = time.perf_counter()
    for p in programs:
        settings = load_settings(db, str(inbox), str(base / "out"))
        with held(db, p.code, PERIOD, "bench-alone"):
            run_month(steps, settings, p, data.NATIONAL_PERIOD, TODAY)
    return totals(db, [p.code for p in programs]), time.perf_counter() - t


def compare(got: dict[str, Any], want: dict[str, Any]) -> list[str]:
    return [
        f"{code}: engine {got.get(code)} vs alone {want[code]}"
        for code in sorted(want)
        if got.get(code) != want[code]
    ]


# ------------------------------------------------------------------------------------ the case


def _terminated(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)  # so that `finally` stops what the case started


def run(workdir: Path, quick: bool = False, limit: int = WORKER_LIMIT) -> dict[str, Any]:
    signal.signal(signal.SIGTERM, _terminated)
    regencies, villages = (4, 3) if quick else (None, None)
    dataset, programs = data.province(PROVINCE, regencies, villages)
    codes = [p.code for p in programs]
    workdir.mkdir(parents=True, exist_ok=True)
    source = release(programs, workdir / "release")
    want, alone_s = alone(programs, dataset.inbox, workdir)

    result: dict[str, Any] = {
        "province": PROVINCE,
        "measured": timestamp(),
        "load_average": round(os.getloadavg()[0], 1),  # a shared machine: what else ran
        "regencies": len(programs),
        "villages": dataset.files,
        "rows": dataset.rows,
        "generate_s": round(dataset.seconds, 1),
        "alone_s": round(alone_s, 1),
        "alone": {
            "invoices": sum(w["invoices"] for w in want.values()),
            "total": sum(w["total"] for w in want.values()),
            "billed": sum(w["billed"] for w in want.values()),
        },
    }
    with postgres() as pg:
        t = time.perf_counter()
        with engine(workdir, source, pg) as found:
            result["server_start_s"] = round(time.perf_counter() - t, 1)
            t = time.perf_counter()
            names = deploy(programs, source)
            result["deploy_s"] = round(time.perf_counter() - t, 1)
            for workers in (2, 1):
                db = create_database(pg, f"iuran_{workers}w")
                upgrade(db)
                out = workdir / f"out-{workers}w"
                shutil.rmtree(out, ignore_errors=True)
                w = wave(found, names, db, dataset.inbox, out, workers, limit)
                got = totals(db, codes)
                per_run = w.pop("per_run")  # kept beside the results, out of results.json
                (workdir / f"runs-{workers}w.json").write_text(json.dumps(per_run, indent=1))
                w["mail"] = mail(db)
                w["mismatches"] = compare(got, want)
                w["totals_equal"] = not w["mismatches"]
                result[f"workers_{workers}"] = w
    return result
