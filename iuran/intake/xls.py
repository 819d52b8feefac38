"""Old Excel (`.xls`, Excel 97-2003: BIFF records in an OLE compound file), measured before calamine
opens it.

Dukcapil's SIAK and many village offices still export `.xls`. calamine reads BIFF, but it sizes a
sheet from where its cells are (and from the sheet's DIMENSIONS record): a 6 KB file with one cell
in A1 and one in IV65536 made it allocate 1 GB. So, as for an `.xlsx` (`iuran.intake.workbook`),
the file is walked first: the compound file's sector chains (bounded, loops refused) give the
`Workbook` stream, whose records give every sheet's cell rows and columns; a sheet spanning more
than `Limits.grid_budget()` cells is refused as too large, a shared-string count larger than the
stream could hold as damaged, before calamine sees the file. The walk costs ~0.4 s for a SIAK export
of 10,000 people (370,000 cells, 8.6 MB), half of calamine's read. A compound file without a workbook stream is a
password-protected workbook (`EncryptedPackage`) or another Office document; a damaged one is
refused as such (BERKAS_RUSAK), never a crash.
"""

from __future__ import annotations

import struct

import numpy as np

from iuran.intake.refusal import FileRefused, Limits

OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
JENIS = "Excel 97-2003 .xls"
_END = 0xFFFFFFFE  # end of a sector chain
_FREE = 0xFFFFFFFF
_BOF, _EOF, _SST, _DIMENSIONS, _FILEPASS = 0x0809, 0x000A, 0x00FC, 0x0200, 0x002F
#: records holding one cell: row (2 bytes) and column (2 bytes) first
_CELL = frozenset({0x0006, 0x00FD, 0x0203, 0x027E, 0x0201, 0x0205, 0x0204, 0x00D6, 0x0406})
#: records holding a run of cells in one row: row, first column, ..., last column (last 2 bytes)
_RUN = frozenset({0x00BD, 0x00BE})


def _damaged() -> FileRefused:
    return FileRefused("BERKAS_RUSAK", jenis=JENIS)


