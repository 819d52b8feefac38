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
    lebak = load_program("lebak")
    inbox = tmp_path / "inbox"
    generate_rosters(lebak, Period(2026, 1), inbox, villages=1, per_village=5, seed=7)
    folder = inbox / "lebak" / "2026-01"
    _whole_village(folder / "3602012004.xlsx", 300)
    s = run(database_url, lebak, "2026-01", inbox, tmp_path / "out", render=False)
    assert s["participants"]["billed"] == 5  # the template village only
    assert s["total_due"] == 5 * 16_800
