"""Retries at the edges only, and only for errors a retry can fix (`tasks/retry.py`), on a real
(temporary) Prefect server: the tasks as the flows use them, their step functions made to fail."""

from __future__ import annotations

import errno
import importlib
import pkgutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy.exc as sa_exc
from prefect import Task, flow

import tasks
from iuran.locks import CycleBusy
from tasks.retry import transient
from tasks.rosters import collect, reconcile_registry


def failing(first: list[BaseException], then: Any = "done") -> tuple[Callable[..., Any], list[int]]:
    """A step function that raises the given errors on its first calls, then returns `then`."""
    calls: list[int] = []

    def step(*_: Any, **__: Any) -> Any:
        calls.append(1)
        if len(calls) <= len(first):
            raise first[len(calls) - 1]
        return then

    return step, calls


def run_in_flow(
    task: Task[..., Any], step: Callable[..., Any], monkeypatch: pytest.MonkeyPatch, *args: Any
) -> Any:
    """Run `task` as the flows have it (its retries, its condition), its function made `step`."""
    monkeypatch.setattr(task, "fn", step)

    @flow(name="retry-check")
    def check() -> Any:
        return task.with_options(retry_delay_seconds=0)(*args)

    return check()


def test_a_transient_error_is_retried_and_the_step_succeeds(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    dropped = sa_exc.OperationalError("SELECT", {}, ConnectionError("server closed the connection"))
    step, calls = failing([OSError(errno.EIO, "Input/output error"), dropped], then="rosters")
    assert run_in_flow(collect, step, monkeypatch, str(tmp_path), None) == "rosters"
    assert len(calls) == 3  # two retries, the third call succeeded


@pytest.mark.parametrize(
    "error",
    [
        ValueError("tanggal tidak valid"),
        KeyError("nik"),
        FileNotFoundError(errno.ENOENT, "no such file"),
        sa_exc.IntegrityError("INSERT", {}, Exception("UNIQUE constraint failed")),
        CycleBusy("lebak", "2026-01", "another run", None),
    ],
    ids=lambda e: type(e).__name__,
)
def test_an_error_a_retry_cannot_fix_fails_at_once(
    error: Exception, monkeypatch: pytest.MonkeyPatch
) -> None:
    step, calls = failing([error, error, error])
    with pytest.raises(type(error)):
        run_in_flow(reconcile_registry, step, monkeypatch, "sqlite://", None, None, None, None)
    assert len(calls) == 1


def _tasks() -> dict[str, Task[..., Any]]:
    found = {}
    for info in pkgutil.iter_modules(tasks.__path__):
        module = importlib.import_module(f"tasks.{info.name}")
        found |= {t.name: t for t in vars(module).values() if isinstance(t, Task)}
    return found


def test_only_the_steps_at_the_edges_retry_and_only_for_transient_errors() -> None:
    found = _tasks()
    pure = {"validate-rosters", "price", "publish-artifacts"}
    assert pure < set(found) and len(found) >= 14
    for name, t in found.items():
        if name in pure:
            assert t.retries == 0, name
        else:
            assert t.retries >= 2 and t.retry_condition_fn is transient, name
