"""The cycle's invariants as properties (hypothesis): over random programs, rosters, roster fixes,
next months, reruns and payments, on SQLite:

- every live invoice's total is the sum of its current lines (and its participant count their number);
- every worker a run bills appears in exactly one current line of the program and period (a paid
  invoice keeps the lines of workers removed after payment: they become credit);
- no payment is allocated more than it brought, nor an invoice paid more than its total;
- a rerun with unchanged inputs changes nothing.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from iuran.db.models import ContributionLine, Invoice, Payment, PaymentAllocation
from iuran.db.session import get_engine, session_scope, upgrade
from iuran.generate import generate_rosters
from iuran.payments.credit import settle
from iuran.payments.sp2d import record_payment
from iuran.periods import Period
from iuran.programs import load_program
from tests.db.test_db_faults import state
from tests.pipeline import run

LIVE = ("draft", "issued")
FIRST = {"lebak": Period(2026, 1), "lahat": Period(2025, 9)}
STEPS = st.lists(
    st.one_of(
        st.just(("rerun",)),
        st.tuples(st.just("fix"), st.integers(0, 10**6)),
        st.just(("next",)),
        st.tuples(
            st.just("pay"),
            st.one_of(st.just(0), st.integers(1, 40).map(lambda k: k * 8_400)),  # 0: exact
            st.booleans(),  # name the invoice, or let the amount find it
            st.integers(0, 10**6),
        ),
    ),
    min_size=1,
    max_size=4,
)


def check_invariants(url: str, program: str, billed: dict[str, int]) -> None:
    with session_scope(url) as s:
        for inv in s.scalars(select(Invoice).where(Invoice.document_state.in_(LIVE))):
            total, count = s.execute(
                select(func.coalesce(func.sum(ContributionLine.total), 0), func.count()).where(
                    ContributionLine.invoice_id == inv.id, ContributionLine.is_current
                )
            ).one()
            assert (int(total), count) == (int(inv.total), inv.participants), inv.number
            assert 0 <= int(inv.paid) <= int(inv.total), inv.number
        twice = s.execute(
            select(ContributionLine.period, ContributionLine.participant_id)
            .join(Invoice, Invoice.id == ContributionLine.invoice_id)
            .where(ContributionLine.is_current, Invoice.document_state.in_(LIVE))
            .group_by(
                ContributionLine.program, ContributionLine.period, ContributionLine.participant_id
            )
            .having(func.count() > 1)
        ).all()
        assert twice == []
        for period, n in billed.items():
            lines, settled = s.execute(
                select(func.count(), func.count().filter(Invoice.payment_state != "unpaid"))
                .select_from(ContributionLine)
                .join(Invoice, Invoice.id == ContributionLine.invoice_id)
                .where(
                    ContributionLine.program == program,
                    ContributionLine.period == period,
                    ContributionLine.is_current,
                    Invoice.document_state.in_(LIVE),
                )
            ).one()
            # Every worker billed has a line; a paid invoice keeps the lines of workers removed
            # after it was paid (they become credit), so only those may be left over.
            assert lines >= n, period
            assert lines == n or settled >= lines - n, period
        for payment in s.scalars(select(Payment)):
            allocated = int(
                s.scalar(
                    select(func.coalesce(func.sum(PaymentAllocation.amount), 0)).where(
                        PaymentAllocation.payment_id == payment.id
                    )
                )
                or 0
            )
            assert 0 <= allocated <= int(payment.jumlah), payment.nomor_sp2d
            assert allocated + int(payment.unallocated) == int(payment.jumlah), payment.nomor_sp2d
        for inv in s.scalars(select(Invoice)):
            paid = int(
                s.scalar(
                    select(func.coalesce(func.sum(PaymentAllocation.amount), 0)).where(
                        PaymentAllocation.invoice_id == inv.id
                    )
                )
                or 0
            )
            assert paid <= int(inv.total), inv.number


@settings(
    max_examples=15,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    code=st.sampled_from(["lebak", "lahat"]),
    villages=st.integers(2, 4),
    per_village=st.integers(2, 6),
    faults=st.sampled_from([0.0, 0.2, 0.5]),
    seed=st.integers(0, 10_000),
    steps=STEPS,
)
def test_invariants_hold_whatever_happens(
    code: str, villages: int, per_village: int, faults: float, seed: int, steps: list[tuple]
) -> None:
    program = load_program(code)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        url = f"sqlite:///{root / 'iuran.db'}"
        upgrade(url)
        inbox, out = root / "inbox", root / "out"
        period = FIRST[code]
        billed: dict[str, int] = {}

        def cycle(month: Period) -> dict[str, Any]:
            summary = run(url, program, str(month), inbox, out, render=False)
            billed[str(month)] = summary["participants"]["billed"]
            check_invariants(url, code, billed)
            return summary

        generate_rosters(
            program, period, inbox, villages, per_village, faults, seed, xlsx_share=0.0
        )
        cycle(period)
        sp2d = 0
        try:
            for step in steps:
                event(step[0])
                if step[0] == "rerun":
                    before = state(url)
                    assert cycle(period)["status"] == "unchanged"
                    after = state(url)
                    assert after == before
                elif step[0] == "fix":
                    files = sorted((inbox / code / str(period)).glob("*.csv"))
                    path = files[step[1] % len(files)]
                    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
                    if len(frame) > 1:
                        frame.drop(index=frame.index[step[1] % len(frame)]).to_csv(
                            path, index=False
                        )
                    cycle(period)
                elif step[0] == "next" and period.index - FIRST[code].index < 2:
                    period = period.shift(1)
                    generate_rosters(
                        program, period, inbox, villages, per_village, faults, seed, xlsx_share=0.0
                    )
                    cycle(period)
                elif step[0] == "pay":
                    _, amount, by_number, pick = step
                    with session_scope(url) as s:
                        live = s.execute(
                            select(Invoice.number, Invoice.payer_key, Invoice.total - Invoice.paid)
                            .where(Invoice.document_state.in_(LIVE))
                            .order_by(Invoice.number)
                        ).all()
                    number, payer, due = live[pick % len(live)] if live else (None, None, 0)
                    amount = amount or int(due) or 8_400
                    sp2d += 1
                    day = period.first_day + dt.timedelta(days=20)
                    result = record_payment(
                        url,
                        nomor_sp2d=f"{sp2d:03d}/SP2D/{seed}",
                        tanggal=day.strftime("%d/%m/%Y"),
                        jumlah=str(amount),
                        nomor_tagihan=number if by_number else None,
                        program=code,
                        payer=None if by_number or payer == "kabupaten" else payer,
                        today=day,
                    )
                    event(f"payment {[p.get('status') for p in result.get('payments', [])]}")
                    settle(url, code, day)
                    check_invariants(url, code, billed)
        finally:
            get_engine(url).dispose()
            get_engine.cache_clear()
