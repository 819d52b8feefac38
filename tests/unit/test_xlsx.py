"""The XLSX writer read back as its readers read it: openpyxl (what the tests and BPJS tooling use)
and python-calamine (what the roster reader and `pd.read_excel` use)."""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from typing import Any
from xml.etree import ElementTree

import numpy as np
import openpyxl
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl.cell.cell import ERROR_CODES as OPENPYXL_ERROR_CODES
from openpyxl.utils.datetime import from_excel, to_excel
from python_calamine import CalamineWorkbook

from iuran import xlsx

NIK = "0102034501900001"  # a leading zero: a number cell would lose it (and round 16 digits)


def book_with(columns: list[xlsx.Column], **sheet: Any) -> bytes:
    book = xlsx.Workbook()
    book.sheet("Data", **sheet).table(columns)
    return book.to_bytes()


def opened(data: bytes) -> Any:
    return openpyxl.load_workbook(io.BytesIO(data))


def calamine_rows(data: bytes, sheet: int = 0) -> list[list[Any]]:
    return CalamineWorkbook.from_filelike(io.BytesIO(data)).get_sheet_by_index(sheet).to_python()


def column_a(data: bytes) -> list[Any]:
    ws = opened(data).worksheets[0]
    return [ws.cell(row=r, column=1) for r in range(1, ws.max_row + 1)]


def sheet_xml(data: bytes, n: int = 1) -> str:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return z.read(f"xl/worksheets/sheet{n}.xml").decode()


# ---------------------------------------------------------------------------- cell kinds


@pytest.fixture(scope="module")
def kinds() -> bytes:
    frame = pd.DataFrame(
        {
            "text": ["Cilangkahan", "Siti Aminah", None, "", "ẞ ß 中文 😀"],
            "code": [NIK, "36.02.01.2001", pd.NA, "", "3602011505900001"],
            "int": pd.array([0, -5, None, 9_007_199_254_740_993, 2**63 - 1], dtype="Int64"),
            "date": pd.to_datetime(
                ["1990-01-02", "2026-03-01 13:45", None, "1900-03-01", "1950-06-15"],
                format="ISO8601",
            ),
        }
    )
    return book_with(
        [
            xlsx.Column(frame["text"]),
            xlsx.Column(frame["code"], "code"),
            xlsx.Column(frame["int"], "int"),
            xlsx.Column(frame["date"], "date", xlsx.DMY_DATE),
        ]
    )


def test_every_kind_reads_back_with_openpyxl(kinds: bytes) -> None:
    ws = opened(kinds).worksheets[0]
    rows = [[ws.cell(row=r, column=c) for c in range(1, 5)] for r in range(1, 6)]
    assert [c.value for c in rows[0]] == ["Cilangkahan", NIK, 0, dt.datetime(1990, 1, 2)]
    assert [c.data_type for c in rows[0]] == ["s", "s", "n", "d"]
    assert [c.number_format for c in rows[0]] == ["General", "@", "General", "DD/MM/YYYY"]
    assert rows[1][1].value == "36.02.01.2001" and rows[1][2].value == -5
    assert rows[1][3].value == dt.datetime(2026, 3, 1)  # a date cell: the time of day is dropped
    assert [c.value for c in rows[2]] == [None] * 4  # None, NA, NaT: no cell
    assert [c.value for c in rows[3][:2]] == [None, None]  # "" is no cell either
    assert rows[3][2].value == 9_007_199_254_740_993  # beyond a double's 2**53: the digits stay
    assert rows[3][3].value == dt.datetime(1900, 3, 1)
    assert rows[4][0].value == "ẞ ß 中文 😀"
    assert rows[4][2].value == 2**63 - 1 and isinstance(rows[4][2].value, int)
    assert rows[4][3].value == dt.datetime(1950, 6, 15)
    assert not any(c.quotePrefix for row in rows for c in row)


def test_every_kind_reads_back_with_calamine(kinds: bytes) -> None:
    rows = calamine_rows(kinds)
    assert rows[0] == ["Cilangkahan", NIK, 0, dt.date(1990, 1, 2)]
    assert rows[1] == ["Siti Aminah", "36.02.01.2001", -5, dt.date(2026, 3, 1)]
    assert rows[2] == ["", "", "", ""]
    assert rows[4][:2] == ["ẞ ß 中文 😀", "3602011505900001"]


