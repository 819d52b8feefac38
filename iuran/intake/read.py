"""One spreadsheet or CSV file -> one table of text, or a refusal (`FileRefused`) saying why.

The way in for every reader of files people send (rosters, SP2D and receipt files, BPJS's status
list): `check_file` before any byte is read (type by name, size), `read_file` for a local file,
`read_table` for its bytes (the type recognised from the bytes themselves: a workbook renamed to
`.csv` is read as a workbook; an old Excel `.xls` is read as one, measured first like an `.xlsx`;
a web page's table as one (OpenSID's printable `.xls` list, `iuran.intake.html`); a password-protected
workbook or a PDF is refused by name), `table_frame` for a reader that wants a frame of the columns
it found.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from iuran.intake.cells import Table, clean
from iuran.intake.delimited import read_csv
from iuran.intake.header import Columns
from iuran.intake.html import is_html, read_html
from iuran.intake.refusal import FileRefused, Limits
from iuran.intake.workbook import read_xls, read_xlsx
from iuran.intake.xls import OLE

#: .xlsm: a workbook with macros (OpenSID's template); .xls: Excel 97-2003 (Dukcapil's SIAK), or a
#: web page named so (OpenSID's printable list, `iuran.intake.html`)
SUPPORTED = (".csv", ".xlsx", ".xlsm", ".xls")


def check_file(suffix: str, size: int, limits: Limits) -> None:
    """Refuse a file by its name's suffix (lower case) and its size, before reading it."""
    if suffix not in SUPPORTED:
        raise FileRefused("BERKAS_JENIS", jenis=suffix or "tanpa ekstensi")
    if size > limits.max_bytes:
        raise limits.too_large(size)


def read_file(path: Path, limits: Limits) -> bytes:
    """A local file's bytes, never more than `limits.max_bytes` read. Raises FileRefused."""
    check_file(path.suffix.lower(), path.stat().st_size, limits)
    with path.open("rb") as f:
        raw = f.read(limits.max_bytes + 1)  # never more: the file may have grown since measured
    if len(raw) > limits.max_bytes:
        raise limits.too_large(max(len(raw), path.stat().st_size))
    return raw


def read_table(raw: bytes, suffix: str, columns: Columns, limits: Limits) -> Table:
    """A file's bytes -> its data rows under the header. Raises FileRefused."""
    if not raw.strip():
        raise FileRefused("BERKAS_KOSONG")
    if raw.startswith(b"PK\x03\x04"):
        return read_xlsx(raw, columns, limits)  # also a workbook renamed to .csv
    if raw.startswith(OLE):
        return read_xls(raw, columns, limits)  # also an .xls renamed to .xlsx or .csv
    if raw.startswith(b"%PDF"):
        raise FileRefused("BERKAS_JENIS", jenis="PDF")
    if is_html(raw):
        return read_html(raw, columns, limits)  # OpenSID's printable list, `Penduduk_<date>.xls`
    if suffix in (".xlsx", ".xlsm"):
        raise FileRefused("BERKAS_RUSAK", jenis="Excel .xlsx")
    return read_csv(raw, columns, limits)


def table_frame(table: Table) -> pd.DataFrame:
    """The columns found, cleaned (`string` dtype, <NA> when empty), and `source_row`, the row
    number the operator sees; rows with nothing in any column dropped."""
    data = {c: pd.array(clean(a).to_pylist(), dtype="string") for c, a in table.columns.items()}
    frame = pd.DataFrame(data, index=pd.RangeIndex(len(table.rows)))
    frame["source_row"] = pd.array(np.asarray(table.rows, dtype=np.int64), dtype="int64")
    filled = frame[list(table.columns)].notna().any(axis=1)
    return frame.loc[filled].reset_index(drop=True)
