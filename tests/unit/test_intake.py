"""The intake internals each against its straightforward version or specification.

The XLSX check's fast path (`_Grid.fast`) reads a part written the usual way with whole-array passes
over its bytes; the per-cell regexes it replaced are the reference: for any bytes, both must give
the same answer (measured or not), the same extent, and refuse the same parts with the same message.
Cleaning skips plain values, XLSX columns come from transposed rows, CSV options are cached and read
with the streaming reader: each against the version that does the whole work.
"""

from __future__ import annotations

import datetime as dt
import io
import random
import re
import zipfile

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pytest

from iuran.intake import cells, delimited, workbook
from iuran.intake.refusal import FileRefused, Limits

_STD_CELL = re.compile(rb'<c r="([A-Z]{1,3})([0-9]{1,7})"(?=[\s/>])')
_ANY_CELL = re.compile(rb"<c[\s/>]")
_PREFIXED = re.compile(rb":(?:c|row)[\s/>]")
_ODD_R = (b"\tr", b"\nr", b"\rr")
_SPACED_R = re.compile(rb" r\s")


def _reference(grid: workbook._Grid, xml: bytes) -> bool:
    """The regex measurement `_Grid.fast` replaced, kept as its specification."""
    if _PREFIXED.search(xml):
        return False
    cells = len(_ANY_CELL.findall(xml))
    if not cells:
        return True
    refs = _STD_CELL.findall(xml)
    if (
        len(refs) != cells
        or xml.count(b" r=") != cells + xml.count(b'<row r="')
        or _SPACED_R.search(xml)
        or any(odd in xml for odd in _ODD_R)
    ):
        return False
    rows = [int(r) - 1 for r in {r for _, r in refs}]
    cols = [workbook._column_index(c) for c in {c for c, _ in refs}]
    grid.top, grid.bottom = min(grid.top, *rows), max(grid.bottom, *rows)
    grid.left, grid.right = min(grid.left, *cols), max(grid.right, *cols)
    grid.cells += len(refs)
    grid._check()
    return True


def _outcome(measure: object, xml: bytes) -> tuple[object, ...]:
    grid = workbook._Grid(Limits())
    try:
        result: object = measure(grid, xml)  # type: ignore[operator]
    except FileRefused as exc:
        result = ("refused", exc.code, exc.message)
    return result, grid.top, grid.bottom, grid.left, grid.right, grid.cells


def _same(xml: bytes) -> None:
    assert _outcome(workbook._Grid.fast, xml) == _outcome(_reference, xml), xml[:300]


def _sheet(cells: str) -> bytes:
    return f'<worksheet xmlns="x"><sheetData>{cells}</sheetData></worksheet>'.encode()


@pytest.mark.parametrize(
    "cells",
    [
        '<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1"/></row>',  # usual
        '<row r="2"><c r="AB12" t="n"><v>1</v></c><c r="XFD2"><v>1</v></c></row>',
        '<row r="1"><c r="A1"/></row><row r="1048576"><c r="XFD1048576"/></row>',  # far apart
        '<row r="1"><c r="A0"/><c r="A0000009"/></row>',  # row 0, 8 digits
        '<row r="1"><c r="ABCD1"/></row>',  # 4 letters
        '<row r="1"><c r="a1"/></row>',  # lower case
        '<row r="1"><c r="A1" r="B2"/></row>',  # a second r
        '<row r="1"><c t="s" r="A1"/></row>',  # r not first
        "<row><c><v>1</v></c></row>",  # no r at all
        '<row r="1"><c\tr="A1"/></row>',  # tab before r
        '<row r="1"><c r ="A1"/></row>',  # space before =
        '<x:row r="1"><x:c r="A1"/></x:row>',  # namespace prefix
        '<row r="1"><c r="A1"',  # cut off after the reference
        '<row r="1"><c r="A1">',
        '<row r="1"><c r="A12345678"/></row>',
        "<cols><col min='1'/></cols>",  # `<col`: not a cell
        "",
    ],
)
def test_fast_measures_as_the_regexes_did(cells: str) -> None:
    _same(_sheet(cells))
    _same(cells.encode())