def test_empty_cells_are_left_out(kinds: bytes) -> None:
    xml = sheet_xml(kinds)
    assert re.findall(r'<c r="([A-D]3)"', xml) == []
    assert re.findall(r'<c r="([A-D]4)"', xml) == ["C4", "D4"]


def test_nik_stays_text_in_every_reader() -> None:
    data = book_with([xlsx.Column(pd.Series([NIK, "9999999999999999"]), "code")])
    cells = column_a(data)
    assert [c.value for c in cells] == [NIK, "9999999999999999"]
    assert all(c.data_type == "s" and c.number_format == "@" for c in cells)
    assert [r[0] for r in calamine_rows(data)] == [NIK, "9999999999999999"]
    assert pd.read_excel(io.BytesIO(data), header=None, dtype=str)[0].tolist() == [
        NIK,
        "9999999999999999",
    ]


def test_values_that_are_not_strings_are_written_as_text() -> None:
    values = pd.Series(["a", 7, dt.date(2026, 1, 2), None, np.nan], dtype=object)
    assert [c.value for c in column_a(book_with([xlsx.Column(values)]))] == ["a", "7", "2026-01-02"]


# ------------------------------------------------------------------------------- text safety


def test_escaping_keeps_the_text() -> None:
    values = ["a & b", "<b>x</b>", 'say "hi"', "it's", "]]>", "&amp;", "x\r\ny", "tab\tin", "a\nb"]
    data = book_with([xlsx.Column(values)])
    assert [c.value for c in column_a(data)] == values
    assert [r[0] for r in calamine_rows(data)] == values
    ElementTree.fromstring(sheet_xml(data))  # well-formed


def test_characters_xml_cannot_carry_are_removed() -> None:
    illegal = "".join(chr(c) for c in [*range(0, 9), 0x0B, 0x0C, *range(0x0E, 0x20)])
    values = [f"a{illegal}b", "\x00", "c\ufffed\uffff", "e\ud800f", "\x01=1+1"]
    data = book_with([xlsx.Column(pd.Series(values, dtype=object))])
    cells = column_a(data)
    assert [c.value for c in cells] == ["ab", None, "cd", "ef", "=1+1"]  # "\x00": nothing left
    assert cells[-1].quotePrefix  # checked after the removal, as Excel would see it
    for v in values:
        assert xlsx.safe_text(v) == (xlsx.ILLEGAL.sub("", v) or None)


@pytest.mark.parametrize(
    "value",
    [
        '=HYPERLINK("http://x","klik")',
        "+1",
        "-2+3",
        "@SUM(A1:A9)",
        "\tfoo",
        "\rfoo",
        "=cmd|' /C calc'!A0",
        *OPENPYXL_ERROR_CODES,
    ],
)
def test_formula_like_text_gets_the_quote_prefix(value: str) -> None:
    book = xlsx.Workbook()
    sheet = book.sheet("Data")
    sheet.table([xlsx.Column([value]), xlsx.Column([value], "code")])
    sheet.row([value, value], font="bold")
    ws = opened(book.to_bytes()).worksheets[0]
    cells = [ws["A1"], ws["B1"], ws["A2"], ws["B2"]]
    assert all(c.value == value and c.data_type == "s" and c.quotePrefix for c in cells)
    assert ws["B1"].number_format == "@" and ws["A2"].font.b
    assert xlsx.needs_quote(value)


@pytest.mark.parametrize("value", ["a=b", "1+1", "#N/Ax", "#n/a", " =1", "Rp -5", "e-mail"])
def test_ordinary_text_has_no_quote_prefix(value: str) -> None:
    book = xlsx.Workbook()
    sheet = book.sheet("Data")
    sheet.table([xlsx.Column([value])])
    sheet.row([value])
    ws = opened(book.to_bytes()).worksheets[0]
    assert [(c.value, c.quotePrefix) for c in (ws["A1"], ws["A2"])] == [(value, False)] * 2


def test_error_codes_are_openpyxls() -> None:
    assert set(xlsx.ERROR_CODES) == set(OPENPYXL_ERROR_CODES)


