"""`iuran`: the operator's and admin's command line."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from iuran.config import VAR, load_settings, prefect_defaults

prefect_defaults()

app = typer.Typer(
    help="Monthly BPJS Ketenagakerjaan contribution cycle (JKK + JKM).", no_args_is_help=True
)
db_app = typer.Typer(help="Database migrations.", no_args_is_help=True)
app.add_typer(db_app, name="db")

DbOpt = Annotated[
    str | None,
    typer.Option("--db", help="database URL (default: IURAN_DATABASE_URL or var/iuran.db)"),
]


def _fail(message: str) -> None:
    typer.secho(message, err=True, fg=typer.colors.RED)
    raise typer.Exit(2)


@db_app.command("upgrade")
def db_upgrade(db: DbOpt = None) -> None:
    """Apply the Alembic migrations up to head."""
    from iuran.db.session import upgrade

    settings = load_settings(db)
    upgrade(settings.database_url)
    typer.echo(f"database at head: {_safe_url(settings.database_url)}", err=True)


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@app.command("generate-rosters")
def generate_rosters(
    program: Annotated[str, typer.Option(help="program code, e.g. lebak")],
    period: Annotated[str, typer.Option(help="YYYY-MM")],
    inbox: Annotated[Path, typer.Option(help="inbox folder")] = VAR / "inbox",
    villages: Annotated[int | None, typer.Option(help="first N villages of the regency")] = None,
    per_village: Annotated[
        int | None, typer.Option(help="workers per village (default: the quota)")
    ] = None,
    faults: Annotated[float, typer.Option(help="share of extra rows with typical faults")] = 0.0,
    seed: Annotated[int, typer.Option(help="random seed")] = 2026,
) -> None:
    """Write realistic demo rosters, one file per village, CSV and XLSX mixed."""
    from iuran.generate import generate_rosters as generate
    from iuran.periods import Period
    from iuran.programs import load_program

    report = generate(
        load_program(program), Period.parse(period), inbox, villages, per_village, faults, seed
    )
    typer.echo(
        f"{report.rows} rows ({report.valid_rows} valid, faults {report.fault_rows}) "
        f"in {len(report.files)} files under {inbox / program / period}"
    )


def run_cycle(
    program: str,
    period: str,
    inbox: Path | None,
    db: str | None,
    out: Path | None,
    dry_run: bool = False,
    today: dt.date | None = None,
) -> dict[str, Any]:
    from flows.monthly_cycle import monthly_cycle
    from iuran.db.session import upgrade

    settings = load_settings(db, inbox, out)
    upgrade(settings.database_url)
    return monthly_cycle(
        program=program,
        period=period,
        inbox=str(settings.inbox),
        db=settings.database_url,
        out=str(settings.out),
        dry_run=dry_run,
        today=today,
    )


@app.command("cycle")
def cycle(
    program: Annotated[str, typer.Option(help="program code, e.g. lebak")],
    period: Annotated[str, typer.Option(help="YYYY-MM")],
    inbox: Annotated[Path | None, typer.Option(help="inbox folder (default var/inbox)")] = None,
    db: DbOpt = None,
    out: Annotated[Path | None, typer.Option(help="documents folder (default var/out)")] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="print one JSON object on stdout")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="report what would change, write nothing")
    ] = False,
) -> None:
    """Run the monthly cycle for one program and period (a rerun changes only what changed)."""
    with contextlib.redirect_stdout(sys.stderr):
        summary = run_cycle(program, period, inbox, db, out, dry_run)
    if as_json:
        sys.stdout.write(json.dumps(summary, ensure_ascii=False) + "\n")
    else:
        _print_summary(summary)


def _print_summary(s: dict[str, Any]) -> None:
    from iuran.money import rupiah

    r, p, b = s["rows"], s["participants"], s["budget"]
    typer.echo(
        f"{s['program']} {s['period']}: {s['status']}{' (dry run)' if s.get('dry_run') else ''}"
    )
    typer.echo(
        f"  rows: {r['received']} received, {r['accepted']} accepted, {r['rejected']} rejected"
    )
    typer.echo(
        f"  participants: {p['billed']} billed ({p['new']} new, {p['continuing']} continuing), {p['ended']} ended"
    )
    typer.echo(f"  total due: {rupiah(s['total_due'])} in {len(s['invoices'])} invoice(s)")
    for inv in s["invoices"][:5]:
        typer.echo(
            f"    {inv['number']} rev {inv['revision']} {inv['status']}: {rupiah(inv['total'])} -> {inv['pdf']}"
        )
    if len(s["invoices"]) > 5:
        typer.echo(f"    … and {len(s['invoices']) - 5} more")
    typer.echo(
        f"  budget: pagu {rupiah(b['pagu'])}, billed to date {rupiah(b['billed_to_date'])}, "
        f"projected {rupiah(b['projected_year'])}, shortfall {rupiah(b['shortfall'])}"
    )
    typer.echo(
        f"  notifications: {s['notifications']['queued']} queued, {s['notifications']['sent']} sent"
    )


DEMO = [
    # program, period, villages, per village, faults
    ("lebak", "2026-01", None, 10, 0.02),
    ("lebak", "2026-02", None, 10, 0.02),
    ("lahat", "2025-09", None, 20, 0.02),
]


@app.command("demo")
def demo(seed: Annotated[int, typer.Option(help="random seed")] = 2026) -> None:
    """Generate demo rosters and run whole monthly cycles on the embedded defaults."""
    from iuran.generate import generate_rosters as generate
    from iuran.periods import Period
    from iuran.programs import load_program

    settings = load_settings()
    for code, period, villages, per_village, faults in DEMO:
        generate(
            load_program(code),
            Period.parse(period),
            settings.inbox,
            villages,
            per_village,
            faults,
            seed,
        )
    summaries = []
    with contextlib.redirect_stdout(sys.stderr):
        for code, period, *_ in DEMO:
            summaries.append(run_cycle(code, period, None, None, None))
    for s in summaries:
        _print_summary(s)
    typer.echo("")
    typer.echo(f"rosters:   {settings.inbox}")
    typer.echo(f"invoices:  {settings.out}/<program>/<period>/*.pdf and *.xlsx")
    typer.echo(f"e-mails:   {settings.outbox}/*.eml (no SMTP server configured)")
    typer.echo(f"database:  {_safe_url(settings.database_url)}")
    typer.echo(
        "Run `make demo` again: unchanged rosters answer 'unchanged' and bill nothing twice."
    )


if __name__ == "__main__":
    app()
