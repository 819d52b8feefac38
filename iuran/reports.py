"""The cycle's reports for the villages and Disnaker: frames in, files out.

- Village rejection reports (XLSX, one per village): the correction list a village operator works
  through. NIKs are MASKED: the operator finds the row by file, sheet and row number, so the report
  can travel by WhatsApp or e-mail without spreading identity numbers (UU 27/2022).
- The regency data-quality table (received / accepted / rejected per village, by reason).

The mutation list for BPJS is `iuran.mutation_list`'s, the program report PDF `iuran.program_report`'s.
Every function here is pure apart from writing its output file; files are written to a temporary
name and renamed, so a reader never sees half a report. A rerun leaves a file alone when it already
holds what would be written: the village reports by a manifest of what each was written from (one
village's fix rebuilds one workbook), the data-quality table by comparing bytes.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import os
import re
import sys
import zipfile
import zlib
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from iuran import desa, nik, xlsx
from iuran.db.models import RosterFileStatus
from iuran.desa import COUNTS, normalized, village_counts, village_of
from iuran.files import replace_if_changed, sweep_temps, write_atomic
from iuran.money import angka
from iuran.nik import mask_series
from iuran.periods import Period
from iuran.programs import Program
from iuran.reconcile import CARRIED_SOURCE
from iuran.rosters.codes import CODES
from iuran.rosters.columns import LABELS

#: key (and file-name part) of the report for rows and files that name no known village
TANPA_DESA = "tanpa-desa"
#: `kode_desa` of the data-quality table's regency total row
TOTAL = "JUMLAH"

#: Short labels for charts and summary tables; the full message stays in `CODES`.
SHORT = {
    "BERKAS_KOSONG": "Berkas kosong",
    "BERKAS_RUSAK": "Berkas rusak",
    "BERKAS_TANPA_HEADER": "Header kolom tidak ditemukan",
    "BERKAS_JENIS": "Jenis berkas tidak didukung",
    "BERKAS_TERLALU_BESAR": "Berkas terlalu besar",
    "NIK_KOSONG": "NIK kosong",
    "NIK_NOTASI_ILMIAH": "NIK rusak oleh Excel",
    "NIK_BUKAN_ANGKA": "NIK bukan angka",
    "NIK_PANJANG": "NIK tidak 16 digit",
    "NIK_PROVINSI": "Kode provinsi NIK salah",
    "NIK_TANGGAL": "Tanggal dalam NIK mustahil",
    "NIK_SERIAL": "Nomor urut NIK 0000",
    "NIK_GANDA_BERKAS": "NIK ganda dalam berkas",
    "PENDUDUK_BUKAN_HIDUP": "Status penduduk bukan Hidup",
    "NAMA_KOSONG": "Nama kosong",
    "TANGGAL_LAHIR_KOSONG": "Tanggal lahir kosong",
    "TANGGAL_LAHIR_FORMAT": "Format tanggal lahir salah",
    "TANGGAL_LAHIR_TIDAK_SESUAI_NIK": "Tanggal lahir tidak sesuai NIK",
    "JENIS_KELAMIN_KOSONG": "Jenis kelamin kosong",
    "JENIS_KELAMIN_FORMAT": "Jenis kelamin tidak dikenali",
    "JENIS_KELAMIN_TIDAK_SESUAI_NIK": "Jenis kelamin tidak sesuai NIK",
    "USIA_DI_BAWAH_BATAS": "Usia di bawah batas",
    "USIA_DI_ATAS_BATAS": "Usia di atas batas",
    "KODE_DESA_KOSONG": "Kode desa kosong",
    "KODE_DESA_TIDAK_DIKENAL": "Kode desa tidak dikenal",
    "KODE_DESA_BUKAN_DESA": "Kelurahan, bukan desa",
    "PEKERJAAN_ASN_TNI_POLRI": "ASN/TNI/POLRI (Taspen/ASABRI)",
    "PEKERJAAN_PENERIMA_UPAH": "Penerima upah (pemberi kerja)",
    "PEKERJAAN_PEJABAT": "Kepala desa / pejabat",
    "PEKERJAAN_BUKAN_PEKERJA": "Bukan pekerja",
    "PENGHASILAN_FORMAT": "Format penghasilan salah",
    "NIK_DESA_GANDA": "Terdaftar di desa lain",
    "NIK_GANDA_SUMBER": "Ganda antar-berkas (digabung)",
    "NIK_PROGRAM_LAIN": "Dibiayai program lain",
    "KUOTA_DESA_PENUH": "Batas peserta desa penuh",
    "KUOTA_PROGRAM_PENUH": "Jumlah peserta program penuh",
    "PESERTA_MENINGGAL": "Peserta meninggal dunia",
    "PINDAH_PENERIMA_UPAH": "Pindah ke Penerima Upah",
}

_SAFE_KEY = re.compile(r"^[0-9A-Za-z.\-]+$")


def short_label(code: str) -> str:
    """A few words for a rejection code (charts, tables); unknown codes fall back to the code."""
    return SHORT.get(code, code)


# ------------------------------------------------------------------------------------- helpers


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


#: the manifest of a folder of reports written by `_Manifest`
MANIFEST = ".manifest.json"


@functools.cache
def _writer_version() -> str:
    """Digest of what, besides a report's key, decides its bytes: the code that turns rows into
    cells and cells into a workbook (this module, `iuran.xlsx`, NIK masking, the column labels),
    the libraries it runs on, zlib. A manifest written under anything else is not trusted at all."""
    h = hashlib.sha256()
    for part in (
        sys.version, np.__version__, pd.__version__, pa.__version__, zlib.ZLIB_RUNTIME_VERSION,
        repr(sorted(LABELS.items())), CARRIED_SOURCE,
    ):  # fmt: skip
        h.update(part.encode() + b"\0")
    for module in (sys.modules[__name__], desa, xlsx, nik):
        try:
            h.update(Path(str(module.__file__)).read_bytes())
        except OSError:  # code that cannot be read cannot be vouched for: trust no manifest
            h.update(os.urandom(16))
    return h.hexdigest()


class _Manifest:
    """What each file of a report folder was written from (`key`, a digest of everything that
    varies between its writes) and the digest of its bytes, in `<folder>/.manifest.json`.

    A file whose key is the same as last time and whose bytes on disk still have the recorded
    digest is, byte for byte, what writing it again would give (the writer is deterministic, and
    `_writer_version` guards the code): it is left alone, neither rebuilt nor renamed. A file that
    is missing, changed on disk, or written by a run that died before the manifest was saved fails
    the check and is written again. Files are named relative to the folder (`../x.zip` is fine).
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._folder = str(folder)
        self.path = folder / MANIFEST
        self.before = self._load()
        self.now: dict[str, dict[str, str]] = {}

    def _load(self) -> dict[str, dict[str, str]]:
        try:
            data = json.loads(self.path.read_bytes())
        except (OSError, ValueError):
            return {}
        if not isinstance(data, dict) or data.get("version") != _writer_version():
            return {}
        files = data.get("files")
        return files if isinstance(files, dict) else {}

    def _name(self, path: Path) -> str:
        folder, name = os.path.split(path)
        return name if folder == self._folder else os.path.relpath(path, self.folder)

    def current(self, path: Path, key: str) -> str | None:
        """The digest of `path`'s bytes if it is what `key` gives, else None."""
        entry = self.before.get(self._name(path))
        if not isinstance(entry, dict) or entry.get("key") != key:
            return None
        try:
            digest = _sha256(path.read_bytes())
        except OSError:
            return None
        return digest if digest == entry.get("sha256") else None

    def record(self, path: Path, key: str, digest: str) -> None:
        """`path` (now on disk, its bytes with `digest`) is what `key` gives."""
        self.now[self._name(path)] = {"key": key, "sha256": digest}

    def write(self, path: Path, key: str, render: Callable[[], bytes]) -> str:
        """`path` as `render()` gives it, rendered and written only when not `current`; returns
        the digest of its bytes."""
        digest = self.current(path, key)
        if digest is None:
            data = render()
            write_atomic(path, data)
            digest = _sha256(data)
        self.record(path, key, digest)
        return digest

    def save(self) -> None:
        """Record this run's files (only these: pruned files drop out); none, no manifest."""
        if not self.now:
            self.path.unlink(missing_ok=True)
            return
        body = {"version": _writer_version(), "files": self.now}
        data = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
        replace_if_changed(self.path, data)


