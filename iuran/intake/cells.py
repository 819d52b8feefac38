"""Spreadsheet cells as text: every value a reader hands on is a trimmed string or missing.

XLSX number cells become text (`3602012001.0` -> `3602012001`); a NIK in a number cell is kept only
when it has 16 significant digits that the float holds exactly (`3602011505900001.0`): Excel keeps 15
significant digits and zeroes the 16th, so `3602011505900010.0` may be `...0012` and becomes
scientific text (`3.60201150590001E+15`) that validation rejects as NIK_NOTASI_ILMIAH. Date cells
become `yyyy-mm-dd`; Excel serial numbers stay numbers. `clean` then trims every value, collapses
inner runs of spaces / non-breaking spaces / control characters to one space, and makes empty
missing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

# Control characters count as space: a NUL in a name makes PostgreSQL refuse the whole cycle's
# transaction ("text fields cannot contain NUL"), an escape sequence garbles a terminal or a log.
SPACES = r"[\s\pZ\x{200B}\x{FEFF}\x00-\x1F\x7F]+"
NEEDS_COLLAPSE = r"[\s\pZ\x{200B}\x{FEFF}]{2}|[^ \PZ]|[\x00-\x1F\x7F\x{200B}\x{FEFF}]"


@dataclass
class Table:
    """One file's data rows before cleaning: canonical column -> text array, the spreadsheet row
    number of each row (the header row counts as its own row), the sheet read (`""` for CSV),
    notes for the operator (a column named twice) and the title block above the header
    (`iuran.intake.header.title_block`)."""

    columns: dict[str, pa.Array]
    rows: np.ndarray
    sheet: str = ""
    notes: list[str] = field(default_factory=list)
    title: dict[str, str] = field(default_factory=dict)


def cell_text(v: Any) -> str | None:
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


def nik_cell(v: Any) -> str | None:
    """A NIK from a number cell. Excel keeps 15 significant digits, so a 16-digit value ending in 0 may
    have lost its last digit: it is written in scientific notation (rejected as NIK_NOTASI_ILMIAH), as is
    anything a float cannot hold exactly. A value with 16 significant digits was stored exactly."""
    if isinstance(v, float) and v.is_integer() and 10**15 <= v < 2**53 and int(v) % 10:
        return str(int(v))
    if isinstance(v, float) and v == v and abs(v) >= 10**14:
        return f"{v:.14E}"
    return cell_text(v)


def text_array(values: Sequence[Any], nik: bool = False) -> pa.Array:
    """A column of cells as text. Pure text, pure dates and pure whole numbers go through Arrow in one
    call each; only mixed columns (and NIK numbers, see `nik_cell`) are converted cell by cell."""
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
    convert = nik_cell if nik else cell_text
    return pa.array([convert(v) for v in cells], type=pa.string())


def grid_columns(
    data: list[list[Any]], names: Sequence[str | None], nik: str | None = None
) -> dict[str, pa.Array]:
    """The named columns of a sheet's data rows as text (`nik`: the column read with `nik_cell`).
    calamine gives every row the sheet's width, so the rows are transposed once (a list per column
    cost more than converting it)."""
    width = len(data[0]) if data else 0
    if not data or any(len(r) != width for r in data) or width < len(names):
        return {n: text_array([r[i] for r in data], nik=n == nik) for i, n in enumerate(names) if n}
    cells = list(zip(*data, strict=True))
    return {n: text_array(cells[i], nik=n == nik) for i, n in enumerate(names) if n}


#: A population register's family row: `No. KK : 3602...`, `NO.KK`, `NAMA.KK`, or a KK number
_FAMILY = r"(?i)^\s*(?:no(?:mor)?\s*\.?\s*kk\b|nama\s*\.?\s*kk\b|[0-9]{16}$)"


def family_rows(
    data: Sequence[Sequence[Any]], people: Sequence[pa.Array], nik: int | None = None
) -> np.ndarray:
    """Which data rows are family rows of a population register (Buku Induk Penduduk), not people:
    the `people` columns (a person's birth date and sex, as text) blank, no 16-digit NIK in column
    `nik`, and a cell naming the family (`No. KK : ...`, `NAMA.KK`) or a bare 16-digit KK number.
    Only the rows with those columns blank are looked at, one column at a time."""
    blank = np.ones(len(data), dtype=bool)
    for filled in people:
        blank &= ~np.asarray(pc.is_valid(clean(filled)), dtype=bool)  # clean: empty is missing
    family = np.zeros(len(data), dtype=bool)
    at = np.flatnonzero(blank)
    if not len(at) or not people:
        return family
    subset = [data[int(k)] for k in at]
    width = max(len(r) for r in subset)
    person = np.zeros(len(at), dtype=bool)
    for i in range(width):
        cells = clean(text_array([r[i] if i < len(r) else None for r in subset], nik=i == nik))
        hit = np.asarray(pc.fill_null(pc.match_substring_regex(cells, _FAMILY), False), dtype=bool)
        if i == nik:
            person = hit & ~np.asarray(
                pc.fill_null(pc.match_substring_regex(cells, r"(?i)kk"), False), dtype=bool
            )
        family[at] |= hit
    family[at[person]] = False  # a NIK where a person's is: a person with blanks, not a family
    return family


def clean(values: pa.Array) -> pa.Array:
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
            pc.fill_null(pc.match_substring_regex(trimmed.take(maybe), NEEDS_COLLAPSE), False),
            dtype=bool,
        )
        if need.any():
            bad = trimmed.filter(pa.array(need))
            collapsed = pc.utf8_trim(pc.replace_substring_regex(bad, SPACES, " "), " ")
            trimmed = pc.replace_with_mask(trimmed, pa.array(need), collapsed)
    return pc.if_else(pc.greater(pc.utf8_length(trimmed), 0), trimmed, pa.scalar(None, pa.string()))
