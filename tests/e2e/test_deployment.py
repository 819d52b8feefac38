"""End to end, the way production runs it: a real `prefect server start`, the deployments created by
`deployments/deploy.py` from this source tree, a `prefect worker start` subprocess that runs them.

Lebak's cycle is triggered through its deployment, as an admin would (`prefect deployment run …
-p period=2026-01`); the worker runs it in its own process; the test then reads the invoice files, the
outbox and the database. A roster is fixed, the deployment triggered again, and exactly the expected
revision appears. Every process the test starts is stopped at the end, whatever happens.
"""

from __future__ import annotations

import email
import email.policy
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import select

from deployments.local import client_env, start_server, start_worker, stop, tail, wait_healthy
from iuran.db.models import Invoice
from iuran.db.session import session_scope, upgrade
from iuran.generate import generate_rosters
from iuran.locks import holder_of
from iuran.periods import Period
from iuran.programs import load_program

POOL = "iuran-e2e"
RUN_TIMEOUT = 180


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Stack:
    api_url: str
    home: Path
    server_log: Path
    worker_log: Path
    server_started_in: float
    pids: list[int]

    def logs(self) -> str:
        return (
            f"--- prefect server log (tail) ---\n{tail(self.server_log)}\n"
            f"--- prefect worker log (tail) ---\n{tail(self.worker_log, 80)}"
        )


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A Prefect server on a free port with its own PREFECT_HOME; stopped (with the worker) at the end."""
    root = tmp_path_factory.mktemp("prefect-e2e")
    port = _free_port()
    home = root / "home"
    s = Stack(
        api_url=f"http://127.0.0.1:{port}/api",
        home=home,
        server_log=root / "server.log",
        worker_log=root / "worker.log",
        server_started_in=0.0,
        pids=[],
    )
    server = start_server(home, port, s.server_log)
    s.pids.append(server.pid)
    try:
        s.server_started_in = wait_healthy(s.api_url, server, s.server_log, timeout=180)
        yield s
    finally:
        for pid in reversed(s.pids):  # the worker (and its flow runs) first, then the server
            stop(pid)


def _period_csv(inbox: Path) -> Path:
    return sorted((inbox / "lebak" / "2026-01").glob("*.csv"))[0]


def _run(stack: Stack, parameters: dict[str, Any]) -> Any:
    """Trigger the deployment as an admin does and wait for the run to end."""
    from prefect.deployments import run_deployment
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: stack.api_url}):
        started = time.monotonic()
        run = run_deployment(
            "monthly-cycle/cycle-lebak",
            parameters=parameters,
            timeout=RUN_TIMEOUT,
            poll_interval=1,
            as_subflow=False,
        )
        took = time.monotonic() - started
    assert run.state is not None and run.state.is_completed(), (
        f"flow run {run.name} ended {run.state!r} after {took:.0f} s (timeout {RUN_TIMEOUT} s)\n"
        f"{_run_logs(stack, run.id)}\n{stack.logs()}"
    )
    return run


def _run_logs(stack: Stack, flow_run_id: Any) -> str:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
    from prefect.settings import PREFECT_API_URL, temporary_settings

    try:
        with (
            temporary_settings({PREFECT_API_URL: stack.api_url}),
            get_client(sync_client=True) as client,
        ):
            logs = client.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])))
        return "--- flow run log ---\n" + "\n".join(f"{x.level} {x.message}" for x in logs[-60:])
    except Exception as exc:  # the assertion's message must not fail in turn
        return f"(flow run logs unavailable: {exc})"


def _summary_heading(stack: Stack, flow_run_id: Any) -> str:
    """The first line of the run's summary artifact, e.g. `# Siklus lebak 2026-01: revised`."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterFlowRunId,
        ArtifactFilterKey,
    )
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with (
        temporary_settings({PREFECT_API_URL: stack.api_url}),
        get_client(sync_client=True) as client,
    ):
        [artifact] = client.read_artifacts(
            artifact_filter=ArtifactFilter(
                flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]),
                key=ArtifactFilterKey(any_=["lebak-2026-01-ringkasan"]),
            )
        )
    return str(artifact.data).splitlines()[0]


