"""A small, fast XLSX writer: whole columns in, sheet XML out, no object per cell.

openpyxl builds a Python object for every cell and serialises it one by one; for the cycle's sheets
(a 100-row detail sheet per invoice, a mutation list of tens of thousands of rows, hundreds of small
correction lists) that dominated the run. Here a table is given as columns (pandas Series or arrays)
and each column becomes its cells' XML with pyarrow string kernels over the whole column; the rows
are then one element-wise join and the sheet one buffer. Only a few header and title rows take a
per-value path (`Sheet.row`).

What a workbook can hold, and all it needs:

- cell kinds: `text` (inline strings, so there is no shared-string table to build), `code` (text
  with Excel's Text format `@`: NIK, area codes keep leading zeros and every digit), `int` (integers
  only: money is never a float, a float column is refused), `date` (an Excel serial number with a
  date format); missing values (None, NA, NaT, NaN, "") leave the cell out.
- safety, for every text cell: characters XML cannot carry are removed, the rest is escaped, and
  text that starts like a formula (`= + - @ \\t \\r`) or equals an Excel error code (`#N/A` …) gets
  Excel's quote-prefix flag, so it is shown as typed and never evaluated, also after an edit or a CSV
  export. Leading and trailing spaces are kept (`xml:space="preserve"`), and so is text that looks
  like Excel's own `_xHHHH_` character escape (`_x003D_` would otherwise show as `=`).
- looks: bold or title (bold 13 pt) font per row, column widths, frozen panes.
- the same content gives the same bytes: fixed zip timestamps and attributes, no creation time, no
  document properties.

Reading spreadsheets stays with openpyxl / python-calamine; this module only writes. A workbook's
sheet XML is held in memory (arrow buffers) until `save`.

Why one module of ~800 lines: it is one concept (an XLSX file from columns) whose parts share private
invariants: the style table's ids (`style_id`) are what the cell XML refers to, the column kernels
and the per-value path must escape identically (a test compares them), and the zip writer's fixed
attributes are what makes the bytes deterministic. Split, those would become public contracts
between files that no other code uses.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import re
import struct
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

Kind = Literal["text", "code", "int", "date"]
Font = Literal["bold", "title"] | None

#: Excel's error values (openpyxl's `ERROR_CODES`): text equal to one gets the quote prefix.
ERROR_CODES = ("#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A")
#: A text starting with one of these is a formula (or a DDE payload) to Excel or LibreOffice once it
#: is retyped or exported to CSV; `\t` and `\r` are in OWASP's list too.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
#: Characters XML 1.0 cannot carry (and lone surrogates, which UTF-8 cannot): removed from text.
ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
ISO_DATE = "yyyy-mm-dd"  # openpyxl's format for a date cell: the invoice detail sheet
DMY_DATE = "DD/MM/YYYY"  # the reports' format
#: Number formats a cell can have (the index is part of the style id): General, Text, the dates.
NUMBER_FORMATS = ("General", "@", ISO_DATE, DMY_DATE)
_FORMAT_IDS = (0, 49, 164, 165)  # 0 and 49 are built in; 164+ are declared in styles.xml
_FONTS: dict[Font, int] = {None: 0, "bold": 1, "title": 2}
MAX_ROWS = 1_048_576  # Excel's rows per sheet
_COMPRESSLEVEL = 3  # ~3x faster than zlib's default on sheet XML, a few % larger

_ILLEGAL_RE2 = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x{FFFE}\x{FFFF}]"  # pyarrow (RE2) spelling of ILLEGAL
# Byte-level checks on a column's UTF-8 buffer: the characters looked for are ASCII, and an ASCII
# byte never occurs inside a multi-byte UTF-8 sequence, so first/last bytes and a bytes search suffice.
_ILLEGAL_BYTE, _ESCAPE_BYTE, _UNDERSCORE_BYTE = 1, 2, 4
_BYTE_FLAGS = np.zeros(256, dtype=np.uint8)
_BYTE_FLAGS[[*range(0, 9), 0x0B, 0x0C, *range(0x0E, 0x20), 0xEF]] = _ILLEGAL_BYTE  # 0xEF: U+FFFE?
_BYTE_FLAGS[list(b'&<>"\r')] |= _ESCAPE_BYTE
_BYTE_FLAGS[ord("_")] |= _UNDERSCORE_BYTE
# Excel (and calamine) read `_xHHHH_` in a cell's text as the character U+HHHH (ECMA-376 ST_Xstring):
# "_x003D_1+1" would show as "=1+1". An underscore that starts such a sequence is itself written as
# `_x005F_`, so the text shows as typed. (openpyxl does not decode these; it shows `_x005F_x003D_1+1`.)
_X_SEQUENCE = re.compile(r"_(?=x[0-9A-Fa-f]{4}_)")
_X_SEQUENCE_RE2 = r"_x[0-9A-Fa-f]{4}_"
_FORMULA_BYTES = np.frombuffer("".join(FORMULA_START).encode(), dtype=np.uint8)
_SPACE_BYTES = np.frombuffer(b" \t\n\r", dtype=np.uint8)
_EDGE_SPACE = re.compile(r"^[ \t\n\r]|[ \t\n\r]\Z")
_ESCAPES = (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ('"', "&quot;"), ("\r", "&#13;"))
_ESCAPE_TABLE = str.maketrans(dict(_ESCAPES))
_EXCEL_EPOCH = np.datetime64("1899-12-30", "D")
_SHEET_NAME_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")
_CELL_REF = re.compile(r"^([A-Z]{1,3})([1-9][0-9]*)$")

_NS_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_NS_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_NS_PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
_XML_DECL = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'


def style_id(font: Font = None, number_format: str = "General", quote: bool = False) -> int:
    """The cellXfs index of a font / number format / quote-prefix combination (a fixed table)."""
    try:
        fmt = NUMBER_FORMATS.index(number_format)
    except ValueError:
        raise ValueError(f"number format {number_format!r} not one of {NUMBER_FORMATS}") from None
    return _FONTS[font] * 2 * len(NUMBER_FORMATS) + fmt * 2 + int(quote)


def column_letter(index: int) -> str:
    """`0 -> A`, `25 -> Z`, `26 -> AA` (0-based column index)."""
    if not 0 <= index < 16384:
        raise ValueError(f"column index {index} outside Excel's 16384 columns")
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _ref_index(ref: str) -> tuple[int, int]:
    """`"C4" -> (3, 4)`: 1-based column and row of a cell reference."""
    m = _CELL_REF.match(ref)
    if not m:
        raise ValueError(f"not a cell reference: {ref!r}")
    col = 0
    for ch in m.group(1):
        col = col * 26 + ord(ch) - 64
    return col, int(m.group(2))


def _attr(text: str) -> str:
    return text.translate(_ESCAPE_TABLE)


def excel_escaped(text: str) -> str:
    """`text` with every `_xHHHH_` sequence kept literal for Excel (its underscore as `_x005F_`)."""
    return _X_SEQUENCE.sub("_x005F_", text) if "_x" in text else text


def _xstring(text: str) -> str:
    """`text` as a cell's XML text: `_xHHHH_` sequences kept literal, then XML-escaped."""
    return excel_escaped(text).translate(_ESCAPE_TABLE)


