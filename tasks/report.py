"""What the operations team sees in the Prefect UI: keyed artifacts, counts and masked data only."""

from __future__ import annotations

from typing import Any

import pandas as pd
from prefect import task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from iuran.money import rupiah


def artifact_key(summary: dict[str, Any], what: str) -> str:
    return f"{summary['program']}-{summary['period']}-{what}".lower()


@task(name="publish-artifacts", cache_policy=NO_CACHE)
def publish(summary: dict[str, Any], villages: pd.DataFrame) -> None:
    b = summary["budget"]
    rows = summary["rows"]
    p = summary["participants"]
    create_markdown_artifact(
        key=artifact_key(summary, "ringkasan"),
        description=f"Ringkasan siklus {summary['program']} {summary['period']}",
        markdown="\n".join(
            [
                f"# Siklus {summary['program']} {summary['period']}: {summary['status']}",
                "",
                f"- Baris roster: {rows['received']} diterima, {rows['accepted']} lolos, {rows['rejected']} ditolak",
                f"- Peserta ditagih: {p['billed']} (baru {p['new']}, lanjutan {p['continuing']}, berhenti {p['ended']})",
                f"- Total tagihan periode ini: {rupiah(summary['total_due'])}",
                "",
                "## Anggaran (pagu)",
                "",
                "| pagu | ditagih s.d. periode ini | proyeksi setahun | kekurangan |",
                "| ---: | ---: | ---: | ---: |",
                f"| {rupiah(b['pagu'])} | {rupiah(b['billed_to_date'])} | {rupiah(b['projected_year'])} | {rupiah(b['shortfall'])} |",
            ]
        ),
    )
    create_table_artifact(
        key=artifact_key(summary, "tagihan"),
        table=[
            {
                k: inv[k]
                for k in (
                    "number",
                    "revision",
                    "status",
                    "payer",
                    "participants",
                    "total",
                    "due_date",
                    "pdf",
                )
            }
            for inv in summary["invoices"]
        ],
        description="Tagihan periode ini (dokumen PDF di kolom pdf)",
    )
    create_table_artifact(
        key=artifact_key(summary, "penolakan"),
        table=[{"kode": k, "jumlah": v} for k, v in summary["rejections"].items()]
        or [{"kode": "-", "jumlah": 0}],
        description="Baris roster yang ditolak, per alasan",
    )
    create_table_artifact(
        key=artifact_key(summary, "desa"),
        table=villages.to_dict("records"),
        description="Diterima / lolos / ditolak per desa",
    )
