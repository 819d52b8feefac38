"""Premiums paid per village (#18) on SQLite and PostgreSQL: a Lebak-like month (one invoice for
three villages) paid in part, then in full; a worker removed after payment (a credit note paying
February) counts no Rupiah twice. The village shares always add up to `premiums_paid` and match a
hand computation from the invoices' lines; `iuran status` shows them."""

from __future__ import annotations

import datetime as dt
from fractions import Fraction
from pathlib import Path

import pandas as pd
from sqlalchemy import select

from iuran.db.models import ContributionLine, Invoice, PaymentAllocation
from iuran.db.session import session_scope
from iuran.generate import generate_rosters
from iuran.payments.credit import settle
from iuran.periods import Period
from iuran.premiums import premiums_by_village, premiums_paid
from iuran.status import format_status, status_report
from tests.db.test_credit_notes import LEBAK, PREMIUM, _bill, _drop, _pay, _roster

JAN = "001/TAG-JKK-JKM/LBK/I/2026"


def _by_hand(url: str) -> dict[str, int]:
    """Per village, the plain way: each invoice's SP2D money over its villages by their line totals
    as exact fractions, floors, then the leftover Rupiah to the largest fractional parts."""
    out: dict[str, int] = {}
    with session_scope(url) as s:
        for inv in s.scalars(select(Invoice).where(Invoice.program == "lebak")):
            paid = sum(
                int(a.amount)
                for a in s.scalars(
                    select(PaymentAllocation).where(
                        PaymentAllocation.invoice_id == inv.id,
                        PaymentAllocation.payment_id.is_not(None),
                    )
                )
            )
            weights: dict[str, int] = {}
            for line in s.scalars(select(ContributionLine).where(ContributionLine.invoice_id == inv.id)):  # fmt: skip
                weights[line.kode_desa] = weights.get(line.kode_desa, 0) + int(line.total)
            if not paid:
                continue
            quota = {v: Fraction(paid * w, sum(weights.values())) for v, w in weights.items()}
            share = {v: int(q) for v, q in quota.items()}
            order = sorted(quota, key=lambda v: (-(quota[v] - share[v]), v))
            for v in order[: paid - sum(share.values())]:
                share[v] += 1
            for v, n in share.items():
                out[v] = out.get(v, 0) + n
    return out


def _shares(url: str) -> tuple[dict[str, int], int]:
    with session_scope(url) as s:
        v = premiums_by_village(s, "lebak")
        return dict(zip(v["kode_desa"], v["premi"].astype(int), strict=True)), premiums_paid(s, "lebak")  # fmt: skip


def test_a_lebak_month_paid_in_part_then_in_full_shares_by_village(database_url: str, tmp_path: Path) -> None:  # fmt: skip
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    generate_rosters(LEBAK, Period(2026, 1), inbox, villages=3, per_village=5, seed=4, xlsx_share=0)
    first = pd.read_csv(_roster(inbox, "2026-01"), dtype=str)["kode_desa"].iloc[0]
    _drop(inbox, "2026-01", 2)  # the first village bills 3 workers, the others 5 each
    jan = _bill(database_url, inbox, out, 1)
    assert jan["total_due"] == 13 * PREMIUM

    _pay(database_url, "100/SP2D/2026", 100_000, JAN, dt.date(2026, 1, 14))  # a part of 218,400
    shares, total = _shares(database_url)
    assert total == sum(shares.values()) == 100_000
    # 3/13 and 5/13 of Rp100,000: 23,076.92 and 38,461.54 twice; floors leave Rp2, to .92 then .54
    others = sorted(set(shares) - {first})
    assert shares == {first: 23_077, others[0]: 38_462, others[1]: 38_461} == _by_hand(database_url)

    _pay(database_url, "101/SP2D/2026", 118_400, JAN, dt.date(2026, 1, 20))  # the rest
    shares, total = _shares(database_url)
    assert shares == {first: 3 * PREMIUM, others[0]: 5 * PREMIUM, others[1]: 5 * PREMIUM}
    assert total == 13 * PREMIUM

    # a worker removed from the paid January: a credit note of Rp16,800 pays February, not counted
    _drop(inbox, "2026-01", 1)
    _bill(database_url, inbox, out, 1)
    generate_rosters(LEBAK, Period(2026, 2), inbox, villages=3, per_village=5, seed=4, xlsx_share=0)
    feb = _bill(database_url, inbox, out, 2)
    settle(database_url, "lebak", dt.date(2026, 2, 10))
    [invoice] = feb["invoices"]
    assert _shares(database_url) == (shares, 13 * PREMIUM)  # nothing counted twice
    _pay(database_url, "200/SP2D/2026", 50_000, invoice["number"], dt.date(2026, 2, 14))
    shares, total = _shares(database_url)
    assert total == sum(shares.values()) == 13 * PREMIUM + 50_000
    assert shares == _by_hand(database_url)

    report = status_report(database_url, LEBAK, None, dt.date(2026, 2, 20))
    [paid_by_credit] = [i["paid_by_credit_note"] for i in report["invoices"] if i["period"] == "2026-02"]  # fmt: skip
    assert paid_by_credit == PREMIUM  # the credit note did pay February
    villages = {v["kode_desa"]: v["premi"] for v in report["benefits"]["villages"]}
    assert villages == shares and report["benefits"]["premiums_paid"] == total
    text = format_status(report)
    assert "Premi dibayar" in text
    for code, premi in shares.items():
        assert any(code in line and f"Rp{premi:,}".replace(",", ".") in line for line in text.splitlines())  # fmt: skip
