"""Retries at the edges, for errors a retry can fix: the `retry_condition_fn` of the tasks that
touch the database, the file system or an SMTP server (`iuran/transient.py` says which errors)."""

from __future__ import annotations

from typing import Any

from prefect.client.schemas.objects import TaskRun
from prefect.states import State

from iuran.transient import is_transient


def transient(task: Any, task_run: TaskRun, state: State[Any]) -> bool:
    """Retry the task run only when the exception it failed with may pass on its own."""
    error = state.data
    return isinstance(error, BaseException) and is_transient(error)
