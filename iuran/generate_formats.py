"""The demo rosters in the layouts villages really send: OpenSID's exports and Dukcapil's SIAK `.xls`.

`iuran.generate` draws the workers; this module writes a village's workers the way another system
would have exported them (layouts from FORMATS.md), so the demo and the benchmark exercise the
readers of those exports and not only the project's own template:

- `template`: the project's columns, CSV or XLSX (written by `iuran.generate` itself);
- `opensid` / `opensid-names`: OpenSID's penduduk export (43 columns, every cell text, sex `1`/`2`
  and `pekerjaan_id` codes; or, as 2026 releases write it, 44 columns with `ket`, `Laki-laki` and
  occupation names), filtered to the workers, named `<kode>_penduduk.xlsx` (no village column);
- `bantuan`: OpenSID's program-bantuan export (`Program` and `Peserta` sheets; no sex, no occupation);
- `xlsm`: OpenSID's import template (NIK typed with an apostrophe, birth date as an Excel serial,
  codes as numbers, data ending at `###`, a `Kode Data` sheet);
- `html`: OpenSID's printable list (an HTML table named `.xls`, dates `10 Maret 1996`, NIKs unmasked);
- `siak`: Dukcapil's SIAK export, an old-Excel `.xls` of 37 columns (xlwt), village and sub-district
  by name.

`mixed` spreads the layouts over the villages by their position in the regency's list, so a village
keeps its layout every period. The cells come from `iuran.generate` as the CSV template writes
them (faults already rendered: a scientific NIK, an empty name), so a fault stays a fault in any
layout. The generator's occupations are written as the OpenSID occupation they fall under.
"""

from __future__ import annotations

import datetime as dt
import html
import io
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import pandas as pd
import xlwt
from openpyxl import Workbook

LAYOUTS = ("template", "opensid", "opensid-names", "bantuan", "xlsm", "html", "siak")
FORMATS = (*LAYOUTS, "mixed")
#: The layouts `mixed` spreads over the villages, each read by `iuran.rosters.read`.
MIXED = ("template", "opensid", "opensid-names", "bantuan", "xlsm", "html", "siak")

#: OpenSID's penduduk export header (FORMATS.md), 43 columns; 2026 releases add `ket`
OPENSID_HEADER = (
    "alamat", "dusun", "rw", "rt", "nama", "no_kk", "nik", "sex", "tempatlahir", "tanggallahir",
    "agama_id", "pendidikan_kk_id", "pendidikan_sedang_id", "pekerjaan_id", "status_kawin",
    "kk_level", "warganegara_id", "ayah_nik", "nama_ayah", "ibu_nik", "nama_ibu",
    "golongan_darah_id", "akta_lahir", "dokumen_pasport", "tanggal_akhir_paspor", "dokumen_kitas",
    "akta_perkawinan", "tanggalperkawinan", "akta_perceraian", "tanggalperceraian", "cacat_id",
    "cara_kb_id", "hamil", "ktp_el", "status_rekam", "alamat_sekarang", "status_dasar", "suku",
    "tag_id_card", "id_asuransi", "no_asuransi", "lat", "lng",
)  # fmt: skip
BANTUAN_HEADER = (
    "Peserta",
    "No. Peserta",
    "NIK",
    "Nama",
    "Tempat Lahir",
    "Tanggal Lahir",
    "Alamat",
)
HTML_HEADER = (
    "No", "No. KK", "NIK", "Tag Id Card", "Nama", "Alamat", "Dusun", "RW", "RT", "Jenis Kelamin",
    "Tempat Lahir", "Tanggal Lahir", "Umur", "Agama", "Pendidikan (dlm KK)", "Pekerjaan", "Kawin",
    "Hub. Keluarga", "Nama Ayah", "Nama Ibu", "Status",
)  # fmt: skip
SIAK_HEADER = (
    "Nomor KK", "NIK", "Nama Penduduk", "Status", "Tempat Lahir", "Tanggal Lahir", "Kelamin",
    "NIK Ayah", "Ayah", "NIK Ibu", "Ibu", "Status Kawin", "SHDK", "Agama", "Kecamatan", "Desa/Kel",
    "Alamat", "RW", "RT", "Pendidikan", "Pekerjaan", "Deskripsi Pekerjaan", "Gol. Darah", "Cacat",
    "Cetak KTP", "Ganti KTP", "KTP Berakhir", "Nomor Paspor", "Nomor Akta Lahir",
    "Nomor Akta Kawin", "Tanggal Kwn", "Nomor Akta Cerai", "Tgl Cerai", "Petugas Registrasi",
    "Tgl Ubah", "Petugas Entri", "Tgl Entri",
)  # fmt: skip

