"""NIK (Nomor Induk Kependudukan): `PPKKCCDDMMYYSSSS`, day + 40 for women, no check digit."""

from __future__ import annotations

import pandas as pd


def mask(nik: str) -> str:
    """`3602**********0001`: enough for an operator to find the row, not enough to identify the person."""
    s = str(nik)
    if len(s) <= 8:
        return "*" * len(s)
    return s[:4] + "*" * (len(s) - 8) + s[-4:]


def mask_series(niks: pd.Series) -> pd.Series:
    s = niks.astype("string").fillna("")
    n = s.str.len()
    stars = n.sub(8).clip(lower=0).map(lambda k: "*" * int(k))  # one string per distinct length
    masked = s.str[:4] + stars + s.str[-4:]
    return masked.where(n > 8, s.str.replace(r".", "*", regex=True))
