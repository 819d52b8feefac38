"""The cycle's reports, written after the records and before the mail that carries them.

Paths are fixed by (program, period), so the outbox can name an attachment in the same transaction that
records the cycle, before the file exists; the mail step waits for it (a missing attachment is retried).
The messages that carry them are composed here too and queued in that transaction
(`queue_report_mail`): the mutation list to BPJS, the roster rejections to Disnaker, each telling
the figures its attachments hold.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import pyarrow.compute as pc
from sqlalchemy.orm import Session

from iuran import faults
from iuran.claims import program_benefits
from iuran.db.models import RosterFileStatus
from iuran.db.session import session_scope
from iuran.desa import village_counts, village_of
from iuran.mail.outbox import queue
from iuran.mutation_list import ALASAN, write_mutation_list
from iuran.nik import mask_series, sorted_joins, text_array
from iuran.periods import Period
from iuran.program_report import build_program_report, monthly_billed, write_program_report
from iuran.programs import Program
from iuran.reconcile import CARRIED_SOURCE, Reconciled
from iuran.reports import data_quality_table, write_data_quality_xlsx, write_rejection_reports
from iuran.rosters.codes import CODES
from iuran.rosters.columns import LABELS
from iuran.wilayah import villages


@dataclass(frozen=True)
class ReportPaths:
    program_report: Path  # PDF for BKAD: budget chart, coverage, rejections
    mutation_list: Path  # XLSX for BPJS: additions and terminations (full NIKs)
    data_quality: Path  # XLSX for Disnaker: received / accepted / rejected per village
    village_reports: Path  # folder of `penolakan-<kode_desa>.xlsx`, one per village to correct
    village_reports_zip: Path  # the same, zipped for one attachment

    @classmethod
    def of(cls, program: Program, period: Period, out_dir: Path) -> ReportPaths:
        stem = f"{program.code}-{period}"
        return cls(
            program_report=out_dir / f"laporan-{stem}.pdf",
            mutation_list=out_dir / f"mutasi-{stem}.xlsx",
            data_quality=out_dir / f"kualitas-data-{stem}.xlsx",
            village_reports=out_dir / "penolakan",
            village_reports_zip=out_dir / f"penolakan-{stem}.zip",
        )


def fingerprint(frame: pd.DataFrame, columns: list[str]) -> str:
    """Order-independent hash of some columns: the same content gives the same outbox key."""
    if not len(frame):
        return "kosong"
    fields = frame.reindex(columns=columns).astype("string").fillna("")
    # joined column-wise in Arrow: a row-wise join costs ~100 µs a row
    text = pc.binary_join_element_wise(*(text_array(fields[c]) for c in columns), "|")
    return hashlib.sha256(sorted_joins(text)[""]).hexdigest()[:16]


def program_villages(program: Program) -> pd.Series:
    """kode_desa -> nama_desa of the villages the program covers: the rows of the data-quality
    table and of the Disnaker e-mail's villages."""
    return villages(program.regency, desa_only=program.desa_only).set_index("kode_desa")[
        "nama_desa"
    ]


def write_reports(
    database_url: str,
    program: Program,
    period: Period,
    rows: pd.DataFrame,
    files: pd.DataFrame,
    rejected: pd.DataFrame,
    decided: Reconciled,
    budget: dict[str, int],
    out_dir: Path,
    today: dt.date,
    unchanged: bool = False,
) -> ReportPaths:
    """Write the month's reports; an unchanged rerun keeps the ones already written."""
    paths = ReportPaths.of(program, period, out_dir)
    faults.point("reports.start")
    if unchanged and all(
        p.exists() for p in (paths.program_report, paths.mutation_list, paths.data_quality)
    ):
        return paths
    out_dir.mkdir(parents=True, exist_ok=True)
    everywhere = villages(program.regency).set_index("kode_desa")["nama_desa"]
    covered = program_villages(program)

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="mutasi") as pool:
        # The mutation list (tens of thousands of rows) is Arrow kernels and zlib, mostly outside
        # the GIL: it runs beside the village reports and the data-quality table. Shallow copies:
        # the frames are only read, but pandas caches columns on the object being read.
        mutations = pool.submit(
            write_mutation_list, decided.billed.copy(deep=False), decided.ended.copy(deep=False),
            decided.ended.copy(deep=False), program, period, paths.mutation_list,
            village_names=everywhere.copy(deep=False),
        )  # fmt: skip
        write_rejection_reports(
            rejected, files, everywhere, paths.village_reports, program=program, period=period,
            zip_path=paths.village_reports_zip,
        )  # fmt: skip
        faults.point("reports.between_reports")
        table = data_quality_table(
            rows, rejected, decided.billed, village_names=covered, regency=program.regency
        )
        write_data_quality_xlsx(
            table, paths.data_quality, title=f"Kualitas data roster {program.name} — {period.label}"
        )
        mutations.result()
    faults.point("reports.between_reports")
    # The program report last, once every other file is complete: with it present, an unchanged
    # rerun keeps the reports as they are (the check at the top).
    with session_scope(database_url) as session:
        series = monthly_billed(session, program, period)
        bought = program_benefits(session, program)
    report = build_program_report(
        program, period, budget, series, decided.billed, rejected, today, bought
    )
    write_program_report(report, paths.program_report)
    return paths


