"""Payment and receipt rows: the row rules (whole columns at a time) and every message they give.

Codes are stable (stored and counted); the Indonesian message is what BKAD's or BPJS's operator reads
beside the row number they see in their spreadsheet. Money is whole Rupiah: `57.960.000`,
`Rp57.960.000`, `57960000` and `57.960.000,00` are read, and so is a BPJS receipt's
`Rp 446,819,131.00` (comma thousands with dot cents: both separators written, so their roles are
clear). A comma-thousands amount without the cents (`1,234`, `57,960,000`) is refused: `1,234`
may be 1 Rupiah and cents. Any other decimals are refused. A date may also be SIPD's datetime text
(`2026-01-13 00:00:00`; `0001-01-01 00:00:00` is SIPD's empty date) or a receipt's `22-SEP-2023`.
An invoice number written in the description (`... sesuai tagihan 001/TAG-JKK-JKM/LBK/I/2026`) is
used when the row has no `nomor_tagihan`.
"""

from __future__ import annotations

import datetime as dt
import re

import pandas as pd

from iuran.intake.refusal import FILE_MESSAGES
from iuran.invoicing import NUMBER_KIND
from iuran.rosters.validate import parse_dates
from iuran.wilayah import normalize_kode_desa

PAYMENT, RECEIPT = "pembayaran", "penerimaan"


REGENCY_PAYER = "kabupaten"
#: A payment or receipt row's outcome, as the command line and the counter show it
RESULT_LABELS = {
    "already_recorded": "sudah tercatat",
    "conflict": "konflik, tidak dicatat",
    "rejected": "ditolak",
}
STATUS_LABELS = {
    "matched": "cocok",
    "partial": "dibayar sebagian",
    "credit": "lebih bayar (kredit)",
    "unmatched": "belum cocok",
    "confirmed": "sesuai",
    "mismatch": "selisih",
}


