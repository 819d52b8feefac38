"""Premiums paid, per village: the SP2D money allocated to a program's invoices, and each village's
share of it (what the program paid for the workers each village listed).

An SP2D pays an invoice, as a whole or in part, never a village: a regency's invoice bills the
workers of hundreds of villages at once. The money paid to an invoice is shared over the villages
of its lines pro rata to their line totals, in whole Rupiah by the largest remainder, so that the
village shares of an invoice add up to exactly what was paid to it, and all villages' shares to
exactly `premiums_paid`. Where villages pay (Lahat: one invoice per village) the share is the whole.

Only real payments count (`payment_id IS NOT NULL`): a credit note's allocation moves money already
paid from one invoice to another, and counting it would count that money twice. An invoice is shared
by all its lines as billed (a paid invoice is never revised, and its removed workers go on a credit
note while their lines stay: that money was paid for them). Money paid to an invoice without a line
(none in practice) stays in the total under the village `UNPLACED`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from iuran.db.models import ContributionLine, Invoice, PaymentAllocation
from iuran.registry import read_frame

#: the village of money paid to an invoice that has no line (kept, so every total adds up)
UNPLACED = ""
SHARE_COLUMNS = ["kode_desa", "premi"]
#: above this a product `paid × line total` could leave int64: the shares are computed in Python ints
_SAFE = 2**62


def _paid_to(program: str, *columns: Any) -> Select[Any]:
    """`columns` over the SP2D money allocated to the program's invoices: real payments only, as a
    credit note's allocation moves money already paid from one invoice to another."""
    return (
        select(*columns)
        .join(Invoice, Invoice.id == PaymentAllocation.invoice_id)
        .where(Invoice.program == program, PaymentAllocation.payment_id.is_not(None))
    )


def premiums_paid(session: Session, program: str) -> int:
    """Premiums paid to date: the SP2D money allocated to the program's invoices (`_paid_to`)."""
    paid = session.scalar(_paid_to(program, func.coalesce(func.sum(PaymentAllocation.amount), 0)))
    return int(paid or 0)


def no_shares() -> pd.DataFrame:
    """SHARE_COLUMNS without a row: nothing paid yet."""
    return pd.DataFrame({"kode_desa": pd.Series(dtype="string"), "premi": pd.Series(dtype="int64")})


def village_shares(paid: pd.DataFrame, lines: pd.DataFrame) -> pd.DataFrame:
    """`paid` (invoice_id, paid) and `lines` (invoice_id, kode_desa, total: an invoice's line total
    per village) -> SHARE_COLUMNS, one row per village, highest premium first (ties by code).

    Each invoice's paid amount is shared over its villages pro rata to their totals: every village
    gets the floor of its quota, and the Rupiah left over go one each to the largest remainders
    (ties by code), so an invoice's shares sum to its paid amount exactly. An invoice whose lines
    total 0 is shared by its rows of `lines` in equal parts; one without a line goes to `UNPLACED`."""
    pay = paid.groupby("invoice_id", as_index=False)["paid"].sum()
    pay = pay.loc[pay["paid"] != 0]
    per = lines.groupby(["invoice_id", "kode_desa"], as_index=False).agg(
        total=("total", "sum"), n=("total", "size")
    )
    per = per.loc[per["invoice_id"].isin(pay["invoice_id"])]
    zero = per.groupby("invoice_id")["total"].transform("sum") == 0
    per["w"] = per["total"].where(~zero, per["n"]).astype("int64")
    orphans = pay.loc[~pay["invoice_id"].isin(per["invoice_id"])]
    per = per.merge(pay, on="invoice_id")
    weight = per.groupby("invoice_id")["w"].transform("sum").to_numpy()
    w, amount = per["w"].to_numpy(), per["paid"].to_numpy(dtype="int64")
    big = len(per) and int(np.abs(amount).max()) * int(w.max()) >= _SAFE
    product = amount.astype(object) * w.astype(object) if big else amount * w
    per["floor"] = (product // weight).astype("int64")
    per["rest"] = product % weight  # the remainder's numerator: same denominator within an invoice
    left = per["paid"] - per.groupby("invoice_id")["floor"].transform("sum")
    per = per.assign(_left=left).sort_values(
        ["invoice_id", "rest", "kode_desa"], ascending=[True, False, True], kind="stable"
    )
    per["premi"] = per["floor"] + (per.groupby("invoice_id").cumcount() < per["_left"]).astype("int64")  # fmt: skip
    shares = pd.concat(
        [per[SHARE_COLUMNS], pd.DataFrame({"kode_desa": UNPLACED, "premi": orphans["paid"]})]
    )
    out = shares.groupby("kode_desa", as_index=False)["premi"].sum()
    out = out.astype({"kode_desa": "string", "premi": "int64"})
    return out.sort_values(["premi", "kode_desa"], ascending=[False, True]).reset_index(drop=True)


def paid_per_invoice(session: Session, program: str) -> pd.DataFrame:
    """invoice_id, paid: the SP2D money allocated to each of the program's invoices (as
    `premiums_paid` counts it)."""
    conn = session.connection()
    paid = read_frame(
        conn,
        _paid_to(
            program, PaymentAllocation.invoice_id, func.sum(PaymentAllocation.amount)
        ).group_by(PaymentAllocation.invoice_id),
    )
    paid.columns = pd.Index(["invoice_id", "paid"])
    return paid.astype({"invoice_id": "int64", "paid": "int64"})


def invoice_villages(session: Session, program: str) -> pd.DataFrame:
    """invoice_id, kode_desa, total: the lines as billed of the program's invoices that SP2D money
    paid, summed per village."""
    conn = session.connection()
    paying = select(PaymentAllocation.invoice_id).where(PaymentAllocation.payment_id.is_not(None))
    lines = read_frame(
        conn,
        select(ContributionLine.invoice_id, ContributionLine.kode_desa, func.sum(ContributionLine.total))
        .where(ContributionLine.program == program, ContributionLine.invoice_id.in_(paying))
        .group_by(ContributionLine.invoice_id, ContributionLine.kode_desa),
    )  # fmt: skip
    lines.columns = pd.Index(["invoice_id", "kode_desa", "total"])
    return lines.astype({"invoice_id": "int64", "kode_desa": "string", "total": "int64"})


def premiums_by_village(session: Session, program: str) -> pd.DataFrame:
    """SHARE_COLUMNS: the premiums paid to date per village (`village_shares`); they add up to
    `premiums_paid` exactly."""
    paid = paid_per_invoice(session, program)
    return village_shares(paid, invoice_villages(session, program))