def test_leading_and_trailing_spaces_are_kept() -> None:
    values = ["  dua spasi", "akhir ", "\ttab", " ", "a\n"]
    data = book_with([xlsx.Column(values)])
    assert [c.value for c in column_a(data)] == values
    assert [r[0] for r in calamine_rows(data)] == values
    assert sheet_xml(data).count('xml:space="preserve"') == len(values)


# ------------------------------------------------------------------------------- numbers, dates


def test_int_columns_refuse_floats_bools_and_text() -> None:
    for bad in (
        pd.Series([1.0, 2.0]),
        pd.Series([True, False]),
        pd.Series(["1", "2"]),
        pd.Series([1, 2.5], dtype=object),
    ):
        with pytest.raises(TypeError):
            book_with([xlsx.Column(bad, "int")])
    with pytest.raises(TypeError, match="float"):
        xlsx.Workbook().sheet("x").row([1.5])


def test_int_columns_of_every_integer_dtype() -> None:
    columns = [
        xlsx.Column(np.array([1, 2], dtype=np.int32), "int"),
        xlsx.Column(pd.Series([3, None], dtype="Int64"), "int"),
        xlsx.Column(pd.Series([5, None], dtype=object), "int"),
        xlsx.Column(np.array([2**64 - 1, 0], dtype=np.uint64), "int"),
        xlsx.Column([None, None], "int"),
    ]
    ws = opened(book_with(columns)).worksheets[0]
    assert [ws.cell(1, c).value for c in range(1, 6)] == [1, 3, 5, 2**64 - 1, None]
    assert [ws.cell(2, c).value for c in range(1, 6)] == [2, None, None, 0, None]


def test_dates_match_openpyxls_serials() -> None:
    days = [dt.date(1899, 12, 30), dt.date(1900, 1, 1), dt.date(1900, 2, 28), dt.date(1900, 3, 1)]
    days += [dt.date(1970, 1, 1), dt.date(2026, 12, 31), dt.date(9999, 12, 31)]
    data = book_with([xlsx.Column(pd.Series(days, dtype=object), "date")])
    serials = re.findall(r"<v>(-?\d+)</v>", sheet_xml(data))
    assert [int(s) for s in serials] == [int(to_excel(d)) for d in days]
    ws = opened(data).worksheets[0]
    assert [c.value for c in ws["A"]] == [from_excel(to_excel(d)) for d in days]
    assert all(c.number_format == xlsx.ISO_DATE for c in ws["A"])


def test_a_date_column_keeps_text_that_is_no_date() -> None:
    values = pd.Series(
        [dt.date(1990, 1, 2), "31-02-1990", None, "=1+1", pd.Timestamp("2000-01-01")]
    )
    ws = opened(book_with([xlsx.Column(values, "date")])).worksheets[0]
    cells = [ws.cell(row=r, column=1) for r in range(1, 6)]
    assert cells[0].value == dt.datetime(1990, 1, 2) and cells[0].is_date
    assert cells[1].value == "31-02-1990" and cells[1].data_type == "s"
    assert cells[2].value is None
    assert cells[3].value == "=1+1" and cells[3].quotePrefix
    assert cells[4].value == dt.datetime(2000, 1, 1)


def test_timezone_aware_dates_keep_their_local_day() -> None:
    stamps = pd.Series(pd.to_datetime(["2026-01-31 23:30"]).tz_localize("Asia/Jakarta"))
    assert column_a(book_with([xlsx.Column(stamps, "date")]))[0].value == dt.datetime(2026, 1, 31)


def test_row_values_by_type() -> None:
    book = xlsx.Workbook()
    book.sheet("Data").row(
        ["JUMLAH", None, np.int64(7), 12, dt.date(2026, 1, 2), pd.NA], date_format=xlsx.DMY_DATE
    )
    ws = opened(book.to_bytes()).worksheets[0]
    assert [c.value for c in ws[1]] == ["JUMLAH", None, 7, 12, dt.datetime(2026, 1, 2)]
    assert ws["E1"].number_format == "DD/MM/YYYY"
    with pytest.raises(TypeError):
        book.sheets[0].row([True])


# ------------------------------------------------------------------------ sheets and styles


