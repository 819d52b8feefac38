"""Premiums paid per village (#18): an invoice's paid amount shared over its villages pro rata to
their line totals, in whole Rupiah by the largest remainder; the shares add up to what was paid."""

from __future__ import annotations

import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from iuran.claims import Benefits, top_villages
from iuran.money import rupiah
from iuran.premiums import UNPLACED, village_shares
from iuran.status import benefit_lines

A, B, C = "36.02.01.2001", "36.02.01.2002", "36.02.01.2003"
NAMES = pd.Series(["Cilangkahan", "Pagelaran", "Sukaraja"], index=[A, B, C])


def _lines(rows: list[tuple[int, str, int]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["invoice_id", "kode_desa", "total"])


def _paid(rows: list[tuple[int, int]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["invoice_id", "paid"])


def _shares(paid: pd.DataFrame, lines: pd.DataFrame) -> dict[str, int]:
    out = village_shares(paid, lines)
    return dict(zip(out["kode_desa"], out["premi"].astype(int), strict=True))


def test_a_partly_paid_invoice_is_shared_by_line_totals() -> None:
    """Rp100,000 paid of an invoice of A 3 × Rp16,800 and B 1 × Rp16,800 (Rp67,200): A gets
    3/4, B 1/4; a payment of 10 over three equal villages gives the odd Rupiah to the first code."""
    lines = _lines([(1, A, 16_800)] * 3 + [(1, B, 16_800)])
    assert _shares(_paid([(1, 50_000)]), lines) == {A: 37_500, B: 12_500}
    assert _shares(_paid([(1, 67_200)]), lines) == {A: 50_400, B: 16_800}
    assert _shares(_paid([(2, 10)]), _lines([(2, C, 5), (2, A, 5), (2, B, 5)])) == {A: 4, B: 3, C: 3}  # fmt: skip


def test_the_largest_remainder_gets_the_leftover_rupiah() -> None:
    """Rp100 over weights 1, 2, 4 (quotas 14.29, 28.57, 57.14): floors 14 + 28 + 57 = 99, the
    leftover Rupiah to B (remainder .57), never to the largest village."""
    lines = _lines([(1, A, 1), (1, B, 2), (1, C, 4)])
    assert _shares(_paid([(1, 100)]), lines) == {A: 14, B: 29, C: 57}


def test_a_village_paying_its_own_invoice_gets_all_of_it() -> None:
    """Lahat: one invoice per village; each share is the whole paid amount."""
    lines = _lines([(1, A, 16_800), (1, A, 16_800), (2, B, 16_800)])
    assert _shares(_paid([(1, 30_000), (2, 16_800), (3, 0)]), lines) == {A: 30_000, B: 16_800}


def test_money_without_a_line_is_kept_unplaced() -> None:
    assert _shares(_paid([(7, 5_000)]), _lines([])) == {UNPLACED: 5_000}


def test_amounts_beyond_int64_products_stay_exact() -> None:
    """Rp10^12 over Rp10^10 and 2 × 10^10: the product leaves int64, the shares stay exact."""
    lines = _lines([(1, A, 10**10), (1, B, 2 * 10**10)])
    assert _shares(_paid([(1, 10**12)]), lines) == {A: 333_333_333_333, B: 666_666_666_667}


invoices = st.lists(
    st.tuples(
        st.lists(  # lines: village index, total
            st.tuples(st.integers(0, 5), st.integers(0, 500_000)), min_size=0, max_size=12
        ),
        st.lists(st.integers(0, 2_000_000), max_size=3),  # SP2D allocations (partial, over, none)
    ),
    max_size=8,
)


@given(invoices)
def test_village_shares_add_up_to_what_was_paid(drawn: list[tuple[list[tuple[int, int]], list[int]]]) -> None:  # fmt: skip
    """Random invoices, lines and payments: the shares add up to the money paid, exactly; each
    village's share of an invoice is its quota rounded down or up."""
    lines = _lines([(i, f"D{v}", t) for i, (ls, _) in enumerate(drawn) for v, t in ls])
    paid = _paid([(i, a) for i, (_, allocs) in enumerate(drawn) for a in allocs])
    out = village_shares(paid, lines)
    assert int(out["premi"].sum()) == int(paid["paid"].sum())
    assert out["kode_desa"].is_unique and (out["premi"] >= 0).all()
    for i, (ls, allocs) in enumerate(drawn):  # one invoice at a time: floor or ceil of the quota
        one = _shares(_paid([(i, a) for a in allocs]), lines.loc[lines["invoice_id"] == i])
        weights = lines.loc[lines["invoice_id"] == i].groupby("kode_desa")["total"].sum()
        total, p = int(weights.sum()), sum(allocs)
        if not ls or not total or not p:
            continue
        for village, w in weights.items():
            assert p * int(w) // total <= one.get(str(village), 0) <= -(-p * int(w) // total)


def test_villages_with_premiums_and_no_claim_are_listed() -> None:
    """The villages' table: claims first, then by premium; a village with a premium but no claim
    is there; with a top of 1 the others are summed in one line and every column still adds up."""
    claims = pd.DataFrame(
        {"kode_desa": [B], "jenis": ["JKM"], "claims": [1], "nilai": [42_000_000],
         "smallest": [42_000_000], "largest": [42_000_000]}
    )  # fmt: skip
    bought = Benefits(
        premiums_paid=100_800,
        claims=claims,
        village_names=NAMES,
        premiums=pd.DataFrame({"kode_desa": [A, B, C], "premi": [50_400, 16_800, 33_600]}),
    )
    v = bought.villages()
    assert v.values.tolist() == [
        [B, "Pagelaran", 16_800, 0, 1, 0, 1, 42_000_000],
        [A, "Cilangkahan", 50_400, 0, 0, 0, 0, 0],
        [C, "Sukaraja", 33_600, 0, 0, 0, 0, 0],
    ]
    assert int(v["premi"].sum()) == bought.premiums_paid
    short = bought.villages(top=1)
    assert short.values.tolist()[1] == ["…", "2 desa lainnya", 84_000, 0, 0, 0, 0, 0]
    assert int(short["premi"].sum()) == bought.premiums_paid
    assert top_villages(v, 3).equals(v)
    assert bought.as_dict()["villages"][1]["premi"] == 50_400


def test_status_lists_the_top_villages_and_sums_the_rest() -> None:
    """`iuran status`: 25 villages paid premiums; the first 20 listed with their premium, one line
    for the other 5 with theirs summed."""
    codes = [f"36.02.01.{2001 + i}" for i in range(25)]
    premi = pd.DataFrame({"kode_desa": codes, "premi": [16_800 * (30 - i) for i in range(25)]})
    none = pd.DataFrame({c: pd.Series(dtype="int64") for c in ["claims", "nilai", "smallest", "largest"]})  # fmt: skip
    none = none.assign(kode_desa=pd.Series(dtype="string"), jenis=pd.Series(dtype="string"))
    bought = Benefits(int(premi["premi"].sum()), none, NAMES, premi)
    lines = benefit_lines(bought.as_dict())
    assert any(codes[0] in line and rupiah(16_800 * 30) in line for line in lines)
    assert not any(codes[20] in line for line in lines)
    rest = sum(16_800 * (30 - i) for i in range(20, 25))
    assert any("… " in line and "5 desa lainnya" in line and rupiah(rest) in line for line in lines)
