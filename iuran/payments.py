"""Payments: SP2D files from BKAD matched to invoices, BPJS receipts matched to SP2Ds.

The rules, all in one place:

- **Reading.** A payment file (CSV or XLSX) has `nomor_sp2d`, `tanggal_sp2d`, `jumlah` and optionally
  `nomor_tagihan` (one number, or several separated by `,` or `;`: one SP2D paying several invoices),
  `keterangan`, `payer` / `kode_desa` (who paid: a village code, or `kabupaten`) and `program`. A BPJS
  receipt file has `nomor_sp2d`, `tanggal_terima`, `jumlah`. Common header spellings are recognised
  (`No. SP2D`, `Tgl SP2D`, `Nilai (Rp)`, ...). Money is whole Rupiah: `57.960.000`, `Rp57.960.000`,
  `57960000` and `57.960.000,00` are read; any other decimals are refused with a message.
- **Matching** (`match_payments`, pure, over frames). By invoice number when the row names one: the
  live revision of that number is paid (a superseded revision's number pays its live revision); a
  number that is unknown, cancelled, of another program or of another payer leaves the whole payment
  unmatched. Without a number, by payer (program + payer; the regency when the program's payer is the
  regency) and *exact* amount: the oldest unpaid invoices whose outstanding amounts add up to the
  amount (oldest first, one or several), else the one unpaid invoice with exactly that amount; two
  candidates, or none, leave it unmatched. Nothing is ever guessed.
- **Allocation.** Oldest due first; what is left after every named invoice is paid is kept as credit
  (`Payment.unallocated`, status `credit`) and later pays the same payer's next invoices, oldest
  first (`apply_credits`).
- **Credit notes.** Workers removed from a paid (or partly paid) invoice by a later roster fix leave
  that invoice unchanged; what they cost becomes a `CreditNote` of the payer
  (`credit_removed_workers`, called by the cycle), which `apply_credits` spends like an overpayment.
  An allocation comes from an SP2D or from a credit note, so an invoice's `paid` is always the sum
  of its allocations.
- **Idempotency by construction.** `Payment.nomor_sp2d` is unique: a re-import inserts nothing and
  says "already recorded"; the same SP2D number with another amount or date is a conflict, reported
  and not recorded. A payment recorded as unmatched is matched when the same row comes again and now
  matches (e.g. after the invoice it names was issued).
- **Invoice state** is derived from allocations and receipts, never accumulated: `refresh_invoices`
  recomputes `paid` and `payment_state` (unpaid → partial → paid → confirmed) of the touched invoices.
  `confirmed` means fully paid and every SP2D that paid it has a matching BPJS receipt. Overdue is not
  stored: `iuran.status.payment_state` derives it from the due date.

Every import runs in one transaction with the messages it queues (`mail.queue`), so a payment and the
e-mail announcing it exist together or not at all.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import logging
import re
import zipfile
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from python_calamine import CalamineWorkbook
from sqlalchemy import and_, case, func, insert, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, aliased

from iuran import faults, mail
from iuran.db.models import (
    LIVE,
    ContributionLine,
    CreditNote,
    CreditNoteLine,
    Invoice,
    Payment,
    PaymentAllocation,
    PaymentImport,
    Receipt,
)
from iuran.db.session import session_scope
from iuran.money import rupiah
from iuran.periods import Period
from iuran.programs import Program, ProgramError, load_program
from iuran.rosters.read import normalize_header
from iuran.rosters.validate import parse_dates
from iuran.wilayah import normalize_kode_desa

log = logging.getLogger("iuran.payments")

PAYMENT, RECEIPT = "pembayaran", "penerimaan"
REGENCY_PAYER = "kabupaten"

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
LABELS = {
    "nomor_sp2d": "Nomor SP2D",
    "tanggal_sp2d": "Tanggal SP2D",
    "tanggal_terima": "Tanggal Terima",
    "jumlah": "Jumlah",
    "nomor_tagihan": "Nomor Tagihan",
    "payer": "Pembayar/Kode Desa",
    "program": "Program",
    "keterangan": "Keterangan",
}

#: Codes (stable, stored and counted) and the Indonesian message the operator reads.
MESSAGES: dict[str, str] = {
    # files
    "BERKAS_KOSONG": "Berkas tidak berisi baris pembayaran.",
    "BERKAS_RUSAK": "Berkas tidak dapat dibuka (rusak atau bukan {jenis}); simpan ulang sebagai .xlsx atau .csv.",
    "BERKAS_JENIS": "Jenis berkas {jenis} tidak dapat diproses; kirim sebagai Excel .xlsx atau .csv.",
    "BERKAS_TERLALU_BESAR": "Berkas terlalu besar ({ukuran}; batas {batas}).",
    "BERKAS_TANPA_HEADER": (
        "Baris judul kolom tidak ditemukan di {baris} baris pertama; kolom wajib yang tidak "
        "ditemukan: {kolom}."
    ),
    # rows
    "SP2D_KOSONG": "Nomor SP2D kosong; isi nomor SP2D sesuai dokumen dari BKAD.",
    "SP2D_PANJANG": "Nomor SP2D lebih dari 100 karakter; periksa isi kolom Nomor SP2D.",
    "PEMBAYAR_FORMAT": (
        "Pembayar '{nilai}' tidak dikenali; tulis kode desa Kemendagri (mis. 16.04.01.2001) atau "
        "'kabupaten'."
    ),
    "PROGRAM_FORMAT": "Kode program '{nilai}' tidak sah; gunakan kode program, mis. lebak.",
    "TANGGAL_KOSONG": "{kolom} kosong; isi dengan format dd/mm/yyyy, mis. 20/01/2026.",
    "TANGGAL_FORMAT": (
        "{kolom} '{nilai}' tidak dikenali. Gunakan format dd/mm/yyyy (mis. 20/01/2026), dd-mm-yyyy, "
        "yyyy-mm-dd, atau sel tanggal Excel; tahun ditulis 4 digit."
    ),
    "TANGGAL_MASA_DEPAN": "{kolom} {nilai} belum terjadi (hari ini {hari_ini}); periksa kembali tanggalnya.",
    "JUMLAH_KOSONG": "Jumlah kosong; isi nilai SP2D dalam Rupiah, mis. 57.960.000.",
    "JUMLAH_FORMAT": (
        "Jumlah '{nilai}' bukan angka Rupiah yang dikenali. Tulis Rupiah bulat dengan titik sebagai "
        "pemisah ribuan, mis. 57.960.000, Rp57.960.000 atau 57960000."
    ),
    "JUMLAH_DESIMAL": (
        "Jumlah '{nilai}' memuat sen; iuran dibayar dalam Rupiah bulat (hanya ,00 yang diterima)."
    ),
    "JUMLAH_NOL": "Jumlah harus lebih dari nol (tertulis '{nilai}').",
    "SP2D_GANDA_BERKAS": (
        "SP2D {sp2d} sudah ada di baris {baris} berkas ini dengan jumlah atau tanggal lain; baris ini "
        "tidak dicatat. Perbaiki salah satu baris lalu impor ulang."
    ),
    "SP2D_DUPLIKAT_BERKAS": "SP2D {sp2d} sama persis dengan baris {baris}; dicatat sekali.",
    "SP2D_KONFLIK": (
        "SP2D {sp2d} sudah tercatat dengan jumlah {jumlah_lama} tanggal {tanggal_lama}; baris ini "
        "({jumlah}, {tanggal}) tidak dicatat. Bila data lama salah, hubungi admin."
    ),
    "SP2D_SUDAH_DICATAT": "SP2D {sp2d} sudah tercatat sebelumnya; tidak dicatat lagi.",
    # matching (payment recorded, amount not or not fully allocated)
    "TAGIHAN_TIDAK_ADA": "Nomor tagihan {nomor} tidak ditemukan; pembayaran belum dialokasikan.",
    "TAGIHAN_BATAL": "Tagihan {nomor} sudah dibatalkan; pembayaran belum dialokasikan.",
    "TAGIHAN_PROGRAM_LAIN": (
        "Tagihan {nomor} milik program {program_tagihan}, bukan {program}; pembayaran belum dialokasikan."
    ),
    "TAGIHAN_PEMBAYAR_LAIN": (
        "Tagihan {nomor} ditujukan kepada {pembayar_tagihan}, bukan {pembayar}; pembayaran belum "
        "dialokasikan."
    ),
    "TAGIHAN_CAMPUR_PROGRAM": (
        "Tagihan yang disebut berasal dari beberapa program ({program}); satu SP2D membayar tagihan "
        "satu program. Pembayaran belum dialokasikan."
    ),
    "PROGRAM_TIDAK_DIKETAHUI": (
        "Tanpa nomor tagihan, pembayaran dicocokkan lewat program dan pembayar, tetapi programnya "
        "tidak diketahui (isi kolom program atau gunakan --program)."
    ),
    "PROGRAM_TIDAK_ADA": "Program {program} tidak dikenal; pembayaran belum dialokasikan.",
    "PEMBAYAR_KOSONG": (
        "Program {program} dibayar oleh desa: isi kode desa pembayar atau nomor tagihan."
    ),
    "TIDAK_ADA_TAGIHAN": "{pembayar} tidak mempunyai tagihan yang belum lunas; pembayaran belum dialokasikan.",
    "JUMLAH_TIDAK_COCOK": (
        "Tidak ada tagihan {pembayar} yang belum lunas sebesar {jumlah} (atau jumlah beberapa tagihan "
        "terlama); cantumkan nomor tagihan."
    ),
    "JUMLAH_GANDA": (
        "Jumlah {jumlah} cocok dengan lebih dari satu tagihan {pembayar} ({nomor}); cantumkan nomor "
        "tagihan."
    ),
    "LEBIH_BAYAR": "Lebih bayar {lebih}: dicatat sebagai kredit {pembayar}.",
    "LEBIH_BAYAR_TANPA_PEMBAYAR": (
        "Lebih bayar {lebih}: tagihan yang dibayar milik beberapa pembayar, kredit tidak dapat "
        "dipakai otomatis."
    ),
    "KREDIT_PESERTA_KELUAR": (
        "{jumlah_peserta} peserta dikeluarkan dari tagihan {nomor} setelah tagihan itu dibayar; "
        "iuran mereka {jumlah} menjadi kredit {pembayar} untuk tagihan berikutnya."
    ),
    # receipts
    "PENERIMAAN_SESUAI": "Diterima BPJS sesuai SP2D.",
    "PENERIMAAN_SELISIH": (
        "BPJS menerima {diterima}, SP2D {sp2d} sebesar {jumlah}: selisih {selisih}. Periksa dengan "
        "BKAD dan BPJS."
    ),
    "PENERIMAAN_TANPA_SP2D": "SP2D {sp2d} belum tercatat; dicocokkan setelah SP2D-nya diimpor.",
    "PENERIMAAN_PROGRAM_LAIN": "SP2D {sp2d} tercatat untuk program {program_sp2d}, bukan {program}.",
    "PENERIMAAN_KONFLIK": (
        "Penerimaan SP2D {sp2d} sudah tercatat dengan jumlah {jumlah_lama} tanggal {tanggal_lama}; "
        "baris ini ({jumlah}, {tanggal}) tidak dicatat."
    ),
    "PENERIMAAN_SUDAH_DICATAT": "Penerimaan SP2D {sp2d} sudah tercatat sebelumnya.",
}


def message(code: str, **values: object) -> str:
    return MESSAGES[code].format(**values)


def _tanggal(day: dt.date) -> str:
    return day.strftime("%d/%m/%Y")


# ---------------------------------------------------------------------------------------------------
# Reading files


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


# ---------------------------------------------------------------------------------------------------
# Validating rows (whole columns at a time)

_AMOUNT = re.compile(r"^(?P<n>\d{1,3}(?:\.\d{3})+|\d+)(?:,0{1,2})?$")
_AMOUNT_CENTS = r"^(?:\d{1,3}(?:\.\d{3})+|\d+)[,.]\d{1,2}$"
_REGENCY_WORDS = {"kabupaten", "kab", "pemkab", "regency", "bkad", "pemda"}

VALID_COLUMNS = ["source_row", "nomor_sp2d", "tanggal", "jumlah", "nomor_tagihan", "tagihan",
                 "keterangan", "program", "payer"]  # fmt: skip
REJECTED_COLUMNS = ["source_row", "nomor_sp2d", "column", "code", "message"]


def parse_amounts(raw: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Rupiah as written -> (Int64 amounts, code of the problem or <NA>). Accepts `57.960.000`,
    `Rp57.960.000`, `Rp 57.960.000,00`, `57960000`, `57.960.000,-`; refuses other decimals."""
    s = raw.astype("string").str.lower().str.replace(r"[\s\u00a0]+", "", regex=True)
    s = s.str.replace(r"^(?:rp\.?|idr)", "", regex=True).str.replace(r"[,.]-$", "", regex=True)
    digits = s.str.extract(_AMOUNT.pattern)["n"].str.replace(".", "", regex=False)
    ok = digits.notna() & (digits.str.len() <= 15)
    amounts = pd.Series(pd.NA, index=raw.index, dtype="Int64")
    amounts[ok.fillna(False).astype(bool)] = digits[ok.fillna(False).astype(bool)].astype("Int64")
    code = pd.Series(pd.NA, index=raw.index, dtype="string")
    empty = raw.isna() | (s == "")
    cents = s.str.match(_AMOUNT_CENTS).fillna(False).astype(bool) & ~s.str.match(
        r".*[,.]0{1,2}$"
    ).fillna(False).astype(bool)
    code[~empty & ~ok.fillna(False).astype(bool)] = "JUMLAH_FORMAT"
    code[~empty & cents] = "JUMLAH_DESIMAL"
    code[~empty & ok.fillna(False).astype(bool) & (amounts.fillna(0) <= 0)] = "JUMLAH_NOL"
    code[empty] = "JUMLAH_KOSONG"
    return amounts.where(code.isna()), code


