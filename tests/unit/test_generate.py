"""Demo rosters: layout, realistic and valid rows, determinism, continuity across periods, faults."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pytest
from stdnum.id import nik as stdnik

from iuran import wilayah
from iuran.generate import (
    COLUMNS,
    FAULT_KINDS,
    GenerateReport,
    build_roster_template,
    build_rosters,
    generate_rosters,
)
from iuran.periods import Period
from iuran.programs import Program, load_program

ROOT = Path(__file__).resolve().parents[2]
JAN = Period(2026, 1)


@pytest.fixture(scope="module")
def lebak() -> Program:
    return load_program("lebak")


def _read(path: Path) -> pd.DataFrame:
    """A roster file as text cells (`""` when empty), plus `nik_numeric` for NIKs stored as numbers."""
    if path.suffix == ".csv":
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
        assert list(df.columns) == COLUMNS
        df["nik_numeric"] = df["nik"].str.contains("E+", regex=False)
        return df
    wb = openpyxl.load_workbook(path, read_only=True)
    assert wb.sheetnames == ["Peserta"]
    rows = list(wb["Peserta"].iter_rows(values_only=True))
    assert list(rows[0]) == COLUMNS
    out: list[dict[str, Any]] = []
    for r in rows[1:]:
        r = (*r, *[None] * (len(COLUMNS) - len(r)))  # read-only mode drops trailing empty cells
        rec = dict(zip(COLUMNS, r, strict=True))
        rec["nik_numeric"] = isinstance(rec["nik"], int | float)
        born = rec["tanggal_lahir"]
        assert born is None or isinstance(born, dt.datetime)  # a real date cell
        rec["tanggal_lahir"] = "" if born is None else born.date().isoformat()
        assert rec["penghasilan"] is None or isinstance(rec["penghasilan"], int)
        for c in COLUMNS:
            rec[c] = "" if rec[c] is None else str(rec[c])
        out.append(rec)
    return pd.DataFrame(out, columns=[*COLUMNS, "nik_numeric"])


def _read_all(files: list[Path]) -> pd.DataFrame:
    return pd.concat([_read(f).assign(file=f.name) for f in files], ignore_index=True)


def _age(born: dt.date, on: dt.date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


@pytest.fixture(scope="module")
def clean(lebak: Program, tmp_path_factory: pytest.TempPathFactory) -> tuple[GenerateReport, Path]:
    inbox = tmp_path_factory.mktemp("clean")
    return generate_rosters(lebak, JAN, inbox, villages=12, per_village=10, seed=7), inbox


def test_layout_and_naming(lebak: Program, clean: tuple[GenerateReport, Path]) -> None:
    report, inbox = clean
    folder = inbox / "lebak" / "2026-01"
    expected = wilayah.villages("36.02")["kode_desa"].head(12).tolist()
    assert [f.parent for f in report.files] == [folder] * 12
    assert [f.name.rsplit(".", 1)[0] for f in report.files] == expected
    assert sorted(p.name for p in folder.iterdir()) == sorted(f.name for f in report.files)
    kinds = [f.suffix for f in report.files]
    assert kinds.count(".csv") == kinds.count(".xlsx") == 6  # about half, both present
    assert (report.villages, report.rows, report.valid_rows) == (12, 120, 120)
    assert report.fault_rows == dict.fromkeys(FAULT_KINDS, 0)


def test_csv_and_xlsx_cell_types(clean: tuple[GenerateReport, Path]) -> None:
    report, _ = clean
    csv_file = next(f for f in report.files if f.suffix == ".csv")
    text = csv_file.read_text(encoding="utf-8")
    assert text.startswith(",".join(COLUMNS) + "\n")
    df = pd.read_csv(csv_file, dtype=str, keep_default_na=False)
    assert df["tanggal_lahir"].str.fullmatch(r"\d{4}-\d{2}-\d{2}").all()

    xlsx_file = next(f for f in report.files if f.suffix == ".xlsx")
    ws = openpyxl.load_workbook(xlsx_file)["Peserta"]
    assert ws["A2"].data_type == "s" and len(ws["A2"].value) == 16  # NIK as text
    assert ws["C2"].is_date  # tanggal_lahir as a real date
    assert ws["H2"].data_type == "s" and ws["H2"].value.startswith("08")


def test_valid_rows_are_realistic(lebak: Program, clean: tuple[GenerateReport, Path]) -> None:
    report, _ = clean
    df = _read_all(report.files)
    names: dict[str, str] = dict(
        wilayah.villages("36.02")[["kode_desa", "nama_desa"]].itertuples(index=False)
    )
    first_days = [lebak.first_period.first_day, lebak.last_period.first_day]
    for row in df.to_dict("records"):
        nik = row["nik"]
        assert stdnik.validate(nik) == nik
        born = dt.date.fromisoformat(row["tanggal_lahir"])
        day = int(nik[6:8])
        assert (row["jenis_kelamin"], day % 40 if day > 40 else day) == (
            "P" if day > 40 else "L",
            born.day,
        )
        assert (int(nik[8:10]), int(nik[10:12])) == (born.month, born.year % 100)
        assert 1 <= int(nik[12:]) <= 9999
        assert nik.startswith("36")  # issued in the regency's own province
        for on in first_days:  # every period of the program year
            assert lebak.age_min + 1 <= _age(born, on) <= lebak.age_max - 1
        assert row["kode_desa"] == row["file"].rsplit(".", 1)[0]
        assert re.fullmatch(
            rf"(Kp\.|Dusun) .+ RT 0\d\d/RW 0\d\d, Desa {re.escape(names[row['kode_desa']])}",
            row["alamat"],
        )
        assert re.fullmatch(r"08\d{10}", row["no_hp"])
        assert len(row["nama"].split()) >= 1 and row["nama"] == row["nama"].strip()
        assert row["pekerjaan"] and row["pekerjaan"] == row["pekerjaan"].lower()
        if row["penghasilan"]:
            income = int(row["penghasilan"])
            assert 1_000_000 <= income <= 3_000_000 and income % 100_000 == 0
    assert df["nik"].is_unique
    assert 0 < (df["penghasilan"] != "").mean() < 0.5  # declared by some, not most
    assert df["jenis_kelamin"].nunique() == 2
    assert (
        df["nik"]
        .str[:6]
        .isin(wilayah.districts("36.02")["kode_kecamatan"].str.replace(".", ""))
        .mean()
        > 0.8
    )


def test_same_arguments_same_files(lebak: Program, tmp_path: Path) -> None:
    a = generate_rosters(lebak, JAN, tmp_path / "a", villages=6, per_village=10, faults=0.1, seed=5)
    b = generate_rosters(lebak, JAN, tmp_path / "b", villages=6, per_village=10, faults=0.1, seed=5)
    for fa, fb in zip(a.files, b.files, strict=True):
        assert fa.name == fb.name
        if fa.suffix == ".csv":
            assert fa.read_bytes() == fb.read_bytes()
        else:
            wa, wb = (list(openpyxl.load_workbook(f)["Peserta"].values) for f in (fa, fb))
            assert wa == wb
    other = generate_rosters(lebak, JAN, tmp_path / "c", villages=6, per_village=10, seed=6)
    assert _read_all(other.files)["nik"].tolist() != _read_all(a.files)["nik"].tolist()[:60]


def test_a_village_does_not_depend_on_how_many_are_generated(lebak: Program) -> None:
    few = build_rosters(lebak, JAN, villages=3, seed=9)
    many = build_rosters(lebak, JAN, villages=30, seed=9)
    for x, y in zip(few, many[:3], strict=True):
        assert (x.kode_desa, x.fmt) == (y.kode_desa, y.fmt)
        assert x.frame.equals(y.frame)


def test_same_people_every_period(lebak: Program) -> None:
    def niks(period: Period, churn: float) -> dict[str, set[str]]:
        rosters = build_rosters(lebak, period, villages=40, per_village=10, seed=3, churn=churn)
        return {r.kode_desa: set(r.frame["nik"]) for r in rosters}

    jan, feb, mar = (niks(Period(2026, m), 0.02) for m in (1, 2, 3))
    assert niks(Period(2026, 1), 0.0) == niks(Period(2026, 6), 0.0) == jan
    kept = sum(len(jan[k] & feb[k]) for k in jan)
    assert 0.9 * 400 <= kept < 400  # about 2% replaced a month, not more
    assert all(len(feb[k]) == 10 for k in feb)  # a replacement keeps the village at its size
    newcomers = {n for k in feb for n in feb[k] - jan[k]}
    march = set().union(*mar.values())
    assert len(newcomers & march) >= len(newcomers) - 3  # February's newcomers continue in March


def test_niks_unique_across_a_whole_program() -> None:
    lahat = load_program("lahat")
    rosters = build_rosters(lahat, Period(2026, 8), seed=2026)  # 360 x 100, 11 months of churn
    assert len(rosters) == 360
    niks = pd.concat([r.frame["nik"] for r in rosters], ignore_index=True)
    assert len(niks) == 36_000 and niks.is_unique
    kinds = wilayah.villages("16.04").set_index("kode_desa")["jenis"]
    assert set(kinds[[r.kode_desa for r in rosters]]) == {"desa"}  # ADD: no kelurahan


def test_every_fault_kind_and_counts_match_the_files(lebak: Program, tmp_path: Path) -> None:
    report = generate_rosters(
        lebak, JAN, tmp_path, villages=20, per_village=10, faults=0.05, seed=2026
    )
    assert report.valid_rows == 200 and report.rows == 210
    assert sum(report.fault_rows.values()) == 10
    assert set(report.fault_rows) == set(FAULT_KINDS) and min(report.fault_rows.values()) >= 1

    df = _read_all(report.files)
    assert len(df) == report.rows

    sci = df["nik_numeric"]
    assert sci.sum() == report.fault_rows["nik_scientific"]
    assert (
        df.loc[sci & df["file"].str.endswith(".csv"), "nik"].str.fullmatch(r"\d\.\d{5}E\+15").all()
    )

    text_nik = df.loc[~sci, "nik"]
    invalid = ~text_nik.map(stdnik.is_valid)
    assert invalid.sum() == report.fault_rows["nik_invalid"]

    empty = (df["nama"] == "") | (df["tanggal_lahir"] == "")
    assert empty.sum() == report.fault_rows["kolom_kosong"]

    ok = df[~sci & ~empty].loc[lambda d: d["nik"].map(stdnik.is_valid)]
    ages = ok["tanggal_lahir"].map(lambda s: _age(dt.date.fromisoformat(s), JAN.first_day))
    assert (ages > lebak.age_max).sum() == report.fault_rows["usia_lebih"]

    exact = df[~sci]  # `3.60202E+15` stands for many NIKs
    assert exact.duplicated(["file", "nik"]).sum() == report.fault_rows["nik_ganda"]
    files_per_nik = exact.drop_duplicates(["file", "nik"]).groupby("nik")["file"].nunique()
    assert (files_per_nik - 1).sum() == report.fault_rows["dua_desa"]


def test_faults_cycle_through_every_kind(lebak: Program) -> None:
    rosters = build_rosters(lebak, JAN, villages=4, per_village=10, faults=0.15, seed=1)  # 6 faults
    kinds = pd.concat([r.frame["fault"] for r in rosters]).dropna()
    assert sorted(kinds) == sorted(FAULT_KINDS)
    single = build_rosters(lebak, JAN, villages=1, per_village=10, faults=0.5, seed=1)
    assert "dua_desa" not in set(single[0].frame["fault"].dropna())  # needs a second village


def test_a_village_never_has_two_files(lebak: Program, tmp_path: Path) -> None:
    report = generate_rosters(lebak, JAN, tmp_path, villages=2, per_village=3, seed=4)
    for f in report.files:
        other = f.with_suffix(".xlsx" if f.suffix == ".csv" else ".csv")
        other.write_text("stale")
    keep = tmp_path / "lebak" / "2026-01" / "catatan.txt"
    keep.write_text("not a roster")
    again = generate_rosters(lebak, JAN, tmp_path, villages=2, per_village=3, seed=4)
    assert sorted(p.name for p in keep.parent.iterdir()) == sorted(
        [keep.name, *(f.name for f in again.files)]
    )


def test_bad_arguments(lebak: Program, tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        generate_rosters(lebak, JAN, tmp_path, villages=1, per_village=0)
    with pytest.raises(ValueError):
        generate_rosters(lebak, JAN, tmp_path, villages=1, faults=-0.1)


def test_roster_template(tmp_path: Path) -> None:
    path = tmp_path / "t.xlsx"
    build_roster_template(path)
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["Peserta", "Petunjuk"]
    ws = wb["Peserta"]
    assert [c.value for c in ws[1]] == COLUMNS
    assert ws.column_dimensions["A"].number_format == "@"  # NIK as text
    assert ws.column_dimensions["H"].number_format == "@"  # no_hp keeps its leading 0
    help_text = " ".join(str(v) for row in wb["Petunjuk"].values for v in row if v)
    for needle in (
        "16 digit",
        "dd/mm/yyyy",
        "yyyy-mm-dd",
        "L untuk laki-laki",
        "36.02.01",
        "tanpa titik",
    ):
        assert needle in help_text
    committed = openpyxl.load_workbook(ROOT / "templates" / "roster-template.xlsx")
    assert [c.value for c in committed["Peserta"][1]] == COLUMNS
    assert committed.sheetnames == wb.sheetnames
