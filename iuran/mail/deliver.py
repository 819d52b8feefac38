"""Delivering the outbox: each due notification sent once, its outcome recorded, failures retried.

`deliver_pending` sends what is due, one short transaction per row: claim it (`pending` → `sending`),
send it, record the outcome. A crash mid-batch therefore never resends the rows already marked
`sent`; the one row caught between the SMTP `250` and its commit is the only one that can go out
twice, and it carries the same Message-ID both times (`iuran.mail.compose.message_id`).

Delivery goes over SMTP (aiosmtplib, one connection per batch, reconnecting after a drop) when a host
is configured, else into a file outbox of `.eml` files an operator can open or forward by hand. A
temporary failure is retried after a doubling backoff; a permanent one (5xx) fails the row.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import email.policy
import email.utils
import logging
import os
import re
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aiosmtplib
import jinja2
from sqlalchemy import CursorResult, Result, and_, func, or_, select, update
from sqlalchemy.sql.elements import ColumnElement

from iuran import faults
from iuran.config import Settings, SmtpSettings
from iuran.db.models import Notification, NotificationStatus
from iuran.db.session import as_utc, session_scope
from iuran.files import temp_beside
from iuran.locks import process_identity
from iuran.mail.compose import build_message, outbox_name, recipients

log = logging.getLogger("iuran.mail")

# Retry schedule after a temporary failure: 30 s, 1 min, 2 min, 4 min … never more than an hour.
BACKOFF_BASE = dt.timedelta(seconds=30)
BACKOFF_CAP = dt.timedelta(hours=1)
# A row stays claimed (`sending`) this long; past it, a sender that died mid-batch is presumed dead
# and the row is due again. Far longer than one SMTP transaction (a few × the SMTP timeout). A run
# that takes over the dead sender's cycle lease does not wait for it: the claim names its holder
# (`claimed_by`), and `iuran.locks.acquire` makes that holder's rows of the cycle due at once.
CLAIM_LEASE = dt.timedelta(minutes=10)

TLS_MODES = ("none", "starttls", "tls")

_NIK_LIKE = re.compile(r"(?<!\d)(\d{4})\d{8}(\d{4})(?!\d)")


@dataclass
class DeliveryReport:
    """What one delivery run did; `pending` counts rows still waiting (due or not) after it."""

    sent: int = 0
    failed: int = 0
    pending: int = 0
    errors: list[str] = field(default_factory=list)


class TemporaryError(Exception):
    """Worth retrying later: 4xx, connection refused or dropped, timeout, missing attachment."""


class PermanentError(Exception):
    """Retrying cannot help: a 5xx rejection of the message or of every recipient."""


class Unavailable(TemporaryError):
    """No usable connection to the server: the rest of the batch waits for the next run."""


def _rowcount(result: Result[Any]) -> int:
    """Rows matched by an UPDATE (a DML statement always returns a CursorResult)."""
    assert isinstance(result, CursorResult)
    return result.rowcount


def backoff(attempts: int) -> dt.timedelta:
    """Wait after the `attempts`-th failure: 30 s × 2^(attempts-1), at most an hour."""
    return min(BACKOFF_BASE * 2 ** max(attempts - 1, 0), BACKOFF_CAP)


def _due(now: dt.datetime) -> ColumnElement[bool]:
    """Rows a sender may take: pending and due, or claimed by a sender whose lease has run out."""
    return or_(
        and_(
            Notification.status == NotificationStatus.PENDING,
            or_(Notification.next_attempt_at.is_(None), Notification.next_attempt_at <= now),
        ),
        and_(
            Notification.status == NotificationStatus.SENDING, Notification.next_attempt_at <= now
        ),
    )


def _due_ids(
    database_url: str,
    now: dt.datetime,
    limit: int | None,
    keys: Sequence[str] | None = None,
    program: str | None = None,
) -> list[int]:
    with session_scope(database_url) as session:
        stmt = select(Notification.id).where(_due(now)).order_by(Notification.id)
        if program is not None:
            stmt = stmt.where(Notification.program == program)
        if keys is not None:
            stmt = stmt.where(Notification.idempotency_key.in_(list(keys)))
        if limit is not None:
            stmt = stmt.limit(limit)
        return list(session.scalars(stmt))


def _claim(
    database_url: str, row_id: int, now: dt.datetime, claimant: str | None = None
) -> Notification | None:
    """Take one row for this sender, or None if another sender has it (or it is done).

    The conditional UPDATE is the lock: of two senders, only one sees rowcount 1. While claimed,
    `next_attempt_at` holds the lease expiry, which doubles as this claim's token (`_finish`).
    A dedicated `claimed_at` column would say it more plainly. `claimed_by` names the claiming
    process (`process_identity()` unless `claimant` says otherwise).
    """
    with session_scope(database_url) as session:
        result = session.execute(
            update(Notification)
            .where(Notification.id == row_id, _due(now))
            .values(
                status=NotificationStatus.SENDING,
                next_attempt_at=now + CLAIM_LEASE,
                claimed_by=claimant or process_identity(),
            )
            .execution_options(synchronize_session=False)
        )
        if _rowcount(result) != 1:
            return None
        return session.get(Notification, row_id)


def _finish(database_url: str, n: Notification, **values: Any) -> None:
    """Record an outcome, but only while this sender still holds the claim: a sender whose lease
    ran out (and whose row another sender took over) must not overwrite the newer outcome."""
    assert n.next_attempt_at is not None  # the lease written by _claim
    with session_scope(database_url) as session:
        result = session.execute(
            update(Notification)
            .where(
                Notification.id == n.id,
                Notification.status == NotificationStatus.SENDING,
                Notification.next_attempt_at == n.next_attempt_at,
            )
            .values(attempts=Notification.attempts + 1, claimed_by=None, **values)
            .execution_options(synchronize_session=False)
        )
        if _rowcount(result) != 1:
            log.warning("%s: claim lost before its outcome was recorded", n.idempotency_key)


def _pending_count(database_url: str) -> int:
    with session_scope(database_url) as session:
        stmt = (
            select(func.count())
            .select_from(Notification)
            .where(
                Notification.status.in_((NotificationStatus.PENDING, NotificationStatus.SENDING))
            )
        )
        return int(session.scalar(stmt) or 0)


class _Scrubber:
    """Removes the SMTP password (and its base64 AUTH forms) from any text stored or logged."""

    def __init__(self, cfg: SmtpSettings) -> None:
        self.secrets: list[str] = []
        if cfg.password:
            user = cfg.username or ""
            plain = f"\0{user}\0{cfg.password}".encode()
            for raw in (cfg.password.encode(), plain):
                self.secrets.append(base64.b64encode(raw).decode())
            self.secrets.append(cfg.password)

    def __call__(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return _NIK_LIKE.sub(lambda m: m[1] + "*" * 8 + m[2], text)[:2000]


def _describe(exc: BaseException) -> str:
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        return "; ".join(f"{e.recipient}: {e.code} {e.message}" for e in exc.recipients)
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return f"{exc.code} {exc.message}"
    return f"{type(exc).__name__}: {exc}"


def classify(exc: BaseException) -> type[TemporaryError] | type[PermanentError]:
    """Temporary unless the server said 5xx about this message (or about all its recipients)."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        codes = [e.code for e in exc.recipients]
        return PermanentError if codes and all(500 <= c < 600 for c in codes) else TemporaryError
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return PermanentError if 500 <= exc.code < 600 else TemporaryError
    if isinstance(exc, aiosmtplib.SMTPNotSupported | ValueError):
        return PermanentError  # e.g. a non-ASCII address the server cannot take
    return TemporaryError  # disconnects, timeouts, OSError


