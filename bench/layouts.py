"""Case 5: a Lahat-size month in the layouts villages really send (issue 15), read and billed.

The month of case 1 (360 desa x 100 workers, 2 % faulty rows) written `--format mixed`
(`bench.data.lahat(fmt="mixed")`): the project's template, OpenSID's penduduk export (codes and
names variants), its program-bantuan export, its `.xlsm` import template, its printable HTML list
and Dukcapil's SIAK `.xls`, in turn by village. Timed with plain calls of the month's steps
(`iuran/month.py`: collect → validate → reconcile → price, on a fresh database: nothing recorded):

- each layout's files alone (linked into a folder of their own): seconds to read, rows read, rows
  accepted, against the rows and valid rows the generator wrote in that layout;
- the whole month: read, validate, reconcile and price, and the workers billed, against the
  generated rows and valid rows.

A reader that drops or invents rows in any layout shows as a figure that does not match; a file
refused whole shows with its reason. Measured 2026-12-03: the OpenSID penduduk, `.xlsm`, HTML and
SIAK files (register layouts) of this month are all refused `BERKAS_DATA_PENDUDUK`: each holds
the village's 100 workers (the program's quota) plus its 2 % faulty rows, 102 rows, and the
whole-population guard (`iuran/rosters/read.py`) holds any register file over the quota.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

import pandas as pd

from bench import data
from iuran.db.session import upgrade
from iuran.generate_formats import file_name
from iuran.pricing import price_lines
from iuran.programs import Program, load_program
from iuran.registry import decide
from iuran.rosters.read import collect_rosters
from iuran.rosters.validate import validate_rows


def files_of(folder: Path, kode_desa: str, layout: str) -> list[Path]:
    """The file a village sent in `layout` (the template: `<kode>.csv` or `<kode>.xlsx`)."""
    if layout == "template":
        return sorted(folder.glob(f"{kode_desa}.*"))
    return [folder / file_name(kode_desa, layout)]


def refused(files: pd.DataFrame) -> dict[str, Any]:
    """Files refused whole, and why (the codes of `iuran/intake/refusal.py`)."""
    codes = files.loc[files["status"] != "read", "code"].value_counts()
    return {
        "files_rejected": int(codes.sum()),
        "refusals": {str(k): int(n) for k, n in codes.items()},
    }


def read_layout(
    folder: Path, target: Path, villages: list[str], layout: str, program: Program
) -> dict[str, Any]:
    """One layout's files, linked under `target`, read and validated alone."""
    month = target / program.code / str(data.LAHAT_PERIOD)
    month.mkdir(parents=True)
    for kode in villages:
        for path in files_of(folder, kode, layout):
            os.link(path, month / path.name)
    t = time.perf_counter()
    got = collect_rosters(str(month), None, program.regency, program.per_village)
    read_s = time.perf_counter() - t
    checked = validate_rows(got.rows, program, data.LAHAT_PERIOD)
    return {
        "files": len(got.files),
        **refused(got.files),
        "rows_read": len(got.rows),
        "accepted": len(checked.accepted),
        "read_s": round(read_s, 2),
    }


def run(workdir: Path, quick: bool) -> dict[str, Any]:
    dataset = data.lahat_mixed(quick)
    info = json.loads((dataset.inbox.parent / "INFO.json").read_text())
    program = load_program(data.LAHAT)
    period = data.LAHAT_PERIOD
    folder = dataset.inbox / program.code / str(period)
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)

    per_layout = {}
    for layout, made in info["layouts"].items():
        found = read_layout(folder, workdir / layout, made["villages"], layout, program)
        per_layout[layout] = {
            "villages": len(made["villages"]),
            "rows": made["rows"],
            "valid_rows": made["valid_rows"],
            **found,
        }

    url = f"sqlite:///{workdir / 'iuran.db'}"
    upgrade(url)
    laps: dict[str, float] = {}
    t = time.perf_counter()
    got = collect_rosters(str(folder), None, program.regency, program.per_village)
    laps["read_s"] = time.perf_counter() - t
    t = time.perf_counter()
    checked = validate_rows(got.rows, program, period)
    laps["validate_s"] = time.perf_counter() - t
    t = time.perf_counter()
    decided = decide(url, got.rows, checked.accepted, program, period, folder)
    lines = price_lines(decided.billed, program, period)
    laps["reconcile_price_s"] = time.perf_counter() - t
    return {
        "villages": sum(len(m["villages"]) for m in info["layouts"].values()),
        "files": dataset.files,
        "rows": dataset.rows,
        "valid_rows": info["valid_rows"],
        "generate_s": round(dataset.seconds, 1),
        "rows_read": len(got.rows),
        **refused(got.files),
        "accepted": len(checked.accepted),
        "billed": len(lines),
        "total_due": int(lines["total"].sum()),
        **{k: round(v, 2) for k, v in laps.items()},
        "layouts": per_layout,
    }