def split_numbers(value: object) -> tuple[str, ...]:
    """`001/TAG-JKK-JKM/LBK/I/2026; 002/...` -> the invoice numbers, spaces removed, upper case, once."""
    if value is None or value is pd.NA or not isinstance(value, str):
        return ()
    parts = (re.sub(r"\s+", "", p).upper() for p in re.split(r"[;,\n]+", value))
    return tuple(dict.fromkeys(p for p in parts if p))


def normalize_payers(raw: pd.Series) -> pd.Series:
    """`kabupaten` (or `Kab.`, `Pemkab`, `BKAD`) -> `kabupaten`; a village code -> `36.02.01.2001`;
    anything else is kept as written (and will not match a payer)."""
    s = raw.astype("string").str.strip()
    s = s.mask(s == "")
    word = s.str.lower().str.replace(r"[^a-z]", "", regex=True)
    village = normalize_kode_desa(s)
    out = village.fillna(s)
    return out.mask(word.isin(list(_REGENCY_WORDS)).fillna(False).astype(bool), REGENCY_PAYER)


def _date_problems(
    raw: pd.Series, label: str, today: dt.date
) -> tuple[pd.Series, pd.Series, pd.Series]:
    """(dates as Python date objects, code or <NA>, message or <NA>) for one date column."""
    parsed = parse_dates(raw.astype("string"))
    code = pd.Series(pd.NA, index=raw.index, dtype="string")
    bad = parsed.isna() | (parsed.dt.year < 2000)
    code[bad] = "TANGGAL_FORMAT"
    code[raw.isna()] = "TANGGAL_KOSONG"
    future = ~bad & (parsed.dt.date > today)
    code[future] = "TANGGAL_MASA_DEPAN"
    msgs = pd.Series(pd.NA, index=raw.index, dtype="string")
    for i in code.dropna().index:
        shown = raw[i] if code[i] != "TANGGAL_MASA_DEPAN" else _tanggal(parsed[i].date())
        msgs[i] = message(str(code[i]), kolom=label, nilai=shown, hari_ini=_tanggal(today))
    dates = parsed.dt.date.astype(object)
    return dates.where(code.isna() & parsed.notna(), None), code, msgs


