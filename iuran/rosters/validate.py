"""Row rules: every roster row is either accepted (clean, typed) or rejected with ONE reason.

All rules run on whole columns. A row with several faults is rejected for the first failing rule in
`RULE_ORDER`: identity first (the NIK, then a duplicate NIK in the same file), then the fields in the
template's order, then eligibility (occupation, then age), then the optional income. One clear reason per row is what a
village operator can act on; after the fix the next run names the next fault, if any.

Decisions written down:
- Required: nik, nama, tanggal_lahir, jenis_kelamin, kode_desa. `pekerjaan` is optional and becomes
  "" when empty (pricing matches sectors on it, "" matches none); alamat / no_hp stay <NA> when empty.
  A cell holding only dashes or dots (`-`) counts as empty.
- tanggal_lahir: `dd/mm/yyyy`, `dd-mm-yyyy`, `dd.mm.yyyy`, `yyyy-mm-dd` (optionally with a time),
  `15 Mei 1990` (Indonesian or English month names, abbreviations too), or an Excel serial number
  between 10000 and 80000 (days since 1899-12-30: 1927–2119). A bare year is not a date; two-digit
  years are refused (the century would be a guess); day first only (`05/06/1990` is 5 June).
- tanggal_lahir must agree with the NIK on day, month and the two year digits (the NIK has no
  century); jenis_kelamin (`L`/`P`, `Laki-laki`, `Perempuan`, `LK`, `PR`, `Pria`, `Wanita`, any case)
  must agree with the NIK (day + 40 = woman).
- Occupation, by its category (`iuran.occupations.category`): ASN/PNS, TNI, POLRI are refused
  (PEKERJAAN_ASN_TNI_POLRI: Taspen/ASABRI insure them), wage employees (karyawan swasta/BUMN/BUMD,
  honorer, perangkat desa) too (PEKERJAAN_PENERIMA_UPAH: their employer registers them), office
  holders (kepala desa, DPR/DPRD, bupati...) too (PEKERJAAN_PEJABAT); people who do not work
  (belum/tidak bekerja, pelajar/mahasiswa, mengurus rumah tangga, pensiunan) are refused
  (PEKERJAAN_BUKAN_PEKERJA) unless the program says `non_workers: accept`. An empty occupation is
  accepted. `validate_rows` takes any frame of workers in the roster's columns: the rules hold for
  every worker billed, not only for rows received this month.
- Age is whole years on the first day of the period, accepted when age_min <= age <= age_max.
- kode_desa is normalised by `iuran.wilayah.normalize_kode_desa` and must be a village of the program's
  regency; in a desa-only program a kelurahan is KODE_DESA_BUKAN_DESA.
- penghasilan is optional: `1500000`, `1.500.000`, `1,500,000`, `Rp 1.500.000,-`, `1.500.000,00` ->
  Int64 Rupiah; decimals other than zero, negatives or more than 12 digits are PENGHASILAN_FORMAT.
- A NIK from an XLSX number cell ending in 0 (`3.60201150590001E+15`: Excel may have rounded its
  last digit) is NIK_NOTASI_ILMIAH, unless validate's caller confirmed it first
  (`confirm_rounded_niks`: the registry holds that exact NIK with the same name and birth date).
- The same NIK twice in one file: the first row (lowest row number) is judged on its own, the later
  ones are NIK_GANDA_BERKAS naming the first. The same NIK in different files is left to `reconcile`.
- A population register's status (`status_penduduk`: SIAK `Status`, OpenSID `status_dasar`, kept by
  the reader only for a register export) of `Mati`, `Pindah`, `Hilang`, `Pergi` or `Tidak Valid` is
  PENDUDUK_BUKAN_HIDUP: nobody who died or moved away is billed. Other values (`Hidup`, the printable
  list's `Tetap`/`Tidak Tetap`) are no reason to refuse.
- In the rejected frame, `kode_desa` is the dotted code when it has that shape (else the raw text),
  and raw values are cut to the registry's column widths (kode_desa 13, nik 20, nama 200).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from iuran import faults
from iuran.conflicts import fold_names
from iuran.nik import (
    NIK_CODES,
    birth_parts,
    decode,
    flags,
    integers,
    make_dates,
    mask_series,
    matches,
    text_array,
    text_series,
    validate_niks,
)
from iuran.occupations import category
from iuran.periods import Period
from iuran.programs import Program
from iuran.rosters.codes import fill
from iuran.rosters.columns import CANONICAL, PROVENANCE, ROW_COLUMNS, STATUS
from iuran.rosters.read import NOT_LIVING
from iuran.wilayah import normalize_kode_desa, villages

#: The order in which rules are checked; a row is rejected for the first one it fails.
RULE_ORDER: tuple[str, ...] = (
    "NIK_KOSONG", "NIK_NOTASI_ILMIAH", "NIK_DISAMARKAN", "NIK_BUKAN_ANGKA", "NIK_PANJANG",
    "NIK_PROVINSI", "NIK_TANGGAL", "NIK_SERIAL",
    "NIK_GANDA_BERKAS",
    "PENDUDUK_BUKAN_HIDUP",
    "NAMA_KOSONG",
    "TANGGAL_LAHIR_KOSONG", "TANGGAL_LAHIR_FORMAT", "TANGGAL_LAHIR_TIDAK_SESUAI_NIK",
    "JENIS_KELAMIN_KOSONG", "JENIS_KELAMIN_FORMAT", "JENIS_KELAMIN_TIDAK_SESUAI_NIK",
    "KODE_DESA_KOSONG", "KODE_DESA_TIDAK_DIKENAL", "KODE_DESA_BUKAN_DESA",
    "PEKERJAAN_ASN_TNI_POLRI", "PEKERJAAN_PENERIMA_UPAH", "PEKERJAAN_PEJABAT",
    "PEKERJAAN_BUKAN_PEKERJA",
    "USIA_DI_BAWAH_BATAS", "USIA_DI_ATAS_BATAS",
    "PENGHASILAN_FORMAT",
)  # fmt: skip

#: The roster column each rule points the operator to.
COLUMN: dict[str, str] = {
    **{c: "nik" for c in RULE_ORDER if c.startswith("NIK_")},
    "PENDUDUK_BUKAN_HIDUP": STATUS,
    "NAMA_KOSONG": "nama",
    **{c: "tanggal_lahir" for c in RULE_ORDER if c.startswith(("TANGGAL_", "USIA_"))},
    **{c: "jenis_kelamin" for c in RULE_ORDER if c.startswith("JENIS_KELAMIN_")},
    **{c: "kode_desa" for c in RULE_ORDER if c.startswith("KODE_DESA_")},
    **{c: "pekerjaan" for c in RULE_ORDER if c.startswith("PEKERJAAN_")},
    "PENGHASILAN_FORMAT": "penghasilan",
}

ACCEPTED_COLUMNS = [*CANONICAL, *PROVENANCE]
REJECTED_COLUMNS = [*PROVENANCE, "kode_desa", "nik", "nama", "column", "code", "message"]
_WIDTH = {"kode_desa": 13, "nik": 20, "nama": 200}

_JK = {
    **dict.fromkeys(["l", "lk", "laki laki", "lakilaki", "laki", "pria"], "L"),
    **dict.fromkeys(["p", "pr", "perempuan", "wanita", "pere"], "P"),
}
_MONTHS = {
    **dict.fromkeys(["januari", "jan", "january"], 1),
    **dict.fromkeys(["februari", "feb", "pebruari", "february"], 2),
    **dict.fromkeys(["maret", "mar", "march"], 3),
    **dict.fromkeys(["april", "apr"], 4),
    **dict.fromkeys(["mei", "may"], 5),
    **dict.fromkeys(["juni", "jun", "june"], 6),
    **dict.fromkeys(["juli", "jul", "july"], 7),
    **dict.fromkeys(["agustus", "agu", "agt", "ags", "aug", "august"], 8),
    **dict.fromkeys(["september", "sep", "sept"], 9),
    **dict.fromkeys(["oktober", "okt", "oct", "october"], 10),
    **dict.fromkeys(["november", "nov", "nop", "nopember"], 11),
    **dict.fromkeys(["desember", "des", "dec", "december"], 12),
}
_TIME = r"(?:[ t]\d{1,2}[:.]\d{2}(?:[:.]\d{2}(?:\.\d+)?)?)?"
_ISO = rf"^(?P<y>\d{{4}})-(?P<m>\d{{1,2}})-(?P<d>\d{{1,2}}){_TIME}$"
_DMY = rf"^(?P<d>\d{{1,2}})[/.\-](?P<m>\d{{1,2}})[/.\-](?P<y>\d{{4}}){_TIME}$"
_TEXT = r"^(?P<d>\d{1,2})[ \-]?(?P<m>[a-z]+)\.?[ \-]?(?P<y>\d{4})$"
_SERIAL = r"^(?P<n>\d{5})(?:\.\d+)?$"
_EXCEL_EPOCH = np.datetime64("1899-12-30", "D")
_BLANK = r"^[\s\-–.]*$"


@dataclass(frozen=True)
class Validated:
    accepted: pd.DataFrame  # ACCEPTED_COLUMNS, typed (see ARCHITECTURE.md)
    rejected: pd.DataFrame  # REJECTED_COLUMNS


def _blank(values: pa.Array) -> np.ndarray:
    return ~flags(pc.is_valid(values)) | matches(values, _BLANK)


def _lookup(values: pa.Array, table: dict[str, int]) -> np.ndarray:
    """Map text through `table` (int values, 0 when absent), in C."""
    keys = pa.array(list(table))
    pos = pc.index_in(values, value_set=keys)
    codes = np.array([0, *table.values()], dtype=np.int64)
    return codes[integers(pc.add(pos, 1), 0)]


def _date_parts(raw: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Birth dates -> (datetime64[ns] with NaT, year, month, day; -1 where NaT).

    Each pattern is tried only on the values no earlier one has read (year still 0): nearly every
    date is read by the first, and a regex pass over a whole regency costs ~10 ms."""
    s = pc.utf8_lower(pc.utf8_trim_whitespace(text_array(raw)))
    year = np.zeros(len(s), dtype=np.int64)
    month = year.copy()
    day = year.copy()
    for pattern in (_ISO, _DMY, _TEXT):
        todo = np.flatnonzero(year == 0)
        parts = pc.extract_regex(s.take(todo), pattern)
        hit = flags(pc.is_valid(parts))
        if not hit.any():
            continue
        parts, at = parts.filter(pa.array(hit)), todo[hit]
        m = pc.struct_field(parts, ["m"])
        year[at] = integers(pc.struct_field(parts, ["y"]))
        month[at] = _lookup(m, _MONTHS) if pattern == _TEXT else integers(m)
        day[at] = integers(pc.struct_field(parts, ["d"]))
    dates = make_dates(year, month, day)

    todo = np.flatnonzero(year == 0)
    serial = integers(pc.struct_field(pc.extract_regex(s.take(todo), _SERIAL), ["n"]))
    known = (serial >= 10_000) & (serial <= 80_000)  # 1927-05-18 .. 2119-01-10
    if known.any():
        use = todo[known]
        from_serial = (_EXCEL_EPOCH + serial[known].astype("timedelta64[D]")).astype(
            "datetime64[ns]"
        )
        dates[use] = from_serial
        year[use], month[use], day[use] = _ymd(from_serial)
    nat = np.isnat(dates)
    return dates, np.where(nat, -1, year), np.where(nat, -1, month), np.where(nat, -1, day)