# --------------------------------------------------------------------------- one value at a time


def safe_text(value: object) -> str | None:
    """The text a cell holds for `value`: None when missing or empty, characters XML cannot carry
    removed."""
    if _missing(value):
        return None
    return ILLEGAL.sub("", str(value)) or None


def needs_quote(text: str) -> bool:
    """Would Excel read `text` as a formula or an error value if it were typed in?"""
    return text.startswith(FORMULA_START) or text in ERROR_CODES


def _missing(value: object) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float | np.floating | np.datetime64):
        return bool(pd.isna(value))
    return False


def _serial(day: dt.date | np.datetime64) -> int:
    """The Excel serial number of a day (as openpyxl: one less before 1900-03-01, Lotus's leap day)."""
    if isinstance(day, dt.datetime):
        day = day.date()  # its own (local) day; the time is dropped
    if isinstance(day, dt.date):
        day = np.datetime64(day, "D")
    days = int((day.astype("datetime64[D]") - _EXCEL_EPOCH).astype(np.int64))
    return days - 1 if 0 < days <= 60 else days


def _text_xml(ref: str, text: str, font: Font, number_format: str) -> str:
    s = style_id(font, number_format, needs_quote(text))
    style = f' s="{s}"' if s else ""
    space = ' xml:space="preserve"' if _EDGE_SPACE.search(text) else ""
    return f'<c r="{ref}"{style} t="inlineStr"><is><t{space}>{_xstring(text)}</t></is></c>'