#: The generator's occupations -> OpenSID's `pekerjaan_id` (`iuran/data/opensid-pekerjaan.csv`);
#: anything else is 89, LAINNYA
OCCUPATION_CODES = {
    "petani": 9, "pekebun sawit": 9, "pekebun karet": 9, "pekebun kopi": 9,
    "buruh tani": 20, "buruh perkebunan": 20, "buruh harian lepas": 19, "penambang pasir": 19,
    "pedagang": 84, "pedagang keliling": 84, "ojek": 14, "kernet": 14, "tukang becak": 14,
    "sopir": 81, "tukang bangunan": 26, "tukang kayu": 27, "peternak": 10, "nelayan": 11,
    "pengrajin": 12,
}  # fmt: skip
_OTHER = 89
_BULAN = ("Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus", "September",
          "Oktober", "November", "Desember")  # fmt: skip
_EXCEL_EPOCH = dt.date(1899, 12, 30)
_DATA = Path(__file__).resolve().parent / "data"

#: A village's cells as `iuran.generate` writes its CSV: nik, nama, tanggal_lahir (yyyy-mm-dd or
#: empty), jenis_kelamin (L/P), pekerjaan, kode_desa, alamat, no_hp, penghasilan
Cells = Sequence[Sequence[str]]


def layout_of(fmt: str, position: int) -> str:
    """The layout of the village at `position` in the regency's list: `fmt`, or for `mixed` one of
    `MIXED` in turn (the same every period)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown roster format {fmt!r}: one of {', '.join(FORMATS)}")
    return MIXED[position % len(MIXED)] if fmt == "mixed" else fmt


def file_name(kode_desa: str, layout: str) -> str:
    """The file a village sends in `layout` (not `template`), named with its 10-digit code, as the
    operator is asked to (these exports carry no village code)."""
    code = kode_desa.replace(".", "")
    return {
        "opensid": f"{code}_penduduk.xlsx",
        "opensid-names": f"{code}_penduduk_nama.xlsx",
        "bantuan": f"{code}_bantuan.xlsx",
        "xlsm": f"{code}.xlsm",
        "html": f"{code}_Penduduk.xls",
        "siak": f"{code}_siak.xls",
    }[layout]


@lru_cache(maxsize=1)
def occupation_names() -> dict[int, str]:
    """OpenSID's occupation code -> the name written since 2026."""
    table = pd.read_csv(_DATA / "opensid-pekerjaan.csv", dtype=str)
    return {int(k): v for k, v in zip(table["pekerjaan_id"], table["nama_sejak_2026"], strict=True)}


def opensid_occupation(pekerjaan: str) -> str:
    """The OpenSID occupation a generator occupation falls under, as OpenSID names it (`""` if none)."""
    if not pekerjaan:
        return ""
    return occupation_names()[OCCUPATION_CODES.get(pekerjaan, _OTHER)]


def layout_bytes(layout: str, cells: Cells, nama_desa: str, nama_kecamatan: str) -> bytes:
    """One village's file in `layout` (not `template`)."""
    if layout in ("opensid", "opensid-names"):
        return _opensid(cells, names=layout == "opensid-names")
    if layout == "bantuan":
        return _bantuan(cells)
    if layout == "xlsm":
        return _xlsm(cells)
    if layout == "html":
        return _html(cells)
    if layout == "siak":
        return _siak(cells, nama_desa, nama_kecamatan)
    raise ValueError(f"no writer for layout {layout!r}")


def _born(text: str) -> dt.date | None:
    return dt.date.fromisoformat(text) if text else None


def _code(pekerjaan: str) -> int | None:
    return OCCUPATION_CODES.get(pekerjaan, _OTHER) if pekerjaan else None


def _save(wb: Workbook) -> bytes:
    data = io.BytesIO()
    wb.save(data)
    return data.getvalue()


def _opensid(cells: Cells, names: bool) -> bytes:
    """Every cell text; an empty `dusun`/`rw`/`rt` is `-`; 2026's names variant adds `ket`."""
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("Data Penduduk" if names else "Sheet1")
    ws.append([*OPENSID_HEADER, *(["ket"] if names else [])])
    for nik, nama, born, jk, job, _kode, alamat, _hp, _income in cells:
        sex = {"L": "Laki-laki", "P": "Perempuan"} if names else {"L": "1", "P": "2"}
        code = _code(job)
        row = dict.fromkeys(OPENSID_HEADER, "")
        row |= {
            "alamat": alamat, "dusun": "-", "rw": "-", "rt": "-", "nama": nama, "nik": nik,
            "no_kk": nik[:6] + "0101200001" if len(nik) == 16 else "", "sex": sex.get(jk, ""),
            "tempatlahir": "-", "tanggallahir": born, "agama_id": "1", "pendidikan_kk_id": "3",
            "pekerjaan_id": opensid_occupation(job) if names else str(code or ""),
            "status_kawin": "2", "kk_level": "1", "warganegara_id": "1", "status_dasar": "1",
        }  # fmt: skip
        ws.append([row[h] for h in OPENSID_HEADER] + (["-"] if names else []))
    return _save(wb)


