from pathlib import Path

import pytest

from iuran.periods import Period
from iuran.programs import (
    FUNDING_BASIS,
    ProgramError,
    load_program,
    load_program_file,
    load_programs,
)


def test_the_five_programs_load() -> None:
    programs = load_programs()
    assert set(programs) == {"lebak", "lamandau", "luwu-timur", "serang", "lahat"}
    lebak = programs["lebak"]
    assert (lebak.regency, lebak.pagu, lebak.workers, lebak.funding_source) == (
        "36.02",
        670_680_000,
        3450,
        "APBD",
    )
    lahat = programs["lahat"]
    assert lahat.payer == "village" and lahat.desa_only and lahat.target_per_village == 100
    assert lahat.limit_per_village is None and lahat.workers is None


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
    assert {code: p.basis for code, p in programs.items()} == {
        "lebak": "APBD",
        "lamandau": "APBD",
        "luwu-timur": "APBD",
        "serang": "APBD",
        "lahat": "APBDes",
    }
    assert all(p.funding_basis == p.basis for p in programs.values())  # every file states it
    assert programs["lamandau"].discounts_for(Period(2026, 5)) == ()
    assert FUNDING_BASIS["DBH Sawit"][0] == "APBD" and FUNDING_BASIS["CSR"][0] == "non-pemerintah"


def test_the_discount_note_names_the_basis() -> None:
    lahat, lamandau = load_program("lahat"), load_program("lamandau")
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
