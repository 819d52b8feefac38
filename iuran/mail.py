"""The e-mail outbox: notifications are queued with the event they report, and never resent once sent.

The cycle writes `Notification` rows in its own transaction (`queue`), so an invoice and the message
announcing it exist together or not at all. `deliver_pending` later sends what is due, one short
transaction per row: claim it (`pending` → `sending`), send it, record the outcome. A crash mid-batch
therefore never resends the rows already marked `sent`; the one row caught between the SMTP `250` and
its commit is the only one that can go out twice, and it carries the same Message-ID both times so a
recipient (or their mail client) can recognise the repeat.

Delivery goes over SMTP (aiosmtplib, one connection per batch, reconnecting after a drop) when a host
is configured, else into a file outbox of `.eml` files an operator can open or forward by hand.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email.policy
import email.utils
import glob
import hashlib
import logging
import math
import mimetypes
import numbers
import os
import re
import ssl
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from email.message import EmailMessage
from functools import lru_cache
from pathlib import Path, PurePath
from typing import Any

import aiosmtplib
import jinja2
from sqlalchemy import CursorResult, Result, and_, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from iuran import faults
from iuran.config import TEMPLATES, Settings, SmtpSettings
from iuran.db.models import Notification, NotificationStatus
from iuran.db.session import session_scope

log = logging.getLogger("iuran.mail")

EMAIL_TEMPLATES = TEMPLATES / "email"

# Retry schedule after a temporary failure: 30 s, 1 min, 2 min, 4 min … never more than an hour.
BACKOFF_BASE = dt.timedelta(seconds=30)
BACKOFF_CAP = dt.timedelta(hours=1)
# A row stays claimed (`sending`) this long; past it, a sender that died mid-batch is presumed dead
# and the row is due again. Far longer than one SMTP transaction (a few × the SMTP timeout).
CLAIM_LEASE = dt.timedelta(minutes=10)

TLS_MODES = ("none", "starttls", "tls")

CONTENT_TYPES = {
    ".pdf": ("application", "pdf"),
    ".xlsx": ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    ".csv": ("text", "csv"),
}

_TEMPLATE_NAME = re.compile(r"[a-z][a-z0-9_]*")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_NIK_LIKE = re.compile(r"(?<!\d)(\d{4})\d{8}(\d{4})(?!\d)")


# ---------------------------------------------------------------------------------------------------
# Queueing


def queue(
    session: Session,
    *,
    key: str,
    event: str,
    program: str,
    period: str | None,
    to: Sequence[str],
    cc: Sequence[str] = (),
    template: str,
    context: Mapping[str, Any],
    attachments: Sequence[str | PurePath] = (),
    invoice_id: int | None = None,
) -> bool:
    """Add a notification to the outbox in the caller's transaction; False if `key` is already there.

    The unique idempotency key, not a prior SELECT, decides: a rerun of the cycle (or two at once)
    queues each message once. The context is stored as JSON, so dates become ISO strings here.
    """
    if not to:
        raise ValueError(f"notification {key!r} has no recipient")
    template_files(template)  # a misspelt template fails the event now, not at 2 a.m. in the sender
    values: dict[str, Any] = {
        "idempotency_key": key,
        "event": event,
        "program": program,
        "period": period,
        "invoice_id": invoice_id,
        "to_addrs": list(to),
        "cc_addrs": list(cc),
        "template": template,
        "context": _jsonable(dict(context)),
        "attachments": [str(a) for a in attachments],
        "status": NotificationStatus.PENDING,
        "attempts": 0,
    }
    dialect = session.get_bind().dialect.name
    if dialect in ("sqlite", "postgresql"):
        insert = sqlite_insert if dialect == "sqlite" else postgresql_insert
        stmt = (
            insert(Notification)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["idempotency_key"])
            .returning(Notification.id)
        )
        # RETURNING, not rowcount: PostgreSQL reports rowcount -1 for this ORM-enabled INSERT
        inserted = session.execute(stmt).first() is not None
    else:  # any other backend: a savepoint absorbs the duplicate
        try:
            with session.begin_nested():
                session.add(Notification(**values))
        except IntegrityError:
            inserted = False
        else:
            inserted = True
    log.info(
        "%s %s (%s) to %s", "queued" if inserted else "already queued", key, template, list(to)
    )
    return inserted


def _rowcount(result: Result[Any]) -> int:
    """Rows matched by an UPDATE (a DML statement always returns a CursorResult)."""
    assert isinstance(result, CursorResult)
    return result.rowcount


def _jsonable(value: Any) -> Any:
    """The JSON form the context is stored in (dates as ISO strings, paths as strings).

    Floats are let through for ratios and percentages; money is int, and the `rupiah` filter
    refuses a float, so a float amount fails in the template tests rather than on an invoice.
    """
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"cannot store {value!r} in a notification context")
        return value
    if isinstance(value, dt.date | dt.datetime | dt.time):
        return value.isoformat()
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [_jsonable(v) for v in value]
        return sorted(items, key=str) if isinstance(value, set | frozenset) else items
    raise TypeError(f"cannot store {type(value).__name__} in a notification context")


# ---------------------------------------------------------------------------------------------------
# Building messages


def template_files(template: str) -> tuple[str, str, str]:
    """The subject, text and HTML template names for `template`; ValueError if one is missing."""
    if not _TEMPLATE_NAME.fullmatch(template):
        raise ValueError(f"bad e-mail template name {template!r}")
    names = (f"{template}.subject.j2", f"{template}.txt.j2", f"{template}.html.j2")
    missing = [n for n in names if not (EMAIL_TEMPLATES / n).is_file()]
    if missing:
        raise ValueError(f"e-mail template {template!r} is missing {', '.join(missing)}")
    return names


def _rupiah(n: object) -> str:
    from iuran.money import rupiah

    return rupiah(n)


def _terbilang(n: object) -> str:
    from iuran.money import terbilang

    return terbilang(n)


def _angka(n: object) -> str:
    from iuran.money import angka

    return angka(n)


def _tanggal(value: object) -> str:
    """`15 Januari 2026` from a date or an ISO string (contexts hold ISO strings after JSON)."""
    from iuran.periods import BULAN

    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value) if "T" in value else dt.date.fromisoformat(value)
    if not isinstance(value, dt.date):
        raise TypeError(f"not a date: {value!r}")
    return f"{value.day} {BULAN[value.month - 1]} {value.year}"


def _mask_nik(value: object) -> str:
    from iuran.nik import mask

    return mask(str(value))


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    """One Jinja environment: HTML autoescaped, text not; undefined variables are errors."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(EMAIL_TEMPLATES),
        autoescape=jinja2.select_autoescape(
            enabled_extensions=("html.j2",), disabled_extensions=("txt.j2",), default=False
        ),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(
        rupiah=_rupiah,
        terbilang=_terbilang,
        angka=_angka,
        tanggal=_tanggal,
        mask_nik=_mask_nik,
    )
    return env