def test_multiple_sheets_names_styles_panes_widths() -> None:
    book = xlsx.Workbook()
    first = book.sheet("Penolakan & <lain>", widths=(30, 7.5), freeze="A12")
    first.row(["LAPORAN"], font="title")
    first.blank(9)
    first.row(["Berkas asal", "Baris"], font="bold")
    first.table([xlsx.Column(["a.csv"]), xlsx.Column([3], "int")])
    first.row(["JUMLAH", 3], font="bold")
    book.sheet("Kualitas data", freeze="C4", widths=[15] * 30)
    book.sheet("Kanan", freeze="C1")
    book.sheet("Tanpa")
    wb = opened(book.to_bytes())
    assert wb.sheetnames == ["Penolakan & <lain>", "Kualitas data", "Kanan", "Tanpa"]
    ws = wb.worksheets[0]
    assert ws.freeze_panes == "A12"
    assert ws["A1"].font.b and ws["A1"].font.sz == 13
    assert ws["A11"].font.b and ws["A11"].font.sz == 11 and ws["A11"].value == "Berkas asal"
    assert ws["A12"].value == "a.csv" and not ws["A12"].font.b and ws["B12"].value == 3
    assert ws["A13"].font.b and ws["B13"].font.b and ws["B13"].value == 3
    assert (ws.column_dimensions["A"].width, ws.column_dimensions["B"].width) == (30, 7.5)
    assert wb.worksheets[1].freeze_panes == "C4"
    assert wb.worksheets[1].column_dimensions["AD"].width == 15  # past Z
    assert wb.worksheets[2].freeze_panes == "C1"
    assert wb.worksheets[3].freeze_panes is None
    assert [r for r in calamine_rows(book.to_bytes(), 0) if any(r)][-1] == ["JUMLAH", 3]


@pytest.mark.parametrize("name", ["", "a" * 32, "a/b", "x[1]", "what?", "'quoted'", "a\x00"])
def test_bad_sheet_names_are_refused(name: str) -> None:
    with pytest.raises(ValueError):
        xlsx.Workbook().sheet(name)


def test_sheet_names_are_unique_and_a_book_has_a_sheet() -> None:
    book = xlsx.Workbook()
    book.sheet("Data")
    with pytest.raises(ValueError, match="twice"):
        book.sheet("DATA")
    with pytest.raises(ValueError, match="at least one sheet"):
        xlsx.Workbook().to_bytes()


def test_column_letters() -> None:
    assert [xlsx.column_letter(i) for i in (0, 25, 26, 51, 52, 701, 702, 16383)] == [
        "A", "Z", "AA", "AZ", "BA", "ZZ", "AAA", "XFD",
    ]  # fmt: skip
    with pytest.raises(ValueError):
        xlsx.column_letter(16384)


def test_an_empty_frame_gives_a_header_only_sheet() -> None:
    frame = pd.DataFrame({"nik": pd.Series([], dtype="string"), "n": pd.Series([], dtype="int64")})
    book = xlsx.Workbook()
    sheet = book.sheet("Kosong", freeze="A2")
    sheet.row(list(frame.columns), font="bold")
    sheet.table([xlsx.Column(frame["nik"], "code"), xlsx.Column(frame["n"], "int")])
    data = book.to_bytes()
    ws = opened(data).worksheets[0]
    assert ws.max_row == 1 and [c.value for c in ws[1]] == ["nik", "n"]
    assert calamine_rows(data) == [["nik", "n"]]


def test_columns_must_have_one_length() -> None:
    with pytest.raises(ValueError, match="lengths"):
        xlsx.rows([xlsx.Column([1, 2], "int"), xlsx.Column(["a"])], 1)


def test_blocks_cut_into_books_keep_their_row_numbers() -> None:
    """Rows built once for many books (the village reports), each book taking its own."""
    groups = np.array(["b", "a", "b", "a", "b"])
    numbers = 3 + pd.Series(groups).groupby(groups).cumcount().to_numpy()
    block = xlsx.rows([xlsx.Column(["b1", "a1", "b2", "a2", "b3"])], numbers)
    for key, expected in (("a", ["a1", "a2"]), ("b", ["b1", "b2", "b3"])):
        book = xlsx.Workbook()
        sheet = book.sheet("Data")
        sheet.blank(2)
        sheet.append(block.take(np.flatnonzero(groups == key)))
        assert sheet.next_row == 3 + len(expected)
        ws = opened(book.to_bytes()).worksheets[0]
        assert [ws.cell(row=r, column=1).value for r in range(3, 3 + len(expected))] == expected
    with pytest.raises(ValueError, match="continue"):
        xlsx.Workbook().sheet("Data").append(block.take([0, 2]))


