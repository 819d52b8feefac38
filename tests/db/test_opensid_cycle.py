"""A month where one village sends OpenSID's penduduk export as it is (filtered to its workers,
named with its village code) and the others the project's template: all billed in one cycle (#15)."""

from __future__ import annotations

from pathlib import Path

from iuran.generate import generate_rosters
from iuran.periods import Period
from iuran.programs import load_program
from tests.pipeline import run
from tests.unit.test_read_opensid import PEOPLE, _penduduk, _whole_village


def test_an_opensid_export_and_the_template_are_billed_in_one_cycle(
    database_url: str, tmp_path: Path
) -> None:
    lebak = load_program("lebak")
    inbox = tmp_path / "inbox"
    generate_rosters(lebak, Period(2026, 1), inbox, villages=2, per_village=5, seed=7)
    folder = inbox / "lebak" / "2026-01"
    assert sorted(p.stem for p in folder.iterdir()) == ["36.02.01.2002", "36.02.01.2003"]
    _penduduk(
        folder / "penduduk_3602012004_03_12_2026.xlsx",
        names=False,
        ket=True,
        sheet="Data Penduduk",
        start=9001,
    )
    s = run(database_url, lebak, "2026-01", inbox, tmp_path / "out", render=False)
    n = 2 * 5 + len(PEOPLE)
    assert s["rows"] == {"received": n, "accepted": n, "rejected": 0}
    assert s["participants"]["billed"] == n
    assert s["total_due"] == n * 16_800


def test_a_village_that_sends_its_whole_population_bills_nobody(
    database_url: str, tmp_path: Path
) -> None:
    """~300 residents of 36.02.01.2004 (children, pupils, ASN, housewives, the elderly, 15 farmers)
    against a limit of 10 a village: held as a file; the template village is billed."""
    lebak = load_program("lebak")
    assert lebak.per_village == 10  # 3,450 workers / 345 desa+kelurahan
    inbox = tmp_path / "inbox"
    generate_rosters(lebak, Period(2026, 1), inbox, villages=1, per_village=5, seed=7)
    folder = inbox / "lebak" / "2026-01"
    _whole_village(folder / "penduduk_3602012004_03_12_2026.xlsx")
    s = run(database_url, lebak, "2026-01", inbox, tmp_path / "out", render=False)
    [held] = s["files"]["rejected_files"]
    assert (held["path"], held["code"]) == (
        "penduduk_3602012004_03_12_2026.xlsx",
        "BERKAS_DATA_PENDUDUK",
    )
    assert (
        "(300 orang, lebih dari dua kali 10 pekerja per desa yang diharapkan program ini)"
        in (held["message"])
    )
    assert s["rows"]["received"] == 5  # nobody of the village is even a row
    assert s["participants"]["billed"] == 5  # the template village only
    assert s["total_due"] == 5 * 16_800
    assert [i["participants"] for i in s["invoices"]] == [5]


def test_the_same_export_filtered_to_its_workers_is_billed(
    database_url: str, tmp_path: Path
) -> None:
    lebak = load_program("lebak")
    inbox = tmp_path / "inbox"
    generate_rosters(lebak, Period(2026, 1), inbox, villages=1, per_village=5, seed=7)
    folder = inbox / "lebak" / "2026-01"
    _whole_village(folder / "penduduk_3602012004_03_12_2026.xlsx", workers_only=8)
    s = run(database_url, lebak, "2026-01", inbox, tmp_path / "out", render=False)
    assert s["files"] == {"read": 2, "rejected": 0, "rejected_files": []}
    assert s["rows"] == {"received": 5 + 8, "accepted": 5 + 8, "rejected": 0}
    assert s["participants"]["billed"] == 5 + 8
    assert s["total_due"] == (5 + 8) * 16_800