class _Compound:
    """The streams of an OLE compound file, read as far as `raw` allows."""

    def __init__(self, raw: bytes) -> None:
        if len(raw) < 512 or not raw.startswith(OLE):
            raise _damaged()
        self.raw = raw
        shift, mini_shift = struct.unpack_from("<HH", raw, 0x1E)
        if not 7 <= shift <= 16 or not 2 <= mini_shift < shift:
            raise _damaged()
        self.size, self.mini_size = 1 << shift, 1 << mini_shift
        self.sectors = max(0, (len(raw) - 512 + self.size - 1) // self.size)
        n_fat, self.first_dir = struct.unpack_from("<II", raw, 0x2C)
        self.cutoff, first_mini_fat, _n_mini_fat, first_difat, n_difat = struct.unpack_from(
            "<IIIII", raw, 0x38
        )
        fat_sectors = list(struct.unpack_from("<109I", raw, 0x4C))
        per_sector = self.size // 4
        for sector in self._chain_of_difat(first_difat, n_difat):
            entries = struct.unpack_from(f"<{per_sector}I", self._sector(sector))
            fat_sectors.extend(entries[:-1])
        fat_sectors = [s for s in fat_sectors[: max(n_fat, 0)] if s < self.sectors]
        self.fat = np.frombuffer(b"".join(self._sector(s) for s in fat_sectors), dtype="<u4")
        self.mini_fat = np.frombuffer(self.stream(first_mini_fat), dtype="<u4")

    def _sector(self, index: int) -> bytes:
        start = 512 + index * self.size
        if index >= self.sectors or start + self.size > len(self.raw):
            data = self.raw[start : start + self.size]
            return data + bytes(self.size - len(data))  # a short last sector: zeros
        return self.raw[start : start + self.size]

    def _chain_of_difat(self, first: int, count: int) -> list[int]:
        chain: list[int] = []
        sector = first
        while sector < self.sectors and len(chain) < min(count, self.sectors):
            chain.append(sector)
            sector = struct.unpack_from("<I", self._sector(sector), self.size - 4)[0]
        return chain

    def _chain(self, first: int, table: np.ndarray, limit: int) -> list[int]:
        """The sectors of a chain starting at `first`; a loop or a link out of the table is damage."""
        chain: list[int] = []
        sector, seen = first, set()
        while sector not in (_END, _FREE):
            if sector >= len(table) or sector in seen or len(chain) > limit:
                raise _damaged()
            seen.add(sector)
            chain.append(sector)
            sector = int(table[sector])
        return chain

    def stream(self, first: int) -> bytes:
        """A stream in the big sectors."""
        if first in (_END, _FREE):
            return b""
        return b"".join(self._sector(s) for s in self._chain(first, self.fat, self.sectors))

    def entries(self) -> dict[str, tuple[int, int]]:
        """Directory: stream name -> (first sector, size)."""
        directory = self.stream(self.first_dir)
        found: dict[str, tuple[int, int]] = {}
        for at in range(0, len(directory) - 127, 128):
            length, kind = struct.unpack_from("<HB", directory, at + 64)
            if kind not in (1, 2, 5) or not 2 <= length <= 64:
                continue
            name = directory[at : at + length - 2].decode("utf-16-le", "replace")
            first, size = struct.unpack_from("<II", directory, at + 116)
            found.setdefault("<root>" if kind == 5 else name, (first, size))
        return found

    def read(self, name: str) -> bytes | None:
        """A named stream (in the mini stream when smaller than the cutoff), or None."""
        entries = self.entries()
        if name not in entries:
            return None
        first, size = entries[name]
        if size >= self.cutoff:
            return self.stream(first)[:size]
        mini = self.stream(entries.get("<root>", (_END, 0))[0])
        sectors = self._chain(first, self.mini_fat, len(self.mini_fat))
        return b"".join(mini[s * self.mini_size : (s + 1) * self.mini_size] for s in sectors)[:size]


_PAIR = struct.Struct("<HH").unpack_from


def _grid(stream: bytes, limits: Limits) -> None:
    """Refuse a workbook stream whose sheets span more cells than the limits allow (see module).

    Records follow one another (each says its length), so they are walked one by one; a cell's
    place is only collected there, and each sheet's span is measured at once with numpy."""
    end = len(stream)
    spans: list[tuple[list[int], list[int]]] = []
    rows: list[int] = []
    cols: list[int] = []
    at = 0
    while at + 4 <= end:
        kind, length = _PAIR(stream, at)
        body = at + 4
        at = body + length
        if kind in _CELL and length >= 4:
            row, col = _PAIR(stream, body)
            rows.append(row)
            cols.append(col)
        elif kind in _RUN and length >= 6:
            row, first = _PAIR(stream, body)
            rows += (row, row)
            cols += (first, _PAIR(stream, body + length - 4)[1])
        elif kind == _BOF:
            spans.append((rows, cols))
            rows, cols = [], []
        elif kind == _DIMENSIONS and length >= 14:  # BIFF8: rows as 4 bytes
            first_row, after_row, first_col, after_col = struct.unpack_from("<IIHH", stream, body)
            if after_row > first_row and after_col > first_col:
                rows += (first_row, after_row - 1)
                cols += (first_col, after_col - 1)
        elif kind == _DIMENSIONS and length >= 8:  # BIFF5
            first_row, after_row, first_col, after_col = struct.unpack_from("<HHHH", stream, body)
            if after_row > first_row and after_col > first_col:
                rows += (first_row, after_row - 1)
                cols += (first_col, after_col - 1)
        elif kind == _FILEPASS:
            raise FileRefused("BERKAS_JENIS", jenis="Excel berkata sandi")
        elif kind == _SST and length >= 8 and struct.unpack_from("<I", stream, body + 4)[0] > end:
            raise _damaged()  # more distinct strings than the stream has bytes
    spans.append((rows, cols))
    for rows, cols in spans:
        if not rows:
            continue
        r, c = np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64)
        height, width = int(r.max() - r.min() + 1), int(c.max() - c.min() + 1)
        if height * width > limits.grid_budget():
            raise FileRefused(
                "BERKAS_TERLALU_BESAR",
                ukuran=f"sel sampai baris {int(r.max()) + 1}, kolom ke-{int(c.max()) + 1}",
                batas=f"{limits.max_rows} baris, {limits.max_columns} kolom",
            )


def check_xls(raw: bytes, limits: Limits) -> None:
    """Refuse an OLE file calamine must not open: not a workbook (a password-protected `.xlsx`,
    another Office document), damaged, or spanning more cells than `limits` allow."""
    try:
        compound = _Compound(raw)
        entries = compound.entries()
        if "EncryptedPackage" in entries:
            raise FileRefused("BERKAS_JENIS", jenis="Excel berkata sandi")
        name = next((n for n in ("Workbook", "Book", "WORKBOOK", "BOOK") if n in entries), None)
        if name is None:
            raise FileRefused("BERKAS_JENIS", jenis="ini (bukan lembar kerja Excel)")
        stream = compound.read(name)
    except (struct.error, ValueError, MemoryError) as exc:
        raise _damaged() from exc
    if not stream:
        raise _damaged()
    _grid(stream, limits)
