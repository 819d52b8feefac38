"""BPJS's status list: who the branch reports as deceased, moved to wage employment, or inactive.

Optional file `INBOX/<program>/<YYYY-MM>/bpjs_status.csv|xlsx` with columns `nik`, `status`
(`aktif`, `nonaktif`, `meninggal`, `pindah_pu`) and the date it took effect (`tanggal`, also
`tanggal meninggal`, `tmt`). A deceased participant is not billed for any month after the one he died
in, whatever a roster says: the status and its date are kept in the registry, so a rerun of an earlier
month still bills him (the month of death is covered; `iuran.reconcile.in_force`). A row without a date
is in force from the month of the list it came in.

The file is read like any other (`iuran.intake`): CSV or XLSX, the header among the first rows, the
same guards as a roster (size, the XLSX check before calamine). A file that cannot be used gives a
note for the run, never an error: the month goes on without it.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from iuran.intake.header import Columns
from iuran.intake.read import read_file, read_table, table_frame
from iuran.intake.refusal import FileRefused, Limits
from iuran.nik import validate_niks

STATUSES = ("aktif", "nonaktif", "meninggal", "pindah_pu")
STATUS_COLUMNS = ["nik", "bpjs_status", "tanggal"]
#: Header spellings (as `normalize_header` gives them) -> column.
_SYNONYMS = {"status": "bpjs_status", "status kepesertaan": "bpjs_status", "keterangan": "bpjs_status",
             "bpjs status": "bpjs_status", "tanggal": "tanggal", "tgl": "tanggal",
             "tanggal status": "tanggal", "tanggal meninggal": "tanggal", "tgl meninggal": "tanggal",
             "tmt": "tanggal", "tmt status": "tanggal", "tanggal berlaku": "tanggal", "no ktp": "nik",
             "nik": "nik"}  # fmt: skip
COLUMNS = Columns(
    _SYNONYMS,
    ("nik", "bpjs_status"),
    {"nik": "NIK", "bpjs_status": "Status", "tanggal": "Tanggal"},
    min_matches=2,
    nik="nik",
)
#: A branch's list may be long but is narrow: the same cells a sheet may span as a roster's.
LIMITS = Limits(max_rows=50_000, max_columns=40)


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
        table = read_table(read_file(path, LIMITS), path.suffix.lower(), COLUMNS, LIMITS)
    except FileRefused as exc:
        return empty(), [f"{path.name}: {exc.message}"]
    except Exception as exc:  # a file that cannot be read is reported, never fatal
        return empty(), [f"{path.name}: berkas tidak dapat dibaca ({type(exc).__name__})"]
    df = table_frame(table)
    checked = validate_niks(df["nik"])
    status = df["bpjs_status"].str.strip().str.lower().str.replace(" ", "_")
    ok = checked["code"].isna() & status.isin(STATUSES)
    notes = (
        [f"{path.name}: {int((~ok).sum())} baris diabaikan (NIK atau status tidak sah)"]
        if (~ok).any()
        else []
    )
    tanggal = (
        pd.to_datetime(df["tanggal"], errors="coerce", dayfirst=True, format="mixed")
        if "tanggal" in df.columns
        else pd.Series(pd.NaT, index=df.index)
    )
    out = pd.DataFrame({"nik": checked["nik"], "bpjs_status": status, "tanggal": tanggal}).loc[
        ok.fillna(False).to_numpy()
    ]
    return out.drop_duplicates("nik", keep="last").reset_index(drop=True), notes