def queue_report_mail(
    session: Session,
    program: Program,
    period: Period,
    files: pd.DataFrame,
    rejected: pd.DataFrame,
    decided: Reconciled,
    paths: ReportPaths,
) -> int:
    """The mutation list to BPJS and the roster rejections to Disnaker, once per distinct content."""
    base = {
        "program_name": program.name,
        "regency_name": program.regency_name,
        "period_label": period.label,
    }
    queued = 0
    billed = decided.billed
    additions = int((billed["category"] == "baru").sum())
    if additions or len(decided.ended):
        key = fingerprint(billed.loc[billed["category"] == "baru"], ["nik"]) + fingerprint(
            decided.ended, ["nik", "reason"]
        )
        reasons = decided.ended["reason"].value_counts()
        queued += _queue(
            session,
            program,
            period,
            "mutation_list",
            key,
            "bpjs",
            base
            | {
                "additions": additions,
                "terminations": len(decided.ended),
                "active": len(billed),
                "bpjs_office": program.payee.name,
                "terminations_by_reason": [
                    {"reason": str(r), "label": ALASAN.get(str(r), str(r)), "count": int(n)}
                    for r, n in reasons.items()
                ],
            },
            [paths.mutation_list],
        )
    refused = files.loc[files["status"] == RosterFileStatus.REJECTED] if len(files) else files
    if len(rejected) or len(refused):  # a month where only whole files were refused is news too
        received = int(files["rows"].fillna(0).sum()) if len(files) else 0
        counts = rejected["code"].value_counts()
        queued += _queue(
            session,
            program,
            period,
            "cycle_rejections",
            fingerprint(rejected, ["source_file", "source_row", "code"])
            if len(rejected)
            else "berkas-" + fingerprint(refused, ["path", "sha256", "code"]),
            "disnaker",
            base
            | {
                "rows_received": received,
                "rows_accepted": received - len(rejected),
                "rows_rejected": len(rejected),
                "by_reason": [
                    {"code": str(c), "message": CODES.get(str(c), str(c)), "count": int(n)}
                    for c, n in counts.items()
                ],
                "by_village": rejections_by_village(program, rejected, billed),
                "files_rejected": [
                    {"path": f.path, "code": f.code, "message": f.message}
                    for f in refused.itertuples()
                ],
            },
            [paths.data_quality, paths.village_reports_zip],
        )
    return queued


def _queue(
    session: Session,
    program: Program,
    period: Period,
    template: str,
    content: str,
    recipient: Literal["bpjs", "disnaker"],
    context: dict[str, Any],
    attachments: list[Path],
) -> int:
    """One report message to the program's `recipient`, keyed by what it says (`content`, a
    fingerprint): 1 if queued, 0 if this very message is in the outbox already."""
    return int(
        queue(
            session,
            key=f"{template}:{program.code}:{period}:{content}:{recipient}",
            event=template,
            program=program.code,
            period=str(period),
            to=list(getattr(program.recipients, recipient)),
            template=template,
            context=context,
            attachments=[str(a) for a in attachments],
        )
    )


