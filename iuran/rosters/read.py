"""Reading roster files as village operators really send them: CSV and XLSX, into one frame.

Every file is read on its own, so one bad file never stops the others; a refused file gets a stable code
and an Indonesian message (`iuran.rosters.codes`). What this module tolerates, and why:

- CSV separated by `,` `;` `TAB` or `|` (sniffed from the header line; Excel writes `;` on Indonesian
  Windows), UTF-8 with or without BOM, UTF-16 with BOM ("Unicode Text"), else Windows-1252. Every
  column is read as text, so NIKs keep their digits.
- XLSX: the first visible sheet with a recognisable header. Title rows above the header; the header is
  the first row among the first 15 with at least 3 known column names (`SYNONYMS`). A second header row
  under merged cells (`Tempat, Tanggal Lahir` over `Tempat | Tanggal`) and a row of column numbers
  (`1 | 2 | 3 ...`, usual in government forms) are recognised and skipped. Number cells become text
  (`3602012001.0` -> `3602012001`); a NIK in a number cell is kept only when it has 16 significant
  digits that the float holds exactly (`3602011505900001.0`): Excel keeps 15 significant digits and
  zeroes the 16th, so `3602011505900010.0` may be `...0012` and becomes scientific text
  (`3.60201150590001E+15`) that validation rejects as NIK_NOTASI_ILMIAH. Date cells become
  `yyyy-mm-dd`; Excel serial numbers stay numbers (validation converts them).
- All values are trimmed, inner runs of spaces / non-breaking spaces / control characters collapse
  to one space, empty becomes <NA>; rows with none of the known columns filled (pre-numbered template
  rows) are dropped.
- Files in sub-folders are read too; hidden files, Office lock files (`~$...`), `bpjs_status.*` (read
  by the registry step) and system junk are ignored; anything else that is not CSV/XLSX is reported as
  BERKAS_JENIS so that the operator learns the file was not used, as is a symbolic link that leads out
  of the roster folder (never read).
- Limits keep time and memory bounded: `MAX_BYTES`, `MAX_UNZIPPED_BYTES`, `MAX_ROWS`, `MAX_COLUMNS`;
  an XLSX is measured before calamine opens it (`_check_xlsx_parts`), since a few far-apart cells
  would make calamine allocate without bound and abort the process. tests/hostile/ holds the corpus.

`source_row` is the row number the operator sees in Excel (the header row counts as its own row).
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import logging
import os
import re
import zipfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path, PurePosixPath
from typing import Any

import fsspec
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.ipc
from fsspec.implementations.local import LocalFileSystem
from python_calamine import CalamineWorkbook

from iuran import faults
from iuran.nik import isin_text
from iuran.rosters.codes import text

CANONICAL = [
    "nik", "nama", "tanggal_lahir", "jenis_kelamin", "pekerjaan", "kode_desa", "alamat", "no_hp",
    "penghasilan",
]  # fmt: skip
REQUIRED = ("nik", "nama", "tanggal_lahir", "jenis_kelamin", "kode_desa")
PROVENANCE = ["source_file", "source_sheet", "source_row"]
FILE_COLUMNS = ["path", "sha256", "rows", "status", "code", "message"]

#: Column label the operator knows, for messages.
LABELS = {
    "nik": "NIK", "nama": "Nama", "tanggal_lahir": "Tanggal Lahir", "jenis_kelamin": "Jenis Kelamin",
    "pekerjaan": "Pekerjaan", "kode_desa": "Kode Desa", "alamat": "Alamat", "no_hp": "No HP",
    "penghasilan": "Penghasilan",
}  # fmt: skip

#: Header spellings -> canonical column. Keys are normalised by `normalize_header`: lower case, text in
#: brackets removed (`Jenis Kelamin (L/P)`), punctuation -> space, spaces collapsed, and a trailing
#: `peserta` / `pekerja` / `sesuai ktp` dropped (`NIK Peserta` -> `nik`). `TTL` (Tempat, Tanggal Lahir)
#: is deliberately absent: it mixes place and date; `Nama Desa` / `Nama Ibu` are not `nama`.
SYNONYMS: dict[str, str] = {
    **dict.fromkeys(
        ["nik", "no ktp", "nomor ktp", "no nik", "nomor nik", "nik ktp", "ktp",
         "nomor induk kependudukan", "no induk kependudukan"], "nik"),
    **dict.fromkeys(
        ["nama", "nama lengkap", "nama tenaga kerja", "nama lengkap tenaga kerja"], "nama"),
    **dict.fromkeys(
        ["tgl lahir", "tanggal lahir", "tgl lhr", "tanggal lhr", "tgl lahir dd mm yyyy"],
        "tanggal_lahir"),
    **dict.fromkeys(["jk", "l p", "jenis kelamin", "kelamin", "jns kelamin", "gender"],
                    "jenis_kelamin"),
    **dict.fromkeys(
        ["pekerjaan", "jenis pekerjaan", "sektor", "sektor pekerjaan", "profesi", "jenis usaha"],
        "pekerjaan"),
    **dict.fromkeys(
        ["kode desa", "kode wilayah", "kode kemendagri", "kode desa kemendagri", "kode wilayah desa",
         "kode desa kelurahan", "kode kelurahan", "kode wilayah kemendagri"], "kode_desa"),
    **dict.fromkeys(["alamat", "alamat lengkap", "alamat rumah", "alamat domisili"], "alamat"),
    **dict.fromkeys(
        ["no hp", "nomor hp", "hp", "telepon", "no telepon", "nomor telepon", "no telp", "telp",
         "no hp wa", "no wa", "nomor wa", "handphone", "no handphone", "nomor handphone"], "no_hp"),
    **dict.fromkeys(
        ["penghasilan", "upah", "penghasilan per bulan", "penghasilan bulanan", "pendapatan",
         "pendapatan per bulan", "upah per bulan", "penghasilan sebulan"], "penghasilan"),
}  # fmt: skip

HEADER_SCAN_ROWS = 15
_HEADER_CHARS = 64 * 1024  # of a CSV line, parsed to find the header
MIN_HEADER_MATCHES = 3
MAX_BYTES = 20 * 1024 * 1024
MAX_UNZIPPED_BYTES = 200 * 1024 * 1024
MAX_ROWS = 10_000
MAX_COLUMNS = 200

log = logging.getLogger(__name__)

_IGNORED_NAMES = {"thumbs.db", "desktop.ini"}
_SUPPORTED = {".csv", ".xlsx"}
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# Control characters count as space: a NUL in a name makes PostgreSQL refuse the whole cycle's
# transaction ("text fields cannot contain NUL"), an escape sequence garbles a terminal or a log.
_SPACES = r"[\s\pZ\x{200B}\x{FEFF}\x00-\x1F\x7F]+"
_NEEDS_COLLAPSE = r"[\s\pZ\x{200B}\x{FEFF}]{2}|[^ \PZ]|[\x00-\x1F\x7F\x{200B}\x{FEFF}]"
_DATE_WORDS = ("tanggal", "tgl", "tanggal lahir", "tgl lahir")
_SUFFIX = re.compile(r" (peserta|pekerja|sesuai ktp)$")


@dataclass(frozen=True)
class FileVerdict:
    """One line of the file report (`FILE_COLUMNS`)."""

    path: str
    sha256: str
    rows: int
    status: str  # read | rejected
    code: str | None = None
    message: str | None = None


@dataclass(frozen=True)
class Collected:
    """`rows`: CANONICAL (string) + source_file, source_sheet (string), source_row (int64);
    `files`: FILE_COLUMNS, one line per file found (read or rejected)."""

    rows: pd.DataFrame
    files: pd.DataFrame


class _Refused(Exception):
    """A file-level rejection: code + values for its message placeholders."""

    def __init__(self, code: str, **values: str) -> None:
        super().__init__(code)
        self.code = code
        self.values = values

    @property
    def message(self) -> str:
        return text(self.code, **self.values)


@dataclass
class _Table:
    """One file's data rows before trimming: canonical column -> text array, plus provenance."""

    columns: dict[str, pa.Array]
    rows: np.ndarray  # spreadsheet row numbers
    sheet: str = ""
    notes: list[str] = field(default_factory=list)


