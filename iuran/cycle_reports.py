"""The cycle's reports, written after the records and before the mail that carries them.

Paths are fixed by (program, period), so the outbox can name an attachment in the same transaction that
records the cycle, before the file exists; the mail step waits for it (a missing attachment is retried).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow.compute as pc

from iuran import faults
from iuran.db.session import session_scope
from iuran.nik import sorted_joins, text_array
from iuran.periods import Period
from iuran.programs import Program
from iuran.reconcile import Reconciled
from iuran.reports import (
    build_program_report,
    data_quality_table,
    monthly_billed,
    write_data_quality_xlsx,
    write_mutation_list,
    write_program_report,
    write_rejection_reports,
)
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
    covered = villages(program.regency, desa_only=program.desa_only).set_index("kode_desa")[
        "nama_desa"
    ]

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
        table = data_quality_table(rows, rejected, decided.billed, village_names=covered)
        write_data_quality_xlsx(
            table, paths.data_quality, title=f"Kualitas data roster {program.name} — {period.label}"
        )
        mutations.result()
    faults.point("reports.between_reports")
    # The program report last, once every other file is complete: with it present, an unchanged
    # rerun keeps the reports as they are (the check at the top).
    with session_scope(database_url) as session:
        series = monthly_billed(session, program, period)
    report = build_program_report(program, period, budget, series, decided.billed, rejected, today)
    write_program_report(report, paths.program_report)
    return paths
