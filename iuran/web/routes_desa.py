"""A village's routes (desa and OPD accounts): the roster upload with its verdict, the Excel
template, and, after the cycle, its correction lists and billed workers; where villages pay their
own premiums (Lahat), its invoices. Only the account's own villages."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import UploadFile

from iuran.db.session import session_scope
from iuran.money import rupiah
from iuran.programs import load_program, today
from iuran.rosters.columns import LIMITS
from iuran.web import audit, bkad, board, upload
from iuran.web.accounts import User
from iuran.web.cookies import Visit, csrf_ok
from iuran.web.counter import (
    BAD_PERIOD,
    BODY_LIMIT,
    NO_FILE,
    NO_SIZE,
    STALE_FORM,
    VILLAGE_ROLES,
    XLSX,
    Counter,
    Denied,
    chosen,
    chosen_period,
    now,
    open_periods,
    template_bytes,
)


def router(c: Counter) -> APIRouter:
    routes = APIRouter()

    def village_page(
        request: Request, visit: Visit, user: User, status: int = 200, **context: Any
    ) -> Response:
        program = load_program(user.program)
        with session_scope(c.url) as session:
            past = upload.past_uploads(session, user)
        context.setdefault("verdict", None)
        corrections = board.correction_lists(c.settings.out, program, user.villages)
        with session_scope(c.url) as session:
            invoices = bkad.village_invoices(session, program, user.villages, today())
        return c.page(
            request,
            "desa.html",
            visit,
            status,
            user=user,
            program=program,
            periods=open_periods(program),
            past=past,
            corrections=corrections,
            invoices=invoices,
            rupiah=rupiah,
            batas_mb=LIMITS.max_bytes // 2**20,
            **context,
        )

    @routes.get("/desa", response_class=HTMLResponse)
    def village(request: Request) -> Response:
        visit, user = c.visitor(request, *VILLAGE_ROLES)
        return village_page(request, visit, user)

    @routes.post("/desa/unggah", response_class=HTMLResponse)
    async def hand_in(request: Request) -> Response:
        visit, user = c.visitor(request, *VILLAGE_ROLES)
        size = request.headers.get("content-length")
        if size is None or not size.isdigit() or int(size) > BODY_LIMIT:
            message = LIMITS.too_large(int(size)).message if size and size.isdigit() else NO_SIZE
            return village_page(request, visit, user, 413, galat=message)
        form = await request.form(max_files=1, max_fields=3)
        if not csrf_ok(visit, str(form.get("csrf", ""))):
            return village_page(request, visit, user, 400, galat=STALE_FORM)
        program = load_program(user.program)
        file, period = form.get("berkas"), chosen_period(program, str(form.get("periode", "")))
        if not isinstance(file, UploadFile) or not file.filename:
            return village_page(request, visit, user, 400, galat=NO_FILE)
        if period is None:
            return village_page(request, visit, user, 400, galat=BAD_PERIOD)
        data = await file.read(LIMITS.max_bytes + 1)
        verdict = await run_in_threadpool(
            upload.hand_in,
            data,
            file.filename,
            user,
            program,
            period,
            c.settings.inbox,
            c.staging,
            now(),
        )

        def remember() -> None:
            with session_scope(c.url) as session:
                upload.remember(session, user, period, verdict)
                audit.record(
                    session,
                    "unggah",
                    username=user.username,
                    role=user.role.value,
                    address=c.address(request),
                    object=f"{program.code}/{period}/{verdict.stored or verdict.original_name}",
                    detail={
                        "diterima": verdict.accepted,
                        "ditolak": len(verdict.rejected),
                        "kode": verdict.code,
                        "sha256": verdict.sha256,
                    },
                )

        await run_in_threadpool(remember)
        return village_page(request, visit, user, verdict=verdict, period=period)

    @routes.get("/desa/templat")
    def template(request: Request) -> Response:
        visit, user = c.visitor(request, *VILLAGE_ROLES)
        c.note(request, user, "unduh", object="templat-roster.xlsx")
        return c.attachment(request, visit, template_bytes(), "templat-roster.xlsx", XLSX)

    @routes.get("/desa/penolakan/{periode}/{kode_desa}")
    def correction_list(request: Request, periode: str, kode_desa: str) -> Response:
        """A village's correction list of a month, as the cycle wrote it: only the account's own
        villages (another village's is refused as any page the account may not open)."""
        visit, user = c.visitor(request, *VILLAGE_ROLES)
        if kode_desa not in user.villages:
            raise Denied(login=False)
        program = load_program(user.program)
        period = chosen(board.program_periods(program), periode)
        path = period and board.correction_list(c.settings.out, program, period, kode_desa)
        if not path:
            return c.not_found(request, visit, user, NO_CORRECTIONS)
        c.note(request, user, "unduh", object=f"{program.code}/{period}/{path.name}")
        return c.attachment(request, visit, path.read_bytes(), path.name, XLSX)

    @routes.get("/desa/tagihan/{invoice_id}")
    def village_invoice(request: Request, invoice_id: int) -> Response:
        """The PDF of an invoice addressed to one of the account's villages, where villages pay
        their own; where BKAD pays (Lebak) a village sees no invoice at all."""
        visit, user = c.visitor(request, *VILLAGE_ROLES)
        program = load_program(user.program)
        if program.payer != "village":
            raise Denied(login=False)
        with session_scope(c.url) as session:
            path = bkad.document(
                session, program.code, invoice_id, "pdf", c.settings.out, payers=user.villages
            )
        if path is None:
            return c.not_found(request, visit, user, NO_INVOICE)
        c.note(request, user, "unduh", object=f"{program.code}/{path.name}")
        return c.attachment(request, visit, path.read_bytes(), path.name, bkad.KINDS["pdf"])

    @routes.get("/desa/peserta", response_class=HTMLResponse)
    def covered(request: Request) -> Response:
        visit, user = c.visitor(request, *VILLAGE_ROLES)
        program = load_program(user.program)
        period = c.month_of(program, request.query_params.get("periode"))
        with session_scope(c.url) as session:
            workers = board.billed_workers(session, program, period, user.villages)
        return c.page(
            request, "peserta.html", visit, user=user, period=period, workers=workers,
            periods=board.program_periods(program),
        )  # fmt: skip

    return routes


NO_INVOICE = "Tagihan ini tidak ada atau bukan tagihan desa Anda."
NO_CORRECTIONS = (
    "Daftar perbaikan bulan ini tidak ada: siklus belum berjalan atau tidak ada baris yang ditolak."
)
