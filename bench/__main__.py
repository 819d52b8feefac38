"""`make bench` = `python -m bench`: generate the data (once), run the five cases, print the table,
write `bench/results.json`.

    python -m bench                    # everything (about 8 minutes on 2 cores once the data exists)
    python -m bench --only regency     # one case: documents | regency | orchestration | layouts
                                       #   | national | province | loket | startup
    python -m bench --quick            # a small smoke version (results in bench/data/results-quick.json)
    python -m bench --readme           # also put the table into README.md's Performance section

Each case runs in its own process (`python -m bench.run CASE`); its log is kept in
`bench/data/runs/<case>.log`.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from typing import Any

from bench import data
from bench.machine import git, machine, timestamp
from bench.report import README, render_table, rows, update_readme

RESULTS = data.ROOT / "results.json"
#: The national case's share of the 15 minutes `make bench` may take; if it has not finished by then,
#: the rest is projected from its latest rate (and the table says so).
BUDGET = 540.0
ORDER = (
    "prepare", "documents", "regency", "layouts", "national", "bare", "province", "loket", "startup",
)  # fmt: skip
WANTS = {
    "documents": ("documents",),
    "regency": ("regency",),
    "orchestration": ("regency",),
    "layouts": ("layouts",),
    "national": ("national", "bare"),
    "province": ("province",),
    "loket": ("loket",),
    "startup": ("startup",),
}


#: Long per-program lists stay in bench/data/runs/<case>.json, out of the committed results.
BULKY = {"national": ("programs_done", "trace"), "bare": ("per_program",)}


def _compact(report: dict[str, Any]) -> dict[str, Any]:
    cases = {
        name: {k: v for k, v in case.items() if k not in BULKY.get(name, ())}
        for name, case in report["cases"].items()
    }
    return report | {"cases": cases}


def run_case(case: str, quick: bool, extra: list[str]) -> dict[str, Any]:
    runs = data.DATA / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    out = runs / f"{case}{'-quick' if quick else ''}.json"
    log = runs / f"{case}{'-quick' if quick else ''}.log"
    out.unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "bench.run", case, "--out", str(out), *extra]
    if quick:
        cmd.append("--quick")
    print(f"· {case} …", end=" ", flush=True)
    t = time.perf_counter()
    with log.open("w") as f:
        done = subprocess.run(cmd, cwd=data.ROOT.parent, stdout=f, stderr=subprocess.STDOUT)
    seconds = time.perf_counter() - t
    if done.returncode != 0 or not out.exists():
        print(f"FAILED after {seconds:.0f} s (log: {log})")
        return {"error": f"exit {done.returncode}, see {log}", "case_s": round(seconds, 1)}
    print(f"{seconds:.0f} s")
    result: dict[str, Any] = json.loads(out.read_text())
    result["case_s"] = round(seconds, 1)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--only", choices=sorted(WANTS), action="append")
    parser.add_argument("--quick", action="store_true", help="a small smoke version")
    parser.add_argument("--workers", type=int, help="national: reader processes (cores - 1)")
    parser.add_argument(
        "--budget", type=float, default=BUDGET,
        help=f"national: stop after this many seconds and project the rest (default {BUDGET:.0f};"
        " 0: run it all, about 14 minutes here)",
    )  # fmt: skip
    parser.add_argument("--profile", action="store_true", help="national: pyinstrument profile")
    parser.add_argument("--limit", type=int, help="province: flow runs a worker takes at once (4)")
    parser.add_argument("--readme", action="store_true", help="update README.md's table")
    parser.add_argument(
        "--table-only", action="store_true",
        help="print (and with --readme, publish) the table of the last results, run nothing",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if args.table_only:
        report = json.loads(RESULTS.read_text())
        report["table"] = rows(report["cases"])
        RESULTS.write_text(json.dumps(_compact(report), indent=1, default=str) + "\n")
        print(render_table(report))
        if args.readme:
            update_readme(report)
        return 0

    cases = [c for c in ORDER if c == "prepare" or any(c in WANTS[o] for o in args.only or WANTS)]
    target = data.DATA / "results-quick.json" if args.quick else RESULTS
    previous = json.loads(target.read_text()) if target.exists() else {}
    results: dict[str, Any] = dict(previous.get("cases", {})) if args.only else {}

    suffix = "-quick" if args.quick else ""
    started = time.perf_counter()
    print(f"iuran bench{' (quick)' if args.quick else ''}: {', '.join(cases)}")
    for case in cases:
        extra: list[str] = []
        if case == "bare" and "error" not in results.get("national", {"error": 1}):
            extra += ["--programs-from", str(data.DATA / "runs" / f"national{suffix}.json")]
        if case == "national":
            extra += ["--budget", str(args.budget)]
            if args.workers is not None:
                extra += ["--workers", str(args.workers)]
            if args.profile:
                extra += ["--profile", str(data.DATA / "runs" / "national-profile.txt")]
        if case == "province" and args.limit:
            extra += ["--limit", str(args.limit)]
        results[case] = run_case(case, args.quick, extra)
    total = time.perf_counter() - started

    report = {
        "timestamp": timestamp(),
        "quick": args.quick,
        "machine": machine(),
        "git": git(),
        "bench_s": round(total, 1),
        "cases": results,
    }
    report["table"] = rows(results)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(_compact(report), indent=1, default=str) + "\n")
    print()
    print(render_table(report))
    print(f"\n{len(cases)} steps in {total:.0f} s; figures in {target}")
    if args.readme and not args.quick:
        update_readme(report)
        print(f"README table updated: {README}")
    return 0 if all("error" not in r for r in results.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
