"""The mutation list for BPJS (XLSX): who joins and who leaves the program this month.

FULL NIKs, as text cells: BPJS registers and deactivates participants by NIK. Every other text is
formula-neutralised (`iuran.xlsx`). Written atomically, and left alone by a rerun that would write
the same bytes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from iuran import xlsx
from iuran.files import replace_if_changed
from iuran.periods import Period
from iuran.programs import Program
from iuran.wilayah import villages as regency_villages

#: Why a membership ended (`Reconciled.ended.reason`), as BPJS reads it in the mutation list.
ALASAN = {
    "tidak_di_roster": "Tidak lagi tercantum di roster desa",
    "meninggal": "Meninggal dunia",
    "pindah_pu": "Pindah menjadi peserta Penerima Upah",
    # a carried-forward worker who fails a rule this month ends with that rule's code, lower case
    "usia_di_atas_batas": "Melewati batas usia program",
    "usia_di_bawah_batas": "Di bawah batas usia program",
    "nik_program_lain": "Dibiayai program lain",
    "kuota_desa_penuh": "Batas peserta per desa penuh",
    "kuota_program_penuh": "Jumlah peserta program penuh",
}
_DATE_FORMAT = xlsx.DMY_DATE

ADDITION_COLUMNS = (
    "nik", "nama", "tanggal_lahir", "jenis_kelamin", "kode_desa", "nama_desa", "pekerjaan",
    "tanggal_mulai",
)  # fmt: skip
TERMINATION_COLUMNS = (
    "nik", "nama", "tanggal_lahir", "jenis_kelamin", "kode_desa", "nama_desa", "kode_alasan",
    "alasan", "tanggal_berakhir",
)  # fmt: skip
_TEXT_CODES = ("nik", "kode_desa")
_DATES = ("tanggal_lahir", "tanggal_mulai", "tanggal_berakhir")


def mutation_frames(
    billed: pd.DataFrame,
    ended: pd.DataFrame,
    people: pd.DataFrame,
    village_names: pd.Series,
    period: Period,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(additions, terminations) as the mutation list's two sheets hold them (also for e-mail counts).

    Additions are this period's billed workers of category `baru`, covered from the first day of the
    period; terminations are last period's workers not billed now, covered until its last day.
    """
    start = period.first_day
    end = start - dt.timedelta(days=1)
    names = pd.Series(village_names.astype("string").to_numpy(), index=village_names.index)

    new = billed.loc[billed["category"].eq("baru")].reindex(columns=list(ADDITION_COLUMNS)).copy()
    new["nama_desa"] = new["kode_desa"].map(names).astype("string").fillna("")
    new["tanggal_mulai"] = start
    new = new.sort_values(["kode_desa", "nama", "nik"], kind="stable").reset_index(drop=True)

    who = people.drop_duplicates("nik").set_index("nik")
    gone = ended.reindex(columns=["nik", "kode_desa", "reason"]).copy()
    for c in ("nama", "tanggal_lahir", "jenis_kelamin"):
        # reindex, not map: mapping an empty column onto datetimes fails in pandas
        gone[c] = who[c].reindex(gone["nik"]).to_numpy() if c in who.columns else pd.NA
    gone["nama_desa"] = gone["kode_desa"].map(names).astype("string").fillna("")
    gone["kode_alasan"] = gone["reason"].astype("string")
    gone["alasan"] = gone["kode_alasan"].map(ALASAN).fillna(gone["kode_alasan"])
    gone["tanggal_berakhir"] = end
    gone = gone.reindex(columns=list(TERMINATION_COLUMNS))
    gone = gone.sort_values(["kode_desa", "nama", "nik"], kind="stable").reset_index(drop=True)
    return new, gone


def _data_sheet(
    book: xlsx.Workbook, name: str, frame: pd.DataFrame, columns: Sequence[str]
) -> None:
    widths = {"nik": 19, "nama": 28, "nama_desa": 20, "kode_desa": 14, "alasan": 36}
    ws = book.sheet(name, widths=[widths.get(c, 13) for c in columns], freeze="A2")
    ws.row(columns, font="bold")
    ws.table(
        [
            xlsx.Column(frame[c], "code")
            if c in _TEXT_CODES
            else xlsx.Column(frame[c], "date", _DATE_FORMAT)
            if c in _DATES
            else xlsx.Column(frame[c], "text")
            for c in columns
        ]
    )


def write_mutation_list(
    billed: pd.DataFrame,
    ended: pd.DataFrame,
    people: pd.DataFrame,
    program: Program,
    period: Period,
    path: Path,
    *,
    village_names: pd.Series | None = None,
) -> Path:
    """The month's roster changes for BPJS: sheet "Penambahan" (new participants) and sheet
    "Pengurangan" (ended), FULL NIKs as text cells, every other text formula-neutralised.

    `billed`: `Reconciled.billed`; `ended`: `Reconciled.ended` (nik, kode_desa, reason); `people`:
    nik, nama, tanggal_lahir, jenis_kelamin for the ended NIKs (`Registry.previous` holds them).
    Village names default to the program regency's official list.
    """
    if village_names is None:
        v = regency_villages(program.regency)
        village_names = pd.Series(v["nama_desa"].to_numpy(), index=v["kode_desa"])
    new, gone = mutation_frames(billed, ended, people, village_names, period)

    book = xlsx.Workbook()
    _data_sheet(book, "Penambahan", new, ADDITION_COLUMNS)
    _data_sheet(book, "Pengurangan", gone, TERMINATION_COLUMNS)
    replace_if_changed(path, book.to_bytes())
    return path