def _value_xml(ref: str, value: object, font: Font, date_format: str) -> str:
    """One cell: int -> number, date -> serial with `date_format`, anything else -> safe text."""
    if _missing(value):
        return ""
    if isinstance(value, bool | np.bool_):
        raise TypeError(f"{ref}: a bool is not a cell value here, got {value!r}")
    if isinstance(value, int | np.integer):
        s = style_id(font)
        style = f' s="{s}"' if s else ""
        return f'<c r="{ref}"{style}><v>{int(value)}</v></c>'
    if isinstance(value, float | np.floating):
        raise TypeError(f"{ref}: floats are not written (money is integer Rupiah), got {value!r}")
    if isinstance(value, dt.date | np.datetime64):
        return f'<c r="{ref}" s="{style_id(font, date_format)}"><v>{_serial(value)}</v></c>'
    text = ILLEGAL.sub("", str(value))
    return _text_xml(ref, text, font, "General") if text else ""


# ----------------------------------------------------------------------------- whole columns

_L = pa.large_string()


def _lit(text: str) -> pa.Scalar:
    return pa.scalar(text, _L)


_EMPTY = _lit("")


@dataclass(frozen=True)
class Column:
    """A table column: its values (Series, array or list) and how its cells are written.

    `kind`: `text` (safe text), `code` (safe text with the Text format `@`), `int` (integers only;
    a float or bool column raises TypeError), `date` (datetime64, `datetime.date` or Timestamp
    values; in an object column anything that is not a date is written as safe text).
    """

    values: Any
    kind: Kind = "text"
    date_format: str = ISO_DATE


def _series(values: Any) -> pd.Series:
    if isinstance(values, pd.Series):
        return values
    if isinstance(values, pd.Index | np.ndarray | pd.api.extensions.ExtensionArray):
        return pd.Series(values)
    return pd.Series(list(values), dtype=object)


def _arrow(values: Any) -> pa.Array:
    arr = pa.array(values)
    return arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr


def _strings(s: pd.Series) -> pa.Array:
    """A column as a large_string arrow array (nulls where missing); values that are not strings
    are written as `str(value)` would."""
    if not (isinstance(s.dtype, pd.StringDtype) and s.dtype.storage == "pyarrow"):
        try:
            s = s.astype("string[pyarrow]")
        except UnicodeEncodeError:  # a lone surrogate: no UTF-8 for it, remove it first
            s = s.astype(object).map(lambda v: v if _missing(v) else ILLEGAL.sub("", str(v)))
            s = s.astype("string[pyarrow]")
    arr = _arrow(s.array)
    return arr if arr.type == _L else arr.cast(_L)


def _integers(s: pd.Series) -> pa.Array:
    dtype = s.dtype
    if pd.api.types.is_bool_dtype(dtype):
        raise TypeError(f"{s.name}: integers expected, got {dtype}")
    if pd.api.types.is_float_dtype(dtype):
        raise TypeError(f"{s.name}: integers expected (money is never a float), got {dtype}")
    if not pd.api.types.is_integer_dtype(dtype):
        inferred = pd.api.types.infer_dtype(s, skipna=True)
        if inferred not in ("integer", "empty"):
            raise TypeError(f"{s.name}: integers expected, got {inferred} values")
        try:
            return pa.array(s.astype(object), type=pa.int64(), from_pandas=True)
        except OverflowError as exc:
            raise ValueError(f"{s.name}: integer out of range: {exc}") from exc
    if isinstance(dtype, np.dtype):
        return pa.array(s.to_numpy())
    return _arrow(s.array)


def _date_split(s: pd.Series) -> tuple[pa.Array, pd.Series | None]:
    """(serials, other): the Excel serial of every date (null elsewhere) and the values that are
    neither a date nor missing (written as text), or None when there are none."""
    other = None
    if not pd.api.types.is_datetime64_any_dtype(s.dtype):
        inferred = pd.api.types.infer_dtype(s, skipna=True)
        if inferred not in ("date", "datetime", "datetime64", "empty"):
            objects = s.astype(object)
            is_day = objects.map(lambda v: isinstance(v, dt.date | np.datetime64)).astype(bool)
            other = objects.where(~is_day & objects.notna())
            other = other if other.notna().any() else None
            s = objects.where(is_day)
        s = pd.to_datetime(s.astype(object), errors="coerce")
    if isinstance(s.dtype, pd.DatetimeTZDtype):
        s = s.dt.tz_localize(None)
    days = np.asarray(s.to_numpy()).astype("datetime64[D]")
    missing = np.isnat(days)
    serial = (days - _EXCEL_EPOCH).astype(np.int64)
    serial -= (serial > 0) & (serial <= 60)  # openpyxl's (and Excel's) 1900 leap day
    return pa.array(serial, mask=missing), other