def validate_rows(
    raw: pd.DataFrame, kind: str, today: dt.date, default_program: str | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Raw rows -> (valid rows `VALID_COLUMNS`, rejected rows `REJECTED_COLUMNS`).

    A row is refused for the first problem found (SP2D number, date, amount, payer, program).
    """
    r = raw.copy()
    for c in ("nomor_sp2d", "nomor_tagihan", "keterangan", "program", "payer"):
        if c not in r:
            r[c] = pd.array([pd.NA] * len(r), dtype="string")
    date_col = "tanggal_sp2d" if kind == PAYMENT else "tanggal_terima"
    sp2d = r["nomor_sp2d"].astype("string").str.replace(r"\s+", " ", regex=True).str.strip()
    sp2d = sp2d.mask(sp2d == "")
    dates, date_code, date_msg = _date_problems(r[date_col], LABELS[date_col], today)
    amounts, amount_code = parse_amounts(r["jumlah"])

    payer = normalize_payers(r["payer"])
    program = r["program"].astype("string").str.strip().str.lower()
    program = program.mask(program == "")

    code = pd.Series(pd.NA, index=r.index, dtype="string")
    column = pd.Series(pd.NA, index=r.index, dtype="string")
    msg = pd.Series(pd.NA, index=r.index, dtype="string")
    # fill in reverse priority so the first problem wins
    bad_program = program.notna() & ~program.str.fullmatch(r"[a-z][a-z0-9-]{0,39}").fillna(False)
    bad_payer = payer.notna() & ~(
        (payer == REGENCY_PAYER) | payer.str.fullmatch(r"\d{2}\.\d{2}\.\d{2}\.\d{4}").fillna(False)
    )
    for mask, col, c in (
        (bad_program, "program", "PROGRAM_FORMAT"),
        (bad_payer, "payer", "PEMBAYAR_FORMAT"),
    ):
        mask = mask.astype(bool)
        code[mask], column[mask] = c, col
        for i in mask[mask].index:
            msg[i] = message(c, nilai=r[col][i])
    has_amount = amount_code.notna()
    code[has_amount], column[has_amount] = amount_code[has_amount], "jumlah"
    for i in amount_code.dropna().index:
        msg[i] = message(str(amount_code[i]), nilai=r["jumlah"][i])
    has_date = date_code.notna()
    code[has_date], column[has_date], msg[has_date] = (
        date_code[has_date],
        date_col,
        date_msg[has_date],
    )
    long_sp2d = (sp2d.str.len() > 100).fillna(False).astype(bool)
    code[long_sp2d], column[long_sp2d] = "SP2D_PANJANG", "nomor_sp2d"
    msg[long_sp2d] = message("SP2D_PANJANG")
    no_sp2d = sp2d.isna()
    code[no_sp2d], column[no_sp2d], msg[no_sp2d] = (
        "SP2D_KOSONG",
        "nomor_sp2d",
        message("SP2D_KOSONG"),
    )
    bad = code.notna()
    rejected = pd.DataFrame(
        {
            "source_row": r["source_row"],
            "nomor_sp2d": sp2d,
            "column": column,
            "code": code,
            "message": msg,
        }
    ).loc[bad]
    ok = r.loc[~bad]
    program = program[~bad]
    if default_program:
        program = program.fillna(default_program)
    valid = pd.DataFrame(
        {
            "source_row": ok["source_row"].astype("int64"),
            "nomor_sp2d": sp2d[~bad],
            "tanggal": dates[~bad],
            "jumlah": amounts[~bad].astype("int64"),
            "nomor_tagihan": ok["nomor_tagihan"].astype("string"),
            "tagihan": pd.Series(
                [split_numbers(v) for v in ok["nomor_tagihan"]], index=ok.index, dtype=object
            ),
            "keterangan": ok["keterangan"].astype("string"),
            "program": program,
            "payer": payer[~bad],
        },
        columns=VALID_COLUMNS,
    )
    return valid.reset_index(drop=True), rejected.reset_index(drop=True)


# ---------------------------------------------------------------------------------------------------
# Matching (pure)

INVOICE_COLUMNS = ["id", "number", "revision", "program", "period", "payer_key", "payer_name",
                   "kind", "due_date", "total", "paid", "document_state"]  # fmt: skip
EXISTING_COLUMNS = ["id", "nomor_sp2d", "tanggal", "jumlah", "status"]


@dataclass
class Matched:
    """`rows`: the valid rows in processing order plus `action` (record | rematch | duplicate |
    conflict), `status` (matched | partial | credit | unmatched), `matched_by`, `program`, `payer`,
    `unallocated`, `code`, `message`, `payment_id` (the existing payment of a rematch/duplicate).
    `allocations`: `nomor_sp2d`, `invoice_id`, `amount`, `remaining` (invoice outstanding after it)."""

    rows: pd.DataFrame
    allocations: pd.DataFrame


def _oldest_first(invoices: pd.DataFrame) -> pd.DataFrame:
    order = invoices.assign(_k=(invoices["kind"] != "regular").astype(int))
    return order.sort_values(["due_date", "period", "_k", "number", "revision", "id"]).drop(
        columns="_k"
    )


@dataclass
class _Ledger:
    """Outstanding amounts while a file is matched: payments earlier in the file count."""

    invoices: pd.DataFrame  # live invoices, oldest first, indexed by id
    outstanding: dict[int, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.outstanding = {
            int(i): int(t) - int(p)
            for i, t, p in zip(
                self.invoices.index, self.invoices["total"], self.invoices["paid"], strict=True
            )
        }

    def open_for(self, program: str, payer: str) -> list[int]:
        inv = self.invoices
        ids = inv.index[(inv["program"] == program) & (inv["payer_key"] == payer)]
        return [int(i) for i in ids if self.outstanding[int(i)] > 0]

    def allocate(self, ids: Iterable[int], amount: int) -> tuple[list[tuple[int, int, int]], int]:
        """Pay `ids` oldest first; returns [(invoice_id, amount, remaining)] and what is left."""
        rank = {int(i): n for n, i in enumerate(self.invoices.index)}
        out = []
        for i in sorted(ids, key=rank.__getitem__):
            pay = min(amount, self.outstanding[i])
            if pay > 0:
                self.outstanding[i] -= pay
                amount -= pay
                out.append((i, pay, self.outstanding[i]))
        return out, amount


def _payer_label(payer: str, names: Mapping[str, str]) -> str:
    return names.get(payer) or ("Pemerintah Kabupaten" if payer == REGENCY_PAYER else payer)


def match_payments(
    rows: pd.DataFrame,
    invoices: pd.DataFrame,
    existing: pd.DataFrame,
    payer_kinds: Mapping[str, str],
) -> Matched:
    """Decide every valid row (see the module docstring): pure, no database.

    `invoices`: `INVOICE_COLUMNS` for the live invoices of the programs concerned and for every
    invoice (any state) whose number a row names; `paid` is what is already allocated.
    `existing`: `EXISTING_COLUMNS`, payments already recorded with the rows' SP2D numbers.
    `payer_kinds`: program code -> "regency" | "village" for the known programs.
    """
    inv = invoices.copy()
    live = _oldest_first(inv.loc[inv["document_state"].isin(LIVE)]).set_index("id", drop=False)
    ledger = _Ledger(live)
    live_by_number = {str(n): int(i) for n, i in zip(live["number"], live["id"], strict=True)}
    known_numbers = set(inv["number"].astype(str))
    payer_names = dict(zip(inv["payer_key"], inv["payer_name"], strict=False))
    before = {str(e.nomor_sp2d): e for e in existing.itertuples(index=False)}

    # Processing order: oldest SP2D first, then file order; the first of two rows with one SP2D
    # number (in file order) is the one recorded.
    order = rows.sort_values(["source_row"]).reset_index(drop=True)
    first_row: dict[str, Any] = {}
    dup_code: dict[int, tuple[str, str]] = {}
    for r in order.itertuples(index=False):
        key = str(r.nomor_sp2d)
        if key in first_row:
            f = first_row[key]
            same = (f.tanggal, f.jumlah, f.tagihan) == (r.tanggal, r.jumlah, r.tagihan)
            code = "SP2D_DUPLIKAT_BERKAS" if same else "SP2D_GANDA_BERKAS"
            dup_code[int(r.source_row)] = (
                code,
                message(code, sp2d=key, baris=int(f.source_row)),
            )
        else:
            first_row[key] = r
    order = order.assign(_t=order["tanggal"]).sort_values(["_t", "source_row"], kind="stable")
    order = order.drop(columns="_t").reset_index(drop=True)

    out: list[dict[str, Any]] = []
    allocations: list[dict[str, Any]] = []
    for r in order.itertuples(index=False):
        sp2d = str(r.nomor_sp2d)
        program = None if pd.isna(r.program) else str(r.program)
        payer = None if pd.isna(r.payer) else str(r.payer)
        row: dict[str, Any] = {
            **r._asdict(),
            "action": "record",
            "status": "unmatched",
            "matched_by": None,
            "program": program,
            "payer": payer,
            "unallocated": int(r.jumlah),
            "code": None,
            "message": None,
            "payment_id": None,
        }
        out.append(row)
        if int(r.source_row) in dup_code:
            code, text_ = dup_code[int(r.source_row)]
            row.update(action="duplicate" if code == "SP2D_DUPLIKAT_BERKAS" else "conflict")
            row.update(code=code, message=text_, unallocated=0)
            continue
        old = before.get(sp2d)
        if old is not None:
            row["payment_id"] = int(old.id)
            if (old.tanggal, int(old.jumlah)) != (r.tanggal, int(r.jumlah)):
                row.update(
                    action="conflict",
                    code="SP2D_KONFLIK",
                    unallocated=0,
                    message=message(
                        "SP2D_KONFLIK",
                        sp2d=sp2d,
                        jumlah_lama=rupiah(int(old.jumlah)),
                        tanggal_lama=_tanggal(old.tanggal),
                        jumlah=rupiah(int(r.jumlah)),
                        tanggal=_tanggal(r.tanggal),
                    ),
                )
                continue
            if old.status != "unmatched":
                row.update(
                    action="duplicate",
                    status=str(old.status),
                    unallocated=0,
                    code="SP2D_SUDAH_DICATAT",
                    message=message("SP2D_SUDAH_DICATAT", sp2d=sp2d),
                )
                continue
            row["action"] = "rematch"  # recorded as unmatched before: try again

        numbers: tuple[str, ...] = tuple(r.tagihan or ())
        targets: list[int] = []
        problem: tuple[str, dict[str, object]] | None = None
        if numbers:
            for n in numbers:
                if n in live_by_number:
                    targets.append(live_by_number[n])
                elif n in known_numbers:
                    problem = ("TAGIHAN_BATAL", {"nomor": n})
                    break
                else:
                    problem = ("TAGIHAN_TIDAK_ADA", {"nomor": n})
                    break
            if problem is None:
                progs = sorted({str(live.at[i, "program"]) for i in targets})
                if len(progs) > 1:
                    problem = ("TAGIHAN_CAMPUR_PROGRAM", {"program": ", ".join(progs)})
                elif program is not None and progs[0] != program:
                    n = str(live.at[targets[0], "number"])
                    problem = (
                        "TAGIHAN_PROGRAM_LAIN",
                        {"nomor": n, "program_tagihan": progs[0], "program": program},
                    )
                else:
                    program = progs[0]
            if problem is None and payer is not None:
                for i in targets:
                    if str(live.at[i, "payer_key"]) != payer:
                        problem = (
                            "TAGIHAN_PEMBAYAR_LAIN",
                            {
                                "nomor": str(live.at[i, "number"]),
                                "pembayar_tagihan": str(live.at[i, "payer_name"]),
                                "pembayar": _payer_label(payer, payer_names),
                            },
                        )
                        break
            if problem is None:
                payers = {str(live.at[i, "payer_key"]) for i in targets}
                payer = payers.pop() if len(payers) == 1 else None
                row["matched_by"] = "nomor"
        elif program is None:
            problem = ("PROGRAM_TIDAK_DIKETAHUI", {})
        elif program not in payer_kinds:
            problem = ("PROGRAM_TIDAK_ADA", {"program": program})
        else:
            if payer is None:
                if payer_kinds[program] == "regency":
                    payer = REGENCY_PAYER
                else:
                    problem = ("PEMBAYAR_KOSONG", {"program": program})
            if problem is None and payer is not None:
                label = _payer_label(payer, payer_names)
                candidates = ledger.open_for(program, payer)
                amount = int(r.jumlah)
                running, prefix = 0, None
                for k, i in enumerate(candidates):
                    running += ledger.outstanding[i]
                    if running == amount:
                        prefix = candidates[: k + 1]
                        break
                    if running > amount:
                        break
                singles = [i for i in candidates if ledger.outstanding[i] == amount]
                if not candidates:
                    problem = ("TIDAK_ADA_TAGIHAN", {"pembayar": label})
                elif prefix is not None:
                    targets = prefix
                elif len(singles) == 1:
                    targets = singles
                elif singles:
                    problem = (
                        "JUMLAH_GANDA",
                        {
                            "jumlah": rupiah(amount),
                            "pembayar": label,
                            "nomor": ", ".join(str(live.at[i, "number"]) for i in singles),
                        },
                    )
                else:
                    problem = ("JUMLAH_TIDAK_COCOK", {"pembayar": label, "jumlah": rupiah(amount)})
                row["matched_by"] = "pembayar" if problem is None else None

        row["program"], row["payer"] = program, payer
        if problem is not None:
            code, values = problem
            row.update(status="unmatched", code=code, message=message(code, **values))
            row["matched_by"] = None
            continue
        paid, left = ledger.allocate(targets, int(r.jumlah))
        for invoice_id, amount, remaining in paid:
            allocations.append(
                {
                    "nomor_sp2d": sp2d,
                    "invoice_id": invoice_id,
                    "amount": amount,
                    "remaining": remaining,
                }
            )
        row["unallocated"] = left
        if left > 0:
            row["status"] = "credit"
            code = "LEBIH_BAYAR" if payer is not None else "LEBIH_BAYAR_TANPA_PEMBAYAR"
            row.update(
                code=code,
                message=message(
                    code, lebih=rupiah(left), pembayar=_payer_label(payer or "", payer_names)
                ),
            )
        elif any(ledger.outstanding[i] > 0 for i in targets):
            row["status"] = "partial"
        else:
            row["status"] = "matched"
    rows_out = pd.DataFrame(
        out,
        columns=[*order.columns, "action", "status", "matched_by", "unallocated", "code",
                 "message", "payment_id"],
    )  # fmt: skip
    alloc_out = pd.DataFrame(
        allocations, columns=["nomor_sp2d", "invoice_id", "amount", "remaining"]
    ).astype({"invoice_id": "int64", "amount": "int64", "remaining": "int64"})
    return Matched(rows_out, alloc_out)


# ---------------------------------------------------------------------------------------------------
# Database


def _insert(session: Session) -> Any:
    return postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


def begin_write(session: Session) -> None:
    """Start the transaction as a writer. SQLite: takes the write lock now, so what is read next
    cannot change before this transaction commits (pysqlite would otherwise begin only at the first
    write, after the reads). PostgreSQL: nothing (the rows read are locked FOR UPDATE instead)."""
    if session.get_bind().dialect.name == "sqlite":
        session.execute(text("UPDATE payment_import SET rows = rows WHERE 0 = 1"))


def _load_invoices(
    session: Session, programs: Collection[str], numbers: Collection[str]
) -> pd.DataFrame:
    """INVOICE_COLUMNS for the live invoices of `programs` and any invoice numbered `numbers`; `paid`
    is summed from the allocations (never trusted from the invoice row). Locked on PostgreSQL."""
    cond = or_(
        and_(Invoice.program.in_(list(programs)), Invoice.document_state.in_(LIVE)),
        Invoice.number.in_(list(numbers)),
    )
    ids_stmt = select(Invoice.id).where(cond)
    if session.get_bind().dialect.name == "postgresql":
        ids_stmt = ids_stmt.order_by(Invoice.id).with_for_update()
    ids = list(session.scalars(ids_stmt))
    if not ids:
        return pd.DataFrame(columns=INVOICE_COLUMNS)
    paid = (
        select(PaymentAllocation.invoice_id, func.sum(PaymentAllocation.amount).label("paid"))
        .where(PaymentAllocation.invoice_id.in_(ids))
        .group_by(PaymentAllocation.invoice_id)
        .subquery()
    )
    result = session.execute(
        select(
            Invoice.id,
            Invoice.number,
            Invoice.revision,
            Invoice.program,
            Invoice.period,
            Invoice.payer_key,
            Invoice.payer_name,
            Invoice.kind,
            Invoice.due_date,
            Invoice.total,
            func.coalesce(paid.c.paid, 0).label("paid"),
            Invoice.document_state,
        )
        .outerjoin(paid, paid.c.invoice_id == Invoice.id)
        .where(Invoice.id.in_(ids))
    )
    frame = pd.DataFrame(result.fetchall(), columns=INVOICE_COLUMNS)
    return frame.astype({"id": "int64", "total": "int64", "paid": "int64", "revision": "int64"})


def refresh_invoices(session: Session, invoice_ids: Collection[int]) -> int:
    """Recompute `paid` and `payment_state` of these invoices from allocations and receipts.

    unpaid (nothing allocated) → partial → paid (allocations cover the total) → confirmed (paid, and
    every SP2D that paid it has a receipt from BPJS for its exact amount; money from a credit note
    counts as received once the invoice it came from is confirmed, or when it pays that invoice
    itself). An invoice paid by a credit note follows its source: when the source changes, it is
    recomputed too. Returns the number of invoices changed.
    """
    ids = {int(i) for i in invoice_ids}
    changed: set[int] = set()
    for _ in range(10):  # source -> the invoices its credit notes paid -> ...: chains are short
        if not ids:
            break
        now = _refresh(session, sorted(ids))
        changed |= now
        ids = set(
            session.scalars(
                select(PaymentAllocation.invoice_id)
                .join(CreditNote, CreditNote.id == PaymentAllocation.credit_note_id)
                .where(
                    CreditNote.source_invoice_id.in_(list(now)),
                    PaymentAllocation.invoice_id != CreditNote.source_invoice_id,
                )
            )
        )
    return len(changed)


def _refresh(session: Session, ids: list[int]) -> set[int]:
    confirmed = (
        select(Receipt.payment_id)
        .where(Receipt.status == "confirmed", Receipt.payment_id.is_not(None))
        .scalar_subquery()
    )
    source = aliased(Invoice)
    received = case(
        (PaymentAllocation.payment_id.in_(confirmed), 0),
        (CreditNote.source_invoice_id == PaymentAllocation.invoice_id, 0),
        (source.payment_state == "confirmed", 0),
        else_=1,
    )
    sums = session.execute(
        select(PaymentAllocation.invoice_id, func.sum(PaymentAllocation.amount), func.sum(received))
        .outerjoin(CreditNote, CreditNote.id == PaymentAllocation.credit_note_id)
        .outerjoin(source, source.id == CreditNote.source_invoice_id)
        .where(PaymentAllocation.invoice_id.in_(ids))
        .group_by(PaymentAllocation.invoice_id)
    ).all()
    by_id = {int(i): (int(p or 0), int(u or 0)) for i, p, u in sums}
    current = session.execute(
        select(Invoice.id, Invoice.total, Invoice.paid, Invoice.payment_state).where(
            Invoice.id.in_(ids)
        )
    ).all()
    changes: list[dict[str, Any]] = []
    for i, total, was_paid, was_state in current:
        paid, unconfirmed = by_id.get(int(i), (0, 0))
        state = (
            "unpaid"
            if paid <= 0
            else "partial"
            if paid < total
            else "paid"
            if unconfirmed
            else "confirmed"
        )
        if (paid, state) != (was_paid, was_state):
            changes.append({"id": int(i), "paid": paid, "payment_state": state})
    if changes:
        session.execute(update(Invoice), changes)
    return {int(c["id"]) for c in changes}


def _import_row(
    session: Session, kind: str, program: str | None, path: str, sha: str, rows: int
) -> tuple[int, bool]:
    """The PaymentImport row for this file: (id, created now)."""
    created = session.execute(
        _insert(session)(PaymentImport)
        .values(
            kind=kind,
            program=program,
            path=path,
            sha256=sha,
            rows=rows,
            imported_at=dt.datetime.now(dt.UTC),
        )
        .on_conflict_do_nothing(index_elements=["kind", "sha256"])
        .returning(PaymentImport.id)
    ).scalar_one_or_none()
    if created is not None:
        return int(created), True
    found = session.scalar(
        select(PaymentImport.id).where(PaymentImport.kind == kind, PaymentImport.sha256 == sha)
    )
    assert found is not None
    return int(found), False


def already_imported(database_url: str, kind: str, sha256: str) -> bool:
    with session_scope(database_url) as session:
        return (
            session.scalar(
                select(PaymentImport.id).where(
                    PaymentImport.kind == kind, PaymentImport.sha256 == sha256
                )
            )
            is not None
        )


def _programs(codes: Iterable[str | None]) -> dict[str, Program]:
    found: dict[str, Program] = {}
    for code in {c for c in codes if c}:
        try:
            found[code] = load_program(code)
        except ProgramError:
            log.warning("program %s not found: payments for it are not matched by payer", code)
    return found


def _opt(value: object) -> str | None:
    """A frame cell as str, None for None / NaN / <NA>."""
    return None if value is None or pd.isna(value) else str(value)


def _period_label(period: str) -> str:
    return Period.parse(period).label


def _result_rows(
    matched: Matched, invoices: pd.DataFrame, rejected: pd.DataFrame
) -> list[dict[str, Any]]:
    """The per-row report, in file order."""
    by_id = invoices.set_index("id") if len(invoices) else invoices
    allocs: dict[str, list[dict[str, Any]]] = {}
    for a in matched.allocations.itertuples(index=False):
        inv = by_id.loc[int(a.invoice_id)]
        allocs.setdefault(str(a.nomor_sp2d), []).append(
            {
                "invoice_id": int(a.invoice_id),
                "number": str(inv["number"]),
                "revision": int(inv["revision"]),
                "period": str(inv["period"]),
                "period_label": _period_label(str(inv["period"])),
                "amount": int(a.amount),
                "remaining": int(a.remaining),
            }
        )
    result_of = {
        "record": "recorded",
        "rematch": "recorded",
        "duplicate": "already_recorded",
        "conflict": "conflict",
    }
    out: list[dict[str, Any]] = []
    for r in matched.rows.itertuples(index=False):
        recorded = r.action in ("record", "rematch")
        out.append(
            {
                "row": int(r.source_row),
                "nomor_sp2d": str(r.nomor_sp2d),
                "tanggal": r.tanggal.isoformat(),
                "jumlah": int(r.jumlah),
                "nomor_tagihan": list(r.tagihan or ()),
                "keterangan": _opt(r.keterangan),
                "program": _opt(r.program),
                "payer": _opt(r.payer),
                "result": result_of[str(r.action)],
                "status": _opt(r.status) if recorded or r.action == "duplicate" else None,
                "matched_by": _opt(r.matched_by),
                "allocations": allocs.get(str(r.nomor_sp2d), []) if recorded else [],
                "unallocated": int(r.unallocated) if recorded else 0,
                "code": _opt(r.code),
                "message": _opt(r.message),
            }
        )
    for r in rejected.itertuples(index=False):
        out.append(
            {
                "row": int(r.source_row),
                "nomor_sp2d": _opt(r.nomor_sp2d),
                "result": "rejected",
                "column": _opt(r.column),
                "code": _opt(r.code),
                "message": _opt(r.message),
            }
        )
    return sorted(out, key=lambda x: x["row"])


def _summary(rows: list[dict[str, Any]]) -> dict[str, int]:
    def count(**where: object) -> int:
        return sum(all(r.get(k) == v for k, v in where.items()) for r in rows)

    recorded = [r for r in rows if r["result"] == "recorded"]
    return {
        "rows": len(rows),
        "recorded": len(recorded),
        "already_recorded": count(result="already_recorded"),
        "conflicts": count(result="conflict"),
        "rejected": count(result="rejected"),
        "matched": sum(r["status"] == "matched" for r in recorded),
        "partial": sum(r["status"] == "partial" for r in recorded),
        "credit": sum(r["status"] == "credit" for r in recorded),
        "unmatched": sum(r["status"] == "unmatched" for r in recorded),
        "amount_recorded": sum(r["jumlah"] for r in recorded),
        "amount_allocated": sum(a["amount"] for r in recorded for a in r["allocations"]),
        "amount_unallocated": sum(r["unallocated"] for r in recorded),
    }


def apply_payments(
    session: Session,
    raw: pd.DataFrame,
    *,
    today: dt.date,
    program: str | None = None,
    source: str | None = None,
    import_id: int | None = None,
) -> dict[str, Any]:
    """Validate, match and record payment rows in the caller's transaction; queue the messages.

    Returns `{"summary": {...}, "payments": [per-row results], "notifications": {"queued": n}}`.
    """
    begin_write(session)
    valid, rejected = validate_rows(raw, PAYMENT, today, program)
    numbers = {n for t in valid["tagihan"] for n in t}
    codes = set(valid["program"].dropna().astype(str))
    plans = _programs(codes)
    invoices = _load_invoices(session, codes, numbers)
    sp2ds = list(valid["nomor_sp2d"].astype(str))
    existing = pd.DataFrame(
        session.execute(
            select(
                Payment.id, Payment.nomor_sp2d, Payment.tanggal_sp2d, Payment.jumlah, Payment.status
            ).where(Payment.nomor_sp2d.in_(sp2ds))
        ).all(),
        columns=EXISTING_COLUMNS,
    )
    payer_kinds = {code: p.payer for code, p in plans.items()}
    matched = match_payments(valid, invoices, existing, payer_kinds)
    rows = matched.rows

    # Record: new payments (a concurrent import of the same SP2D makes the insert a no-op) ...
    ids: dict[str, int] = {}
    for idx in rows.index[rows["action"] == "record"]:
        r = rows.loc[idx]
        new_id = session.execute(
            _insert(session)(Payment)
            .values(
                nomor_sp2d=str(r.nomor_sp2d),
                tanggal_sp2d=r.tanggal,
                jumlah=int(r.jumlah),
                nomor_tagihan=None if pd.isna(r.nomor_tagihan) else str(r.nomor_tagihan),
                program=_opt(r.program),
                payer_key=_opt(r.payer),
                keterangan=None if pd.isna(r.keterangan) else str(r.keterangan),
                source=source,
                source_row=int(r.source_row),
                import_id=import_id,
                unallocated=int(r.unallocated),
                status=str(r.status),
                matched_by=_opt(r.matched_by),
                note=_opt(r.message),
                created_at=dt.datetime.now(dt.UTC),
            )
            .on_conflict_do_nothing(index_elements=["nomor_sp2d"])
            .returning(Payment.id)
        ).scalar_one_or_none()
        if new_id is None:  # recorded by a concurrent import since this one read the payments
            rows.loc[idx, ["action", "code", "message"]] = [
                "duplicate",
                "SP2D_SUDAH_DICATAT",
                message("SP2D_SUDAH_DICATAT", sp2d=r.nomor_sp2d),
            ]
        else:
            ids[str(r.nomor_sp2d)] = int(new_id)
        faults.point("payments.between_rows")
    # ... and payments recorded unmatched before that now match.
    for idx in rows.index[rows["action"] == "rematch"]:
        r = rows.loc[idx]
        if r.status == "unmatched":
            rows.loc[idx, "action"] = "duplicate"
            continue
        session.execute(
            update(Payment)
            .where(Payment.id == int(r.payment_id), Payment.status == "unmatched")
            .values(
                program=_opt(r.program),
                payer_key=_opt(r.payer),
                unallocated=int(r.unallocated),
                status=str(r.status),
                matched_by=_opt(r.matched_by),
                note=_opt(r.message),
                nomor_tagihan=None if pd.isna(r.nomor_tagihan) else str(r.nomor_tagihan),
            )
        )
        ids[str(r.nomor_sp2d)] = int(r.payment_id)
    allocs = matched.allocations.loc[matched.allocations["nomor_sp2d"].isin(list(ids))]
    if len(allocs):
        session.execute(
            insert(PaymentAllocation),
            [
                {
                    "payment_id": ids[str(a.nomor_sp2d)],
                    "invoice_id": int(a.invoice_id),
                    "amount": int(a.amount),
                }
                for a in allocs.itertuples(index=False)
            ],
        )
    faults.point("payments.allocated")
    touched = set(allocs["invoice_id"].astype(int))
    # A receipt that arrived before its SP2D confirms it now.
    touched |= link_receipts(session, sp2ds=list(ids))
    refresh_invoices(session, touched)
    matched.allocations = allocs.reset_index(drop=True)
    results = _result_rows(matched, invoices, rejected)
    queued = _queue_recorded(session, [r for r in results if r["result"] == "recorded"], plans)
    return {
        "summary": _summary(results),
        "payments": results,
        "notifications": {"queued": queued},
    }


def _queue_recorded(
    session: Session,
    recorded: list[dict[str, Any]],
    plans: Mapping[str, Program],
) -> int:
    """`payment_recorded` to BPJS and BKAD (cc Disnaker) for each recorded payment; an unmatched
    one goes to Disnaker (cc BKAD), who must find out what it pays."""
    missing = {r["program"] for r in recorded if r["program"] and r["program"] not in plans}
    plans = {**plans, **_programs(missing)}
    queued = 0
    for r in recorded:
        plan = plans.get(r["program"] or "")
        if plan is None:
            continue
        context = {
            "program_name": plan.name,
            "regency_name": plan.regency_name,
            "nomor_sp2d": r["nomor_sp2d"],
            "tanggal_sp2d": r["tanggal"],
            "jumlah": r["jumlah"],
            "status": r["status"],
            "allocations": [
                {k: a[k] for k in ("number", "period_label", "amount", "remaining")}
                for a in r["allocations"]
            ],
            "unallocated": r["unallocated"],
            "keterangan": " ".join(x for x in (r["keterangan"], r["message"]) if x),
        }
        if r["status"] == "unmatched":
            key, to, cc = (
                f"payment_unmatched:{r['nomor_sp2d']}:disnaker",
                plan.recipients.disnaker,
                plan.recipients.bkad,
            )
        else:
            key, to, cc = (
                f"payment_recorded:{r['nomor_sp2d']}:bpjs",
                (*plan.recipients.bpjs, *plan.recipients.bkad),
                plan.recipients.disnaker,
            )
        first = r["allocations"][0] if r["allocations"] else None
        if mail.queue(
            session,
            key=key,
            event="payment_recorded",
            program=plan.code,
            period=first["period"] if first else None,
            to=to,
            cc=cc,
            template="payment_recorded",
            context=context,
            invoice_id=first["invoice_id"] if first and len(r["allocations"]) == 1 else None,
        ):
            queued += 1
    return queued


def _import_file(
    apply: Callable[..., dict[str, Any]],
    kind: str,
    database_url: str,
    path: str | Path,
    *,
    program: str | None,
    today: dt.date | None,
    source: str | None,
    skip_known: bool,
) -> dict[str, Any]:
    """Read a payment or receipt file, register it (`PaymentImport`) and `apply` its rows, all in one
    transaction. `skip_known`: a file whose bytes were imported before is not read again (the inbox
    flow); otherwise a re-import reports "already recorded"."""
    today = today or dt.date.today()
    shown = source or str(path)
    faulty = kind == PAYMENT  # the crash suite's fault points lie on the payment import's path
    try:
        raw, sha = read_payment_table(path, kind)
    except PaymentFileError as exc:
        return {
            "file": shown,
            "kind": kind,
            "status": "rejected",
            "code": exc.code,
            "message": exc.message,
        }
    with session_scope(database_url) as session:
        begin_write(session)
        import_id, created = _import_row(session, kind, program, shown, sha, len(raw))
        if faulty:
            faults.point("payments.file_registered")
        if skip_known and not created:
            return {"file": shown, "kind": kind, "sha256": sha, "status": "skipped"}
        result = apply(
            session, raw, today=today, program=program, source=shown, import_id=import_id
        )
        # The file's record says what it recorded: a re-import that records nothing leaves it be.
        if created or result["summary"]["recorded"]:
            session.execute(
                update(PaymentImport)
                .where(PaymentImport.id == import_id)
                .values(summary=result["summary"])
            )
        if faulty:
            faults.point("payments.before_commit")
    log.info("%s %s: %s", "payments" if faulty else "receipts", shown, result["summary"])
    return {"file": shown, "kind": kind, "sha256": sha, "status": "read", **result}


def import_payment_file(
    database_url: str,
    path: str | Path,
    *,
    program: str | None = None,
    today: dt.date | None = None,
    source: str | None = None,
    skip_known: bool = False,
) -> dict[str, Any]:
    """Import one payment file (one transaction). `skip_known`: a file whose bytes were imported
    before is not read again (the inbox flow); otherwise a re-import reports "already recorded"."""
    return _import_file(
        apply_payments,
        PAYMENT,
        database_url,
        path,
        program=program,
        today=today,
        source=source,
        skip_known=skip_known,
    )


def record_payment(
    database_url: str,
    *,
    nomor_sp2d: str,
    tanggal: str,
    jumlah: str,
    nomor_tagihan: str | None = None,
    keterangan: str | None = None,
    program: str | None = None,
    payer: str | None = None,
    today: dt.date | None = None,
) -> dict[str, Any]:
    """One payment typed in by hand: the same rules as a file row (row number 1)."""
    raw = pd.DataFrame(
        {
            "nomor_sp2d": [nomor_sp2d],
            "tanggal_sp2d": [tanggal],
            "jumlah": [jumlah],
            "nomor_tagihan": [nomor_tagihan],
            "keterangan": [keterangan],
            "payer": [payer],
            "program": [program],
        },
        dtype="string",
    ).assign(source_row=pd.array([1], dtype="int64"))
    with session_scope(database_url) as session:
        result = apply_payments(
            session, raw, today=today or dt.date.today(), program=program, source="manual"
        )
    return {"file": None, "kind": PAYMENT, "status": "read", **result}


# ---------------------------------------------------------------------------------------------------
# Credit and receipts


REMOVED_AFTER_PAYMENT = "peserta_dikeluarkan"


def credit_note_number(invoice_number: str, seq: int) -> str:
    """`001/TAG-JKK-JKM/LBK/I/2026-K1`: the first credit note of that invoice."""
    return f"{invoice_number}-K{seq}"


def credit_removed_workers(
    session: Session, cycle_id: int, invoices: Sequence[Invoice], billed: Iterable[int]
) -> list[CreditNote]:
    """Workers no longer billed whose lines stay on a paid (or partly paid) invoice become credit.

    A paid invoice is never changed: what the removed workers cost goes on a credit note of the
    payer, which `apply_credits` spends on the payer's unpaid invoices (a partly paid source
    invoice first: it is the oldest). `invoices`: the payer's live invoices of the period; `billed`:
    the participant ids the payer is billed for now. A worker is credited once per invoice
    (`uq_credit_line_current`), so a rerun writes nothing and a later fix that removes more workers
    credits only those. A credited worker billed again takes the credit back while it is unspent.
    Every paid invoice with credit notes gets a `change_note` naming them. Returns the new notes.
    """
    paid = {inv.id: inv for inv in invoices if inv.payment_state != "unpaid"}
    if not paid:
        return []
    still = {int(i) for i in billed}
    lines = session.execute(
        select(ContributionLine.invoice_id, ContributionLine.participant_id, ContributionLine.total)
        .where(ContributionLine.invoice_id.in_(list(paid)), ContributionLine.is_current)
        .order_by(ContributionLine.invoice_id, ContributionLine.participant_id)
    ).all()
    notes_stmt = select(CreditNote).where(CreditNote.source_invoice_id.in_(list(paid)))
    if session.get_bind().dialect.name == "postgresql":  # `apply_credits` may spend them meanwhile
        notes_stmt = notes_stmt.with_for_update()
    notes = {n.id: n for n in session.scalars(notes_stmt.order_by(CreditNote.id))}
    credited = session.scalars(
        select(CreditNoteLine)
        .where(CreditNoteLine.source_invoice_id.in_(list(paid)), CreditNoteLine.is_current)
        .order_by(CreditNoteLine.credit_note_id.desc(), CreditNoteLine.id)
    ).all()
    spent_back: dict[int, list[int]] = {}  # billed again, but their credit is already spent
    for line in credited:  # newest note first
        if line.participant_id not in still:
            continue
        note = notes[line.credit_note_id]
        if note.unapplied >= line.amount:
            note.unapplied -= line.amount
            note.withdrawn += line.amount
            line.is_current = False
        else:
            spent_back.setdefault(line.source_invoice_id, []).append(int(line.amount))
    covered = {(c.source_invoice_id, c.participant_id) for c in credited}
    fresh: dict[int, list[tuple[int, int]]] = {}
    for invoice_id, participant_id, total in lines:
        if participant_id not in still and (invoice_id, participant_id) not in covered:
            fresh.setdefault(int(invoice_id), []).append((int(participant_id), int(total)))
    written: list[CreditNote] = []
    for invoice_id, gone in fresh.items():
        inv = paid[invoice_id]
        seq = 1 + max((n.seq for n in notes.values() if n.source_invoice_id == inv.id), default=0)
        amount = sum(t for _, t in gone)
        note = CreditNote(
            number=credit_note_number(inv.number, seq),
            program=inv.program,
            payer_key=inv.payer_key,
            period=inv.period,
            source_invoice_id=inv.id,
            seq=seq,
            cycle_id=cycle_id,
            reason=REMOVED_AFTER_PAYMENT,
            participants=len(gone),
            amount=amount,
            unapplied=amount,
            withdrawn=0,
            note=message(
                "KREDIT_PESERTA_KELUAR",
                jumlah_peserta=len(gone),
                nomor=inv.number,
                jumlah=rupiah(amount),
                pembayar=inv.payer_name,
            ),
            created_at=dt.datetime.now(dt.UTC),
        )
        session.add(note)
        session.flush()
        session.execute(
            insert(CreditNoteLine),
            [
                {
                    "credit_note_id": note.id,
                    "source_invoice_id": inv.id,
                    "participant_id": p,
                    "amount": t,
                    "is_current": True,
                }
                for p, t in gone
            ],
        )
        notes[note.id] = note
        written.append(note)
    for inv in paid.values():
        own = sorted((n for n in notes.values() if n.source_invoice_id == inv.id), key=_seq)
        if own:
            current = [
                int(c.amount) for c in credited if c.is_current and c.source_invoice_id == inv.id
            ]
            current += [t for _, t in fresh.get(inv.id, [])]
            inv.change_note = _credit_change_note(own, current, spent_back.get(inv.id, []))
    return written


def credited_invoices(session: Session, invoice_ids: Collection[int]) -> set[int]:
    """Those of these invoices that have workers credited (current credit note lines)."""
    if not invoice_ids:
        return set()
    return set(
        session.scalars(
            select(CreditNoteLine.source_invoice_id)
            .where(
                CreditNoteLine.source_invoice_id.in_(list(invoice_ids)), CreditNoteLine.is_current
            )
            .distinct()
        )
    )


def _seq(note: CreditNote) -> int:
    return note.seq


def _credit_change_note(notes: list[CreditNote], current: list[int], spent_back: list[int]) -> str:
    """What the paid invoice's change note says about its credit notes (no names, no NIKs)."""
    said = []
    if current:
        listed = ", ".join(
            f"{n.number} {rupiah(int(n.amount))} ({n.participants} peserta)"
            for n in notes
            if n.amount > n.withdrawn
        )
        said.append(
            f"{len(current)} peserta tidak lagi ditagih setelah tagihan ini dibayar. Tagihan ini "
            f"tidak diubah: iuran mereka {rupiah(sum(current))} menjadi kredit untuk tagihan "
            f"berikutnya (nota kredit {listed})."
        )
    withdrawn = sum(int(n.withdrawn) for n in notes)
    if withdrawn:
        said.append(f"Kredit {rupiah(withdrawn)} ditarik kembali karena pesertanya ditagih lagi.")
    if spent_back:
        said.append(
            f"{len(spent_back)} peserta ditagih lagi setelah kreditnya ({rupiah(sum(spent_back))}) "
            "terpakai: tagih selisih itu dengan tagihan susulan."
        )
    return " ".join(said)


