"""One case in its own process: `python -m bench.run CASE [--quick] [--out FILE]`.

A process per case keeps each case's memory, threads and Prefect settings to itself: the national
case's peak RSS is its own, and the Prefect server the regency case starts dies with it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from bench import data

CASES = (
    "prepare", "documents", "regency", "layouts", "national", "bare", "province", "loket", "startup",
)  # fmt: skip


def prefect_env() -> None:
    """The ephemeral API with a bench-owned home (never a configured server: the case measures the
    embedded default), quiet analytics, a generous first-start timeout."""
    os.environ.pop("PREFECT_API_URL", None)
    os.environ["PREFECT_HOME"] = str(data.DATA / "prefect")
    Path(os.environ["PREFECT_HOME"]).mkdir(parents=True, exist_ok=True)
    os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")


def national_data(quick: bool) -> tuple[data.Dataset, list[Any]]:
    return data.national(regencies=12 if quick else None, per_village=10 if quick else 100)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run")
    parser.add_argument("case", choices=CASES)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--budget", type=float, default=0.0)
    parser.add_argument("--profile", type=Path, default=None)
    parser.add_argument("--programs-from", type=Path, default=None)
    parser.add_argument(
        "--registry", choices=("sqlite", "postgres"), action="append",
        help="national: the registry database(s) to run on (default both, SQLite first)",
    )  # fmt: skip
    parser.add_argument(
        "--limit", type=int, default=None, help="province: runs a worker takes at once"
    )
    args = parser.parse_args(argv)
    args.registry = args.registry or ["sqlite", "postgres"]
    runs = data.DATA / "runs"

    result: dict[str, Any]
    if args.case == "prepare":
        lahat = data.lahat(*((20, 10) if args.quick else (None, 100)))
        small = data.lahat(12, 5)
        mixed = data.lahat_mixed(args.quick)
        country, _ = national_data(args.quick)
        result = {
            name: {
                "files": d.files,
                "rows": d.rows,
                "seconds": round(d.seconds, 1),
                "reused": d.reused,
            }
            for name, d in (
                ("lahat", lahat),
                ("lahat_small", small),
                ("lahat_mixed", mixed),
                ("national", country),
            )
        }
    elif args.case == "documents":
        from bench import documents

        result = documents.run(args.quick)
    elif args.case == "regency":
        prefect_env()
        from bench import regency

        result = regency.run(runs / "regency", args.quick)
    elif args.case == "province":
        from bench import province

        result = province.run(runs / "province", args.quick, args.limit or province.WORKER_LIMIT)
    elif args.case == "layouts":
        from bench import layouts

        result = layouts.run(runs / "layouts", args.quick)
    elif args.case == "startup":
        from bench import startup

        result = startup.run(runs / "startup", args.quick)
    elif args.case == "loket":
        from bench import loket

        result = loket.run(args.quick)
    elif args.case == "bare":
        from bench import national

        dataset, programs = national_data(args.quick)
        subsets: dict[str, list[str]] = {}
        if args.programs_from is not None:  # the programs the national case got through
            ran = json.loads(args.programs_from.read_text())
            order = ran.get("programs_done", [])
            subsets = {k: order[:n] for k, n in ran.get("done_by_registry", {}).items()}
            programs = [p for p in programs if p.code in set(order)]
        result = national.bare_read(dataset.inbox, programs, subsets)
    else:
        from bench import national

        dataset, programs = national_data(args.quick)
        result = national.both(
            dataset.inbox, programs, runs / "national", tuple(args.registry), args.workers,
            args.budget, args.profile, total_rows=dataset.rows,
        )  # fmt: skip
        result["generate_s"] = round(dataset.seconds, 1)
        result["generated_files"] = dataset.files
        result["generated_rows"] = dataset.rows
    text = json.dumps(result, indent=1, default=str)
    if args.out:
        args.out.write_text(text)
    else:
        sys.stdout.write(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
