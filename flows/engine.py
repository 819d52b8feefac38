"""Prefect's flow engine as these flows run in it: one adjustment, made when a flow module loads.

Prefect 3.8's synchronous engine stops a flow run's heartbeat thread and then joins it, and that
thread sleeps in steps of one second: every flow run ended with up to a second of waiting for nothing
(an empty flow took 1.1 s here, 0.98 s of it the join; an unchanged rerun is mostly that). Prefect's
asynchronous engine already lets the thread end on its own (`join_on_exit=False`); the synchronous
one is given the same. Heartbeats are sent as before (zombie-run detection reads them); the thread, a
daemon, sees the stop within a second and ends without emitting again.
"""

from __future__ import annotations

import functools
import inspect

from prefect import flow_engine


def heartbeats_unjoined() -> bool:
    """Make the adjustment (once); False, and nothing changed, on a Prefect without the option."""
    send = flow_engine._send_heartbeats
    if isinstance(send, functools.partial):
        return True
    if "join_on_exit" not in inspect.signature(send).parameters:
        return False
    flow_engine._send_heartbeats = functools.partial(send, join_on_exit=False)
    return True


UNJOINED = heartbeats_unjoined()