def render(template: str, context: Mapping[str, Any]) -> tuple[str, str, str]:
    """Subject (one line), plain text and HTML of a template."""
    env = environment()
    subject_t, text_t, html_t = template_files(template)
    subject = " ".join(env.get_template(subject_t).render(context).split())
    return (
        subject,
        env.get_template(text_t).render(context),
        env.get_template(html_t).render(context),
    )


def mail_domain(mail_from: str) -> str:
    address = email.utils.parseaddr(mail_from)[1]
    return address.rpartition("@")[2] or "localhost"


def message_id(key: str, mail_from: str) -> str:
    """`<iuran.<hash of key>@domain>`: the same for every attempt at one notification.

    Deliberately not `email.utils.make_msgid`, which mixes in the time and a random number: a resend
    after a crash must carry the Message-ID of the first send so it is recognisably the same mail.
    """
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]
    return f"<iuran.{digest}@{mail_domain(mail_from)}>"


def build_message(
    n: Notification, mail_from: str, *, now: dt.datetime | None = None
) -> EmailMessage:
    """The complete message for a notification: text + HTML alternatives, then the attachments.

    Raises jinja2.TemplateError when the template cannot be rendered and OSError when an attachment
    cannot be read (a document not rendered yet).
    """
    subject, text, html = render(n.template, n.context)
    msg = EmailMessage()
    msg["Subject"] = subject
    msg["From"] = mail_from
    msg["To"] = ", ".join(n.to_addrs)
    if n.cc_addrs:
        msg["Cc"] = ", ".join(n.cc_addrs)
    msg["Date"] = email.utils.format_datetime(_utc(now or dt.datetime.now(dt.UTC)))
    msg["Message-ID"] = n.message_id or message_id(n.idempotency_key, mail_from)
    msg["X-Iuran-Notification"] = n.idempotency_key
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation auto-replies to a robot
    # quoted-printable keeps the parts 7-bit: safe on servers without 8BITMIME
    msg.set_content(text, cte="quoted-printable")
    msg.add_alternative(html, subtype="html", cte="quoted-printable")
    for path in map(Path, n.attachments):
        maintype, subtype = content_type(path)
        msg.add_attachment(path.read_bytes(), maintype, subtype, filename=path.name)
    return msg


