"""The BPJS branch's routes: the month's mutation list, receipts and the status/claims list
handed in."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import UploadFile

from iuran.db.models import Role
from iuran.money import rupiah
from iuran.payments.rules import RECEIPT
from iuran.programs import load_program
from iuran.rosters.columns import LIMITS
from iuran.web import board, bpjs
from iuran.web.accounts import User
from iuran.web.cookies import Visit, csrf_ok
from iuran.web.counter import (
    BAD_PERIOD,
    BODY_LIMIT,
    NO_FILE,
    STALE_FORM,
    TOO_LARGE_OR_UNKNOWN,
    Counter,
    chosen,
    now,
)


def router(c: Counter) -> APIRouter:
    routes = APIRouter()

    def bpjs_page(
        request: Request, visit: Visit, user: User, status: int = 200, **context: Any
    ) -> Response:
        program = load_program(user.program)
        period = context.pop("period", None) or c.month_of(
            program, request.query_params.get("periode")
        )
        mutation = board.report(c.settings.out, program, period, "mutasi", user.role.value)
        context.setdefault("result", None)
        context.setdefault("status_list", None)
        return c.page(
            request, "bpjs.html", visit, status, user=user, program=program, period=period,
            periods=board.program_periods(program), mutation=mutation, rupiah=rupiah, **context,
        )  # fmt: skip

    @routes.get("/bpjs", response_class=HTMLResponse)
    def branch(request: Request) -> Response:
        visit, user = c.visitor(request, Role.BPJS)
        return bpjs_page(request, visit, user)

    @routes.get("/bpjs/mutasi/{periode}")
    def mutation_list(request: Request, periode: str) -> Response:
        visit, user = c.visitor(request, Role.BPJS)
        program = load_program(user.program)
        period = chosen(board.program_periods(program), periode)
        path = period and board.report(c.settings.out, program, period, "mutasi", user.role.value)
        return c.download(request, visit, user, path or None, "mutasi")

    @routes.post("/bpjs/penerimaan", response_class=HTMLResponse)
    async def receipts(request: Request) -> Response:
        visit, user = c.visitor(request, Role.BPJS)
        return await c.import_list(request, visit, user, bpjs_page, RECEIPT, "impor_penerimaan")

    @routes.post("/bpjs/status", response_class=HTMLResponse)
    async def status_list(request: Request) -> Response:
        visit, user = c.visitor(request, Role.BPJS)
        size = request.headers.get("content-length")
        if size is None or not size.isdigit() or int(size) > BODY_LIMIT:
            return bpjs_page(request, visit, user, 413, galat=TOO_LARGE_OR_UNKNOWN)
        form = await request.form(max_files=1, max_fields=3)
        if not csrf_ok(visit, str(form.get("csrf", ""))):
            return bpjs_page(request, visit, user, 400, galat=STALE_FORM)
        program = load_program(user.program)
        file = form.get("berkas")
        period = chosen(board.program_periods(program), str(form.get("periode", "")))
        if not isinstance(file, UploadFile) or not file.filename:
            return bpjs_page(request, visit, user, 400, galat=NO_FILE)
        if period is None:
            return bpjs_page(request, visit, user, 400, galat=BAD_PERIOD)
        data = await file.read(LIMITS.max_bytes + 1)
        verdict = await run_in_threadpool(
            bpjs.hand_in_status, data, file.filename, program.code, period, c.settings.inbox,
            c.staging, now(),
        )  # fmt: skip
        c.note(
            request, user, "unggah_status", object=f"{program.code}/{period}/{verdict.stored or file.filename}",
            detail={"baris": verdict.rows, "disimpan": verdict.stored is not None},
        )  # fmt: skip
        return bpjs_page(request, visit, user, period=period, status_list=verdict)

    return routes
