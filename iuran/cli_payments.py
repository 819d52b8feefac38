"""The payment day's and the claims list's commands: `iuran payments import|record|confirm` (an
SP2D list, a payment typed in, BPJS's receipts) and `iuran claims import`, each printed in
Indonesian for the admin who ran it (or as JSON)."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from iuran.cli_common import DbOpt, JsonOpt, TodayOpt, as_of, fail, migrated_url
from iuran.config import load_settings

payments_app = typer.Typer(
    help="Payments (SP2D) and BPJS receipts: import, record by hand, confirm.", no_args_is_help=True
)
claims_app = typer.Typer(
    help="BPJS's claims list (JKK, JKM, beasiswa): what the program's premiums bought.",
    no_args_is_help=True,
)

ProgramOpt = Annotated[
    str | None,
    typer.Option("--program", help="program code; needed to match rows without an invoice number"),
]


def _print_payment_result(result: dict[str, Any]) -> None:
    from iuran.money import rupiah
    from iuran.payments.rules import RESULT_LABELS, STATUS_LABELS

    where = result.get("file") or "input manual"
    if result["status"] == "rejected":
        typer.echo(f"{where}: DITOLAK: {result['message']}")
        return
    if result["status"] == "skipped":
        typer.echo(f"{where}: sudah diimpor sebelumnya, dilewati")
        return
    s = result["summary"]
    if result["kind"] == "pembayaran":
        typer.echo(
            f"{where}: {s['rows']} baris: {s['recorded']} dicatat ({rupiah(s['amount_recorded'])}), "
            f"{s['already_recorded']} sudah tercatat, {s['conflicts']} konflik, {s['rejected']} ditolak"
        )
        typer.echo(
            f"  cocok {s['matched']}, sebagian {s['partial']}, lebih bayar (kredit) {s['credit']}, "
            f"belum cocok {s['unmatched']}"
        )
        for p in result["payments"]:
            head = f"  baris {p['row']} SP2D {p['nomor_sp2d'] or '-'}"
            if p["result"] == "recorded":
                paid = ", ".join(
                    f"{a['number']} {rupiah(a['amount'])}"
                    + (f" (sisa {rupiah(a['remaining'])})" if a["remaining"] else " (lunas)")
                    for a in p["allocations"]
                )
                typer.echo(f"{head}: {STATUS_LABELS[p['status']]}{': ' + paid if paid else ''}")
                if p["message"]:
                    typer.echo(f"    {p['message']}")
                if p["status"] == "unmatched":
                    typer.echo(
                        f"    setelah jelas tagihannya: iuran payments record --sp2d '{p['nomor_sp2d']}'"
                        f" --tanggal {p['tanggal']} --jumlah {p['jumlah']} --tagihan NOMOR"
                    )
            elif p["result"] != "already_recorded" or p.get("status") == "unmatched":
                typer.echo(f"{head}: {RESULT_LABELS[p['result']]}: {p['message']}")
    else:
        typer.echo(
            f"{where}: {s['rows']} baris: {s['recorded']} dicatat ({s['confirmed']} sesuai, "
            f"{s['mismatch']} selisih, {s['unmatched']} SP2D belum tercatat), "
            f"{s['already_recorded']} sudah tercatat, {s['conflicts']} konflik, {s['rejected']} ditolak"
        )
        for r in result["receipts"]:
            if r["result"] != "already_recorded" and r.get("status") != "confirmed":
                typer.echo(f"  baris {r['row']} SP2D {r['nomor_sp2d'] or '-'}: {r['message']}")
    for c in result.get("credits_applied", []):
        paid = ", ".join(f"{a['number']} {rupiah(a['amount'])}" for a in c["allocations"])
        what = (
            f"nota kredit {c['credit_note']}" if c.get("credit_note") else f"SP2D {c['nomor_sp2d']}"
        )
        typer.echo(f"  kredit {what} {rupiah(c['used'])} dipakai: {paid}")
    n = result.get("notifications", {})
    if n:
        typer.echo(f"  e-mail: {n.get('queued', 0)} diantrekan, {n.get('sent', 0)} terkirim")


def _payment_command(
    kind: str, arrived: Callable[[], dict[str, Any]], database_url: str, as_json: bool, day: dt.date
) -> None:
    """The payment day (`iuran/payment_day.py`) for one file or one typed-in payment, printed: a
    payment read settles the programs it paid and delivers the mail."""
    from iuran.mail.deliver import deliver_outbox
    from iuran.payment_day import PaymentSteps, nothing_arrived, run_payment_day
    from iuran.payments.credit import settle
    from iuran.payments.rules import PAYMENT

    def imported() -> list[dict[str, Any]]:
        try:
            return [arrived()]
        except FileNotFoundError as exc:
            fail(f"berkas tidak ditemukan: {exc.filename}")
            raise
        except (OSError, ValueError) as exc:
            fail(f"gagal: {exc}")
            raise

    steps = PaymentSteps(
        import_payments=imported if kind == PAYMENT else nothing_arrived,
        import_receipts=nothing_arrived if kind == PAYMENT else imported,
        settle=settle,
        deliver=deliver_outbox,
    )
    with contextlib.redirect_stdout(sys.stderr):
        paid = run_payment_day(steps, load_settings(database_url), day)
    [result] = paid.payments or paid.receipts
    result["credits_applied"] = paid.credits_applied
    if paid.delivered is not None:
        sent = paid.delivered
        result.setdefault("notifications", {}).update(
            sent=sent.sent, failed=sent.failed, pending=sent.pending
        )
    if as_json:
        sys.stdout.write(json.dumps(result, ensure_ascii=False, default=str) + "\n")
    else:
        _print_payment_result(result)
    if result["status"] == "rejected":
        raise typer.Exit(1)


def _import_command(
    kind: str, file: Path, program: str | None, db: str | None, as_json: bool, today: str | None
) -> None:
    """`payments import` (kind `pembayaran`) and `payments confirm` (`penerimaan`): import one file
    and print the result; a payment file also settles the programs it paid and delivers its mail."""
    from iuran.payments.imports import import_file

    url = migrated_url(db)
    day = as_of(today)
    _payment_command(
        kind,
        lambda: import_file(url, file, kind=kind, program=program, today=day),
        url,
        as_json,
        day,
    )


@payments_app.command("import")
def payments_import(
    file: Annotated[Path, typer.Argument(help="CSV/XLSX: nomor_sp2d, tanggal_sp2d, jumlah, ...")],
    program: ProgramOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
    today: TodayOpt = None,
) -> None:
    """Import a BKAD payment file (SP2D list); importing it again records nothing new."""
    _import_command("pembayaran", file, program, db, as_json, today)


@payments_app.command("record")
def payments_record(
    sp2d: Annotated[str, typer.Option("--sp2d", help="nomor SP2D")],
    tanggal: Annotated[str, typer.Option("--tanggal", help="tanggal SP2D, dd/mm/yyyy")],
    jumlah: Annotated[str, typer.Option("--jumlah", help="Rupiah, e.g. 57.960.000")],
    tagihan: Annotated[
        str | None, typer.Option("--tagihan", help="invoice number(s), separated by , or ;")
    ] = None,
    payer: Annotated[
        str | None, typer.Option("--payer", help="kode desa of the paying village, or kabupaten")
    ] = None,
    keterangan: Annotated[str | None, typer.Option("--keterangan")] = None,
    program: ProgramOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
    today: TodayOpt = None,
) -> None:
    """Record one payment by hand (same rules as a file row)."""
    from iuran.payments.rules import PAYMENT
    from iuran.payments.sp2d import record_payment

    url = migrated_url(db)
    day = as_of(today)
    _payment_command(
        PAYMENT,
        lambda: record_payment(
            url,
            nomor_sp2d=sp2d,
            tanggal=tanggal,
            jumlah=jumlah,
            nomor_tagihan=tagihan,
            keterangan=keterangan,
            program=program,
            payer=payer,
            today=day,
        ),
        url,
        as_json,
        day,
    )


@payments_app.command("confirm")
def payments_confirm(
    file: Annotated[Path, typer.Argument(help="BPJS receipts: nomor_sp2d, tanggal_terima, jumlah")],
    program: ProgramOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
    today: TodayOpt = None,
) -> None:
    """Import the BPJS branch's file of received amounts: paid invoices become confirmed."""
    _import_command("penerimaan", file, program, db, as_json, today)


@claims_app.command("import")
def claims_import(
    file: Annotated[Path, typer.Argument(help="CSV/XLSX: NIK, Jenis, Tanggal, Nilai, Nomor Klaim")],
    program: Annotated[str, typer.Option("--program", help="program code, e.g. lamandau")],
    db: DbOpt = None,
    as_json: JsonOpt = False,
    today: TodayOpt = None,
) -> None:
    """Import BPJS's claims list for a program; importing it again records nothing new. A JKM claim
    ends the worker's cover after the month of death."""
    from iuran.claims import import_claims
    from iuran.programs import ProgramError, load_program

    try:
        load_program(program)
    except ProgramError as exc:
        fail(str(exc))
        raise
    if not file.is_file():
        fail(f"berkas tidak ditemukan: {file}")
    result = import_claims(migrated_url(db), file, program, as_of(today))
    if as_json:
        sys.stdout.write(json.dumps(result.as_dict(), ensure_ascii=False, default=str) + "\n")
    else:
        typer.echo("\n".join(result.notes()))
    if result.status == "rejected":
        raise typer.Exit(1)