def _attrs(template: str) -> pa.Array:
    """`template` for every style id (`{}` -> ` s="id"`, nothing for the default style 0)."""
    ids = range(len(_FONTS) * 2 * len(NUMBER_FORMATS))
    return pa.array([template.format(f' s="{i}"' if i else "") for i in ids], _L)


_TEXT_HEAD = _attrs('"{} t="inlineStr"><is>')
_NUMBER_HEAD = _attrs('"{}><v>')
_T_OPEN = pa.array(["<t>", '<t xml:space="preserve">'], _L)
_ERRORS = pa.array(ERROR_CODES, _L)


def _utf8(text: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(offsets, bytes) of a large_string array: string i is bytes[offsets[i]:offsets[i + 1]]."""
    buffers = text.buffers()
    offsets = np.frombuffer(buffers[1], dtype=np.int64)[text.offset : text.offset + len(text) + 1]
    data = np.frombuffer(buffers[2], dtype=np.uint8) if buffers[2] else np.zeros(0, np.uint8)
    return offsets, data


def _text_cells(
    text: pa.Array, styles: np.ndarray, letters: pa.Array, numbers: pa.Array
) -> pa.Array:
    """Safe text cells ("" where the value is missing or empty): `styles` is each value's style
    id without the quote prefix (the quote-prefixed style is the next id)."""
    offsets, data = _utf8(text)
    found = int(np.bitwise_or.reduce(_BYTE_FLAGS[data[offsets[0] : offsets[-1]]], initial=0))
    if found & _ILLEGAL_BYTE:
        text = pc.replace_substring_regex(text, _ILLEGAL_RE2, "")
        offsets, data = _utf8(text)
    valid = text.is_valid().to_numpy(zero_copy_only=False) if text.null_count else True
    present = valid & (offsets[1:] > offsets[:-1])
    first = np.zeros(len(text), dtype=np.uint8)
    last = np.zeros(len(text), dtype=np.uint8)
    first[present] = data[offsets[:-1][present]]
    last[present] = data[offsets[1:][present] - 1]
    quote = np.isin(first, _FORMULA_BYTES)
    if (first == ord("#")).any():  # an error value (#N/A, #REF! …) as text
        quote |= pc.is_in(text, value_set=_ERRORS).to_numpy(zero_copy_only=False)
    spaced = np.isin(first, _SPACE_BYTES) | np.isin(last, _SPACE_BYTES)
    if found & _UNDERSCORE_BYTE and pc.any(pc.match_substring_regex(text, _X_SEQUENCE_RE2)).as_py():
        # rare, and RE2 has no lookahead for overlapping sequences: Python's re, this column only
        text = pa.array(
            [v if v is None else _X_SEQUENCE.sub("_x005F_", v) for v in text.to_pylist()], _L
        )
    if found & _ESCAPE_BYTE:
        for char, entity in _ESCAPES:
            text = pc.replace_substring(text, char, entity)
    cells = pc.binary_join_element_wise(
        _lit('<c r="'),
        letters,
        numbers,
        _TEXT_HEAD.take(pa.array(styles + quote, mask=~present)),
        _T_OPEN.take(pa.array(spaced.astype(np.int8))),
        text,
        _lit("</t></is></c>"),
        _EMPTY,
    )
    return cells.fill_null("")


def _number_cells(
    values: pa.Array, styles: np.ndarray, letters: pa.Array, numbers: pa.Array
) -> pa.Array:
    cells = pc.binary_join_element_wise(
        _lit('<c r="'),
        letters,
        numbers,
        _NUMBER_HEAD.take(pa.array(styles)),
        values.cast(_L),
        _lit("</v></c>"),
        _EMPTY,
    )
    return cells.fill_null("")


@dataclass
class _Parts:
    """The table's columns sorted into one stack of text and one of numbers (each part n values,
    with its column index and style), so each kernel runs once per table, not once per column."""

    text: list[tuple[int, pa.Array, int]]
    numbers: list[tuple[int, pa.Array, int]]


def _parts(columns: Sequence[Column], font: Font) -> _Parts:
    parts = _Parts([], [])
    for j, column in enumerate(columns):
        s = _series(column.values)
        if column.kind == "text":
            parts.text.append((j, _strings(s), style_id(font)))
        elif column.kind == "code":
            parts.text.append((j, _strings(s), style_id(font, "@")))
        elif column.kind == "int":
            ints = _integers(s)
            if ints.type != pa.int64():  # uint64 may not fit an int64: its digits as text
                ints = ints.cast(_L if ints.type == pa.uint64() else pa.int64())
            parts.numbers.append((j, ints, style_id(font)))
        elif column.kind == "date":
            serials, other = _date_split(s)
            parts.numbers.append((j, serials, style_id(font, column.date_format)))
            if other is not None:  # the column's cells: a date or a text, the other one empty
                parts.text.append((j, _strings(other), style_id(font)))
        else:
            raise ValueError(f"unknown column kind {column.kind!r}")
    return parts


def _stack(
    parts: list[tuple[int, pa.Array, int]], n: int, numbers: pa.Array
) -> tuple[pa.Array, np.ndarray, pa.Array, pa.Array]:
    """(values of all parts back to back, style id, column letter and row number per value)."""
    arrays = [p[1] for p in parts]
    if len({a.type for a in arrays}) > 1:
        arrays = [a.cast(_L) for a in arrays]
    values = arrays[0] if len(arrays) == 1 else pa.concat_arrays(arrays)
    styles = np.repeat(np.array([p[2] for p in parts], dtype=np.int64), n)
    letters = pa.array([column_letter(p[0]) for p in parts], _L)
    part = pa.array(np.repeat(np.arange(len(parts), dtype=np.int64), n))
    row = pa.array(np.tile(np.arange(n, dtype=np.int64), len(parts)))
    return values, styles, letters.take(part), numbers.take(row)


@dataclass(frozen=True)
class Rows:
    """Finished rows: one `<row>` XML string per row and its 1-based row number.

    Built once for many rows (`rows`), a block can be cut into pieces (`take`) that go to different
    sheets or workbooks, as long as each piece's numbers continue its sheet (`Sheet.append`)."""

    xml: pa.Array
    numbers: np.ndarray

    def __len__(self) -> int:
        return len(self.numbers)

    def take(self, indices: Sequence[int] | np.ndarray) -> Rows:
        idx = np.asarray(indices, dtype=np.int64)
        return Rows(self.xml.take(pa.array(idx)), self.numbers[idx])