def _credit_mail(
    session: Session, plan: Program, p: Payment, used: int, entry: dict[str, Any]
) -> None:
    """`payment_recorded` (`credit_applied`) to BPJS and BKAD: an overpayment now pays invoices."""
    left = entry["credit_left"]
    _credit_use_mail(
        session,
        plan,
        entry,
        key=f"payment_credit:{p.nomor_sp2d}:{_paid_key(entry)}:bpjs",
        event="payment_recorded",
        to=(*plan.recipients.bpjs, *plan.recipients.bkad),
        context={
            "nomor_sp2d": p.nomor_sp2d,
            "tanggal_sp2d": p.tanggal_sp2d,
            "jumlah": int(p.jumlah),
            "credit_applied": used,
            "status": "credit" if left else "matched",
            "unallocated": left,
        },
    )


def _credit_note_mail(
    session: Session, plan: Program, note: CreditNote, entry: dict[str, Any]
) -> None:
    """`credit_applied` to BKAD and BPJS: a credit note now pays invoices, so BKAD pays only the
    rest (without it, BKAD would pay the invoice mail's full amount again)."""
    source = session.get(Invoice, note.source_invoice_id)
    _credit_use_mail(
        session,
        plan,
        entry,
        key=f"credit_note_applied:{note.number}:{_paid_key(entry)}:{entry['used']}",
        event="credit_applied",
        to=(*plan.recipients.bkad, *plan.recipients.bpjs),
        context={
            "credit_note": note.number,
            "source_invoice": source.number if source is not None else "",
            "source_period_label": _period_label(note.period),
            "participants": int(note.participants),
            "credit_amount": int(note.amount),
            "used": entry["used"],
            "credit_left": entry["credit_left"],
        },
    )


