"""Accounts of the counter: created from the command line, passwords hashed with Argon2, logins
limited per username and address (`MAX_FAILURES` in `WINDOW`, counted in `login_attempt`)."""

from __future__ import annotations

import datetime as dt
import re
import secrets
from dataclasses import dataclass

import pandas as pd
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from iuran.db.models import LoginAttempt, Role, WebUser
from iuran.programs import Program
from iuran.wilayah import normalize_kode_desa
from iuran.wilayah import villages as regency_villages

MAX_FAILURES = 5
WINDOW = dt.timedelta(minutes=15)
MIN_PASSWORD = 10
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{2,79}$")
_hasher = PasswordHasher()
#: Verified against when the username is unknown, so that an unknown name costs the same time.
_DUMMY = _hasher.hash("tidak-ada-akun-ini")


class AccountError(ValueError):
    """An account that cannot be created as asked (the message says why)."""


@dataclass(frozen=True)
class User:
    """A logged-in account, as the routes see it."""

    id: int
    username: str
    role: Role
    program: str
    villages: tuple[str, ...]
    session_epoch: int = 0

    @property
    def hands_in_rosters(self) -> bool:
        return self.role in (Role.DESA, Role.OPD)

    @property
    def scope(self) -> str:
        """The name an upload lands under: the village, or the OPD's account."""
        return self.villages[0] if self.role == Role.DESA else f"opd-{self.username}"


def _user(row: WebUser) -> User:
    return User(
        row.id, row.username, Role(row.role), row.program, tuple(row.villages),
        row.session_epoch or 0,
    )  # fmt: skip


def add_user(
    session: Session,
    username: str,
    password: str,
    role: str,
    program: Program,
    villages: list[str],
) -> User:
    """A new account; a village account names exactly one village of the program's regency, an
    OPD account at least one."""
    if not _USERNAME.match(username):
        raise AccountError("username: 3-80 of a-z 0-9 . _ -, starting with a letter or digit")
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"password: at least {MIN_PASSWORD} characters")
    try:
        kind = Role(role)
    except ValueError:
        raise AccountError(f"role: one of {', '.join(r.value for r in Role)}") from None
    codes = normalize_kode_desa(pd.Series(villages, dtype="string"))
    known = set(regency_villages(program.regency)["kode_desa"])
    unknown = [v for v, c in zip(villages, codes, strict=True) if pd.isna(c) or c not in known]
    if unknown:
        raise AccountError(
            f"--desa: not a village of {program.regency_name} ({program.regency}): "
            + ", ".join(unknown)
        )
    if kind == Role.DESA and len(codes) != 1:
        raise AccountError("a desa account names exactly one village (--desa)")
    if kind == Role.OPD and len(codes) == 0:
        raise AccountError("an opd account names its villages (--desa, repeated)")
    if kind not in (Role.DESA, Role.OPD) and len(codes):
        raise AccountError(f"a {kind} account has no villages")
    if session.scalar(select(WebUser.id).where(WebUser.username == username)) is not None:
        raise AccountError(f"username {username} exists already")
    row = WebUser(
        username=username,
        password_hash=_hasher.hash(password),
        role=kind.value,
        program=program.code,
        villages=[str(c) for c in codes],
        active=True,
    )
    session.add(row)
    session.flush()
    return _user(row)


def list_users(session: Session) -> list[User]:
    return [_user(r) for r in session.scalars(select(WebUser).order_by(WebUser.username))]


def get_user(session: Session, user_id: int) -> User | None:
    """The active account `user_id` (a session cookie names it), None when gone or disabled."""
    row = session.get(WebUser, user_id)
    return _user(row) if row is not None and row.active else None


def revoke_sessions(session: Session, user_id: int) -> None:
    """End every session of the account, on every device: the cookies it was given are refused
    from now on (a new generation, `web_user.session_epoch`)."""
    session.execute(
        update(WebUser).where(WebUser.id == user_id).values(session_epoch=WebUser.session_epoch + 1)
    )


def set_password(session: Session, username: str, password: str) -> None:
    """A new password for an existing account; its open sessions end (`revoke_sessions`)."""
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"password: at least {MIN_PASSWORD} characters")
    row = session.scalar(select(WebUser).where(WebUser.username == username))
    if row is None:
        raise AccountError(f"no account {username}")
    row.password_hash = _hasher.hash(password)
    session.flush()
    revoke_sessions(session, row.id)


def too_many_failures(session: Session, username: str, address: str, now: dt.datetime) -> bool:
    failures = session.scalar(
        select(func.count())
        .select_from(LoginAttempt)
        .where(
            LoginAttempt.username == username,
            LoginAttempt.address == address,
            LoginAttempt.ok.is_(False),
            LoginAttempt.at > now - WINDOW,
        )
    )
    return (failures or 0) >= MAX_FAILURES


def log_in(
    session: Session, username: str, password: str, address: str, now: dt.datetime
) -> User | None:
    """The account when the password is right, else None; every attempt is recorded. Call
    `too_many_failures` first: a limited username is not even checked."""
    row = session.scalar(select(WebUser).where(WebUser.username == username))
    ok = False
    try:
        ok = _hasher.verify(row.password_hash if row else _DUMMY, password) and row is not None
    except (VerificationError, InvalidHashError):
        ok = False
    ok = ok and row is not None and row.active
    session.add(LoginAttempt(username=username[:80], address=address[:64], ok=ok, at=now))
    return _user(row) if ok and row is not None else None


#: `make demo`'s accounts on Lebak: username -> (role, villages). Never on a real deployment.
DEMO_ACCOUNTS = {
    "demo-desa": (Role.DESA, ["36.02.01.2002"]),
    "demo-opd": (Role.OPD, ["36.02.01.2003", "36.02.01.2004"]),
    "demo-disnaker": (Role.DISNAKER, []),
    "demo-bkad": (Role.BKAD, []),
    "demo-bpjs": (Role.BPJS, []),
}


def demo_accounts(session: Session, program: Program) -> dict[str, str]:
    """One demo account per role on `program`, each with a new random password (username ->
    password, to print once): an existing demo account gets the new password, so running the demo
    again prints passwords that work."""
    passwords: dict[str, str] = {}
    for username, (role, villages) in DEMO_ACCOUNTS.items():
        password = secrets.token_urlsafe(12)
        if session.scalar(select(WebUser.id).where(WebUser.username == username)) is None:
            add_user(session, username, password, role.value, program, villages)
        else:
            set_password(session, username, password)
        passwords[username] = password
    return passwords
