"""Sessions of the counter: a cookie signed with the server's secret (itsdangerous) that expires
(`MAX_AGE`), holding the account's id, its session generation and the visit's CSRF token; every
form posts that token back. A cookie of an older generation than the account's is refused
(`web_user.session_epoch`: logging out and a password change raise it), so a copied cookie dies
with the session it was copied from.

A visitor who has not logged in gets a session too (no account, a token), so the login form is
protected like the others; logging in starts a new session with a new token.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from pathlib import Path

from itsdangerous import BadSignature, URLSafeTimedSerializer

from iuran.files import private_folder, write_atomic

COOKIE = "loket_sesi"
MAX_AGE = 8 * 3600  # a working day; then log in again
SECRET_FILE = "web-secret"


@dataclass(frozen=True)
class Visit:
    """What a session cookie says: the account (None before login), the CSRF token and the
    account's session generation when it logged in."""

    user_id: int | None
    csrf: str
    epoch: int = 0


def new_visit(user_id: int | None = None, epoch: int = 0) -> Visit:
    return Visit(user_id, secrets.token_urlsafe(32), epoch)


def csrf_ok(visit: Visit | None, token: str | None) -> bool:
    return visit is not None and bool(token) and hmac.compare_digest(visit.csrf, token or "")


class Signer:
    """Writes and reads session cookies with one secret."""

    def __init__(self, secret: str) -> None:
        self._serializer = URLSafeTimedSerializer(secret, salt="loket-sesi")

    def dump(self, visit: Visit) -> str:
        return self._serializer.dumps({"u": visit.user_id, "c": visit.csrf, "e": visit.epoch})

    def load(self, value: str | None) -> Visit | None:
        """The visit a cookie holds; None when absent, forged or older than `MAX_AGE`."""
        if not value:
            return None
        try:
            data = self._serializer.loads(value, max_age=MAX_AGE)
        except BadSignature:  # SignatureExpired is one too
            return None
        if not isinstance(data, dict) or not isinstance(data.get("c"), str):
            return None
        user, epoch = data.get("u"), data.get("e")
        return Visit(
            user if isinstance(user, int) else None,
            data["c"],
            epoch if isinstance(epoch, int) else -1,  # no generation: never the account's
        )


def server_secret(private: Path, configured: str = "") -> str:
    """The secret that signs sessions: `IURAN_WEB_SECRET` when set, else one made once and kept
    owner-only in the private folder (so that sessions survive a restart)."""
    if configured:
        return configured
    path = private_folder(private) / SECRET_FILE
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        write_atomic(path, secrets.token_urlsafe(48).encode(), mode=0o600)
        return path.read_text().strip()
