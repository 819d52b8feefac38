"""Files holding personal data are owner-only and outside the documents folder: the month's kept
read of the rosters (full NIKs, names, phones) and the SQLite registry."""

from __future__ import annotations

import dataclasses
import stat
from pathlib import Path

from sqlalchemy import text

from iuran.config import load_settings
from iuran.db.session import get_engine
from iuran.generate import generate_rosters
from iuran.month import run_month
from iuran.periods import Period
from iuran.programs import load_program
from iuran.rosters.kept import KEEP_NAME, kept_read_path
from iuran.rosters.read import collect_rosters
from tests.pipeline import TODAY, WITHOUT_DOCUMENTS


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_kept_read_is_owner_only(tmp_path: Path) -> None:
    program = load_program("lebak")
    generate_rosters(program, Period(2026, 1), tmp_path / "inbox", 2, 3, 0.0, 1)
    keep = kept_read_path(tmp_path / "private", "lebak", "2026-01")
    collect_rosters(str(tmp_path / "inbox" / "lebak" / "2026-01"), keep)
    assert keep.is_file() and _mode(keep) == 0o600
    assert _mode(keep.parent) == 0o700


def test_a_month_keeps_its_read_in_the_private_folder(tmp_path: Path, sqlite_url: str) -> None:
    program = load_program("lebak")
    generate_rosters(program, Period(2026, 1), tmp_path / "inbox", 2, 3, 0.0, 1)
    settings = dataclasses.replace(
        load_settings(sqlite_url, tmp_path / "inbox", tmp_path / "out"),
        private=tmp_path / "private",
    )
    run_month(WITHOUT_DOCUMENTS, settings, program, Period(2026, 1), TODAY)
    assert not list((tmp_path / "out").rglob(KEEP_NAME))  # nothing personal beside the documents
    assert kept_read_path(tmp_path / "private", "lebak", "2026-01").is_file()


def test_the_sqlite_registry_is_created_owner_only(tmp_path: Path) -> None:
    database = tmp_path / "var" / "iuran.db"
    engine = get_engine(f"sqlite:///{database}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
        conn.execute(text("INSERT INTO t VALUES (1)"))
    assert _mode(database) == 0o600
    for side in database.parent.glob("iuran.db-*"):  # -wal, -shm: SQLite gives them the same mode
        assert _mode(side) == 0o600, side.name
    engine.dispose()


def test_an_older_world_readable_registry_is_narrowed(tmp_path: Path) -> None:
    database = tmp_path / "iuran.db"
    database.touch(mode=0o644)
    database.chmod(0o644)
    get_engine(f"sqlite:///{database}").dispose()
    assert _mode(database) == 0o600
