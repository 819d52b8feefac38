"""Reading a web page's table as a sheet: OpenSID's printable list ("Unduh"), an HTML `.xls`.

OpenSID serves its printable population list as an HTML table named `Penduduk_<date>.xls` (Excel
opens it with a warning). It is read here with the standard library's tokenizer (`html.parser`: no
lxml or html5lib needed), bounded as a workbook is: rows and columns within the reader's `Limits`,
cell text cut at `_CELL_CHARS`, no element stack kept (a deeply nested page costs nothing more), and
a page without a table refused as not a spreadsheet. Every `<tr>` is a row and every `<td>`/`<th>` a
cell, whatever table it sits in; `<br>` is a space; entities are decoded.

With OpenSID's NIK privacy on, a NIK is printed masked after its first 8 digits (`36020115XXXXXXXX`):
such rows are refused one by one by validation (NIK_DISAMARKAN); a file whose NIKs are all masked is
refused as a whole (BERKAS_NIK_DISAMARKAN), as nobody in it can be registered.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from iuran.intake.cells import Table, clean, grid_columns
from iuran.intake.delimited import decode
from iuran.intake.header import Columns, find_header
from iuran.intake.refusal import FileRefused, Limits
from iuran.nik import MASKED

_CELL_CHARS = 1000  # of one cell's text: a name or an address is far shorter
_HTML_START = re.compile(rb"^(?:\xef\xbb\xbf)?\s*<", re.ASCII)


def is_html(raw: bytes) -> bool:
    """A file whose first character (after a BOM and spaces) is `<`: a web page, whatever its name
    (no spreadsheet or CSV that people send starts so)."""
    return _HTML_START.match(raw[:4096]) is not None


class _Cells(HTMLParser):
    """The text of every `<td>`/`<th>`, row by row; refuses as soon as a limit is passed."""

    def __init__(self, limits: Limits) -> None:
        super().__init__(convert_charrefs=True)
        self.limits = limits
        self.rows: list[list[str]] = []
        self.cell: list[str] | None = None  # the open cell's pieces
        self.size = 0  # characters in the open cell

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tr":
            self._close()
            if len(self.rows) >= self.limits.max_rows + self.limits.header_rows:
                raise FileRefused(
                    "BERKAS_TERLALU_BESAR",
                    ukuran=f"lebih dari {len(self.rows)} baris",
                    batas=f"{self.limits.max_rows} baris",
                )
            self.rows.append([])
        elif tag in ("td", "th"):
            self._close()
            if not self.rows:
                self.rows.append([])
            if len(self.rows[-1]) >= self.limits.max_columns:
                raise FileRefused(
                    "BERKAS_TERLALU_BESAR",
                    ukuran=f"lebih dari {self.limits.max_columns} kolom",
                    batas=f"{self.limits.max_columns} kolom",
                )
            self.cell, self.size = [], 0
        elif tag == "br" and self.cell is not None:
            self.handle_data(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th", "tr", "table"):
            self._close()

    def handle_data(self, data: str) -> None:
        if self.cell is not None and self.size < _CELL_CHARS:
            piece = data[: _CELL_CHARS - self.size]
            self.cell.append(piece)
            self.size += len(piece)

    def finish(self) -> None:
        """Close the cell left open at the end of the page."""
        self._close()

    def _close(self) -> None:
        if self.cell is not None:
            self.rows[-1].append("".join(self.cell))
            self.cell = None


def read_html(raw: bytes, columns: Columns, limits: Limits) -> Table:
    """The rows under the header of a page's table, as text columns. Raises FileRefused."""
    text, _ = decode(raw)
    parser = _Cells(limits)
    try:
        parser.feed(text)
        parser.close()
    except FileRefused:
        raise
    except Exception as exc:  # the tokenizer is lenient; anything else is a page it cannot read
        raise FileRefused("BERKAS_RUSAK", jenis="HTML") from exc
    parser.finish()
    grid = [r for r in parser.rows if r]
    if not grid:
        raise FileRefused("BERKAS_JENIS", jenis="halaman web (HTML) tanpa tabel")
    header = find_header(grid, columns, limits)
    width = len(header.names)
    data = [(r + [""] * width)[:width] for r in grid[header.data_start :]]
    if len(data) > limits.max_rows:
        raise FileRefused(
            "BERKAS_TERLALU_BESAR", ukuran=f"{len(data)} baris", batas=f"{limits.max_rows} baris"
        )
    cols = grid_columns(data, header.names, columns.nik)
    if columns.nik in cols and _all_masked(cols[columns.nik]):
        raise FileRefused("BERKAS_NIK_DISAMARKAN")
    # `rows`: the position among the table's rows (the header row counts as its own row)
    rows = np.arange(header.data_start + 1, header.data_start + 1 + len(data))
    return Table(cols, rows, "", header.notes)


def _all_masked(niks: pa.Array) -> bool:
    """Every NIK written is masked (and at least one is written)."""
    written = clean(niks).drop_null()
    return len(written) > 0 and bool(pc.all(pc.match_substring_regex(written, MASKED)).as_py())