# ----------------------------------------------------------------- 1. village rejection reports

REJECTION_HEADER = ("Berkas asal", "Lembar", "Baris", "Kolom", "Kode", "Keterangan", "NIK", "Nama")
FILE_HEADER = ("Berkas", "Kode", "Keterangan")
#: the labels of a correction list's header block, one row each under the title
TITLE_LABELS = (
    "Program", "Kabupaten", "Periode", "Desa", "Baris ditolak", "Berkas ditolak", "Per alasan",
)  # fmt: skip
#: sheet "Penolakan": title, header block, instructions, a blank row, the table header, then rows
REJECTION_FIRST_ROW = len(TITLE_LABELS) + 5
#: sheet "Berkas ditolak": title, one line, a blank row, the table header, then rows
FILE_FIRST_ROW = 5
_NO_VILLAGE_LABEL = (
    "Tanpa desa yang dikenali (kode desa kosong atau salah, nama berkas bukan kode desa)"
)
_FILES_NOTE = (
    "Berkas di bawah ini tidak dibaca sama sekali; perbaiki dan kirim ulang seluruh berkas."
)
_INSTRUCTIONS = (
    "Cari baris menurut Berkas asal, Lembar dan Baris; perbaiki sesuai Keterangan lalu kirim ulang "
    "berkas. NIK disamarkan untuk melindungi data pribadi."
)