# --- header recognition -------------------------------------------------------------------------


@lru_cache(maxsize=4096)
def _normalize_text(text: str) -> str:
    t = text.lower().replace("\ufeff", "")
    bare = re.sub(r"\([^)]*\)|\[[^\]]*\]", " ", t)
    if bare.strip():
        t = bare
    t = " ".join(re.sub(r"[^0-9a-z]+", " ", t).split())
    return _SUFFIX.sub("", t)


def normalize_header(text: object) -> str:
    """`Jenis Kelamin (L/P)` -> `jenis kelamin`; `No. KTP` -> `no ktp`; non-text cells -> ``."""
    if not isinstance(text, str) or not text:
        return ""
    return _normalize_text(text[:200])


def _match(cells: Sequence[object]) -> list[str | None]:
    return [SYNONYMS.get(normalize_header(c)) for c in cells]


def _column_letter(i: int) -> str:
    s = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        s = chr(65 + r) + s
    return s


def _is_numbering(cells: Sequence[object]) -> bool:
    """A row of column numbers `1 | 2 | 3 ...` under a government-form header."""
    values = [c for c in cells if c not in ("", None)]
    if len(values) < MIN_HEADER_MATCHES:
        return False
    try:
        numbers = [float(str(v).strip().strip("()")) for v in values]
    except ValueError:
        return False
    return numbers == [float(n) for n in range(int(numbers[0]), int(numbers[0]) + len(numbers))]


@dataclass
class _Header:
    names: list[str | None]  # canonical name per column position
    data_start: int  # 0-based index of the first data row
    notes: list[str]


