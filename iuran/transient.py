"""Which errors a retry can fix: the one answer the tasks' retries ask (`tasks/retry.py`).

A step that touches the world (the database, the file system, an SMTP server) may fail for a moment:
a dropped connection, a locked SQLite file, a server that says "try again later" (4xx), a full pipe.
Running it again a few seconds later can succeed. Everything else fails the same way every time: a
bad value (`ValueError`, `KeyError`), a bug, a unique constraint (`IntegrityError`), a file that is
not there or may not be read, another run holding the cycle's lease (`iuran.locks.CycleBusy`), a
5xx. Retrying those only delays the failure e-mail, and re-runs the work before them.
"""

from __future__ import annotations

import sqlite3

import aiosmtplib
import sqlalchemy.exc as sa_exc

from iuran.mail.deliver import PermanentError, TemporaryError, classify

#: OSErrors about the path itself: the same path fails the same way on the next try.
NOT_TRANSIENT_OS: tuple[type[OSError], ...] = (
    FileNotFoundError,
    FileExistsError,
    PermissionError,
    IsADirectoryError,
    NotADirectoryError,
)
#: SQLite result codes of a moment's trouble: another connection holds the lock, an I/O hiccup.
SQLITE_TRANSIENT = ("SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_IOERR", "SQLITE_PROTOCOL")
#: PostgreSQL SQLSTATE classes of a moment's trouble: connection exception (08), transaction
#: rollback: serialization failure, deadlock (40), insufficient resources (53), operator
#: intervention: shutdown, cannot connect now (57), system error (58).
POSTGRES_TRANSIENT_CLASSES = ("08", "40", "53", "57", "58")
POSTGRES_LOCK_NOT_AVAILABLE = "55P03"


def is_transient(exc: BaseException) -> bool:
    """True when running the same step again later may succeed."""
    if isinstance(exc, sa_exc.DBAPIError):
        return exc.connection_invalidated or (
            isinstance(exc, sa_exc.OperationalError) and _transient_driver_error(exc.orig)
        )
    if isinstance(exc, sa_exc.DisconnectionError | sa_exc.TimeoutError):  # pool: no connection
        return True
    if isinstance(exc, aiosmtplib.SMTPException):  # 4xx and dropped connections, not 5xx
        return classify(exc) is TemporaryError
    if isinstance(exc, TemporaryError | PermanentError):  # already classified by `iuran.mail`
        return isinstance(exc, TemporaryError)
    if isinstance(exc, OSError):  # connection reset or refused, timeouts, a full pipe
        return not isinstance(exc, NOT_TRANSIENT_OS)
    return False


def _transient_driver_error(orig: BaseException | None) -> bool:
    """An OperationalError as its driver tells it: SQLite by result code, PostgreSQL by SQLSTATE
    (none: the connection failed before the server answered). SQLite's "no such table" is an
    OperationalError too, and a retry cannot fix it."""
    if isinstance(orig, sqlite3.Error):
        name = getattr(orig, "sqlite_errorname", "")
        return name.startswith(SQLITE_TRANSIENT)
    sqlstate = getattr(orig, "sqlstate", None)
    if sqlstate is None:
        return True
    return sqlstate[:2] in POSTGRES_TRANSIENT_CLASSES or sqlstate == POSTGRES_LOCK_NOT_AVAILABLE
