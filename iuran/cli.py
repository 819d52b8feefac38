"""`iuran`: the operator's and admin's command line."""

from __future__ import annotations

import atexit
import contextlib
import datetime as dt
import json
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from iuran.cli_common import DbOpt, JsonOpt, TodayOpt, as_of, fail, migrated_url
from iuran.cli_payments import claims_app, payments_app
from iuran.config import VAR, load_settings, prefect_defaults, use_running_server

if TYPE_CHECKING:
    from iuran.config import Settings
    from iuran.periods import Period
    from iuran.programs import Program

prefect_defaults()

app = typer.Typer(
    help="Monthly BPJS Ketenagakerjaan contribution cycle (JKK + JKM).", no_args_is_help=True
)
db_app = typer.Typer(help="Database migrations.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(payments_app, name="payments")
app.add_typer(claims_app, name="claims")
users_app = typer.Typer(help="Accounts of the web counter (Loket).", no_args_is_help=True)
app.add_typer(users_app, name="users")


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


FORMAT_HELP = (
    "roster layout: template (CSV and XLSX), opensid, opensid-names, bantuan, xlsm, html, siak, "
    "or mixed (layouts spread over the villages)"
)


def _roster_format(fmt: str) -> str:
    from iuran.generate_formats import FORMATS

    if fmt not in FORMATS:
        raise typer.BadParameter(f"one of {', '.join(FORMATS)}", param_hint="--format")
    return fmt


@app.command("generate-rosters")
def generate_rosters(
    program: Annotated[str, typer.Option(help="program code, e.g. lebak")],
    period: Annotated[str, typer.Option(help="YYYY-MM")],
    inbox: Annotated[Path, typer.Option(help="inbox folder")] = VAR / "inbox",
    villages: Annotated[int | None, typer.Option(help="first N villages of the regency")] = None,
    per_village: Annotated[
        int | None,
        typer.Option(
            help="workers per village (default: the limit, else the target, else the headcount per village)"
        ),
    ] = None,
    faults: Annotated[float, typer.Option(help="share of extra rows with typical faults")] = 0.0,
    seed: Annotated[int, typer.Option(help="random seed")] = 2026,
    fmt: Annotated[str, typer.Option("--format", help=FORMAT_HELP)] = "template",
) -> None:
    """Write realistic demo rosters, one file per village, in the layout villages send."""
    from iuran.generate import generate_rosters as generate
    from iuran.periods import Period
    from iuran.programs import load_program

    report = generate(
        load_program(program),
        Period.parse(period),
        inbox,
        villages,
        per_village,
        faults,
        seed,
        fmt=_roster_format(fmt),
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
    """The month as a Prefect flow run: on `make up`'s server while it answers (the run is kept
    where operations see it), else on Prefect's temporary server. On the embedded default an
    unchanged month is answered before Prefect starts (`answer_unchanged`)."""
    from iuran.db.session import upgrade
    from iuran.month import refuse_outside
    from iuran.periods import Period
    from iuran.programs import load_program

    # Refused before a flow run starts (the month refuses it again, for every other caller).
    plan, month = load_program(program), Period.parse(period)
    refuse_outside(plan, month)
    settings = load_settings(db, inbox, out)
    upgrade(settings.database_url)
    if not dry_run and use_running_server() is None:
        kept = answer_unchanged(settings, plan, month)
        if kept is not None:
            return kept

    from flows.monthly_cycle import monthly_cycle

    # Only what the operator typed goes into the run's parameters: Prefect stores and shows them,
    # and a URL from IURAN_DATABASE_URL may carry a password.
    return monthly_cycle(
        program=program,
        period=period,
        inbox=str(inbox) if inbox else None,
        db=db,
        out=str(out) if out else None,
        dry_run=dry_run,
        today=today,
    )


def answer_unchanged(settings: Settings, plan: Program, month: Period) -> dict[str, Any] | None:
    """An unchanged month's answer without a flow run, or None: the flow runs the month.

    Only on the embedded default: there a flow run goes to a temporary server that lives as long as
    the command and shows no UI, so nobody could see the run, and starting it is most of the
    command's time (6-8 s of 9). The answer is the one the flow's recall step gives, taken under
    the cycle's lease like a run's; a month another run holds, or one that changed, goes to the flow.
    """
    from iuran.locks import CycleBusy, default_holder, held
    from iuran.month import unchanged_answer

    try:
        with held(
            settings.database_url,
            plan.code,
            str(month),
            default_holder("iuran cycle"),
            stale_after=settings.cycle_lease,
        ):
            answer = unchanged_answer(settings, plan, month)
    except CycleBusy:
        return None
    if answer is None:
        return None
    typer.echo(
        f"{plan.code} {month}: unchanged since its last complete run; answered without a Prefect "
        "run (no server up: `make up` keeps every run in the Prefect UI)",
        err=True,
    )
    return answer.summary


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
    from iuran.month import OutsideProgram

    leave = QuickExit.register()
    with contextlib.redirect_stdout(sys.stderr):
        try:
            summary = run_cycle(program, period, inbox, db, out, dry_run)
        except OutsideProgram as exc:
            fail(str(exc))
    if as_json:
        sys.stdout.write(json.dumps(summary, ensure_ascii=False) + "\n")
    else:
        _print_summary(summary)
    leave.armed = True


class QuickExit:
    """A command that succeeded ends without Python's teardown of its modules.

    After a cycle the process holds pandas, SQLAlchemy, pydantic and Prefect; the interpreter frees
    their objects one by one at exit, 0.6 s of CPU here, a quarter of an unchanged month answered
    on a server, for nothing. Registered before Prefect is imported, this exit hook runs after every
    hook registered later (Prefect's: queued logs and events sent, the temporary server stopped;
    `threading`'s run before any), closes the log handlers, flushes the output and ends the
    process with 0. Armed only once the command succeeded, and only in the command line's own
    process (`iuran ...`, `python -m iuran.cli ...`): a test or a program calling `app` in its
    process keeps its normal exit.
    """

    def __init__(self) -> None:
        self.armed = False

    @classmethod
    def register(cls) -> QuickExit:
        leave = cls()
        if Path(sys.argv[0]).name in ("iuran", "cli.py"):
            atexit.register(leave)
        return leave

    def __call__(self) -> None:
        if not self.armed:
            return
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


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
    waiting = s.get("undelivered") or []
    if waiting:
        from iuran.status import undelivered_lines

        typer.echo(f"  not delivered yet: {len(waiting)}")
        for line in undelivered_lines(waiting):
            typer.echo("  " + line)


@app.command("status")
def status(
    program: Annotated[str, typer.Option(help="program code, e.g. lebak")],
    period: Annotated[str | None, typer.Option(help="YYYY-MM (default: every period)")] = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
    today: TodayOpt = None,
) -> None:
    """Invoices with document and payment state, payments, lapse risk and failed e-mail."""
    from iuran.programs import ProgramError, load_program
    from iuran.status import format_status, status_report

    try:
        plan = load_program(program)
    except ProgramError as exc:
        fail(str(exc))
        raise
    url = migrated_url(db)
    try:
        report = status_report(url, plan, period, as_of(today))
    except ValueError as exc:
        fail(str(exc))
        raise
    if as_json:
        sys.stdout.write(json.dumps(report, ensure_ascii=False) + "\n")
    else:
        typer.echo(format_status(report))


DEMO = [
    # program, period, villages, per village, faults
    ("lebak", "2026-01", None, 10, 0.02),
    ("lebak", "2026-02", None, 10, 0.02),
    ("lahat", "2025-09", None, 20, 0.02),
]


@app.command("demo")
def demo(
    seed: Annotated[int, typer.Option(help="random seed")] = 2026,
    fmt: Annotated[str, typer.Option("--format", help=FORMAT_HELP)] = "template",
) -> None:
    """Generate demo rosters (once), run whole monthly cycles, then record BKAD's SP2D for January."""
    use_running_server()  # before Prefect is imported: its settings are read once
    from flows.payment_status import payment_status
    from iuran.generate import generate_rosters as generate
    from iuran.periods import Period
    from iuran.programs import load_program

    settings = load_settings()
    fmt = _roster_format(fmt)
    for code, period, villages, per_village, faults in DEMO:
        folder = settings.inbox / code / period
        if folder.is_dir() and any(p.is_file() for p in folder.iterdir()):
            continue  # rosters already there (perhaps edited to try a fix): a rerun reads them as they are
        generate(
            load_program(code),
            Period.parse(period),
            settings.inbox,
            villages,
            per_village,
            faults,
            seed,
            fmt=fmt,
        )
    summaries = []
    with contextlib.redirect_stdout(sys.stderr):
        for code, period, *_ in DEMO:
            summaries.append(run_cycle(code, period, None, None, None))
        # BKAD pays January's invoice: an SP2D file dropped in the payments inbox.
        january = summaries[0]["invoices"][0]
        sp2d = settings.inbox / "lebak" / "pembayaran" / "sp2d-lebak-2026-01.csv"
        sp2d.parent.mkdir(parents=True, exist_ok=True)
        sp2d.write_text(
            "nomor_sp2d,tanggal_sp2d,jumlah,nomor_tagihan,keterangan\n"
            f"0042/SP2D/BKAD/2026,14/01/2026,{january['total']},{january['number']},"
            "Iuran JKK JKM pekerja rentan Januari 2026\n",
            encoding="utf-8",
        )
        payments = payment_status(
            program="lebak", inbox=str(settings.inbox), db=settings.database_url
        )
    for s in summaries:
        _print_summary(s)
    from iuran.money import rupiah
    from iuran.programs import load_program as _load
    from iuran.status import format_status, status_report

    paid = payments.get("payments", {})
    typer.echo(
        f"payments: {paid.get('recorded', 0)} SP2D recorded "
        f"({rupiah(int(paid.get('amount_recorded', 0)))}), {paid.get('matched', 0)} matched"
    )
    typer.echo("")
    report = status_report(settings.database_url, _load("lebak"), None, dt.date.today())
    typer.echo(format_status(report))
    typer.echo("")
    typer.echo(f"rosters:   {settings.inbox}")
    typer.echo(
        f"invoices:  {settings.out}/<program>/<period>/*.pdf and *.xlsx (reports beside them)"
    )
    typer.echo(f"e-mails:   {settings.outbox}/*.eml (no SMTP server configured)")
    typer.echo(f"database:  {_safe_url(settings.database_url)}")
    typer.echo("status:    .venv/bin/iuran status --program lebak")
    typer.echo(
        "Run `make demo` again: unchanged rosters answer 'unchanged' and bill nothing twice."
    )
    _demo_counter(settings.database_url)


def _demo_counter(database_url: str) -> None:
    """Demo accounts of the counter (one per role, new random passwords) and how to log in."""
    from iuran.db.session import session_scope
    from iuran.programs import load_program
    from iuran.web.accounts import DEMO_ACCOUNTS, demo_accounts

    with session_scope(database_url) as session:
        passwords = demo_accounts(session, load_program("lebak"))
    typer.echo("")
    typer.echo("Loket (web counter), DEMO accounts only (new passwords on every `make demo`):")
    for username, password in passwords.items():
        role, villages = DEMO_ACCOUNTS[username]
        where = f" desa {', '.join(villages)}" if villages else ""
        typer.echo(f"  {username:<14} {password}   ({role.value}, lebak{where})")
    typer.echo("start it:  .venv/bin/iuran web   then open http://127.0.0.1:8400/masuk")


def _password(from_stdin: bool, prompt: str) -> str:
    """An account's password: one line of standard input (scripts), else asked twice, hidden."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    return str(typer.prompt(prompt, hide_input=True, confirmation_prompt=True))


@users_app.command("add")
def users_add(
    username: Annotated[str, typer.Argument(help="login name: a-z 0-9 . _ -")],
    role: Annotated[str, typer.Option(help="desa, opd, disnaker, bkad or bpjs")],
    program: Annotated[str, typer.Option(help="program code, e.g. lebak")],
    desa: Annotated[
        list[str] | None, typer.Option(help="village code (desa: one; opd: repeat it)")
    ] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="read the password from standard input")
    ] = False,
    db: DbOpt = None,
) -> None:
    """Create an account of the web counter; the password is asked (or read from stdin)."""
    from iuran.db.session import session_scope
    from iuran.programs import ProgramError, load_program
    from iuran.web.accounts import AccountError, add_user

    password = _password(password_stdin, "password")
    try:
        with session_scope(load_settings(db).database_url) as session:
            user = add_user(session, username, password, role, load_program(program), desa or [])
    except (AccountError, ProgramError) as exc:
        fail(str(exc))
        raise
    typer.echo(f"account {user.username} ({user.role}, {user.program}) created")


@users_app.command("password")
def users_password(
    username: Annotated[str, typer.Argument(help="the account's login name")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="read the password from standard input")
    ] = False,
    db: DbOpt = None,
) -> None:
    """A new password for an account (forgotten, or handed to someone else); every open session of
    the account ends, on every device."""
    from iuran.db.session import session_scope
    from iuran.web.accounts import AccountError, set_password

    password = _password(password_stdin, "new password")
    try:
        with session_scope(load_settings(db).database_url) as session:
            set_password(session, username, password)
    except AccountError as exc:
        fail(str(exc))
        raise
    typer.echo(f"password of {username} changed; its sessions ended")


@users_app.command("list")
def users_list(db: DbOpt = None) -> None:
    """The counter's accounts: name, role, program, villages."""
    from iuran.db.session import session_scope
    from iuran.web.accounts import list_users

    with session_scope(load_settings(db).database_url) as session:
        for u in list_users(session):
            typer.echo(f"{u.username}\t{u.role}\t{u.program}\t{','.join(u.villages)}")


@app.command("web")
def web(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port")] = 8400,
    proxy: Annotated[
        str | None,
        typer.Option(help="address of the TLS reverse proxy whose X-Forwarded-* headers to trust"),
    ] = None,
    db: DbOpt = None,
) -> None:
    """Serve the web counter (Loket) with uvicorn; put a TLS reverse proxy in front of it."""
    import uvicorn

    from iuran.web.app import create_app

    typer.echo(f"Loket: http://{host}:{port}/masuk", err=True)
    uvicorn.run(
        create_app(load_settings(db)),
        host=host,
        port=port,
        proxy_headers=proxy is not None,
        forwarded_allow_ips=proxy,
        server_header=False,
    )


if __name__ == "__main__":
    app()