def _find_header(grid: Sequence[Sequence[object]], csv_style: bool = False) -> _Header:
    """Header row, optional second header row, optional numbering row. Raises _Refused."""
    best: set[str] = set()
    for h, cells in enumerate(grid[:HEADER_SCAN_ROWS]):
        names = _match(cells)
        found = {n for n in names if n}
        if len(found) > len(best):
            best = found
        if len(found) < MIN_HEADER_MATCHES:
            continue
        start = h + 1
        if not csv_style and start < len(grid):
            # Second header row under merged cells: fills columns the first row left unnamed.
            below = grid[start]
            sub = _match(below)
            parents = list(cells)
            for i in range(1, len(parents)):  # merged cells: the value sits in the first one
                if parents[i] in ("", None):
                    parents[i] = parents[i - 1]
            extra = 0
            for i, child in enumerate(sub):
                if i >= len(names) or names[i] is not None:
                    continue
                parent = normalize_header(parents[i]) if i < len(parents) else ""
                if (
                    child is None
                    and "lahir" in parent
                    and normalize_header(below[i]) in _DATE_WORDS
                ):
                    child = "tanggal_lahir"  # `Tanggal` under `Tempat, Tanggal Lahir`
                if child:
                    names[i] = child
                    extra += 1
            if extra:
                start += 1
        if start < len(grid) and _is_numbering(grid[start]):
            start += 1
        missing = [c for c in REQUIRED if c not in names]
        if missing:
            raise _Refused("BERKAS_TANPA_HEADER", kolom=", ".join(LABELS[c] for c in missing))
        notes = []
        seen: dict[str, int] = {}
        for i, n in enumerate(names):
            if n is None:
                continue
            if n in seen:
                notes.append(
                    f"kolom {LABELS[n]} ada dua kali (kolom {_column_letter(seen[n])} dan "
                    f"{_column_letter(i)}); yang dipakai kolom {_column_letter(seen[n])}"
                )
                names[i] = None
            else:
                seen[n] = i
        return _Header(names, start, notes)
    if not any(any(c not in ("", None) for c in row) for row in grid):
        raise _Refused("BERKAS_KOSONG")
    missing = [c for c in REQUIRED if c not in best]
    raise _Refused("BERKAS_TANPA_HEADER", kolom=", ".join(LABELS[c] for c in missing) or "-")


# --- cell conversion ------------------------------------------------------------------------------


def _cell_text(v: Any) -> str | None:
    """One XLSX cell as text (only for columns that are not all text)."""
    if v is None or isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, float):
        if v != v or v in (float("inf"), float("-inf")):
            return None
        if v.is_integer():
            if abs(v) < 2**53:
                return str(int(v))
            return f"{v:.14E}"  # the float no longer holds every digit: say so, in Excel's notation
        return repr(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, dt.datetime):
        return v.date().isoformat() if v.time() == dt.time(0) else v.isoformat(sep=" ")
    if isinstance(v, dt.date | dt.time):
        return v.isoformat()
    return str(v)


def _nik_cell(v: Any) -> str | None:
    """A NIK from a number cell. Excel keeps 15 significant digits, so a 16-digit value ending in 0 may
    have lost its last digit: it is written in scientific notation (rejected as NIK_NOTASI_ILMIAH), as is
    anything a float cannot hold exactly. A value with 16 significant digits was stored exactly."""
    if isinstance(v, float) and v.is_integer() and 10**15 <= v < 2**53 and int(v) % 10:
        return str(int(v))
    if isinstance(v, float) and v == v and abs(v) >= 10**14:
        return f"{v:.14E}"
    return _cell_text(v)


def _text_array(values: Sequence[Any], nik: bool = False) -> pa.Array:
    """A column of cells as text. Pure text, pure dates and pure whole numbers go through Arrow in one
    call each; only mixed columns (and NIK numbers, see `_nik_cell`) are converted cell by cell."""
    try:
        return pa.array(values, type=pa.string())
    except (pa.ArrowTypeError, pa.ArrowInvalid):
        pass
    cells = [None if v == "" else v for v in values]  # calamine gives "" for an empty cell
    if not nik:
        try:
            typed = pa.array(cells)
        except (pa.ArrowTypeError, pa.ArrowInvalid):
            typed = None
        if typed is not None and (pa.types.is_date(typed.type) or pa.types.is_string(typed.type)):
            return pc.cast(typed, pa.string())
        if typed is not None and pa.types.is_floating(typed.type):
            numbers = typed.to_numpy(zero_copy_only=False)
            # NaN here is an empty cell, or a cell a crafted workbook holds as `<v>NaN</v>`: that one
            # goes cell by cell (blank, as in a mixed column), not to the cast, which refuses it
            missing = np.isnan(numbers)
            whole = numbers[~missing]
            if int(missing.sum()) == typed.null_count and np.all(
                (whole == np.floor(whole)) & (np.abs(whole) < 2**53)
            ):
                return pc.cast(pc.cast(typed, pa.int64()), pa.string())
    convert = _nik_cell if nik else _cell_text
    return pa.array([convert(v) for v in cells], type=pa.string())


def _columns(data: list[list[Any]], names: list[str | None]) -> dict[str, pa.Array]:
    """The named columns of a sheet's data rows as text. calamine gives every row the sheet's width,
    so the rows are transposed once (a list per column cost more than converting it)."""
    width = len(data[0]) if data else 0
    if not data or any(len(r) != width for r in data) or width < len(names):
        return {
            n: _text_array([r[i] for r in data], nik=n == "nik") for i, n in enumerate(names) if n
        }
    cells = list(zip(*data, strict=True))
    return {n: _text_array(cells[i], nik=n == "nik") for i, n in enumerate(names) if n}


# --- XLSX -----------------------------------------------------------------------------------------