def _ordered_rejections(rejected: pd.DataFrame) -> pd.DataFrame:
    """File/row order (what the operator scrolls through); carried-forward workers last."""
    r = rejected.reset_index(drop=True).copy()
    r["_carried"] = r["source_file"].astype("string").eq(CARRIED_SOURCE).fillna(False)
    r["_row"] = pd.to_numeric(r["source_row"], errors="coerce").fillna(0).astype("int64")
    r["_file"] = r["source_file"].astype("string").fillna("")
    r["_sheet"] = r["source_sheet"].astype("string").fillna("")
    return r.sort_values(["_carried", "_file", "_sheet", "_row"], kind="stable")


def _rejection_rows(r: pd.DataFrame) -> pd.DataFrame:
    """The sheet's columns, NIK masked, column names as the operator's spreadsheet labels them."""
    source = r["source_file"].astype("string").fillna("")
    row = r["_row"].where(r["_row"] > 0).astype("Int64")  # no row number for carried workers
    return pd.DataFrame(
        {
            "berkas": source.where(source != CARRIED_SOURCE, "(dibawa dari bulan sebelumnya)"),
            "lembar": r["_sheet"],
            "baris": row,
            "kolom": r["column"].astype("string").map(lambda c: LABELS.get(c, c)),
            "kode": r["code"].astype("string"),
            "keterangan": r["message"].astype("string"),
            "nik": mask_series(r["nik"]),
            "nama": r["nama"].astype("string"),
        }
    )


def _block(frame: pd.DataFrame, groups: np.ndarray, first_row: int) -> xlsx.Rows:
    """The rows of every village's table at once: each row numbered within its village's sheet.
    Column `baris` is a number, every other column (safe) text."""
    numbers = first_row + pd.Series(groups).groupby(groups).cumcount().to_numpy()
    columns = [xlsx.Column(frame[c], "int" if c == "baris" else "text") for c in frame.columns]
    return xlsx.rows(columns, numbers)


def _grouped(block: xlsx.Rows, keys: np.ndarray) -> tuple[xlsx.Rows, dict[str, slice]]:
    """`block` reordered so that each key's rows lie together (in their order), and where."""
    if not len(block):
        return block, {}
    order = np.argsort(keys, kind="stable")
    found, first, count = np.unique(keys[order], return_index=True, return_counts=True)
    spans = {str(k): slice(int(a), int(a + n)) for k, a, n in zip(found, first, count, strict=True)}
    return block.take(order), spans


def _piece(block: xlsx.Rows, span: slice) -> xlsx.Rows:
    """Rows `span` of `block`, without copying."""
    n = span.stop - span.start
    return xlsx.Rows(block.xml.slice(span.start, n), block.numbers[span])


