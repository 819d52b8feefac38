"""`write_reports` on a rerun after one village's roster changed: that village's correction list and
the program-level files are written again, nothing else, and the folder equals a fresh write."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pandas as pd

from iuran.cycle import record_cycle
from iuran.cycle_reports import ReportPaths, write_reports
from iuran.generate import generate_rosters
from iuran.periods import Period
from iuran.pricing import price_lines
from iuran.programs import Program, load_program
from iuran.registry import decide
from iuran.rosters.read import collect_rosters
from iuran.rosters.validate import validate_rows
from iuran.summary import all_rejections

TODAY = dt.date(2026, 1, 5)
MONTH = Period(2026, 1)


def cycle_inputs(url: str, program: Program, inbox: Path, out_dir: Path) -> list[Any]:
    """The arguments of `write_reports` after collect → validate → reconcile → price → record."""
    folder = inbox / program.code / str(MONTH)
    rosters = collect_rosters(str(folder))
    checked = validate_rows(rosters.rows, program, MONTH)
    decided = decide(url, rosters.rows, checked.accepted, program, MONTH, folder)
    lines = price_lines(decided.billed, program, MONTH)
    rejected = all_rejections(checked, decided)
    recorded = record_cycle(
        url, program, MONTH, rosters.files, rejected, decided, lines, out_dir, TODAY
    )
    return [
        url, program, MONTH, rosters.rows, rosters.files, rejected, decided,
        recorded.budget.as_dict(),
    ]  # fmt: skip


def report_files(paths: ReportPaths) -> dict[str, bytes]:
    folder = paths.program_report.parent
    found = [paths.program_report, paths.mutation_list, paths.data_quality]
    found += [paths.village_reports_zip, *sorted(paths.village_reports.iterdir())]
    return {str(p.relative_to(folder)): p.read_bytes() for p in found}


def stamps(paths: ReportPaths) -> dict[str, tuple[int, int]]:
    folder = paths.program_report.parent
    found = [paths.program_report, paths.mutation_list, paths.data_quality]
    found += [paths.village_reports_zip, *sorted(paths.village_reports.iterdir())]
    return {str(p.relative_to(folder)): (p.stat().st_ino, p.stat().st_mtime_ns) for p in found}


def test_one_village_changed_rewrites_its_report_only(sqlite_url: str, tmp_path: Path) -> None:
    lebak = load_program("lebak")
    inbox, out_dir = tmp_path / "inbox", tmp_path / "out" / "lebak" / str(MONTH)
    generate_rosters(lebak, MONTH, inbox, villages=6, per_village=10, faults=0.3, seed=5)
    paths = write_reports(*cycle_inputs(sqlite_url, lebak, inbox, out_dir), out_dir, TODAY)
    before = stamps(paths)
    villages = [p.stem for p in sorted((inbox / "lebak" / str(MONTH)).glob("*.csv"))]
    assert len(before) > 4 + len(villages)  # every village has something to correct

    # the admin's fix breaks another row of the first CSV village: its name is blanked
    target = inbox / "lebak" / str(MONTH) / f"{villages[0]}.csv"
    roster = pd.read_csv(target, dtype=str, keep_default_na=False)
    roster.loc[0, "nama"] = ""
    roster.to_csv(target, index=False)
    inputs = cycle_inputs(sqlite_url, lebak, inbox, out_dir)
    write_reports(*inputs, out_dir, TODAY)

    changed = {name for name, stamp in stamps(paths).items() if before.get(name) != stamp}
    village_reports = {n for n in changed if n.startswith("penolakan/penolakan-")}
    assert village_reports == {f"penolakan/penolakan-{villages[0]}.xlsx"}
    assert changed <= village_reports | {
        paths.village_reports_zip.name,
        "penolakan/.manifest.json",
        paths.data_quality.name,
        paths.mutation_list.name,
        paths.program_report.name,
    }

    fresh_dir = tmp_path / "fresh"
    fresh = write_reports(*inputs, fresh_dir, TODAY)
    assert report_files(paths) == report_files(fresh)
