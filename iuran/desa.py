"""Which desa (village) a roster row belongs to, and the month's counts per desa.

A row is its own code's when that names a village of the list, else the village its file is named
after (`36.02.01.2002.xlsx`, as the template asks), else nobody's (`(tanpa desa)`): a row with an
empty or mistyped code still belongs to the operator who sent the file. The village correction
lists, the data-quality table for Disnaker, the Disnaker e-mail and the cycle's summary all place
rows this way and count them with `village_counts`, so every one of them tells a village the same
figures.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import pandas as pd

from iuran.rosters.codes import CARRIED_SOURCE
from iuran.wilayah import normalize_kode_desa, village_names

#: `kode_desa` of the rows and rejections no known village can be found for
NO_VILLAGE = "(tanpa desa)"
#: the counts of `village_counts`, before its one column per rejection code
COUNTS = ["received", "accepted", "rejected"]

_CODE_IN_NAME = re.compile(r"(?<!\d)(\d{2})\.?(\d{2})\.?(\d{2})\.?(\d{4})(?!\d)")
_CANONICAL = re.compile(r"[0-9]{2}\.[0-9]{2}\.[0-9]{2}\.[0-9]{4}")  # what normalising gives
_FOLDERS = re.compile(r"^.*[/\\]")  # a path's folders: what precedes the file name


def file_village(paths: pd.Series) -> pd.Series:
    """The village code in a roster's file name (`36.02.01.2002.xlsx`, as the template asks), or NA."""
    # a few hundred files for tens of thousands of rows: each distinct path once, then spread
    positions, distinct = pd.factorize(paths.astype("string"))
    codes = pd.array([code_in_file_name(p) for p in distinct], dtype="string")
    return pd.Series(codes.take(positions, allow_fill=True), index=paths.index, dtype="string")


def code_in_file_name(path: str) -> str | None:
    found = _CODE_IN_NAME.search(_FOLDERS.sub("", path, count=1))
    return ".".join(found.groups()) if found else None


def normalized(codes: pd.Series) -> pd.Series:
    """`normalize_kode_desa(codes)`, each distinct value once (see `_normalized_distinct`)."""
    positions, distinct = pd.factorize(codes.astype("string"))
    out = pd.array(_normalized_distinct(distinct), dtype="string")
    return pd.Series(out.take(positions, allow_fill=True), index=codes.index, dtype="string")


def _normalized_distinct(distinct: Sequence[str]) -> list[str | None]:
    """`normalize_kode_desa` of distinct codes, without its fixed cost (a few ms a call) for the
    codes nearly every row has: a code already dotted, in ASCII digits, is its own normalisation."""
    out: list[str | None] = [c if _CANONICAL.fullmatch(c) else None for c in distinct]
    odd = [i for i, c in enumerate(out) if c is None]
    if odd:
        fixed = normalize_kode_desa(pd.Series([distinct[i] for i in odd], dtype="string"))
        for i, c in zip(odd, fixed.tolist(), strict=True):
            out[i] = None if c is pd.NA else c
    return out


def village_of(kode_desa: pd.Series, source_file: pd.Series, known: pd.Index) -> pd.Series:
    """A row's village: its own code when known, else the code in its file's name, else NA.

    A row with an empty or mistyped code still belongs to the operator who sent the file, so its
    correction lands in that village's report rather than in the regency's leftover pile.
    """
    # Tens of thousands of rows, a few hundred distinct codes and files: each distinct one once.
    in_list = set(known)
    own_at, own_distinct = pd.factorize(kode_desa.astype("string"))
    own = [c if c in in_list else None for c in _normalized_distinct(own_distinct)]
    file_at, file_distinct = pd.factorize(source_file.astype("string"))
    from_file = [c if c in in_list else None for c in map(code_in_file_name, file_distinct)]
    found = pd.array(own, dtype="string").take(own_at, allow_fill=True)
    fallback = pd.array(from_file, dtype="string").take(file_at, allow_fill=True)
    return pd.Series(found, index=kode_desa.index, dtype="string").fillna(
        pd.Series(fallback, index=kode_desa.index, dtype="string")
    )


