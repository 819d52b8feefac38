"""PostgreSQL for the bench's registry cases: the server `IURAN_BENCH_POSTGRES_URL` names, else a
throwaway cluster started as `.ci/run` starts one (`bench.province.postgres`: initdb into a temporary
folder, pg_ctl on a free loopback port, stopped and deleted on exit), else none, with the reason."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy.engine import make_url

from bench.province import create_database, postgres

ENV = "IURAN_BENCH_POSTGRES_URL"


@contextlib.contextmanager
def server() -> Iterator[tuple[str | None, str]]:
    """(server URL without a database, how it was found), or (None, why there is none)."""
    given = os.environ.get(ENV)
    if given:
        url = make_url(given)
        text = url.render_as_string(hide_password=False)
        yield (text[: -len(url.database) - 1] if url.database else text.rstrip("/")), ENV
        return
    if not any(Path("/usr/lib/postgresql").glob("*/bin/initdb")):
        yield None, f"no {ENV} and no PostgreSQL server under /usr/lib/postgresql/*/bin"
        return
    with postgres() as throwaway:
        yield throwaway, "throwaway cluster (initdb, free port)"


def fresh_database(server_url: str, name: str) -> str:
    """An empty database `name` on the server (dropped first if a previous run left it)."""
    return create_database(server_url, name)
