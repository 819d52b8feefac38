"""The results table: each figure beside its target (issue 7), printed and put into the README."""

from __future__ import annotations

import re
from typing import Any

from bench.data import ROOT

README = ROOT.parent / "README.md"
START, END = "<!-- bench:table -->", "<!-- /bench:table -->"


def _pct(part: float, whole: float) -> float:
    return 100 * part / whole if whole else 0.0


def _met(ok: bool | None) -> str:
    return "–" if ok is None else ("yes" if ok else "**no**")


def rows(cases: dict[str, Any]) -> list[dict[str, str]]:
    """One row per figure: case, figure, value, target, met."""
    out: list[dict[str, str]] = []

    def add(case: str, figure: str, value: str, target: str = "", ok: bool | None = None) -> None:
        out.append(
            {"case": case, "figure": figure, "value": value, "target": target, "met": _met(ok)}
        )

    r = cases.get("regency", {})
    if "runs" in r:
        first = r["runs"]["first"]["flow"]["wall_s"]
        unchanged = r["runs"]["unchanged"]["flow"]["wall_s"]
        one = r["runs"]["one_village"]["flow"]["wall_s"]
        case = f"1 Regency cycle ({r['villages']} villages, {r['rows']:,} rows)"
        add(case, "first cycle, whole flow", f"{first:.1f} s", "≤ 20 s (aim 10 s)", first <= 20)
        add(
            case, "unchanged rerun", f"{unchanged:.1f} s ({_pct(unchanged, first):.0f} %)",
            "≤ 10 % of the cycle", unchanged <= 0.10 * first,
        )  # fmt: skip
        add(
            case, "one village changed", f"{one:.1f} s ({_pct(one, first):.0f} %)",
            "≤ 15 % of the cycle", one <= 0.15 * first,
        )  # fmt: skip
        add(case, "ephemeral server start (apart)", f"{r['server_start_s']:.1f} s", "reported")
        add(case, "same work, plain calls", f"{r['runs']['first']['plain']['wall_s']:.1f} s")
        postgres_rows(r, case, add)
    elif r:
        add("1 Regency cycle", "error", r.get("error", "?"))

    n, bare = cases.get("national", {}), cases.get("bare", {})
    if "wall_s" in n:
        case = f"2 National data plane ({n['regencies']}/{n['regencies_total']} regencies)"
        national_rows(n, bare, case, "", "sqlite", add)
        pg = n.get("postgres") or {}
        if "skipped" in pg:
            add(case, "on PostgreSQL", f"skipped: {pg['skipped']}", "≤ 150 s")
        elif "wall_s" in pg:
            national_rows(pg, bare, case, "on PostgreSQL: ", "postgres", add)
    elif n:
        add("2 National data plane", "error", n.get("error", "?"))

    d = cases.get("documents", {})
    if "pdf_per_s_per_core" in d:
        case = f"3 Documents ({d['lines']} lines, {d['pages']} pages: cover + detail)"
        add(case, "invoice PDFs / s / core", f"{d['pdf_per_s_per_core']:.0f} ({d['pdf_ms']} ms)",
            "≥ 50", d["pdf_per_s_per_core"] >= 50)  # fmt: skip
        add(
            case,
            "PDF + XLSX pairs / s / core",
            f"{d['pair_per_s_per_core']:.0f} ({d['pair_ms']} ms)",
        )
        if "pool_pairs_per_s" in d:
            add(case, f"PDF + XLSX pairs / s, {d['pool_processes']} processes",
                f"{d['pool_pairs_per_s']:.0f}")  # fmt: skip
    elif d:
        add("3 Documents", "error", d.get("error", "?"))

    if "runs" in r:
        case = "4 Orchestration"
        big, small = r["task_runs"], r["task_runs_small"]
        add(
            case, f"task runs per cycle ({r['rows']:,} rows / {r['small']['rows']} rows)",
            f"{big} / {small}", "constant (no task per village)", big == small,
        )  # fmt: skip
        # Prefect's share: flow wall minus the task runs' own time (from the API), and, noisier on a
        # shared machine, flow wall minus the same cycle as plain calls in the same process.
        for name, label in (
            ("first", "Prefect's share of the first cycle"),
            ("unchanged", "… of the unchanged rerun"),
            ("one_village", "… of the one-village rerun"),
        ):
            run = r["runs"][name]
            add(
                case, label,
                f"{100 * run['prefect_share_api']:.0f} % "
                f"({run['flow']['wall_s'] - run['flow']['task_s']:.1f} s; plain-call comparison "
                f"{100 * run['prefect_share']:.0f} %)",
            )  # fmt: skip

    lay = cases.get("layouts", {})
    if "layouts" in lay:
        case = f"5 Village layouts ({lay['villages']} villages, {len(lay['layouts'])} layouts, {lay['rows']:,} rows)"
        if lay.get(
            "measured_apart"
        ):  # run alone (`python -m bench.run layouts`), not in this bench
            case += f"; measured apart {lay['measured_apart']}"
        add(
            case, "rows read / generated", f"{lay['rows_read']:,} / {lay['rows']:,}",
            "all", lay["rows_read"] == lay["rows"] and not lay["files_rejected"],
        )  # fmt: skip
        add(
            case, "workers billed / valid rows generated", f"{lay['billed']:,} / {lay['valid_rows']:,}",
            "all", lay["billed"] == lay["valid_rows"],
        )  # fmt: skip
        add(
            case, "month read, validated, reconciled + priced",
            f"{lay['read_s']:.1f} + {lay['validate_s']:.1f} + {lay['reconcile_price_s']:.1f} s",
            "reported",
        )  # fmt: skip
        for name, one in lay["layouts"].items():
            rate = (
                one["rows"] / one["read_s"] if one["read_s"] else 0.0
            )  # a refused file is read too
            add(
                case, f"read `{name}` alone ({one['villages']} files)",
                f"{one['read_s']:.2f} s ({rate:,.0f} rows/s); {one['rows_read']:,} / {one['rows']:,} rows kept",
                "all rows", one["rows_read"] == one["rows"] and not one["files_rejected"],
            )  # fmt: skip
            for code, n in one.get("refusals", {}).items():
                add(case, f"… `{name}` files refused whole", f"{n} × {code}", "none", False)
    elif lay:
        add("5 Village layouts", "error", lay.get("error", "?"))
    province_rows(cases.get("province", {}), add)
    w = cases.get("loket", {})
    if "villages" in w:
        case = (
            f"7 Loket rush ({w['villages']} villages, {w['concurrency']} at a time, cycles running)"
        )
        add(
            case, "uploads answered / intact in the inbox / recorded",
            f"{w['answered_200']} / {w['files_intact']} / {w['uploads_recorded']}",
            "all, none lost or half-written", w["ok"],
        )  # fmt: skip
        add(case, "upload response p50 / p95 / max",
            f"{w['upload_p50_s']:.2f} / {w['upload_p95_s']:.2f} / {w['upload_max_s']:.2f} s",
            "reported")  # fmt: skip
        add(case, "all uploads, wall", f"{w['wall_s']:.0f} s", "≤ 600 s", w["wall_s"] <= 600)
        add(case, "cycles run meanwhile", str(w["cycles_meanwhile"]))
    elif w:
        add("7 Loket rush", "error", w.get("error", "?"))
    startup_rows(cases.get("startup", {}), add)
    return out


