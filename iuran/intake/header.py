"""Finding a file's header row: header spellings normalised, matched against a reader's synonyms.

A reader says what it looks for (`Columns`: its synonyms, required columns, labels); the header is
the first row among the first `Limits.header_rows` with at least `min_matches` known column names.
Title rows above it are skipped. Government forms (`form_rows`) may also have a second header row
under merged cells (`Tempat, Tanggal Lahir` over `Tempat | Tanggal`) and a row of column numbers
(`1 | 2 | 3 ...`, or `-1 | -2 | -3 ...` where `(1)` was typed into a number cell) under the header:
both are recognised and skipped. A column named twice counts once (the first), with a note. A title
block above the header (`PROVINSI : BANTEN`, `KECAMATAN : MALINGPING`, `DESA : PAGELARAN`, as the
Buku Induk Penduduk prints it) is read into `Header.title` (`desa`, `kecamatan`, ...), so that a
reader can place a file without a village column.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from iuran.intake.refusal import FileRefused, Limits
from iuran.xlsx import column_letter

_SUFFIX = re.compile(r" (peserta|pekerja|sesuai ktp)$")


@dataclass(frozen=True)
class Columns:
    """What a reader looks for in a header row.

    `synonyms`: header spelling (as `normalize_header` gives it) -> canonical column. `labels`: the
    name the operator knows, for messages. `nik`: the column holding NIKs (its number cells keep
    every digit, `iuran.intake.cells.nik_cell`). `under`: for a second header row under merged
    cells, a word of the merged cell -> the child spellings that then name a column (`lahir` ->
    `tanggal` is `tanggal_lahir` under `Tempat, Tanggal Lahir`)."""

    synonyms: Mapping[str, str]
    required: tuple[str, ...]
    labels: Mapping[str, str]
    min_matches: int = 3
    form_rows: bool = False
    nik: str | None = None
    under: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    #: the columns a refusal asks for ("Gunakan templat: ..."), when more than `required`
    template: tuple[str, ...] = ()
    #: the columns a person's row has filled: a row with all of them blank, no NIK and a family's
    #: number (`No. KK : ...`) is a population register's family row, not data (`cells.family_rows`)
    person: tuple[str, ...] = ()


@dataclass
class Header:
    names: list[str | None]  # canonical name per column position
    data_start: int  # 0-based index of the first data row
    notes: list[str]
    title: dict[str, str] = field(default_factory=dict)  # the title block's lines (`title_block`)


#: A title block's line: `KECAMATAN : MALINGPING`, `Desa/Kelurahan: Pagelaran`, `KAB. LEBAK` is not
_TITLE = re.compile(
    r"^\s*(provinsi|kabupaten|kab|kota|kecamatan|kec|desa|kelurahan|desa\s*/\s*kelurahan|desa\s*/\s*kel)"
    r"\s*\.?\s*:\s*(\S.*?)\s*$",
    re.I | re.S,
)
_TITLE_KEYS = {"kab": "kabupaten", "kota": "kabupaten", "kec": "kecamatan", "kelurahan": "desa"}


def title_block(rows: Sequence[Sequence[object]]) -> dict[str, str]:
    """The `KEY : value` lines of the rows above a header (`provinsi`, `kabupaten`, `kecamatan`,
    `desa`), the value in the same cell or the next filled cells of its row; the first of each."""
    found: dict[str, str] = {}
    for cells in rows:
        text = " ".join(str(c) for c in cells if isinstance(c, str) and c.strip())
        hit = _TITLE.match(text)
        if hit:
            key = re.sub(r"\s*/.*", "", hit[1].lower())
            found.setdefault(_TITLE_KEYS.get(key, key), " ".join(hit[2].split()))
    return found


@lru_cache(maxsize=4096)
def _normalize_text(text: str) -> str:
    t = text.lower().replace("\ufeff", "")
    bare = re.sub(r"\([^)]*\)|\[[^\]]*\]", " ", t)
    if bare.strip():
        t = bare
    t = " ".join(re.sub(r"[^0-9a-z]+", " ", t).split())
    return _SUFFIX.sub("", t)


def normalize_header(text: object) -> str:
    """`Jenis Kelamin (L/P)` -> `jenis kelamin`; `No. KTP` -> `no ktp`; `NIK Peserta` -> `nik`;
    non-text cells -> ``."""
    if not isinstance(text, str) or not text:
        return ""
    return _normalize_text(text[:200])


def match(cells: Sequence[object], synonyms: Mapping[str, str]) -> list[str | None]:
    """The canonical column each cell names, or None."""
    return [synonyms.get(normalize_header(c)) for c in cells]


def is_numbering(cells: Sequence[object], min_matches: int) -> bool:
    """A row of column numbers `1 | 2 | 3 ...` under a government-form header."""
    values = [c for c in cells if c not in ("", None)]
    if len(values) < min_matches:
        return False
    try:
        numbers = [abs(float(str(v).strip().strip("()"))) for v in values]
    except ValueError:
        return False
    return numbers == [float(n) for n in range(int(numbers[0]), int(numbers[0]) + len(numbers))]


def _under_merged(
    names: list[str | None], parents: Sequence[object], below: Sequence[object], columns: Columns
) -> int:
    """Name the columns the header row left unnamed from a second header row `below` it (merged
    cells above: the value sits in the first one). How many it named."""
    sub = match(below, columns.synonyms)
    filled = list(parents)
    for i in range(1, len(filled)):
        if filled[i] in ("", None):
            filled[i] = filled[i - 1]
    extra = 0
    for i, child in enumerate(sub):
        if i >= len(names) or names[i] is not None:
            continue
        parent = normalize_header(filled[i]) if i < len(filled) else ""
        if child is None:
            spelled = normalize_header(below[i])
            child = next(
                (
                    kids[spelled]
                    for word, kids in columns.under.items()
                    if word in parent and spelled in kids
                ),
                None,
            )
        if child:
            names[i] = child
            extra += 1
    return extra


def find_header(
    grid: Sequence[Sequence[object]], columns: Columns, limits: Limits, csv_style: bool = False
) -> Header:
    """Header row, optional second header row, optional numbering row. Raises FileRefused.

    `csv_style`: a CSV has no merged cells, so no second header row is looked for."""
    best: set[str] = set()
    for h, cells in enumerate(grid[: limits.header_rows]):
        names = match(cells, columns.synonyms)
        found = {n for n in names if n}
        if len(found) > len(best):
            best = found
        if len(found) < columns.min_matches:
            continue
        start = h + 1
        if (
            columns.form_rows
            and not csv_style
            and start < len(grid)
            and _under_merged(names, cells, grid[start], columns)
        ):
            start += 1
        if (
            columns.form_rows
            and start < len(grid)
            and is_numbering(grid[start], columns.min_matches)
        ):
            start += 1
        missing = [c for c in columns.required if c not in names]
        if missing:
            raise _no_header(missing, columns, limits)
        return Header(names, start, _first_of_twins(names, columns), title_block(grid[:h]))
    if not any(any(c not in ("", None) for c in row) for row in grid):
        raise FileRefused("BERKAS_KOSONG")
    raise _no_header([c for c in columns.required if c not in best], columns, limits)


def _no_header(missing: list[str], columns: Columns, limits: Limits) -> FileRefused:
    return FileRefused(
        "BERKAS_TANPA_HEADER",
        baris=limits.header_rows,
        kolom=", ".join(columns.labels[c] for c in missing) or "-",
        wajib=", ".join(columns.labels[c] for c in columns.template or columns.required),
    )


def _first_of_twins(names: list[str | None], columns: Columns) -> list[str]:
    """A column named twice counts once, the first; the others are unnamed, with a note."""
    notes = []
    seen: dict[str, int] = {}
    for i, n in enumerate(names):
        if n is None:
            continue
        if n in seen:
            notes.append(
                f"kolom {columns.labels[n]} ada dua kali (kolom {column_letter(seen[n])} dan "
                f"{column_letter(i)}); yang dipakai kolom {column_letter(seen[n])}"
            )
            names[i] = None
        else:
            seen[n] = i
    return notes
