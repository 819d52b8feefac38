"""The XLSX safety check's fast path (`_Grid.fast`) against the per-cell regexes it replaced.

`fast` reads a part written the usual way with whole-array passes over its bytes; the regex version
below is the reference: for any bytes, both must give the same answer (measured or not), the same
extent, and refuse the same parts with the same message.
"""

from __future__ import annotations

import io
import random
import re
import zipfile

import pytest

from iuran.rosters import read

_STD_CELL = re.compile(rb'<c r="([A-Z]{1,3})([0-9]{1,7})"(?=[\s/>])')
_ANY_CELL = re.compile(rb"<c[\s/>]")
_PREFIXED = re.compile(rb":(?:c|row)[\s/>]")
_ODD_R = (b"\tr", b"\nr", b"\rr")
_SPACED_R = re.compile(rb" r\s")


def _reference(grid: read._Grid, xml: bytes) -> bool:
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
    cols = [read._column_index(c) for c in {c for c, _ in refs}]
    grid.top, grid.bottom = min(grid.top, *rows), max(grid.bottom, *rows)
    grid.left, grid.right = min(grid.left, *cols), max(grid.right, *cols)
    grid.cells += len(refs)
    grid._check()
    return True


def _outcome(measure: object, xml: bytes) -> tuple[object, ...]:
    grid = read._Grid()
    try:
        result: object = measure(grid, xml)  # type: ignore[operator]
    except read._Refused as exc:
        result = ("refused", exc.code, exc.message)
    return result, grid.top, grid.bottom, grid.left, grid.right, grid.cells


def _same(xml: bytes) -> None:
    assert _outcome(read._Grid.fast, xml) == _outcome(_reference, xml), xml[:300]


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
    _, *extent = _outcome(read._Grid.fast, xml)
    with pytest.raises(read._Refused) as caught:
        read._Grid().fast(xml)
    assert caught.value.code == "BERKAS_TERLALU_BESAR"
    assert "baris 1048576, kolom XFD" in caught.value.message
    assert extent == [0, 1048575, 0, 16383, 2]


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
                grid = read._Grid()
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
