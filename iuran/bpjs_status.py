"""BPJS's status list: who the branch reports as deceased, moved to wage employment, or inactive.

Optional file `INBOX/<program>/<YYYY-MM>/bpjs_status.csv|xlsx` with columns `nik`, `status`
(`aktif`, `nonaktif`, `meninggal`, `pindah_pu`) and a date (`tanggal`). A deceased participant is never
billed again, whatever a roster says: the status is kept in the registry, not only for this period.
"""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
from python_calamine import CalamineWorkbook

from iuran.nik import validate_niks

STATUSES = ("aktif", "nonaktif", "meninggal", "pindah_pu")
STATUS_COLUMNS = ["nik", "bpjs_status", "tanggal"]
_SYNONYMS = {"status": "bpjs_status", "status_kepesertaan": "bpjs_status", "keterangan": "bpjs_status",
             "tanggal": "tanggal", "tgl": "tanggal", "tanggal_status": "tanggal",
             "tanggal_meninggal": "tanggal", "no_ktp": "nik", "nik": "nik"}  # fmt: skip


def empty() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "nik": pd.Series(dtype="string"),
            "bpjs_status": pd.Series(dtype="string"),
            "tanggal": pd.Series(dtype="datetime64[ns]"),
        }
    )


def find_status_file(folder: Path) -> Path | None:
    for suffix in (".csv", ".xlsx"):
        path = folder / f"bpjs_status{suffix}"
        if path.exists():
            return path
    return None


def read_status_list(folder: Path) -> tuple[pd.DataFrame, list[str]]:
    """The valid rows of the status list, and a note for each row or file that could not be used."""
    path = find_status_file(folder)
    if path is None:
        return empty(), []
    try:
        raw = path.read_bytes()
        if path.suffix == ".xlsx":
            grid = CalamineWorkbook.from_filelike(io.BytesIO(raw)).get_sheet_by_index(0).to_python()
            df = pd.DataFrame(grid[1:], columns=[str(c) for c in grid[0]]).astype("string")
        else:
            text = raw.decode("utf-8-sig", errors="replace")
            sep = (
                ";"
                if text.split("\n", 1)[0].count(";") > text.split("\n", 1)[0].count(",")
                else ","
            )
            df = pd.read_csv(io.StringIO(text), dtype="string", sep=sep)
    except Exception as exc:  # a bad file is reported, never fatal
        return empty(), [f"{path.name}: berkas tidak dapat dibaca ({type(exc).__name__})"]
    df.columns = [c.strip().lower().replace(" ", "_").replace(".", "") for c in df.columns]
    df = df.rename(columns=_SYNONYMS)
    if not {"nik", "bpjs_status"} <= set(df.columns):
        return empty(), [f"{path.name}: kolom nik dan status wajib ada"]
    checked = validate_niks(df["nik"])
    status = df["bpjs_status"].str.strip().str.lower().str.replace(" ", "_")
    ok = checked["code"].isna() & status.isin(STATUSES)
    notes = (
        [f"{path.name}: {int((~ok).sum())} baris diabaikan (NIK atau status tidak sah)"]
        if (~ok).any()
        else []
    )
    tanggal = (
        pd.to_datetime(df["tanggal"], errors="coerce", dayfirst=True)
        if "tanggal" in df.columns
        else pd.Series(pd.NaT, index=df.index)
    )
    out = pd.DataFrame({"nik": checked["nik"], "bpjs_status": status, "tanggal": tanggal}).loc[
        ok.fillna(False).to_numpy()
    ]
    return out.drop_duplicates("nik", keep="last").reset_index(drop=True), notes
