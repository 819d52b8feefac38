"""What a roster is, whatever file it came in: its columns (`CANONICAL`, `REQUIRED`), the header
spellings that name them (`SYNONYMS`, `COLUMNS`), the labels an operator knows (`LABELS`), the
reading limits (`LIMITS`), and the frames `collect_rosters` returns (`Collected`, `FileVerdict`).

Kept apart from the reading itself (`iuran.rosters.read`) so that validation, the reports and the
counter name a roster's columns without importing the readers.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from iuran.intake.header import Columns
from iuran.intake.refusal import Limits

CANONICAL = [
    "nik", "nama", "tanggal_lahir", "jenis_kelamin", "pekerjaan", "kode_desa", "alamat", "no_hp",
    "penghasilan",
]  # fmt: skip
#: What a header must name. Sex may come from the NIK, the village from the file's name or a village
#: name column (`_as_roster`); validation then requires every row to have both.
REQUIRED = ("nik", "nama", "tanggal_lahir")
#: A population register's status of each person (`Hidup`, `Mati`, `Pindah`, ...: SIAK's `Status`,
#: OpenSID's `status_dasar`): kept with the rows for validation (PENDUDUK_BUKAN_HIDUP), never stored.
STATUS = "status_penduduk"
#: The columns of the rows read: the roster's, and the status a register export gives
ROW_COLUMNS = [*CANONICAL, STATUS]
PROVENANCE = ["source_file", "source_sheet", "source_row"]
FILE_COLUMNS = ["path", "sha256", "rows", "status", "code", "message"]

#: Column label the operator knows, for messages.
LABELS = {
    "nik": "NIK", "nama": "Nama", "tanggal_lahir": "Tanggal Lahir", "jenis_kelamin": "Jenis Kelamin",
    "pekerjaan": "Pekerjaan", "kode_desa": "Kode Desa", "alamat": "Alamat", "no_hp": "No HP",
    "penghasilan": "Penghasilan", "nama_desa": "Nama Desa", "nama_kecamatan": "Kecamatan",
    STATUS: "Status",
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
        ["nama", "nama lengkap", "nama tenaga kerja", "nama lengkap tenaga kerja",
         "nama penduduk", "nama lengkap panggilan"], "nama"),
    **dict.fromkeys(
        ["tgl lahir", "tanggal lahir", "tgl lhr", "tanggal lhr", "tgl lahir dd mm yyyy",
         "tanggallahir"], "tanggal_lahir"),
    **dict.fromkeys(["jk", "l p", "jenis kelamin", "kelamin", "jns kelamin", "gender", "sex"],
                    "jenis_kelamin"),
    **dict.fromkeys(
        ["pekerjaan", "jenis pekerjaan", "sektor", "sektor pekerjaan", "profesi", "jenis usaha",
         "pekerjaan id"], "pekerjaan"),
    # a village's name, used only when the file has no village code (`_as_roster`)
    **dict.fromkeys(
        ["desa", "nama desa", "desa kelurahan", "nama desa kelurahan", "kelurahan",
         "nama kelurahan", "desa kel", "nama desa kel"], "nama_desa"),
    # ... and its kecamatan's, which tells apart villages of the same name (SIAK's `Kecamatan`)
    **dict.fromkeys(["kecamatan", "nama kecamatan", "kec"], "nama_kecamatan"),
    # a register's status of the person (SIAK `Status`, OpenSID `status_dasar`): a row of someone
    # who died or moved away is refused (PENDUDUK_BUKAN_HIDUP); a register column for the guard
    **dict.fromkeys(["status", "status dasar", "status penduduk"], STATUS),
    **dict.fromkeys(
        ["kode desa", "kode wilayah", "kode kemendagri", "kode desa kemendagri", "kode wilayah desa",
         "kode desa kelurahan", "kode kelurahan", "kode wilayah kemendagri"], "kode_desa"),
    # population-register columns a workers' roster never needs: two or more in a header make the
    # file look like a population register export (the whole-population guard, `_as_roster`);
    # OpenSID's column names first, then Dukcapil/SIAK's (`Nomor KK`, `SHDK`, `Hub. Keluarga`, ...)
    **{name: f"daftar_{name.replace(' ', '_')}" for name in (
        "no kk", "nomor kk", "kk level", "agama id", "agama", "pendidikan kk id",
        "pendidikan", "status kawin", "nama ayah", "ayah", "nama ibu", "ibu", "warganegara id",
        "golongan darah id", "shdk", "hub keluarga")},
    **dict.fromkeys(["alamat", "alamat lengkap", "alamat rumah", "alamat domisili"], "alamat"),
    **dict.fromkeys(
        ["no hp", "nomor hp", "hp", "telepon", "no telepon", "nomor telepon", "no telp", "telp",
         "no hp wa", "no wa", "nomor wa", "handphone", "no handphone", "nomor handphone"], "no_hp"),
    **dict.fromkeys(
        ["penghasilan", "upah", "penghasilan per bulan", "penghasilan bulanan", "pendapatan",
         "pendapatan per bulan", "upah per bulan", "penghasilan sebulan"], "penghasilan"),
}  # fmt: skip

#: What a roster header must and may name. `Tanggal` (or `Tgl`) under a merged `Tempat, Tanggal
#: Lahir` is the birth date.
COLUMNS = Columns(
    SYNONYMS,
    REQUIRED,
    LABELS,
    min_matches=3,
    form_rows=True,
    nik="nik",
    template=("nik", "nama", "tanggal_lahir", "jenis_kelamin", "kode_desa"),
    under={
        "lahir": dict.fromkeys(
            (
                "tanggal",
                "tgl",
                "tanggal lahir",
                "tgl lahir",
                "tgl bln th",
                "tgl bln thn",
                "tanggal bulan tahun",
            ),
            "tanggal_lahir",
        )
    },
    person=("tanggal_lahir", "jenis_kelamin"),
)
#: 20 MB, 200 MB unzipped, 10,000 rows, 200 columns, header among the first 15 rows
LIMITS = Limits()


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
    """`rows`: ROW_COLUMNS (string) + source_file, source_sheet (string), source_row (int64);
    `files`: FILE_COLUMNS, one line per file found (read or rejected)."""

    rows: pd.DataFrame
    files: pd.DataFrame
