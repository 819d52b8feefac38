"""Fault injection for the crash-consistency tests: die hard at a named point of the cycle.

`IURAN_FAULT_POINT=<name>` makes `point(name)` end the process with `os._exit(86)` the first time
that point is reached; `<name>:N` on the N-th time. Nothing is flushed, no `finally` runs, no
transaction is rolled back or committed: the process is gone as if it had been killed (SIGKILL);
what it already handed to the OS (files, committed transactions) stays. `IURAN_FAULT_TRACE=<file>`
appends the name of every point reached, one a line, so a test can check that each point lies on
the path of a normal run.

Unset (production), a point costs two environment lookups. Every name a caller passes must be listed
in `POINTS`: the crash suite (`tests/crash/`) kills the cycle at each of them and checks that a rerun
ends exactly where an uninterrupted run does.
"""

from __future__ import annotations

import os
from collections import Counter

EXIT_CODE = 86
ENV_POINT = "IURAN_FAULT_POINT"
ENV_TRACE = "IURAN_FAULT_TRACE"

#: Every fault point, in the order a cycle (then a payment import) reaches them.
POINTS: tuple[str, ...] = (
    # the steps before the bookkeeping transaction: nothing written yet
    "collect.done",
    "validate.done",
    "reconcile.done",
    "price.done",
    # record_cycle: one transaction, so a death anywhere in it must leave nothing
    "record.inputs_recorded",
    "record.participants_written",
    "record.memberships_written",
    "invoices.lines_written",  # the invoices and all their lines inserted, before the next flush
    "invoices.between_payers",  # after each payer's invoice is added, before the flush
    "record.mail_queued",
    "record.before_commit",
    # after the commit: reports, documents (one transaction marks them rendered), mail
    "reports.start",
    "reports.between_reports",
    "documents.between_files",  # an invoice's PDF in place, its XLSX not yet
    "documents.written",  # an invoice's files in place, not yet marked rendered
    "documents.marked",  # after each invoice
    "documents.before_commit",
    "mail.after_claim",  # the row claimed (`sending`), nothing sent
    "mail.outbox_written",  # the file outbox's temporary file written, not yet renamed to its key
    "mail.after_send",  # sent (the "lost 250"), not yet marked sent
    "mail.marked_sent",  # after each message
    # the month complete: its key and answer kept for the next rerun (one transaction)
    "rerun.before_commit",
    "rerun.remembered",  # kept: the next run answers from it without redoing the month
    # a payment import (one transaction), then settling
    "payments.file_registered",
    "payments.between_rows",
    "payments.allocated",
    "payments.before_commit",
    "payments.settle",  # the import committed, credit not yet applied
)

_reached: Counter[str] = Counter()


def point(name: str) -> None:
    """Die here (exit code 86) if IURAN_FAULT_POINT names this point; trace it if asked."""
    trace = os.environ.get(ENV_TRACE)
    if trace:
        with open(trace, "a", encoding="utf-8") as fh:
            fh.write(name + "\n")
    wanted = os.environ.get(ENV_POINT)
    if not wanted:
        return
    target, _, nth = wanted.partition(":")
    if target != name:
        return
    _reached[name] += 1
    if _reached[name] >= int(nth or 1):
        os._exit(EXIT_CODE)
