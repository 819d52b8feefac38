"""NIK (Nomor Induk Kependudukan): `PPKKCCDDMMYYSSSS`, day + 40 for women, no check digit.

Everything here works on whole columns (pandas / numpy), because a national cycle checks millions of
NIKs; `is_valid` is the one scalar entry point, for property tests and one-off checks.

Differences from `stdnum.id.nik` (checked by the property tests): stdnum's province list predates the
2022 Papua split (65, 92–96 missing there, present here), and stdnum accepts serial `0000`, which Dukcapil
never issues and which is what Excel leaves when it rounds a NIK to 15 significant digits.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

#: The 38 province codes (Kemendagri 2025); used when the wilayah list cannot be loaded.
PROVINSI = frozenset(
    [
        "11", "12", "13", "14", "15", "16", "17", "18", "19", "21",
        "31", "32", "33", "34", "35", "36", "51", "52", "53",
        "61", "62", "63", "64", "65", "71", "72", "73", "74", "75", "76",
        "81", "82", "91", "92", "93", "94", "95", "96",
    ]
)  # fmt: skip

#: NIK rejection codes in the order they are checked (index 0: valid).
NIK_CODES = (
    "", "NIK_KOSONG", "NIK_NOTASI_ILMIAH", "NIK_DISAMARKAN", "NIK_BUKAN_ANGKA", "NIK_PANJANG",
    "NIK_PROVINSI", "NIK_TANGGAL", "NIK_SERIAL",
)  # fmt: skip

#: A NIK as OpenSID's printable list writes it with NIK privacy on: `36020115XXXXXXXX`
MASKED = r"^[0-9]{4,15}[Xx*]{1,12}$"
_SPACES = r"[\s\pZ\x{200B}\x{FEFF}]+"  # RE2 (pyarrow): any space, non-breaking or zero-width
_SCI = r"^(?P<i>\d+)(?:[.,](?P<f>\d*))?[eE]\+?(?P<e>\d{1,3})$"
_FLOAT = r"^(?P<i>\d+)[.,]0+$"
_NO_DATE = np.datetime64("NaT", "ns")


# --- Arrow helpers: pandas runs str.extract and non-ASCII regexes in Python; pyarrow runs them in C.


def text_array(s: pd.Series) -> pa.Array:
    """A column as an Arrow `string` array (pandas keeps `large_string`; kernels want one type)."""
    values = pc.cast(pa.array(s.astype("string").array), pa.string())
    return values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values


def sorted_joins(texts: pa.Array, groups: pa.Array | None = None) -> dict[str, bytes]:
    """Per group (all texts in one group `""` when none), its texts sorted and joined by newlines,
    as UTF-8: what `"\n".join(sorted(...))` gives, without a Python string per text (~1.5 µs a row
    at a country's 8 million lines). UTF-8 byte order is code point order, Python's string order."""
    if groups is None:
        groups = pa.nulls(len(texts), pa.string()).fill_null("")
    table = pa.table({"g": groups, "t": texts})
    table = table.take(pc.sort_indices(table, [("g", "ascending"), ("t", "ascending")]))
    g, t = table["g"].combine_chunks(), table["t"].combine_chunks()
    if not len(g):
        return {}
    codes = g.dictionary_encode().indices.to_numpy(zero_copy_only=False)
    starts = np.flatnonzero(np.diff(codes)) + 1
    offsets = np.concatenate([[0], starts, [len(g)]]).astype(np.int32)
    joined = pc.binary_join(pa.ListArray.from_arrays(pa.array(offsets), t), "\n")
    names = g.take(pa.array(offsets[:-1])).to_pylist()
    return {name: text.as_buffer().to_pybytes() for name, text in zip(names, joined, strict=True)}


def isin_text(s: pd.Series, values: object) -> np.ndarray:
    """`s.isin(values)` for text, in Arrow: pandas' own builds a Python scalar per value (~5 µs each,
    seconds at a regency's 30,000 NIKs). Missing values are never in."""
    if isinstance(values, pd.Index | pd.Series):
        lookup = text_array(pd.Series(values, copy=False))
    else:
        lookup = pa.array([str(v) for v in values], type=pa.string())  # type: ignore[attr-defined]
    if not len(s) or not len(lookup):
        return np.zeros(len(s), dtype=bool)
    return flags(pc.is_in(text_array(s), value_set=lookup))


def text_series(values: pa.Array | pa.ChunkedArray, index: pd.Index) -> pd.Series:
    return pd.Series(pd.arrays.ArrowStringArray(values), index=index)


def flags(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Arrow booleans -> numpy, null as False."""
    return np.asarray(pc.fill_null(values, False).to_numpy(zero_copy_only=False), dtype=bool)


def matches(values: pa.Array | pa.ChunkedArray, pattern: str) -> np.ndarray:
    """Whole-value regex match (anchor the pattern), null as False."""
    return flags(pc.match_substring_regex(values, pattern))


def integers(values: pa.Array | pa.ChunkedArray, default: int = 0) -> np.ndarray:
    """Digit strings -> int64 (`default` for null); callers pass only digit strings."""
    return np.asarray(
        pc.fill_null(pc.cast(values, pa.int64()), default).to_numpy(zero_copy_only=False),
        dtype=np.int64,
    )


def make_dates(year: np.ndarray, month: np.ndarray, day: np.ndarray) -> np.ndarray:
    """datetime64[ns] from integer parts, NaT where the date does not exist (or is outside 1800–2200)."""
    y = np.asarray(year, dtype=np.int64)
    m = np.asarray(month, dtype=np.int64)
    d = np.asarray(day, dtype=np.int64)
    ok = (y >= 1800) & (y <= 2200) & (m >= 1) & (m <= 12) & (d >= 1)
    first = ((np.where(ok, y, 2000) - 1970) * 12 + np.where(ok, m, 1) - 1).astype("datetime64[M]")
    length = ((first + 1).astype("datetime64[D]") - first.astype("datetime64[D]")).astype(np.int64)
    ok &= d <= length
    out = first.astype("datetime64[D]") + (np.where(ok, d, 1) - 1).astype("timedelta64[D]")
    return np.where(ok, out.astype("datetime64[ns]"), _NO_DATE)


@lru_cache(maxsize=1)
def provinces() -> frozenset[str]:
    """Province codes from the official wilayah list (falls back to `PROVINSI` if it cannot be read)."""
    try:
        from iuran.wilayah import all_villages

        codes = frozenset(all_villages()["kode_desa"].str[:2].unique().tolist())
    except Exception:  # the list is optional here: the constant holds the same 38 codes
        return PROVINSI
    return codes or PROVINSI


def _normalize(raw: pd.Series) -> tuple[pa.Array, np.ndarray]:
    """Cleaned text and shape code (index into NIK_CODES); clean 16-digit values skip the work."""
    s = text_array(raw)
    clean = matches(s, r"^\d{16}$")
    if clean.all():
        return s, np.zeros(len(s), dtype=np.int64)
    rest = np.flatnonzero(~clean)
    cleaned, rest_code = _normalize_messy(s.take(pa.array(rest)))
    code = np.zeros(len(s), dtype=np.int64)
    code[rest] = rest_code
    return pc.replace_with_mask(s, pa.array(~clean), cleaned), code


def _normalize_messy(s: pa.Array) -> tuple[pa.Array, np.ndarray]:
    s = pc.replace_substring_regex(s, _SPACES, "")
    s = pc.replace_substring_regex(s, r"^['‘’`]+", "")
    empty = ~flags(pc.is_valid(s)) | matches(s, r"^[-.–]*$")

    sci_parts = pc.extract_regex(s, _SCI)
    sci = flags(pc.is_valid(sci_parts)) & ~empty
    frac = pc.struct_field(sci_parts, [1])
    exp = integers(pc.struct_field(sci_parts, [2]), -1)
    digits = pc.utf8_ltrim(
        pc.binary_join_element_wise(pc.struct_field(sci_parts, [0]), frac, ""), "0"
    )
    exact_sci = (
        sci
        & (np.asarray(pc.fill_null(pc.utf8_length(frac), -2).to_numpy(zero_copy_only=False)) == exp)
        & (np.asarray(pc.fill_null(pc.utf8_length(digits), 0).to_numpy(zero_copy_only=False)) == 16)
    )

    float_parts = pc.extract_regex(s, _FLOAT)
    as_float = flags(pc.is_valid(float_parts)) & ~empty

    cleaned = pc.replace_substring_regex(s, r"[.\-]", "")
    cleaned = pc.if_else(pa.array(exact_sci), digits, cleaned)
    cleaned = pc.if_else(pa.array(as_float), pc.struct_field(float_parts, [0]), cleaned)
    is_digits = matches(cleaned, r"^\d+$")
    length = np.asarray(pc.fill_null(pc.utf8_length(cleaned), 0).to_numpy(zero_copy_only=False))

    masked = matches(cleaned, MASKED) & (length == 16)
    code = np.select(
        [empty, (sci & ~exact_sci) | (as_float & (length < 16)), masked, ~is_digits, length != 16],
        [1, 2, 3, 4, 5],  # positions in NIK_CODES
        default=0,
    )
    return cleaned, code


def normalize_niks(raw: pd.Series) -> pd.DataFrame:
    """Clean NIKs as operators type them: `nik` (16 digits or <NA>) and `code` (<NA> when fine).

        Strips spaces (also non-breaking and zero-width), dots, hyphens and a leading apostrophe (Excel's
        "text" marker). Spreadsheet damage is named as such: `3.602E+15` is NIK_NOTASI_ILMIAH; a float
        rendering such as `3602011505900001.0` is recovered when all 16 digits are still there, as is
        scientific notation that still carries all 16 (`3.602011505900001E+15`); anything shorter is
        NIK_NOTASI_ILMIAH too. Empty, `-` or only dots is NIK_KOSONG; 16 characters of digits then `X`
    (OpenSID's printable list with NIK privacy on, `36020115XXXXXXXX`) is NIK_DISAMARKAN. Only the shape is checked here.
    """
    cleaned, code = _normalize(raw)
    return _result(raw.index, cleaned, code)


def _result(index: pd.Index, cleaned: pa.Array, code: np.ndarray) -> pd.DataFrame:
    ok = pa.array(code == 0)
    nik = text_series(pc.if_else(ok, cleaned, pa.scalar(None, pa.string())), index)
    names = pc.take(pa.array([None, *NIK_CODES[1:]], pa.string()), pa.array(code))
    return pd.DataFrame({"nik": nik, "code": text_series(names, index)}, index=index)


def _parts(values: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """day (as written, women + 40), month, two-digit year, serial; 0 where not 16 digits."""
    ok = pc.match_substring_regex(values, r"^\d{16}$")
    n = integers(pc.if_else(pc.fill_null(ok, False), pc.utf8_slice_codeunits(values, 6, 16), "0"))
    day, rest = np.divmod(n, 10**8)
    month, rest = np.divmod(rest, 10**6)
    year, serial = np.divmod(rest, 10**4)
    return day, month, year, serial


def _content(cleaned: pa.Array, shape: np.ndarray) -> np.ndarray:
    day, month, year, serial = _parts(cleaned)
    d = np.where(day > 40, day - 40, day)
    leap_year = np.where(year % 4 == 0, 2000, 2001)  # a year with the same leap-ness
    date_ok = (day != 40) & (d <= 31) & ~np.isnat(make_dates(leap_year, month, d))
    province = pc.is_in(
        pc.utf8_slice_codeunits(cleaned, 0, 2), value_set=pa.array(sorted(provinces()))
    )
    return np.select(
        [shape != 0, ~flags(province), ~date_ok, serial == 0], [shape, 6, 7, 8], default=0
    )


def validate_niks(raw: pd.Series) -> pd.DataFrame:
    """`normalize_niks` and `check_niks` in one pass: `nik` (<NA> unless valid) and `code`."""
    cleaned, shape = _normalize(raw)
    return _result(raw.index, cleaned, _content(cleaned, shape))


def check_niks(nik: pd.Series) -> pd.Series:
    """Rejection code per NIK (<NA> when valid): the `normalize_niks` codes, then NIK_PROVINSI,
    NIK_TANGGAL, NIK_SERIAL. Safe on raw input.

    The birth date must exist in some century (29 February needs a year divisible by 4: `00` is 2000).
    """
    return validate_niks(nik)["code"]


def birth_parts(nik: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Day of birth (women's 40 removed), month, two-digit year and a woman flag from 16-digit NIKs
    (0 / False where the value is not 16 digits): what the NIK says, without choosing a century."""
    day, month, year, _ = _parts(text_array(nik))
    woman = day > 40
    return np.where(woman, day - 40, day), month, year, woman


def decode(nik: pd.Series, on: dt.date) -> pd.DataFrame:
    """Birth date and sex from 16-digit NIKs; NaT / <NA> where the NIK is not a valid date.

    The century is chosen so that nobody is born after `on`'s year: YY <= on.year % 100 is 20YY.
    """
    day, month, year, women = birth_parts(nik)
    century = np.where(year <= on.year % 100, 2000, 1900)
    born = make_dates(year + century, month, day)
    sex = pd.Series(np.where(women, "P", "L"), index=nik.index, dtype="string").mask(np.isnat(born))
    return pd.DataFrame({"tanggal_lahir": born, "jenis_kelamin": sex}, index=nik.index)


def is_valid(nik: str) -> bool:
    """Scalar verdict for one NIK (same rules as `normalize_niks` + `check_niks`)."""
    return bool(check_niks(pd.Series([nik], dtype="string")).isna().iloc[0])


def mask(nik: str) -> str:
    """`3602**********0001`: enough for an operator to find the row, not enough to identify the person."""
    s = str(nik)
    if len(s) <= 8:
        return "*" * len(s)
    return s[:4] + "*" * (len(s) - 8) + s[-4:]


def mask_series(niks: pd.Series) -> pd.Series:
    """`mask` for a whole column (`<NA>` -> "")."""
    s = niks.astype("string").fillna("")
    n = s.str.len()
    hidden = np.clip(n.to_numpy(dtype=np.int64) - 8, 0, None)
    runs = np.array(["*" * k for k in range(int(hidden.max(initial=0)) + 1)], dtype=object)
    stars = pd.Series(runs[hidden], index=s.index, dtype="string")  # one string per length
    masked = s.str[:4] + stars + s.str[-4:]
    return masked.where(n > 8, s.str.replace(r".", "*", regex=True))
