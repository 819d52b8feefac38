"""The benchmark's village-layouts case (issue 15): every layout the generator writes is read back
by the month's steps, and the table says whether all rows came through."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import data, layouts
from bench.report import rows
from iuran.generate_formats import MIXED


def test_a_small_mixed_month_is_read_and_billed_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(data, "DATA", tmp_path / "data")
    result = layouts.run(tmp_path / "run", quick=True)  # 21 villages x 10: under the quota
    assert set(result["layouts"]) == set(MIXED)
    for name, one in result["layouts"].items():
        assert (one["files"], one["files_rejected"]) == (one["villages"], 0), name
        assert one["rows_read"] == one["rows"], name
    assert result["rows_read"] == result["rows"] == 214
    assert result["billed"] == result["valid_rows"] == 210
    assert result["total_due"] == 210 * 16_800
    table = [r for r in rows({"layouts": result}) if r["case"].startswith("5 Village layouts")]
    assert len(table) == 3 + len(MIXED) and {r["met"] for r in table} == {"yes", "–"}


def test_refused_files_show_in_the_table_with_their_reason() -> None:
    one = {"villages": 2, "rows": 204, "valid_rows": 200, "files": 2, "files_rejected": 2,
           "refusals": {"BERKAS_DATA_PENDUDUK": 2}, "rows_read": 0, "accepted": 0, "read_s": 0.5}  # fmt: skip
    case = {"villages": 2, "files": 2, "rows": 204, "valid_rows": 200, "rows_read": 0,
            "files_rejected": 2, "billed": 0, "read_s": 0.5, "validate_s": 0.0,
            "reconcile_price_s": 0.0, "layouts": {"siak": one}}  # fmt: skip
    table = rows({"layouts": case})
    assert [r["met"] for r in table] == ["**no**", "**no**", "–", "**no**", "**no**"]
    assert table[-1]["value"] == "2 × BERKAS_DATA_PENDUDUK"
