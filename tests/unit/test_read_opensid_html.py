"""OpenSID's printable list ("Unduh"), an HTML table served as `Penduduk_<date>.xls`, read as a roster
(issue #15); masked NIKs refused; hostile pages refused cleanly. Synthetic people only."""

from __future__ import annotations

import datetime as dt
import html
from pathlib import Path

import pandas as pd
import pytest

from iuran.intake.html import read_html
from iuran.intake.refusal import FileRefused, Limits
from iuran.periods import Period
from iuran.programs import load_program
from iuran.rosters.columns import COLUMNS
from iuran.rosters.read import collect_rosters
from iuran.rosters.validate import Validated, validate_rows
from tests.unit.test_read_opensid import PEOPLE, nik

HEADER = [
    "No", "No. KK", "NIK", "Tag Id Card", "Nama", "Alamat", "Dusun", "RW", "RT", "Jenis Kelamin",
    "Tempat Lahir", "Tanggal Lahir", "Umur", "Agama", "Pendidikan (dlm KK)", "Pekerjaan", "Kawin",
    "Hub. Keluarga", "Nama Ayah", "Nama Ibu", "Status",
]  # fmt: skip
BULAN = ["Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus", "September",
         "Oktober", "November", "Desember"]  # fmt: skip


def _page(rows: list[list[str]]) -> bytes:
    """The list as OpenSID's "Unduh" writes it: a title table, then the data table (th header)."""
    cells = "".join(f"<th>{html.escape(h)}</th>" for h in HEADER)
    body = "".join(
        "<tr>" + "".join(f"<td class='textx'>{c}</td>" for c in r) + "</tr>\n" for r in rows
    )
    return (
        "<html><head><meta charset='utf-8'><style>td{mso-number-format:'\\@';}</style></head>"
        "<body><table><tr><td colspan='21'><h3>DATA PENDUDUK</h3></td></tr></table>\n"
        f"<table border='1'><thead><tr>{cells}</tr></thead><tbody>\n{body}</tbody></table>"
        "</body></html>"
    ).encode()


def _row(i: int, n: str, nama: str, born: dt.date, woman: bool, job: str) -> list[str]:
    return [
        str(i), "3602010101200001", n, "", html.escape(nama), "Kp. Cibeber", "Cibeber", "001", "002",
        "PEREMPUAN" if woman else "LAKI-LAKI", "LEBAK", f"{born.day} {BULAN[born.month - 1]} "
        f"{born.year}", "36", "ISLAM", "SLTP/SEDERAJAT", job, "KAWIN", "KEPALA KELUARGA",
        "Ayah<br>Kandung", "Ibu &amp; Nenek", "TETAP",
    ]  # fmt: skip


def _people(masked: frozenset[int] = frozenset()) -> tuple[list[list[str]], list[str]]:
    """PEOPLE as rows (NIKs of the rows numbered in `masked` printed masked) and their NIKs."""
    rows, niks = [], []
    for i, (nama, born, woman, _, job) in enumerate(PEOPLE, start=1):
        n = nik(born, woman, i)
        niks.append(n)
        rows.append(_row(i, n[:8] + "X" * 8 if i in masked else n, nama, born, woman, job))
    return rows, niks


def _read(folder: Path, limit: int | None = None) -> tuple[pd.DataFrame, Validated]:
    collected = collect_rosters(str(folder), regency="36.02", village_limit=limit)
    checked = validate_rows(collected.rows, load_program("lebak"), Period(2026, 1))
    return collected.files.set_index("path"), checked


