"""Occupation categories: OpenSID's table, its codes and the synonyms people write, one column at a time."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from iuran.occupations import CATEGORIES, NOT_VULNERABLE, category, opensid_names

DATA = Path(__file__).resolve().parents[2] / "iuran" / "data"

WRITTEN = {
    # civil servants, soldiers, police: Taspen / ASABRI
    "PNS": "asn", "ASN": "asn", "Guru PNS": "asn", "pegawai negeri sipil": "asn",
    "TNI AD": "tni", "tni-al": "tni", "Polri": "polri", "anggota polisi": "polri",
    # wage employees: their employer registers them
    "Karyawan Swasta": "penerima_upah", "KARYAWAN  BUMN": "penerima_upah",
    "Honorer": "penerima_upah", "guru honorer": "penerima_upah",
    "Perangkat Desa": "penerima_upah", "Sekretaris Desa": "penerima_upah",
    # office holders
    "Kades": "pejabat", "Kepala Desa": "pejabat", "Anggota DPRD Kabupaten/Kota": "pejabat",
    "bupati": "pejabat",
    # not working
    "Belum/Tidak Bekerja": "bukan_pekerja", "pelajar / mahasiswa": "bukan_pekerja",
    "Mengurus Rumah Tangga": "bukan_pekerja", "IRT": "bukan_pekerja",
    "Pensiunan PNS": "bukan_pekerja",
    # transport (PP 50/2025's longer discount)
    "ojek online": "transportasi", "Ojek": "transportasi", "sopir angkot": "transportasi",
    "Supir truk sawit": "transportasi", "pengemudi": "transportasi", "kernet": "transportasi",
    "tukang becak": "transportasi",
    # the vulnerable workers programs are for
    "PETANI / PEKEBUN": "petani", "petani/pekebun": "petani", " Petani   Pekebun ": "petani",
    "buruh tani": "petani", "pekebun sawit": "petani", "NELAYAN/PERIKANAN": "nelayan",
    "peternak": "peternak", "pedagang keliling": "pedagang", "buruh harian lepas": "buruh",
    "pembantu rumah tangga": "buruh", "tukang batu": "tukang",
    "wiraswasta": "lainnya", "penambang pasir": "lainnya", "guru": "lainnya",
    "": "kosong", "   ": "kosong",
}  # fmt: skip

OPENSID = {
    "1": "bukan_pekerja", "2": "bukan_pekerja", "3": "bukan_pekerja", "4": "bukan_pekerja",
    "5": "asn", "05": "asn", "6": "tni", "7": "polri",
    "9": "petani", "11": "nelayan", "14": "transportasi", "81": "transportasi",
    "15": "penerima_upah", "16": "penerima_upah", "17": "penerima_upah", "18": "penerima_upah",
    "85": "penerima_upah", "86": "pejabat", "48": "pejabat", "58": "pejabat", "63": "pejabat",
    "19": "buruh", "88": "lainnya", "89": "lainnya",
}  # fmt: skip


def test_what_people_write() -> None:
    written = pd.Series(list(WRITTEN), dtype="string", index=range(10, 10 + len(WRITTEN)))
    got = category(written)
    assert got.index.equals(written.index) and got.dtype == "string"
    assert dict(zip(written, got, strict=True)) == WRITTEN


def test_opensid_codes_and_names() -> None:
    codes = pd.Series(list(OPENSID), dtype="string")
    assert dict(zip(codes, category(codes), strict=True)) == OPENSID
    # a code and its name, old (PNS) and new (ASN), fall in the same category
    names = opensid_names()
    table = pd.read_csv(DATA / "opensid-pekerjaan.csv", dtype=str)
    by_code = category(pd.Series(list(names), dtype="string")).tolist()
    assert category(table["nama"].astype("string")).tolist() == by_code
    assert category(table["nama_sejak_2026"].astype("string")).tolist() == by_code


def test_missing_values_are_empty_and_every_category_is_listed() -> None:
    got = category(pd.Series([None, pd.NA, "petani"], dtype="string"))
    assert got.tolist() == ["kosong", "kosong", "petani"]
    assert set(WRITTEN.values()) <= set(CATEGORIES)
    assert set(NOT_VULNERABLE) < set(CATEGORIES)


@pytest.mark.parametrize("n", [0, 1, 5000])
def test_whole_columns(n: int) -> None:
    values = pd.Series((["PNS", "petani", None, "ojek"] * n)[:n], dtype="string")
    assert len(category(values)) == n
