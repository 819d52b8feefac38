from pathlib import Path

import pytest
import yaml

from iuran.periods import Period
from iuran.programs import (
    FUNDING_BASIS,
    Program,
    ProgramError,
    load_program,
    load_program_file,
    load_programs,
)
from tests.extend import extended_to


def test_the_five_programs_load() -> None:
    programs = load_programs()
    assert set(programs) == {"lebak", "lamandau", "luwu-timur", "serang", "lahat"}
    lebak = programs["lebak"]
    [y2026, y2027] = lebak.years
    assert (lebak.regency, y2026.pagu, y2026.workers, y2026.funding_source) == (
        "36.02",
        670_680_000,
        3450,
        "APBD",
    )
    assert (y2027.tahun, y2027.first, y2027.last) == (2027, Period(2027, 1), Period(2027, 12))
    lamandau = programs["lamandau"]
    assert [(y.tahun, y.funding_source, y.workers) for y in lamandau.years] == [
        (2024, "DBH Sawit", None),  # no headcount given for 2024: no limit
        (2025, "DBH Sawit", 3200),
    ]
    lahat = programs["lahat"]
    assert lahat.payer == "village" and lahat.desa_only and lahat.target_per_village == 100
    assert lahat.limit_per_village is None and all(y.workers is None for y in lahat.years)


def test_rule_selection_by_period() -> None:
    lebak = load_program("lebak")
    rule = lebak.rule_for(Period(2026, 1))
    assert (rule.jkk_bp, rule.jkm, rule.min_income) == (100, 6800, 1_000_000)


def test_pp_50_2025_never_applies_to_apbd() -> None:
    lebak = load_program("lebak")
    assert lebak.discounts_for(Period(2026, 5)) == ()


def test_pp_50_2025_window_for_village_funds() -> None:
    lahat = load_program("lahat")
    ids = lambda p: {d.id for d in lahat.discounts_for(p)}  # noqa: E731
    assert ids(Period(2026, 3)) == {"pp-50-2025-transportasi"}
    assert ids(Period(2026, 4)) == {"pp-50-2025", "pp-50-2025-transportasi"}
    assert ids(Period(2025, 12)) == set()


def test_error_names_file_and_field(tmp_path: Path) -> None:
    text = (
        Path("deployments/programs/lebak.yaml").read_text().replace("pagu: 670680000", "pagu: -5")
    )
    bad = tmp_path / "lebak.yaml"
    bad.write_text(text)
    with pytest.raises(ProgramError) as err:
        load_program_file(bad)
    assert str(bad) in str(err.value) and "pagu" in str(err.value)


def test_code_must_match_file_name(tmp_path: Path) -> None:
    bad = tmp_path / "other.yaml"
    bad.write_text(Path("deployments/programs/lebak.yaml").read_text())
    with pytest.raises(ProgramError, match="code"):
        load_program_file(bad)


def test_unknown_program_lists_known_ones() -> None:
    with pytest.raises(ProgramError, match="lebak"):
        load_program("nowhere")


def test_overlapping_rules_are_refused() -> None:
    lebak = load_program("lebak")
    twice = lebak.model_copy(update={"rules": lebak.rules * 2})
    with pytest.raises(ProgramError, match="2 premium rules"):
        twice.rule_for(Period(2026, 1))


def test_every_funding_source_maps_to_one_basis_and_the_discount_compares_it() -> None:
    """DBH Sawit is spent through the regency's APBD: Lamandau gets no PP 50/2025 discount, whatever
    the source is called; ADD is paid from the village's APBDes (the decision in FUNDING_BASIS)."""
    programs = load_programs()
    assert {code: p.basis(p.first_period) for code, p in programs.items()} == {
        "lebak": "APBD",
        "lamandau": "APBD",
        "luwu-timur": "APBD",
        "serang": "APBD",
        "lahat": "APBDes",
    }
    assert all(y.funding_basis == y.basis for p in programs.values() for y in p.years)  # stated
    assert extended_to(programs["lamandau"], 2026).discounts_for(Period(2026, 5)) == ()
    assert FUNDING_BASIS["DBH Sawit"][0] == "APBD" and FUNDING_BASIS["CSR"][0] == "non-pemerintah"