def test_fast_refuses_far_apart_cells_with_the_same_message() -> None:
    xml = _sheet('<row r="1"><c r="A1"/></row><row r="1048576"><c r="XFD1048576"/></row>')
    _, *extent = _outcome(workbook._Grid.fast, xml)
    with pytest.raises(FileRefused) as caught:
        workbook._Grid(Limits()).fast(xml)
    assert caught.value.code == "BERKAS_TERLALU_BESAR"
    assert "baris 1048576, kolom XFD" in caught.value.message
    assert extent == [0, 1048575, 0, 16383, 2]


def test_a_cell_past_excels_last_column_is_refused_with_its_number() -> None:
    xml = _sheet('<row r="1"><c r="A1"/></row><row r="1048576"><c r="ZZZ1048576"/></row>')
    with pytest.raises(FileRefused) as caught:
        workbook._Grid(Limits()).fast(xml)
    assert caught.value.code == "BERKAS_TERLALU_BESAR"
    assert "baris 1048576, kolom ke-18278" in caught.value.message


def test_fast_on_real_workbook_parts() -> None:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    assert ws is not None
    for r in range(120):
        ws.append([f"{r}-{c}" if c % 3 else r * 1.5 for c in range(12)])
    buffer = io.BytesIO()
    wb.save(buffer)
    with zipfile.ZipFile(buffer) as z:
        for info in z.infolist():
            xml = z.read(info)
            _same(xml)
            if info.filename.startswith("xl/worksheets/"):
                grid = workbook._Grid(Limits())
                assert grid.fast(xml)
                assert (grid.top, grid.bottom, grid.left, grid.right) == (0, 119, 0, 11)


_TOKENS = [
    b'<c r="A1">', b'<c r="', b"<c>", b"<c/>", b'<c\tr="B2"', b' r="', b" r =", b"\tr", b"\nr",
    b"\rr", b"<x:c ", b":row>", b":c/", b'<row r="3">', b"</row>", b'"', b"A", b"Z", b"AAA", b"XFD",
    b"ZZZZ", b"1", b"1048576", b"12345678", b"0", b" ", b"/", b">", b"<", b"r", b"c", b"\x0b",
    b'<c r="AB12" ', b'<c r="a1" ', b'<c r="A', b'<c r="A1"', b'<c r="XFD1048576"/>', b"\x0c",
]  # fmt: skip


def test_fast_agrees_with_the_regexes_on_random_parts() -> None:
    rng = random.Random(20261124)
    base = _sheet(
        "".join(f'<row r="{r}"><c r="A{r}"/><c r="B{r}" t="s"/></row>' for r in (1, 2, 9))
    )
    for _ in range(3000):
        pieces = [rng.choice(_TOKENS) for _ in range(rng.randrange(1, 30))]
        if rng.random() < 0.3:
            cut = rng.randrange(len(base) + 1)
            pieces = [base[:cut], *pieces, base[cut:]]
        _same(b"".join(pieces))


# --- cells and CSV --------------------------------------------------------------------------------


