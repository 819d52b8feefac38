"""Dukcapil's SIAK export read as a village operator drops it in: an old Excel `.xls`, 37 columns,
village and kecamatan as names, a person's `Status` (issue #15).

Layout from FORMATS.md "Villages: Disdukcapil exports"; the people are synthetic (NIKs built from
the kecamatan code, birth date and sex as Dukcapil does: day + 40 for women)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import xlwt

from iuran.generate_formats import SIAK_HEADER
from iuran.periods import Period
from iuran.programs import load_program
from iuran.rosters.read import collect_rosters
from iuran.rosters.validate import validate_rows

SIAK = list(SIAK_HEADER)  # the 37 columns as FORMATS.md gives them, written once
assert len(SIAK) == 37
DATE = xlwt.easyxf(num_format_str="DD-MM-YYYY")

#: (name, born, woman, status, occupation as SIAK writes it, kecamatan, desa, village code)
PEOPLE = [
    ("ASEP SAEPUDIN", dt.date(1990, 5, 15), False, "Hidup", "PETANI/PEKEBUN",
     "MALINGPING", "PAGELARAN", "36.02.01.2003"),
    ("SITI AMINAH", dt.date(1985, 11, 2), True, "Hidup", "BURUH HARIAN LEPAS",
     "MALINGPING", "SUKARAJA", "36.02.01.2004"),
    # Banjarsari is a village of three kecamatan: the Kecamatan column tells them apart
    ("UJANG SUPRIATNA", dt.date(1978, 1, 30), False, "Hidup", "NELAYAN/PERIKANAN",
     "WARUNGGUNUNG", "BANJARSARI", "36.02.15.2006"),
    ("ENAH SUNARSIH", dt.date(1970, 7, 9), True, "Hidup", "PEDAGANG",
     "LEBAKGEDONG", "BANJARSARI", "36.02.25.2004"),
]  # fmt: skip
#: rows that are not billed: (name, born, woman, status)
GONE = [
    ("OMO SUTISNA", dt.date(1960, 3, 3), False, "Mati"),
    ("IYAH", dt.date(1975, 4, 4), True, "Pindah"),
]


def nik(kecamatan: str, born: dt.date, woman: bool, serial: int) -> str:
    day = born.day + (40 if woman else 0)
    return f"{kecamatan}{day:02d}{born.month:02d}{born.year % 100:02d}{serial:04d}"


def _siak(path: Path) -> tuple[list[str], list[str]]:
    """A SIAK export of the workers, two people no longer living there and one NIK twice. Returns
    the workers' and the gone people's NIKs."""
    book = xlwt.Workbook()
    sheet = book.add_sheet("Sheet1")
    for j, h in enumerate(SIAK):
        sheet.write(0, j, h)
    rows: list[dict[str, object]] = []
    workers, gone = [], []
    for i, (nama, born, woman, status, job, kec, desa, code) in enumerate(PEOPLE, start=1):
        n = nik(code.replace(".", "")[:6], born, woman, i)
        workers.append(n)
        rows.append({"NIK": n, "Nama Penduduk": nama, "Status": status, "Tanggal Lahir": born,
                     "Kelamin": "Perempuan" if woman else "Laki-Laki", "Kecamatan": kec,
                     "Desa/Kel": desa, "Pekerjaan": job})  # fmt: skip
    for i, (nama, born, woman, status) in enumerate(GONE, start=11):
        n = nik("360201", born, woman, i)
        gone.append(n)
        rows.append({"NIK": n, "Nama Penduduk": nama, "Status": status, "Tanggal Lahir": born,
                     "Kelamin": "Perempuan" if woman else "Laki-Laki", "Kecamatan": "MALINGPING",
                     "Desa/Kel": "PAGELARAN", "Pekerjaan": "PETANI/PEKEBUN"})  # fmt: skip
    rows.append(dict(rows[0]))  # SIAK lists some people twice
    for i, row in enumerate(rows, start=1):
        values = {
            "Nomor KK": f"36020101012{i:05d}", "Tempat Lahir": "LEBAK", "Ayah": "AYAH",
            "Ibu": "IBU", "Status Kawin": "KAWIN", "SHDK": "KEPALA KELUARGA", "Agama": "ISLAM",
            "Alamat": "KP. CIBEBER", "RW": 8.0, "RT": 2.0, "Pendidikan": "SLTP/SEDERAJAT",
            "Deskripsi Pekerjaan": "-", "Gol. Darah": "TIDAK TAHU", "Tgl Entri": dt.date(2020, 1, 6),
        } | row  # fmt: skip
        for j, h in enumerate(SIAK):
            value = values.get(h)
            if isinstance(value, dt.date):
                sheet.write(i, j, value, DATE)
            elif value is not None:
                sheet.write(i, j, value)
    book.save(str(path))
    return workers, gone


def test_a_siak_export_is_read_as_it_is(tmp_path: Path) -> None:
    workers, gone = _siak(tmp_path / "DATA PENDUDUK SIAK.xls")
    collected = collect_rosters(str(tmp_path), regency="36.02", village_limit=10)
    assert collected.files["status"].tolist() == ["read"], collected.files["message"].tolist()
    checked = validate_rows(collected.rows, load_program("lebak"), Period(2026, 1))
    got = checked.accepted.set_index("nik").loc[workers]
    assert len(checked.accepted) == len(PEOPLE)
    assert got["nama"].tolist() == [p[0] for p in PEOPLE]
    assert [d.date() for d in pd.to_datetime(got["tanggal_lahir"])] == [p[1] for p in PEOPLE]
    assert got["jenis_kelamin"].tolist() == ["P" if p[2] else "L" for p in PEOPLE]
    assert got["pekerjaan"].tolist() == [p[4].lower() for p in PEOPLE]
    assert got["kode_desa"].tolist() == [p[7] for p in PEOPLE]
    assert got["source_row"].tolist() == [2, 3, 4, 5]
    rejected = checked.rejected.set_index("source_row")
    assert rejected["code"].to_dict() == {
        6: "PENDUDUK_BUKAN_HIDUP", 7: "PENDUDUK_BUKAN_HIDUP", 8: "NIK_GANDA_BERKAS",
    }  # fmt: skip
    assert rejected.loc[6, "message"].startswith(
        "Menurut data kependudukan status orang ini MATI, bukan Hidup"
    )
    assert "PINDAH" in rejected.loc[7, "message"]
    assert rejected.loc[[6, 7], "nik"].tolist() == gone


def test_the_file_name_code_wins_over_the_names(tmp_path: Path) -> None:
    workers, _ = _siak(tmp_path / "siak_3602012002.xls")
    rows = collect_rosters(str(tmp_path), regency="36.02").rows
    assert set(rows["kode_desa"]) == {"36.02.01.2002"}
    assert set(workers) <= set(rows["nik"])


def test_a_status_column_of_a_workers_list_is_not_a_register_status(tmp_path: Path) -> None:
    """`Status` in the operator's own list (no register columns) is not read as SIAK's."""
    born = dt.date(1990, 5, 15)
    (tmp_path / "3602012002.csv").write_text(
        "NIK;Nama;Tanggal Lahir;Jenis Kelamin;Status\n"
        f"{nik('360201', born, False, 1)};Asep;15/05/1990;L;Baru\n",
        encoding="utf-8",
    )
    rows = collect_rosters(str(tmp_path), regency="36.02").rows
    checked = validate_rows(rows, load_program("lebak"), Period(2026, 1))
    assert len(checked.accepted) == 1 and checked.rejected.empty


# --- a village name of several villages ------------------------------------------------------------


def _named(path: Path, desa: str, kecamatan: str | None = None) -> None:
    """A workers' list with a `Desa` (and maybe a `Kecamatan`) column, no code anywhere."""
    born = dt.date(1990, 5, 15)
    header = "NIK;Nama;Tanggal Lahir;Jenis Kelamin;Desa" + (";Kecamatan" if kecamatan else "")
    row = f"{nik('360213', born, False, 1)};Asep;15/05/1990;L;{desa}" + (
        f";{kecamatan}" if kecamatan else ""
    )
    path.write_text(f"{header}\n{row}\n", encoding="utf-8")


