"""OpenSID's exports read as a village operator drops them in, without editing (issue #15).

Layouts from FORMATS.md "Villages: OpenSID"; the people are synthetic (NIKs built from birth date and
sex as Dukcapil does: day + 40 for women)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
from openpyxl import Workbook

from iuran.periods import Period
from iuran.programs import load_program
from iuran.rosters.kept import KEEP_NAME
from iuran.rosters.read import collect_rosters
from iuran.rosters.validate import validate_rows

HEADER = [
    "alamat",
    "dusun",
    "rw",
    "rt",
    "nama",
    "no_kk",
    "nik",
    "sex",
    "tempatlahir",
    "tanggallahir",
    "agama_id",
    "pendidikan_kk_id",
    "pendidikan_sedang_id",
    "pekerjaan_id",
    "status_kawin",
    "kk_level",
    "warganegara_id",
    "ayah_nik",
    "nama_ayah",
    "ibu_nik",
    "nama_ibu",
    "golongan_darah_id",
    "akta_lahir",
    "dokumen_pasport",
    "tanggal_akhir_paspor",
    "dokumen_kitas",
    "akta_perkawinan",
    "tanggalperkawinan",
    "akta_perceraian",
    "tanggalperceraian",
    "cacat_id",
    "cara_kb_id",
    "hamil",
    "ktp_el",
    "status_rekam",
    "alamat_sekarang",
    "status_dasar",
    "suku",
    "tag_id_card",
    "id_asuransi",
    "no_asuransi",
    "lat",
    "lng",
]
assert len(HEADER) == 43

# name, born, woman, occupation code, occupation name
PEOPLE = [
    ("Asep Saepudin", dt.date(1990, 5, 15), False, 9, "PETANI/PEKEBUN"),
    ("Siti Aminah", dt.date(1985, 11, 2), True, 19, "BURUH HARIAN LEPAS"),
    ("Ujang Supriatna", dt.date(1978, 1, 30), False, 11, "NELAYAN/PERIKANAN"),
]


def nik(born: dt.date, woman: bool, serial: int) -> str:
    day = born.day + (40 if woman else 0)
    return f"360201{day:02d}{born.month:02d}{born.year % 100:02d}{serial:04d}"


def _penduduk(path: Path, *, names: bool, ket: bool, sheet: str, start: int = 1) -> list[str]:
    wb = Workbook()
    ws = wb.active
    ws.title = sheet
    ws.append(HEADER + (["ket"] if ket else []))
    niks = []
    for i, (nama, born, woman, code, job) in enumerate(PEOPLE, start=start):
        n = nik(born, woman, i)
        niks.append(n)
        row = dict.fromkeys(HEADER, "")
        sex = ("Perempuan" if woman else "Laki-laki") if names else ("2" if woman else "1")
        sex = sex.upper() if names and i % 2 else sex  # before 2026: LAKI-LAKI / PEREMPUAN
        row |= {
            "alamat": "Kp. Cibeber", "dusun": "-", "rw": "-", "rt": "-", "nama": nama,
            "no_kk": "3602010101200001", "nik": n, "sex": sex, "tempatlahir": "LEBAK",
            "tanggallahir": born.isoformat(), "pekerjaan_id": job if names else str(code),
        }  # fmt: skip
        ws.append([row[h] for h in HEADER] + (["-"] if ket else []))
    wb.save(path)
    return niks


def _program_bantuan(path: Path) -> list[str]:
    wb = Workbook()
    program = wb.active
    program.title = "Program"
    for key, value in [
        ("id", "3"),
        ("Nama Program", "BPJS Ketenagakerjaan"),
        ("Asal Dana", "APBDes"),
    ]:
        program.append([key, value])
    peserta = wb.create_sheet("Peserta")
    peserta.append(
        ["Peserta", "No. Peserta", "NIK", "Nama", "Tempat Lahir", "Tanggal Lahir", "Alamat"]
    )
    niks = []
    for i, (nama, born, woman, _, _) in enumerate(PEOPLE, start=11):
        n = nik(born, woman, i)
        niks.append(n)
        peserta.append([n, "", n, nama, "LEBAK", born.isoformat(), "Kp. Sukamaju"])
    wb.save(path)
    return niks


def _template(path: Path) -> list[str]:
    wb = Workbook()
    ws = wb.active
    ws.title = "Data Penduduk"
    ws.append(HEADER)
    niks = []
    for i, (nama, born, woman, code, _) in enumerate(PEOPLE, start=21):
        n = nik(born, woman, i)
        niks.append(n)
        row: dict[str, object] = dict.fromkeys(HEADER, None)
        serial = (born - dt.date(1899, 12, 30)).days
        row |= {"alamat": "Kp. Cibeber", "nama": nama, "no_kk": "'3602010101200002", "nik": "'" + n,
                "sex": 2 if woman else 1, "tanggallahir": serial, "pekerjaan_id": code}  # fmt: skip
        ws.append([row[h] for h in HEADER])
    ws.append(["", "###"])
    ws.append(["sisa", "", "", "", "Bukan Orang", "", "3602015505900099"])  # after the end: ignored
    codes = wb.create_sheet("Kode Data")
    codes.append(["nama", "nik", "tanggal lahir", "kode"])  # a sheet of code lists, never data
    wb.save(path)
    return niks


def _read(folder: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    collected = collect_rosters(str(folder), regency="36.02")
    checked = validate_rows(collected.rows, load_program("lebak"), Period(2026, 1))
    return collected.files.set_index("path"), checked.accepted


def _expect(accepted: pd.DataFrame, niks: list[str], village: str, jobs: bool = True) -> None:
    got = accepted.set_index("nik").loc[niks]
    assert got["nama"].tolist() == [p[0] for p in PEOPLE]
    assert [d.date() for d in pd.to_datetime(got["tanggal_lahir"])] == [p[1] for p in PEOPLE]
    assert got["jenis_kelamin"].tolist() == ["P" if p[2] else "L" for p in PEOPLE]
    if jobs:
        assert got["pekerjaan"].tolist() == [p[4].lower() for p in PEOPLE]
    assert got["kode_desa"].tolist() == [village] * len(PEOPLE)


def test_opensid_exports_are_read_as_they_are(tmp_path: Path) -> None:
    codes = _penduduk(
        tmp_path / "penduduk_3602012002_03_12_2026.xlsx", names=False, ket=False, sheet="Sheet1"
    )
    names = _penduduk(
        tmp_path / "36.02.01.2003.xlsx", names=True, ket=True, sheet="Data Penduduk", start=31
    )
    bantuan = _program_bantuan(tmp_path / "3602012004.xlsx")
    template = _template(tmp_path / "3602012005.xlsm")
    files, accepted = _read(tmp_path)
    assert (files["status"] == "read").all(), files[["code", "message"]]
    assert files.loc["3602012004.xlsx", "rows"] == 3  # the Peserta sheet, not Program
    assert files.loc["3602012005.xlsm", "rows"] == 3  # up to ###
    assert len(accepted) == 12
    _expect(accepted, codes, "36.02.01.2002")
    _expect(accepted, names, "36.02.01.2003")
    _expect(accepted, bantuan, "36.02.01.2004", jobs=False)  # sex from the NIK
    _expect(accepted, template, "36.02.01.2005")


def test_village_name_column_when_the_file_name_has_no_code(tmp_path: Path) -> None:
    wb = Workbook()
    wb.active.append(["NIK", "Nama", "Tanggal Lahir", "Jenis Kelamin", "Desa"])
    born = dt.date(1990, 5, 15)
    wb.active.append([nik(born, False, 1), "Asep", "15/05/1990", "L", "Desa Pagelaran"])
    wb.save(tmp_path / "roster.xlsx")
    _files, accepted = _read(tmp_path)
    assert accepted["kode_desa"].tolist() == ["36.02.01.2003"]


def test_a_file_without_village_is_refused_saying_how_to_name_it(tmp_path: Path) -> None:
    _penduduk(tmp_path / "penduduk_03_12_2026.xlsx", names=False, ket=False, sheet="Sheet1")
    _penduduk(tmp_path / "penduduk_3201012001.xlsx", names=False, ket=False, sheet="Sheet1")
    files, accepted = _read(tmp_path)
    assert len(accepted) == 0
    assert files["code"].tolist() == ["BERKAS_TANPA_DESA"] * 2
    assert "kode desa Kemendagri 10 digit" in files["message"].iloc[0]


#: An unfiltered village (OpenSID's penduduk export of everyone): (residents, born from, born to,
#: occupation code) per group; 15 farmers among them.
VILLAGE = [
    (70, 2010, 2025, "1"),  # children: BELUM/TIDAK BEKERJA
    (60, 2004, 2014, "3"),  # pupils and students: PELAJAR/MAHASISWA
    (60, 1960, 2000, "2"),  # housewives: MENGURUS RUMAH TANGGA
    (25, 1965, 1998, "5"),  # civil servants: ASN
    (45, 1936, 1960, "4"),  # the elderly: PENSIUNAN / no longer working
    (25, 1960, 2003, "1"),  # adults not working
    (15, 1965, 2000, "9"),  # farmers: PETANI/PEKEBUN
]
FARMER = "9"


def _whole_village(path: Path, *, workers_only: int | None = None) -> list[str]:
    """An unfiltered penduduk export as OpenSID writes a village's whole population (~300 residents,
    families of four under one `no_kk`); `workers_only`: the same export filtered to that many of
    its farmers (what the operator should send). Returns the NIKs written."""
    wb = Workbook()
    ws = wb.active
    ws.title = "Data Penduduk"
    ws.append(HEADER)
    niks, i = [], 0
    for residents, first, last, job in VILLAGE:
        for k in range(residents):
            i += 1
            born = dt.date(first + k % (last - first + 1), 1 + k % 12, 1 + (k * 7) % 28)
            woman = job == "2" or (job != "2" and bool(k % 2))
            if workers_only is not None and (job != FARMER or len(niks) >= workers_only):
                continue
            n = nik(born, woman, i)
            niks.append(n)
            row = dict.fromkeys(HEADER, "")
            row |= {
                "alamat": "Kp. Cibeber", "dusun": "-", "rw": "-", "rt": "-",
                "nama": f"Warga {i}", "no_kk": f"36020101012{i // 4:05d}", "nik": n,
                "sex": "2" if woman else "1", "tempatlahir": "LEBAK",
                "tanggallahir": born.isoformat(), "agama_id": "1", "pendidikan_kk_id": "3",
                "pekerjaan_id": job, "status_kawin": "1" if born.year > 2000 else "2",
                "kk_level": "1" if i % 4 == 1 else "4", "warganegara_id": "1",
                "nama_ibu": f"Ibu {i // 4}", "golongan_darah_id": "13", "status_dasar": "1",
            }  # fmt: skip
            ws.append([row[h] for h in HEADER])
    wb.save(path)
    return niks


def test_a_whole_population_export_is_held_not_billed(tmp_path: Path) -> None:
    assert len(_whole_village(tmp_path / "penduduk_3602012002_03_12_2026.xlsx")) == 300
    _template(tmp_path / "3602012005.xlsm")
    collected = collect_rosters(str(tmp_path), regency="36.02", village_limit=10)
    files = collected.files.set_index("path")
    held = files.loc["penduduk_3602012002_03_12_2026.xlsx"]
    assert (held["status"], held["code"]) == ("rejected", "BERKAS_DATA_PENDUDUK")
    assert held["message"].startswith(
        "Berkas ini tampak sebagai ekspor seluruh data penduduk (300 orang, lebih dari dua kali "
        "10 pekerja per desa yang diharapkan program ini)"
    )
    assert "ekspor Program Bantuan" in held["message"]
    assert files.loc["3602012005.xlsm", "status"] == "read"  # the other files go on
    assert set(collected.rows["source_file"]) == {"3602012005.xlsm"}  # nobody of the village


def test_a_filtered_export_is_read(tmp_path: Path) -> None:
    niks = _whole_village(tmp_path / "3602012002.xlsx", workers_only=8)
    collected = collect_rosters(str(tmp_path), regency="36.02", village_limit=10)
    assert collected.files["status"].tolist() == ["read"]
    checked = validate_rows(collected.rows, load_program("lebak"), Period(2026, 1))
    assert sorted(checked.accepted["nik"]) == sorted(niks)
    assert set(checked.accepted["pekerjaan"]) == {"petani/pekebun"}


def _siak(path: Path, rows: int) -> None:
    """A Dukcapil/SIAK-style list (`Nomor KK`, `SHDK`) with a Kode Desa column, over 2 villages."""
    lines = ["NIK,Nama,Tanggal Lahir,Jenis Kelamin,Kode Desa,Nomor KK,SHDK"]
    for i in range(rows):
        born = dt.date(1970 + i % 30, 1 + i % 12, 1 + i % 28)
        village = ("36.02.01.2002", "36.02.01.2003")[i % 2]
        lines.append(
            f"{nik(born, False, i + 1)},Warga {i},{born:%d/%m/%Y},L,{village},'1,KEPALA KELUARGA"
        )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_the_limit_counts_the_villages_a_file_covers(tmp_path: Path) -> None:
    """A file whose village comes from its name covers 1 village; one with a Kode Desa column the
    villages it names, and holds a file over twice that (`POPULATION_MARGIN`): 40 people of 2
    villages are within 2 x 10 x 2, 41 are not."""
    _whole_village(tmp_path / "3602012004.xlsx")  # 300 residents of one village: over 2 x 10
    _siak(tmp_path / "siak-40.csv", 40)
    _siak(tmp_path / "siak-41.csv", 41)
    files = collect_rosters(str(tmp_path), regency="36.02", village_limit=10).files
    assert files.set_index("path")["code"].fillna("-").to_dict() == {
        "3602012004.xlsx": "BERKAS_DATA_PENDUDUK",
        "siak-40.csv": "-",
        "siak-41.csv": "BERKAS_DATA_PENDUDUK",
    }


def test_without_a_limit_or_register_columns_nothing_is_held(tmp_path: Path) -> None:
    _whole_village(tmp_path / "3602012002.xlsx")
    collected = collect_rosters(str(tmp_path), regency="36.02")  # no limit: no guard
    assert collected.files["status"].tolist() == ["read"]
    assert len(collected.rows) == 300


def test_a_kept_read_is_not_reused_under_another_limit(tmp_path: Path) -> None:
    """The kept read (`KEEP_NAME`) of a run with one limit is ignored by a run with another."""
    folder, keep = tmp_path / "in", tmp_path / KEEP_NAME
    folder.mkdir()
    _whole_village(folder / "3602012002.xlsx")
    held = collect_rosters(str(folder), keep, regency="36.02", village_limit=10)
    assert held.files["code"].tolist() == ["BERKAS_DATA_PENDUDUK"] and keep.exists()
    wider = collect_rosters(str(folder), keep, regency="36.02", village_limit=300)
    assert wider.files["status"].tolist() == ["read"] and len(wider.rows) == 300
    again = collect_rosters(str(folder), keep, regency="36.02", village_limit=10)
    assert again.files["code"].tolist() == ["BERKAS_DATA_PENDUDUK"] and len(again.rows) == 0