def national_rows(
    n: dict[str, Any], bare: dict[str, Any], case: str, on: str, registry: str, add: Any
) -> None:
    """One registry's national run: wall (or its projection) and the bare read of the regencies
    it got through, beside their targets; `on` prefixes the figures (PostgreSQL's)."""
    wall = n["wall_s"]
    if n.get("partial"):
        share = (  # PostgreSQL's part of the result has no `generated_rows`: its regencies then
            100 * n["rows"] / n["generated_rows"]
            if n.get("generated_rows")
            else 100 * n["regencies"] / max(1, n["regencies_total"])
        )
        wall = n["projected_wall_s"]
        add(
            case, f"{on}wall, projected (stopped at the {n['wall_s']:.0f} s budget, {share:.0f} % done)",
            f"{wall:.0f} s", "≤ 150 s", wall <= 150,
        )  # fmt: skip
    else:
        add(case, f"{on}wall", f"{wall:.0f} s", "≤ 150 s", wall <= 150)
    add(case, f"{on}rows", f"{n['rows']:,} ({n['rows_per_s']:,} rows/s)")
    add(case, f"{on}peak RSS (all processes)", f"{n['peak_rss_gb']:.2f} GB", "≤ 6 GB",
        n["peak_rss_gb"] <= 6)  # fmt: skip
    cpu = f"{n['main_cpu_s']:.0f} / {n['worker_cpu_s']:.0f}"
    if n.get("server_cpu_s") is not None:
        add(case, f"{on}CPU: writer / readers / database server",
            f"{cpu} / {n['server_cpu_s']:.0f} s", "reported")  # fmt: skip
    else:
        add(case, f"{on}CPU: writer (and its database) / readers", f"{cpu} s", "reported")
    nm = n.get("next_month") or {}
    if nm.get("us_per_row"):
        us = nm["us_per_row"]
        add(
            case, f"{on}next month, {nm['regencies']} regencies again ({nm['rows']:,} rows, all known)",
            f"decide {us['decide']} + record {us['record']} µs a row", "reported",
        )  # fmt: skip
    if "seconds" in bare:  # the bare read covers the programs the national case got through
        seconds = (bare.get("seconds_of") or {}).get(registry, bare["seconds"])
        ratio = n["wall_s"] / seconds if seconds else 0.0
        rate = f"{bare['rows_per_s']:,} rows/s"
        add(
            case, f"{on}vs bare read of the same files (pyarrow + calamine, 1 process)",
            f"{ratio:.1f} × ({seconds:.0f} s, {rate})", "≤ 1.5 ×", ratio <= 1.5,
        )  # fmt: skip