def test_a_name_of_several_villages_is_refused_saying_how_to_name_the_file(tmp_path: Path) -> None:
    """Cilangkap is a village of Maja, Wanasalam and Kalanganyar (Kemendagri's list): without a
    kecamatan the file cannot be placed, and the operator is told the three codes."""
    _named(tmp_path / "pekerja.csv", "Desa Cilangkap")
    files = collect_rosters(str(tmp_path), regency="36.02").files
    assert files["code"].tolist() == ["BERKAS_DESA_GANDA"]
    message = files["message"].iloc[0]
    assert message.startswith("Nama desa CILANGKAP dimiliki lebih dari satu desa kabupaten ini")
    for code, kecamatan in [("36.02.13.2018", "Maja"), ("36.02.21.2003", "Wanasalam"),
                            ("36.02.24.2003", "Kalanganyar")]:  # fmt: skip
        assert f"{code} (Kec. {kecamatan})" in message
    assert "Beri nama berkas dengan kode desa Kemendagri 10 digit" in message
    assert "36.02.13.2018.xlsx" in message


def test_the_kecamatan_tells_villages_of_one_name_apart(tmp_path: Path) -> None:
    _named(tmp_path / "a.csv", "Cilangkap", "Kec. Maja")
    _named(tmp_path / "b.csv", "CILANGKAP", "WANASALAM")
    _named(tmp_path / "36.02.24.2003 c.csv", "Cilangkap")  # the file name's code: no question
    rows = collect_rosters(str(tmp_path), regency="36.02").rows
    assert rows.set_index("source_file")["kode_desa"].to_dict() == {
        "36.02.24.2003 c.csv": "36.02.24.2003",
        "a.csv": "36.02.13.2018",
        "b.csv": "36.02.21.2003",
    }


def test_a_title_block_without_kecamatan_is_refused_for_a_shared_name(tmp_path: Path) -> None:
    """A Buku Induk whose DESA line names Cilangkap and which has no KECAMATAN line."""
    born = dt.date(1990, 5, 15)
    book = xlwt.Workbook()
    sheet = book.add_sheet("Sheet1")
    for i, row in enumerate(
        [["DESA : CILANGKAP"], ["NIK", "Nama", "Tanggal Lahir", "JK"],
         [nik("360213", born, False, 1), "Asep", "15/05/1990", "L"]]
    ):  # fmt: skip
        for j, value in enumerate(row):
            sheet.write(i, j, value)
    book.save(str(tmp_path / "buku induk.xls"))
    files = collect_rosters(str(tmp_path), regency="36.02").files
    assert files["code"].tolist() == ["BERKAS_DESA_GANDA"]