def village_counts(
    rows: pd.DataFrame,
    rejected: pd.DataFrame,
    billed: pd.DataFrame,
    *,
    names: pd.Series | None = None,
) -> pd.DataFrame:
    """Per village: kode_desa, nama_desa, received (roster rows), accepted (billed from this month's
    rosters), rejected, then one column per rejection code (most frequent first); ordered by code,
    `(tanpa desa)` last.

    Roster rows only: workers carried forward from last month are not roster rows, so neither they
    nor their rejections are counted (`received == accepted + rejected`). `rows`: the collected
    roster rows (kode_desa, source_file); `rejected`: all rejections; `billed`: `Reconciled.billed`.
    With `names` (kode_desa -> nama_desa of the program) every village gets a row, also those that
    sent nothing; without it the official national list names the villages seen.
    """
    rows_desa = rows.get("kode_desa", pd.Series(dtype="string"))
    rows_file = rows.get("source_file", pd.Series("", index=rows_desa.index))
    rej = rejected.loc[~rejected["source_file"].astype("string").eq(CARRIED_SOURCE).fillna(False)]
    carried = (
        billed["carried"].astype(bool)
        if "carried" in billed.columns
        else pd.Series(False, index=billed.index)
    )
    accepted = normalized(billed.loc[~carried, "kode_desa"])

    every = names is not None
    if names is not None:
        known = pd.Index(names.index.astype("string"))
        names = pd.Series(names.astype("string").to_numpy(), index=known)
    else:
        seen = pd.concat(
            [
                normalize_kode_desa(rows_desa),
                normalize_kode_desa(rej["kode_desa"]),
                file_village(rows_file),
                file_village(rej["source_file"]),
                accepted,
            ]
        ).dropna()
        seen = pd.Series(seen.unique(), dtype="string")
        found = village_names(seen)
        names = pd.Series(found.to_numpy(), index=pd.Index(seen)).dropna()
        known = names.index

    both = village_of(  # one call for both: its fixed cost once
        pd.concat([rows_desa, rej["kode_desa"]], ignore_index=True),
        pd.concat([rows_file, rej["source_file"]], ignore_index=True),
        known,
    ).fillna(NO_VILLAGE)
    received, rej_desa = both.iloc[: len(rows_desa)], both.iloc[len(rows_desa) :]
    by_code = (
        pd.DataFrame({"desa": rej_desa.to_numpy(), "code": rej["code"].astype("string").to_numpy()})
        .value_counts()
        .unstack(fill_value=0)  # a crosstab, without its fixed cost
        if len(rej)
        else pd.DataFrame(index=pd.Index([], dtype="string"))
    )
    if len(by_code.columns):
        order = by_code.sum().sort_values(ascending=False, kind="stable")
        by_code = by_code[sorted(order.index, key=lambda c: (-order[c], c))]
    codes = [str(c) for c in by_code.columns]
    base = pd.concat(
        [
            received.value_counts().rename("received"),
            accepted.fillna(NO_VILLAGE).value_counts().rename("accepted"),
            rej_desa.value_counts().rename("rejected"),
        ],
        axis=1,
    )
    table = pd.concat([base, by_code], axis=1) if codes else base
    if every:
        table = table.reindex(table.index.union(known))
    table = table.fillna(0).astype("int64")
    table.columns = [*COUNTS, *codes]
    index = pd.Series(table.index.astype(str), index=table.index)
    table = table.iloc[np.lexsort([index.to_numpy(), index.eq(NO_VILLAGE).to_numpy()])]
    table.index.name = "kode_desa"
    table = table.reset_index()
    table.insert(1, "nama_desa", table["kode_desa"].map(names).astype("string").fillna(""))
    table["kode_desa"] = table["kode_desa"].astype("string")
    return table
