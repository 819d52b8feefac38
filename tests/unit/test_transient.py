"""Which errors a retry can fix (`iuran/transient.py`): real driver errors where they can be made
here (a locked SQLite file, a refused PostgreSQL connection), driver error classes otherwise."""

from __future__ import annotations

import datetime as dt
import errno
import sqlite3
from pathlib import Path

import aiosmtplib
import psycopg
import pytest
import sqlalchemy as sa
import sqlalchemy.exc as sa_exc

from iuran.locks import CycleBusy
from iuran.mail.deliver import PermanentError, TemporaryError
from iuran.transient import is_transient


def _raised(engine: sa.Engine, sql: str) -> sa_exc.DBAPIError:
    with pytest.raises(sa_exc.DBAPIError) as caught, engine.connect() as conn:
        conn.execute(sa.text(sql))
    return caught.value


def test_a_locked_sqlite_database_is_transient(tmp_path: Path) -> None:
    path = tmp_path / "locked.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (x INTEGER)")
    holder.execute("BEGIN IMMEDIATE")  # another process is writing
    try:
        engine = sa.create_engine(f"sqlite:///{path}", connect_args={"timeout": 0})
        error = _raised(engine, "INSERT INTO t VALUES (1)")
        assert "database is locked" in str(error)
        assert is_transient(error)
        engine.dispose()
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_a_missing_sqlite_table_is_not(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    error = _raised(engine, "SELECT * FROM nowhere")
    assert isinstance(error, sa_exc.OperationalError) and not is_transient(error)
    engine.dispose()


def test_a_unique_constraint_is_not(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'u.db'}")
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE t (x INTEGER UNIQUE)"))
        conn.execute(sa.text("INSERT INTO t VALUES (1)"))
    error = _raised(engine, "INSERT INTO t VALUES (1)")
    assert isinstance(error, sa_exc.IntegrityError) and not is_transient(error)
    engine.dispose()


def test_a_refused_postgresql_connection_is_transient() -> None:
    engine = sa.create_engine("postgresql+psycopg://iuran@127.0.0.1:1/iuran")  # nobody on port 1
    error = _raised(engine, "SELECT 1")
    assert isinstance(error, sa_exc.OperationalError) and is_transient(error)
    engine.dispose()


@pytest.mark.parametrize(
    ("orig", "transient"),
    [
        (psycopg.errors.SerializationFailure("could not serialize access"), True),
        (psycopg.errors.DeadlockDetected("deadlock detected"), True),
        (psycopg.errors.AdminShutdown("terminating connection"), True),
        (psycopg.errors.LockNotAvailable("could not obtain lock"), True),
        (psycopg.errors.InvalidPassword("password authentication failed"), False),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, Exception) else str(v),
)
def test_postgresql_errors_by_sqlstate(orig: psycopg.Error, transient: bool) -> None:
    assert is_transient(sa_exc.OperationalError("SELECT 1", {}, orig)) is transient


def test_a_dropped_connection_is_transient_whatever_its_class() -> None:
    dropped = sa_exc.DBAPIError("SELECT 1", {}, Exception("gone"), connection_invalidated=True)
    assert is_transient(dropped)
    assert is_transient(sa_exc.TimeoutError("QueuePool limit reached"))


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (OSError(errno.EIO, "Input/output error"), True),
        (ConnectionResetError(errno.ECONNRESET, "reset"), True),
        (TimeoutError("timed out"), True),
        (FileNotFoundError(errno.ENOENT, "no such file"), False),
        (PermissionError(errno.EACCES, "permission denied"), False),
        (IsADirectoryError(errno.EISDIR, "is a directory"), False),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, Exception) else str(v),
)
def test_file_system_errors(error: OSError, transient: bool) -> None:
    assert is_transient(error) is transient


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (aiosmtplib.SMTPResponseException(451, "try again later"), True),
        (aiosmtplib.SMTPResponseException(421, "closing channel"), True),
        (aiosmtplib.SMTPServerDisconnected("gone"), True),
        (aiosmtplib.SMTPResponseException(550, "no such user"), False),
        (aiosmtplib.SMTPNotSupported("SMTPUTF8"), False),
        (TemporaryError("attachment missing"), True),
        (PermanentError("template error"), False),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, Exception) else str(v),
)
def test_smtp_errors_as_the_outbox_classifies_them(error: Exception, transient: bool) -> None:
    assert is_transient(error) is transient


@pytest.mark.parametrize(
    "error",
    [
        ValueError("bad period"),
        KeyError("nik"),
        TypeError("a bug"),
        CycleBusy("lebak", "2026-01", "another run", dt.datetime(2026, 1, 1, tzinfo=dt.UTC)),
    ],
    ids=lambda e: type(e).__name__,
)
def test_everything_else_is_not(error: Exception) -> None:
    assert not is_transient(error)