@functools.cache
def _fixed_row(values: tuple[str, ...], number: int, font: xlsx.Font = None) -> xlsx.Rows:
    """A row every correction list has, built once (the same cells as `Sheet.row` gives)."""
    return xlsx.rows([xlsx.Column([v]) for v in values], number, font=font)


def _title_blocks(values: Sequence[tuple[str | int, ...]]) -> xlsx.Rows:
    """The header block (label, value) under the title of every village's sheet at once: rows
    2.. of village `i`'s sheet are rows `i * n ..` of the result, `n = len(TITLE_LABELS)`.
    Numbers are number cells, text is text (the kinds are the same for every village)."""
    kinds = ["int" if isinstance(v, int) else "text" for v in values[0]] if values else []
    xml, numbers, village = [], [], []
    kind: xlsx.Kind
    for kind in ("text", "int"):
        where = [i for i, k in enumerate(kinds) if k == kind]
        if not where:
            continue
        block = xlsx.rows(
            [
                xlsx.Column([TITLE_LABELS[i] for _ in values for i in where]),
                xlsx.Column([v[i] for v in values for i in where], kind),
            ],
            np.tile(np.asarray(where) + 2, len(values)),
        )
        xml.append(block.xml)
        numbers.append(block.numbers)
        village.append(np.repeat(np.arange(len(values)), len(where)))
    if not xml:
        return xlsx.rows([], 2)
    number = np.concatenate(numbers)
    order = np.lexsort((number, np.concatenate(village)))  # by village, then row
    return xlsx.Rows(pa.concat_arrays(xml).take(pa.array(order)), number[order])


def _rejection_book(title: xlsx.Rows, rows: xlsx.Rows, files: xlsx.Rows) -> bytes:
    """One village's correction list; `title`: its rows of `_title_blocks`."""
    book = xlsx.Workbook()
    ws = book.sheet(
        "Penolakan", widths=(30, 10, 7, 15, 26, 80, 20, 28), freeze=f"A{REJECTION_FIRST_ROW}"
    )
    ws.append(_fixed_row(("LAPORAN PENOLAKAN ROSTER PESERTA",), 1, "title"))
    ws.append(title)
    ws.append(_fixed_row(("Petunjuk", _INSTRUCTIONS), ws.next_row))
    ws.blank()
    ws.append(_fixed_row(REJECTION_HEADER, ws.next_row, "bold"))
    ws.append(rows if len(rows) else _fixed_row(("(tidak ada baris yang ditolak)",), ws.next_row))

    fs = book.sheet("Berkas ditolak", widths=(40, 24, 100), freeze=f"A{FILE_FIRST_ROW}")
    fs.append(_fixed_row(("BERKAS YANG DITOLAK SELURUHNYA",), 1, "title"))
    fs.append(_fixed_row((_FILES_NOTE,), 2))
    fs.blank()
    fs.append(_fixed_row(FILE_HEADER, fs.next_row, "bold"))
    fs.append(
        files if len(files) else _fixed_row(("(tidak ada berkas yang ditolak)",), fs.next_row)
    )
    return book.to_bytes()


