"""Shared fixtures. Database tests run on SQLite and, where IURAN_TEST_POSTGRES_URL is set, on PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

os.environ.setdefault("IURAN_VAR", str(Path(__file__).resolve().parent.parent / "var" / "test"))

from iuran.config import prefect_defaults

prefect_defaults()

# No timing assertions in tests: Hypothesis' per-example deadline is one (a property test failed
# at 324 ms against 200 ms on a loaded machine). Speed is measured in `make bench`.
settings.register_profile("iuran", deadline=None)
settings.load_profile("iuran")

POSTGRES_URL = os.environ.get("IURAN_TEST_POSTGRES_URL")
REQUIRE_POSTGRES = os.environ.get("IURAN_REQUIRE_POSTGRES") == "1"

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


def _postgres_database() -> Iterator[str]:
    """A fresh database per test on the server IURAN_TEST_POSTGRES_URL points to."""
    if not POSTGRES_URL:
        if REQUIRE_POSTGRES:
            pytest.fail("IURAN_REQUIRE_POSTGRES=1 but IURAN_TEST_POSTGRES_URL is not set")
        pytest.skip("PostgreSQL tests need IURAN_TEST_POSTGRES_URL (set by .ci/run)")
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"iuran_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        from iuran.db.session import get_engine

        get_engine(url).dispose()
        get_engine.cache_clear()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database migrated to head, on each backend."""
    from iuran.db.session import upgrade

    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'iuran.db'}"
        upgrade(url)
        yield url
        return
    for url in _postgres_database():
        upgrade(url)
        yield url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    from iuran.db.session import upgrade

    url = f"sqlite:///{tmp_path / 'iuran.db'}"
    upgrade(url)
    return url
