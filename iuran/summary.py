"""The cycle's answer: one JSON-able dict for the CLI, the flow's return value and the artifacts.

Counts only, never a NIK: this is what goes to logs and to the Prefect UI. `undelivered` lists the
month's messages not delivered yet (`iuran.mail.outbox.undelivered`: event, recipient role, state,
next attempt), read from the outbox when the answer is given, also by an unchanged rerun.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from iuran.cycle import Recorded
from iuran.db.models import RosterFileStatus
from iuran.desa import COUNTS, village_counts
from iuran.periods import Period
from iuran.programs import Program
from iuran.reconcile import Reconciled
from iuran.rosters.columns import Collected
from iuran.rosters.validate import Validated


def all_rejections(checked: Validated, decided: Reconciled) -> pd.DataFrame:
    return pd.concat([checked.rejected, decided.rejected], ignore_index=True)


def village_table(
    collected: Collected, rejected: pd.DataFrame, decided: Reconciled
) -> pd.DataFrame:
    """Received / accepted / rejected per village (`desa.village_counts`): what the artifacts show."""
    counts = village_counts(collected.rows, rejected, decided.billed)
    return counts[["kode_desa", *COUNTS]]


def summarize(
    program: Program,
    period: Period,
    collected: Collected,
    checked: Validated,
    decided: Reconciled,
    recorded: Recorded,
    sent: int,
    undelivered: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    rejected = all_rejections(checked, decided)
    villages = village_table(collected, rejected, decided)
    files = collected.files
    received = len(collected.rows)
    return {
        "program": program.code,
        "period": str(period),
        "status": recorded.status,
        "dry_run": recorded.dry_run,
        "rows": {
            "received": received,
            "accepted": received - len(rejected),
            "rejected": len(rejected),
        },
        "files": {
            "read": int((files["status"] == RosterFileStatus.READ).sum()) if len(files) else 0,
            "rejected": int((files["status"] == RosterFileStatus.REJECTED).sum())
            if len(files)
            else 0,
            "rejected_files": [
                {"path": r.path, "code": r.code, "message": r.message}
                for r in files.loc[files["status"] == RosterFileStatus.REJECTED].itertuples()
            ]
            if len(files)
            else [],
        },
        "participants": {k: v for k, v in decided.counts().items()},
        "total_due": recorded.total_due,
        "invoices": [
            {
                "id": o.invoice_id,  # the counter's links (`iuran.web.links.invoice`)
                "number": o.number,
                "payer": o.payer_key,
                "total": o.total,
                "participants": o.participants,
                "due_date": o.due_date,
                "pdf": o.pdf,
                "revision": o.revision,
                "kind": o.kind,
                "status": o.action,
            }
            for o in recorded.invoices
        ],
        "budget": recorded.budget.as_dict(),
        "rejections": {
            str(k): int(v) for k, v in rejected["code"].value_counts().sort_index().items()
        },
        "villages": {
            "received": int((villages["received"] > 0).sum()),
            "accepted": int((villages["accepted"] > 0).sum()),
            "rejected": int((villages["rejected"] > 0).sum()),
        },
        "notifications": {"queued": recorded.queued, "sent": sent},
        "undelivered": undelivered or [],
        "bpjs_status": (
            {str(k): int(v) for k, v in decided.status_list["bpjs_status"].value_counts().items()}
            if decided.status_list is not None
            else {}
        ),
        "conflicts": recorded.conflicts,
        "notes": [*decided.notes, *recorded.notes],
    }
