"""PostgreSQL's bulk path (`iuran.db.bulk`: COPY, staging tables, set-based statements) records what
SQLite's executemany records, and a crash in the middle of it leaves nothing a rerun trips on."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import MetaData, select

from iuran import faults
from iuran.db.models import ContributionLine, Participant
from iuran.db.session import get_engine, session_scope, upgrade
from iuran.generate import generate_rosters
from iuran.periods import Period
from iuran.programs import load_program
from iuran.registry import bulk_insert
from tests.conftest import _postgres_database
from tests.pipeline import run

ROOT = Path(__file__).resolve().parents[2]

#: The registry's tables as a month writes them, compared row for row.
TABLES = [
    "participant",
    "membership",
    "contribution_line",
    "line_source",
    "registry_conflict",
    "rejection",
    "roster_file",
    "invoice",
]
#: Foreign keys, compared as the natural key of the row they point to.
NATURAL = {
    "participant": ["nik"],
    "invoice": ["number", "revision"],
    "cycle": ["program", "period"],
}


@pytest.fixture
def postgres_url() -> Iterator[str]:
    for url in _postgres_database():
        upgrade(url)
        yield url


def registry_rows(url: str, work: Path) -> dict[str, list[str]]:
    """Every row of `TABLES`, without surrogate ids and clocks (`*_at`), foreign keys as natural
    keys, paths relative to `work`, sorted: equal for two databases that recorded the same months."""
    meta = MetaData()
    meta.reflect(get_engine(url), only=[*TABLES, "cycle"])
    with session_scope(url) as session:
        frames = {
            name: pd.DataFrame(session.execute(select(meta.tables[name])).mappings().all())
            for name in [*TABLES, "cycle"]
        }
    keys = {
        name: pd.Series(_joined(frames[name][cols], "/"), index=frames[name]["id"])
        for name, cols in NATURAL.items()
    }
    found = {}
    for name in TABLES:
        df = frames[name]
        for target, key in keys.items():
            if f"{target}_id" in df:
                df[f"{target}_id"] = df[f"{target}_id"].map(key)
        df = df.drop(columns=[c for c in df if c == "id" or c.endswith("_at")])
        found[name] = sorted(r.replace(str(work), "<work>") for r in _joined(df, "|"))
    return found


def _joined(df: pd.DataFrame, sep: str) -> list[str]:
    return [sep.join(map(str, row)) for row in df.itertuples(index=False)]


def three_months(url: str, seed: Path, work: Path) -> None:
    """January, February with a BPJS status list and a worker's new job (participants' and
    memberships' updates by id), then January again after one village's roster changed; on a
    copy of the `seed` inbox under `work`."""
    lebak = load_program("lebak")
    inbox, out = work / "inbox", work / "out"
    shutil.copytree(seed, inbox)
    run(url, lebak, "2026-01", inbox, out, render=False)
    run(url, lebak, "2026-02", inbox, out, render=False)
    path = sorted((inbox / "lebak" / "2026-01").glob("*.csv"))[0]
    roster = pd.read_csv(path, dtype=str)
    roster.iloc[1:].to_csv(path, index=False)
    run(url, lebak, "2026-01", inbox, out, render=False)


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    lebak = load_program("lebak")
    inbox = tmp_path / "inbox"
    for month in (Period(2026, 1), Period(2026, 2)):
        generate_rosters(lebak, month, inbox, villages=5, per_village=12, faults=0.1, seed=13)
    feb = inbox / "lebak" / "2026-02"
    path = sorted(feb.glob("*.csv"))[0]
    roster = pd.read_csv(path, dtype=str)
    jobs = roster["pekerjaan"].dropna()
    other = jobs.loc[jobs.ne(roster.loc[0, "pekerjaan"])].iloc[0]
    roster.loc[0, "pekerjaan"] = other
    roster.to_csv(path, index=False)
    (feb / "bpjs_status.csv").write_text(
        f"nik;status;tanggal\n{roster.loc[2, 'nik']};meninggal;20/01/2026\n", encoding="utf-8"
    )
    return inbox


@pytest.mark.postgres
def test_postgres_bulk_path_records_what_sqlite_records(
    postgres_url: str, sqlite_url: str, inbox: Path, tmp_path: Path
) -> None:
    three_months(sqlite_url, inbox, tmp_path / "sqlite")
    three_months(postgres_url, inbox, tmp_path / "pg")
    sqlite_rows = registry_rows(sqlite_url, tmp_path / "sqlite")
    pg_rows = registry_rows(postgres_url, tmp_path / "pg")
    assert len(sqlite_rows["contribution_line"]) > 100 and sqlite_rows["rejection"]
    assert any("meninggal" in r for r in sqlite_rows["participant"])
    assert pg_rows == sqlite_rows


@pytest.mark.postgres
def test_bulk_insert_counts_what_it_inserted(postgres_url: str, sqlite_url: str) -> None:
    """A second insert of the same NIKs inserts nothing and says so, on both backends."""
    table: Any = Participant.__table__
    names = [
        "nik",
        "nama",
        "tanggal_lahir",
        "jenis_kelamin",
        "bpjs_status",
        "created_at",
        "updated_at",
    ]
    now = dt.datetime(2026, 1, 5, tzinfo=dt.UTC)
    people: list[tuple[object, ...]] = [
        ("3201010101900001", "SITI", dt.date(1990, 1, 1), "P", "aktif", now, now)
    ]
    people.append(("3201010101900002", "BUDI", dt.date(1991, 2, 3), "L", "aktif", now, now))
    for url in (sqlite_url, postgres_url):
        counts = []
        for rows in (people[:1], people):
            with session_scope(url) as session:
                counts.append(bulk_insert(session, table, names, rows, ignore_conflict=["nik"]))
        assert counts == [1, 1], url.split(":")[0]


def _crash(url: str, inbox: Path, out: Path, point: str) -> subprocess.CompletedProcess[str]:
    """January in a process of its own that dies at `point` (`iuran.faults`)."""
    script = (
        "import sys; from pathlib import Path; from iuran.programs import load_program; "
        "from tests.pipeline import run; "
        "run(sys.argv[1], load_program('lebak'), '2026-01', Path(sys.argv[2]), Path(sys.argv[3]), "
        "render=False)"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("IURAN_")}
    env |= {"PYTHONPATH": str(ROOT), faults.ENV_POINT: point}
    return subprocess.run(
        [sys.executable, "-c", script, url, str(inbox), str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.postgres
@pytest.mark.parametrize("point", ["invoices.lines_written", "record.before_commit"])
def test_a_crash_in_the_bulk_transaction_leaves_postgres_as_it_was(
    postgres_url: str, sqlite_url: str, inbox: Path, tmp_path: Path, point: str
) -> None:
    """Killed after the COPYs (lines, participants, memberships) and their staging tables, before
    the commit: nothing is left behind, and the rerun records what an uninterrupted month does."""
    crashed = _crash(postgres_url, inbox, tmp_path / "pg" / "out", point)
    assert crashed.returncode == faults.EXIT_CODE, crashed.stderr[-3000:]
    with session_scope(postgres_url) as session:
        assert session.scalar(select(ContributionLine.id).limit(1)) is None
        assert session.scalar(select(Participant.id).limit(1)) is None
    lebak = load_program("lebak")
    run(postgres_url, lebak, "2026-01", inbox, tmp_path / "pg" / "out", render=False)
    run(sqlite_url, lebak, "2026-01", inbox, tmp_path / "sqlite" / "out", render=False)
    pg_rows = registry_rows(postgres_url, tmp_path / "pg")
    assert pg_rows["contribution_line"] and pg_rows == registry_rows(
        sqlite_url, tmp_path / "sqlite"
    )
