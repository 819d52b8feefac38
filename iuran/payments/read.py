"""Reading payment files: an SP2D list from BKAD or a receipt list from the BPJS branch, CSV or XLSX.

A file has `nomor_sp2d`, `tanggal_sp2d` (receipts: `tanggal_terima`), `jumlah` and optionally
`nomor_tagihan` (one number, or several separated by `,` or `;`), `keterangan`, `payer` /
`kode_desa` and `program`; common header spellings are recognised (`No. SP2D`, `Tgl SP2D`,
`Nilai (Rp)`, ...), and so are the layouts BKAD's systems write as they are:

- SIPD RI's SP2D export: `nomor_sp_2_d`, `tanggal_sp_2_d`, `nilai_sp_2_d`, `keterangan_sp_2_d`
  (the invoice number is written in the description) and many more columns, ignored;
- SIPD's register: `Nomor SP2D`, `Tanggal SP2D`, `Keterangan SP2D`, `Nilai SP2D`, ... with
  `Tanggal SP2D` written twice: the first counts (`iuran.intake.header`);
- SIMDA Keuangan's: `Tahun`, `No_SP2D`, `Tgl_SP2D`, `No_SPM`, `Keterangan`, `Nilai`.

The file is read like every file people send (`iuran.intake`: types, encodings,
separators, the XLSX check before calamine, cells as text); one that cannot be used as a whole raises
`FileRefused` with its `BERKAS_*` code.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd

from iuran.intake.header import Columns
from iuran.intake.read import SUPPORTED, read_file, read_table, table_frame
from iuran.intake.refusal import FileRefused, Limits
from iuran.payments.rules import LABELS, PAYMENT, RECEIPT

#: 5 MB, the header among the first 10 rows; 10,000 rows, 200 columns as every reader
LIMITS = Limits(max_bytes=5 * 1024 * 1024, header_rows=10)

#: canonical column -> header spellings (as `iuran.intake.header.normalize_header` gives them:
#: `No. SP2D` -> `no sp2d`).
_COMMON: dict[str, list[str]] = {
    "nomor_sp2d": ["nomor sp2d", "no sp2d", "nomor sp 2d", "no sp 2d", "sp2d", "nomor sp2d bkad",
                   "nomor sp 2 d"],
    "jumlah": ["jumlah", "nilai", "nominal", "jumlah bayar", "jumlah pembayaran", "nilai sp2d",
               "jumlah sp2d", "jumlah rp", "jumlah diterima", "nilai diterima", "jumlah uang",
               "nilai sp 2 d"],
    "keterangan": ["keterangan", "ket", "uraian", "catatan", "keterangan sp2d", "keterangan sp 2 d"],
    "program": ["program", "kode program"],
}  # fmt: skip


_BY_KIND: dict[str, dict[str, list[str]]] = {
    PAYMENT: {
        "tanggal_sp2d": ["tanggal sp2d", "tgl sp2d", "tanggal", "tgl", "tanggal bayar",
                         "tanggal sp 2 d"],
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


def _synonyms(kind: str) -> dict[str, str]:
    table = {**_COMMON, **_BY_KIND[kind]}
    return {spelling: column for column, spellings in table.items() for spelling in spellings}


#: What each kind of file's header must and may name.
COLUMNS = {
    kind: Columns(_synonyms(kind), REQUIRED[kind], LABELS, min_matches=len(REQUIRED[kind]))
    for kind in (PAYMENT, RECEIPT)
}


def read_payment_table(path: str | Path, kind: str = PAYMENT) -> tuple[pd.DataFrame, str]:
    """A payment (`kind="pembayaran"`) or receipt (`"penerimaan"`) file -> (rows, sha256).

    Rows: the canonical columns found (string dtype, `<NA>` when empty) and `source_row`, the row
    number the operator sees in the spreadsheet. Raises FileRefused when the file is unusable.
    """
    p = Path(path)
    raw = read_file(p, LIMITS)
    sha = hashlib.sha256(raw).hexdigest()
    frame = table_frame(read_table(raw, p.suffix.lower(), COLUMNS[kind], LIMITS))
    if not len(frame):
        raise FileRefused("BERKAS_KOSONG")
    return frame, sha


def inbox_files(folder: Path) -> list[Path]:
    """CSV/XLSX files under `folder` (not hidden, no Office lock files), sorted; [] if absent."""
    if not folder.is_dir():
        return []
    return sorted(
        p
        for p in folder.rglob("*")
        if p.is_file()
        and p.suffix.lower() in SUPPORTED
        and not any(part.startswith((".", "~")) for part in p.relative_to(folder).parts)
    )
