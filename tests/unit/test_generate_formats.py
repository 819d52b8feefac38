"""The demo generator writes villages' rosters in the layouts real systems export (issue #15), and
the roster reader reads them back to exactly the generated workers."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from python_calamine import CalamineWorkbook
from typer.testing import CliRunner

from iuran.cli import app
from iuran.generate import build_rosters, generate_rosters
from iuran.generate_formats import LAYOUTS, MIXED, SIAK_HEADER, opensid_occupation
from iuran.periods import Period
from iuran.programs import load_program
from iuran.rosters.read import collect_rosters
from iuran.rosters.validate import validate_rows

LEBAK = load_program("lebak")
JAN = Period(2026, 1)
#: layouts read back here (SIAK's reader is another change of issue #15: its file is checked alone)
READ_BACK = LAYOUTS


def _workers(villages: int, per_village: int, period: Period = JAN) -> pd.DataFrame:
    rosters = build_rosters(LEBAK, period, villages, per_village)
    return pd.concat([r.frame for r in rosters], ignore_index=True).set_index("nik").sort_index()


def _read_back(folder: Path, period: Period = JAN) -> tuple[pd.DataFrame, pd.DataFrame]:
    collected = collect_rosters(str(folder), regency=LEBAK.regency, village_limit=LEBAK.per_village)
    checked = validate_rows(collected.rows, LEBAK, period)
    return collected.files, checked.accepted.set_index("nik").sort_index()


@pytest.mark.parametrize("fmt", READ_BACK)
def test_each_layout_reads_back_to_the_generated_workers(tmp_path: Path, fmt: str) -> None:
    report = generate_rosters(LEBAK, JAN, tmp_path, villages=3, per_village=6, fmt=fmt)
    files, got = _read_back(tmp_path / "lebak" / "2026-01")
    assert (files["status"] == "read").all(), files[["path", "code", "message"]]
    assert len(report.files) == 3 and report.valid_rows == 18
    want = _workers(3, 6)
    assert got.index.tolist() == want.index.tolist()
    names = want["nama"].str.upper() if fmt == "siak" else want["nama"]  # SIAK writes capitals
    assert got["nama"].tolist() == names.tolist()
    assert (got["tanggal_lahir"].dt.date == want["tanggal_lahir"].dt.date).all()
    assert got["jenis_kelamin"].tolist() == want["jenis_kelamin"].tolist()
    assert got["kode_desa"].tolist() == want["kode_desa"].tolist()
    if fmt == "template":
        assert got["pekerjaan"].tolist() == want["pekerjaan"].tolist()
    elif fmt == "bantuan":  # OpenSID's program-bantuan export has no occupation
        assert (got["pekerjaan"].fillna("") == "").all()
    else:  # written as the OpenSID occupation it falls under
        jobs = [opensid_occupation(j).lower() for j in want["pekerjaan"]]
        assert got["pekerjaan"].tolist() == jobs


def test_the_siak_xls_has_the_37_columns_and_the_workers(tmp_path: Path) -> None:
    report = generate_rosters(LEBAK, JAN, tmp_path, villages=1, per_village=4, fmt="siak")
    assert [p.name for p in report.files] == ["3602012002_siak.xls"]
    raw = report.files[0].read_bytes()
    assert raw.startswith(b"\xd0\xcf\x11\xe0")  # old Excel (OLE), as SIAK writes it
    rows = CalamineWorkbook.from_path(str(report.files[0])).get_sheet_by_index(0).to_python()
    assert tuple(rows[0]) == SIAK_HEADER and len(SIAK_HEADER) == 37
    col = {name: i for i, name in enumerate(SIAK_HEADER)}
    want = _workers(1, 4).reset_index()
    by_nik = {r[col["NIK"]]: r for r in rows[1:]}
    assert sorted(by_nik) == sorted(want["nik"])
    for w in want.itertuples():
        row = by_nik[w.nik]
        assert row[col["Nama Penduduk"]] == w.nama.upper()
        assert row[col["Tanggal Lahir"]] in (w.tanggal_lahir, w.tanggal_lahir.date())
        assert row[col["Kelamin"]] == {"L": "Laki-Laki", "P": "Perempuan"}[w.jenis_kelamin]
        assert row[col["Pekerjaan"]] == opensid_occupation(w.pekerjaan)
        assert (row[col["Desa/Kel"]], row[col["Kecamatan"]]) == ("CILANGKAHAN", "MALINGPING")
        assert row[col["RW"]] == 1 and row[col["Status"]] == "Hidup"  # a number cell


def test_mixed_spreads_layouts_and_a_village_keeps_its_layout(tmp_path: Path) -> None:
    jan = generate_rosters(LEBAK, JAN, tmp_path, villages=8, per_village=3, fmt="mixed")
    feb = generate_rosters(LEBAK, Period(2026, 2), tmp_path, villages=8, per_village=3, fmt="mixed")
    names = [p.name for p in jan.files]
    assert [p.name for p in feb.files] == names
    # the name after the village code (`36.02.01.2002` in a template's name, 10 digits otherwise)
    layouts = [n[13:] if n.startswith("36.") else n[10:] for n in names]
    assert layouts[:7] == [
        ".csv", "_penduduk.xlsx", "_penduduk_nama.xlsx", "_bantuan.xlsx", ".xlsm", "_Penduduk.xls",
        "_siak.xls",
    ]  # fmt: skip
    assert layouts[7] in (".csv", ".xlsx") and len(MIXED) == 7
    files, got = _read_back(tmp_path / "lebak" / "2026-02", Period(2026, 2))
    assert (files["status"] == "read").all() and len(got) == 24


def test_another_layout_replaces_a_village_s_earlier_file(tmp_path: Path) -> None:
    generate_rosters(LEBAK, JAN, tmp_path, villages=2, per_village=3)
    generate_rosters(LEBAK, JAN, tmp_path, villages=2, per_village=3, fmt="opensid")
    left = sorted(p.name for p in (tmp_path / "lebak" / "2026-01").iterdir())
    assert left == ["3602012002_penduduk.xlsx", "3602012003_penduduk.xlsx"]


_CLI = [
    "generate-rosters",
    "--program",
    "lebak",
    "--period",
    "2026-01",
    "--villages",
    "1",
    "--inbox",
]


def test_an_unknown_format_is_refused_before_writing(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown roster format"):
        generate_rosters(LEBAK, JAN, tmp_path, villages=1, fmt="dbf")
    assert not (tmp_path / "lebak").exists()
    result = CliRunner().invoke(app, [*_CLI, str(tmp_path), "--format", "dbf"])
    assert result.exit_code != 0 and "--format" in result.output
    result = CliRunner().invoke(app, [*_CLI, str(tmp_path), "--format", "html"])
    assert result.exit_code == 0, result.output
    assert [p.name for p in (tmp_path / "lebak" / "2026-01").iterdir()] == [
        "3602012002_Penduduk.xls"
    ]


def test_faults_stay_faults_in_another_layout(tmp_path: Path) -> None:
    report = generate_rosters(
        LEBAK, JAN, tmp_path, villages=6, per_village=5, faults=0.2, fmt="opensid"
    )
    folder = tmp_path / "lebak" / "2026-01"
    collected = collect_rosters(str(folder), regency=LEBAK.regency)
    checked = validate_rows(collected.rows, LEBAK, JAN)
    assert sum(report.fault_rows.values()) == 6
    assert len(checked.accepted) + len(checked.rejected) == report.rows
    assert set(checked.accepted["nik"]) >= set(_workers(6, 5).index)
    # every fault refused by validation, but a worker repeated from another village (reconcile's)
    assert len(checked.accepted) == report.valid_rows + report.fault_rows["dua_desa"]
