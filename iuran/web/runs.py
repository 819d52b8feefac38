"""Disnaker's reruns and dry runs from the counter: a flow run of the program's cycle deployment
(`monthly-cycle/cycle-<program>`, as `deployments/deploy.py` names it) on the Prefect server the
counter is pointed at, linked to its page in the Prefect UI, and the deployment's recent runs with
their state, read from the API when the board is opened.

The counter never starts a cycle in its own process: without a Prefect API (none configured, the
server down, the deployment missing) it says so and starts nothing. The run is created as
`run_deployment(name, parameters, timeout=0)` does (read the deployment by name, create a flow run
from it, do not wait), with a synchronous client, so a request thread can do it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import httpx
from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId
from prefect.client.schemas.sorting import FlowRunSort
from prefect.exceptions import ObjectNotFound

TIMEOUT = 5.0  # seconds: a board must open even when the Prefect server does not answer
UNREACHABLE = "Server Prefect tidak dapat dihubungi"
NOT_CONFIGURED = "Server Prefect belum diatur (PREFECT_API_URL)"


def deployment_name(program: str) -> str:
    return f"monthly-cycle/cycle-{program}"


@dataclass(frozen=True)
class Run:
    id: str
    name: str
    state: str  # Prefect's state name: Scheduled, Pending, Running, Completed, Failed, …
    final: bool
    period: str | None
    dry_run: bool
    started: dt.datetime | None
    link: str


@dataclass(frozen=True)
class Runs:
    """The deployment's recent runs, or why they cannot be shown (`problem`)."""

    runs: tuple[Run, ...] = ()
    problem: str | None = None


class Prefect:
    """The Prefect server at `api` (`…/api`); its UI at `ui` (default: the API's address without
    `/api`)."""

    def __init__(self, api: str | None, ui: str | None = None) -> None:
        self.api = api.rstrip("/") if api else None
        self.ui = (ui or (self.api or "").removesuffix("/api")).rstrip("/")

    def link(self, flow_run_id: object) -> str:
        return f"{self.ui}/runs/flow-run/{flow_run_id}"

    def _client(self) -> SyncPrefectClient:
        assert self.api is not None
        return SyncPrefectClient(self.api, httpx_settings={"timeout": TIMEOUT})

    def problem(self) -> str | None:
        """None when the API answers its health check; else what to tell Disnaker."""
        if not self.api:
            return NOT_CONFIGURED
        try:
            answer = httpx.get(f"{self.api}/health", timeout=TIMEOUT)
        except httpx.HTTPError:
            return f"{UNREACHABLE} ({self.api})"
        return None if answer.status_code == 200 else f"{UNREACHABLE} ({self.api})"

    def _run(self, flow_run: Any) -> Run:
        state = flow_run.state
        parameters = flow_run.parameters or {}
        return Run(
            id=str(flow_run.id),
            name=flow_run.name,
            state=state.name if state else "?",
            final=bool(state and state.is_final()),
            period=parameters.get("period"),
            dry_run=bool(parameters.get("dry_run")),
            started=flow_run.start_time or flow_run.expected_start_time,
            link=self.link(flow_run.id),
        )

    def recent(self, program: str, limit: int = 8) -> Runs:
        problem = self.problem()
        if problem:
            return Runs(problem=problem)
        try:
            with self._client() as client:
                deployment = client.read_deployment_by_name(deployment_name(program))
                flow_runs = client.read_flow_runs(
                    deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment.id])),
                    sort=FlowRunSort.EXPECTED_START_TIME_DESC,
                    limit=limit,
                )
        except ObjectNotFound:
            return Runs(
                problem=f"Deployment {deployment_name(program)} tidak ada di server Prefect"
            )
        except httpx.HTTPError:
            return Runs(problem=f"{UNREACHABLE} ({self.api})")
        return Runs(runs=tuple(self._run(r) for r in flow_runs))

    def start(self, program: str, period: str, dry_run: bool, by: str) -> Run | str:
        """A flow run of the program's cycle for `period`, not waited for; or why not (a message)."""
        problem = self.problem()
        if problem:
            return f"{problem}: tidak ada yang dijalankan."
        try:
            with self._client() as client:
                deployment = client.read_deployment_by_name(deployment_name(program))
                flow_run = client.create_flow_run_from_deployment(
                    deployment.id,
                    parameters={"period": period, "dry_run": dry_run},
                    tags=["loket", f"oleh:{by}"],
                )
        except ObjectNotFound:
            return (
                f"Deployment {deployment_name(program)} tidak ada: jalankan `make up` atau deploy."
            )
        except httpx.HTTPError:
            return f"{UNREACHABLE} ({self.api}): tidak ada yang dijalankan."
        return self._run(flow_run)