def parse_dates(raw: pd.Series) -> pd.Series:
    """Birth dates in the accepted formats -> datetime64[ns]; NaT where empty or not understood."""
    return pd.Series(_date_parts(raw)[0], index=raw.index, dtype="datetime64[ns]")


def parse_income(raw: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Declared income -> Int64 Rupiah (<NA> when not declared) and a mask of unreadable values."""
    s = pc.replace_substring_regex(pc.utf8_lower(text_array(raw)), r"[\s\pZ]+", "")
    s = pc.replace_substring_regex(s, r"^(?:rp\.?|idr)", "")
    s = pc.replace_substring_regex(s, r"[,.]-$", "")
    empty = _blank(s)
    digits = pc.coalesce(
        pc.struct_field(pc.extract_regex(s, r"^(?P<n>\d{1,3}(?:\.\d{3})+)(?:,0{1,2})?$"), [0]),
        pc.struct_field(pc.extract_regex(s, r"^(?P<n>\d{1,3}(?:,\d{3})+)(?:\.0{1,2})?$"), [0]),
        pc.struct_field(pc.extract_regex(s, r"^(?P<n>\d+)(?:[.,]0{1,2})?$"), [0]),
    )
    digits = pc.replace_substring_regex(digits, r"[.,]", "")
    ok = ~empty & flags(pc.less_equal(pc.utf8_length(digits), 12))
    value = integers(pc.if_else(pa.array(ok), digits, pa.scalar(None, pa.string())))
    income = pd.Series(pd.array(value, dtype="Int64"), index=raw.index).mask(~ok)
    return income, ~empty & ~ok


def _ymd(dates: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Year, month, day of datetime64 values (-1 for NaT)."""
    nat = np.isnat(dates)
    years = dates.astype("datetime64[Y]")
    months = dates.astype("datetime64[M]")
    y = years.astype(np.int64) + 1970
    m = (months - years.astype("datetime64[M]")).astype(np.int64) + 1
    d = (dates.astype("datetime64[D]") - months.astype("datetime64[D]")).astype(np.int64) + 1
    return np.where(nat, -1, y), np.where(nat, -1, m), np.where(nat, -1, d)


@lru_cache(maxsize=64)
def _village_codes(regency: str, desa_only: bool) -> pa.Array:
    return pa.array(villages(regency, desa_only=desa_only)["kode_desa"].tolist(), pa.string())


def _fmt(dates: pd.Series) -> pd.Series:
    return dates.dt.strftime("%d/%m/%Y").astype("string")


@dataclass(frozen=True)
class _Checked:
    """Every rule's mask plus the cleaned columns the output frames are built from."""

    masks: dict[str, np.ndarray]
    nik: pd.Series  # 16 digits or <NA>
    kode: pd.Series  # dotted or <NA>
    born: np.ndarray  # datetime64[ns]
    age: np.ndarray
    jk: np.ndarray  # 0 unknown, 1 L, 2 P
    nik_jk: np.ndarray  # same coding, from the NIK
    income: pd.Series  # Int64
    first_row: pd.Series  # row of a NIK's first occurrence in its file


def _first_in_file(
    files: pd.Series, nik: pd.Series, rows: np.ndarray, ok: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """For rows with a valid NIK (`ok`): the row number where that NIK first appears in the same
    file (0 for the other rows), and whether the row is a later occurrence. First: the lowest row
    number, then the earlier row. One sort of integer codes (pandas' sort and group-by on the text
    columns cost ~30 ms a regency)."""
    at = np.flatnonzero(ok)
    file_code = pd.factorize(files.iloc[at])[0].astype(np.int64)
    nik_code = pd.factorize(nik.iloc[at])[0].astype(np.int64)
    group = file_code * (int(nik_code.max(initial=0)) + 1) + nik_code
    order = np.lexsort((at, rows[at], group))
    starts = np.ones(len(order), dtype=bool)
    starts[1:] = group[order][1:] != group[order][:-1]
    first_of_group = rows[at][order][
        np.maximum.accumulate(np.where(starts, np.arange(len(order)), 0))
    ]
    first = np.zeros(len(rows), dtype=np.int64)
    first[at[order]] = first_of_group
    later = np.zeros(len(rows), dtype=bool)
    later[at[order]] = ~starts
    return first, later


def _check(r: pd.DataFrame, program: Program, on: dt.date) -> _Checked:
    """All rules on whole columns, in RULE_ORDER's groups."""
    masks: dict[str, np.ndarray] = {}

    # NIK: shape, then content; then duplicates within a file among valid NIKs.
    checked = validate_niks(r["nik"])
    nik = checked["nik"]
    nik_ok = nik.notna().to_numpy()
    nik_code = checked["code"].to_numpy(dtype=object, na_value="")
    for c in NIK_CODES[1:]:
        masks[c] = nik_code == c
    first, dup = _first_in_file(r["source_file"], nik, r["source_row"].to_numpy(), nik_ok)
    first_row = pd.Series(first, index=r.index)
    masks["NIK_GANDA_BERKAS"] = dup

    # A register's status (`_as_roster`): someone who died or moved away is not a worker to insure
    status = pc.utf8_upper(text_array(r[STATUS]))
    masks["PENDUDUK_BUKAN_HIDUP"] = flags(pc.is_in(status, pa.array(NOT_LIVING)))

    masks["NAMA_KOSONG"] = _blank(text_array(r["nama"]))

    # Birth date: readable, and the same day, month and two year digits as the NIK.
    nik_day, nik_month, nik_yy, woman = birth_parts(nik)
    born, by, bm, bd = _date_parts(r["tanggal_lahir"])
    known = ~np.isnat(born)
    tl_empty = _blank(text_array(r["tanggal_lahir"]))
    masks["TANGGAL_LAHIR_KOSONG"] = tl_empty
    masks["TANGGAL_LAHIR_FORMAT"] = ~tl_empty & ~known
    masks["TANGGAL_LAHIR_TIDAK_SESUAI_NIK"] = (
        known & nik_ok & ((bd != nik_day) | (bm != nik_month) | (by % 100 != nik_yy))
    )

    jk_raw = text_array(r["jenis_kelamin"])
    jk_key = pc.utf8_trim(pc.replace_substring_regex(pc.utf8_lower(jk_raw), r"[^a-z]+", " "), " ")
    jk = _lookup(jk_key, {k: 1 if v == "L" else 2 for k, v in _JK.items()})
    nik_jk = np.where(nik_ok, np.where(woman, 2, 1), 0)
    jk_empty = _blank(jk_raw)
    masks["JENIS_KELAMIN_KOSONG"] = jk_empty
    masks["JENIS_KELAMIN_FORMAT"] = ~jk_empty & (jk == 0)
    masks["JENIS_KELAMIN_TIDAK_SESUAI_NIK"] = (jk != 0) & (nik_jk != 0) & (jk != nik_jk)

    kode = normalize_kode_desa(r["kode_desa"])
    kode_pa = text_array(kode)
    in_regency = flags(pc.is_in(kode_pa, value_set=_village_codes(program.regency, False)))
    eligible = flags(
        pc.is_in(kode_pa, value_set=_village_codes(program.regency, program.desa_only))
    )
    kd_empty = _blank(text_array(r["kode_desa"]))
    masks["KODE_DESA_KOSONG"] = kd_empty
    masks["KODE_DESA_TIDAK_DIKENAL"] = ~kd_empty & ~in_regency
    masks["KODE_DESA_BUKAN_DESA"] = in_regency & ~eligible

    # Eligibility by occupation (`iuran.occupations`): who is insured elsewhere or is no worker.
    job = category(r["pekerjaan"]).to_numpy(dtype=object, na_value="")
    masks["PEKERJAAN_ASN_TNI_POLRI"] = np.isin(job, ["asn", "tni", "polri"])
    masks["PEKERJAAN_PENERIMA_UPAH"] = job == "penerima_upah"
    masks["PEKERJAAN_PEJABAT"] = job == "pejabat"
    masks["PEKERJAAN_BUKAN_PEKERJA"] = (job == "bukan_pekerja") & (program.non_workers == "refuse")

    # Age in whole years on the period's first day.
    age = on.year - by - ((bm > on.month) | ((bm == on.month) & (bd > on.day)))
    masks["USIA_DI_BAWAH_BATAS"] = known & (age < program.age_min)
    masks["USIA_DI_ATAS_BATAS"] = known & (age > program.age_max)

    income, income_bad = parse_income(r["penghasilan"])
    masks["PENGHASILAN_FORMAT"] = income_bad
    return _Checked(masks, nik, kode, born, age, jk, nik_jk, income, first_row)


def _accepted(r: pd.DataFrame, k: _Checked, keep: np.ndarray) -> pd.DataFrame:
    kept = pa.array(keep)

    def text(s: pd.Series) -> pd.arrays.ArrowStringArray:
        return pd.arrays.ArrowStringArray(pc.filter(text_array(s), kept))

    job = pc.utf8_trim_whitespace(pc.utf8_lower(pc.filter(text_array(r["pekerjaan"]), kept)))
    out = pd.DataFrame(
        {
            "nik": text(k.nik),
            "nama": text(r["nama"]),
            "tanggal_lahir": k.born[keep],
            "jenis_kelamin": pd.array(
                np.array([None, "L", "P"], dtype=object)[k.jk[keep]], dtype="string"
            ),
            "pekerjaan": pd.arrays.ArrowStringArray(pc.fill_null(job, "")),
            "kode_desa": text(k.kode),
            "alamat": text(r["alamat"]),
            "no_hp": text(r["no_hp"]),
            "penghasilan": k.income.to_numpy(dtype="float64", na_value=np.nan)[keep],
            "source_file": text(r["source_file"]),
            "source_sheet": text(r["source_sheet"]),
            "source_row": r["source_row"].to_numpy()[keep],
        }
    )
    out["penghasilan"] = out["penghasilan"].astype("Int64")
    # The registry's column widths (PostgreSQL enforces them): a longer value is cut, never fatal.
    for column, width in WIDTHS.items():
        out[column] = out[column].str.slice(0, width)
    return out


#: Widths of the registry columns the accepted values are stored in.
WIDTHS = {"nama": 200, "pekerjaan": 100, "source_file": 500}


def _rejected(
    r: pd.DataFrame, k: _Checked, code: np.ndarray, program: Program, on: dt.date
) -> pd.DataFrame:
    """Rejected rows with their messages: built on those rows only, one `fill` per code.

    Rows of a code are picked by position from single columns: a DataFrame selection per code cost
    more than the messages (a regency has ~20 codes of a few rows each)."""
    hit_rows = code != 0
    bad = r.loc[hit_rows]
    kode = k.kode[hit_rows]
    names = np.array(RULE_ORDER, dtype=object)[code[hit_rows] - 1]
    masked: pd.Series | None = None  # every NIK masked, once, when a NIK code needs it
    messages = np.empty(len(bad), dtype=object)
    for c in pd.unique(names):
        at = np.flatnonzero(names == c)
        idx = bad.index[at]
        values: dict[str, pd.Series | str | int] = {"nilai": bad[COLUMN[c]].iloc[at].fillna("")}
        if COLUMN[c] == "nik":  # messages are stored and mailed: never a whole NIK in them
            masked = mask_series(bad["nik"]) if masked is None else masked
            values["nilai"] = masked.iloc[at]
        if c == "NIK_PANJANG":
            values["panjang"] = bad["nik"].iloc[at].str.count(r"\d")
        elif c == "NIK_PROVINSI":
            values["provinsi"] = bad["nik"].iloc[at].str.replace(r"\D", "", regex=True).str[:2]
        elif c == "NIK_TANGGAL":
            values["tanggal"] = bad["nik"].iloc[at].str.replace(r"\D", "", regex=True).str[6:12]
        elif c == "NIK_GANDA_BERKAS":
            values["baris_lain"] = k.first_row[idx]
        elif c == "TANGGAL_LAHIR_TIDAK_SESUAI_NIK":
            values["tanggal_lahir"] = _fmt(pd.Series(k.born[idx], index=idx))
            values["tanggal_nik"] = _fmt(decode(k.nik[idx], on)["tanggal_lahir"])
        elif c == "JENIS_KELAMIN_TIDAK_SESUAI_NIK":
            values["jenis_kelamin"] = bad["jenis_kelamin"].iloc[at]
            values["jk_nik"] = pd.Series(k.nik_jk[idx], index=idx).map(
                {1: "laki-laki (L)", 2: "perempuan (P)"}
            )
        elif c.startswith("USIA_"):
            values["usia"] = pd.Series(k.age[idx], index=idx)
            values["per_tanggal"] = on.strftime("%d/%m/%Y")
            values["batas"] = program.age_min if c == "USIA_DI_BAWAH_BATAS" else program.age_max
        elif c == "KODE_DESA_TIDAK_DIKENAL":
            values["kabupaten"] = program.regency_name
        elif c == "KODE_DESA_BUKAN_DESA":
            values["nilai"] = kode.iloc[at]
        messages[at] = fill(c, **values).to_numpy(dtype=object)  # type: ignore[union-attr]
    codes = pd.Series(names, index=bad.index)
    return pd.DataFrame(
        {
            "source_file": bad["source_file"],
            "source_sheet": bad["source_sheet"],
            "source_row": bad["source_row"],
            "kode_desa": kode.fillna(bad["kode_desa"]).str[: _WIDTH["kode_desa"]],
            "nik": bad["nik"].str[: _WIDTH["nik"]],
            "nama": bad["nama"].str[: _WIDTH["nama"]],
            "column": codes.map(COLUMN).astype("string"),
            "code": codes.astype("string"),
            "message": pd.Series(messages, index=bad.index, dtype="string"),
        }
    ).reset_index(drop=True)


_ROUNDED = r"^(?P<i>[1-9])[.,](?P<f>\d{14})[eE]\+?15$"


def rounded_niks(raw: pd.Series) -> pd.Series:
    """The 16 digits an XLSX number cell ending in 0 holds (`3.60201150590001E+15` ->
    `3602011505900010`), <NA> for every other value.

    Excel keeps 15 significant digits, so a 16-digit number ending in 0 may be a NIK whose last digit
    Excel rounded away: `iuran.intake.cells.nik_cell` writes such a cell in scientific notation and it
    is NIK_NOTASI_ILMIAH, unless the registry confirms it (`confirm_rounded_niks`)."""
    parts = pc.extract_regex(pc.utf8_trim_whitespace(text_array(raw)), _ROUNDED)
    digits = pc.binary_join_element_wise(
        pc.struct_field(parts, [0]), pc.struct_field(parts, [1]), pa.scalar("0"), ""
    )
    return text_series(digits, raw.index)


def confirm_rounded_niks(rows: pd.DataFrame, known: pd.DataFrame) -> pd.DataFrame:
    """`rows` with each rounded NIK (`rounded_niks`) written as its 16 digits when the registry
    (`known`: nik, nama, tanggal_lahir) holds exactly that NIK with the same name (as
    `iuran.conflicts.fold_names` folds it) and the same birth date; the row then is the worker the
    registry knows, not a guess. Every other row as it was."""
    candidate = rounded_niks(rows["nik"])
    at = candidate.notna().to_numpy()
    if not at.any() or known.empty:
        return rows
    registry = known.assign(nik=known["nik"].astype(str)).drop_duplicates("nik").set_index("nik")
    nik = candidate[at].astype(str)
    same_name = (
        fold_names(rows["nama"][at]).to_numpy()
        == fold_names(registry["nama"].reindex(nik.to_numpy())).to_numpy()
    )
    born = parse_dates(rows["tanggal_lahir"][at]).to_numpy()
    registry_born = pd.to_datetime(registry["tanggal_lahir"].reindex(nik.to_numpy())).to_numpy()
    confirmed = np.zeros(len(rows), dtype=bool)
    confirmed[at] = same_name & (born == registry_born) & nik.isin(registry.index).to_numpy()
    if not confirmed.any():
        return rows
    out = rows.copy()
    out.loc[confirmed, "nik"] = candidate[confirmed]
    return out


def validate_rows(rows: pd.DataFrame, program: Program, period: Period) -> Validated:
    """Split collected roster rows into accepted (typed) and rejected (one reason each)."""
    r = rows.reset_index(drop=True).reindex(columns=[*ACCEPTED_COLUMNS, STATUS])
    for c in ROW_COLUMNS:
        r[c] = r[c].astype("string")
    r["source_file"] = r["source_file"].astype("string").fillna("")
    r["source_sheet"] = r["source_sheet"].astype("string").fillna("")
    r["source_row"] = pd.to_numeric(r["source_row"], errors="coerce").fillna(0).astype("int64")
    checked = _check(r, program, period.first_day)
    # The first failing rule, as a 1-based position in RULE_ORDER (0: accepted).
    code = np.select(
        [checked.masks[c] for c in RULE_ORDER], range(1, len(RULE_ORDER) + 1), default=0
    )
    faults.point("validate.done")
    return Validated(
        accepted=_accepted(r, checked, code == 0),
        rejected=_rejected(r, checked, code, program, period.first_day),
    )