def _credit_use_mail(
    session: Session,
    plan: Program,
    entry: dict[str, Any],
    *,
    key: str,
    event: str,
    to: tuple[str, ...],
    context: dict[str, Any],
) -> None:
    """Credit (an overpayment, a credit note) now paying invoices: the invoices it paid and what
    is left of each, cc Disnaker; the template is named after the event."""
    allocations = entry["allocations"]
    mail.queue(
        session,
        key=key,
        event=event,
        program=plan.code,
        period=allocations[0]["period"],
        to=to,
        cc=plan.recipients.disnaker,
        template=event,
        context={
            "program_name": plan.name,
            "regency_name": plan.regency_name,
            "allocations": [
                {k: a[k] for k in ("number", "period_label", "amount", "remaining")}
                for a in allocations
            ],
            **context,
        },
        invoice_id=allocations[0]["invoice_id"] if len(allocations) == 1 else None,
    )


def _paid_key(entry: dict[str, Any]) -> str:
    """The invoices a credit paid, short enough for an outbox key (200 characters in all)."""
    ident = ",".join(str(a["invoice_id"]) for a in entry["allocations"])
    return ident if len(ident) <= 40 else hashlib.sha256(ident.encode()).hexdigest()[:16]


def apply_credits(session: Session, program: str, today: dt.date) -> list[dict[str, Any]]:
    """Credit pays the payer's unpaid invoices, oldest first: overpayments (a `credit` payment with a
    known payer) and credit notes (workers removed from a paid invoice), the oldest credit first.

    Returns one entry per credit that paid something (`source`: `sp2d` | `credit_note`); an
    overpayment's use is announced with a `payment_recorded` message (`credit_applied`), a credit
    note's with a `credit_applied` message.
    """
    begin_write(session)
    open_payments = (
        Payment.program == program,
        Payment.status == "credit",
        Payment.unallocated > 0,
        Payment.payer_key.is_not(None),
    )
    open_notes = (CreditNote.program == program, CreditNote.unapplied > 0)
    if not (
        session.scalar(select(Payment.id).where(*open_payments).limit(1))
        or session.scalar(select(CreditNote.id).where(*open_notes).limit(1))
    ):
        return []
    invoices = _load_invoices(session, [program], [])  # locks them first (PostgreSQL), then credit
    if not len(invoices):
        return []
    lock = session.get_bind().dialect.name == "postgresql"
    payments_stmt = select(Payment).where(*open_payments)
    notes_stmt = select(CreditNote).where(*open_notes)
    if lock:
        payments_stmt, notes_stmt = payments_stmt.with_for_update(), notes_stmt.with_for_update()
    fresh = {"populate_existing": True}
    sources: list[tuple[dt.date, int, int, Payment | CreditNote]] = [
        (p.tanggal_sp2d, 0, p.id, p)
        for p in session.scalars(payments_stmt.execution_options(**fresh))
    ]
    sources += [
        (n.created_at.date(), 1, n.id, n)
        for n in session.scalars(notes_stmt.execution_options(**fresh))
    ]
    live = _oldest_first(invoices.loc[invoices["document_state"].isin(LIVE)]).set_index(
        "id", drop=False
    )
    ledger = _Ledger(live)
    plan = _programs([program]).get(program)
    payment_ids = [c.id for *_, c in sources if isinstance(c, Payment)]
    note_ids = [c.id for *_, c in sources if isinstance(c, CreditNote)]
    existing = set(
        session.execute(
            select(
                PaymentAllocation.payment_id,
                PaymentAllocation.credit_note_id,
                PaymentAllocation.invoice_id,
            ).where(
                or_(
                    PaymentAllocation.payment_id.in_(payment_ids),
                    PaymentAllocation.credit_note_id.in_(note_ids),
                )
            )
        ).tuples()
    )
    applied: list[dict[str, Any]] = []
    touched: set[int] = set()
    for *_, c in sorted(sources, key=lambda s: s[:3]):
        is_payment = isinstance(c, Payment)
        before = int(c.unallocated) if isinstance(c, Payment) else int(c.unapplied)
        paid, left = ledger.allocate(ledger.open_for(program, str(c.payer_key)), before)
        if not paid:
            continue
        source_col = (
            PaymentAllocation.payment_id if is_payment else PaymentAllocation.credit_note_id
        )
        for invoice_id, amount, _ in paid:
            if ((c.id, None) if is_payment else (None, c.id)) + (invoice_id,) in existing:
                session.execute(
                    update(PaymentAllocation)
                    .where(source_col == c.id, PaymentAllocation.invoice_id == invoice_id)
                    .values(amount=PaymentAllocation.amount + amount)
                )
            else:
                session.execute(
                    insert(PaymentAllocation),
                    [{source_col.key: c.id, "invoice_id": invoice_id, "amount": amount}],
                )
            touched.add(invoice_id)
        used = before - left
        entry: dict[str, Any] = {
            "source": "sp2d" if is_payment else "credit_note",
            "nomor_sp2d": c.nomor_sp2d if isinstance(c, Payment) else None,
            "credit_note": None if isinstance(c, Payment) else c.number,
            "payer": c.payer_key,
            "used": used,
            "credit_left": left,
            "allocations": [
                {
                    "invoice_id": i,
                    "number": str(live.at[i, "number"]),
                    "period": str(live.at[i, "period"]),
                    "period_label": _period_label(str(live.at[i, "period"])),
                    "amount": a,
                    "remaining": rem,
                }
                for i, a, rem in paid
            ],
        }
        applied.append(entry)
        if isinstance(c, CreditNote):
            c.unapplied = left
            if plan is not None:
                _credit_note_mail(session, plan, c, entry)
            continue
        numbers = ", ".join(str(live.at[i, "number"]) for i, _, _ in paid)
        c.unallocated = left
        c.status = "credit" if left else "matched"
        c.note = ((c.note + " ") if c.note else "") + (
            f"Kredit {rupiah(used)} dipakai untuk tagihan {numbers} pada {_tanggal(today)}."
        )
        if plan is not None:
            _credit_mail(session, plan, c, used, entry)
    session.flush()
    refresh_invoices(session, touched)
    return applied