def test_lebak_cycle_through_its_deployment_then_a_fixed_roster_revises_it(
    stack: Stack, tmp_path: Path
) -> None:
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from deployments.deploy import deploy_all

    t0 = time.monotonic()
    inbox, out, outbox = tmp_path / "inbox", tmp_path / "out", tmp_path / "outbox"
    db = f"sqlite:///{tmp_path / 'iuran.db'}"
    upgrade(db)  # an admin step before workers run (`iuran db upgrade`)
    generate_rosters(
        load_program("lebak"), Period(2026, 1), inbox, villages=5, per_village=10, seed=3
    )

    # Deploy lebak's deployments from this source tree, pointing at the test's folders.
    with temporary_settings({PREFECT_API_URL: stack.api_url}):
        deploy_all(
            POOL,
            only=["lebak"],
            parameters={"inbox": str(inbox), "db": db, "out": str(out)},
            job_variables={
                "env": {"IURAN_OUTBOX": str(outbox), "IURAN_VAR": str(tmp_path / "var")}
            },
            scheduled=False,  # nothing may start on its own during the test
        )
    worker = start_worker(
        POOL,
        client_env(
            stack.api_url,
            stack.home,
            {"PREFECT_WORKER_QUERY_SECONDS": "1", "PREFECT_WORKER_PREFETCH_SECONDS": "1"},
        ),
        stack.worker_log,
        name="e2e-worker",
    )
    stack.pids.append(worker.pid)

    first = _run(stack, {"period": "2026-01"})
    assert first.name == "cycle-lebak-2026-01"
    assert "program:lebak" in first.tags
    assert _summary_heading(stack, first.id) == "# Siklus lebak 2026-01: issued"
    with session_scope(db) as s:
        [inv] = s.scalars(select(Invoice)).all()
        assert (inv.number, inv.revision, inv.participants) == ("001/TAG-JKK-JKM/LBK/I/2026", 0, 50)
        assert inv.total == 50 * 16_800 and inv.document_state == "issued"
        pdf = Path(inv.pdf_path or "")
    assert pdf.is_file() and pdf.read_bytes().startswith(b"%PDF")
    assert pdf.with_suffix(".xlsx").is_file()
    [eml] = sorted(outbox.glob("invoice_*.eml"))  # to BKAD; other reports go to BPJS
    msg = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    assert "001/TAG-JKK-JKM/LBK/I/2026" in str(msg["Subject"])
    assert msg["To"] == "bkad@lebak.iuran.example"
    assert any(p.get_content_type() == "application/pdf" for p in msg.walk())
    assert holder_of(db, "lebak", "2026-01") is None  # the run released its lease

    # A village operator sends a corrected roster: three workers fewer.
    csv = _period_csv(inbox)
    rows = pd.read_csv(csv, dtype=str)
    rows.iloc[3:].to_csv(csv, index=False)

    second = _run(stack, {"period": "2026-01"})
    assert second.id != first.id
    assert _summary_heading(stack, second.id) == "# Siklus lebak 2026-01: revised"
    with session_scope(db) as s:
        invoices = s.scalars(select(Invoice).order_by(Invoice.id)).all()
        assert [(i.revision, i.document_state, i.participants) for i in invoices] == [
            (0, "superseded", 50),
            (1, "issued", 47),
        ]
        assert invoices[1].total == 47 * 16_800
        assert invoices[1].number == invoices[0].number
    # The revision's e-mail, and the first one not sent again.
    emls = sorted(p.name.split("_")[1] for p in outbox.glob("invoice_*.eml"))
    assert emls == ["issued", "revised"]
    revised = email.message_from_bytes(
        next(outbox.glob("invoice_revised_*.eml")).read_bytes(), policy=email.policy.default
    )
    assert "001/TAG-JKK-JKM/LBK/I/2026" in str(revised["Subject"])
    # Deploying again (a new release) leaves a schedule paused in the UI paused.
    with temporary_settings({PREFECT_API_URL: stack.api_url}):
        deploy_all(POOL, only=["lebak"], parameters={"db": db}, scheduled=True)
        from prefect.client.orchestration import get_client

        with get_client(sync_client=True) as client:
            assert client.read_deployment_by_name("monthly-cycle/cycle-lebak").paused
    print(
        f"\ne2e: server healthy in {stack.server_started_in:.1f} s; deploy, worker and two "
        f"deployment runs in {time.monotonic() - t0:.1f} s"
    )


def test_a_run_whose_heartbeats_stop_is_marked_crashed(stack: Stack) -> None:
    """Deploying sets up one crash-detection automation; a run that beat once and then went silent
    (its process killed) is marked Crashed by the server; an automation disabled stays disabled."""
    import datetime as dt
    import uuid

    import httpx
    from prefect import flow
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.objects import StateType
    from prefect.events.schemas.automations import EventTrigger
    from prefect.settings import PREFECT_API_URL, temporary_settings
    from prefect.states import Running

    from deployments.deploy import CRASH_DETECTION, ensure_crash_detection

    @flow(name="silent-probe")
    def silent() -> None:
        """Never run: only its flow run is created, as a worker would before it died."""

    with (
        temporary_settings({PREFECT_API_URL: stack.api_url}),
        get_client(sync_client=True) as client,
    ):
        ensure_crash_detection(dt.timedelta(seconds=10))
        automation_id = ensure_crash_detection(dt.timedelta(seconds=10))  # deployed again
        [automation] = client.read_automations_by_name(CRASH_DETECTION)
        assert automation.id == automation_id and automation.enabled
        assert isinstance(automation.trigger, EventTrigger)
        assert automation.trigger.within == dt.timedelta(seconds=10)

        run = client.create_flow_run(silent, state=Running())
        beat = {  # as the run's engine sends it
            "id": str(uuid.uuid4()),
            "occurred": dt.datetime.now(dt.UTC).isoformat(),
            "event": "prefect.flow-run.heartbeat",
            "resource": {"prefect.resource.id": f"prefect.flow-run.{run.id}"},
        }
        httpx.post(f"{stack.api_url}/events", json=[beat]).raise_for_status()
        deadline = time.monotonic() + 90
        state = client.read_flow_run(run.id).state
        while state is not None and state.type != StateType.CRASHED:
            assert time.monotonic() < deadline, f"still {state.name} 90 s after its last beat"
            time.sleep(1)
            state = client.read_flow_run(run.id).state
        assert state is not None and "heartbeat" in (state.message or "")

        client.pause_automation(automation_id)  # an operator turns it off in the UI
        ensure_crash_detection()
        [automation] = client.read_automations_by_name(CRASH_DETECTION)
        assert not automation.enabled
