"""Rupiah in figures and in words: exact strings, integers only."""

from __future__ import annotations

import re
from decimal import Decimal

import numpy as np
import pytest
from babel.numbers import format_decimal
from hypothesis import given
from hypothesis import strategies as st

from iuran.money import angka, as_amount, rupiah, rupiah_lengkap, rupiah_sen, terbilang

AMOUNTS = st.integers(min_value=-(10**15) + 1, max_value=10**15 - 1)

# Indonesian number words back to an int: an independent reading of what terbilang writes.
_DIGITS = {
    "nol": 0, "satu": 1, "dua": 2, "tiga": 3, "empat": 4, "lima": 5, "enam": 6, "tujuh": 7,
    "delapan": 8, "sembilan": 9,
}  # fmt: skip
_SCALES = {"ribu": 10**3, "juta": 10**6, "miliar": 10**9, "triliun": 10**12}


def parse_terbilang(text: str) -> int:
    words = text.split()
    assert words[-1] == "rupiah"
    words = words[:-1]
    sign = 1
    if words[0] == "minus":
        sign, words = -1, words[1:]
    total = group = digit = 0
    for w in words:
        if w in _DIGITS:
            digit = _DIGITS[w]
        elif w == "sepuluh":
            group += 10
        elif w == "sebelas":
            group += 11
        elif w == "seratus":
            group += 100
        elif w == "seribu":
            total += 1000
        elif w == "belas":
            group, digit = group + digit + 10, 0
        elif w == "puluh":
            group, digit = group + digit * 10, 0
        elif w == "ratus":
            group, digit = group + digit * 100, 0
        elif w in _SCALES:
            total, group, digit = total + (group + digit) * _SCALES[w], 0, 0
        else:
            raise AssertionError(f"unexpected word {w!r} in {text!r}")
    return sign * (total + group + digit)


@pytest.mark.parametrize(
    ("n", "text"),
    [
        (57_960_000, "Rp57.960.000"),
        (2_950_000, "Rp2.950.000"),
        (16_800, "Rp16.800"),
        (670_680_000, "Rp670.680.000"),
        (999, "Rp999"),
        (0, "Rp0"),
        (-1000, "-Rp1.000"),
    ],
)
def test_rupiah(n: int, text: str) -> None:
    assert rupiah(n) == text


def test_rupiah_sen_and_lengkap() -> None:
    assert rupiah_sen(2_950_000) == "Rp2.950.000,00"
    assert rupiah_sen(-5) == "-Rp5,00"
    assert rupiah_lengkap(2_950_000) == (
        "Rp2.950.000,00 (dua juta sembilan ratus lima puluh ribu rupiah)"
    )


def test_angka() -> None:
    assert angka(3450) == "3.450"
    assert angka(7) == "7"


@pytest.mark.parametrize(
    ("n", "text"),
    [
        (57_960_000, "lima puluh tujuh juta sembilan ratus enam puluh ribu rupiah"),
        (2_950_000, "dua juta sembilan ratus lima puluh ribu rupiah"),
        (0, "nol rupiah"),
        (1000, "seribu rupiah"),
        (100, "seratus rupiah"),
        (11, "sebelas rupiah"),
        (1_000_000, "satu juta rupiah"),
        (1_001_000, "satu juta seribu rupiah"),
        (2_001_000, "dua juta seribu rupiah"),
        (1_001_001_000, "satu miliar satu juta seribu rupiah"),
        (21_000, "dua puluh satu ribu rupiah"),
        (101_000, "seratus satu ribu rupiah"),
        (201_000, "dua ratus satu ribu rupiah"),
        (16_800, "enam belas ribu delapan ratus rupiah"),
        (670_680_000, "enam ratus tujuh puluh juta enam ratus delapan puluh ribu rupiah"),
        (-6800, "minus enam ribu delapan ratus rupiah"),
    ],
)
def test_terbilang_known_values(n: int, text: str) -> None:
    assert terbilang(n) == text
    assert parse_terbilang(text) == n
    assert "satu ribu" not in text.replace("puluh satu ribu", "").replace("ratus satu ribu", "")


@pytest.mark.parametrize("fn", [rupiah, rupiah_sen, terbilang, angka, as_amount])
@pytest.mark.parametrize(
    "bad", [1.0, 16800.0, True, False, Decimal("1"), "1000", None, np.float64(2)]
)
def test_money_is_int_only(fn: object, bad: object) -> None:
    with pytest.raises(TypeError):
        fn(bad)  # type: ignore[operator]


def test_numpy_integers_accepted() -> None:
    assert rupiah(np.int64(57_960_000)) == "Rp57.960.000"
    assert rupiah(np.int32(-1000)) == "-Rp1.000"
    assert terbilang(np.int64(100)) == "seratus rupiah"
    assert type(as_amount(np.int64(5))) is int


@given(AMOUNTS)
def test_rupiah_digits_are_the_number(n: int) -> None:
    text = rupiah(n)
    assert re.fullmatch(r"-?Rp\d{1,3}(\.\d{3})*", text)
    assert text.replace("Rp", "").replace(".", "") == str(n)
    assert rupiah_sen(n) == text + ",00"
    assert text.replace("Rp", "") == format_decimal(n, locale="id_ID")  # Babel's id_ID grouping


@given(AMOUNTS)
def test_terbilang_words_only_and_round_trips(n: int) -> None:
    text = terbilang(n)
    assert not re.search(r"\d", text)
    assert text == text.lower()
    assert "  " not in text and text == text.strip()
    assert text.endswith(" rupiah")
    assert parse_terbilang(text) == n
    assert "satu ribu" not in text.replace("puluh satu ribu", "").replace("ratus satu ribu", "")
