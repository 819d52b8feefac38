"""One run per (program, period) at a time: a lease on the cycle row, so it holds across machines.

Prefect's deployment concurrency limit keeps two runs of one deployment from starting together on one
server; this lease is the guard that holds whatever starts the run (a deployment, the CLI, a second
Prefect server): the database every worker writes to says who runs a cycle and since when.

A run takes the lease with one conditional UPDATE in its own committed transaction: of two runs, only
one sees its row change. The winner renews the lease while it works (a heartbeat thread) and releases
it at the end, also when it fails. A run that died without releasing (a killed worker, a lost machine)
stops renewing, so its lease goes stale after `stale_after` (`IURAN_CYCLE_LEASE_MINUTES`, 15 by
default: `Settings.cycle_lease`, passed in by the flow) and the next run takes it over.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy import CursorResult, Result, or_, select, update

from iuran.config import CYCLE_LEASE
from iuran.db.models import Cycle
from iuran.db.session import as_utc, session_scope
from iuran.mail.outbox import release_claims
from iuran.registry import get_cycle

log = logging.getLogger("iuran.locks")

HOLDER_MAX = 100  # Cycle.locked_by is String(100)


class CycleBusy(RuntimeError):
    """Another run holds the cycle's lease."""

    def __init__(self, program: str, period: str, holder: str, since: dt.datetime | None) -> None:
        when = as_utc(since).strftime("%Y-%m-%d %H:%M:%S UTC") if since else "an unknown time"
        super().__init__(f"cycle {program} {period} is being run by {holder} since {when}")
        self.program, self.period, self.holder, self.since = program, period, holder, since

    def __reduce__(self) -> tuple[type[CycleBusy], tuple[str, str, str, dt.datetime | None]]:
        return CycleBusy, (self.program, self.period, self.holder, self.since)  # picklable


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _rowcount(result: Result[object]) -> int:
    assert isinstance(result, CursorResult)
    return result.rowcount


def process_identity() -> str:
    """This process, as a lease holder and an outbox claim name it: `@host:pid`."""
    return f"@{socket.gethostname()}:{os.getpid()}"[:HOLDER_MAX]


def default_holder(label: str = "") -> str:
    """Who holds a lease, as an operator reads it: `<label> @host:pid`, at most 100 characters.

    The label is cut, never the `@host:pid` end: it names the process whose outbox claims a run
    taking the lease over releases (`acquire`)."""
    where = process_identity()
    return f"{label[: max(HOLDER_MAX - len(where) - 1, 0)]} {where}".strip()


def process_of(holder: str) -> str | None:
    """The `@host:pid` a lease holder ends with, or None (a holder named by hand, e.g. `bench`)."""
    at = holder.rfind("@")
    return holder[at:] if at >= 0 else None


@dataclass
class Lease:
    database_url: str
    program: str
    period: str
    holder: str
    cycle_id: int
    lost: bool = field(default=False)

    def renew(self, now: dt.datetime | None = None) -> bool:
        """Push the expiry on; False (and `lost`) if another run has taken the lease over."""
        with session_scope(self.database_url) as session:
            result = session.execute(
                update(Cycle)
                .where(Cycle.id == self.cycle_id, Cycle.locked_by == self.holder)
                .values(locked_at=now or _now())
                .execution_options(synchronize_session=False)
            )
            held = _rowcount(result) == 1
        if not held and not self.lost:
            self.lost = True
            log.error("lease on cycle %s %s lost by %s", self.program, self.period, self.holder)
        return held

    def release(self) -> bool:
        """Give the lease back; only its holder can (a stale holder finds it taken and leaves it)."""
        with session_scope(self.database_url) as session:
            result = session.execute(
                update(Cycle)
                .where(Cycle.id == self.cycle_id, Cycle.locked_by == self.holder)
                .values(locked_by=None, locked_at=None)
                .execution_options(synchronize_session=False)
            )
            return _rowcount(result) == 1