def _bantuan(cells: Cells) -> bytes:
    wb = Workbook(write_only=True)
    program = wb.create_sheet("Program")
    for key, value in (
        ("id", "1"), ("config_id", "1"), ("Nama Program", "BPJS Ketenagakerjaan"),
        ("Sasaran Program", "Penduduk"), ("Keterangan", "Pekerja rentan"), ("Asal Dana", "APBDes"),
        ("Rentang Waktu (Awal)", "2026-01-01"), ("Rentang Waktu (Akhir)", "2026-12-31"),
    ):  # fmt: skip
        program.append([key, value])
    peserta = wb.create_sheet("Peserta")
    peserta.append(list(BANTUAN_HEADER))
    for nik, nama, born, _jk, _job, _kode, alamat, _hp, _income in cells:
        peserta.append([nik, "", nik, nama, "-", born, alamat])
    return _save(wb)


def _xlsm(cells: Cells) -> bytes:
    """OpenSID's import template: NIK text with an apostrophe, serial dates, number codes, `###`."""
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("Data Penduduk")
    ws.append(OPENSID_HEADER)
    for nik, nama, born, jk, job, _kode, alamat, _hp, _income in cells:
        day = _born(born)
        row: dict[str, object] = dict.fromkeys(OPENSID_HEADER, None)
        row |= {
            "alamat": alamat, "nama": nama, "nik": "'" + nik if nik else None,
            "sex": {"L": 1, "P": 2}.get(jk), "pekerjaan_id": _code(job),
            "tanggallahir": (day - _EXCEL_EPOCH).days if day else None,
        }  # fmt: skip
        ws.append([row[h] for h in OPENSID_HEADER])
    ws.append(["", "###"])
    codes = wb.create_sheet("Kode Data")
    codes.append(["pekerjaan_id", "nama"])
    for code, name in occupation_names().items():
        codes.append([code, name])
    return _save(wb)


def _html(cells: Cells) -> bytes:
    """A title table, then the list: `th` header, one `tr` per person, dates `10 Maret 1996`."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in HTML_HEADER)
    lines = []
    for i, (nik, nama, born, jk, job, _kode, alamat, _hp, _income) in enumerate(cells, start=1):
        day = _born(born)
        values = [
            str(i), "", nik, "", nama, alamat, "-", "-", "-",
            {"L": "LAKI-LAKI", "P": "PEREMPUAN"}.get(jk, ""), "-",
            f"{day.day} {_BULAN[day.month - 1]} {day.year}" if day else "", "", "ISLAM",
            "SLTP/SEDERAJAT", opensid_occupation(job), "KAWIN", "KEPALA KELUARGA", "", "", "TETAP",
        ]  # fmt: skip
        lines.append("<tr>" + "".join(f"<td>{html.escape(v)}</td>" for v in values) + "</tr>")
    return (
        "<html><head><meta charset='utf-8'></head><body>"
        f"<table><tr><td colspan='{len(HTML_HEADER)}'>DATA PENDUDUK</td></tr></table>\n"
        f"<table border='1'><thead><tr>{head}</tr></thead><tbody>\n"
        + "\n".join(lines)
        + "\n</tbody></table></body></html>\n"
    ).encode()


def _siak(cells: Cells, nama_desa: str, nama_kecamatan: str) -> bytes:
    """Old Excel: NIKs as text, birth dates as date cells, RW/RT as number cells, names of places."""
    book = xlwt.Workbook(encoding="utf-8")
    sheet = book.add_sheet("Sheet1")
    dates = xlwt.easyxf(num_format_str="DD-MM-YYYY")
    for col, name in enumerate(SIAK_HEADER):
        sheet.write(0, col, name)
    at = {name: i for i, name in enumerate(SIAK_HEADER)}
    for r, (nik, nama, born, jk, job, _kode, alamat, _hp, _income) in enumerate(cells, start=1):
        text = {
            "Nomor KK": nik[:6] + "0101200001" if len(nik) == 16 else "", "NIK": nik,
            "Nama Penduduk": nama.upper(), "Status": "Hidup", "Tempat Lahir": "LEBAK",
            "Kelamin": {"L": "Laki-Laki", "P": "Perempuan"}.get(jk, ""), "Status Kawin": "KAWIN",
            "SHDK": "KEPALA KELUARGA", "Agama": "ISLAM", "Kecamatan": nama_kecamatan.upper(),
            "Desa/Kel": nama_desa.upper(), "Alamat": alamat.upper(),
            "Pendidikan": "SLTP/SEDERAJAT", "Pekerjaan": opensid_occupation(job),
            "Deskripsi Pekerjaan": job.upper(),
        }  # fmt: skip
        for name, value in text.items():
            sheet.write(r, at[name], value)
        sheet.write(r, at["RW"], 1.0)
        sheet.write(r, at["RT"], float(1 + r % 5))
        day = _born(born)
        if day is not None:
            sheet.write(r, at["Tanggal Lahir"], dt.datetime(day.year, day.month, day.day), dates)
    data = io.BytesIO()
    book.save(data)
    return data.getvalue()