def test_the_printable_list_is_read_as_a_roster(tmp_path: Path) -> None:
    rows, niks = _people()
    (tmp_path / "Penduduk_3602012002_03_12_2026.xls").write_bytes(_page(rows))
    files, checked = _read(tmp_path, limit=10)
    assert files["status"].tolist() == ["read"], files[["code", "message"]]
    got = checked.accepted.set_index("nik").loc[niks]
    assert got["nama"].tolist() == [p[0] for p in PEOPLE]
    assert [d.date() for d in got["tanggal_lahir"]] == [p[1] for p in PEOPLE]
    assert got["jenis_kelamin"].tolist() == ["P" if p[2] else "L" for p in PEOPLE]
    assert got["pekerjaan"].tolist() == [p[4].lower() for p in PEOPLE]
    assert got["kode_desa"].tolist() == ["36.02.01.2002"] * 3
    assert got["source_row"].tolist() == [3, 4, 5]  # as Excel shows it: title, header, people


def test_masked_niks_are_refused_with_their_own_reason(tmp_path: Path) -> None:
    rows, niks = _people(masked=frozenset({2}))
    (tmp_path / "Penduduk_3602012002.xls").write_bytes(_page(rows))
    _files, checked = _read(tmp_path)
    assert sorted(checked.accepted["nik"]) == sorted([niks[0], niks[2]])
    refused = checked.rejected.iloc[0]
    assert refused["code"] == "NIK_DISAMARKAN"
    assert refused["message"].startswith("NIK disamarkan (3602********XXXX)")
    assert "privasi NIK dimatikan" in refused["message"]
    assert niks[1][:8] not in refused["message"]


def test_a_list_with_every_nik_masked_is_refused_once(tmp_path: Path) -> None:
    rows, _ = _people(masked=frozenset({1, 2, 3}))
    (tmp_path / "Penduduk_3602012002.xls").write_bytes(_page(rows))
    files, checked = _read(tmp_path)
    assert files["code"].tolist() == ["BERKAS_NIK_DISAMARKAN"]
    assert "privasi NIK dimatikan" in files["message"].iloc[0]
    assert checked.rejected.empty and checked.accepted.empty


def test_a_whole_population_list_is_held(tmp_path: Path) -> None:
    rows = []
    for i in range(1, 301):
        born = dt.date(1950 + i % 70, 1 + i % 12, 1 + i % 28)
        rows.append(_row(i, nik(born, False, i), f"Warga {i}", born, False, "PELAJAR/MAHASISWA"))
    (tmp_path / "Penduduk_3602012002.xls").write_bytes(_page(rows))
    files, checked = _read(tmp_path, limit=10)
    assert files["code"].tolist() == ["BERKAS_DATA_PENDUDUK"]
    assert checked.accepted.empty


SMALL = Limits(max_rows=50, max_columns=30, header_rows=15)


@pytest.mark.parametrize(
    ("page", "code"),
    [
        (b"<div>" * 200_000 + b"halo" + b"</div>" * 200_000, "BERKAS_JENIS"),  # deep, no table
        (b"<html><body><p>Bukan tabel</p></body></html>", "BERKAS_JENIS"),
        (b"<table>" + b"<tr><td>1</td></tr>" * 100 + b"</table>", "BERKAS_TERLALU_BESAR"),
        (b"<table><tr>" + b"<td>x</td>" * 31 + b"</tr></table>", "BERKAS_TERLALU_BESAR"),
        (b"<table>" * 50_000 + b"<tr><td>NIK</td><td>Nama</td></tr>", "BERKAS_TANPA_HEADER"),
        (b"<table><tr><td>" + b"a" * 3_000_000 + b"</td></tr></table>", "BERKAS_TANPA_HEADER"),
    ],
)
def test_hostile_pages_are_refused_cleanly(page: bytes, code: str) -> None:
    with pytest.raises(FileRefused) as refused:
        read_html(page, COLUMNS, SMALL)
    assert refused.value.code == code


def test_a_page_over_the_size_limit_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "Penduduk_3602012002.xls"
    path.write_bytes(b"<table>" + b" " * (20 * 2**20) + b"</table>")
    files, _ = _read(tmp_path)
    assert files["code"].tolist() == ["BERKAS_TERLALU_BESAR"]