# ------------------------------------------------------------------------------- the package


def test_same_content_same_bytes_and_a_clean_package(kinds: bytes) -> None:
    def build() -> bytes:
        book = xlsx.Workbook()
        sheet = book.sheet("Rincian", widths=(19, 28), freeze="A2")
        sheet.row(["nik", "nama"])
        sheet.table([xlsx.Column([NIK], "code"), xlsx.Column(["Siti"])])
        return book.to_bytes()

    assert build() == build()
    with zipfile.ZipFile(io.BytesIO(kinds)) as z:
        assert z.testzip() is None
        assert z.namelist() == [
            "[Content_Types].xml",
            "_rels/.rels",
            "xl/workbook.xml",
            "xl/_rels/workbook.xml.rels",
            "xl/styles.xml",
            "xl/worksheets/sheet1.xml",
        ]
        assert {i.date_time for i in z.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        for name in z.namelist():
            ElementTree.fromstring(z.read(name))  # every part well-formed XML


def test_save_writes_the_same_bytes(tmp_path: Any) -> None:
    book = xlsx.Workbook()
    book.sheet("Data").row(["x"])
    assert book.save(tmp_path / "x.xlsx").read_bytes() == book.to_bytes()


def test_excel_escape_sequences_stay_literal() -> None:
    """Excel reads `_xHHHH_` in a cell's text as a character: "_x003D_1+1" would show as "=1+1"
    (a formula start without the quote prefix). The writer escapes the underscore (`_x005F_`), so
    Excel and calamine show the text as typed; openpyxl shows the escaped form."""
    values = ["_x003D_1+1", "_x0041_x0042_", "_x005F_x0041_", "a_x00_b", "file_x.csv"]
    book = xlsx.Workbook()
    sheet = book.sheet("Data")
    sheet.table([xlsx.Column(values)])
    for value in values:
        sheet.row([value])
    data = book.to_bytes()
    assert [r[0] for r in calamine_rows(data)] == values * 2
    escaped = [xlsx.excel_escaped(v) for v in values]
    assert escaped[0] == "_x005F_x003D_1+1" and escaped[-2:] == values[-2:]
    assert [c.value for c in column_a(data)] == escaped * 2


# --------------------------------------------------------------------------------- property

TEXTS = st.lists(st.text() | st.text(alphabet="_x0123456789aAfF=+- "), min_size=1, max_size=8)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(TEXTS)
def test_any_text_round_trips(values: list[str]) -> None:
    """Whatever the text, openpyxl reads back what was written, minus what XML cannot carry (and
    with Excel's `_x005F_` escape, which openpyxl does not decode, where the text holds `_xHHHH_`);
    text that starts like a formula carries the quote prefix. Calamine reads the exact text. Through
    whole columns and single rows alike."""
    book = xlsx.Workbook()
    sheet = book.sheet("Data")
    sheet.row(["header"])
    sheet.table([xlsx.Column(pd.Series(values, dtype=object)), xlsx.Column(values, "code")])
    for value in values:
        sheet.row([value, value], font="bold")
    data = book.to_bytes()
    ws = opened(data).worksheets[0]
    n = len(values)
    cleaned = [xlsx.ILLEGAL.sub("", v) for v in values]
    for i, text in enumerate(cleaned):
        expected = xlsx.excel_escaped(text) or None
        for cell in (ws.cell(i + 2, 1), ws.cell(i + 2, 2), ws.cell(n + i + 2, 1)):
            assert cell.value == expected
            assert cell.quotePrefix == (expected is not None and xlsx.needs_quote(text))
    rows = calamine_rows(data)
    assert rows[0][0] == "header"
    both = cleaned * 2
    assert [r[0] for r in rows[1:]] == both[: len(rows) - 1]
    assert not any(both[len(rows) - 1 :])  # calamine leaves out trailing empty rows
