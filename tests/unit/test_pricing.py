import numpy as np
import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from iuran.periods import Period
from iuran.pricing import percent_of, price_lines
from iuran.programs import PremiumRule, load_program


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
