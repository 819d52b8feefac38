"""The counter's audit trail: one row per login, logout, upload and download (who, when, what,
which object), written in the transaction of what it records. Objects are file names and counts:
a NIK-shaped run of digits is masked before it is stored."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from iuran.db.models import AuditEvent, WebUser
from iuran.nik import mask

_NIK_LIKE = re.compile(r"\d{16}")


def masked(text: str | None) -> str | None:
    """`text` with every run of 16 digits (a NIK's shape) masked as `iuran.nik.mask` does."""
    return None if text is None else _NIK_LIKE.sub(lambda m: mask(m.group()), text)


def record(
    session: Session,
    action: str,
    *,
    username: str | None,
    role: str | None,
    address: str | None,
    object: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    session.add(
        AuditEvent(
            action=action,
            username=username,
            role=role,
            address=address,
            object=masked(object[:500] if object else object),
            detail=detail,
        )
    )


def recent(session: Session, program: str, limit: int = 200) -> list[AuditEvent]:
    """The latest events of `program`'s accounts (a login attempt with an unknown name belongs to
    no program and is not shown)."""
    accounts = select(WebUser.username).where(WebUser.program == program)
    return list(
        session.scalars(
            select(AuditEvent)
            .where(AuditEvent.username.in_(accounts))
            .order_by(AuditEvent.id.desc())
            .limit(limit)
        )
    )