def rows(
    columns: Sequence[Column], numbers: int | Sequence[int] | np.ndarray, *, font: Font = None
) -> Rows:
    """A table's rows, column by column: `numbers` is the first row's number (the rest follow) or
    one row number per row."""
    lengths = {len(_series(c.values)) for c in columns}
    if len(lengths) > 1:
        raise ValueError(f"columns of different lengths: {sorted(lengths)}")
    n = lengths.pop() if lengths else 0
    if isinstance(numbers, int | np.integer):
        row_numbers = np.arange(int(numbers), int(numbers) + n, dtype=np.int64)
    else:
        row_numbers = np.asarray(numbers, dtype=np.int64)
        if len(row_numbers) != n:
            raise ValueError(f"{len(row_numbers)} row numbers for {n} rows")
    if n and (int(row_numbers.min()) < 1 or int(row_numbers.max()) > MAX_ROWS):
        raise ValueError(f"row numbers outside 1..{MAX_ROWS}")
    if n == 0:
        return Rows(pa.array([], _L), row_numbers)
    numbers_text = pa.array(row_numbers).cast(_L)
    parts = _parts(columns, font)
    stacks, order = [], []
    if parts.text:
        stacks.append(_text_cells(*_stack(parts.text, n, numbers_text)))
        order += [p[0] for p in parts.text]
    if parts.numbers:
        stacks.append(_number_cells(*_stack(parts.numbers, n, numbers_text)))
        order += [p[0] for p in parts.numbers]
    opening = pc.binary_join_element_wise(_lit('<row r="'), numbers_text, _lit('">'), _EMPTY)
    pieces = pa.concat_arrays([*stacks, opening, pa.array(["</row>"], _L)])
    # row-major: each row's opening tag, its cells in column order, the closing tag
    k = len(order)
    segments = np.array(order, dtype=np.int64).argsort(kind="stable") * n
    index = np.empty((n, k + 2), dtype=np.int64)
    index[:, 0] = k * n + np.arange(n)
    index[:, 1:-1] = segments[None, :] + np.arange(n)[:, None]
    index[:, -1] = (k + 1) * n
    per_row = pa.LargeListArray.from_arrays(
        pa.array(np.arange(0, n * (k + 2) + 1, k + 2, dtype=np.int64)),
        pieces.take(pa.array(index.ravel())),
    )
    return Rows(pc.binary_join(per_row, _EMPTY), row_numbers)


