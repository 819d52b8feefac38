"""BPJS's claims list (#18): the header's spellings, the claim types, the amounts as BPJS writes them,
each bad row refused with its reason in Indonesian, and what the programs bought in one sentence."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from typer.testing import CliRunner

from iuran.claims import (
    Benefits,
    claim_types,
    claim_villages,
    find_claims_files,
    import_claims,
    read_claims,
    validate_claims,
)
from iuran.cli import app
from iuran.db.models import ClaimType
from iuran.rosters.read import collect_rosters

TODAY = dt.date(2026, 3, 1)


def _nik(i: int) -> str:
    return f"62090115059{i:05d}"


def _raw(rows: list[tuple[str | None, ...]]) -> pd.DataFrame:
    df = pd.DataFrame(
        rows, columns=["nik", "jenis", "tanggal", "nilai", "nomor_klaim"], dtype="string"
    )
    return df.assign(source_row=range(2, len(rows) + 2))


def test_claim_types_read_what_the_branch_writes() -> None:
    raw = pd.Series(["JKM (Kematian)", "Jaminan Kematian", "jkk", "Kecelakaan Kerja",
                     "Beasiswa Pendidikan Anak", "Sakit", None])  # fmt: skip
    assert claim_types(raw).tolist() == ["JKM", "JKM", "JKK", "JKK", "beasiswa", pd.NA, pd.NA]


def test_bad_rows_are_refused_with_reasons_and_the_rest_kept() -> None:
    valid, rejected = validate_claims(
        _raw(
            [
                (_nik(1), "JKM (Kematian)", "20/01/2026", "Rp42.000.000", None),
                (_nik(2), "Beasiswa", "2026-01-02", "42,000,000.00", "KLM-7"),
                ("123", "JKM", "20/01/2026", "42000000", None),
                (_nik(3), "sakit", "01/01/2026", "1.000.000", None),
                (_nik(4), "JKK", "bukan tanggal", "5.000.000", None),
                (_nik(5), "JKK", "01/01/2026", "5.000.000,50", None),
                (_nik(6), "JKK", "01/01/2026", None, None),
                (_nik(7), "JKM", "01/12/2026", "42.000.000", None),
                (_nik(1), "JKM", "20/01/2026", "42.000.000", None),
            ]
        ),
        TODAY,
    )
    assert valid[["source_row", "jenis", "nilai"]].values.tolist() == [
        [2, "JKM", 42_000_000],
        [3, "beasiswa", 42_000_000],
    ]
    assert valid["claim_key"].tolist() == [f"{_nik(1)}|JKM|2026-01-20", "KLM-7"]
    assert dict(zip(rejected["source_row"], rejected["code"], strict=True)) == {
        4: "NIK_PANJANG",
        5: "KLAIM_JENIS",
        6: "TANGGAL_FORMAT",
        7: "JUMLAH_DESIMAL",
        8: "KLAIM_NILAI_KOSONG",
        9: "TANGGAL_MASA_DEPAN",
        10: "KLAIM_GANDA_BERKAS",
    }
    messages = dict(zip(rejected["source_row"], rejected["message"], strict=True))
    assert "'sakit' tidak dikenali" in messages[5]
    assert "sudah ada di baris 2" in messages[10]
    assert "Nilai klaim kosong" in messages[8]
    assert not any(_nik(i) in " ".join(rejected.astype(str).values.ravel()) for i in range(1, 8))


def test_the_header_is_found_under_its_synonyms_in_xlsx(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["Daftar Klaim BPJS Ketenagakerjaan Cabang Pangkalan Bun"])
    ws.append(["No. Klaim", "NIK Peserta", "Jenis Klaim", "Tgl. Kejadian", "Nilai Klaim (Rp)"])
    ws.append(["K-1", _nik(1), "JKM (Kematian)", dt.datetime(2025, 1, 20), 42_000_000])
    path = tmp_path / "Klaim Januari.xlsx"
    wb.save(path)
    rows = read_claims(path)
    valid, rejected = validate_claims(rows, TODAY)
    assert rejected.empty, rejected.to_dict("records")
    assert valid[["nik", "jenis", "nilai", "nomor_klaim"]].values.tolist() == [
        [_nik(1), "JKM", 42_000_000, "K-1"]
    ]
    assert valid["tanggal"].tolist() == [dt.date(2025, 1, 20)]


def test_the_claims_list_is_never_read_as_a_roster(tmp_path: Path) -> None:
    (tmp_path / "klaim.csv").write_text("nik;jenis;tanggal;nilai\n")
    (tmp_path / "Klaim-BPJS.xlsx").write_bytes(b"")
    assert [p.name for p in find_claims_files(tmp_path)] == ["Klaim-BPJS.xlsx", "klaim.csv"]
    assert collect_rosters(str(tmp_path)).files.empty


def test_a_claim_is_placed_in_the_village_that_billed_the_worker() -> None:
    claims = pd.DataFrame(
        {"nik": pd.array([_nik(1), _nik(2), _nik(3)], dtype="string"),
         "tanggal": [dt.date(2025, 2, 20), dt.date(2024, 12, 1), dt.date(2025, 1, 5)],
         "claim_key": ["a", "b", "c"]}
    )  # fmt: skip
    lines = pd.DataFrame(
        {"nik": [_nik(1), _nik(1), _nik(1), _nik(2), _nik(2)], "participant_id": [1, 1, 1, 2, 2],
         "period": ["2025-01", "2025-02", "2025-03", "2025-01", "2025-02"],
         "kode_desa": ["A", "B", "C", "D", "E"]}
    )  # fmt: skip
    placed = claim_villages(claims, lines)
    # up to the claim's month the latest; before the first line, the first; never billed: left out
    assert placed[["claim_key", "kode_desa"]].values.tolist() == [["a", "B"], ["b", "D"]]


def test_the_sentence_says_what_the_program_bought() -> None:
    claims = pd.DataFrame(
        {"kode_desa": ["62.09.01.2001", "62.09.01.2002", "62.09.01.2002"],
         "jenis": ["JKM", "JKM", "beasiswa"], "claims": [1, 1, 2],
         "nilai": [42_000_000, 42_000_000, 3_000_000], "smallest": [42_000_000, 42_000_000, 1_000_000],
         "largest": [42_000_000, 42_000_000, 2_000_000]}
    )  # fmt: skip
    bought = Benefits(
        premiums_paid=645_120,
        claims=claims,
        village_names=pd.Series(["Sungai Tuat", "Bukit Raya"], index=["62.09.01.2001", "62.09.01.2002"]),
    )  # fmt: skip
    assert bought.sentence() == (
        "Premi dibayar Rp645.120 · Manfaat diterima Rp87.000.000 "
        "(JKM 2 × Rp42.000.000, Beasiswa 2 klaim Rp3.000.000)"
    )
    v = bought.villages()
    assert v.values.tolist()[0] == ["62.09.01.2002", "Bukit Raya", 0, 0, 1, 2, 3, 45_000_000]
    assert int(v["nilai"].sum()) == bought.total == 87_000_000
    assert [t["jenis"] for t in bought.by_type()] == [str(t) for t in ClaimType]


def test_claims_import_refuses_an_unknown_program(tmp_path: Path) -> None:
    path = tmp_path / "klaim.csv"
    path.write_text("nik;jenis;tanggal;nilai\n")
    result = CliRunner().invoke(app, ["claims", "import", str(path), "--program", "tidak-ada"])
    assert result.exit_code == 2


def test_claims_import_prints_the_refused_rows(tmp_path: Path, sqlite_url: str) -> None:
    path = tmp_path / "klaim.csv"
    path.write_text(f"nik;jenis;tanggal;nilai\n{_nik(1)};JKM;20/01/2025;Rp42.000.000\n123;JKM;;\n")
    result = CliRunner().invoke(
        app, ["claims", "import", str(path), "--program", "lamandau", "--db", sqlite_url, "--json"]
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert (out["rows"], out["stored"], out["rejected"]) == (2, 0, 2)
    assert [r["code"] for r in out["refused"]] == ["KLAIM_BUKAN_PESERTA", "NIK_PANJANG"]
    assert _nik(1) not in result.stdout


@pytest.mark.parametrize("amount", ["Rp42.000.000", "42,000,000.00", "42.000.000,00", "42000000"])
def test_amounts_as_bpjs_writes_them(amount: str) -> None:
    valid, _ = validate_claims(_raw([(_nik(1), "JKM", "20/01/2026", amount, None)]), TODAY)
    assert valid["nilai"].tolist() == [42_000_000]


def test_a_broken_claims_file_is_a_note_never_an_error(tmp_path: Path) -> None:
    path = tmp_path / "klaim.xlsx"
    path.write_bytes(b"PK\x03\x04 this is no workbook")
    result = import_claims("sqlite:///unused.db", path, "lamandau", TODAY)
    assert result.status == "rejected"
    assert result.notes()[0].startswith("klaim.xlsx: ")
