"""The render step's worker processes inside a Prefect task run: the month's flow renders every
invoice through them, as it does in one process."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from flows.monthly_cycle import monthly_cycle
from iuran import render
from iuran.db.models import Invoice
from iuran.db.session import session_scope
from iuran.generate import generate_rosters
from iuran.periods import Period
from iuran.programs import load_program


def test_the_flow_renders_in_worker_processes(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IURAN_OUTBOX", str(tmp_path / "outbox"))
    monkeypatch.setenv("IURAN_RENDER_WORKERS", "2")
    monkeypatch.setattr(render, "MIN_PER_WORKER", 1)  # a worker for so few invoices
    used: list[int] = []
    original: Callable[..., AbstractContextManager[Iterator[Any]]] = render.write_all

    def spy(*args: Any) -> AbstractContextManager[Iterator[Any]]:
        used.append(args[2])  # processes
        return original(*args)

    monkeypatch.setattr(render, "write_all", spy)
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    lahat = load_program("lahat")
    generate_rosters(lahat, Period(2026, 1), inbox, villages=4, per_village=3, faults=0, seed=19)

    summary = monthly_cycle(
        program="lahat", period="2026-01", inbox=str(inbox), db=sqlite_url, out=str(out)
    )

    assert summary["status"] == "issued" and used == [2]
    with session_scope(sqlite_url) as s:
        invoices = list(s.scalars(select(Invoice)))
        assert len(invoices) == 4 and all(i.rendered_at for i in invoices)
        for inv in invoices:
            pdf = Path(inv.pdf_path or "")
            assert pdf.read_bytes().startswith(b"%PDF") and pdf.with_suffix(".xlsx").is_file()
