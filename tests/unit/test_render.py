"""How many processes render, and that worker processes hand results back in the jobs' order."""

from __future__ import annotations

import os

import pytest

from iuran.config import render_workers
from iuran.render import MIN_PER_WORKER, processes_for, write_all


def test_workers_default_to_the_cores_and_the_setting_caps_them() -> None:
    assert render_workers({}) == len(os.sched_getaffinity(0))
    assert render_workers({"IURAN_RENDER_WORKERS": "1"}) == 1
    assert render_workers({"IURAN_RENDER_WORKERS": " 3 "}) == 3
    assert render_workers({"IURAN_RENDER_WORKERS": "0"}) == 1


@pytest.mark.parametrize(
    ("jobs", "workers", "processes"),
    [
        (0, 4, 1),
        (MIN_PER_WORKER * 2 - 1, 4, 1),  # too few for two workers: the cycle's own process
        (MIN_PER_WORKER * 2, 4, 2),
        (360, 2, 2),
        (360, 1, 1),
    ],
)
def test_a_worker_only_for_enough_invoices(jobs: int, workers: int, processes: int) -> None:
    assert processes_for(jobs, workers) == processes


def job(n: int) -> tuple[int, int, str]:
    return n, os.getpid(), os.environ.get("IURAN_RENDER_TEST", "")


def warm() -> None:
    pass


def test_workers_answer_in_order_with_the_parent_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("IURAN_RENDER_TEST", "set after the fork server started")
    with write_all(job, range(50), 2, warm, threads=1) as results:
        done = list(results)
    assert [n for n, _, _ in done] == list(range(50))
    assert os.getpid() not in {pid for _, pid, _ in done}
    assert {env for _, _, env in done} == {"set after the fork server started"}
    with write_all(job, range(5), 1, warm, threads=2) as results:  # one process: this one
        assert {pid for _, pid, _ in results} == {os.getpid()}
