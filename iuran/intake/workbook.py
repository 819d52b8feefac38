"""Reading an XLSX without letting it abort the process: measured first, then read by calamine.

calamine builds a sheet as one dense grid from its first to its last cell and sizes the
shared-strings table from `uniqueCount`, so cells at A1 and XFD1048576, or
`uniqueCount="4000000000"`, in a 2 KB file make it ask for hundreds of GB and abort the whole
process (a Rust allocation failure is no exception). So every part of a workbook is measured against
the reader's `Limits` before calamine sees it (`open_workbook`); tests/hostile/ holds the corpus.
"""

from __future__ import annotations

import io
import re
import zipfile
import zlib

import numpy as np
import pyarrow as pa
from python_calamine import CalamineWorkbook

from iuran.intake.cells import Table, family_rows, grid_columns
from iuran.intake.header import Columns, find_header
from iuran.intake.refusal import FileRefused, Limits
from iuran.intake.xls import JENIS as XLS
from iuran.intake.xls import check_xls
from iuran.xlsx import column_letter

# Before calamine opens a workbook: where its cells are. Workbooks written the usual way
# (every cell's `r` its first attribute) are measured with a few vectorised passes over the bytes
# (`_Grid.fast`); any other part is walked tag by tag, placing cells as calamine does.
# Attribute values may hold `>` but never `<` (XML forbids it): a tag never spans a `<`.
_ATTRS = rb"""((?:[^<>"']|"[^"<]*"|'[^'<]*')*)"""
_SST = re.compile(rb"<(?:[A-Za-z_][\w.\-]*:)?sst(?=[\s/>])" + _ATTRS + rb">")
_UNIQUE_COUNT = re.compile(rb"""\suniqueCount\s*=\s*["']\s*(\d+)""")
_TAG = re.compile(rb"<(/?)(?:[A-Za-z_][\w.\-]*:)?(row|c)(?=[\s/>])" + _ATTRS + rb">")
_ATTR_R = re.compile(rb"""\sr\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_CELL_REF = re.compile(rb"\s*([A-Za-z]*)(\d*)\s*")
_EXCEL_COLUMNS = 16384


def _column(index: int) -> str:
    """A column as the operator sees it (`XFD`); past Excel's last column, its number."""
    return column_letter(index) if index < _EXCEL_COLUMNS else f"ke-{index + 1}"


def _column_index(letters: bytes) -> int:
    col = 0
    for letter in letters.upper():
        col = col * 26 + letter - 64
    return col - 1


_PREFIXED = re.compile(rb":(?:c|row)[\s/>]")  # `<x:c ...>`: a namespace prefix
_ODD_R = (b"\tr", b"\nr", b"\rr")  # an `r` attribute after a tab or a line break
_REF = 12  # bytes after `<c r="` that decide a reference: `[A-Z]{1,3}[0-9]{1,7}"` + one more
_PAD = bytes(_REF + 8)  # after a part, so that every look ahead stays inside the array
_WINDOW = np.arange(_REF)
_TENS = 10 ** np.arange(6, -1, -1)
_TWENTY_SIXES = 26 ** np.arange(2, -1, -1)


def _is_space(a: np.ndarray) -> np.ndarray:
    """What `\\s` matches in a bytes regex: space, tab, line feed, vertical tab, form feed, return."""
    return (a == ord(" ")) | (a - 9 <= 4)  # uint8: below 9 wraps round


def _is_name_end(a: np.ndarray) -> np.ndarray:
    """What may follow a tag name: `[\\s/>]`."""
    return _is_space(a) | (a == ord("/")) | (a == ord(">"))


class _Bytes:
    """A part as a byte array: where a text occurs, and the bytes at an offset from positions."""

    def __init__(self, xml: bytes) -> None:
        self.n = len(xml)
        self.a = np.frombuffer(xml + _PAD, dtype=np.uint8)
        # Row i: the _REF bytes from position i (a view: picking rows copies only those).
        self.windows = np.lib.stride_tricks.as_strided(
            self.a, shape=(self.n + 1, _REF), strides=(1, 1), writeable=False
        )

    def get(self, at: np.ndarray, offset: int = 0) -> np.ndarray:
        """The byte `offset` after each of the positions `at` (zero past the end)."""
        return self.a[at + offset]

    def starts(self, at: np.ndarray, text: bytes) -> np.ndarray:
        """Which of the positions `at` start `text`."""
        hit = np.ones(len(at), dtype=bool)
        for i, byte in enumerate(text):
            hit &= self.a[at + i] == byte
        return hit

    def find(self, text: bytes) -> np.ndarray:
        """Every position where `text` (two bytes or more) starts."""
        pairs = (self.a[: self.n] == text[0]) & (self.a[1 : self.n + 1] == text[1])
        at = np.flatnonzero(pairs)
        return at[self.starts(at + 2, text[2:])] if len(text) > 2 else at

    def references(self, at: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """0-based rows and columns of the cell references starting at positions `at`, or None if
        one of them is not `[A-Z]{1,3}[0-9]{1,7}"` followed by `[\\s/>]`."""
        window = self.windows[at]
        letters = np.argmin((window >= ord("A")) & (window <= ord("Z")), axis=1)  # 0 if all are
        digit = (window >= ord("0")) & (window <= ord("9"))
        end = np.argmin(digit | (letters[:, None] > _WINDOW), axis=1)  # 0 if all are
        quote = at + end
        if not (
            (letters >= 1)
            & (letters <= 3)
            & (end - letters >= 1)
            & (end - letters <= 7)
            & (self.a[quote] == ord('"'))
            & _is_name_end(self.a[quote + 1])
        ).all():
            return None
        # Right-aligned: the 7 bytes before the quote are the digits, the 3 before them the letters
        # (at least `<c r="` precedes each reference, so neither reaches back before the part).
        digits = self.windows[quote - 7, :7].astype(np.int64) - ord("0")
        digits[_WINDOW[:7] < (letters - end + 7)[:, None]] = 0
        names = self.windows[at + letters - 3, :3].astype(np.int64) - (ord("A") - 1)
        names[_WINDOW[:3] < (3 - letters)[:, None]] = 0
        return digits @ _TENS - 1, names @ _TWENTY_SIXES - 1


class _Grid:
    """The rows and columns the cells of one part span, as calamine places them."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.row = self.col = self.cells = 0  # calamine's position for a cell without `r`
        self.top = self.left = 2**63
        self.bottom = self.right = -1

    def _check(self) -> None:
        height, width = self.bottom - self.top + 1, self.right - self.left + 1
        if height * width > self.limits.grid_budget() or self.cells > self.limits.grid_budget():
            raise FileRefused(
                "BERKAS_TERLALU_BESAR",
                ukuran=f"sel sampai baris {self.bottom + 1}, kolom {_column(self.right)}",
                batas=f"{self.limits.max_rows} baris, {self.limits.max_columns} kolom",
            )

    def fast(self, xml: bytes) -> bool:
        """Measure a part written the usual way; False (nothing measured) for any other part.

        The usual way: no namespace prefix (`<x:c`, `<x:row`), and every `<c` starts with `r="A1"`,
        its only `r` attribute, written exactly so (no tab or line break before `r`, no space around
        `=`). References are read from a byte array all at once: matching them one by one with
        regexes cost ~0.5 ms for a 100-row sheet, half of calamine's own read.
        """
        if _PREFIXED.search(xml):
            return False
        if b"<c" not in xml:
            return True  # no cell at all (most parts of a workbook)
        b = _Bytes(xml)
        cell = b.find(b"<c")
        cell = cell[_is_name_end(b.get(cell, 2))]
        if not len(cell):
            return True
        standard = cell[b.starts(cell + 2, b' r="')]
        after_r = b.get(b.find(b" r"), 2)
        if (
            len(standard) != len(cell)  # a cell without `r`, or not as its first attribute
            # a second `r`: every ` r=` must be a cell's or a `<row r="`'s
            or np.count_nonzero(after_r == ord("=")) != len(cell) + len(b.find(b'<row r="'))
            or _is_space(after_r).any()  # `r =`
            # a tab or line break before `r` (looked for as one byte first: memchr, ~100x faster)
            or any(odd[:1] in xml and odd in xml for odd in _ODD_R)
        ):
            return False
        refs = b.references(standard + 6)
        if refs is None:  # a reference calamine would read otherwise
            return False
        rows, cols = refs
        self.top, self.bottom = min(self.top, int(rows.min())), max(self.bottom, int(rows.max()))
        self.left, self.right = min(self.left, int(cols.min())), max(self.right, int(cols.max()))
        self.cells += len(cell)
        self._check()
        return True

    def walk(self, xml: bytes) -> None:
        """Place every cell as calamine does: `<row r>` sets the row, `</row>` moves to the next,
        `<c r="B7">` names its cell, a `<c>` without `r` takes the next column."""
        for closing, name, attrs in _TAG.findall(xml):
            if name == b"row":
                if closing or attrs.rstrip().endswith(b"/"):
                    self.row, self.col = self.row + 1, 0
                if not closing:
                    for a, b in _ATTR_R.findall(attrs):
                        if (a or b).strip().isdigit():
                            self.row = int(a or b) - 1
                continue
            if closing:
                continue
            places = []
            for a, b in _ATTR_R.findall(attrs):
                ref = _CELL_REF.fullmatch(a or b)
                if ref is not None:  # else calamine refuses the workbook
                    row = int(ref[2]) - 1 if ref[2] else self.row
                    places.append((row, _column_index(ref[1]) if ref[1] else self.col))
            for row, col in places or [(self.row, self.col)]:
                self.top, self.bottom = min(self.top, row), max(self.bottom, row)
                self.left, self.right = min(self.left, col), max(self.right, col)
                self.col = col + 1
            self.cells += 1
            self._check()


def _check_shared_strings(xml: bytes, limits: Limits) -> None:
    if xml.find(b"sst", 0, 65536) < 0:
        return
    for attrs in _SST.findall(xml[:65536]):
        unique = _UNIQUE_COUNT.search(attrs)
        if unique and int(unique[1]) > limits.grid_budget():
            raise FileRefused(
                "BERKAS_TERLALU_BESAR",
                ukuran=f"{int(unique[1])} teks berbeda",
                batas=f"{limits.max_rows} baris, {limits.max_columns} kolom",
            )


def _check_parts(z: zipfile.ZipFile, limits: Limits) -> None:
    """Refuse, before calamine opens it, a workbook that would make calamine allocate without bound.

    Every part is decompressed once, streamed, within `limits.max_unzipped_bytes` of real output (zipfile
    also checks each part's declared size and CRC: a part that lies about its size is damaged).
    """
    budget = limits.max_unzipped_bytes
    whole = 32 * 2**20  # parts up to this size are measured whole; larger ones walked in chunks
    try:
        for info in z.infolist():
            grid, chunks, size, walking = _Grid(limits), [], 0, False
            with z.open(info) as part:
                while chunk := part.read(1 << 20):
                    budget -= len(chunk)
                    if budget < 0:
                        raise FileRefused(
                            "BERKAS_TERLALU_BESAR",
                            ukuran=f"lebih dari {limits.max_unzipped_bytes // 2**20} MB setelah dibuka",
                            batas=f"{limits.max_unzipped_bytes // 2**20} MB",
                        )
                    if size == 0:
                        _check_shared_strings(chunk, limits)
                    size += len(chunk)
                    chunks.append(chunk)
                    walking = walking or size > whole
                    cut = chunk.rfind(b"<")
                    if walking and cut >= 0:  # a tag never spans a `<`: cut there
                        chunks[-1] = chunk[:cut]
                        grid.walk(b"".join(chunks))
                        chunks = [chunk[cut:]]
            xml = b"".join(chunks)
            if walking or not grid.fast(xml):
                grid.walk(xml)
    except FileRefused:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, RuntimeError,
            EOFError, OSError, ValueError, zlib.error) as exc:  # fmt: skip
        raise FileRefused("BERKAS_RUSAK", jenis="Excel .xlsx") from exc


def open_workbook(raw: bytes, limits: Limits) -> CalamineWorkbook:
    """The workbook in `raw`, measured (`_check_parts`) before calamine opens it. Raises
    FileRefused: not a workbook, too large, or damaged."""
    try:
        z = zipfile.ZipFile(io.BytesIO(raw))
    except zipfile.BadZipFile as exc:
        raise FileRefused("BERKAS_RUSAK", jenis="Excel .xlsx") from exc
    with z:  # opened once: listed, then every part measured
        infos = z.infolist()
        if not any(i.filename == "xl/workbook.xml" for i in infos):
            raise FileRefused("BERKAS_JENIS", jenis="ini (bukan lembar kerja Excel)")
        unzipped = sum(i.file_size for i in infos)
        if unzipped > limits.max_unzipped_bytes:
            raise FileRefused(
                "BERKAS_TERLALU_BESAR",
                ukuran=f"{unzipped // 2**20} MB setelah dibuka",
                batas=f"{limits.max_unzipped_bytes // 2**20} MB",
            )
        _check_parts(z, limits)
    try:
        return CalamineWorkbook.from_filelike(io.BytesIO(raw))
    except Exception as exc:  # calamine reports a damaged workbook with several exception types
        raise FileRefused("BERKAS_RUSAK", jenis="Excel .xlsx") from exc


def read_xlsx(raw: bytes, columns: Columns, limits: Limits) -> Table:
    """An `.xlsx`/`.xlsm`'s table (`read_book`). Raises FileRefused."""
    return read_book(open_workbook(raw, limits), columns, limits, "Excel .xlsx")


def read_xls(raw: bytes, columns: Columns, limits: Limits) -> Table:
    """An old Excel `.xls`'s table, measured first (`iuran.intake.xls`). Raises FileRefused."""
    check_xls(raw, limits)
    try:
        book = CalamineWorkbook.from_filelike(io.BytesIO(raw))
    except Exception as exc:  # calamine reports a damaged workbook with several exception types
        raise FileRefused("BERKAS_RUSAK", jenis=XLS) from exc
    return read_book(book, columns, limits, XLS)


def read_book(book: CalamineWorkbook, columns: Columns, limits: Limits, jenis: str) -> Table:
    """The first visible worksheet with a recognisable header (any sheet if none is visible), as
    text columns. `jenis`: the file type named when it is damaged. Raises FileRefused."""
    try:
        sheets = [
            m.name
            for m in book.sheets_metadata
            if str(m.visible).endswith("Visible") and str(m.typ).endswith("WorkSheet")
        ] or list(book.sheet_names)
        refusal: FileRefused | None = None
        for name in sheets:
            sheet = book.get_sheet_by_name(name)
            if (
                sheet.height > limits.max_rows + limits.header_rows
                or sheet.width > limits.max_columns
            ):
                raise FileRefused(
                    "BERKAS_TERLALU_BESAR",
                    ukuran=f"{sheet.height} baris x {sheet.width} kolom di lembar {name}",
                    batas=f"{limits.max_rows} baris, {limits.max_columns} kolom",
                )
            grid = sheet.to_python(skip_empty_area=False)
            try:
                header = find_header(grid, columns, limits)
            except FileRefused as exc:
                if refusal is None or refusal.code == "BERKAS_KOSONG":
                    refusal = exc
                continue
            data = grid[header.data_start :]
            # OpenSID's import template: its data ends at a row whose second column is `###`
            end = next((i for i, r in enumerate(data) if len(r) > 1 and r[1] == "###"), None)
            data = data if end is None else data[:end]
            if len(data) > limits.max_rows:
                raise FileRefused(
                    "BERKAS_TERLALU_BESAR",
                    ukuran=f"{len(data)} baris",
                    batas=f"{limits.max_rows} baris",
                )
            rows = np.arange(header.data_start + 1, header.data_start + 1 + len(data))
            text = grid_columns(data, header.names, columns.nik)
            # a population register's family rows (`No. KK : ...`) between its people: not people
            people = [text[n] for n in columns.person if n in text]
            nik = header.names.index(columns.nik) if columns.nik in header.names else None
            family = family_rows(data, people, nik) if people else None
            if family is not None and family.any():
                keep = pa.array(~family)
                text = {n: values.filter(keep) for n, values in text.items()}
                rows = rows[~family]
            return Table(text, rows, name, header.notes, header.title)
    except FileRefused:
        raise
    except Exception as exc:  # calamine reports a damaged workbook with several exception types
        raise FileRefused("BERKAS_RUSAK", jenis=jenis) from exc
    raise refusal or FileRefused("BERKAS_KOSONG")
