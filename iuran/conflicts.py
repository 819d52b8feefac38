"""A returning NIK whose name or birth date disagrees with the registry: a conflict for review.

The registry is never silently overwritten. Documented tolerance for spelling variants: names are
compared after folding case, punctuation, titles (H., Hj., Dr., S.Pd., …), the old Indonesian spelling
(oe→u, tj→c, dj→j, nj→ny, sj→sy, ch→kh; and j and y are one letter, since the old `j` is the new `y`)
and repeated letters;
what still differs counts as the same name when difflib's similarity is at least 0.85 (one or two typos
in a typical name). A birth date must agree exactly.
"""

from __future__ import annotations

import difflib

import numpy as np
import pandas as pd

NAME_SIMILARITY = 0.85
CONFLICT_COLUMNS = ["nik", "field", "registry_value", "roster_value", "source_file", "source_row"]
_TITLES = r"\b(h|hj|dr|drs|ir|s\.?\s?pd|s\.?\s?e|s\.?\s?h|s\.?\s?kom|s\.?\s?ag|s\.?\s?t|m\.?\s?si|m\.?\s?pd|amd|a\.?\s?md)\b\.?"


def fold_names(names: pd.Series) -> pd.Series:
    s = names.astype("string").fillna("").str.lower()
    s = s.str.replace(_TITLES, " ", regex=True)
    s = s.str.replace(r"[^a-z ]", " ", regex=True)
    for old, new in (
        ("oe", "u"),
        ("tj", "c"),
        ("dj", "j"),
        ("nj", "ny"),
        ("sj", "sy"),
        ("ch", "kh"),
        ("j", "y"),
    ):
        s = s.str.replace(old, new, regex=False)
    s = s.str.replace(r"(.)\1+", r"\1", regex=True)
    return s.str.split().str.join(" ")


def find_conflicts(roster: pd.DataFrame, registry: pd.DataFrame) -> pd.DataFrame:
    """`roster` and `registry` carry nik, nama, tanggal_lahir; roster also its provenance."""
    both = roster.merge(registry, on="nik", suffixes=("", "_registry"))
    if not len(both):
        return pd.DataFrame({c: pd.Series(dtype="object") for c in CONFLICT_COLUMNS})
    a, b = fold_names(both["nama"]), fold_names(both["nama_registry"])
    differ = (a != b).to_numpy()
    # Only the few folded names that still differ are compared letter by letter.
    similar = np.ones(len(both), dtype=bool)
    similar[differ] = [
        difflib.SequenceMatcher(None, x, y).ratio() >= NAME_SIMILARITY
        for x, y in zip(a[differ], b[differ], strict=True)
    ]
    name_conflict = both.loc[~similar]
    dates = pd.to_datetime(both["tanggal_lahir"]).dt.date
    dates_registry = pd.to_datetime(both["tanggal_lahir_registry"]).dt.date
    date_conflict = both.loc[dates != dates_registry]
    out = [
        pd.DataFrame(
            {
                "nik": name_conflict["nik"],
                "field": "nama",
                "registry_value": name_conflict["nama_registry"].astype("string"),
                "roster_value": name_conflict["nama"].astype("string"),
                "source_file": name_conflict.get("source_file"),
                "source_row": name_conflict.get("source_row"),
            }
        ),
        pd.DataFrame(
            {
                "nik": date_conflict["nik"],
                "field": "tanggal_lahir",
                "registry_value": dates_registry[dates != dates_registry].astype("string"),
                "roster_value": dates[dates != dates_registry].astype("string"),
                "source_file": date_conflict.get("source_file"),
                "source_row": date_conflict.get("source_row"),
            }
        ),
    ]
    return pd.concat(out, ignore_index=True)[CONFLICT_COLUMNS]
