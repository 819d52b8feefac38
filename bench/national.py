"""Case 2: the national data plane. 514 regency programs, one SQLite database, no documents.

Each regency goes through the cycle's plain step functions, as `tests/pipeline.py` calls them:
collect → validate → decide (registry + reconcile) → price → record (persist). Design, for 2 cores:

* a process pool (`workers`, default cores − 1) reads and validates regencies ahead of the writer:
  both steps are pure (files in, frames out), so a worker may run them for any regency at any time;
* the main process decides, prices and records one regency after the other, in one SQLite database.
  Deciding reads the registry that earlier regencies wrote (double funding across programs), so it
  stays in the writer, in order; SQLite has one writer anyway.

At most `workers + 1` regencies are read ahead, which bounds memory. Regencies run in a fixed
shuffled order, so a run stopped by `budget` has processed a mixed sample of the country and its
projection (rows left / measured rows per second) is fair.

The bare read is the limit to compare with: the same files read in one process with nothing else
(pyarrow for CSV, every column as text; python-calamine for XLSX, the first sheet as cells).
"""

from __future__ import annotations

import datetime as dt
import io
import os
import time
from collections import deque
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from bench import data
from bench.machine import PeakMemory, Stopwatch
from iuran.programs import Program

TODAY = dt.date(2026, 1, 5)


# ------------------------------------------------------------------------------------ bare read


def bare_read(inbox: Path, programs: list[Program]) -> dict[str, Any]:
    """Every roster file once, in one process: seconds and rows per program folder."""
    import pyarrow as pa
    import pyarrow.csv as pcsv
    from python_calamine import CalamineWorkbook

    from iuran.generate import COLUMNS

    read = pcsv.ReadOptions(use_threads=False)
    convert = pcsv.ConvertOptions(column_types=dict.fromkeys(COLUMNS, pa.string()))
    per_program: dict[str, tuple[float, int, int]] = {}
    with Stopwatch() as total:
        for program in programs:
            t0 = time.perf_counter()
            rows = files = 0
            for path in data.roster_files(inbox / program.code / str(data.NATIONAL_PERIOD)):
                raw = path.read_bytes()
                if path.suffix == ".csv":
                    rows += pcsv.read_csv(io.BytesIO(raw), read, convert_options=convert).num_rows
                else:
                    book = CalamineWorkbook.from_filelike(io.BytesIO(raw))
                    rows += len(book.get_sheet_by_index(0).to_python()) - 1
                files += 1
            per_program[program.code] = (time.perf_counter() - t0, files, rows)
    rows = sum(r for _, _, r in per_program.values())
    return {
        "seconds": round(total.wall, 2),
        "files": sum(f for _, f, _ in per_program.values()),
        "rows": rows,
        "rows_per_s": round(rows / total.wall) if total.wall else 0,
        "per_program": {k: round(v[0], 4) for k, v in per_program.items()},
    }


# ------------------------------------------------------------------------------------- pipeline


def _read_and_check(program: Program, folder: Path) -> tuple[Any, Any, dict[str, float]]:
    """Worker side: collect + validate one regency (pure: files in, frames out)."""
    from iuran.rosters.read import collect_rosters
    from iuran.rosters.validate import validate_rows

    c0 = time.process_time()
    t0 = time.perf_counter()
    rosters = collect_rosters(str(folder))
    t1 = time.perf_counter()
    checked = validate_rows(rosters.rows, program, data.NATIONAL_PERIOD)
    t2 = time.perf_counter()
    return (
        rosters,
        checked,
        {"collect": t1 - t0, "validate": t2 - t1, "worker_cpu": time.process_time() - c0},
    )


def _bill(
    url: str, program: Program, month: Any, rosters: Any, checked: Any, folder: Path, out: Path
) -> tuple[Any, Any, dict[str, float]]:
    """The main process's share of one regency: decide, price, record; and the seconds of each."""
    from iuran.cycle import record_cycle
    from iuran.pricing import price_lines
    from iuran.registry import decide
    from iuran.summary import all_rejections

    t0 = time.perf_counter()
    decided = decide(url, rosters.rows, checked.accepted, program, month, folder)
    t1 = time.perf_counter()
    lines = price_lines(decided.billed, program, month)
    t2 = time.perf_counter()
    rejected = all_rejections(checked, decided)
    record_cycle(
        url, program, month, rosters.files, rejected, decided, lines,
        out / program.code / str(month), TODAY,
    )  # fmt: skip
    t3 = time.perf_counter()
    return decided, rejected, {"decide": t1 - t0, "price": t2 - t1, "record": t3 - t2}


#: Regencies billed a second month after the country's first (the steady state: every worker known)
NEXT_MONTH_SAMPLE = 12


def _next_month(
    url: str, sample: list[tuple[Program, Any, Any]], folder: Any, out: Path
) -> dict[str, Any]:
    """The same rosters billed the month after, for a sample of regencies: what a month costs once
    the registry knows everyone (continuing workers, memberships extended, last month's lines read).
    Not in the national wall time."""
    month = data.NATIONAL_PERIOD.shift(1)
    steps = dict.fromkeys(("decide", "price", "record"), 0.0)
    rows = billed = 0
    for program, rosters, checked in sample:
        decided, _, took = _bill(url, program, month, rosters, checked, folder(program), out)
        for step, seconds in took.items():
            steps[step] += seconds
        rows += len(rosters.rows)
        billed += len(decided.billed)
    return {
        "period": str(month),
        "regencies": len(sample),
        "rows": rows,
        "billed": billed,
        "steps_s": {k: round(v, 2) for k, v in steps.items()},
        "us_per_row": {k: round(v / rows * 1e6, 1) for k, v in steps.items()} if rows else {},
    }


