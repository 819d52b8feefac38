"""Engines, sessions and migrations for SQLite (default) and PostgreSQL."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def sqlite_busy_timeout() -> float:
    """Seconds a SQLite connection waits for another one's write lock before failing with
    `database is locked` (`IURAN_SQLITE_BUSY_TIMEOUT`, default 30)."""
    return float(os.environ.get("IURAN_SQLITE_BUSY_TIMEOUT", "30"))


def sqlite_cache_mb() -> int:
    """Megabytes of page cache per SQLite connection (`IURAN_SQLITE_CACHE_MB`, default 256)."""
    return int(os.environ.get("IURAN_SQLITE_CACHE_MB", "256"))


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute(f"PRAGMA busy_timeout={int(sqlite_busy_timeout() * 1000)}")
    # SQLite's default page cache is 2 MB: at a country's 8 million participants and lines every
    # index insert misses it. Per connection, allocated as used.
    cur.execute(f"PRAGMA cache_size=-{sqlite_cache_mb() * 1024}")
    cur.execute("PRAGMA temp_store=MEMORY")  # sorts and lists of NIKs (`registry._nik_in`)
    cur.close()


@lru_cache(maxsize=16)
def get_engine(url: str) -> Engine:
    # hide_parameters: a failed statement's message (logged, shown in the Prefect UI, mailed to
    # operations) must not carry its bound values: NIKs, names, birth dates.
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, connect_args={"timeout": sqlite_busy_timeout()}, hide_parameters=True
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, hide_parameters=True)


@contextmanager
def session_scope(url: str) -> Iterator[Session]:
    """One transaction: committed when the block ends, rolled back if it raises."""
    factory = sessionmaker(get_engine(url), expire_on_commit=False)
    with factory() as session, session.begin():
        yield session


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)