def _joined(xml: pa.Array) -> bytes | memoryview:
    """All strings of an arrow string array back to back: one buffer, no Python string per row."""
    if len(xml) == 0:
        return b""
    xml = xml.cast(_L)
    if xml.null_count:
        raise ValueError("a row without XML")
    offsets = np.frombuffer(xml.buffers()[1], dtype=np.int64)[
        xml.offset : xml.offset + len(xml) + 1
    ]
    # the strings of an arrow array (or of a slice of one) lie back to back in its data buffer
    return memoryview(xml.buffers()[2])[int(offsets[0]) : int(offsets[-1])]


# ------------------------------------------------------------------------------- sheets, books


class Sheet:
    """One worksheet; rows are added top to bottom (`row`, `blank`, `table`, `append`)."""

    def __init__(
        self, name: str, *, widths: Sequence[float] = (), freeze: str | None = None
    ) -> None:
        self.name = name
        self.widths = [float(w) for w in widths]
        if freeze is not None:
            _ref_index(freeze)
        self.freeze = freeze
        self.next_row = 1
        self._chunks: list[bytes | memoryview] = []

    def row(
        self, values: Iterable[object], *, font: Font = None, date_format: str = ISO_DATE
    ) -> None:
        """One row of a few Python values (titles, headers, totals): int -> number, date -> date
        cell, None -> empty, anything else -> safe text; `font` for every cell of the row."""
        n = self.next_row
        if n > MAX_ROWS:
            raise ValueError(f"row {n}: a sheet has at most {MAX_ROWS} rows")
        cells = "".join(
            _value_xml(f"{column_letter(i)}{n}", v, font, date_format) for i, v in enumerate(values)
        )
        if cells:
            self._chunks.append(f'<row r="{n}">{cells}</row>'.encode())
        self.next_row += 1

    def blank(self, count: int = 1) -> None:
        self.next_row += count

    def table(self, columns: Sequence[Column], *, font: Font = None) -> None:
        """Rows from whole columns, starting at the next row."""
        self.append(rows(columns, self.next_row, font=font))

    def append(self, block: Rows) -> None:
        """Finished rows (see `rows`) whose numbers continue this sheet, in order."""
        if not len(block):
            return
        first, last = int(block.numbers[0]), int(block.numbers[-1])
        if first != self.next_row or last - first != len(block) - 1:
            raise ValueError(
                f"rows {first}..{last} ({len(block)} rows) do not continue at row {self.next_row}"
            )
        self._chunks.append(_joined(block.xml))
        self.next_row = last + 1

    def _head(self) -> bytes:
        view = ""
        if self.freeze and self.freeze != "A1":
            col, row = _ref_index(self.freeze)
            split = (f' xSplit="{col - 1}"' if col > 1 else "") + (
                f' ySplit="{row - 1}"' if row > 1 else ""
            )
            pane = "bottomRight" if col > 1 and row > 1 else "bottomLeft" if row > 1 else "topRight"
            selection = (
                '<selection pane="topRight"/><selection pane="bottomLeft"/>'
                if pane == "bottomRight"
                else ""
            )
            view = (
                f'<pane{split} topLeftCell="{self.freeze}" activePane="{pane}" state="frozen"/>'
                f'{selection}<selection pane="{pane}" activeCell="A1" sqref="A1"/>'
            )
        cols = "".join(
            f'<col min="{i}" max="{i}" width="{w:g}" customWidth="1"/>'
            for i, w in enumerate(self.widths, 1)
        )
        return (
            f'{_XML_DECL}<worksheet xmlns="{_NS_MAIN}" xmlns:r="{_NS_REL}">'
            f'<sheetViews><sheetView workbookViewId="0">{view}</sheetView></sheetViews>'
            f'<sheetFormatPr defaultRowHeight="15"/>'
            f"{f'<cols>{cols}</cols>' if cols else ''}<sheetData>"
        ).encode()

    _TAIL = (
        b'</sheetData><pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" header="0.3"'
        b' footer="0.3"/></worksheet>'
    )

    def _parts(self) -> list[bytes | memoryview]:
        return [self._head(), *self._chunks, self._TAIL]