# Before calamine opens a workbook: where its cells are. calamine builds a sheet as one dense grid
# from its first to its last cell and sizes the shared-strings table from `uniqueCount`, so cells at
# A1 and XFD1048576, or `uniqueCount="4000000000"`, in a 2 KB file make it ask for hundreds of GB and
# abort the whole process (a Rust allocation failure is no exception). Workbooks written the usual way
# (every cell's `r` its first attribute) are measured with a few vectorised passes over the bytes
# (`_Grid.fast`); any other part is walked tag by tag, placing cells as calamine does.
# Attribute values may hold `>` but never `<` (XML forbids it): a tag never spans a `<`.
_ATTRS = rb"""((?:[^<>"']|"[^"<]*"|'[^'<]*')*)"""
_SST = re.compile(rb"<(?:[A-Za-z_][\w.\-]*:)?sst(?=[\s/>])" + _ATTRS + rb">")
_UNIQUE_COUNT = re.compile(rb"""\suniqueCount\s*=\s*["']\s*(\d+)""")
_TAG = re.compile(rb"<(/?)(?:[A-Za-z_][\w.\-]*:)?(row|c)(?=[\s/>])" + _ATTRS + rb">")
_ATTR_R = re.compile(rb"""\sr\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_CELL_REF = re.compile(rb"\s*([A-Za-z]*)(\d*)\s*")


def _grid_budget() -> int:
    """Cells a sheet's grid may span: twice the largest sheet the limits accept (formatted empty
    cells around the data are common and cost calamine little)."""
    return 2 * (MAX_ROWS + HEADER_SCAN_ROWS) * MAX_COLUMNS


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

    def __init__(self) -> None:
        self.row = self.col = self.cells = 0  # calamine's position for a cell without `r`
        self.top = self.left = 2**63
        self.bottom = self.right = -1

    def _check(self) -> None:
        height, width = self.bottom - self.top + 1, self.right - self.left + 1
        if height * width > _grid_budget() or self.cells > _grid_budget():
            raise _Refused(
                "BERKAS_TERLALU_BESAR",
                ukuran=f"sel sampai baris {self.bottom + 1}, kolom {_column_letter(self.right)}",
                batas=f"{MAX_ROWS} baris, {MAX_COLUMNS} kolom",
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


def _check_shared_strings(xml: bytes) -> None:
    if xml.find(b"sst", 0, 65536) < 0:
        return
    for attrs in _SST.findall(xml[:65536]):
        unique = _UNIQUE_COUNT.search(attrs)
        if unique and int(unique[1]) > _grid_budget():
            raise _Refused(
                "BERKAS_TERLALU_BESAR",
                ukuran=f"{int(unique[1])} teks berbeda",
                batas=f"{MAX_ROWS} baris, {MAX_COLUMNS} kolom",
            )


def _check_xlsx_parts(z: zipfile.ZipFile) -> None:
    """Refuse, before calamine opens it, a workbook that would make calamine allocate without bound.

    Every part is decompressed once, streamed, within `MAX_UNZIPPED_BYTES` of real output (zipfile
    also checks each part's declared size and CRC: a part that lies about its size is damaged).
    """
    budget = MAX_UNZIPPED_BYTES
    whole = 32 * 2**20  # parts up to this size are measured whole; larger ones walked in chunks
    try:
        for info in z.infolist():
            grid, chunks, size, walking = _Grid(), [], 0, False
            with z.open(info) as part:
                while chunk := part.read(1 << 20):
                    budget -= len(chunk)
                    if budget < 0:
                        raise _Refused(
                            "BERKAS_TERLALU_BESAR",
                            ukuran=f"lebih dari {MAX_UNZIPPED_BYTES // 2**20} MB setelah dibuka",
                            batas=f"{MAX_UNZIPPED_BYTES // 2**20} MB",
                        )
                    if size == 0:
                        _check_shared_strings(chunk)
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
    except _Refused:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, RuntimeError,
            EOFError, OSError, ValueError, zlib.error) as exc:  # fmt: skip
        raise _Refused("BERKAS_RUSAK", jenis="Excel .xlsx") from exc


def _read_xlsx(raw: bytes) -> _Table:
    try:
        z = zipfile.ZipFile(io.BytesIO(raw))
    except zipfile.BadZipFile as exc:
        raise _Refused("BERKAS_RUSAK", jenis="Excel .xlsx") from exc
    with z:  # opened once: listed, then every part measured
        infos = z.infolist()
        if not any(i.filename == "xl/workbook.xml" for i in infos):
            raise _Refused("BERKAS_JENIS", jenis="ini (bukan lembar kerja Excel)")
        unzipped = sum(i.file_size for i in infos)
        if unzipped > MAX_UNZIPPED_BYTES:
            raise _Refused(
                "BERKAS_TERLALU_BESAR",
                ukuran=f"{unzipped // 2**20} MB setelah dibuka",
                batas=f"{MAX_UNZIPPED_BYTES // 2**20} MB",
            )
        _check_xlsx_parts(z)
    try:
        book = CalamineWorkbook.from_filelike(io.BytesIO(raw))
        sheets = [
            m.name
            for m in book.sheets_metadata
            if str(m.visible).endswith("Visible") and str(m.typ).endswith("WorkSheet")
        ] or list(book.sheet_names)
        refusal: _Refused | None = None
        for name in sheets:
            sheet = book.get_sheet_by_name(name)
            if sheet.height > MAX_ROWS + HEADER_SCAN_ROWS or sheet.width > MAX_COLUMNS:
                raise _Refused(
                    "BERKAS_TERLALU_BESAR",
                    ukuran=f"{sheet.height} baris x {sheet.width} kolom di lembar {name}",
                    batas=f"{MAX_ROWS} baris, {MAX_COLUMNS} kolom",
                )
            grid = sheet.to_python(skip_empty_area=False)
            try:
                header = _find_header(grid)
            except _Refused as exc:
                if refusal is None or refusal.code == "BERKAS_KOSONG":
                    refusal = exc
                continue
            data = grid[header.data_start :]
            if len(data) > MAX_ROWS:
                raise _Refused(
                    "BERKAS_TERLALU_BESAR", ukuran=f"{len(data)} baris", batas=f"{MAX_ROWS} baris"
                )
            columns = _columns(data, header.names)
            rows = np.arange(header.data_start + 1, header.data_start + 1 + len(data))
            return _Table(columns, rows, name, header.notes)
    except _Refused:
        raise
    except Exception as exc:  # calamine reports a damaged workbook with several exception types
        raise _Refused("BERKAS_RUSAK", jenis="Excel .xlsx") from exc
    raise refusal or _Refused("BERKAS_KOSONG")


# --- CSV ------------------------------------------------------------------------------------------


def _decode(raw: bytes) -> tuple[str, bool]:
    """Text and whether `raw` (minus a BOM) is already UTF-8."""
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
        try:
            return raw.decode("utf-16"), False
        except UnicodeDecodeError as exc:
            raise _Refused("BERKAS_RUSAK", jenis="CSV") from exc
    try:
        return raw.decode("utf-8-sig"), True
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("cp1252"), False
    except UnicodeDecodeError as exc:
        raise _Refused("BERKAS_RUSAK", jenis="CSV") from exc


@lru_cache(maxsize=256)
def _csv_options(
    skip: int, width: int, sep: str
) -> tuple[pcsv.ReadOptions, pcsv.ParseOptions, pcsv.ConvertOptions]:
    """Arrow's options for `width` text columns after `skip` lines: built once per layout (~50 µs
    each time). Read with the streaming reader, which costs ~60 µs less per call than `read_csv`
    and parses the same way."""
    names = [f"c{i}" for i in range(width)]
    return (
        pcsv.ReadOptions(skip_rows=skip, column_names=names, use_threads=False, block_size=1 << 22),
        pcsv.ParseOptions(delimiter=sep, ignore_empty_lines=False),
        pcsv.ConvertOptions(column_types=dict.fromkeys(names, pa.string())),
    )


def _read_csv(raw: bytes) -> _Table:
    content, utf8 = _decode(raw)
    if "\x00" in content[:8192]:
        raise _Refused("BERKAS_RUSAK", jenis="CSV")
    lines = [line.rstrip("\r") for line in content.split("\n", HEADER_SCAN_ROWS)[:HEADER_SCAN_ROWS]]
    # Only the start of a line is parsed to find the header: one 20 MB line of separators would
    # otherwise become millions of cells to match (half a minute, most of a GB).
    heads = [line[:_HEADER_CHARS] for line in lines]
    sep, best = ";", -1  # the separator that makes the most known column names on one line
    for line in heads:
        for candidate in (";", ",", "\t", "|"):
            if candidate in line:
                cells = next(csv.reader([line], delimiter=candidate))
                count = len({n for n in _match(cells) if n})
                if count > best:
                    sep, best = candidate, count
        if best >= MIN_HEADER_MATCHES:
            break
    wide = max((line.count(sep) + 1 for line in lines if len(line) > _HEADER_CHARS), default=0)
    if wide > MAX_COLUMNS:
        raise _Refused("BERKAS_TERLALU_BESAR", ukuran=f"{wide} kolom", batas=f"{MAX_COLUMNS} kolom")
    grid = [next(csv.reader([line], delimiter=sep), []) for line in heads]
    header = _find_header(grid, csv_style=True)
    start = header.data_start  # lines before the first data row
    width = len(header.names)
    if width > MAX_COLUMNS:
        raise _Refused(
            "BERKAS_TERLALU_BESAR", ukuran=f"{width} kolom", batas=f"{MAX_COLUMNS} kolom"
        )
    data = raw[3:] if raw.startswith(b"\xef\xbb\xbf") else raw
    read_options, parse_options, convert_options = _csv_options(start, width, sep)
    try:
        table = pcsv.open_csv(
            io.BytesIO(data if utf8 else content.encode("utf-8")),
            read_options=read_options,
            parse_options=parse_options,
            convert_options=convert_options,
        ).read_all()
        cols = {n: table.column(i).combine_chunks() for i, n in enumerate(header.names) if n}
        n_rows = table.num_rows
    except (pa.ArrowInvalid, pa.ArrowTypeError, OSError):
        # Ragged rows (a stray separator, a short line): the csv module tolerates them.
        pieces = content.split("\n", start)
        rest = pieces[start] if len(pieces) > start else ""
        records = list(csv.reader(io.StringIO(rest), delimiter=sep))
        n_rows = len(records)
        cols = {
            n: pa.array([r[i] if i < len(r) else None for r in records], type=pa.string())
            for i, n in enumerate(header.names)
            if n
        }
    if n_rows > MAX_ROWS:
        raise _Refused("BERKAS_TERLALU_BESAR", ukuran=f"{n_rows} baris", batas=f"{MAX_ROWS} baris")
    return _Table(cols, np.arange(start + 1, start + 1 + n_rows), "", header.notes)


# --- files ----------------------------------------------------------------------------------------


def _fs(url: str) -> tuple[fsspec.AbstractFileSystem, str]:
    fs, root = fsspec.core.url_to_fs(url)
    return fs, root


def _ignored(relative: str) -> bool:
    parts = PurePosixPath(relative).parts
    name = parts[-1].lower() if parts else ""
    return (
        any(p.startswith((".", "~")) for p in parts)
        or name.startswith("bpjs_status.")
        or name in _IGNORED_NAMES
    )


def _relative(path: str, root: str) -> str:
    root = root.rstrip("/")
    return path[len(root) + 1 :] if root and path.startswith(root + "/") else path


def _candidates(
    folder: str,
) -> tuple[fsspec.AbstractFileSystem, str, dict[str, dict[str, Any]]]:
    """Every file under `folder` that is not ignored, sorted (fs paths), with what the listing knows
    of it (fsspec's info: `size`, and `islink` for a local file)."""
    fs, root = _fs(folder)
    if not fs.isdir(root):
        raise FileNotFoundError(f"roster folder not found: {folder}")
    found = fs.find(root, detail=True)
    return fs, root, {p: found[p] for p in sorted(found) if not _ignored(_relative(p, root))}


def _url(fs: fsspec.AbstractFileSystem, path: str) -> str:
    return path if isinstance(fs, LocalFileSystem) else fs.unstrip_protocol(path)


def list_roster_files(folder: str) -> list[str]:
    """CSV and XLSX files under `folder` (local path or fsspec URL), sorted; ignored files left out."""
    fs, _, found = _candidates(folder)
    return [_url(fs, p) for p in found if PurePosixPath(p).suffix.lower() in _SUPPORTED]


def folder_digest(folder: str) -> str:
    """One hash of every file under `folder` (names and bytes, ignored files and the BPJS status list
    included): equal digests mean a rerun would read exactly what the last run read."""
    fs, root = _fs(folder)
    if not fs.isdir(root):
        return "no-folder"
    digest = hashlib.sha256()
    found = fs.find(root, detail=True)
    outside = _outside_listed(fs, found, root)  # only links resolved, as collect does
    for path in sorted(found):
        try:
            if outside[path]:  # never read (collect refuses it): where it points is enough
                content = "link:" + os.path.realpath(path)
            elif (size := fs.size(path) or 0) > MAX_BYTES:  # refused unread too
                content = f"big:{size}:{fs.modified(path).timestamp()}"
            else:
                content = _sha256_stream(fs, path)
        except OSError as exc:  # a dangling link, a file gone since listed: collect refuses it too
            content = f"unreadable:{type(exc).__name__}"
        digest.update(f"{_relative(path, root)}\0{content}\n".encode())
    return digest.hexdigest()


def _sha256_stream(fs: fsspec.AbstractFileSystem, path: str) -> str:
    digest = hashlib.sha256()
    with fs.open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _refused(relative: str, sha: str, exc: _Refused) -> tuple[None, FileVerdict]:
    return None, FileVerdict(relative, sha, 0, "rejected", exc.code, exc.message)


def _read(
    fs: fsspec.AbstractFileSystem,
    path: str,
    relative: str,
    size: int | None = None,
    kept: dict[str, FileVerdict] | None = None,
) -> tuple[_Table | None, FileVerdict]:
    """One file's table and verdict; content problems become a verdict, I/O errors propagate.

    `size`: the file's size when the caller already knows it (a local listing). `kept`: verdicts of
    the last read of this folder by relative path: a file with the same bytes is not parsed again
    (`KEPT` and that verdict are returned; its rows are the last read's)."""
    suffix = PurePosixPath(path).suffix.lower()
    if size is None:
        size = fs.size(path) or 0
    if suffix not in _SUPPORTED or size > MAX_BYTES:
        sha = _sha256_stream(fs, path)  # bounded memory, whatever the size
        if suffix not in _SUPPORTED:
            return _refused(
                relative, sha, _Refused("BERKAS_JENIS", jenis=suffix or "tanpa ekstensi")
            )
        return _refused(
            relative,
            sha,
            _Refused(
                "BERKAS_TERLALU_BESAR",
                ukuran=f"{size / 2**20:.1f} MB",
                batas=f"{MAX_BYTES // 2**20} MB",
            ),
        )
    if isinstance(fs, LocalFileSystem):  # fsspec's file object costs more than the read itself
        with open(path, "rb") as f:
            raw = f.read(MAX_BYTES + 1)  # never more: the listed size may be older than the file
        if len(raw) > MAX_BYTES:  # grown since it was measured: refused as too large
            return _read(fs, path, relative, max(len(raw), fs.size(path) or 0))
    else:
        raw = fs.cat_file(path)
    sha = hashlib.sha256(raw).hexdigest()
    last = kept.get(relative) if kept else None
    if last is not None and last.sha256 == sha:
        return KEPT, last
    try:
        if not raw.strip():
            raise _Refused("BERKAS_KOSONG")
        if raw.startswith(b"PK\x03\x04"):
            table = _read_xlsx(raw)  # also a workbook renamed to .csv
        elif raw.startswith(_OLE):
            raise _Refused("BERKAS_JENIS", jenis="Excel 97-2003 (.xls) atau berkas berkata sandi")
        elif raw.startswith(b"%PDF"):
            raise _Refused("BERKAS_JENIS", jenis="PDF")
        elif suffix == ".xlsx":
            raise _Refused("BERKAS_RUSAK", jenis="Excel .xlsx")
        else:
            table = _read_csv(raw)
    except _Refused as exc:
        return _refused(relative, sha, exc)
    return table, FileVerdict(
        relative, sha, len(table.rows), "read", None, "; ".join(table.notes) or None
    )


def _clean(values: pa.Array) -> pa.Array:
    """Trim, collapse inner whitespace (incl. non-breaking spaces) to one space, empty -> null.

    The regexes run only on the few values that may need them: a value of printable ASCII without
    two spaces in a row never does (the regex test costs ~10x these two checks, the rewrite more).
    """
    trimmed = pc.utf8_trim_whitespace(values)
    plain = pc.and_(pc.ascii_is_printable(trimmed), pc.invert(pc.match_substring(trimmed, "  ")))
    maybe = np.flatnonzero(~np.asarray(pc.fill_null(plain, True), dtype=bool))
    if len(maybe):
        need = np.zeros(len(trimmed), dtype=bool)
        need[maybe] = np.asarray(
            pc.fill_null(pc.match_substring_regex(trimmed.take(maybe), _NEEDS_COLLAPSE), False),
            dtype=bool,
        )
        if need.any():
            bad = trimmed.filter(pa.array(need))
            collapsed = pc.utf8_trim(pc.replace_substring_regex(bad, _SPACES, " "), " ")
            trimmed = pc.replace_with_mask(trimmed, pa.array(need), collapsed)
    return pc.if_else(pc.greater(pc.utf8_length(trimmed), 0), trimmed, pa.scalar(None, pa.string()))


def _frame(tables: list[tuple[_Table, str]]) -> pd.DataFrame:
    """One frame from many files' tables: cleaned once, blank rows dropped, provenance attached."""
    lengths = [len(t.rows) for t, _ in tables]
    keep = np.zeros(sum(lengths), dtype=bool)
    data: dict[str, Any] = {}
    for c in CANONICAL:
        chunks = [t.columns.get(c, pa.nulls(len(t.rows), pa.string())) for t, _ in tables]
        arr = _clean(pa.concat_arrays(chunks)) if chunks else pa.array([], pa.string())
        keep |= pc.is_valid(arr).to_numpy(zero_copy_only=False)
        data[c] = pd.arrays.ArrowStringArray(arr)
    data["source_file"] = pd.array(
        np.repeat(np.array([r for _, r in tables], dtype=object), lengths), dtype="string"
    )
    data["source_sheet"] = pd.array(
        np.repeat(np.array([t.sheet for t, _ in tables], dtype=object), lengths), dtype="string"
    )
    data["source_row"] = np.concatenate([t.rows for t, _ in tables] or [np.zeros(0)]).astype(
        np.int64
    )
    return pd.DataFrame(data).loc[keep].reset_index(drop=True)


def read_roster_file(
    path: str, *, relative_to: str = ""
) -> tuple[pd.DataFrame | None, FileVerdict]:
    """One file -> (rows, verdict); rows is None when the file is refused. Never raises for bad content.

    `source_file` / the verdict's path are `path` relative to `relative_to` (the path itself if empty).
    """
    fs, p = _fs(path)
    relative, root = path, ""
    if relative_to:
        _, root = _fs(relative_to)
        relative = _relative(p, root)
    table, verdict = _read_safe(fs, p, relative, _outside(fs, p, root))
    if table is None:
        return None, verdict
    rows = _frame([(table, relative)])
    if not len(rows):
        refused = _Refused("BERKAS_KOSONG")
        return None, FileVerdict(
            relative, verdict.sha256, 0, "rejected", refused.code, refused.message
        )
    return rows, FileVerdict(relative, verdict.sha256, len(rows), "read", None, verdict.message)


def _outside(fs: fsspec.AbstractFileSystem, path: str, root: str) -> bool:
    """A local path that leads out of `root` once links are followed (a symlink to `/etc/passwd` or
    to another program's inbox): its content must never be read as a roster."""
    if not root or not isinstance(fs, LocalFileSystem):
        return False
    return _leads_out(path, os.path.realpath(root))


def _leads_out(path: str, real_root: str) -> bool:
    return os.path.commonpath([os.path.realpath(path), real_root]) != real_root


def _outside_listed(
    fs: fsspec.AbstractFileSystem, found: dict[str, dict[str, Any]], root: str
) -> dict[str, bool]:
    """`_outside` for every file of a listing of `root`, resolving only the links.

    fsspec's local walk never enters a linked folder (it lists the link itself, as a file), so a
    listed path that is not a link has only real folders between `root` and itself: it is inside.
    Resolving every path instead cost ~0.1 ms a file."""
    if not isinstance(fs, LocalFileSystem):
        return dict.fromkeys(found, False)
    real_root = os.path.realpath(root)
    return {
        p: bool(info.get("islink", True)) and _leads_out(p, real_root) for p, info in found.items()
    }


#: Where a cycle keeps what it read, in its output folder (`collect_rosters(keep=…)`)
KEEP_NAME = ".rosters-read.arrow"
#: `_read`'s table for a file whose bytes are those of the last read (`collect_rosters(keep=…)`)
KEPT = _Table({}, np.zeros(0, dtype=np.int64))
_ROW_TYPES = {c: "string[pyarrow]" for c in CANONICAL} | {
    "source_file": "string",
    "source_sheet": "string",
    "source_row": "int64",
}


@lru_cache(maxsize=1)
def _reader_version() -> str:
    """What, besides a file's bytes, decides what is read from it: this module, the libraries."""
    h = hashlib.sha256(Path(__file__).read_bytes())
    for part in (pa.__version__, pd.__version__, np.__version__):
        h.update(b"\0" + part.encode())
    return h.hexdigest()


def _load_kept(path: Path) -> tuple[dict[str, FileVerdict], pd.DataFrame | None]:
    """The verdicts and rows a run kept (`_save_kept`); nothing if absent, unreadable or of
    another reader version (then every file is read)."""
    try:
        with pa.memory_map(str(path)) as source:
            table = pa.ipc.open_file(source).read_all()
        meta = json.loads((table.schema.metadata or {})[b"iuran"])
        if meta.get("version") != _reader_version():
            return {}, None
        verdicts = {v["path"]: FileVerdict(**v) for v in meta["files"] if v.get("sha256")}
        rows = table.to_pandas().astype(_ROW_TYPES)
    except (OSError, ValueError, KeyError, TypeError, pa.ArrowException):
        return {}, None
    return verdicts, rows[list(_ROW_TYPES)]


def _save_kept(path: Path, verdicts: list[FileVerdict], rows: pd.DataFrame) -> None:
    """This read's verdicts (as read, before `collect_rosters` adds its notes) and rows, written
    atomically; never an error for the run (the next one reads everything instead)."""
    meta = {"version": _reader_version(), "files": [v.__dict__ for v in verdicts]}
    # one schema whatever the frame's Arrow layout (string or large_string): the same rows, the
    # same bytes
    schema = pa.schema(
        [(c, pa.int64() if t == "int64" else pa.string()) for c, t in _ROW_TYPES.items()]
    )
    table = pa.Table.from_pandas(rows[list(_ROW_TYPES)], schema=schema, preserve_index=False)
    table = table.replace_schema_metadata({"iuran": json.dumps(meta, sort_keys=True)})
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with pa.OSFile(str(temp), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
            writer.write_table(table)
        temp.replace(path)
    except OSError as exc:
        log.warning("rosters read not kept for the next run: %s", type(exc).__name__)


def _read_safe(
    fs: fsspec.AbstractFileSystem,
    path: str,
    relative: str,
    outside: bool = False,
    size: int | None = None,
    kept: dict[str, FileVerdict] | None = None,
) -> tuple[_Table | None, FileVerdict]:
    """`_read`, with any failure turned into a refusal: one bad file never stops the others.

    `outside`: the path leads out of the roster folder (`_outside`): refused unread."""
    if outside:
        log.warning("roster %s not read: a link out of the roster folder", relative)
        link = _Refused("BERKAS_JENIS", jenis="tautan (symlink) ke luar folder roster")
        return _refused(relative, "", link)
    try:
        return _read(fs, path, relative, size, kept)
    except Exception as exc:  # I/O trouble or a parser surprise; the text may hold personal data
        log.warning("roster %s not read: %s", relative, type(exc).__name__)
        message = f"{text('BERKAS_RUSAK', jenis='.csv/.xlsx')} ({type(exc).__name__})"
        return None, FileVerdict(relative, "", 0, "rejected", "BERKAS_RUSAK", message)


def collect_rosters(folder: str, keep: Path | None = None) -> Collected:
    """Every roster file under `folder` -> one frame of rows + one line per file; never stops on a bad file.

    `keep`: a file where each run keeps what it read, so that the next run of the same folder parses
    only the files whose bytes changed (an admin's rerun after fixing one village's roster). The
    result is the same as reading everything: a file is reused only for the same path and bytes,
    and the whole keep is ignored when written by another version of this reader.
    """
    fs, root, found = _candidates(folder)
    outside = _outside_listed(fs, found, root)
    local = isinstance(fs, LocalFileSystem)
    last_verdicts, last_rows = _load_kept(keep) if keep is not None else ({}, None)
    results = [
        _read_safe(
            fs,
            path,
            _relative(path, root),
            outside[path],
            # a link's size is its target's: asked when read, as a link may dangle by then
            info["size"] if local and not info.get("islink", True) else None,
            last_verdicts,
        )
        for path, info in found.items()
    ]
    tables = [(t, v.path) for t, v in results if t is not None and t is not KEPT]
    rows = _frame(tables)
    reused = [v.path for t, v in results if t is KEPT]
    if reused and last_rows is not None:
        again = last_rows.loc[isin_text(last_rows["source_file"], reused)]
        position = pd.Series(np.arange(len(results)), index=[v.path for _, v in results])
        both = pd.concat([rows, again], ignore_index=True)
        order = np.argsort(both["source_file"].map(position).to_numpy(), kind="stable")
        rows = both.take(order).reset_index(drop=True)
    if keep is not None:
        _save_kept(keep, [v for _, v in results], rows)
    files = pd.DataFrame([v.__dict__ for _, v in results], columns=FILE_COLUMNS)
    files["rows"] = files["path"].map(rows["source_file"].value_counts()).fillna(0).astype("int64")
    emptied = (files["status"] == "read") & (files["rows"] == 0)
    files.loc[emptied, "status"] = "rejected"
    files.loc[emptied, "code"] = "BERKAS_KOSONG"
    files.loc[emptied, "message"] = text("BERKAS_KOSONG")
    # The same bytes under two names: both are read (reconcile merges the NIKs), but say so.
    first_path = files.drop_duplicates("sha256").set_index("sha256")["path"]
    twin = (files["sha256"].duplicated() & (files["sha256"] != "")).to_numpy()
    if twin.any():
        note = "isi berkas sama persis dengan " + files.loc[twin, "sha256"].map(first_path)
        before = files.loc[twin, "message"]
        files.loc[twin, "message"] = (before + "; ").fillna("") + note
    files = files.astype({c: "string" for c in FILE_COLUMNS if c != "rows"})
    faults.point("collect.done")
    return Collected(rows=rows, files=files)