#: Column names as the operator reads them in a message.
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
    # files: one text for every file people send
    **FILE_MESSAGES,
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
        "yyyy-mm-dd, 20-JAN-2026, atau sel tanggal Excel; tahun ditulis 4 digit."
    ),
    "TANGGAL_MASA_DEPAN": "{kolom} {nilai} belum terjadi (hari ini {hari_ini}); periksa kembali tanggalnya.",
    "JUMLAH_KOSONG": "Jumlah kosong; isi nilai SP2D dalam Rupiah, mis. 57.960.000.",
    "JUMLAH_FORMAT": (
        "Jumlah '{nilai}' bukan angka Rupiah yang dikenali. Tulis Rupiah bulat dengan titik sebagai "
        "pemisah ribuan, mis. 57.960.000, Rp57.960.000 atau 57960000 (pemisah ribuan koma hanya "
        "dengan sen .00, seperti kuitansi BPJS: Rp 57,960,000.00)."
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


def tanggal(day: dt.date) -> str:
    return day.strftime("%d/%m/%Y")


_AMOUNT = re.compile(r"^(?P<n>\d{1,3}(?:\.\d{3})+|\d+)(?:,0{1,2})?$")


_AMOUNT_CENTS = r"^(?:\d{1,3}(?:\.\d{3})+|\d+)[,.]\d{1,2}$"


#: A BPJS receipt's `446,819,131.00`: comma thousands and dot cents, both written.
_AMOUNT_EN = r"^(?P<n>\d{1,3}(?:,\d{3})+)\.(?P<c>\d{2})$"


#: The invoice numbers `iuran.invoicing.invoice_number` gives (`001/TAG-JKK-JKM/LBK/I/2026`), as
#: found anywhere in a free text; spaces around the `/` are tolerated.
_INVOICE_IN_TEXT = re.compile(
    rf"(?<![0-9A-Z])\d{{3,6}}\s*/\s*{re.escape(NUMBER_KIND)}\s*/\s*[A-Z]{{2,6}}\s*/\s*[IVXL]{{1,4}}\s*/\s*\d{{4}}(?!\d)",
    re.IGNORECASE,
)


#: SIPD RI's empty date.
_EMPTY_DATE = r"^\s*0001-01-01(?:[ T]00:00(?::00)?)?\s*$"


_REGENCY_WORDS = {"kabupaten", "kab", "pemkab", "regency", "bkad", "pemda"}


VALID_COLUMNS = ["source_row", "nomor_sp2d", "tanggal", "jumlah", "nomor_tagihan", "tagihan",
                 "keterangan", "program", "payer"]  # fmt: skip


REJECTED_COLUMNS = ["source_row", "nomor_sp2d", "column", "code", "message"]


def parse_amounts(raw: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Rupiah as written -> (Int64 amounts, code of the problem or <NA>). Accepts `57.960.000`,
    `Rp57.960.000`, `Rp 57.960.000,00`, `57960000`, `57.960.000,-` and a BPJS receipt's
    `Rp 446,819,131.00`; refuses other decimals and comma thousands without the `.00`."""
    s = raw.astype("string").str.lower().str.replace(r"[\s\u00a0]+", "", regex=True)
    s = s.str.replace(r"^(?:rp\.?|idr)", "", regex=True).str.replace(r"[,.]-$", "", regex=True)
    english = s.str.extract(_AMOUNT_EN)
    english_cents = english["n"].notna() & (english["c"] != "00")
    digits = s.str.extract(_AMOUNT.pattern)["n"].str.replace(".", "", regex=False)
    digits = digits.fillna(english["n"].mask(english_cents).str.replace(",", "", regex=False))
    ok = digits.notna() & (digits.str.len() <= 15)
    amounts = pd.Series(pd.NA, index=raw.index, dtype="Int64")
    amounts[ok.fillna(False).astype(bool)] = digits[ok.fillna(False).astype(bool)].astype("Int64")
    code = pd.Series(pd.NA, index=raw.index, dtype="string")
    empty = raw.isna() | (s == "")
    cents = s.str.match(_AMOUNT_CENTS).fillna(False).astype(bool) & ~s.str.match(
        r".*[,.]0{1,2}$"
    ).fillna(False).astype(bool)
    code[~empty & ~ok.fillna(False).astype(bool)] = "JUMLAH_FORMAT"
    code[~empty & (cents | english_cents.fillna(False).astype(bool))] = "JUMLAH_DESIMAL"
    code[~empty & ok.fillna(False).astype(bool) & (amounts.fillna(0) <= 0)] = "JUMLAH_NOL"
    code[empty] = "JUMLAH_KOSONG"
    return amounts.where(code.isna()), code


def split_numbers(value: object) -> tuple[str, ...]:
    """`001/TAG-JKK-JKM/LBK/I/2026; 002/...` -> the invoice numbers, spaces removed, upper case, once."""
    if value is None or value is pd.NA or not isinstance(value, str):
        return ()
    parts = (re.sub(r"\s+", "", p).upper() for p in re.split(r"[;,\n]+", value))
    return tuple(dict.fromkeys(p for p in parts if p))


def numbers_in_text(value: object) -> tuple[str, ...]:
    """Every invoice number written in a free text (`Pembayaran iuran ... sesuai tagihan
    001/TAG-JKK-JKM/LBK/I/2026 dan 002/...`), spaces removed, upper case, once, in order."""
    if not isinstance(value, str):
        return ()
    found = (re.sub(r"\s+", "", m).upper() for m in _INVOICE_IN_TEXT.findall(value))
    return tuple(dict.fromkeys(found))


def normalize_payers(raw: pd.Series) -> pd.Series:
    """`kabupaten` (or `Kab.`, `Pemkab`, `BKAD`) -> `kabupaten`; a village code -> `36.02.01.2001`;
    anything else is kept as written (and will not match a payer)."""
    s = raw.astype("string").str.strip()
    s = s.mask(s == "")
    word = s.str.lower().str.replace(r"[^a-z]", "", regex=True)
    village = normalize_kode_desa(s)
    out = village.fillna(s)
    return out.mask(word.isin(list(_REGENCY_WORDS)).fillna(False).astype(bool), REGENCY_PAYER)


def date_problems(
    raw: pd.Series, label: str, today: dt.date
) -> tuple[pd.Series, pd.Series, pd.Series]:
    """(dates as Python date objects, code or <NA>, message or <NA>) for one date column."""
    text = raw.astype("string")
    parsed = parse_dates(text)
    code = pd.Series(pd.NA, index=raw.index, dtype="string")
    bad = parsed.isna() | (parsed.dt.year < 2000)
    code[bad] = "TANGGAL_FORMAT"
    empty = raw.isna() | text.str.match(_EMPTY_DATE).fillna(False).astype(bool)
    code[empty] = "TANGGAL_KOSONG"
    future = ~bad & (parsed.dt.date > today)
    code[future] = "TANGGAL_MASA_DEPAN"
    msgs = pd.Series(pd.NA, index=raw.index, dtype="string")
    for i in code.dropna().index:
        shown = raw[i] if code[i] != "TANGGAL_MASA_DEPAN" else tanggal(parsed[i].date())
        msgs[i] = message(str(code[i]), kolom=label, nilai=shown, hari_ini=tanggal(today))
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
    dates, date_code, date_msg = date_problems(r[date_col], LABELS[date_col], today)
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
    given = [split_numbers(v) for v in ok["nomor_tagihan"]]
    numbers = [g or numbers_in_text(k) for g, k in zip(given, ok["keterangan"], strict=True)]
    found = pd.Series(["; ".join(n) if n else pd.NA for n in numbers], index=ok.index)
    nomor_tagihan = ok["nomor_tagihan"].astype("string").fillna(found.astype("string"))
    program = program[~bad]
    if default_program:
        program = program.fillna(default_program)
    valid = pd.DataFrame(
        {
            "source_row": ok["source_row"].astype("int64"),
            "nomor_sp2d": sp2d[~bad],
            "tanggal": dates[~bad],
            "jumlah": amounts[~bad].astype("int64"),
            "nomor_tagihan": nomor_tagihan,
            "tagihan": pd.Series(numbers, index=ok.index, dtype=object),
            "keterangan": ok["keterangan"].astype("string"),
            "program": program,
            "payer": payer[~bad],
        },
        columns=VALID_COLUMNS,
    )
    return valid.reset_index(drop=True), rejected.reset_index(drop=True)


def opt(value: object) -> str | None:
    """A frame cell as str, None for None / NaN / <NA>."""
    return None if value is None or pd.isna(value) else str(value)