def test_the_discount_note_names_the_basis() -> None:
    lahat, lamandau = load_program("lahat"), extended_to(load_program("lamandau"), 2026)
    assert lahat.discount_note(Period(2026, 5)).startswith(
        "PP 50/2025 diskon 50% iuran JKK dan JKM: sumber dana ADD bukan APBN/APBD"
    )
    note = lamandau.discount_note(Period(2026, 5))
    assert (
        "tidak berlaku: sumber dana DBH Sawit termasuk APBN/APBD" in note
        and "APBD kabupaten" in note
    )
    assert lamandau.discount_note(Period(2025, 5)) == (
        "Tanpa diskon: tidak ada diskon iuran yang berlaku untuk Mei 2025."
    )


def test_a_source_outside_the_map_or_a_wrong_basis_is_refused(tmp_path: Path) -> None:
    text = Path("deployments/programs/lamandau.yaml").read_text()
    bad = tmp_path / "lamandau.yaml"
    bad.write_text(text.replace("funding_source: DBH Sawit", "funding_source: Dana Sawit"))
    with pytest.raises(ProgramError, match="funding_source 'Dana Sawit' is not one of"):
        load_program_file(bad)
    bad.write_text(text.replace("funding_basis: APBD ", "funding_basis: APBDes "))
    with pytest.raises(ProgramError, match="disagrees with 'DBH Sawit'"):
        load_program_file(bad)


def test_each_period_belongs_to_one_budget_year() -> None:
    lamandau = load_program("lamandau")
    assert lamandau.year_of(Period(2024, 12)).tahun == 2024
    assert lamandau.year_of(Period(2025, 1)).tahun == 2025
    assert lamandau.year_for(Period(2026, 1)) is None and not lamandau.covers(Period(2026, 1))
    assert lamandau.months_text() == "2024-01 to 2025-12"
    lahat = load_program("lahat")  # a budget year need not be a calendar year
    assert lahat.year_of(Period(2026, 8)).tahun == 2025 and lahat.year_for(Period(2026, 9)) is None
    with pytest.raises(ProgramError, match="2026-01 is in none of its years"):
        lamandau.year_of(Period(2026, 1))


def test_discounts_follow_the_funding_source_of_the_period_s_year() -> None:
    lahat = load_program("lahat")
    data = lahat.model_dump()
    data["years"] = [
        data["years"][0] | {"months": ["2025-09", "2026-04"]},
        {"tahun": 2026, "months": ["2026-05", "2026-12"], "funding_source": "APBD", "pagu": 1},
    ]
    moved = Program.model_validate(data)  # the regency's APBD takes over in May
    assert {d.id for d in moved.discounts_for(Period(2026, 4))} >= {"pp-50-2025"}
    assert moved.discounts_for(Period(2026, 5)) == ()


@pytest.mark.parametrize(
    "second",
    [
        {"tahun": 2026, "months": ["2026-12", "2027-11"]},  # overlaps 2026's December
        {"tahun": 2025, "months": ["2025-01", "2025-12"]},  # before the year above it
        {"tahun": 2026},  # the same budget year twice
    ],
)
def test_years_out_of_order_or_overlapping_are_refused_naming_the_field(
    tmp_path: Path, second: dict[str, object]
) -> None:
    data = yaml.safe_load(Path("deployments/programs/lebak.yaml").read_text())
    data["years"][1] = {"funding_source": "APBD", "pagu": 1} | second
    bad = tmp_path / "lebak.yaml"
    bad.write_text(yaml.safe_dump(data))
    with pytest.raises(
        ProgramError, match=r"lebak\.yaml: \(top\): .*years: .*in order and not overlapping"
    ):
        load_program_file(bad)


def test_a_year_whose_months_run_backwards_is_refused(tmp_path: Path) -> None:
    data = yaml.safe_load(Path("deployments/programs/lebak.yaml").read_text())
    data["years"][1]["months"] = ["2027-12", "2027-01"]
    bad = tmp_path / "lebak.yaml"
    bad.write_text(yaml.safe_dump(data))
    with pytest.raises(ProgramError, match=r"years\.1: .*2027-01 is before 2027-12"):
        load_program_file(bad)


def test_a_month_of_a_year_that_no_rule_prices_is_refused_on_load(tmp_path: Path) -> None:
    """Found merging the budget years: Lamandau's 2024 year had no rule in force until the file said
    its rule starts in 2024; a program file that cannot price one of its months fails when loaded."""
    text = Path("deployments/programs/lamandau.yaml").read_text()
    bad = tmp_path / "lamandau.yaml"
    bad.write_text(text.replace("berlaku_mulai: 2024-01", "berlaku_mulai: 2025-01"))
    with pytest.raises(ProgramError, match=r"0 premium rules in force for 2024-01 \(year 2024\)"):
        load_program_file(bad)
