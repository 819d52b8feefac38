"""Old Excel `.xls` files that would make calamine allocate without bound, or that are damaged, are
refused before calamine opens them (`iuran.intake.xls`), with their code; the process never crashes.

calamine is replaced by a tripwire where the refusal must come from the check before it."""

from __future__ import annotations

import io
import random
import struct

import pytest
import xlwt

from iuran.intake import workbook
from iuran.intake.read import read_table
from iuran.intake.refusal import FileRefused
from iuran.rosters.columns import COLUMNS, LIMITS

HEADER = ["NIK", "Nama", "Tanggal Lahir", "Jenis Kelamin"]


def _xls(rows: int = 20, far: tuple[int, int] | None = None) -> bytes:
    book = xlwt.Workbook()
    sheet = book.add_sheet("Data")
    for j, h in enumerate(HEADER):
        sheet.write(0, j, h)
    for i in range(1, rows + 1):
        for j, value in enumerate(("3602011505900001", f"Warga {i}", "15/05/1990", "L")):
            sheet.write(i, j, value)
    if far is not None:
        sheet.write(*far, "x")
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


class _Opened(BaseException):
    """Not an Exception: the reader turns calamine's exceptions into BERKAS_RUSAK."""


class _Tripwire:
    @staticmethod
    def from_filelike(*args: object) -> None:
        raise _Opened("calamine opened a workbook the check should have refused")


def _code(raw: bytes, suffix: str = ".xls") -> str:
    with pytest.raises(FileRefused) as refused:
        read_table(raw, suffix, COLUMNS, LIMITS)
    assert "{" not in refused.value.message
    return refused.value.code


def test_a_readable_xls_is_read() -> None:
    table = read_table(_xls(), ".xls", COLUMNS, LIMITS)
    assert len(table.rows) == 20 and table.columns["nama"][0].as_py() == "Warga 1"


def test_far_cells_are_refused_before_calamine(monkeypatch: pytest.MonkeyPatch) -> None:
    """A 6 KB file with cells in A1 and IV65536 made calamine allocate 1 GB."""
    monkeypatch.setattr(workbook, "CalamineWorkbook", _Tripwire)
    assert _code(_xls(far=(65535, 255))) == "BERKAS_TERLALU_BESAR"
    assert _code(_xls(far=(65535, 255)), ".xlsx") == "BERKAS_TERLALU_BESAR"  # renamed


def test_a_lying_dimensions_record_is_refused_before_calamine(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    raw = bytearray(_xls())
    at = raw.find(b"\x00\x02\x0e\x00")  # DIMENSIONS, 14 bytes: first row, row after, cols
    assert at > 0
    struct.pack_into("<I", raw, at + 8, 4_000_000_000)
    monkeypatch.setattr(workbook, "CalamineWorkbook", _Tripwire)
    assert _code(bytes(raw)) == "BERKAS_TERLALU_BESAR"


def test_a_lying_shared_strings_count_is_refused_before_calamine(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    raw = bytearray(_xls())
    at = raw.find(b"\xfc\x00")  # SST: total count, then the distinct count calamine sizes by
    assert at > 0
    struct.pack_into("<I", raw, at + 8, 4_000_000_000)
    monkeypatch.setattr(workbook, "CalamineWorkbook", _Tripwire)
    assert _code(bytes(raw)) == "BERKAS_RUSAK"


def test_truncated_and_garbage_xls_are_refused_as_damaged() -> None:
    raw = _xls()
    assert _code(raw[: len(raw) // 2]) == "BERKAS_RUSAK"
    assert _code(raw[:600]) == "BERKAS_RUSAK"
    assert _code(raw[:8] + b"\x00" * 100) == "BERKAS_RUSAK"
    assert _code(raw[:8] + bytes(random.Random(3).randbytes(5000))) == "BERKAS_RUSAK"


def test_damaged_bytes_never_crash_the_reader() -> None:
    """Random bytes changed in a real .xls: read, or refused with a code, never another error."""
    raw, rng = _xls(200), random.Random(15)
    codes = set()
    for _ in range(200):
        mutated = bytearray(raw)
        for _ in range(rng.randint(1, 20)):
            mutated[rng.randrange(len(mutated))] = rng.randrange(256)
        try:
            read_table(bytes(mutated), ".xls", COLUMNS, LIMITS)
            codes.add("read")
        except FileRefused as exc:
            codes.add(exc.code)
    assert {"read", "BERKAS_RUSAK"} <= codes


def test_web_pages_named_xls_go_to_the_web_page_reader() -> None:
    """An Excel 2003 XML page named `.xls` has no table to read: refused by type; an HTML table named
    `.xls` is read as a table (OpenSID's printable list, `iuran.intake.html`), so a header without the
    roster's columns is a header problem, not a type problem."""
    xml = (
        b'<?xml version="1.0"?><Workbook xmlns="urn:schemas-microsoft-com:office:spreadsheet">'
        b"<Worksheet><Table><Row><Cell><Data>NIK</Data></Cell></Row></Table></Worksheet></Workbook>"
    )
    assert _code(xml) == "BERKAS_JENIS"
    page = b"<html><body><table><tr><td>NIK</td><td>Nama</td></tr></table></body></html>"
    assert _code(page) == "BERKAS_TANPA_HEADER"
