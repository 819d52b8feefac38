"""Queueing a notification: a `Notification` row written in the caller's transaction.

The cycle, payments and reminders queue their messages with the event they report, so an invoice and
the message announcing it exist together or not at all. A unique idempotency key makes a rerun (or
two runs at once) queue each message once; `iuran.mail.deliver` sends the rows later.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import numbers
from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import PurePath
from typing import Any

from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session

from iuran.db.models import Notification, NotificationStatus
from iuran.db.session import as_utc
from iuran.db.upsert import insert_or_ignore
from iuran.mail.compose import template_files

log = logging.getLogger("iuran.mail")


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
    stmt = (
        insert_or_ignore(session, Notification, ["idempotency_key"])
        .values(**values)
        .returning(Notification.id)
    )
    # RETURNING, not rowcount: PostgreSQL reports rowcount -1 for this ORM-enabled INSERT
    inserted = session.execute(stmt).first() is not None
    log.info(
        "%s %s (%s) to %s", "queued" if inserted else "already queued", key, template, list(to)
    )
    return inserted


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


#: Not delivered yet and still to be tried: waiting (`pending`) or being sent (`sending`).
UNDELIVERED = (NotificationStatus.PENDING, NotificationStatus.SENDING)


#: The parties a message's key may end with (`…:bkad`, `…:kecamatan`)
ROLES = ("bkad", "bpjs", "disnaker", "desa", "kecamatan")


def recipient_role(key: str, to: Sequence[str] = (), roles: Mapping[str, str] | None = None) -> str:
    """Who a message goes to: the party its idempotency key ends with (`…:bpjs`), else the parties
    its addresses are the program's recipients of (`roles`: address -> party), else `-`. Not every
    key ends with a party (a credit note's ends with the amount used, a reminder's with a digest)."""
    last = key.rsplit(":", 1)[-1]
    if last in ROLES:
        return last
    parties = sorted({(roles or {})[a] for a in to if a in (roles or {})})
    return ", ".join(parties) or "-"


def recipient_roles(recipients: Any) -> dict[str, str]:
    """address -> party for a program's `recipients` (BKAD, BPJS, Disnaker), for `recipient_role`."""
    return {a: party for party in ("bkad", "bpjs", "disnaker") for a in getattr(recipients, party)}


def undelivered(
    session: Session, program: str, period: str | None, roles: Mapping[str, str] | None = None
) -> list[dict[str, Any]]:
    """The messages of a program's month (or of the whole program) not delivered yet, oldest first:
    `menunggu` (pending, never tried), `dikirim` (claimed by a sender now), `gagal-sementara`
    (tried and failed, will be tried again), each with its next attempt (UTC; None = due now).
    Event and recipient party only (`recipient_role`, `roles` from `recipient_roles`): no address
    list, no key (keys may carry a fingerprint)."""
    stmt = select(Notification).where(
        Notification.program == program, Notification.status.in_(UNDELIVERED)
    )
    if period is not None:
        stmt = stmt.where(Notification.period == period)
    out = []
    for n in session.scalars(stmt.order_by(Notification.created_at, Notification.id)):
        if n.status == NotificationStatus.SENDING:
            state = "claimed"
        else:
            state = "failing" if n.attempts else "pending"
        out.append(
            {
                "event": n.event,
                "period": n.period,
                "recipient": recipient_role(n.idempotency_key, n.to_addrs or (), roles),
                "state": state,
                "attempts": int(n.attempts or 0),
                "next_attempt_at": as_utc(n.next_attempt_at).isoformat()
                if n.next_attempt_at
                else None,
                "last_error": n.last_error,
            }
        )
    return out


def release_claims(
    session: Session, claimant: str, program: str, period: str, now: dt.datetime
) -> int:
    """Make the rows `claimant` (a dead sender) had claimed for (program, period) due at once.

    Called by the run that takes over that sender's stale cycle lease: the claim's holder is known
    dead, so its rows need not wait for the claim lease to run out. The dead sender's late outcome,
    if it ever comes, is refused (`deliver._finish` matches the claim it made).
    """
    result = session.execute(
        update(Notification)
        .where(
            Notification.status == NotificationStatus.SENDING,
            Notification.claimed_by == claimant,
            Notification.program == program,
            Notification.period == period,
        )
        .values(status=NotificationStatus.PENDING, next_attempt_at=now, claimed_by=None)
        .execution_options(synchronize_session=False)
    )
    assert isinstance(result, CursorResult)
    released = result.rowcount
    if released:
        log.warning(
            "%d message(s) of %s %s claimed by %s (a dead run) are due again",
            released,
            program,
            period,
            claimant,
        )
    return released