def server_unavailable(exc: BaseException) -> bool:
    """421 (the server is closing the channel) or a timeout: the next message would fare no better,
    so the rest of the batch waits (as an MTA defers a whole destination). A plain drop does not
    count: the next message reconnects."""
    if isinstance(exc, aiosmtplib.SMTPTimeoutError):
        return True
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        return any(e.code == 421 for e in exc.recipients)
    return isinstance(exc, aiosmtplib.SMTPResponseException) and exc.code == 421


class _FileOutbox:
    """No SMTP host: each message becomes `<outbox>/<key>.eml`, written atomically."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    async def send(self, msg: EmailMessage, key: str, _to: list[str]) -> dict[str, str]:
        target = self.directory / outbox_name(key)
        # What a sender that died writing this message left goes first (one sender a row: the claim).
        tmp = temp_beside(target)
        try:
            with tmp.open("wb") as fh:
                fh.write(msg.as_bytes(policy=email.policy.default))
                fh.flush()
                os.fsync(fh.fileno())
            faults.point("mail.outbox_written")
            os.replace(tmp, target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        log.info("wrote %s to %s", key, target)
        return {}

    async def close(self) -> None:
        return None


class _SmtpSender:
    """One SMTP connection for the whole batch, reopened after the server drops it."""

    def __init__(self, cfg: SmtpSettings, scrub: _Scrubber) -> None:
        if cfg.tls not in TLS_MODES:
            raise ValueError(f"SMTP TLS mode must be one of {TLS_MODES}, not {cfg.tls!r}")
        self.cfg = cfg
        self.scrub = scrub
        self.client: aiosmtplib.SMTP | None = None
        self.mail_from = email.utils.parseaddr(cfg.mail_from)[1] or cfg.mail_from

    async def _connect(self) -> aiosmtplib.SMTP:
        cfg = self.cfg
        client = aiosmtplib.SMTP(
            hostname=cfg.host,
            port=cfg.port,
            timeout=cfg.timeout,
            use_tls=cfg.tls == "tls",
            start_tls=cfg.tls == "starttls",
            username=cfg.username,
            password=cfg.password if cfg.username else None,
            cert_bundle=cfg.ca_file,
            validate_certs=cfg.validate_certs,
        )
        try:
            await client.connect()  # greeting, EHLO, STARTTLS and AUTH all happen here
        except (TimeoutError, aiosmtplib.SMTPException, OSError, ssl.SSLError) as exc:
            client.close()
            raise Unavailable(
                self.scrub(f"cannot connect to {cfg.host}:{cfg.port} ({cfg.tls}): {_describe(exc)}")
            ) from None
        log.info("connected to %s:%s (%s)", cfg.host, cfg.port, cfg.tls)
        return client

    async def send(self, msg: EmailMessage, key: str, to: list[str]) -> dict[str, str]:
        if self.client is None or not self.client.is_connected:
            self.client = None
            self.client = await self._connect()
        try:
            refused, _ = await self.client.send_message(msg, sender=self.mail_from, recipients=to)
        except Exception as exc:
            if not self.client.is_connected:
                self.client = None
            kind = Unavailable if server_unavailable(exc) else classify(exc)
            raise kind(self.scrub(_describe(exc))) from None
        return {addr: f"{r.code} {r.message}" for addr, r in refused.items()}

    async def close(self) -> None:
        if self.client is not None and self.client.is_connected:
            try:
                await self.client.quit()
            except (aiosmtplib.SMTPException, OSError):
                self.client.close()
        self.client = None


async def deliver_pending(
    database_url: str,
    settings: Settings,
    *,
    limit: int | None = None,
    max_attempts: int = 5,
    now: dt.datetime | None = None,
    keys: Sequence[str] | None = None,
    program: str | None = None,
) -> DeliveryReport:
    """Send every due notification once; record each outcome in its own short transaction.

    `now` pins the clock (tests, backfills); by default each claim reads the real clock, so a long
    batch never claims rows under an already expired lease. `keys` limits the batch to those
    idempotency keys (the failure hook sends its own message and leaves the rest to their retries).
    `program` limits it to one program's messages: a month delivers its own, never another
    regency's whose documents that regency's run has not rendered yet (one registry for a province;
    found by the province benchmark, where such a message was deferred as "attachment missing").
    """
    clock: Callable[[], dt.datetime]
    if now is not None:
        fixed = as_utc(now)
        clock = lambda: fixed  # noqa: E731
    else:
        clock = lambda: dt.datetime.now(dt.UTC)  # noqa: E731
    cfg = settings.smtp
    scrub = _Scrubber(cfg)
    sender: _SmtpSender | _FileOutbox = (
        _SmtpSender(cfg, scrub) if cfg.configured else _FileOutbox(settings.outbox)
    )
    report = DeliveryReport()
    unavailable: str | None = None
    try:
        for row_id in _due_ids(database_url, clock(), limit, keys, program):
            moment = clock()
            n = _claim(database_url, row_id, moment)
            if n is None:
                continue
            faults.point("mail.after_claim")
            key, to = n.idempotency_key, recipients(n)
            try:
                if unavailable is not None:
                    raise Unavailable(unavailable)
                try:
                    msg = build_message(n, cfg.mail_from, now=moment, loket_url=settings.loket_url)
                except jinja2.TemplateError as exc:
                    raise PermanentError(f"template {n.template}: {_describe(exc)}") from None
                except OSError as exc:
                    raise TemporaryError(f"attachment: {_describe(exc)}") from None
                refused = await sender.send(msg, key, to)
                faults.point("mail.after_send")
            except Unavailable as exc:
                unavailable = str(exc)
                _retry(database_url, n, unavailable, moment, max_attempts, report)
            except TemporaryError as exc:
                _retry(database_url, n, str(exc), moment, max_attempts, report)
            except PermanentError as exc:
                error = scrub(str(exc))
                _finish(
                    database_url,
                    n,
                    status=NotificationStatus.FAILED,
                    last_error=error,
                    next_attempt_at=None,
                )
                report.failed += 1
                report.errors.append(f"{key}: {error}")
                log.error("failed %s to %s: %s", key, to, error)
            except Exception as exc:  # a bug must not block the rest of the outbox
                log.exception("unexpected error sending %s", key)
                _retry(database_url, n, scrub(_describe(exc)), moment, max_attempts, report)
            else:
                partial = scrub("; ".join(f"{a}: {r}" for a, r in refused.items())) or None
                _finish(
                    database_url,
                    n,
                    status=NotificationStatus.SENT,
                    sent_at=moment,
                    message_id=msg["Message-ID"],
                    last_error=f"refused: {partial}" if partial else None,
                    next_attempt_at=None,
                )
                faults.point("mail.marked_sent")
                report.sent += 1
                log.info("sent %s to %s as %s", key, to, msg["Message-ID"])
                if partial:
                    report.errors.append(f"{key}: refused: {partial}")
                    log.warning("%s: some recipients refused: %s", key, partial)
    finally:
        await sender.close()
    report.pending = _pending_count(database_url)
    log.info("delivery: %d sent, %d failed, %d pending", report.sent, report.failed, report.pending)
    return report


def _retry(
    database_url: str,
    n: Notification,
    error: str,
    now: dt.datetime,
    max_attempts: int,
    report: DeliveryReport,
) -> None:
    """A temporary failure: try again after the backoff, or give up after `max_attempts`."""
    attempts = n.attempts + 1
    if attempts >= max_attempts:
        error = f"gave up after {attempts} attempts: {error}"
        _finish(
            database_url,
            n,
            status=NotificationStatus.FAILED,
            last_error=error,
            next_attempt_at=None,
        )
        report.failed += 1
        log.error("failed %s: %s", n.idempotency_key, error)
    else:
        later = now + backoff(attempts)
        _finish(
            database_url,
            n,
            status=NotificationStatus.PENDING,
            last_error=error,
            next_attempt_at=later,
        )
        log.warning("deferred %s until %s: %s", n.idempotency_key, later.isoformat(), error)
    report.errors.append(f"{n.idempotency_key}: {error}")


def deliver_pending_sync(
    database_url: str,
    settings: Settings,
    *,
    limit: int | None = None,
    max_attempts: int = 5,
    now: dt.datetime | None = None,
    keys: Sequence[str] | None = None,
    program: str | None = None,
) -> DeliveryReport:
    """`deliver_pending` for callers without an event loop (Prefect tasks, the CLI)."""
    return asyncio.run(
        deliver_pending(
            database_url,
            settings,
            limit=limit,
            max_attempts=max_attempts,
            now=now,
            keys=keys,
            program=program,
        )
    )


def deliver_outbox(settings: Settings, program: str | None = None) -> DeliveryReport:
    """The outbox now, by SMTP or to the file outbox: the delivery step of a month (its own
    program's messages) and of a payment day (all of them) (`iuran.month`, `iuran.payment_day`)."""
    return deliver_pending_sync(settings.database_url, settings, program=program)
