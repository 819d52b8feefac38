"""The invoice content hash and the outbox fingerprints are stored (on invoices, in e-mail keys): the
Arrow version must give exactly what the Python one gave, or every invoice would look changed after
an upgrade. Checked against the earlier implementations, kept here as the reference."""

from __future__ import annotations

import hashlib

import pandas as pd
import pyarrow.compute as pc
from hypothesis import given, settings
from hypothesis import strategies as st

from iuran.cycle_reports import fingerprint
from iuran.invoicing import HASHED, content_hashes
from iuran.nik import text_array

TEXT = st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=6)


def content_hashes_before(lines: pd.DataFrame) -> pd.Series:
    fields = lines[HASHED].astype("string").fillna("")
    joined = pc.binary_join_element_wise(*(text_array(fields[c]) for c in HASHED), "|")
    text = pd.Series(joined.to_numpy(zero_copy_only=False), index=lines.index, dtype=object)
    keyed = pd.DataFrame({"payer_key": lines["payer_key"], "t": text}).sort_values(
        ["payer_key", "t"]
    )
    return keyed.groupby("payer_key", sort=True)["t"].agg(
        lambda s: hashlib.sha256("\n".join(s).encode()).hexdigest()
    )


def fingerprint_before(frame: pd.DataFrame, columns: list[str]) -> str:
    if not len(frame):
        return "kosong"
    fields = frame.reindex(columns=columns).astype("string").fillna("")
    text = pc.binary_join_element_wise(*(text_array(fields[c]) for c in columns), "|")
    return hashlib.sha256("\n".join(sorted(text.to_pylist())).encode()).hexdigest()[:16]


@st.composite
def line_columns(draw: st.DrawFn) -> dict[str, list[object]]:
    """Plain lists: the frame is built in the test (hypothesis frowns on work inside a strategy)."""
    n = draw(st.integers(1, 40))
    payers = draw(st.lists(st.sampled_from(["16.04.01.2001", "16.04.01.2002", "kabupaten", "é"]), min_size=n, max_size=n))  # fmt: skip
    columns: dict[str, list[object]] = {
        c: draw(st.lists(st.one_of(st.none(), TEXT), min_size=n, max_size=n)) for c in HASHED
    }
    columns["total"] = draw(st.lists(st.integers(0, 10**9), min_size=n, max_size=n))
    return {"payer_key": payers, **columns}


@settings(max_examples=200, deadline=None)
@given(line_columns())
def test_content_hashes_are_what_they_were(columns: dict[str, list[object]]) -> None:
    lines = pd.DataFrame(columns)
    got = content_hashes(lines)
    want = content_hashes_before(lines)
    assert got.to_dict() == want.to_dict()
    assert list(got.index) == list(want.index)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.one_of(st.none(), TEXT), TEXT), max_size=30))
def test_fingerprints_are_what_they_were(rows: list[tuple[str | None, str]]) -> None:
    frame = pd.DataFrame(rows, columns=["nik", "reason"])
    assert fingerprint(frame, ["nik", "reason"]) == fingerprint_before(frame, ["nik", "reason"])


def test_a_changed_line_changes_its_payers_hash_only() -> None:
    lines = pd.DataFrame({"payer_key": ["a", "a", "b"], **{c: ["x", "y", "z"] for c in HASHED}})
    before = content_hashes(lines)
    after = content_hashes(lines.assign(total=["x", "y2", "z"]))
    assert after["a"] != before["a"] and after["b"] == before["b"]
    assert content_hashes(lines.iloc[::-1]).to_dict() == before.to_dict()