def write_rejection_reports(
    rejected: pd.DataFrame,
    files: pd.DataFrame,
    village_names: pd.Series,
    out_dir: Path,
    *,
    program: Program,
    period: Period,
    prune: bool = True,
    zip_path: Path | None = None,
) -> dict[str, Path]:
    """One correction list per village with rejections: `penolakan-<kode_desa>.xlsx`, plus
    `penolakan-tanpa-desa.xlsx` for rows and files no known village can be found for.

    `rejected`: the validate + reconcile rejections (`summary.all_rejections`); `files`: the collect
    file report (only `status == "rejected"` rows are used); `village_names`: kode_desa -> nama_desa
    of the program's villages. A row with no known code goes to the village named by its file name,
    and so does a rejected file. Returns {kode_desa or TANPA_DESA: path}. With `prune`, reports left
    in `out_dir` by an earlier run for villages that now have nothing to fix are removed, so the
    folder always matches the current run. With `zip_path`, the reports are also zipped there (one
    mail attachment).

    A rerun rewrites only the reports whose content changed: `out_dir/.manifest.json` records what
    each file was written from (see `_Manifest`), so one village's fix costs one workbook.
    """
    known = pd.Index(village_names.index.astype("string"))
    names = dict(zip(known, village_names.astype("string").tolist(), strict=True))
    r = _ordered_rejections(rejected)
    bad = files.loc[files["status"].eq(RosterFileStatus.REJECTED)] if len(files) else files
    bad = bad.reindex(columns=["path", "code", "message"]).reset_index(drop=True)
    no_code = pd.Series(pd.NA, index=bad.index, dtype="string")
    # the rows, then the rejected files (named by their path only): one call, its fixed cost once
    codes = pd.concat([r["kode_desa"].astype("string"), no_code], ignore_index=True)
    sources = pd.concat([r["source_file"], bad["path"]], ignore_index=True).astype("string")
    found = village_of(codes, sources, known).fillna(TANPA_DESA).to_numpy(dtype=object)
    row_desa, file_desa = found[: len(r)], found[len(r) :]
    rows_of, files_of = _positions(row_desa), _positions(file_desa)
    villages = sorted(set(rows_of) | set(files_of))
    for key in villages:
        if not _SAFE_KEY.match(key):  # never a path from data: known codes are digits and dots
            raise ValueError(f"unexpected village key {key!r}")

    reasons = _reasons(row_desa, r["code"])
    values = {
        key: (
            program.name,
            program.regency_name,
            period.label,
            f"{names[key]} ({key})" if key != TANPA_DESA else _NO_VILLAGE_LABEL,
            len(rows_of.get(key, ())),
            len(files_of.get(key, ())),
            reasons.get(key, "-"),
        )
        for key in villages
    }
    # What a village's workbook is made of, as given (its rows and rejected files, every column in
    # the order they are listed, the columns' types) and its header block: the same key, the same
    # bytes. Rows are keyed as given, not as rendered: villages left alone cost no rendering.
    types = repr([(str(c), str(t)) for c, t in (*rejected.dtypes.items(), *bad.dtypes.items())])
    row_text, file_text = _as_text(r[list(rejected.columns)]), _as_text(bad)
    keys = {
        key: _sha256(
            "\0".join(
                [
                    types,
                    json.dumps(values[key]),
                    *(row_text[i] for i in rows_of.get(key, ())),
                    "\1",
                    *(file_text[i] for i in files_of.get(key, ())),
                ]
            ).encode()
        )
        for key in villages
    }

    out_dir.mkdir(parents=True, exist_ok=True)
    sweep_temps(out_dir, "penolakan-*")  # what a writer that died left, once for all
    manifest = _Manifest(out_dir)
    written = {key: out_dir / f"penolakan-{key}.xlsx" for key in villages}
    digests = {key: manifest.current(written[key], keys[key]) for key in villages}
    todo = [key for key in villages if digests[key] is None]
    for key, data in _rejection_books(r, bad, row_desa, file_desa, [values[k] for k in todo], todo):
        write_atomic(written[key], data, sweep=False)
        digests[key] = _sha256(data)
    for key in villages:
        manifest.record(written[key], keys[key], str(digests[key]))
    if prune:
        keep = {p.name for p in written.values()}
        for old in out_dir.glob("penolakan-*.xlsx"):
            if old.name not in keep:
                old.unlink(missing_ok=True)
    if zip_path is not None:
        members = sorted(written.values())
        in_zip = sorted((written[key].name, str(digests[key])) for key in villages)
        manifest.write(
            zip_path,
            _sha256(json.dumps(in_zip).encode()),  # the zip's bytes follow from its members'
            lambda: _zipped(members),
        )
    manifest.save()
    return written


def _positions(keys: np.ndarray) -> dict[str, list[int]]:
    """Where each key occurs, in order."""
    found: dict[str, list[int]] = {}
    for i, key in enumerate(keys):
        found.setdefault(key, []).append(i)
    return found


