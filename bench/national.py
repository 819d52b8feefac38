"""Case 2: the national data plane. 514 regency programs, one registry database, no documents:
SQLite, then (`on_postgres`) the same run with PostgreSQL as the registry, a fresh database.

Each regency goes through the cycle's plain step functions, as `tests/pipeline.py` calls them:
collect → validate → decide (registry + reconcile) → price → record (persist). Design, for 2 cores:

* a process pool (`workers`, default cores − 1) reads and validates regencies ahead of the writer:
  both steps are pure (files in, frames out), so a worker may run them for any regency at any time;
* the main process decides, prices and records one regency after the other, in one database.
  Deciding reads the registry that earlier regencies wrote (double funding across programs), so it
  stays in the writer, in order; SQLite has one writer anyway. PostgreSQL would take two writers,
  but not two deciders: `decide` rejects a worker already billed this period by another program
  (`NIK_PROGRAM_LAIN`, from `load_registry`'s `elsewhere`: the current lines of the other programs),
  so two regencies deciding at once would each miss the other's lines and bill a worker listed in
  both twice. Deciding N+1 needs N recorded (committed), so on either database the writer is one.

At most `workers + 1` regencies are read ahead, which bounds memory. Regencies run in a fixed
shuffled order, so a run stopped by `budget` has processed a mixed sample of the country and its
projection (rows left / measured rows per second) is fair.

`profile` runs cProfile in the writer on its CPU clock (the pool's and the database server's own
CPU are counted apart: `worker_cpu_s`, `server_cpu_s`).

The bare read is the limit to compare with: the same files read in one process with nothing else
(pyarrow for CSV, every column as text; python-calamine for XLSX, the first sheet as cells).
"""

from __future__ import annotations

import cProfile
import datetime as dt
import io
import json
import os
import pstats
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


def bare_read(
    inbox: Path, programs: list[Program], subsets: dict[str, list[str]] | None = None
) -> dict[str, Any]:
    """Every roster file once, in one process: seconds and rows per program folder; with
    `subsets`, also the seconds of each subset's programs (each registry's run got through its own
    number of regencies: the same shuffled order, so one is a prefix of the other)."""
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
    seconds_of = {
        name: round(sum(per_program[c][0] for c in codes if c in per_program), 2)
        for name, codes in (subsets or {}).items()
    }
    return {
        "seconds": round(total.wall, 2),
        "seconds_of": seconds_of,
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
    url: str | None = None,
) -> dict[str, Any]:
    """The data plane over every program; `budget` > 0 stops after that many seconds and projects
    the rest from `total_rows` (the rows of every program's files). `url`: an empty registry
    database (PostgreSQL); none, a fresh SQLite file in `workdir`."""
    from iuran.db.session import get_engine, upgrade

    if workers is None:
        workers = max(1, (os.cpu_count() or 2) - 1)
    workdir.mkdir(parents=True, exist_ok=True)
    db = workdir / "national.db"
    if url is None:
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

    # the writer's CPU, not its waits: a wait on the database server is the server's CPU
    profiler = cProfile.Profile(time.process_time) if profile is not None else None
    if profiler is not None:
        profiler.enable()

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
        profiler.disable()
        write_profile(profiler, profile)
    server_cpu = server_cpu_seconds(url)
    next_month = _next_month(url, sample, folder, out) if sample and not stopped else {}
    db_mb = database_mb(url)
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
        "registry": get_engine(url).dialect.name,
        "regencies_total": len(programs),
        "workers": workers,
        "wall_s": round(wall, 2),
        "main_cpu_s": round(clock.cpu, 2),
        "worker_cpu_s": round(worker_cpu, 2),
        "server_cpu_s": server_cpu,
        "rows_per_s": round(counts["rows"] / wall) if wall else 0,
        "peak_rss_gb": round(memory.peak / 2**30, 2),
        "rusage_max_gb": {k: round(v / 2**30, 2) for k, v in memory.rusage_max().items()},
        "steps_s": {k: round(v, 2) for k, v in steps.items()},
        "db_mb": db_mb,
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


