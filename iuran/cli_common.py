"""What the command line's commands share: the database and date options, and failing with a
message (exit 2) that an operator reads on the terminal."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import typer

from iuran.config import load_settings

DbOpt = Annotated[
    str | None,
    typer.Option("--db", help="database URL (default: IURAN_DATABASE_URL or var/iuran.db)"),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="print one JSON object on stdout")]
TodayOpt = Annotated[
    str | None, typer.Option("--today", help="YYYY-MM-DD instead of today (backfills)", hidden=True)
]


def fail(message: str) -> None:
    """Stop the command with `message` in red on stderr, exit status 2."""
    typer.secho(message, err=True, fg=typer.colors.RED)
    raise typer.Exit(2)


def as_of(value: str | None) -> dt.date:
    """The day a command acts as of: `--today` (a backfill) or today."""
    if value is None:
        return dt.date.today()
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        fail(f"--today harus YYYY-MM-DD, bukan {value!r}")
        raise


def migrated_url(db: str | None) -> str:
    """The registry's URL (`--db` or the settings), migrated to head first."""
    from iuran.db.session import upgrade

    url = load_settings(db).database_url
    upgrade(url)
    return url
