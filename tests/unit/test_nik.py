"""NIK rules: examples for each code, and property tests against python-stdnum's `stdnum.id.nik`.

Known, intended differences from stdnum (asserted below, not hidden): stdnum's province list predates the
2022 Papua provinces (65, 92, 93, 95, 96), and stdnum accepts serial 0000, which is never issued and is
what Excel leaves when it rounds a NIK to 15 significant digits.
"""

from __future__ import annotations

import datetime as dt
import re

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum.id import nik as stdnik

from iuran.nik import (
    NIK_CODES,
    PROVINSI,
    check_niks,
    decode,
    is_valid,
    isin_text,
    mask,
    mask_series,
    normalize_niks,
    provinces,
    validate_niks,
)

NEW_PROVINCES = {"65", "92", "93", "95", "96"}  # not in stdnum's list
ON = dt.date(2026, 1, 1)


def _expected(number: str) -> bool:
    """stdnum's verdict, adjusted for the documented differences: the 2022 Papua provinces are real,
    serial 0000 is not, and the day is 1–31 (men) or 41–71 (women) only — stdnum takes the day modulo
    40, so it accepts 81 as the 1st."""
    digits = stdnik.compact(number)
    if digits[:2] in NEW_PROVINCES:
        digits = "31" + digits[2:]
    day = int(digits[6:8]) if len(digits) == 16 and digits.isdigit() else 0
    return stdnik.is_valid(digits) and digits[-4:] != "0000" and (1 <= day <= 31 or 41 <= day <= 71)


# --- examples -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "nik", "code"),
    [
        ("3602011505900001", "3602011505900001", None),
        ("'3602011505900001", "3602011505900001", None),  # Excel's text marker
        (" 3602 0115 0590 0001\u00a0", "3602011505900001", None),
        ("3602.0115.0590.0001", "3602011505900001", None),
        ("3602-0115-0590-0001", "3602011505900001", None),
        ("\u200b3602011505900001", "3602011505900001", None),
        ("3602011505900001.0", "3602011505900001", None),  # float text, all 16 digits there
        ("3.602011505900001E+15", "3602011505900001", None),  # scientific, all 16 digits there
        ("3.602E+15", None, "NIK_NOTASI_ILMIAH"),
        ("3,60201E+15", None, "NIK_NOTASI_ILMIAH"),
        ("3.60201150590000E+15", None, "NIK_NOTASI_ILMIAH"),  # 15 digits: the 16th is lost
        ("360201150590000.0", None, "NIK_NOTASI_ILMIAH"),
        ("360201150590000", None, "NIK_PANJANG"),
        ("36020115059000011", None, "NIK_PANJANG"),
        ("36020115O5900001", None, "NIK_BUKAN_ANGKA"),
        ("", None, "NIK_KOSONG"),
        ("-", None, "NIK_KOSONG"),
        (None, None, "NIK_KOSONG"),
    ],
)
def test_normalize(raw: str | None, nik: str | None, code: str | None) -> None:
    out = normalize_niks(pd.Series([raw], dtype="string"))
    assert list(out.columns) == ["nik", "code"]
    got_nik, got_code = out.iloc[0]
    assert (None if pd.isna(got_nik) else got_nik) == nik
    assert (None if pd.isna(got_code) else got_code) == code


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("3602011505900001", None),
        ("3602015505900001", None),  # woman: day + 40
        ("3602012902000001", None),  # 29 Feb 2000
        ("9601011505900001", None),  # Papua Barat Daya (2022)
        ("3602012902010001", "NIK_TANGGAL"),  # 29 Feb 2001 / 1901
        ("3602013205900001", "NIK_TANGGAL"),
        ("3602014005900001", "NIK_TANGGAL"),  # day 40 = woman's day 0
        ("3602017202900001", "NIK_TANGGAL"),  # 32 + 40
        ("3602010013900001", "NIK_TANGGAL"),  # month 13 (and day 0)
        ("3602011513900001", "NIK_TANGGAL"),
        ("9901011505900001", "NIK_PROVINSI"),
        ("5401011505900001", "NIK_PROVINSI"),  # Timor Timur: no longer a province
        ("3602011505900000", "NIK_SERIAL"),
        ("3.602E+15", "NIK_NOTASI_ILMIAH"),
        ("", "NIK_KOSONG"),
    ],
)
def test_check(raw: str, code: str | None) -> None:
    got = check_niks(pd.Series([raw], index=[7], dtype="string"))
    assert got.index.tolist() == [7]
    assert (None if pd.isna(got.iloc[0]) else got.iloc[0]) == code
    assert is_valid(raw) is (code is None)


def test_validate_niks_combines_shape_and_content() -> None:
    raw = pd.Series([" 3602011505900001", "9901011505900001", "x"], dtype="string")
    out = validate_niks(raw)
    assert out["nik"].tolist() == ["3602011505900001", pd.NA, pd.NA]
    assert out["code"].tolist() == [pd.NA, "NIK_PROVINSI", "NIK_BUKAN_ANGKA"]
    assert set(out["code"].dropna()) <= set(NIK_CODES)


