"""The registry database failing under a cycle: a locked SQLite file, a PostgreSQL restart.

The run fails cleanly (a clear OperationalError, no bound values in its message, nothing of the month
written), and the rerun ends exactly where an uninterrupted run does. The PostgreSQL tests start a
throwaway server of their own (Debian's initdb / pg_ctl, as the `postgres` user, on a free loopback
port) and restart it; the shared test server is never touched.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, event, func, select, text
from sqlalchemy.exc import OperationalError

from iuran.config import load_settings
from iuran.db.models import (
    ContributionLine,
    Cycle,
    Invoice,
    Membership,
    Notification,
    Participant,
    Rejection,
    RosterFile,
)
from iuran.db.session import SqliteOptions, configure_sqlite, get_engine, session_scope, upgrade
from iuran.generate import generate_rosters
from iuran.periods import Period
from iuran.pricing import price_lines
from iuran.programs import load_program
from iuran.registry import decide
from iuran.rosters.read import collect_rosters
from iuran.rosters.validate import validate_rows
from iuran.summary import all_rejections
from tests.pipeline import TODAY, run
from tests.smtp_server import free_port

PERIOD = "2026-01"
TABLES = (Cycle, RosterFile, Rejection, Participant, Membership, Invoice, ContributionLine, Notification)  # fmt: skip


def state(url: str) -> dict[str, Any]:
    """What a cycle leaves in the database, without ids, paths or clocks."""
    with session_scope(url) as s:
        nik = {p.id: p.nik for p in s.scalars(select(Participant))}
        number = {i.id: (i.number, i.revision) for i in s.scalars(select(Invoice))}
        return {
            "cycles": sorted((c.program, c.period, c.status, c.input_hash) for c in s.scalars(select(Cycle))),
            "files": sorted((f.path, f.sha256, f.rows, f.status, f.code) for f in s.scalars(select(RosterFile))),
            "rejections": sorted((r.source_file, r.source_row, r.code, r.message) for r in s.scalars(select(Rejection))),
            "participants": sorted((p.nik, p.nama, p.tanggal_lahir, p.jenis_kelamin) for p in s.scalars(select(Participant))),
            "memberships": sorted((nik[m.participant_id], m.kode_desa, m.first_period, m.last_period, m.end_period) for m in s.scalars(select(Membership))),
            "invoices": sorted((i.number, i.revision, i.kind, i.payer_key, i.participants, int(i.total), i.document_state, i.content_hash) for i in s.scalars(select(Invoice))),
            "lines": sorted((number[x.invoice_id], nik[x.participant_id], x.kode_desa, x.category, int(x.total), x.rule_id, x.is_current) for x in s.scalars(select(ContributionLine))),
            "notifications": sorted((n.idempotency_key, n.status) for n in s.scalars(select(Notification))),
        }  # fmt: skip


def rows_written(url: str) -> dict[str, int]:
    with session_scope(url) as s:
        return {
            t.__tablename__: int(s.scalar(select(func.count()).select_from(t)) or 0) for t in TABLES
        }


def comparable(summary: dict[str, Any]) -> dict[str, Any]:
    return summary | {"invoices": [{**i, "pdf": None} for i in summary["invoices"]]}


def inbox(tmp_path: Path) -> Path:
    folder = tmp_path / "inbox"
    generate_rosters(
        load_program("lebak"),
        Period(2026, 1),
        folder,
        villages=3,
        per_village=5,
        faults=0.2,
        seed=23,
    )
    return folder


def assert_clear(exc: BaseException, niks: set[str]) -> None:
    """An OperationalError that says what happened, and carries no bound value (no NIK, no name)."""
    message = str(exc)
    assert isinstance(exc, OperationalError), repr(exc)
    assert "[parameters:" not in message
    assert not any(n in message for n in niks)


def roster_niks(folder: Path) -> set[str]:
    rows = collect_rosters(str(folder / "lebak" / PERIOD)).rows
    return set(rows["nik"].dropna())


# --- SQLite: a file locked by another connection ---------------------------------------------------


@pytest.fixture
def sqlite_options() -> Iterator[None]:
    """The SQLite options `load_settings` hands the engines, back to the defaults after the test."""
    yield
    configure_sqlite(SqliteOptions())


@pytest.mark.usefixtures("sqlite_options")
def test_a_locked_sqlite_database_fails_the_run_cleanly_and_the_rerun_completes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IURAN_SQLITE_BUSY_TIMEOUT", "0.5")
    load_settings()  # as a run starts: its settings give the engines the busy timeout
    program = load_program("lebak")
    rosters = inbox(tmp_path)
    base_url = f"sqlite:///{tmp_path / 'base.db'}"
    upgrade(base_url)
    baseline = run(base_url, program, PERIOD, rosters, tmp_path / "out-base")

    path = tmp_path / "iuran.db"
    url = f"sqlite:///{path}"
    upgrade(url)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another process writing, for longer than the busy timeout
    try:
        with pytest.raises(OperationalError) as failed:
            run(url, program, PERIOD, rosters, tmp_path / "out")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert "database is locked" in str(failed.value)
    assert_clear(failed.value, roster_niks(rosters))
    assert set(rows_written(url).values()) == {0}  # nothing of the month, not even its cycle row
    assert not list((tmp_path / "out").rglob("*.pdf"))

    again = run(url, program, PERIOD, rosters, tmp_path / "out")
    assert comparable(again) == comparable(baseline)
    assert state(url) == state(base_url)
    assert run(url, program, PERIOD, rosters, tmp_path / "out")["status"] == "unchanged"


@pytest.mark.usefixtures("sqlite_options")
def test_the_busy_timeout_comes_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IURAN_SQLITE_BUSY_TIMEOUT", "1.5")
    load_settings()
    url = f"sqlite:///{tmp_path / 'timeout.db'}"
    with get_engine(url).connect() as conn:
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 1500
    get_engine(url).dispose()


# --- PostgreSQL: a throwaway server, restarted under the cycle -------------------------------------


def _pg_bin() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    return found[-1].parent if found else None


@dataclass
class Server:
    bin: Path
    data: Path
    port: int

    def ctl(self, *args: str) -> None:
        options = f"-h 127.0.0.1 -p {self.port} -k {self.data}"
        command = f"{self.bin}/pg_ctl -D {self.data} -o '{options}' -l {self.data}/server.log -w {' '.join(args)}"
        subprocess.run(
            ["su", "postgres", "-c", command], check=True, capture_output=True, timeout=120
        )

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def create(self, database: str) -> str:
        admin = create_engine(self.url("postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{database}"'))
        admin.dispose()
        upgrade(self.url(database))
        return self.url(database)


@pytest.fixture
def pg_server() -> Iterator[Server]:
    """A PostgreSQL server of this test's own, stopped and removed whatever happens."""
    required = os.environ.get("IURAN_REQUIRE_POSTGRES") == "1"
    if not os.environ.get("IURAN_TEST_POSTGRES_URL") and not required:
        pytest.skip("PostgreSQL tests need IURAN_TEST_POSTGRES_URL (set by .ci/run)")
    pg_bin = _pg_bin()
    reason = (
        "restarting a throwaway PostgreSQL needs root (to run it as the postgres user)"
        if os.geteuid() != 0
        else "PostgreSQL server binaries (initdb, pg_ctl) not found under /usr/lib/postgresql"
        if pg_bin is None
        else None
    )
    if reason:
        if required:
            pytest.fail(f"IURAN_REQUIRE_POSTGRES=1 but {reason}")
        pytest.skip(reason)
    assert pg_bin is not None
    root = Path(tempfile.mkdtemp(prefix="iuran-pg-", dir="/tmp"))  # outside pytest's 0700 folders
    shutil.chown(root, "postgres")
    server = Server(pg_bin, root / "data", free_port())
    started = False
    try:
        subprocess.run(
            ["su", "postgres", "-c", f"{pg_bin}/initdb -D {server.data} -A trust -U postgres -E UTF8"],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
        server.ctl("start")
        started = True
        yield server
    finally:
        get_engine.cache_clear()
        if started:
            subprocess.run(
                ["su", "postgres", "-c", f"{pg_bin}/pg_ctl -D {server.data} -m immediate -w stop"],
                capture_output=True, timeout=120,
            )  # fmt: skip
        shutil.rmtree(root, ignore_errors=True)


def steps_to_price(url: str, rosters: Path) -> dict[str, Any]:
    """collect → validate → reconcile → price, as tests/pipeline.run calls them."""
    program, month = load_program("lebak"), Period.parse(PERIOD)
    collected = collect_rosters(str(rosters / program.code / PERIOD))
    checked = validate_rows(collected.rows, program, month)
    decided = decide(url, collected.rows, checked.accepted, program, month, rosters / program.code / PERIOD)  # fmt: skip
    return {
        "program": program,
        "month": month,
        "files": collected.files,
        "rejected": all_rejections(checked, decided),
        "decided": decided,
        "lines": price_lines(decided.billed, program, month),
    }


def record(url: str, steps: dict[str, Any], out: Path) -> Any:
    from iuran.cycle import record_cycle

    return record_cycle(
        url, steps["program"], steps["month"], steps["files"], steps["rejected"],
        steps["decided"], steps["lines"], out, TODAY, False,
    )  # fmt: skip


def restart_when(url: str, pg: Server, statement: str) -> Callable[[], None]:
    """Restart the server the moment `url`'s engine is about to run `statement` (once)."""
    engine = get_engine(url)
    fired: list[bool] = []

    def before(conn: Any, cursor: Any, sql: str, *args: Any) -> None:
        if not fired and sql.lstrip().upper().startswith(statement):
            fired.append(True)
            pg.ctl("-m fast", "restart")

    event.listen(engine, "before_cursor_execute", before)
    return lambda: event.remove(engine, "before_cursor_execute", before)


@pytest.mark.postgres
def test_a_postgresql_restart_between_steps_is_absorbed(pg_server: Server, tmp_path: Path) -> None:
    """Pooled connections die with the server; the record step's pool pre-ping replaces them."""
    program = load_program("lebak")
    rosters = inbox(tmp_path)
    base_url = pg_server.create("baseline")
    baseline = run(base_url, program, PERIOD, rosters, tmp_path / "out-base", render=False)

    url = pg_server.create("iuran")
    steps = steps_to_price(url, rosters)
    pg_server.ctl("-m fast", "restart")
    recorded = record(url, steps, tmp_path / "out")
    assert recorded.status == "issued"
    assert state(url) == state(base_url)
    assert run(url, program, PERIOD, rosters, tmp_path / "out", render=False)["status"] == (
        "unchanged"
    )
    assert baseline["status"] == "issued"


@pytest.mark.postgres
def test_a_postgresql_restart_during_the_record_step_fails_it_cleanly_and_the_rerun_completes(
    pg_server: Server, tmp_path: Path
) -> None:
    program = load_program("lebak")
    rosters = inbox(tmp_path)
    base_url = pg_server.create("baseline")
    baseline = run(base_url, program, PERIOD, rosters, tmp_path / "out-base")

    url = pg_server.create("iuran")
    steps = steps_to_price(url, rosters)
    stop = restart_when(url, pg_server, "INSERT INTO PARTICIPANT")  # mid-transaction
    try:
        with pytest.raises(OperationalError) as failed:
            record(url, steps, tmp_path / "out")
    finally:
        stop()
    message = str(failed.value)
    assert "terminating connection" in message or "server closed the connection" in message, message
    assert_clear(failed.value, roster_niks(rosters))
    assert set(rows_written(url).values()) == {0}  # the transaction died with the server

    again = run(url, program, PERIOD, rosters, tmp_path / "out")
    assert comparable(again) == comparable(baseline)
    assert state(url) == state(base_url)
