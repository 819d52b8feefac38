"""What the operations team sees in the Prefect UI: keyed artifacts, counts and masked data only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
from prefect import task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from iuran.money import rupiah
from iuran.status import undelivered_lines
from iuran.web import links


def undelivered_markdown(summary: dict[str, Any]) -> list[str]:
    """The month's messages not delivered yet (pending, being sent, failing), or that all went."""
    waiting = summary.get("undelivered") or []
    if not waiting:
        return ["", "## E-mail", "", "Semua e-mail bulan ini sudah terkirim."]
    return ["", f"## E-mail belum terkirim ({len(waiting)})", "", *undelivered_lines(waiting)]


def artifact_key(summary: dict[str, Any], what: str) -> str:
    """`lebak-2026-01-ringkasan`; a dry run's are `lebak-2026-01-pratinjau-ringkasan`, so a preview
    never stands in for the month's real figures on the Artifacts page."""
    preview = "pratinjau-" if summary.get("dry_run") else ""
    return f"{summary['program']}-{summary['period']}-{preview}{what}".lower()


def document_link(invoice: dict[str, Any], kind: str, loket_url: str = "") -> str:
    """Where an operator opens an invoice's PDF or XLSX (`kind`): its download at the counter
    (`IURAN_LOKET_URL`, BKAD's login), or BKAD's invoice page for a kept summary written before
    summaries held the invoice's id; without the counter (the demo), the file's `file://` address.
    The documents folder is never linked over HTTP: its detail sheets hold full NIKs."""
    if loket_url:
        ident = invoice.get("id")
        path = links.invoice(ident, kind) if ident is not None else links.invoices()
        return links.absolute(loket_url, path)
    return Path(invoice["pdf"]).with_suffix(f".{kind}").resolve().as_uri()


def documents_markdown(summary: dict[str, Any], loket_url: str = "") -> str:
    """The invoices of the period with links to their PDF and XLSX detail sheet."""
    program, period = summary["program"], summary["period"]
    lines = [
        f"# Dokumen tagihan {program} {period}",
        "",
        "| tagihan | revisi | status | pembayar | peserta | total | PDF | rincian (XLSX) |",
        "| --- | ---: | --- | --- | ---: | ---: | --- | --- |",
    ]
    for inv in summary["invoices"]:
        cells = (
            f"[PDF]({document_link(inv, 'pdf', loket_url)}) | "
            f"[XLSX]({document_link(inv, 'xlsx', loket_url)})"
            if inv.get("pdf")
            else "- | -"
        )
        lines.append(
            f"| {inv['number']} | {inv['revision']} | {inv['status']} | {inv['payer']} | "
            f"{inv['participants']} | {rupiah(inv['total'])} | {cells} |"
        )
    if not summary["invoices"]:
        lines.append("| - | | | | | | | |")
    return "\n".join(lines)


@task(name="publish-artifacts", cache_policy=NO_CACHE)
def publish(summary: dict[str, Any], villages: pd.DataFrame, loket_url: str = "") -> None:
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
                *undelivered_markdown(summary),
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
    create_markdown_artifact(
        key=artifact_key(summary, "dokumen"),
        markdown=documents_markdown(summary, loket_url),
        description="Tagihan periode ini dengan tautan ke PDF dan rincian XLSX",
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