def acquire(
    database_url: str,
    program: str,
    period: str,
    holder: str,
    *,
    now: dt.datetime | None = None,
    stale_after: dt.timedelta = CYCLE_LEASE,
) -> Lease:
    """Take the lease of (program, period), creating the cycle row if needed; CycleBusy if held.

    Taking it again under the same holder succeeds (a retried task of the same run). Taking over a
    stale lease also takes over what its dead holder's process had claimed in the outbox for this
    cycle (`iuran.mail.outbox.release_claims`): those messages are due again at once. Documents
    have no claim: a run renders whatever is missing (`render.render_pending`).
    """
    now = now or _now()
    holder = holder[:HOLDER_MAX]
    with session_scope(database_url) as session:
        cycle_id = get_cycle(session, program, period).id
        before = session.execute(
            select(Cycle.locked_by, Cycle.locked_at).where(Cycle.id == cycle_id).with_for_update()
        ).one()
        result = session.execute(
            update(Cycle)
            .where(
                Cycle.id == cycle_id,
                or_(
                    Cycle.locked_by.is_(None),
                    Cycle.locked_by == holder,
                    Cycle.locked_at.is_(None),
                    Cycle.locked_at < now - stale_after,
                ),
            )
            .values(locked_by=holder, locked_at=now)
            .execution_options(synchronize_session=False)
        )
        if _rowcount(result) != 1:
            who, since = session.execute(
                select(Cycle.locked_by, Cycle.locked_at).where(Cycle.id == cycle_id)
            ).one()
            raise CycleBusy(program, period, who or "another run", since)
        dead = before.locked_by
        if dead is not None and dead != holder and before.locked_at is not None:
            claimant = process_of(dead)
            if claimant is not None:
                log.warning("cycle %s %s taken over from %s (stale)", program, period, dead)
                release_claims(session, claimant, program, period, now)
    log.info("lease on cycle %s %s taken by %s", program, period, holder)
    return Lease(database_url, program, period, holder, cycle_id)


def holder_of(database_url: str, program: str, period: str) -> tuple[str, dt.datetime] | None:
    """Who holds the lease of (program, period) and since when, or None."""
    with session_scope(database_url) as session:
        row = session.execute(
            select(Cycle.locked_by, Cycle.locked_at).where(
                Cycle.program == program, Cycle.period == period
            )
        ).one_or_none()
    if row is None or row.locked_by is None or row.locked_at is None:
        return None
    return row.locked_by, as_utc(row.locked_at)


@contextmanager
def held(
    database_url: str,
    program: str,
    period: str,
    holder: str,
    *,
    stale_after: dt.timedelta = CYCLE_LEASE,
    heartbeat: dt.timedelta | None = None,
    on_lost: Callable[[Lease], None] | None = None,
) -> Iterator[Lease]:
    """Hold the lease for the block: taken on entry, renewed in the background (every
    `stale_after` / 5 unless `heartbeat` says otherwise), released on exit (whether the block
    succeeds or raises)."""
    lease = acquire(database_url, program, period, holder, stale_after=stale_after)
    beat = (heartbeat or stale_after / 5).total_seconds()
    stop = threading.Event()

    def renew_until_stopped() -> None:
        while not stop.wait(beat):
            try:
                if not lease.renew() and on_lost is not None:
                    on_lost(lease)
                    return
            except Exception:  # a busy database now is no reason to give up: try the next beat
                log.warning("could not renew the lease on %s %s", program, period, exc_info=True)

    thread = threading.Thread(target=renew_until_stopped, name=f"lease-{program}-{period}")
    thread.daemon = True
    thread.start()
    try:
        yield lease
    finally:
        stop.set()
        thread.join(timeout=60)
        try:
            lease.release()
        except Exception:  # the block's own error matters more; the lease goes stale in time
            log.exception("could not release the lease on %s %s", program, period)
        else:
            log.info("lease on cycle %s %s released by %s", program, period, lease.holder)