def _styles_xml() -> bytes:
    fonts = "".join(
        f'<font>{bold}<sz val="{size}"/><name val="Calibri"/><family val="2"/>'
        f'<scheme val="minor"/></font>'
        for bold, size in (("", 11), ("<b/>", 11), ("<b/>", 13))
    )
    num_fmts = "".join(
        f'<numFmt numFmtId="{i}" formatCode="{_attr(f)}"/>'
        for i, f in zip(_FORMAT_IDS, NUMBER_FORMATS, strict=True)
        if i >= 164
    )
    xfs = []
    for font in _FONTS.values():
        for fmt_id in _FORMAT_IDS:
            for quote in (False, True):
                attrs = f'numFmtId="{fmt_id}" fontId="{font}" fillId="0" borderId="0" xfId="0"'
                if font:
                    attrs += ' applyFont="1"'
                if fmt_id:
                    attrs += ' applyNumberFormat="1"'
                if quote:
                    attrs += ' quotePrefix="1"'
                xfs.append(f"<xf {attrs}/>")
    return (
        f'{_XML_DECL}<styleSheet xmlns="{_NS_MAIN}">'
        f'<numFmts count="{num_fmts.count("<numFmt ")}">{num_fmts}</numFmts>'
        f'<fonts count="3">{fonts}</fonts>'
        '<fills count="2"><fill><patternFill patternType="none"/></fill>'
        '<fill><patternFill patternType="gray125"/></fill></fills>'
        '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
        '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
        f'<cellXfs count="{len(xfs)}">{"".join(xfs)}</cellXfs>'
        '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
        "</styleSheet>"
    ).encode()


_STYLES = _styles_xml()

# ------------------------------------------------------------------------------------------ zip
# A plain zip written here rather than through `zipfile`: the small parts every workbook shares are
# compressed once (cached), and nothing platform-dependent or dated goes in (DOS date 1980-01-01).

_DOS_TIME, _DOS_DATE = 0, (0 << 9) | (1 << 5) | 1
_ZIP_LIMIT = 0xFFFFFFFF  # no zip64: a sheet holds at most 1,048,576 rows, far below 4 GB of XML


@functools.lru_cache(maxsize=256)
def _deflated_part(data: bytes) -> tuple[int, int, bytes]:
    return _deflate([data])


def _deflate(chunks: Sequence[bytes | memoryview]) -> tuple[int, int, bytes]:
    """(crc32, size, raw deflate stream) of the chunks back to back."""
    packer = zlib.compressobj(_COMPRESSLEVEL, zlib.DEFLATED, -15)
    crc, size, out = 0, 0, []
    for chunk in chunks:
        crc = zlib.crc32(chunk, crc)
        size += len(chunk)
        out.append(packer.compress(chunk))
    out.append(packer.flush())
    return crc, size, b"".join(out)


def _write_zip(file: IO[bytes], parts: Sequence[tuple[str, Sequence[bytes | memoryview]]]) -> None:
    central, offset = [], 0
    for name, chunks in parts:
        if len(chunks) == 1 and isinstance(chunks[0], bytes) and len(chunks[0]) < 65536:
            crc, size, data = _deflated_part(chunks[0])
        else:
            crc, size, data = _deflate(chunks)
        if size >= _ZIP_LIMIT or offset + len(data) >= _ZIP_LIMIT:
            raise ValueError(f"{name}: too large for a workbook ({size} bytes)")
        raw_name = name.encode()
        fields = (_DOS_TIME, _DOS_DATE, crc, len(data), size, len(raw_name))
        header = struct.pack("<IHHH" + "HHIIIHH", 0x04034B50, 20, 0, 8, *fields, 0)
        file.write(header + raw_name)
        file.write(data)
        entry = struct.pack(
            "<IHHHH" + "HHIIIH" + "HHHHII",
            *(0x02014B50, 0x0314, 20, 0, 8),  # made by: Unix, zip 2.0; needs 2.0; deflated
            *fields,
            *(0, 0, 0, 0, 0o100644 << 16, offset),  # no extra/comment, disk 0, a -rw-r--r-- file
        )
        central.append(entry + raw_name)
        offset += len(header) + len(raw_name) + len(data)
    directory = b"".join(central)
    file.write(directory)
    file.write(
        struct.pack(
            "<IHHHHIIH", 0x06054B50, 0, 0, len(parts), len(parts), len(directory), offset, 0
        )
    )


