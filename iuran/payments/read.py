"""Reading payment files: an SP2D list from BKAD or a receipt list from the BPJS branch, CSV or XLSX.

A file has `nomor_sp2d`, `tanggal_sp2d` (receipts: `tanggal_terima`), `jumlah` and optionally
`nomor_tagihan` (one number, or several separated by `,` or `;`), `keterangan`, `payer` /
`kode_desa` and `program`; common header spellings are recognised (`No. SP2D`, `Tgl SP2D`,
`Nilai (Rp)`, ...). A file that cannot be used as a whole raises `PaymentFileError`.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import zipfile
from pathlib import Path
from typing import Any

import pandas as pd
from python_calamine import CalamineWorkbook

from iuran.payments.rules import LABELS, PAYMENT, RECEIPT, message
from iuran.rosters.read import normalize_header

MAX_BYTES = 5 * 1024 * 1024


MAX_ROWS = 10_000


HEADER_SCAN_ROWS = 10


#: canonical column -> header spellings (normalised by `normalize_header`: `No. SP2D` -> `no sp2d`).
_COMMON: dict[str, list[str]] = {
    "nomor_sp2d": ["nomor sp2d", "no sp2d", "nomor sp 2d", "no sp 2d", "sp2d", "nomor sp2d bkad"],
    "jumlah": ["jumlah", "nilai", "nominal", "jumlah bayar", "jumlah pembayaran", "nilai sp2d",
               "jumlah sp2d", "jumlah rp", "jumlah diterima", "nilai diterima", "jumlah uang"],
    "keterangan": ["keterangan", "ket", "uraian", "catatan"],
    "program": ["program", "kode program"],
}  # fmt: skip


_BY_KIND: dict[str, dict[str, list[str]]] = {
    PAYMENT: {
        "tanggal_sp2d": ["tanggal sp2d", "tgl sp2d", "tanggal", "tgl", "tanggal bayar"],
        "nomor_tagihan": ["nomor tagihan", "no tagihan", "tagihan", "nomor invoice", "no invoice",
                          "nomor tagihan dibayar", "no tagihan dibayar"],
        "payer": ["payer", "pembayar", "kode pembayar", "kode desa", "kode wilayah", "kode desa pembayar"],
    },
    RECEIPT: {
        "tanggal_terima": ["tanggal terima", "tgl terima", "tanggal diterima", "tanggal penerimaan",
                           "tgl diterima", "tanggal", "tgl"],
    },
}  # fmt: skip


REQUIRED = {
    PAYMENT: ("nomor_sp2d", "tanggal_sp2d", "jumlah"),
    RECEIPT: ("nomor_sp2d", "tanggal_terima", "jumlah"),
}


class PaymentFileError(ValueError):
    """A payment or receipt file that cannot be used as a whole; `message` is for the operator."""

    def __init__(self, code: str, **values: object) -> None:
        self.code = code
        self.message = message(code, **values)
        super().__init__(self.message)


def _synonyms(kind: str) -> dict[str, str]:
    table = {**_COMMON, **_BY_KIND[kind]}
    return {spelling: column for column, spellings in table.items() for spelling in spellings}


def _cell(value: Any) -> str | None:
    """One spreadsheet cell as text; whole-number floats lose their `.0`, dates become ISO."""
    if value is None:
        return None
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        if value != value:
            return None
        return str(int(value)) if value.is_integer() and abs(value) < 2**53 else repr(value)
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    text_value = " ".join(str(value).replace("\u00a0", " ").split())
    return text_value or None


def _grid_xlsx(raw: bytes) -> list[list[Any]]:
    try:
        book = CalamineWorkbook.from_filelike(io.BytesIO(raw))
        sheets = [
            m.name
            for m in book.sheets_metadata
            if str(m.visible).endswith("Visible") and str(m.typ).endswith("WorkSheet")
        ] or list(book.sheet_names)
        grid: list[list[Any]] = book.get_sheet_by_name(sheets[0]).to_python(skip_empty_area=False)
    except (zipfile.BadZipFile, IndexError) as exc:
        raise PaymentFileError("BERKAS_RUSAK", jenis="Excel .xlsx") from exc
    except Exception as exc:  # calamine reports damage with several exception types
        raise PaymentFileError("BERKAS_RUSAK", jenis="Excel .xlsx") from exc
    return grid


def _grid_csv(raw: bytes) -> list[list[Any]]:
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
        content = raw.decode("utf-16", errors="replace")
    else:
        try:
            content = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            content = raw.decode("cp1252", errors="replace")
    if "\x00" in content[:4096]:
        raise PaymentFileError("BERKAS_RUSAK", jenis="CSV")
    head = content.splitlines()[:HEADER_SCAN_ROWS]
    names = {**_synonyms(PAYMENT), **_synonyms(RECEIPT)}
    best, sep = -1, ","
    for candidate in (";", ",", "\t", "|"):
        score = max(
            (
                sum(
                    normalize_header(c) in names
                    for c in next(csv.reader([line], delimiter=candidate))
                )
                for line in head
                if line
            ),
            default=0,
        )
        if score > best:
            best, sep = score, candidate
    return [list(r) for r in csv.reader(io.StringIO(content), delimiter=sep)]


def read_payment_table(path: str | Path, kind: str = PAYMENT) -> tuple[pd.DataFrame, str]:
    """A payment (`kind="pembayaran"`) or receipt (`"penerimaan"`) file -> (rows, sha256).

    Rows: the canonical columns found (string dtype, `<NA>` when empty) and `source_row`, the row
    number the operator sees in the spreadsheet. Raises PaymentFileError when the file is unusable.
    """
    p = Path(path)
    if p.suffix.lower() not in (".csv", ".xlsx"):
        raise PaymentFileError("BERKAS_JENIS", jenis=p.suffix or "tanpa ekstensi")
    size = p.stat().st_size
    if size > MAX_BYTES:
        raise PaymentFileError(
            "BERKAS_TERLALU_BESAR",
            ukuran=f"{size / 2**20:.1f} MB",
            batas=f"{MAX_BYTES // 2**20} MB",
        )
    raw = p.read_bytes()
    sha = hashlib.sha256(raw).hexdigest()
    if not raw.strip():
        raise PaymentFileError("BERKAS_KOSONG")
    grid = _grid_xlsx(raw) if raw.startswith(b"PK\x03\x04") else _grid_csv(raw)
    if len(grid) > MAX_ROWS + HEADER_SCAN_ROWS:
        raise PaymentFileError(
            "BERKAS_TERLALU_BESAR", ukuran=f"{len(grid)} baris", batas=f"{MAX_ROWS} baris"
        )
    synonyms = _synonyms(kind)
    required = REQUIRED[kind]
    best: set[str] = set()
    h, names = 0, []
    for h, cells in enumerate(grid[:HEADER_SCAN_ROWS]):  # noqa: B007 (h is the header row after)
        names = [synonyms.get(normalize_header(c)) for c in cells]
        found = {n for n in names if n}
        best = found if len(found) > len(best) else best
        if all(r in found for r in required):
            break
    else:
        missing = [LABELS[r] for r in required if r not in best]
        raise PaymentFileError(
            "BERKAS_TANPA_HEADER", baris=HEADER_SCAN_ROWS, kolom=", ".join(missing)
        )
    columns: dict[str, int] = {}
    for i, n in enumerate(names):
        if n and n not in columns:  # a column named twice: the first one counts
            columns[n] = i
    data = grid[h + 1 :]
    frame = pd.DataFrame(
        {
            c: pd.array([_cell(r[i]) if i < len(r) else None for r in data], dtype="string")
            for c, i in columns.items()
        }
    )
    frame["source_row"] = pd.array(range(h + 2, h + 2 + len(data)), dtype="int64")
    filled = frame[list(columns)].notna().any(axis=1)
    frame = frame.loc[filled].reset_index(drop=True)
    if not len(frame):
        raise PaymentFileError("BERKAS_KOSONG")
    return frame, sha


def inbox_files(folder: Path) -> list[Path]:
    """CSV/XLSX files under `folder` (not hidden, no Office lock files), sorted; [] if absent."""
    if not folder.is_dir():
        return []
    return sorted(
        p
        for p in folder.rglob("*")
        if p.is_file()
        and p.suffix.lower() in (".csv", ".xlsx")
        and not any(part.startswith((".", "~")) for part in p.relative_to(folder).parts)
    )
