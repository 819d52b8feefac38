"""Reading roster files as village operators really send them: CSV, XLSX and old Excel XLS, into one
frame.

Every file is read on its own, so one bad file never stops the others; a refused file gets a stable code
and an Indonesian message (`iuran.intake.refusal`). Reading a file (types, encodings, separators, the
XLSX check before calamine, cells as text, limits) is `iuran.intake`'s; what is the roster's is here:

- Its columns (`SYNONYMS`, `REQUIRED`, `LABELS`): the header is the first row among the first 15 with at
  least 3 known column names. A government form's second header row under merged cells (`Tempat,
  Tanggal Lahir` over `Tempat | Tanggal`, the Buku Induk's `Tempat dan Tanggal Lahir` over `Tempat
  Lahir | Tgl/Bln/Th`) and row of column numbers (`1 | 2 | 3 ...`, `-1 | -2 ...`) are recognised and
  skipped; a title block above the header (`KECAMATAN : ...`, `DESA : ...`) is read. A NIK in a
  number cell keeps its digits only when the float holds them exactly (`iuran.intake.cells.nik_cell`).
- OpenSID's printable list, a web page named `.xls`: its table (`iuran.intake.html`).
- XLSX (and `.xlsm`, and old Excel `.xls`, measured before calamine opens it like an XLSX,
  `iuran.intake.xls`): the first visible sheet with a recognisable header (OpenSID's program-bantuan
  export: `Peserta`, not `Program`); data ends at a row whose second column is `###` (OpenSID's
  import template); a population register's family rows between its people (`No. KK : ...`, or a
  KK number with the head's name; birth date and sex blank, no NIK) are not people and are skipped
  (`COLUMNS.person`, `iuran.intake.cells.family_rows`).
- What a value means is settled in one place, `_as_roster`: sex `1`/`2`, occupation codes 1-89
  (`iuran/data/opensid-pekerjaan.csv`) and `PETANI / PEKEBUN` as `PETANI/PEKEBUN`, sex from the NIK
  when a file has no sex column, the village from the file's name (or a village name column, or the
  title block's `DESA` line, within the kecamatan a `Kecamatan` column or `KECAMATAN` line names)
  when it has no village code column, else the file is refused (BERKAS_TANPA_DESA; a name of several
  villages no kecamatan tells apart: BERKAS_DESA_GANDA, listing their codes). A register's status
  (SIAK `Status`, OpenSID `status_dasar` 1-9) is kept as `status_penduduk` for validation (not
  `Hidup`: PENDUDUK_BUKAN_HIDUP), only in a file with another register column (a `Status` of a
  workers' own list means something else). OpenSID's exports, Dukcapil's SIAK `.xls` (`Nama
  Penduduk`, `Kelamin`, `Kecamatan` and `Desa/Kel` names) and the Buku Induk layouts are read this
  way without any editing.
- The whole-population guard, also `_as_roster`'s: a file that looks like a population register
  export (its header names two or more of the register columns a workers' roster never needs, the
  `daftar_*` entries of `SYNONYMS` and the status: OpenSID `no_kk`, `kk_level`, `status_dasar`,
  `agama_id`, `pendidikan_kk_id`, `status_kawin`, `nama_ayah`, `nama_ibu`, `warganegara_id`,
  `golongan_darah_id`; Dukcapil/SIAK `Nomor KK`, `Status`, `SHDK`, `Status Kawin`, `Agama`, `Ayah`,
  `Ibu`, `Hub. Keluarga`, `Pendidikan`) with more rows than twice (`POPULATION_MARGIN`) the program's
  workers per village (`village_limit`, `Program.per_village`: the per-village limit if set, else the
  target) times the villages it covers (1 when its village
  comes from its name) is held as a whole (BERKAS_DATA_PENDUDUK): nobody in it is billed, the other
  files go on. An unfiltered export would otherwise bill every resident of working age. A filtered
  export within the limit is read as any other.
- All values are trimmed, inner runs of spaces / non-breaking spaces / control characters collapse
  to one space, empty becomes <NA>; rows with none of the known columns filled (pre-numbered template
  rows) are dropped.
- Which files of the month's folder are rosters is `iuran.rosters.folder`'s (sub-folders read, junk
  ignored); anything else that is not CSV/XLSX/XLS is reported as BERKAS_JENIS so that the operator
  learns the file was not used, as is a symbolic link that leads out of the roster folder (never read).
- Limits keep time and memory bounded (`LIMITS`, with the roster's columns in
  `iuran.rosters.columns`); tests/hostile/ holds the corpus.
- What a run read is kept (`iuran.rosters.kept`), so that the next run of the same folder parses only
  the files whose bytes changed.

`source_row` is the row number the operator sees in Excel (the header row counts as its own row).
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path, PurePosixPath
from typing import Any

import fsspec
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from fsspec.implementations.local import LocalFileSystem

from iuran import faults
from iuran.db.models import RosterFileStatus
from iuran.desa import code_in_file_name
from iuran.intake.cells import Table, clean
from iuran.intake.read import check_file, read_table
from iuran.intake.refusal import FileRefused
from iuran.nik import birth_parts, check_niks, isin_text
from iuran.occupations import named as occupation_named
from iuran.rosters.columns import (
    COLUMNS,
    FILE_COLUMNS,
    LIMITS,
    ROW_COLUMNS,
    STATUS,
    Collected,
    FileVerdict,
)
from iuran.rosters.folder import (
    candidates,
    filesystem,
    outside,
    outside_listed,
    relative_path,
    sha256_stream,
)
from iuran.rosters.kept import KEPT, load_kept, save_kept
from iuran.wilayah import villages

log = logging.getLogger(__name__)


def _refused(relative: str, sha: str, exc: FileRefused) -> tuple[None, FileVerdict]:
    return None, FileVerdict(relative, sha, 0, RosterFileStatus.REJECTED, exc.code, exc.message)


# --- values: what a roster's cells mean -------------------------------------------------------------


_SEX_CODES = {"1": "L", "2": "P"}  # OpenSID's and Dukcapil's `sex`
#: A register export is held when its rows are more than this many times the workers per village
#: its villages expect: "far above" the target, never a village's own workers plus a few faulty rows
#: (a village of 100 sending 102 rows in OpenSID's layout is read; a real village's export holds
#: thousands of residents). Found by the layouts benchmark, where a margin of 1 held every such file.
POPULATION_MARGIN = 2
#: OpenSID's `status_dasar` codes; SIAK writes the names (`Hidup`)
_STATUS_CODES = {
    "1": "HIDUP",
    "2": "MATI",
    "3": "PINDAH",
    "4": "HILANG",
    "6": "PERGI",
    "9": "TIDAK VALID",
}
#: The statuses of someone who is no longer a resident to insure. Anything else is not a reason to
#: refuse: OpenSID's printable list has a `Status` of `TETAP`/`TIDAK TETAP` (resident or not).
NOT_LIVING = ("MATI", "PINDAH", "HILANG", "PERGI", "TIDAK VALID")


def _as_roster(
    table: Table, relative: str, regency: str | None, village_limit: int | None = None
) -> Table:
    """One file's columns in the roster's meaning, in one place, whatever exported it:

    - a NIK typed with a leading apostrophe (`'3602...`) loses it;
    - sex `1`/`2` (OpenSID, Dukcapil) is `L`/`P`; names (`LAKI-LAKI`, `Perempuan`) are validation's;
    - an occupation code 1-89 (OpenSID's `pekerjaan_id`) is its name (`PETANI/PEKEBUN`);
    - no sex column (OpenSID's program-bantuan export): the sex the NIK says (day + 40: woman);
    - no village code column: the village code in the file's name (`3602012002.xlsx`,
      `36.02.01.2002.xlsx`, `penduduk_3602012002_03_12_2026.xlsx`), a village of `regency` when
      that is known; else a village name column naming exactly one village of `regency`; else the
      file is refused (BERKAS_TANPA_DESA), saying how to name it;
    - two or more population-register columns (`daftar_*`) and more rows than `village_limit` times
      the villages the file covers: held as a population export (BERKAS_DATA_PENDUDUK); the
      register columns are dropped either way. `village_limit` None: no guard.
    """
    columns = {name: clean(values) for name, values in table.columns.items()}
    n = len(table.rows)
    if "nik" in columns:
        columns["nik"] = pc.replace_substring_regex(columns["nik"], r"^'+", "")
    if "jenis_kelamin" in columns:
        sex = columns["jenis_kelamin"]
        mapped = pc.index_in(sex, value_set=pa.array(list(_SEX_CODES)))
        letters = pc.take(pa.array(list(_SEX_CODES.values())), mapped)
        columns["jenis_kelamin"] = pc.coalesce(letters, sex)
    elif "nik" in columns:
        _, _, _, woman = birth_parts(pd.Series(columns["nik"].to_pylist(), dtype="string"))
        valid = check_niks(pd.Series(columns["nik"].to_pylist(), dtype="string")).isna()
        columns["jenis_kelamin"] = pa.array(
            np.where(woman, "P", "L").tolist(), pa.string(), mask=~valid.to_numpy(dtype=bool)
        )
    if "pekerjaan" in columns:
        # `PETANI / PEKEBUN` (Buku Induk) is OpenSID's `PETANI/PEKEBUN`
        job = pc.replace_substring_regex(columns["pekerjaan"], r"\s*/\s*", "/")
        columns["pekerjaan"] = occupation_named(job)
    register = [name for name in columns if name.startswith("daftar_") or name == STATUS]
    if STATUS in columns and len(register) < 2:
        del columns[STATUS]  # a `Status` column of a workers' list is not a register's
        register.remove(STATUS)
    elif STATUS in columns:
        status = pc.utf8_upper(columns[STATUS])
        named = pc.take(
            pa.array(list(_STATUS_CODES.values())),
            pc.index_in(status, pa.array(list(_STATUS_CODES))),
        )
        columns[STATUS] = pc.coalesce(named, status)
    for place in ("desa", "kecamatan"):  # a title block's `DESA : ...` when no column names it
        if f"nama_{place}" not in columns and table.title.get(place):
            columns[f"nama_{place}"] = pa.array([table.title[place]] * n, pa.string())
    if "kode_desa" not in columns and n:  # no rows: refused as empty (BERKAS_KOSONG)
        columns["kode_desa"] = _village_of_file(
            columns.get("nama_desa"), columns.get("nama_kecamatan"), relative, regency, n
        )
    for name in register:
        if name != STATUS:
            del columns[name]
    if len(register) >= 2 and village_limit is not None and n:
        desa = pc.count_distinct(columns["kode_desa"]).as_py() if "kode_desa" in columns else 1
        if n > POPULATION_MARGIN * village_limit * max(1, desa):
            raise FileRefused("BERKAS_DATA_PENDUDUK", baris=n, batas=village_limit)
    return Table(columns, table.rows, table.sheet, table.notes, table.title)


_DESA_PREFIX = r"^(?:DESA|KELURAHAN|DS|KEL)\.? "
_KECAMATAN_PREFIX = r"^(?:KECAMATAN|KEC)\.? "


def _name_key(names: pd.Series, prefix: str) -> pd.Series:
    """A village's or kecamatan's name as compared: upper case, `Desa`/`Kec.` dropped, punctuation
    and runs of spaces one space (`Desa Pagelaran` = `PAGELARAN`, `Sukamaju ` = `SUKAMAJU`)."""
    key = names.astype("string").str.upper().str.replace(r"[^A-Z0-9]+", " ", regex=True)
    return key.str.strip().str.replace(prefix, "", regex=True)


def _village_of_file(
    names: pa.Array | None,
    districts: pa.Array | None,
    relative: str,
    regency: str | None,
    n: int,
) -> pa.Array:
    """The village code of a file without a village code column (`_as_roster`), one per row: the
    code in the file's name; else the village `names` give, within the kecamatan `districts` give
    when they do (Lebak has villages of the same name in different kecamatan); a name of two or
    more villages that no kecamatan tells apart refuses the file (BERKAS_DESA_GANDA)."""
    known = villages(regency) if regency else None
    code = code_in_file_name(relative)
    if code is not None and (known is None or code in set(known["kode_desa"])):
        return pa.array([code] * n, pa.string())
    if names is not None and known is not None:
        desa = _name_key(known["nama_desa"], _DESA_PREFIX)
        kecamatan = _name_key(known["nama_kecamatan"], _KECAMATAN_PREFIX)
        pair = kecamatan + "|" + desa
        unique = desa.drop_duplicates(keep=False)
        by_name = dict(zip(unique, known.loc[unique.index, "kode_desa"], strict=True))
        unique_pair = pair.drop_duplicates(keep=False)
        by_pair = dict(zip(unique_pair, known.loc[unique_pair.index, "kode_desa"], strict=True))
        given = _name_key(pd.Series(names.to_pylist(), dtype="string"), _DESA_PREFIX)
        where = pd.Series(
            districts.to_pylist() if districts is not None else [None] * n, dtype="string"
        )
        codes = (_name_key(where, _KECAMATAN_PREFIX) + "|" + given).map(by_pair)
        codes = codes.fillna(given.map(by_name))
        ambiguous = codes.isna() & given.isin(set(desa[desa.duplicated(keep=False)]))
        if ambiguous.any():
            name = given[ambiguous].iloc[0]
            same = known.loc[desa == name]
            raise FileRefused(
                "BERKAS_DESA_GANDA",
                desa=name,
                pilihan=", ".join(
                    f"{c} (Kec. {k})"
                    for c, k in zip(same["kode_desa"], same["nama_kecamatan"], strict=True)
                ),
                contoh=same["kode_desa"].iloc[0],
            )
        if codes.notna().any():
            return pa.array(codes.astype("string").tolist(), pa.string())
    raise FileRefused(
        "BERKAS_TANPA_DESA",
        kode=code or "-",
        contoh=(
            known["kode_desa"].iloc[0] if known is not None and len(known) else "36.02.01.2002"
        ),
    )


def _read(
    fs: fsspec.AbstractFileSystem,
    path: str,
    relative: str,
    size: int | None = None,
    kept: dict[str, FileVerdict] | None = None,
    regency: str | None = None,
    village_limit: int | None = None,
) -> tuple[Table | None, FileVerdict]:
    """One file's table and verdict; content problems become a verdict, I/O errors propagate.

    `size`: the file's size when the caller already knows it (a local listing). `kept`: verdicts of
    the last read of this folder by relative path: a file with the same bytes is not parsed again
    (`KEPT` and that verdict are returned; its rows are the last read's)."""
    suffix = PurePosixPath(path).suffix.lower()
    if size is None:
        size = fs.size(path) or 0
    try:
        check_file(suffix, size, LIMITS)
    except FileRefused as exc:
        return _refused(relative, sha256_stream(fs, path), exc)  # bounded memory, whatever the size
    if isinstance(fs, LocalFileSystem):  # fsspec's file object costs more than the read itself
        with open(path, "rb") as f:
            raw = f.read(
                LIMITS.max_bytes + 1
            )  # never more: the listed size may be older than the file
        if len(raw) > LIMITS.max_bytes:  # grown since it was measured: refused as too large
            return _read(
                fs, path, relative, max(len(raw), fs.size(path) or 0), kept, regency, village_limit
            )
    else:
        raw = fs.cat_file(path)
    sha = hashlib.sha256(raw).hexdigest()
    last = kept.get(relative) if kept else None
    if last is not None and last.sha256 == sha:
        return KEPT, last
    try:
        table = _as_roster(
            read_table(raw, suffix, COLUMNS, LIMITS), relative, regency, village_limit
        )
    except FileRefused as exc:
        return _refused(relative, sha, exc)
    return table, FileVerdict(
        relative, sha, len(table.rows), RosterFileStatus.READ, None, "; ".join(table.notes) or None
    )


def _frame(tables: list[tuple[Table, str]]) -> pd.DataFrame:
    """One frame from many files' tables: cleaned once, blank rows dropped, provenance attached."""
    lengths = [len(t.rows) for t, _ in tables]
    keep = np.zeros(sum(lengths), dtype=bool)
    data: dict[str, Any] = {}
    for c in ROW_COLUMNS:
        chunks = [t.columns.get(c, pa.nulls(len(t.rows), pa.string())) for t, _ in tables]
        arr = clean(pa.concat_arrays(chunks)) if chunks else pa.array([], pa.string())
        if c != STATUS:  # a row with only a status is blank
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
    path: str,
    *,
    relative_to: str = "",
    regency: str | None = None,
    village_limit: int | None = None,
) -> tuple[pd.DataFrame | None, FileVerdict]:
    """One file -> (rows, verdict); rows is None when the file is refused. Never raises for bad content.

    `source_file` / the verdict's path are `path` relative to `relative_to` (the path itself if empty).
    `regency`: the program's (`36.02`), for a file without a village code column (`_as_roster`).
    `village_limit`: the program's workers per village, for the whole-population guard
    (`_as_roster`); None: no guard.
    """
    fs, p = filesystem(path)
    relative, root = path, ""
    if relative_to:
        _, root = filesystem(relative_to)
        relative = relative_path(p, root)
    table, verdict = _read_safe(
        fs, p, relative, outside(fs, p, root), regency=regency, village_limit=village_limit
    )
    if table is None:
        return None, verdict
    rows = _frame([(table, relative)])
    if not len(rows):
        refused = FileRefused("BERKAS_KOSONG")
        return None, FileVerdict(
            relative, verdict.sha256, 0, RosterFileStatus.REJECTED, refused.code, refused.message
        )
    return rows, FileVerdict(
        relative, verdict.sha256, len(rows), RosterFileStatus.READ, None, verdict.message
    )


def _read_safe(
    fs: fsspec.AbstractFileSystem,
    path: str,
    relative: str,
    outside: bool = False,
    size: int | None = None,
    kept: dict[str, FileVerdict] | None = None,
    regency: str | None = None,
    village_limit: int | None = None,
) -> tuple[Table | None, FileVerdict]:
    """`_read`, with any failure turned into a refusal: one bad file never stops the others.

    `outside`: the path leads out of the roster folder (`_outside`): refused unread."""
    if outside:
        log.warning("roster %s not read: a link out of the roster folder", relative)
        link = FileRefused("BERKAS_JENIS", jenis="tautan (symlink) ke luar folder roster")
        return _refused(relative, "", link)
    try:
        return _read(fs, path, relative, size, kept, regency, village_limit)
    except Exception as exc:  # I/O trouble or a parser surprise; the text may hold personal data
        log.warning("roster %s not read: %s", relative, type(exc).__name__)
        message = (
            f"{FileRefused('BERKAS_RUSAK', jenis='.csv/.xlsx/.xls').message} ({type(exc).__name__})"
        )
        return None, FileVerdict(
            relative, "", 0, RosterFileStatus.REJECTED, "BERKAS_RUSAK", message
        )


def collect_rosters(
    folder: str,
    keep: Path | None = None,
    regency: str | None = None,
    village_limit: int | None = None,
) -> Collected:
    """Every roster file under `folder` -> one frame of rows + one line per file; never stops on a bad file.

    `keep`: a file where each run keeps what it read, so that the next run of the same folder parses
    only the files whose bytes changed (an admin's rerun after fixing one village's roster). The
    result is the same as reading everything: a file is reused only for the same path and bytes,
    and the whole keep is ignored when written by another version of this reader.
    `regency`: the program's (`36.02`), for files without a village code column (`_as_roster`).
    `village_limit`: the program's workers per village, for the population-export guard
    (`_as_roster`); None: no guard.
    """
    fs, root, found = candidates(folder)
    outside = outside_listed(fs, found, root)
    local = isinstance(fs, LocalFileSystem)
    last_verdicts, last_rows = (
        load_kept(keep, regency, village_limit) if keep is not None else ({}, None)
    )
    results = [
        _read_safe(
            fs,
            path,
            relative_path(path, root),
            outside[path],
            # a link's size is its target's: asked when read, as a link may dangle by then
            info["size"] if local and not info.get("islink", True) else None,
            last_verdicts,
            regency,
            village_limit,
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
        save_kept(keep, [v for _, v in results], rows, regency, village_limit)
    files = pd.DataFrame([v.__dict__ for _, v in results], columns=FILE_COLUMNS)
    files["rows"] = files["path"].map(rows["source_file"].value_counts()).fillna(0).astype("int64")
    emptied = (files["status"] == RosterFileStatus.READ) & (files["rows"] == 0)
    files.loc[emptied, "status"] = RosterFileStatus.REJECTED
    files.loc[emptied, "code"] = "BERKAS_KOSONG"
    files.loc[emptied, "message"] = FileRefused("BERKAS_KOSONG").message
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
