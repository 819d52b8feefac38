"""Accounts, login, sessions and CSRF of the counter, on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from iuran.config import Settings
from iuran.db.models import AuditEvent, LoginAttempt, WebUser
from iuran.db.session import session_scope
from iuran.programs import load_program
from iuran.web.accounts import (
    DEMO_ACCOUNTS,
    MAX_FAILURES,
    AccountError,
    add_user,
    demo_accounts,
    set_password,
)
from iuran.web.app import create_app
from iuran.web.cookies import COOKIE
from tests.web.conftest import PASSWORD, csrf_of, log_in


def test_password_is_stored_as_argon2_hash(settings: Settings) -> None:
    with session_scope(settings.database_url) as session:
        row = session.scalar(select(WebUser).where(WebUser.username == "desa-cilangkahan"))
        assert row is not None
        assert row.password_hash.startswith("$argon2id$")
        assert PASSWORD not in row.password_hash
        assert row.villages == ["36.02.01.2002"]


@pytest.mark.parametrize(
    ("role", "villages", "says"),
    [
        ("desa", [], "exactly one village"),
        ("desa", ["36.02.01.2002", "36.02.01.2003"], "exactly one village"),
        ("desa", ["32.01.01.2001"], "not a village of Kabupaten Lebak"),
        ("opd", [], "names its villages"),
        ("bkad", ["36.02.01.2002"], "has no villages"),
        ("kepala", [], "role: one of"),
    ],
)
def test_an_account_must_make_sense(
    settings: Settings, role: str, villages: list[str], says: str
) -> None:
    with session_scope(settings.database_url) as session, pytest.raises(AccountError, match=says):
        add_user(session, "baru", PASSWORD, role, load_program("lebak"), villages)


def test_login_logout_and_the_audit_trail(settings: Settings, client: TestClient) -> None:
    assert client.get("/desa").status_code == 303  # nobody logged in: to the login form
    assert log_in(client, "desa-cilangkahan", "salah-sekali-123") == 401
    assert log_in(client, "desa-cilangkahan") == 303
    page = client.get("/desa")
    assert page.status_code == 200 and "Unggah roster bulanan" in page.text
    assert page.headers["content-security-policy"].startswith("default-src 'none'")
    assert "httponly" in page.headers["set-cookie"].lower()
    response = client.post("/keluar", data={"csrf": csrf_of(page.text)})
    assert response.status_code == 303
    assert client.get("/desa").status_code == 303
    with session_scope(settings.database_url) as session:
        actions = [e.action for e in session.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    assert actions == ["gagal_masuk", "masuk", "keluar"]


def test_a_forged_or_missing_csrf_token_is_refused(client: TestClient) -> None:
    page = client.get("/masuk")
    data = {"username": "desa-cilangkahan", "password": PASSWORD}
    assert client.post("/masuk", data=data | {"csrf": "palsu"}).status_code == 400
    assert client.post("/masuk", data=data).status_code == 400
    assert client.post("/masuk", data=data | {"csrf": csrf_of(page.text)}).status_code == 303
    assert client.post("/keluar", data={"csrf": "palsu"}).status_code == 400


def test_a_forged_or_foreign_cookie_gets_nothing(settings: Settings, client: TestClient) -> None:
    log_in(client, "disnaker")
    stolen = client.cookies[COOKIE]
    client.cookies.set(COOKIE, stolen[:-3] + "AAA")
    assert client.get("/disnaker").status_code == 303
    other = TestClient(
        create_app(dataclasses.replace(settings, web_secret="rahasia-lain")),
        follow_redirects=False,
    )
    other.cookies.set(COOKIE, stolen)
    assert other.get("/disnaker").status_code == 303


def test_logins_are_limited_per_username_and_address(
    settings: Settings, client: TestClient
) -> None:
    for _ in range(MAX_FAILURES):
        assert log_in(client, "bkad", "tebakan-salah-1") == 401
    assert log_in(client, "bkad") == 429  # even the right password, for 15 minutes
    assert log_in(client, "bpjs") == 303  # another account is not held
    with session_scope(settings.database_url) as session:
        attempts = session.scalars(select(LoginAttempt).where(LoginAttempt.username == "bkad"))
        assert [a.ok for a in attempts] == [False] * MAX_FAILURES
        limited = session.scalars(select(AuditEvent).where(AuditEvent.action == "masuk_dibatasi"))
        assert len(list(limited)) == 1


def test_users_command_line(settings: Settings) -> None:
    url = settings.database_url
    run = [sys.executable, "-m", "iuran.cli", "users"]
    made = subprocess.run(
        [*run, "add", "desa-sukaraja", "--role", "desa", "--program", "lebak",
         "--desa", "3602012004", "--password-stdin", "--db", url],
        input="sandi-panjang-sekali\n", capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    listed = subprocess.run([*run, "list", "--db", url], capture_output=True, text=True, check=True)
    assert "desa-sukaraja\tdesa\tlebak\t36.02.01.2004" in listed.stdout
    short = subprocess.run(
        [*run, "add", "pendek", "--role", "bkad", "--program", "lebak", "--password-stdin",
         "--db", url],
        input="pendek\n", capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert short.returncode == 2 and "at least 10 characters" in short.stderr


def test_a_new_password_from_the_command_line_ends_the_open_sessions(
    settings: Settings, client: TestClient
) -> None:
    """An admin resets a village operator's password (`iuran users password`): the old password
    and the session already open on the operator's phone stop working, the new one logs in."""
    assert log_in(client, "desa-cilangkahan", PASSWORD) == 303
    assert client.get("/desa", follow_redirects=False).status_code == 200
    run = [sys.executable, "-m", "iuran.cli", "users", "password"]
    changed = subprocess.run(
        [*run, "desa-cilangkahan", "--password-stdin", "--db", settings.database_url],
        input="sandi-baru-yang-panjang\n", capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert changed.returncode == 0, changed.stderr
    assert client.get("/desa", follow_redirects=False).status_code in (303, 401)
    assert log_in(client, "desa-cilangkahan", PASSWORD) == 401
    assert log_in(client, "desa-cilangkahan", "sandi-baru-yang-panjang") == 303
    unknown = subprocess.run(
        [*run, "tidak-ada", "--password-stdin", "--db", settings.database_url],
        input="sandi-baru-yang-panjang\n", capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert unknown.returncode == 2 and "no account tidak-ada" in unknown.stderr


def test_demo_accounts_one_per_role_with_passwords_that_work(
    settings: Settings, client: TestClient
) -> None:
    with session_scope(settings.database_url) as session:
        first = demo_accounts(session, load_program("lebak"))
    with session_scope(settings.database_url) as session:
        again = demo_accounts(session, load_program("lebak"))  # `make demo` run twice
    assert set(first) == set(DEMO_ACCOUNTS) and all(first[u] != again[u] for u in first)
    homes = {
        "desa": "/desa",
        "opd": "/desa",
        "disnaker": "/disnaker",
        "bkad": "/bkad",
        "bpjs": "/bpjs",
    }
    for username, password in again.items():
        assert log_in(client, username, first[username]) == 401
        assert log_in(client, username, password) == 303
        assert client.get("/").headers["location"] == homes[DEMO_ACCOUNTS[username][0].value]


def test_logging_out_revokes_the_session_and_its_copies(
    settings: Settings, client: TestClient
) -> None:
    log_in(client, "desa-cilangkahan")
    copied = client.cookies[COOKIE]
    thief = TestClient(create_app(settings), follow_redirects=False)
    thief.cookies.set(COOKIE, copied)
    assert thief.get("/desa").status_code == 200  # a copy works while the session lives
    page = client.get("/desa")
    assert client.post("/keluar", data={"csrf": csrf_of(page.text)}).status_code == 303
    refused = thief.get("/desa")
    assert refused.status_code == 303 and refused.headers["location"] == "/masuk"
    assert log_in(client, "desa-cilangkahan") == 303  # logging in again starts a new session
    assert client.get("/desa").status_code == 200
    assert thief.get("/desa").status_code == 303


def test_a_new_password_ends_the_accounts_sessions(settings: Settings, client: TestClient) -> None:
    log_in(client, "disnaker")
    assert client.get("/disnaker").status_code == 200
    with session_scope(settings.database_url) as session:
        set_password(session, "disnaker", "kata-sandi-baru-456")
    assert client.get("/disnaker").status_code == 303
    assert log_in(client, "disnaker") == 401  # the old password no longer
    assert log_in(client, "disnaker", "kata-sandi-baru-456") == 303
    assert client.get("/disnaker").status_code == 200
