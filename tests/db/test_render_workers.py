"""The render step in worker processes (`iuran.render`) writes what the cycle's own process writes:
the same bytes in every PDF and detail sheet, exactly the pending invoices, each marked rendered."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from sqlalchemy import select, update

from iuran import render
from iuran.db.models import Invoice
from iuran.db.session import session_scope
from iuran.generate import generate_rosters
from iuran.periods import Period
from iuran.programs import load_program
from iuran.render import render_pending
from tests.pipeline import run

MONTH = "2026-01"
MIN_PER_WORKER = 4  # a worker for fewer invoices than the cycle's threshold: a small, quick month
VILLAGES = 2 * MIN_PER_WORKER + 2  # enough for two worker processes


def digests(out: Path) -> dict[str, str]:
    return {
        str(p): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(out.rglob("*"))
        if p.suffix in (".pdf", ".xlsx")  # the invoices' documents only: no reports were written
    }


def marks(url: str) -> dict[str, bool]:
    with session_scope(url) as s:
        return {i.number: i.rendered_at is not None for i in s.scalars(select(Invoice))}


def unrender(url: str, out: Path) -> None:
    """Every invoice unmarked and its files gone: pending again."""
    with session_scope(url) as s:
        s.execute(update(Invoice).values(rendered_at=None))
    for p in digests(out):
        Path(p).unlink()


@pytest.fixture
def month(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, Path]:
    """A Lahat month recorded, nothing rendered: one invoice a village."""
    monkeypatch.setattr(render, "MIN_PER_WORKER", MIN_PER_WORKER)
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    lahat = load_program("lahat")
    generate_rosters(
        lahat, Period.parse(MONTH), inbox, villages=VILLAGES, per_village=4, faults=0, seed=19
    )
    run(database_url, lahat, MONTH, inbox, out, render=False)
    return database_url, out


def test_workers_write_the_same_bytes_and_marks_as_one_process(month: tuple[str, Path]) -> None:
    url, out = month
    lahat, period = load_program("lahat"), Period.parse(MONTH)
    assert not any(marks(url).values()) and not digests(out)

    serial = render_pending(url, lahat, period, workers=1)
    serial_files, serial_marks = digests(out), marks(url)
    assert len(serial) == VILLAGES and len(serial_files) == 2 * VILLAGES
    assert all(serial_marks.values())

    unrender(url, out)
    parallel = render_pending(url, lahat, period, workers=2)
    assert parallel == serial  # the same invoices, in the same order
    assert digests(out) == serial_files  # every PDF and detail sheet byte for byte
    assert marks(url) == serial_marks


def test_workers_render_exactly_what_is_missing(month: tuple[str, Path]) -> None:
    url, out = month
    lahat, period = load_program("lahat"), Period.parse(MONTH)
    first = render_pending(url, lahat, period, workers=2)
    before = digests(out)
    assert len(first) == VILLAGES and len(before) == 2 * VILLAGES

    # files of a third of the invoices lost (someone deleted them, or a crash before the mark)
    lost = first[::3]
    for pdf in lost[: len(lost) // 2]:
        Path(pdf).unlink()
    for pdf in lost[len(lost) // 2 :]:
        Path(pdf).with_suffix(".xlsx").unlink()
    assert render_pending(url, lahat, period, workers=2) == lost
    assert digests(out) == before
    assert all(marks(url).values())
    assert render_pending(url, lahat, period, workers=2) == []  # nothing left to render