def rejections_by_village(
    program: Program, rejected: pd.DataFrame, billed: pd.DataFrame, limit: int = 50
) -> list[dict[str, object]]:
    """The villages with rejected rows, most first: received / accepted / rejected as the
    data-quality table counts them.

    The mail is queued where the month is recorded, which is not handed the roster rows: every one
    of them was either billed or rejected, exactly once (`reconcile`), so they are the billed rows
    not carried forward plus the rejected ones, each placed by its code and file as the table does.
    """
    own = billed.loc[~billed["carried"].astype(bool)] if "carried" in billed else billed
    theirs = rejected.loc[rejected["source_file"].astype("string").ne(CARRIED_SOURCE).fillna(True)]
    rows = pd.concat(
        [own.reindex(columns=["kode_desa", "source_file"]), theirs[["kode_desa", "source_file"]]],
        ignore_index=True,
    )
    table = village_counts(rows, rejected, billed, names=program_villages(program))
    table = table.loc[table["rejected"] > 0].sort_values("rejected", ascending=False, kind="stable")
    return [
        {
            "kode_desa": str(v.kode_desa),
            "nama": str(v.nama_desa),
            "received": int(v.received),
            "accepted": int(v.accepted),
            "rejected": int(v.rejected),
        }
        for v in table.head(limit).itertuples()
    ]


def village_corrections(
    program: Program,
    rejected: pd.DataFrame,
    files: pd.DataFrame,
    paths: ReportPaths,
    limit: int = 50,
) -> dict[str, dict[str, Any]]:
    """Per village with something to correct: what its own invoice mail tells it.

    `{kode_desa: {rows, count, files, attachment}}`: its first `limit` rejected rows (file, row
    number as the operator sees it, column, masked NIK, code, Indonesian reason), how many there
    are, its refused files, and its correction list (`penolakan-<kode_desa>.xlsx`, written by
    `write_reports` after the mail is queued). Rows and files are placed in villages as that list
    places them (`iuran.desa.village_of`), so the mail and its attachment tell the same rows.
    """
    # every village of the regency, as `write_reports` places rows for the correction lists: a
    # row naming a kelurahan is that kelurahan's, never attached to the desa whose file held it
    known = pd.Index(villages(program.regency)["kode_desa"].astype("string"))
    r = rejected.reset_index(drop=True)
    bad = files.loc[files["status"].eq(RosterFileStatus.REJECTED)] if len(files) else files
    bad = bad.reindex(columns=["path", "code", "message"]).reset_index(drop=True)
    if not len(r) and not len(bad):
        return {}
    row_desa = village_of(
        r.reindex(columns=["kode_desa"])["kode_desa"].astype("string"),
        r.reindex(columns=["source_file"])["source_file"].astype("string"),
        known,
    )
    file_desa = village_of(pd.Series(pd.NA, index=bad.index, dtype="string"), bad["path"], known)
    row = pd.to_numeric(r.reindex(columns=["source_row"])["source_row"], errors="coerce")
    source = r.reindex(columns=["source_file"])["source_file"].astype("string").fillna("")
    table = pd.DataFrame(
        {
            "desa": row_desa,
            "file": source.where(source != CARRIED_SOURCE, "(dibawa dari bulan sebelumnya)"),
            "row": row.where(row > 0).astype("Int64").astype("string").fillna("-"),
            "column": r.reindex(columns=["column"])["column"]
            .astype("string")
            .map(lambda c: LABELS.get(c, c))
            .fillna("-"),
            "nik": mask_series(r.reindex(columns=["nik"])["nik"]),
            "code": r["code"].astype("string") if len(r) else pd.Series(dtype="string"),
            "message": r["message"].astype("string") if len(r) else pd.Series(dtype="string"),
        }
    ).dropna(subset=["desa"])
    counts = table["desa"].value_counts()
    shown = table.groupby("desa", sort=False).head(limit)
    out: dict[str, dict[str, Any]] = {
        str(k): {
            "rows": [],
            "count": 0,
            "files": [],
            "attachment": str(paths.village_reports / f"penolakan-{k}.xlsx"),
        }
        for k in sorted(set(table["desa"]) | set(file_desa.dropna()))
    }
    for rec in shown.to_dict("records"):  # at most `limit` a village
        out[str(rec.pop("desa"))]["rows"].append(rec)
    for k, n in counts.items():
        out[str(k)]["count"] = int(n)
    for f, k in zip(bad.itertuples(), file_desa.tolist(), strict=True):
        if k is not pd.NA:
            out[str(k)]["files"].append({"path": f.path, "code": f.code, "message": f.message})
    return out
