"""A roster row's village, and the one count per village every report, mail and summary shows."""

from __future__ import annotations

import pandas as pd

from iuran import desa
from iuran.desa import COUNTS, NO_VILLAGE, village_counts
from iuran.reconcile import Reconciled
from iuran.reports import TOTAL, data_quality_table
from iuran.rosters.columns import Collected
from iuran.summary import village_table
from iuran.wilayah import normalize_kode_desa
from tests.unit.test_reports import (
    NAMES,
    A,
    B,
    C,
    billed_frame,
    collected_frame,
    files_frame,
    rejected_frame,
)


def test_codes_are_normalised_as_normalize_kode_desa_does() -> None:
    """`normalized` skips `normalize_kode_desa` for dotted codes: it must agree on every input."""
    codes = pd.Series(
        [A, f" {A} ", "3602012002", "3602012002.0", 3602012002, "36.02.01.200", "36.02.01.20021",
         "٣٦.٠٢.٠١.٢٠٠٢", "36.02.01.2002\u200b", "", None, "abc", "36-02-01-2002"],
        dtype=object,
    )  # fmt: skip
    expected = normalize_kode_desa(codes)
    pd.testing.assert_series_equal(desa.normalized(codes), expected)
    pd.testing.assert_series_equal(desa.normalized(codes.astype("string")), expected)


def test_rows_find_their_village_by_code_then_by_file_name() -> None:
    known = pd.Index([A, B], dtype="string")
    found = desa.village_of(
        pd.Series(["3602012002", None, "99.99.99.9999", None, C]),
        pd.Series(["x.csv", f"sub\\{B}.xlsx", f"{A}.csv", "kiriman.xlsx", f"{B}.csv"]),
        known,
    )
    assert found.tolist() == [A, B, A, pd.NA, B]


def test_village_counts_are_roster_rows_placed_as_the_village_reports_place_them() -> None:
    t = village_counts(collected_frame(), rejected_frame(), billed_frame())
    by = t.set_index("kode_desa")
    assert list(t.columns[:5]) == ["kode_desa", "nama_desa", *COUNTS]
    assert by.loc[A, COUNTS].tolist() == [5, 3, 2]  # the carried-forward worker is not counted
    assert by.loc[C, COUNTS].tolist() == [1, 0, 1]  # no code: the village its file is named after
    assert t["kode_desa"].iloc[-1] == NO_VILLAGE  # a wrong code in a file named by no village
    assert (t["received"] == t["accepted"] + t["rejected"]).all()


def test_the_data_quality_table_and_the_summary_count_alike() -> None:
    """One count: Disnaker's table, the cycle's artifacts and its summary show the same figures."""
    counts = village_counts(collected_frame(), rejected_frame(), billed_frame())
    table = data_quality_table(collected_frame(), rejected_frame(), billed_frame())
    table = table.loc[table["kode_desa"] != TOTAL].reset_index(drop=True)
    assert table[["diterima", "lolos", "ditolak"]].to_numpy().tolist() == (
        counts[COUNTS].to_numpy().tolist()
    )
    assert table["kode_desa"].tolist() == counts["kode_desa"].tolist()

    decided = Reconciled(
        billed=billed_frame(), rejected=rejected_frame().iloc[0:0], ended=pd.DataFrame()
    )
    summary = village_table(Collected(collected_frame(), files_frame()), rejected_frame(), decided)
    assert list(summary.columns) == ["kode_desa", *COUNTS]
    pd.testing.assert_frame_equal(summary, counts[["kode_desa", *COUNTS]])


def test_with_the_program_villages_every_village_has_a_row() -> None:
    names = pd.concat([NAMES, pd.Series({"36.02.01.2005": "Malingping Utara"})])
    t = village_counts(collected_frame(), rejected_frame(), billed_frame(), names=names)
    silent = t.set_index("kode_desa").loc["36.02.01.2005"]
    assert silent["nama_desa"] == "Malingping Utara" and silent[COUNTS].tolist() == [0, 0, 0]
    assert t["kode_desa"].tolist() == [A, B, C, "36.02.01.2005", NO_VILLAGE]
