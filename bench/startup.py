"""Case 8: the fixed cost of a run as an admin meets it (issue 19, part 1).

A small month (Lebak January, 20 villages × 10 workers; 5 × 10 with --quick) is billed once with plain
calls, then each command an admin types is timed from a new process, as from the shell, the median
of three runs (the CPU time of each beside it: on a shared machine the steadier figure):

* `iuran --help` and `iuran status --program lebak --period 2026-01`;
* `iuran cycle` on the unchanged month on the embedded default (no server: answered from the last
  complete run before Prefect starts, `iuran.cli.answer_unchanged`);
* the same against a running `prefect server start` (on a free loopback port, its address written
  where `make up` writes it, so the command line finds it as an admin's would): a flow run each;
* the deployment `monthly-cycle/cycle-lebak` run through a process worker (`deployments.local`'s
  `start_worker`), timed from the Prefect API's flow run timestamps: submitted (created) → Completed,
  and what the worker adds, created → Running (its poll, the run's process start and imports).

The server and the worker are stopped (by their process groups) in `finally`.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, cast

from bench.machine import timestamp
from bench.province import free_port
from deployments.local import (
    announce,
    api_url,
    client_env,
    start_server,
    start_worker,
    stop,
    wait_healthy,
)
from iuran.config import ROOT, SERVER_FILE

PROGRAM, PERIOD = "lebak", "2026-01"
POOL = "startup-bench"
RUNS = 3
IURAN = [sys.executable, "-m", "iuran.cli"]
#: The targets of issue 19, part 1 (seconds).
TARGETS = {"cycle_embedded": 3.0, "cycle_server": 2.0, "worker_adds": 3.0}


def median(values: list[float]) -> float:
    return sorted(values)[len(values) // 2]


def month_env(workdir: Path) -> dict[str, str]:
    """The environment of every command this case runs: everything under `workdir`, no server."""
    var = workdir / "var"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_API_", "IURAN_"))}
    env.update(
        IURAN_VAR=str(var),
        IURAN_DATABASE_URL=f"sqlite:///{var / 'iuran.db'}",
        IURAN_INBOX=str(var / "inbox"),
        IURAN_OUT=str(var / "out"),
        IURAN_PRIVATE=str(var / "private"),
        PREFECT_HOME=str(workdir / "prefect"),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_LOGGING_LEVEL="WARNING",
        PYTHONPATH=str(ROOT),
    )
    return env


def bill_once(env: dict[str, str], villages: int) -> dict[str, Any]:
    """Lebak January generated and billed whole with plain calls (no Prefect): the month the timed
    commands find unchanged."""
    os.environ.update({k: v for k, v in env.items() if k.startswith("IURAN_")})
    from iuran.config import load_settings
    from iuran.db.session import upgrade
    from iuran.generate import generate_rosters
    from iuran.month import PLAIN, run_month
    from iuran.periods import Period
    from iuran.programs import load_program

    settings = load_settings()
    upgrade(settings.database_url)
    lebak, month = load_program(PROGRAM), Period.parse(PERIOD)
    generate_rosters(lebak, month, settings.inbox, villages=villages, per_village=10, seed=19)
    t = time.perf_counter()
    summary = run_month(PLAIN, settings, lebak, month).summary
    return {
        "status": summary["status"],
        "billed": summary["participants"]["billed"],
        "seconds": round(time.perf_counter() - t, 2),
    }


def timed(
    args: list[str], env: dict[str, str]
) -> tuple[float, float, subprocess.CompletedProcess[str]]:
    """Wall time and CPU time (user + system, the command and the processes it waited for: on a
    shared machine the steadier figure) of `iuran <args>`."""
    t, before = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(
        [*IURAN, *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    seconds, after = time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"iuran {' '.join(args)}: exit {done.returncode}\n{done.stderr[-2000:]}")
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return seconds, cpu, done


def command(args: list[str], env: dict[str, str], check: str | None = None) -> dict[str, Any]:
    """`RUNS` runs of `iuran <args>`: each one's wall time and the median; `check`: a text the
    stderr of every run must hold (how the run was answered)."""
    times, cpu = [], []
    for _ in range(RUNS):
        seconds, used, done = timed(args, env)
        if args[0] == "cycle":
            status = json.loads(done.stdout)["status"]
            if status != "unchanged":
                raise RuntimeError(f"iuran cycle answered {status!r}, not 'unchanged'")
        if check is not None and check not in done.stderr:
            raise RuntimeError(f"iuran {' '.join(args)}: {check!r} not in\n{done.stderr[-2000:]}")
        times.append(round(seconds, 2))
        cpu.append(round(used, 2))
    return {"runs_s": times, "median_s": median(times), "cpu_s": cpu, "cpu_median_s": median(cpu)}


def deploy_cycle(url: str) -> str:
    """`monthly-cycle/cycle-lebak` on the bench's process pool, its schedule paused."""
    os.environ["PREFECT_API_URL"] = url  # before Prefect is imported in this process
    from prefect import deploy as prefect_deploy

    from deployments.deploy import cycle_deployment, ensure_pool
    from iuran.programs import load_program

    ensure_pool(POOL)
    deployment = cycle_deployment(load_program(PROGRAM), scheduled=False, source=str(ROOT))
    prefect_deploy(
        deployment, work_pool_name=POOL, build=False, push=False,
        print_next_steps_message=False, ignore_warnings=True,
    )  # fmt: skip
    return f"{deployment.flow_name}/{deployment.name}"


