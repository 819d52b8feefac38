"""The village contacts file: Indonesian headers, CSV and XLSX, every bad row reported with its row
number and reason, a bad file one note and never a crash, phone numbers never in the log."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import Workbook

from iuran.contacts import codes_of, read_contacts
from iuran.demo_contacts import demo_contacts, write_demo_contacts
from iuran.programs import Program, load_program

KEMBANG_AYUN, GUNUNG_MERAKSA = "16.04.01.2001", "16.04.01.2002"


def lahat(path: Path) -> Program:
    return load_program("lahat").model_copy(update={"contacts": str(path)})


def test_codes_are_normalised_whole_column() -> None:
    raw = pd.Series(["1604012001", "16.04.01.2002", " 16 04 01 ", "12", None], dtype="string")
    assert codes_of(raw).tolist() == [KEMBANG_AYUN, GUNUNG_MERAKSA, "16.04.01", pd.NA, pd.NA]


def test_an_operators_workbook_with_title_rows_and_bad_rows(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    wb = Workbook()
    ws = wb.active
    ws.append(["DAFTAR KONTAK DESA KABUPATEN LAHAT"])
    ws.append([])
    ws.append(["No", "Kode Wilayah", "Desa", "Kades", "Nama Bendahara Desa", "Surel", "No. WA"])
    ws.append([1, 1604012001, "Kembang Ayun", "Zainal Arifin", "Masnah", "KA@Desa.Example ", "081200000001"])  # fmt: skip
    ws.append([2, "16.04.01.2002", "Gunung Meraksa", "Rusdi", "Hasan", "rusdi at desa", "081200000002"])  # fmt: skip
    ws.append([3, "16.04.01.2002", "Gunung Meraksa", "Ganda", "Ganda", "g@desa.example", ""])
    ws.append([4, "36.02.01.2001", "Pagelaran", "Lebak", "", "x@desa.example", "081200000004"])
    ws.append([5, "16.04.01", "Tanjungsakti Pumu", "Camat", "", "kec@lahat.example", ""])
    path = tmp_path / "kontak.xlsx"
    wb.save(path)
    with caplog.at_level(logging.INFO):
        c = read_contacts(lahat(path))

    assert c.note is None
    assert c.emails(KEMBANG_AYUN) == ["ka@desa.example"]
    assert c.signer(KEMBANG_AYUN, "kepala_desa") == "Zainal Arifin"
    assert c.signer(KEMBANG_AYUN, "bendahara") == "Masnah"
    # a bad e-mail: the names still sign, the address is not used; the repeat is left out
    assert c.emails(GUNUNG_MERAKSA) == [] and c.signer(GUNUNG_MERAKSA, "kepala_desa") == "Rusdi"
    assert c.district_emails("16.04.01") == ["kec@lahat.example"]
    assert [(p["row"], p["code"]) for p in c.problems] == [
        (5, "KONTAK_EMAIL_TIDAK_SAH"),
        (6, "KONTAK_DESA_GANDA"),
        (7, "KONTAK_KODE_TIDAK_DIKENAL"),  # a village of another regency
    ]
    assert "sudah ada di baris 5" in str(c.problems[1]["message"])
    assert "0812" not in caplog.text and "baris 5, 6, 7" in caplog.text


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "tidak berisi data"),
        (b"PK\x03\x04garbage", "tidak dapat dibuka"),
        (b"nama,alamat\nA,B\n", "header"),
    ],
)
def test_a_file_that_cannot_be_used_is_a_note(
    tmp_path: Path, content: bytes, expected: str
) -> None:
    path = tmp_path / "kontak.csv"
    path.write_bytes(content)
    c = read_contacts(lahat(path))
    assert expected in (c.note or "") and c.villages.empty
    assert read_contacts(lahat(tmp_path / "absent.csv")).note == (
        "absent.csv: berkas kontak desa tidak ditemukan"
    )


def test_a_program_without_a_contacts_file_has_none() -> None:
    c = read_contacts(load_program("lebak"))
    assert c.note is None and c.villages.empty and c.emails("36.02.01.2001") == []


def test_the_demo_file_reads_back_for_every_village(tmp_path: Path) -> None:
    program = lahat(tmp_path / "kontak.csv")
    frame = demo_contacts(program)
    assert len(frame) == 360
    path = write_demo_contacts(program)
    c = read_contacts(program)
    assert path == tmp_path / "kontak.csv" and not c.problems and len(c.villages) == 360
    with_email = int(c.villages["email"].notna().sum())
    assert 300 < with_email < 360  # a few villages without an e-mail, for the digest