_ROOT_RELS = (
    f'{_XML_DECL}<Relationships xmlns="{_NS_PKG_REL}"><Relationship Id="rId1" '
    f'Type="{_NS_REL}/officeDocument" Target="xl/workbook.xml"/></Relationships>'
).encode()


class Workbook:
    """Sheets in order; `save` writes the whole package."""

    def __init__(self) -> None:
        self.sheets: list[Sheet] = []

    def sheet(self, name: str, *, widths: Sequence[float] = (), freeze: str | None = None) -> Sheet:
        """A new sheet at the end. Names: 1-31 characters, none of `[]:*?/\\`, unique."""
        if not 1 <= len(name) <= 31 or _SHEET_NAME_FORBIDDEN.search(name) or ILLEGAL.search(name):
            raise ValueError(f"not a valid sheet name: {name!r}")
        if name.startswith("'") or name.endswith("'"):
            raise ValueError(f"a sheet name cannot start or end with an apostrophe: {name!r}")
        if name.casefold() in {s.name.casefold() for s in self.sheets}:
            raise ValueError(f"sheet name used twice: {name!r}")
        sheet = Sheet(name, widths=widths, freeze=freeze)
        self.sheets.append(sheet)
        return sheet

    def _package(self) -> list[tuple[str, list[bytes | memoryview]]]:
        if not self.sheets:
            raise ValueError("a workbook needs at least one sheet")
        n = len(self.sheets)
        types = "".join(
            f'<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
            for i in range(1, n + 1)
        )
        content_types = (
            f"{_XML_DECL}"
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" '
            'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            '<Override PartName="/xl/styles.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
            f"{types}</Types>"
        )
        sheets = "".join(
            f'<sheet name="{_attr(s.name)}" sheetId="{i}" r:id="rId{i}"/>'
            for i, s in enumerate(self.sheets, 1)
        )
        workbook = (
            f'{_XML_DECL}<workbook xmlns="{_NS_MAIN}" xmlns:r="{_NS_REL}">'
            f'<bookViews><workbookView activeTab="0"/></bookViews><sheets>{sheets}</sheets>'
            "</workbook>"
        )
        rels = "".join(
            f'<Relationship Id="rId{i}" Type="{_NS_REL}/worksheet" '
            f'Target="worksheets/sheet{i}.xml"/>'
            for i in range(1, n + 1)
        )
        workbook_rels = (
            f'{_XML_DECL}<Relationships xmlns="{_NS_PKG_REL}">{rels}'
            f'<Relationship Id="rId{n + 1}" Type="{_NS_REL}/styles" Target="styles.xml"/>'
            "</Relationships>"
        )
        return [
            ("[Content_Types].xml", [content_types.encode()]),
            ("_rels/.rels", [_ROOT_RELS]),
            ("xl/workbook.xml", [workbook.encode()]),
            ("xl/_rels/workbook.xml.rels", [workbook_rels.encode()]),
            ("xl/styles.xml", [_STYLES]),
            *((f"xl/worksheets/sheet{i}.xml", s._parts()) for i, s in enumerate(self.sheets, 1)),
        ]

    def write(self, file: IO[bytes]) -> None:
        """The package into a binary file object."""
        _write_zip(file, self._package())

    def save(self, path: Path | str) -> Path:
        path = Path(path)
        with path.open("wb") as f:
            self.write(f)
        return path

    def to_bytes(self) -> bytes:
        buf = io.BytesIO()
        self.write(buf)
        return buf.getvalue()


__all__ = [
    "DMY_DATE",
    "ERROR_CODES",
    "FORMULA_START",
    "ILLEGAL",
    "ISO_DATE",
    "MAX_ROWS",
    "Column",
    "Rows",
    "Sheet",
    "Workbook",
    "column_letter",
    "excel_escaped",
    "needs_quote",
    "rows",
    "safe_text",
    "style_id",
]
