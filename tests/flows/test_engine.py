"""A flow run's end does not wait for its heartbeat thread (`flows/engine.py`), and still beats."""

from __future__ import annotations

import threading

from prefect import flow, get_client

import flows.engine
from flows.reminders import reminders  # noqa: F401  (a flow module loads the adjustment)


def heartbeat_threads() -> set[threading.Thread]:
    """Prefect starts the heartbeat on `contextvars.Context.run` (nothing else of ours does)."""
    return {
        t
        for t in threading.enumerate()
        if getattr(getattr(t, "_target", None), "__qualname__", "") == "Context.run"
    }


@flow
def ping() -> int:
    return 1


def test_a_flow_run_returns_while_its_heartbeat_thread_is_still_stopping() -> None:
    assert flows.engine.UNJOINED
    ping()  # first run: Prefect's own long-lived workers start here
    for t in heartbeat_threads():
        t.join(timeout=3)
    state = ping(return_state=True)
    left = [t for t in heartbeat_threads() if t.is_alive()]
    # Joined on exit, the thread would be gone already; unjoined, it ends within its 1 s sleep
    assert len(left) == 1
    left[0].join(timeout=3)
    assert not left[0].is_alive()
    assert state.is_completed()
    run_id = state.state_details.flow_run_id
    assert run_id is not None
    with get_client(sync_client=True) as client:
        run = client.read_flow_run(run_id)
    assert run.state is not None and run.state.is_completed()


def test_the_adjustment_is_made_once() -> None:
    before = flows.engine.flow_engine._send_heartbeats
    assert flows.engine.heartbeats_unjoined()
    assert flows.engine.flow_engine._send_heartbeats is before