def link_receipts(
    session: Session, *, sp2ds: Collection[str] | None = None, program: str | None = None
) -> set[int]:
    """Receipts recorded before their SP2D (status `unmatched`) are matched to it now. Returns the
    invoices whose state may change."""
    stmt = select(Receipt).where(Receipt.status == "unmatched")
    if sp2ds is not None:
        if not sp2ds:
            return set()
        stmt = stmt.where(Receipt.nomor_sp2d.in_(list(sp2ds)))
    if program is not None:
        stmt = stmt.where(or_(Receipt.program == program, Receipt.program.is_(None)))
    waiting = session.scalars(stmt).all()
    if not waiting:
        return set()
    payments = {
        p.nomor_sp2d: p
        for p in session.scalars(
            select(Payment).where(Payment.nomor_sp2d.in_([r.nomor_sp2d for r in waiting]))
        )
    }
    linked: list[int] = []
    for r in waiting:
        p = payments.get(r.nomor_sp2d)
        if p is None:
            continue
        r.payment_id = p.id
        r.status, _, r.note = _receipt_verdict(r.nomor_sp2d, int(r.jumlah), r.program, p)
        linked.append(p.id)
    session.flush()
    return set(
        session.scalars(
            select(PaymentAllocation.invoice_id).where(PaymentAllocation.payment_id.in_(linked))
        )
    )