def _reasons(desa: np.ndarray, codes: pd.Series) -> dict[str, str]:
    """Per village, its rejection codes with their counts, most frequent first: `A (2); B (1)`."""
    counted: dict[str, Counter[str]] = {}
    for village, code in zip(desa, codes.astype("string").tolist(), strict=True):
        if code is not pd.NA:
            counted.setdefault(village, Counter())[code] += 1
    return {
        village: "; ".join(
            f"{code} ({n})" for code, n in sorted(found.items(), key=lambda cn: (-cn[1], cn[0]))
        )
        for village, found in counted.items()
    }


def _as_text(frame: pd.DataFrame) -> list[str]:
    """Each row's values, exactly (`repr` tells `"3"` from `3` and `<NA>` from `"<NA>"`)."""
    if not len(frame.columns):
        return [""] * len(frame)
    return [repr(row) for row in zip(*(frame[c].tolist() for c in frame.columns), strict=True)]


def _rejection_books(
    r: pd.DataFrame,
    bad: pd.DataFrame,
    row_desa: np.ndarray,
    file_desa: np.ndarray,
    values: list[tuple[str | int, ...]],
    villages: list[str],
) -> Iterator[tuple[str, bytes]]:
    """The workbooks of `villages` (their header values `values`), from the rows and files of these
    villages only: a village's sheet depends on nothing else. Every cell is built at once, the
    rows of each village side by side; the loop only slices."""
    if not villages:
        return
    wanted = set(villages)
    rows = np.fromiter((d in wanted for d in row_desa), dtype=bool, count=len(row_desa))
    refused = np.fromiter((d in wanted for d in file_desa), dtype=bool, count=len(file_desa))
    row_block, row_spans = _grouped(
        _block(_rejection_rows(r.loc[rows]), row_desa[rows], REJECTION_FIRST_ROW), row_desa[rows]
    )
    file_block, file_spans = _grouped(
        _block(bad.loc[refused], file_desa[refused], FILE_FIRST_ROW), file_desa[refused]
    )
    titles = _title_blocks(values)
    n, nothing = len(TITLE_LABELS), slice(0, 0)
    for i, key in enumerate(villages):
        yield (
            key,
            _rejection_book(
                _piece(titles, slice(i * n, (i + 1) * n)),
                _piece(row_block, row_spans.get(key, nothing)),
                _piece(file_block, file_spans.get(key, nothing)),
            ),
        )