def _clean_everything(values: pa.Array) -> pa.Array:
    """`_clean` with its regexes run on every value (what the prefilter must not change)."""
    trimmed = pc.utf8_trim_whitespace(values)
    need = pc.match_substring_regex(trimmed, cells.NEEDS_COLLAPSE)
    collapsed = pc.utf8_trim(pc.replace_substring_regex(trimmed, cells.SPACES, " "), " ")
    trimmed = pc.if_else(need, collapsed, trimmed)
    return pc.if_else(pc.greater(pc.utf8_length(trimmed), 0), trimmed, pa.scalar(None, pa.string()))


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("  Budi  Santoso ", "Budi Santoso"),
        ("Ani\u00a0Rahayu", "Ani Rahayu"),  # non-breaking space
        ("A\u200bB", "A B"),  # zero-width space
        ("x\x00y\x1bz", "x y z"),  # controls
        ("\ufeffNIK", "NIK"),
        ("Jl. Raya No. 1", "Jl. Raya No. 1"),  # plain: untouched
        ("\u00a0", None),
        ("", None),
        (None, None),
        ("Ña\u3000ño", "Ña ño"),
    ],
)
def test_clean(raw: str | None, clean: str | None) -> None:
    assert cells.clean(pa.array([raw], pa.string())).to_pylist() == [clean]


def test_clean_prefilter_changes_nothing() -> None:
    rng = random.Random(7)
    alphabet = [
        "a", "B", " ", "  ", "\t", "\n", "\r", "\x00", "\x1f", "\x7f", "\u00a0", "\u2003", "\u200b",
        "\ufeff", "\u3000", "\u2028", "é", "-", "~", "\x0b", "\x0c", "\x85", "\u202f",
    ]  # fmt: skip
    for _ in range(300):
        values = [
            None if rng.random() < 0.1 else "".join(rng.choices(alphabet, k=rng.randrange(8)))
            for _ in range(rng.randrange(30))
        ]
        array = pa.array(values, pa.string())
        assert cells.clean(array).equals(_clean_everything(array)), values


def test_xlsx_columns_from_transposed_rows() -> None:
    data: list[list[object]] = [
        ["3602011505900001", "Budi", dt.date(1990, 5, 15), 1500000.0, ""],
        [3602011505900002.0, "", dt.date(1991, 1, 2), "", True],
        ["", "Ani", "15/05/1990", 2.5, None],
    ]
    names: list[str | None] = ["nik", "nama", "tanggal_lahir", "penghasilan", None]
    got = cells.grid_columns(data, names, nik="nik")
    want = {
        n: cells.text_array([r[i] for r in data], nik=n == "nik") for i, n in enumerate(names) if n
    }
    assert got.keys() == want.keys()
    assert all(got[n].equals(want[n]) for n in want)
    assert cells.grid_columns([], names)["nama"].to_pylist() == []


def test_a_nan_number_cell_is_blank_not_a_damaged_file() -> None:
    """A whole-number column with a NaN cell (a crafted `<v>NaN</v>`) reads like a mixed one."""
    got = cells.text_array([1500000.0, float("nan"), "", 2000000.0])
    assert got.to_pylist() == ["1500000", None, None, "2000000"]
    assert cells.text_array([1.0, "", 3.0]).to_pylist() == ["1", None, "3"]


def test_xlsx_columns_of_uneven_rows_fail_as_before() -> None:
    with pytest.raises(IndexError):
        cells.grid_columns([["a", "b"], ["c"]], ["nik", "nama"])


def _load(raw: bytes, skip: int, width: int, streaming: bool) -> object:
    read_options, parse_options, convert_options = delimited._csv_options(skip, width, ",")
    options = {
        "read_options": read_options,
        "parse_options": parse_options,
        "convert_options": convert_options,
    }
    try:
        if streaming:
            return pcsv.open_csv(io.BytesIO(raw), **options).read_all().to_pydict()
        return pcsv.read_csv(io.BytesIO(raw), **options).to_pydict()
    except pa.ArrowInvalid:
        return "invalid"


def test_csv_streaming_reader_matches_read_csv() -> None:
    samples = [b"h\n", b"h", b"h\n\n", b"h\r\na,b\r\n", b'h\n"a\nb",c\n', b"h\na,b\nc\n", b"x\ny"]
    for raw in samples:
        for skip, width in ((0, 1), (1, 2), (2, 2)):
            assert _load(raw, skip, width, True) == _load(raw, skip, width, False), (raw, skip)