def postgres_rows(r: dict[str, Any], case: str, add: Any) -> None:
    """The regency's plain cycles with PostgreSQL as the registry, beside SQLite's (issue 19.4)."""
    pg = r.get("postgres") or {}
    if "skipped" in pg:
        add(case, "same work on PostgreSQL", f"skipped: {pg['skipped']}", "≤ 1.2 × SQLite")
    if "first" not in pg:
        return
    sqlite, first = r["runs"]["first"]["plain"], pg["first"]
    ratio = first["wall_s"] / sqlite["wall_s"] if sqlite["wall_s"] else 0.0
    add(
        case, "same work on PostgreSQL, plain calls", f"{first['wall_s']:.1f} s ({ratio:.2f} × SQLite)",
        "≤ 1.2 × SQLite", ratio <= 1.2,
    )  # fmt: skip
    add(
        case, "… its recording transaction, PostgreSQL / SQLite",
        f"{first['steps_s']['record']:.1f} s / {sqlite['steps_s']['record']:.1f} s", "reported",
    )  # fmt: skip
    add(
        case, "… unchanged rerun / one village changed, PostgreSQL",
        f"{pg['unchanged']['wall_s']:.2f} s / {pg['one_village']['wall_s']:.1f} s", "reported",
    )  # fmt: skip


def startup_rows(s: dict[str, Any], add: Any) -> None:
    """Case 8 (issue 19, part 1): each command as an admin meets it, the median of three runs."""
    if "error" in s:
        add("8 Start-up", "error", s["error"])
    if "cycle_embedded" not in s:
        return
    case = (
        f"8 Start-up, from the shell (median of 3; {s['month']['billed']} workers billed; measured "
        f"{s['measured'][:16].replace('T', ' ')} UTC, load average {s['load_average']:.1f})"
    )

    def took(c: dict[str, Any]) -> str:
        return f"{c['median_s']:.1f} s" + (
            f" (CPU {c['cpu_median_s']:.1f} s)" if "cpu_s" in c else ""
        )

    add(case, "`iuran --help` / `iuran status`", f"{took(s['help'])} / {took(s['status'])}",
        "reported")  # fmt: skip
    e = s["cycle_embedded"]
    add(case, "unchanged `iuran cycle`, embedded default (answered before Prefect starts)",
        took(e), "≤ 3 s", e["median_s"] <= 3)  # fmt: skip
    if "cycle_server" in s:
        c = s["cycle_server"]
        add(case, "unchanged `iuran cycle` against a running server (a flow run each)",
            took(c), "≤ 2 s", c["median_s"] <= 2)  # fmt: skip
    w = s.get("worker")
    if w:
        add(case, "deployment run through a process worker: submitted → Completed",
            f"{w['submitted_to_completed_s_median']:.1f} s (the run itself "
            f"{w['run_s_median']:.1f} s)", "reported")  # fmt: skip
        adds = w["worker_adds_s_median"]
        add(case, "… what the worker adds (submitted → Running: poll, process, imports)",
            f"{adds:.1f} s", "≤ 3 s", adds <= 3)  # fmt: skip