def _order(programs: list[Program]) -> list[Program]:
    rng = np.random.default_rng(data.SEED)
    return [programs[i] for i in rng.permutation(len(programs))]


def run(
    inbox: Path,
    programs: list[Program],
    workdir: Path,
    workers: int | None = None,
    budget: float = 0.0,
    profile: Path | None = None,
    total_rows: int = 0,
) -> dict[str, Any]:
    """The data plane over every program; `budget` > 0 stops after that many seconds and projects
    the rest from `total_rows` (the rows of every program's files)."""
    from iuran.db.session import get_engine, upgrade

    if workers is None:
        workers = max(1, (os.cpu_count() or 2) - 1)
    workdir.mkdir(parents=True, exist_ok=True)
    db = workdir / "national.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    url = f"sqlite:///{db}"
    upgrade(url)
    out = workdir / "out"
    month = data.NATIONAL_PERIOD
    order = _order(programs)
    steps = dict.fromkeys(("collect", "validate", "decide", "price", "record", "wait"), 0.0)
    counts = dict.fromkeys(("regencies", "files", "rows", "billed", "rejected"), 0)
    worker_cpu = 0.0
    done: list[str] = []
    trace: list[tuple[int, float, float, float, float]] = []  # rows, read, decide, record, at

    profiler = None
    if profile is not None:
        from pyinstrument import Profiler

        profiler = Profiler()
        profiler.start()

    def folder(p: Program) -> Path:
        return inbox / p.code / str(month)

    pool = ProcessPoolExecutor(max_workers=workers) if workers > 0 else None
    pending: deque[tuple[Program, Future[Any]]] = deque()
    queue = iter(order)

    def submit() -> None:
        p = next(queue, None)
        if p is not None and pool is not None:
            pending.append((p, pool.submit(_read_and_check, p, folder(p))))

    stopped = False
    sample: list[tuple[Program, Any, Any]] = []  # read again next month (`_next_month`)
    with PeakMemory() as memory, Stopwatch() as clock:
        try:
            for _ in range(workers + 1):
                submit()
            while True:
                if budget and time.perf_counter() - clock._wall > budget:
                    stopped = True
                    break
                if pool is not None:
                    if not pending:
                        break
                    program, future = pending.popleft()
                    t = time.perf_counter()
                    rosters, checked, times = future.result()
                    steps["wait"] += time.perf_counter() - t
                    submit()
                else:
                    program_or_none = next(queue, None)
                    if program_or_none is None:
                        break
                    program = program_or_none
                    rosters, checked, times = _read_and_check(program, folder(program))
                steps["collect"] += times["collect"]
                steps["validate"] += times["validate"]
                worker_cpu += times["worker_cpu"]

                decided, rejected, took = _bill(
                    url, program, month, rosters, checked, folder(program), out
                )
                for step, seconds in took.items():
                    steps[step] += seconds
                counts["regencies"] += 1
                counts["files"] += len(rosters.files)
                counts["rows"] += len(rosters.rows)
                counts["billed"] += len(decided.billed)
                counts["rejected"] += len(rejected)
                done.append(program.code)
                if len(sample) < NEXT_MONTH_SAMPLE:
                    sample.append((program, rosters, checked))
                trace.append(
                    (
                        len(rosters.rows),
                        round(times["collect"] + times["validate"], 3),
                        round(took["decide"], 3),
                        round(took["record"], 3),
                        round(time.perf_counter() - clock._wall, 1),
                    )
                )
        finally:
            for _, f in pending:
                f.cancel()
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)
    if profiler is not None and profile is not None:
        profiler.stop()
        profile.parent.mkdir(parents=True, exist_ok=True)
        profile.write_text(profiler.output_text(show_all=False))
    next_month = _next_month(url, sample, folder, out) if sample and not stopped else {}
    get_engine(url).dispose()

    wall = clock.wall
    projected = wall
    if stopped and trace:
        # the rest at the rate of the last quarter of the run (the rate falls as the database grows)
        recent = [t for t in trace if t[4] >= 0.75 * wall] or trace[-1:]
        span = wall - (trace[trace.index(recent[0]) - 1][4] if trace.index(recent[0]) else 0.0)
        rate = sum(t[0] for t in recent) / span if span > 0 else 0.0
        left = max(0, total_rows - counts["rows"]) if total_rows else 0
        projected = wall + (left / rate if rate else 0.0)
    # µs a row per quarter of the run: how the cost grows with the database
    quarters = []
    for part in np.array_split(np.array(trace, dtype=float), 4) if len(trace) >= 4 else []:
        n_rows = part[:, 0].sum()
        quarters.append(
            {
                k: round(part[:, i].sum() / n_rows * 1e6, 1)
                for i, k in ((1, "read"), (2, "decide"), (3, "record"))
            }
        )
    result: dict[str, Any] = {
        **counts,
        "regencies_total": len(programs),
        "workers": workers,
        "wall_s": round(wall, 2),
        "main_cpu_s": round(clock.cpu, 2),
        "worker_cpu_s": round(worker_cpu, 2),
        "rows_per_s": round(counts["rows"] / wall) if wall else 0,
        "peak_rss_gb": round(memory.peak / 2**30, 2),
        "rusage_max_gb": {k: round(v / 2**30, 2) for k, v in memory.rusage_max().items()},
        "steps_s": {k: round(v, 2) for k, v in steps.items()},
        "db_mb": round(sum(Path(f"{db}{s}").stat().st_size for s in ("",) if db.exists()) / 2**20),
        "partial": stopped,
        "projected_wall_s": round(projected, 1),
        "us_per_row_by_quarter": quarters,
        "next_month": next_month,
        "programs_done": done,
        "trace": {
            "columns": ["rows", "collect_validate_s", "decide_s", "record_s", "at_s"],
            "regencies": trace,
        },
    }
    return result