def wait_for_worker(timeout: float = 120) -> float:
    """Seconds until a worker of the pool has sent its first heartbeat (it polls from then on)."""
    from prefect.client.orchestration import get_client

    started = time.monotonic()
    with get_client(sync_client=True) as client:
        while time.monotonic() - started < timeout:
            if client.read_workers_for_work_pool(POOL):
                return time.monotonic() - started
            time.sleep(0.2)
    raise RuntimeError(f"no worker on pool {POOL} after {timeout:.0f} s")


def through_worker(name: str, timeout: float = 300) -> dict[str, Any]:
    """One admin's run of the deployment (`run_deployment`, as `prefect deployment run` does), waited
    for until final; its timestamps as the API keeps them."""
    from prefect.client.orchestration import get_client
    from prefect.deployments import run_deployment

    run = cast(Any, run_deployment(name, parameters={"period": PERIOD}, timeout=0))
    started = time.monotonic()
    with get_client(sync_client=True) as client:
        while time.monotonic() - started < timeout:
            found = client.read_flow_run(run.id)
            if found.state is not None and found.state.is_final():
                break
            time.sleep(0.2)
        else:
            raise RuntimeError(f"flow run {run.id} not final after {timeout:.0f} s")
    if found.state_name != "Completed":
        raise RuntimeError(f"flow run {found.name}: {found.state_name} ({found.state.message})")

    def seconds(a: dt.datetime | None, b: dt.datetime | None) -> float:
        if a is None or b is None:
            raise RuntimeError(f"flow run {found.name} lacks a timestamp")
        return round((b - a).total_seconds(), 2)

    return {
        "submitted_to_completed_s": seconds(found.created, found.end_time),
        "worker_adds_s": seconds(found.created, found.start_time),  # poll + process + imports
        "run_s": seconds(found.start_time, found.end_time),
    }


def flow_runs_named(run_name: str) -> int:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName

    with get_client(sync_client=True) as client:
        found = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=[run_name]))
        )
    return len(found)


def run(workdir: Path, quick: bool = False) -> dict[str, Any]:
    workdir.mkdir(parents=True, exist_ok=True)
    env = month_env(workdir)
    result: dict[str, Any] = {"measured": timestamp(), "load_average": os.getloadavg()[0]}
    result["month"] = bill_once(env, 5 if quick else 20)
    result["help"] = command(["--help"], env)
    result["status"] = command(["status", "--program", PROGRAM, "--period", PERIOD], env)
    cycle = ["cycle", "--program", PROGRAM, "--period", PERIOD, "--json"]
    result["cycle_embedded"] = command(cycle, env, check="answered without a Prefect run")

    port = free_port()
    url = api_url(port)
    log = workdir / "logs" / "server.log"
    processes: list[subprocess.Popen[bytes]] = []
    server_file = Path(env["IURAN_VAR"]) / "run" / SERVER_FILE.name
    try:
        t = time.perf_counter()
        server = start_server(workdir / "server", port, log)
        processes.append(server)
        wait_healthy(url, server, log, timeout=180)
        result["server_start_s"] = round(time.perf_counter() - t, 1)
        announce(url, server_file)  # where `make up` writes it: the command line finds it there
        result["cycle_server"] = command(cycle, env)

        name = deploy_cycle(url)
        result["cycle_server"]["flow_runs_on_server"] = flow_runs_named(f"cycle-{PROGRAM}-{PERIOD}")
        worker_env = client_env(url, workdir / "client", {k: env[k] for k in env if "IURAN" in k})
        worker_env["PYTHONPATH"] = str(ROOT)
        processes.append(start_worker(POOL, worker_env, workdir / "logs" / "worker.log", "bench"))
        result["worker_ready_s"] = round(wait_for_worker(), 1)
        runs = [through_worker(name) for _ in range(RUNS)]
        result["worker"] = {
            "runs": runs,
            **{
                f"{k}_median": median([r[k] for r in runs])
                for k in ("submitted_to_completed_s", "worker_adds_s", "run_s")
            },
        }
    finally:
        server_file.unlink(missing_ok=True)
        for proc in reversed(processes):
            stop(proc.pid)
    return result