def _receipt_verdict(
    sp2d: str, received: int, program: str | None, p: Payment
) -> tuple[str, str | None, str]:
    """(status, code or None, message) of a receipt for payment `p`."""
    if program and p.program and p.program != program:
        code = "PENERIMAAN_PROGRAM_LAIN"
        return "mismatch", code, message(code, sp2d=sp2d, program_sp2d=p.program, program=program)
    if received != int(p.jumlah):
        code = "PENERIMAAN_SELISIH"
        return (
            "mismatch",
            code,
            message(
                code,
                sp2d=sp2d,
                diterima=rupiah(received),
                jumlah=rupiah(int(p.jumlah)),
                selisih=rupiah(received - int(p.jumlah)),
            ),
        )
    return "confirmed", None, message("PENERIMAAN_SESUAI")


def apply_receipts(
    session: Session,
    raw: pd.DataFrame,
    *,
    today: dt.date,
    program: str | None = None,
    source: str | None = None,
    import_id: int | None = None,
) -> dict[str, Any]:
    """Record BPJS receipt rows: each is matched to its SP2D by number; the amount must agree."""
    begin_write(session)
    valid, rejected = validate_rows(raw, RECEIPT, today, program)
    valid = valid.sort_values("source_row").reset_index(drop=True)
    sp2ds = list(valid["nomor_sp2d"].astype(str))
    before = {
        r.nomor_sp2d: r
        for r in session.scalars(select(Receipt).where(Receipt.nomor_sp2d.in_(sp2ds)))
    }
    payments = {
        p.nomor_sp2d: p
        for p in session.scalars(select(Payment).where(Payment.nomor_sp2d.in_(sp2ds)))
    }
    results: list[dict[str, Any]] = []
    confirmed_payments: list[int] = []
    seen: dict[str, tuple[int, dt.date]] = {
        r.nomor_sp2d: (int(r.jumlah), r.tanggal_terima) for r in before.values()
    }
    for r in valid.itertuples(index=False):
        sp2d, amount = str(r.nomor_sp2d), int(r.jumlah)
        prog = None if pd.isna(r.program) else str(r.program)
        base = {
            "row": int(r.source_row),
            "nomor_sp2d": sp2d,
            "tanggal": r.tanggal.isoformat(),
            "jumlah": amount,
        }
        if sp2d in seen:
            ref_amount, ref_date = seen[sp2d]
            if (ref_amount, ref_date) == (amount, r.tanggal):
                text_ = message("PENERIMAAN_SUDAH_DICATAT", sp2d=sp2d)
                results.append(
                    base
                    | {
                        "result": "already_recorded",
                        "code": "PENERIMAAN_SUDAH_DICATAT",
                        "message": text_,
                    }
                )
            else:
                results.append(
                    base
                    | {
                        "result": "conflict",
                        "code": "PENERIMAAN_KONFLIK",
                        "message": message(
                            "PENERIMAAN_KONFLIK",
                            sp2d=sp2d,
                            jumlah_lama=rupiah(ref_amount),
                            tanggal_lama=_tanggal(ref_date),
                            jumlah=rupiah(amount),
                            tanggal=_tanggal(r.tanggal),
                        ),
                    }
                )
            continue
        seen[sp2d] = (amount, r.tanggal)
        p = payments.get(sp2d)
        code: str | None = "PENERIMAAN_TANPA_SP2D"
        if p is None:
            status, note = "unmatched", message("PENERIMAAN_TANPA_SP2D", sp2d=sp2d)
        else:
            status, code, note = _receipt_verdict(sp2d, amount, prog, p)
        session.add(
            Receipt(
                nomor_sp2d=sp2d,
                tanggal_terima=r.tanggal,
                jumlah=amount,
                program=prog or (p.program if p else None),
                payment_id=p.id if p else None,
                status=status,
                note=note,
                import_id=import_id,
                source=source,
                source_row=int(r.source_row),
            )
        )
        if status == "confirmed" and p is not None:
            confirmed_payments.append(p.id)
        results.append(
            base | {"result": "recorded", "status": status, "code": code, "message": note}
        )
    session.flush()
    touched = set(
        session.scalars(
            select(PaymentAllocation.invoice_id).where(
                PaymentAllocation.payment_id.in_(confirmed_payments)
            )
        )
    )
    changed = refresh_invoices(session, touched)
    for r in rejected.itertuples(index=False):
        results.append(
            {
                "row": int(r.source_row),
                "nomor_sp2d": None if pd.isna(r.nomor_sp2d) else str(r.nomor_sp2d),
                "result": "rejected",
                "column": r.column,
                "code": r.code,
                "message": r.message,
            }
        )
    results.sort(key=lambda x: x["row"])
    recorded = [x for x in results if x["result"] == "recorded"]
    summary = {
        "rows": len(results),
        "recorded": len(recorded),
        "confirmed": sum(x["status"] == "confirmed" for x in recorded),
        "mismatch": sum(x["status"] == "mismatch" for x in recorded),
        "unmatched": sum(x["status"] == "unmatched" for x in recorded),
        "already_recorded": sum(x["result"] == "already_recorded" for x in results),
        "conflicts": sum(x["result"] == "conflict" for x in results),
        "rejected": sum(x["result"] == "rejected" for x in results),
        "invoices_confirmed": changed,
    }
    return {"summary": summary, "receipts": results}