def test_province_list_matches_the_official_list() -> None:
    assert provinces() == PROVINSI
    assert len(PROVINSI) == 38


def test_decode_sex_and_century() -> None:
    niks = pd.Series(
        ["3602011505900001", "3602015505900001", "3602010101250001", "3602010101270001", "x"],
        dtype="string",
    )
    out = decode(niks, ON)
    assert str(out["tanggal_lahir"].dtype) == "datetime64[ns]"
    assert out["tanggal_lahir"].dt.strftime("%Y-%m-%d").tolist()[:4] == [
        "1990-05-15",
        "1990-05-15",
        "2025-01-01",  # 25 <= 26: this century
        "1927-01-01",  # 27 > 26: born last century
    ]
    assert out["jenis_kelamin"].tolist()[:4] == ["L", "P", "L", "L"]
    assert pd.isna(out["tanggal_lahir"].iloc[4]) and pd.isna(out["jenis_kelamin"].iloc[4])


def test_mask() -> None:
    assert mask("3602011505900001") == "3602********0001"
    assert mask("12345678") == "********"
    assert mask("") == ""
    s = mask_series(pd.Series(["3602011505900001", "3.602E+15", None, "123"], dtype="string"))
    assert s.tolist() == ["3602********0001", "3.60*E+15", "", "***"]


# --- properties -----------------------------------------------------------------------------------

_dates = st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2099, 12, 31))


@st.composite
def valid_niks(draw: st.DrawFn) -> tuple[str, dt.date, str]:
    """A NIK built from valid parts, with its birth date and sex."""
    province = draw(st.sampled_from(sorted(PROVINSI)))
    area = draw(st.integers(1, 9999))
    born = draw(_dates)
    woman = draw(st.booleans())
    serial = draw(st.integers(1, 9999))
    day = born.day + (40 if woman else 0)
    number = f"{province}{area:04d}{day:02d}{born.month:02d}{born.year % 100:02d}{serial:04d}"
    return number, born, "P" if woman else "L"


digit_strings = st.text(alphabet="0123456789", min_size=16, max_size=16)
# What stdnum's compact() also strips, so both sides see the same digits.
messy = st.text(alphabet="0123456789 -.", min_size=0, max_size=20).filter(
    lambda s: not re.fullmatch(r"\d+[.,]0+", s.replace(" ", ""))  # our float-text recovery
)


@settings(max_examples=60, deadline=None)
@given(st.lists(valid_niks(), min_size=1, max_size=40))
def test_valid_parts_are_valid_and_decode_like_stdnum(
    cases: list[tuple[str, dt.date, str]],
) -> None:
    niks = pd.Series([c[0] for c in cases], dtype="string")
    assert check_niks(niks).isna().all()
    assert [_expected(n) for n in niks] == [True] * len(cases)
    out = decode(niks, ON)
    for (number, born, sex), got, jk in zip(
        cases, out["tanggal_lahir"], out["jenis_kelamin"], strict=True
    ):
        theirs = stdnik.get_birth_date(number)
        assert (got.month, got.day, got.year % 100) == (theirs.month, theirs.day, theirs.year % 100)
        assert (got.month, got.day, got.year % 100) == (born.month, born.day, born.year % 100)
        assert got.year == (2000 if born.year % 100 <= ON.year % 100 else 1900) + born.year % 100
        assert jk == sex


@settings(max_examples=80, deadline=None)
@given(st.lists(st.one_of(digit_strings, messy, valid_niks().map(lambda c: c[0])), max_size=40))
def test_vectorised_verdict_agrees_with_stdnum(numbers: list[str]) -> None:
    verdict = check_niks(pd.Series(numbers, dtype="string")).isna().tolist()
    assert verdict == [_expected(n) for n in numbers]
    assert verdict[:5] == [is_valid(n) for n in numbers[:5]]  # the scalar entry point agrees


@settings(max_examples=40, deadline=None)
@given(valid_niks())
def test_documented_differences_from_stdnum(case: tuple[str, dt.date, str]) -> None:
    number = case[0]
    zero_serial = number[:12] + "0000"
    assert stdnik.is_valid(zero_serial) == (number[:2] not in NEW_PROVINCES)
    assert not is_valid(zero_serial)
    papua = "95" + number[2:]
    assert is_valid(papua) and not stdnik.is_valid(papua)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.one_of(st.none(), st.text(max_size=4)), max_size=30),
    st.lists(st.text(max_size=4), max_size=30),
)
def test_isin_text_agrees_with_pandas(values: list[str | None], lookup: list[str]) -> None:
    s = pd.Series(values, dtype="string")
    want = s.isin(lookup).fillna(False).to_numpy(dtype=bool)
    for form in (lookup, set(lookup), pd.Index(lookup, dtype="string"), pd.Series(lookup)):
        assert isin_text(s, form).tolist() == want.tolist()
