"""Retries at the edges, for errors a retry can fix: the steps that touch the database, the file
system or an SMTP server become tasks here (`at_the_edge`), retried only when `iuran/transient.py`
says the error may pass on its own; the pure steps get no retries (a rerun would fail the same)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from prefect import Task, task
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import TaskRun
from prefect.states import State

from iuran.transient import is_transient

P = ParamSpec("P")
R = TypeVar("R")


def transient(task: Any, task_run: TaskRun, state: State[Any]) -> bool:
    """Retry the task run only when the exception it failed with may pass on its own."""
    error = state.data
    return isinstance(error, BaseException) and is_transient(error)


def at_the_edge(
    fn: Callable[P, R], name: str, retries: int = 2, retry_delay_seconds: float | list[float] = 10
) -> Task[P, R]:
    """A step that touches the world, as a task: retried after a transient error, never cached."""
    return task(
        name=name,
        retries=retries,
        retry_delay_seconds=retry_delay_seconds,
        retry_condition_fn=transient,
        cache_policy=NO_CACHE,
    )(fn)