def content_type(path: Path) -> tuple[str, str]:
    known = CONTENT_TYPES.get(path.suffix.lower())
    if known:
        return known
    guessed, _ = mimetypes.guess_type(path.name)
    if guessed:
        maintype, _, subtype = guessed.partition("/")
        return maintype, subtype
    return "application", "octet-stream"


def recipients(n: Notification) -> list[str]:
    """Envelope recipients: To then Cc, bare addresses, each once."""
    seen: dict[str, None] = {}
    for addr in [*n.to_addrs, *n.cc_addrs]:
        bare = email.utils.parseaddr(addr)[1] or addr
        seen.setdefault(bare, None)
    return list(seen)


def outbox_name(key: str) -> str:
    """A file name for a key: readable, and made unique by a hash (`a/b` and `a_b` must not clash)."""
    safe = _UNSAFE.sub("_", key).strip("._")[:150] or "notification"
    return f"{safe}-{hashlib.sha256(key.encode('utf-8')).hexdigest()[:10]}.eml"


# ---------------------------------------------------------------------------------------------------
# Delivering


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


def _utc(moment: dt.datetime) -> dt.datetime:
    """Aware UTC; naive values are taken as UTC (SQLite hands them back naive)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC)


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
    database_url: str, now: dt.datetime, limit: int | None, keys: Sequence[str] | None = None
) -> list[int]:
    with session_scope(database_url) as session:
        stmt = select(Notification.id).where(_due(now)).order_by(Notification.id)
        if keys is not None:
            stmt = stmt.where(Notification.idempotency_key.in_(list(keys)))
        if limit is not None:
            stmt = stmt.limit(limit)
        return list(session.scalars(stmt))


def _claim(database_url: str, row_id: int, now: dt.datetime) -> Notification | None:
    """Take one row for this sender, or None if another sender has it (or it is done).

    The conditional UPDATE is the lock: of two senders, only one sees rowcount 1. While claimed,
    `next_attempt_at` holds the lease expiry, which doubles as this claim's token (`_finish`).
    A dedicated `claimed_at` column would say it more plainly.
    """
    with session_scope(database_url) as session:
        result = session.execute(
            update(Notification)
            .where(Notification.id == row_id, _due(now))
            .values(status=NotificationStatus.SENDING, next_attempt_at=now + CLAIM_LEASE)
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
            .values(attempts=Notification.attempts + 1, **values)
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
        import base64

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
        self.directory.mkdir(parents=True, exist_ok=True)
        target = self.directory / outbox_name(key)
        # What a sender that died writing this message left goes first (one sender a row: the claim).
        for stale in self.directory.glob(f".{glob.escape(target.name)}.*.tmp"):
            stale.unlink(missing_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=f".{target.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(msg.as_bytes(policy=email.policy.default))
                fh.flush()
                os.fsync(fh.fileno())
            faults.point("mail.outbox_written")
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
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
) -> DeliveryReport:
    """Send every due notification once; record each outcome in its own short transaction.

    `now` pins the clock (tests, backfills); by default each claim reads the real clock, so a long
    batch never claims rows under an already expired lease. `keys` limits the batch to those
    idempotency keys (the failure hook sends its own message and leaves the rest to their retries).
    """
    clock: Callable[[], dt.datetime]
    if now is not None:
        fixed = _utc(now)
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
        for row_id in _due_ids(database_url, clock(), limit, keys):
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
                    msg = build_message(n, cfg.mail_from, now=moment)
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
) -> DeliveryReport:
    """`deliver_pending` for callers without an event loop (Prefect tasks, the CLI)."""
    return asyncio.run(
        deliver_pending(
            database_url, settings, limit=limit, max_attempts=max_attempts, now=now, keys=keys
        )
    )


__all__ = [
    "DeliveryReport",
    "build_message",
    "deliver_pending",
    "deliver_pending_sync",
    "message_id",
    "outbox_name",
    "queue",
    "render",
]
