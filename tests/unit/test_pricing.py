import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from iuran.periods import Period
from iuran.pricing import percent_of, price_lines
from iuran.programs import Discount, PremiumRule, load_program
from tests.extend import extended_to


def workers(incomes: list[int | None], jobs: list[str] | None = None) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "nik": [f"36020115059{i:05d}" for i in range(len(incomes))],
            "penghasilan": pd.array(incomes, dtype="Int64"),
            "pekerjaan": jobs or ["petani"] * len(incomes),
        }
    )


def test_standard_premium_is_16800() -> None:
    lines = price_lines(workers([None, 1_000_000, 500_000]), load_program("lebak"), Period(2026, 1))
    assert lines["total"].tolist() == [16_800] * 3
    assert lines["jkk"].tolist() == [10_000] * 3
    assert lines["rule_id"].unique().tolist() == ["bpu-standar-2026"]


def test_jkk_follows_declared_income() -> None:
    lines = price_lines(workers([2_500_000]), load_program("lebak"), Period(2026, 1))
    assert lines.loc[0, ["jkk", "jkm", "total"]].tolist() == [25_000, 6_800, 31_800]


def test_rounding_is_half_up_in_integers() -> None:
    assert percent_of(np.array([1_234_550]), 100).tolist() == [12_346]  # 12 345.5 -> 12 346
    assert percent_of(np.array([1_234_549]), 100).tolist() == [12_345]


def test_pp_50_discount_for_village_fund_program() -> None:
    lahat = load_program("lahat")
    lines = price_lines(workers([None, None], ["petani", "ojek"]), lahat, Period(2026, 3))
    # March 2026: only transport workers get 50% off JKK+JKM.
    assert lines["discount"].tolist() == [0, 8_400]
    assert lines["total"].tolist() == [16_800, 8_400]
    assert lines["discount_id"].tolist() == [None, "pp-50-2025-transportasi"]
    april = price_lines(workers([None]), lahat, Period(2026, 4))
    assert april.loc[0, "total"] == 8_400


def test_apbd_program_pays_full_during_the_discount_window() -> None:
    lines = price_lines(workers([None], ["ojek"]), load_program("lebak"), Period(2026, 5))
    assert lines.loc[0, "total"] == 16_800


def test_flat_rule() -> None:
    lebak = load_program("lebak")
    flat = lebak.model_copy(
        update={
            "rules": (
                PremiumRule(id="flat", berlaku_mulai=Period(2026, 1), kind="flat", flat=16_200),
            )
        }
    )
    lines = price_lines(workers([None, 3_000_000]), flat, Period(2026, 1))
    assert lines["total"].tolist() == [16_200, 16_200]
    assert (lines["jkk"] + lines["jkm"]).tolist() == [16_200, 16_200]


@given(st.lists(st.one_of(st.none(), st.integers(0, 50_000_000)), min_size=1, max_size=40))
def test_every_total_is_the_sum_of_its_components(incomes: list[int | None]) -> None:
    lines = price_lines(
        workers(incomes, ["ojek"] * len(incomes)), load_program("lahat"), Period(2026, 5)
    )
    assert (lines["total"] == lines["jkk"] + lines["jkm"] + lines["jht"] - lines["discount"]).all()
    assert lines["total"].dtype.kind == "i" and (lines["total"] > 0).all()
    assert (lines["penghasilan"] >= 1_000_000).all()


def test_jkk_ceiling_bills_the_highest_bpu_income() -> None:
    """A worker declaring Rp25,000,000 pays JKK on Rp20,700,000 (Rp207,000), not Rp250,000; the
    declared income stays on the line for the detail sheet."""
    for code in ("lebak", "lamandau", "luwu-timur", "serang", "lahat"):
        program = load_program(code)
        lines = price_lines(
            workers([25_000_000, 20_700_000, 300_000, None]), program, program.first_period
        )
        assert lines["penghasilan_dilaporkan"].tolist() == [
            25_000_000,
            20_700_000,
            300_000,
            1_000_000,
        ]
        assert lines["penghasilan"].tolist() == [20_700_000, 20_700_000, 1_000_000, 1_000_000]
        assert lines["jkk"].tolist() == [207_000, 207_000, 10_000, 10_000], code


@given(
    st.lists(st.one_of(st.none(), st.integers(0, 100_000_000)), min_size=1, max_size=40),
    st.lists(
        st.sampled_from(["petani", "ojek", "nelayan", "pengemudi", "ojek online"]),
        min_size=40,
        max_size=40,
    ),
    st.sampled_from(["lebak", "lamandau", "luwu-timur", "serang", "lahat"]),
    st.integers(0, 23),
)
def test_every_line_is_recomputable_from_its_income_rule_and_discount(
    incomes: list[int | None], jobs: list[str], code: str, month: int
) -> None:
    """From the line alone (applied income, rule id, discount id) and the program file, anyone gets
    the same Rupiah: JKK = income × bp rounded half up, JKM flat, discount = percent of the listed
    components rounded half up; the applied income is the declared one held in the rule's range."""
    program = load_program(code)
    period = program.first_period.shift(
        month % (program.last_period.index - program.first_period.index + 1)
    )
    lines = price_lines(workers(incomes, jobs[: len(incomes)]), program, period)
    rules = {r.id: r for r in program.rules}
    discounts = {d.id: d for d in program.discounts}
    for line in lines.itertuples():
        rule = rules[line.rule_id]
        declared = line.penghasilan_dilaporkan
        assert line.penghasilan == min(max(declared, rule.min_income), rule.max_income or declared)
        assert line.jkk == (line.penghasilan * rule.jkk_bp + 5_000) // 10_000
        assert line.jkm == rule.jkm
        parts = {"jkk": line.jkk, "jkm": line.jkm, "jht": line.jht}
        if line.discount_id is None:
            assert line.discount == 0
        else:
            d = discounts[line.discount_id]
            assert line.discount == sum((parts[c] * d.percent + 50) // 100 for c in d.components)
        assert line.total == line.jkk + line.jkm + line.jht - line.discount


def test_a_dbh_sawit_program_pays_full_during_the_discount_window() -> None:
    """DBH Sawit is spent through the regency's APBD (FUNDING_BASIS): no PP 50/2025 discount."""
    lamandau = extended_to(load_program("lamandau"), 2026)
    lines = price_lines(workers([None], ["petani"]), lamandau, Period(2026, 5))
    assert lines.loc[0, "total"] == 16_800 and lines.loc[0, "discount_id"] is None


def test_the_transport_discount_follows_the_occupation_category_not_its_spelling() -> None:
    """PP 50/2025's transport workers, however a roster writes them (`iuran.occupations`)."""
    jobs = ["ojek", "Ojek Online", "sopir angkot", "PENGEMUDI", "kernet bus", "14", "petani", ""]
    lines = price_lines(workers([None] * len(jobs), jobs), load_program("lahat"), Period(2026, 3))
    assert lines["discount"].tolist() == [8_400] * 6 + [0, 0]
    assert lines["discount_id"].tolist()[:6] == ["pp-50-2025-transportasi"] * 6


def test_a_discount_names_categories_the_occupations_module_knows() -> None:
    lahat = load_program("lahat")
    with pytest.raises(ValidationError, match="unknown occupation categories"):
        Discount(id="x", percent=50, berlaku_mulai=Period(2026, 1), sectors=("ojek",))
    assert lahat.discounts[1].sectors == ("transportasi",)