def province_rows(p: dict[str, Any], add: Any) -> None:
    """Case 5 (issue 19): the province on a Prefect server, process workers and PostgreSQL."""
    if "error" in p:
        add("6 Province on the engine", "error", p["error"])
    if "workers_2" not in p:
        return
    case = (
        f"6 Province on the engine (Jawa Tengah: {p['regencies']} regencies, {p['villages']:,} "
        f"villages, {p['rows']:,} rows; Prefect server + PostgreSQL)"
    )
    if "measured" in p:
        add(case, "measured (load average at start)", f"{p['measured']} ({p['load_average']})")
    add(case, "each regency alone, plain calls on SQLite (no documents)", f"{p['alone_s']:.0f} s")
    add(case, "server start (PostgreSQL database) / deploying", f"{p['server_start_s']:.0f} s / "
        f"{p['deploy_s']:.0f} s")  # fmt: skip
    for key in ("workers_2", "workers_1"):
        w = p.get(key)
        if not w:
            continue
        who = f"{w['workers']} worker{'s' if w['workers'] > 1 else ''} (limit {w['limit']})"
        states = ", ".join(f"{n} {s}" for s, n in sorted(w["states"].items()))
        add(case, f"{who}: wall, all triggered at once", f"{w['wall_s']:.0f} s ({states})",
            "reported")  # fmt: skip
        add(case, "… runs' own time (start → end), summed", f"{w['runs_sum_s']:.0f} s")
        o = w["overhead_s"]
        add(
            case, "… overhead a run (created → Running), min / median / max",
            f"{o['min']:.0f} / {o['median']:.0f} / {o['max']:.0f} s (Pending → Running "
            f"{w['pending_to_running_s_median']:.0f} s)",
        )  # fmt: skip
        lease = w["lease_taken_after_start_s_max"]
        add(
            case, "… lease: taken after start (max); refused; lock errors",
            f"{'–' if lease is None else f'{lease:.1f} s'}; {w['lease_refusals']}; "
            f"{w['lock_trouble']}", "0 refused, 0 errors",
            w["lease_refusals"] == 0 and w["lock_trouble"] == 0,
        )  # fmt: skip
        m = w.get("mail", {})
        add(
            case, "… e-mail left waiting (deferred: document not yet rendered)",
            f"{m.get('pending', 0)} ({m.get('deferred_no_document', 0)})", "0", not m.get("pending"),
        )  # fmt: skip
        add(case, "… every regency's invoices, total, billed = alone", "yes" if w["totals_equal"]
            else f"{len(w['mismatches'])} differ", "all equal", w["totals_equal"])  # fmt: skip


def render_table(report: dict[str, Any]) -> str:
    table = report.get("table") or rows(report["cases"])
    lines = ["| case | figure | value | target | met |", "| --- | --- | --- | --- | --- |"]
    last = None
    for row in table:
        case = row["case"] if row["case"] != last else ""
        last = row["case"]
        lines.append(
            f"| {case} | {row['figure']} | {row['value']} | {row['target']} | {row['met']} |"
        )
    m, g = report["machine"], report["git"]
    lines.append("")
    lines.append(
        f"Measured {report['timestamp']} on {m['cores']} cores ({m['cpu']}), {m['memory_gb']} GB, "
        f"Python {m['python']}, load average at start {m['load_average'][0]}; commit "
        f"{g['commit'][:10]}{' + local changes' if g['dirty'] else ''}; `make bench` took "
        f"{report['bench_s']:.0f} s."
    )
    return "\n".join(lines)


def update_readme(report: dict[str, Any]) -> None:
    """Replace the table between the markers in README.md's Performance section."""
    text = README.read_text(encoding="utf-8")
    if START not in text or END not in text:
        raise SystemExit(f"{README}: no {START} … {END} markers")
    block = f"{START}\n{render_table(report)}\n{END}"
    README.write_text(
        re.sub(re.escape(START) + ".*?" + re.escape(END), lambda _: block, text, flags=re.S),
        encoding="utf-8",
    )
