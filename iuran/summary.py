"""The cycle's answer: one JSON-able dict for the CLI, the flow's return value and the artifacts.

Counts only, never a NIK: this is what goes to logs and to the Prefect UI.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from iuran.cycle import Recorded
from iuran.db.models import RosterFileStatus
from iuran.periods import Period
from iuran.programs import Program
from iuran.reconcile import Reconciled
from iuran.rosters.read import Collected
from iuran.rosters.validate import Validated
from iuran.wilayah import normalize_kode_desa


def all_rejections(checked: Validated, decided: Reconciled) -> pd.DataFrame:
    return pd.concat([checked.rejected, decided.rejected], ignore_index=True)


def village_table(
    collected: Collected, rejected: pd.DataFrame, decided: Reconciled
) -> pd.DataFrame:
    """Received / accepted / rejected per village: the regency-wide data-quality table."""

    def count(codes: pd.Series, name: str) -> pd.Series:
        return (
            normalize_kode_desa(codes.astype("string"))
            .fillna("(tanpa kode desa)")
            .value_counts()
            .rename(name)
        )

    table = (
        pd.concat(
            [
                count(collected.rows["kode_desa"], "received")
                if len(collected.rows)
                else pd.Series(name="received", dtype="int64"),
                decided.billed.loc[~decided.billed["carried"], "kode_desa"]
                .value_counts()
                .rename("accepted"),
                count(rejected["kode_desa"], "rejected")
                if len(rejected)
                else pd.Series(name="rejected", dtype="int64"),
            ],
            axis=1,
        )
        .fillna(0)
        .astype("int64")
    )
    table.index.name = "kode_desa"
    return table.sort_index().reset_index()


def summarize(
    program: Program,
    period: Period,
    collected: Collected,
    checked: Validated,
    decided: Reconciled,
    recorded: Recorded,
    sent: int,
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
        "bpjs_status": (
            {str(k): int(v) for k, v in decided.status_list["bpjs_status"].value_counts().items()}
            if decided.status_list is not None
            else {}
        ),
        "conflicts": recorded.conflicts,
        "notes": [*decided.notes, *recorded.notes],
    }