def import_receipt_file(
    database_url: str,
    path: str | Path,
    *,
    program: str | None = None,
    today: dt.date | None = None,
    source: str | None = None,
    skip_known: bool = False,
) -> dict[str, Any]:
    """Import one BPJS receipt file (one transaction); see `import_payment_file`."""
    return _import_file(
        apply_receipts,
        RECEIPT,
        database_url,
        path,
        program=program,
        today=today,
        source=source,
        skip_known=skip_known,
    )


def settle(database_url: str, program: str, today: dt.date | None = None) -> dict[str, Any]:
    """Bring a program's payment state up to date: credit pays new invoices, receipts that waited
    for their SP2D are matched, and every live invoice's state is recomputed (one transaction)."""
    faults.point("payments.settle")
    with session_scope(database_url) as session:
        begin_write(session)
        credits = apply_credits(session, program, today or dt.date.today())
        link_receipts(session, program=program)
        ids = session.scalars(
            select(Invoice.id).where(Invoice.program == program, Invoice.document_state.in_(LIVE))
        ).all()
        changed = refresh_invoices(session, ids)
    return {"credits_applied": credits, "invoices_changed": changed}


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


__all__ = [
    "MESSAGES",
    "Matched",
    "PaymentFileError",
    "apply_credits",
    "apply_payments",
    "apply_receipts",
    "import_payment_file",
    "import_receipt_file",
    "link_receipts",
    "match_payments",
    "parse_amounts",
    "read_payment_table",
    "record_payment",
    "refresh_invoices",
    "settle",
    "split_numbers",
    "validate_rows",
]