# ----------------------------------------------------------------------------------- PostgreSQL


def on_postgres(
    inbox: Path, programs: list[Program], workdir: Path, **options: Any
) -> dict[str, Any]:
    """`run` (with its `options`) and PostgreSQL as the registry (`bench.postgres`: the bench's
    server or a throwaway one), a fresh database; or why it was skipped."""
    from bench.postgres import fresh_database, server

    with server() as (found, how):
        if found is None:
            return {"skipped": how}
        url = fresh_database(found, "iuran_bench_national")
        result = run(inbox, programs, workdir, url=url, **options)
        return {"server": how, **result}


#: Per-regency lists kept out of the PostgreSQL run's part of the case's result (in its own file)
_LISTS = ("programs_done", "trace")


def both(
    inbox: Path,
    programs: list[Program],
    workdir: Path,
    registries: tuple[str, ...] = ("sqlite", "postgres"),
    workers: int | None = None,
    budget: float = 0.0,
    profile: Path | None = None,
    total_rows: int = 0,
) -> dict[str, Any]:
    """The case on each registry, each with its own `budget`: SQLite's figures at the top (as
    before), PostgreSQL's under "postgres". `programs_done` is the longer run's list (both follow
    the same order), and `done_by_registry` says how many of it each got through, for the bare read
    of the same files."""
    result: dict[str, Any] = {}
    for registry in registries:
        own = profile.with_name(f"{profile.stem}-{registry}{profile.suffix}") if profile else None
        if registry == "sqlite":
            one = run(inbox, programs, workdir / "sqlite", workers, budget, own, total_rows)
            result.update(one)
        else:
            one = on_postgres(
                inbox, programs, workdir / "postgres", workers=workers, budget=budget,
                profile=own, total_rows=total_rows,
            )  # fmt: skip
            (workdir / "postgres.json").write_text(json.dumps(one, indent=1, default=str))
            result["postgres"] = {k: v for k, v in one.items() if k not in _LISTS}
        done = one.get("programs_done", [])
        if len(done) > len(result.get("programs_done", [])):
            result["programs_done"] = done
        result.setdefault("done_by_registry", {})[registry] = len(done)
    return result


def server_cpu_seconds(url: str) -> float | None:
    """CPU seconds of the PostgreSQL backends serving this database now (the writer's pooled
    connections, open since its first regency), from /proc: the work the writer waited on. None on
    SQLite (its work is the writer's own) or when the server's processes are not on this machine."""
    from sqlalchemy import text

    from iuran.db.session import get_engine

    engine = get_engine(url)
    if engine.dialect.name != "postgresql":
        return None
    with engine.connect() as conn:
        pids = conn.scalars(
            text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
        ).all()
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        total += (int(fields[11]) + int(fields[12])) / ticks  # utime + stime
    return round(total, 2)


def database_mb(url: str) -> int:
    from sqlalchemy import text

    from iuran.db.session import get_engine

    engine = get_engine(url)
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            size = conn.scalar(text("SELECT pg_database_size(current_database())"))
        return round(int(size or 0) / 2**20)
    db = Path(engine.url.database or "")
    return round(db.stat().st_size / 2**20) if db.is_file() else 0


def write_profile(profiler: cProfile.Profile, path: Path) -> None:
    """The writer's CPU profile: the raw stats (`path`.prof, for snakeviz / pstats) and the top
    functions by own and by cumulative time as text."""
    path.parent.mkdir(parents=True, exist_ok=True)
    profiler.dump_stats(path.with_suffix(".prof"))
    text = io.StringIO()
    stats = pstats.Stats(profiler, stream=text)
    for order in ("tottime", "cumulative"):
        text.write(f"\n==== by {order} (CPU seconds of the writer) ====\n")
        stats.sort_stats(order).print_stats(45)
    path.write_text(text.getvalue())