def _zipped(members: list[Path]) -> bytes:
    """Deterministic zip (fixed timestamps) of the village reports, for one mail attachment."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for member in members:
            info = zipfile.ZipInfo(member.name, date_time=(2000, 1, 1, 0, 0, 0))
            zf.writestr(info, member.read_bytes())
    return buffer.getvalue()


# ---------------------------------------------------------------------- regency data quality

QUALITY_COLUMNS = ["kode_desa", "nama_desa", "diterima", "lolos", "ditolak", "nik_luar_kabupaten"]
QUALITY_LABELS = {
    "kode_desa": "Kode desa",
    "nama_desa": "Nama desa",
    "diterima": "Baris diterima",
    "lolos": "Lolos",
    "ditolak": "Ditolak",
    "nik_luar_kabupaten": "Peringatan: NIK luar kabupaten",
}
#: What the warning column means, on the sheet that explains the codes.
OUTSIDE_NOTE = (
    "Peserta yang ditagih bulan ini dengan NIK yang diterbitkan di luar kabupaten program (empat "
    "digit pertama NIK bukan kode kabupaten). Bukan penolakan: NIK mencatat tempat NIK pertama "
    "diterbitkan dan tidak berubah saat orang pindah; periksa bila jumlahnya tidak wajar."
)


def issued_outside(billed: pd.DataFrame, regency: str) -> pd.Series:
    """Per kode_desa, how many billed workers hold a NIK first issued outside `regency` (`36.02`):
    a warning for Disnaker, never a refusal (a NIK's area part does not follow a move)."""
    niks = billed.get("nik", pd.Series(dtype="string")).astype("string")
    outside = niks.str.slice(0, 4).ne(regency.replace(".", "")).fillna(False).to_numpy(dtype=bool)
    kode = normalized(billed.get("kode_desa", pd.Series(dtype="string"))).astype("string")
    return kode[outside].value_counts()


def data_quality_table(
    collected_rows: pd.DataFrame,
    rejected: pd.DataFrame,
    billed: pd.DataFrame,
    *,
    village_names: pd.Series | None = None,
    regency: str | None = None,
) -> pd.DataFrame:
    """`desa.village_counts` as Disnaker reads it: kode_desa, nama_desa, diterima (roster rows),
    lolos (billed from this month's rosters), ditolak, with `regency` the warning
    nik_luar_kabupaten (`issued_outside`: every billed worker, carried ones too), then one column
    per rejection code (most frequent first); a last row `kode_desa == "JUMLAH"` is the regency
    total.

    Roster rows only (`diterima == lolos + ditolak`), placed as in the village reports (own code,
    else the code in the file name; `(tanpa desa)` otherwise). With `village_names` (kode_desa ->
    nama_desa of the program) every village gets a row, also those that sent nothing; without it
    the official national list names the villages seen.
    """
    table = village_counts(collected_rows, rejected, billed, names=village_names).rename(
        columns=dict(zip(COUNTS, ["diterima", "lolos", "ditolak"], strict=True))
    )
    codes = [str(c) for c in table.columns[5:]]
    if regency is not None:
        warned = issued_outside(billed, regency)
        at = pd.Index(table["kode_desa"].astype("string"))
        table.insert(5, "nik_luar_kabupaten", warned.reindex(at).fillna(0).to_numpy(dtype="int64"))
        codes = ["nik_luar_kabupaten", *codes]
    total = table[["diterima", "lolos", "ditolak", *codes]].sum()
    total_row = pd.DataFrame(
        [{"kode_desa": TOTAL, "nama_desa": f"Seluruh desa ({angka(len(table))})", **total}]
    )
    out = pd.concat([table, total_row], ignore_index=True)
    out[["diterima", "lolos", "ditolak", *codes]] = out[
        ["diterima", "lolos", "ditolak", *codes]
    ].astype("int64")
    out["kode_desa"] = out["kode_desa"].astype("string")
    out["nama_desa"] = out["nama_desa"].astype("string")
    return out


def write_data_quality_xlsx(table: pd.DataFrame, path: Path, *, title: str = "") -> Path:
    """The data-quality table for Disnaker, plus a sheet explaining every code it counts."""
    codes = [c for c in table.columns if c not in QUALITY_COLUMNS]
    warned = [c for c in table.columns[5:] if c in QUALITY_COLUMNS]
    book = xlsx.Workbook()
    first = 3 if title else 1  # the table header's row
    ws = book.sheet(
        "Kualitas data",
        widths=(15, 26, 14, 9, 9, *([16] * len(warned)), *([12] * len(codes))),
        freeze=f"C{first + 1}",
    )
    if title:
        ws.row([title], font="title")
        ws.blank()
    ws.row([QUALITY_LABELS.get(c, c) for c in table.columns], font="bold")
    total = len(table) > 0 and table["kode_desa"].iloc[-1] == TOTAL
    body = table.iloc[:-1] if total else table
    ws.table(
        [
            *(xlsx.Column(body[c].astype("string")) for c in table.columns[:2]),
            *(xlsx.Column(body[c].astype("int64"), "int") for c in table.columns[2:]),
        ]
    )
    if total:  # the regency total, bold
        last = table.iloc[-1]
        ws.row(
            [str(last.iloc[0]), str(last.iloc[1]), *(int(v) for v in last.iloc[2:])],
            font="bold",
        )
    ks = book.sheet("Keterangan kode", widths=(32, 34, 110))
    ks.row(("Kode", "Singkat", "Keterangan"), font="bold")
    ks.table(
        [
            xlsx.Column([*warned, *codes]),
            xlsx.Column([QUALITY_LABELS[c] for c in warned] + [short_label(c) for c in codes]),
            xlsx.Column([OUTSIDE_NOTE for _ in warned] + [CODES.get(c, "") for c in codes]),
        ]
    )
    replace_if_changed(path, book.to_bytes())
    return path


__all__ = [
    "TANPA_DESA",
    "data_quality_table",
    "short_label",
    "write_data_quality_xlsx",
    "write_rejection_reports",
]
