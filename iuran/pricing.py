"""Premiums: the rule in force for the period, applied to whole columns in integer Rupiah.

Rounding rule (one, written down): every component computed from a percentage (JKK, JHT, a
discount) is rounded once to whole Rupiah, half up; totals are sums of rounded components, never
recomputed from percentages. Several discounts in force for the same worker do not stack: the largest
one applies. A discount for some sectors (PP 50/2025's transport workers) matches the worker's
occupation category (`iuran.occupations.category`), so `ojek online`, `Pengemudi` and `sopir angkot`
are all transport.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from iuran import faults
from iuran.occupations import category
from iuran.periods import Period
from iuran.programs import Discount, PremiumRule, Program

LINE_COLUMNS = ["penghasilan_dilaporkan", "penghasilan", "jkk", "jkm", "jht", "discount", "total", "rule_id", "discount_id"]  # fmt: skip


def percent_of(amount: np.ndarray, basis_points: int) -> np.ndarray:
    """amount × bp / 10 000, rounded half up, in integers (never through floats)."""
    return (amount.astype(np.int64) * basis_points + 5_000) // 10_000


def reported_income(penghasilan: pd.Series, program: Program) -> np.ndarray:
    """The income the roster declares, else the program's default (what the detail sheet shows as
    declared beside the income the premium is computed on)."""
    return penghasilan.astype("Int64").fillna(program.default_income).to_numpy(dtype=np.int64)


def applied_income(reported: np.ndarray, rule: PremiumRule) -> np.ndarray:
    """The income JKK is computed on: the declared one held inside the rule's range (BPU: Rp1,000,000
    to Rp20,700,000), so a worker declaring Rp25,000,000 pays JKK on Rp20,700,000."""
    income = np.maximum(reported, rule.min_income)
    if rule.max_income is not None:
        income = np.minimum(income, rule.max_income)
    return income


def _discount_amount(d: Discount, parts: dict[str, np.ndarray]) -> np.ndarray:
    return sum(
        ((parts[c] * d.percent + 50) // 100 for c in d.components), np.zeros_like(parts["jkk"])
    )


def price_lines(workers: pd.DataFrame, program: Program, period: Period) -> pd.DataFrame:
    """Add the premium columns (`LINE_COLUMNS`) to `workers` (needs `penghasilan`, `pekerjaan`)."""
    rule = program.rule_for(period)
    n = len(workers)
    reported = reported_income(workers["penghasilan"], program)
    income = applied_income(reported, rule)
    if rule.kind == "flat":
        assert rule.flat is not None
        jkm = np.full(n, min(rule.jkm, rule.flat), dtype=np.int64)
        jkk = np.full(n, rule.flat, dtype=np.int64) - jkm
        jht = np.zeros(n, dtype=np.int64)
    else:
        jkk = percent_of(income, rule.jkk_bp)
        jkm = np.full(n, rule.jkm, dtype=np.int64)
        jht = percent_of(income, rule.jht_bp)
    parts = {"jkk": jkk, "jkm": jkm, "jht": jht}

    discount = np.zeros(n, dtype=np.int64)
    discount_id = np.full(n, None, dtype=object)
    discounts = program.discounts_for(period)
    sector = (
        category(workers["pekerjaan"]).to_numpy() if any(d.sectors for d in discounts) else None
    )
    for d in discounts:
        eligible = (
            np.isin(sector, d.sectors) if sector is not None and d.sectors else np.ones(n, bool)
        )
        amount = np.where(eligible, _discount_amount(d, parts), 0)
        better = amount > discount
        discount = np.where(better, amount, discount)
        discount_id = np.where(better, d.id, discount_id)

    out = workers.copy()
    out["penghasilan_dilaporkan"] = reported
    out["penghasilan"] = income
    out["jkk"] = jkk
    out["jkm"] = jkm
    out["jht"] = jht
    out["discount"] = discount
    out["total"] = jkk + jkm + jht - discount
    out["rule_id"] = rule.id
    out["discount_id"] = pd.Series(discount_id, index=out.index, dtype="object")
    faults.point("price.done")
    return out
