"""Engines, sessions and migrations for SQLite (default) and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


@dataclass(frozen=True)
class SqliteOptions:
    """SQLite only (`IURAN_SQLITE_BUSY_TIMEOUT`, `IURAN_SQLITE_CACHE_MB`): seconds a connection waits
    for another one's write lock before failing with `database is locked`; megabytes of page cache
    per connection."""

    busy_timeout: float = 30.0
    cache_mb: int = 256


_sqlite = SqliteOptions()


def configure_sqlite(options: SqliteOptions) -> None:
    """Make the SQLite engines opened from now on use `options` (`load_settings` calls it).

    A module setting rather than parameters of `get_engine`: `session_scope(url)` is called from
    every module that touches the database, with the URL alone, and these two options matter only
    when an engine is created; so the settings hand them over once, here, instead of every call
    passing them on. Engines made with other options are dropped from the cache (their open
    connections finish undisturbed), so no engine keeps options the settings no longer say.
    """
    global _sqlite
    if options != _sqlite:
        _sqlite = options
        get_engine.cache_clear()


def _sqlite_pragmas(dbapi_conn: Any, options: SqliteOptions) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute(f"PRAGMA busy_timeout={int(options.busy_timeout * 1000)}")
    # SQLite's default page cache is 2 MB: at a country's 8 million participants and lines every
    # index insert misses it. Per connection, allocated as used.
    cur.execute(f"PRAGMA cache_size=-{options.cache_mb * 1024}")
    cur.execute("PRAGMA temp_store=MEMORY")  # sorts and lists of NIKs (`registry._nik_in`)
    cur.close()


def owner_only(database: Path) -> None:
    """The SQLite registry (every worker's NIK, name and birth date) readable by its owner only:
    created `0600` before SQLite opens it (its `-wal` and `-shm` files take the same mode), and
    an older file made group- or world-readable narrowed to it."""
    database.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.close(os.open(database, os.O_CREAT | os.O_WRONLY, 0o600))
        if database.stat().st_mode & 0o077:
            os.chmod(database, 0o600)
    except OSError:  # not ours to change (a read-only copy): SQLite says what it can do with it
        pass


@lru_cache(maxsize=16)
def get_engine(url: str) -> Engine:
    """One engine per URL; SQLite ones with the options `configure_sqlite` was last given."""
    # hide_parameters: a failed statement's message (logged, shown in the Prefect UI, mailed to
    # operations) must not carry its bound values: NIKs, names, birth dates.
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            owner_only(Path(parsed.database))
        options = _sqlite
        engine = create_engine(
            url, connect_args={"timeout": options.busy_timeout}, hide_parameters=True
        )

        def on_connect(dbapi_conn: Any, _record: Any) -> None:
            _sqlite_pragmas(dbapi_conn, options)

        event.listen(engine, "connect", on_connect)
        return engine
    return create_engine(url, pool_pre_ping=True, hide_parameters=True)


def as_utc(moment: dt.datetime) -> dt.datetime:
    """A DateTime read back from the database, as aware UTC: SQLite hands it back naive (every
    moment is written as UTC), PostgreSQL aware."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC)


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
