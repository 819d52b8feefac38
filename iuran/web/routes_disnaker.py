"""Disnaker's routes: the month's board, the audit trail, the month's reports, and reruns and dry
runs started as Prefect flow runs."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

from iuran.db.models import Role
from iuran.db.session import session_scope
from iuran.money import rupiah
from iuran.programs import load_program
from iuran.web import audit, board
from iuran.web.accounts import User
from iuran.web.cookies import Visit, csrf_ok
from iuran.web.counter import BAD_PERIOD, STALE_FORM, Counter, chosen


def router(c: Counter) -> APIRouter:
    routes = APIRouter()

    def disnaker_page(
        request: Request, visit: Visit, user: User, status: int = 200, **context: Any
    ) -> Response:
        program = load_program(user.program)
        period = context.pop("period", None) or c.month_of(
            program, request.query_params.get("periode")
        )
        with session_scope(c.url) as session:
            state = board.month(session, program, period)
        runs = c.prefect.recent(program.code)
        context.setdefault("started", None)
        query = request.query_params
        filter_ = query.get("status") if query.get("status") in board.FILTERS else None
        page = query.get("hal", "1")
        shown = board.shown_villages(state.villages, filter_, int(page) if page.isdigit() else 1)
        return c.page(
            request, "disnaker.html", visit, status, user=user, program=program, m=state,
            periods=board.program_periods(program), runs=runs, rupiah=rupiah, shown=shown,
            filters=board.FILTERS, filter=filter_, **context,
        )  # fmt: skip

    @routes.get("/disnaker", response_class=HTMLResponse)
    def disnaker(request: Request) -> Response:
        visit, user = c.visitor(request, Role.DISNAKER)
        return disnaker_page(request, visit, user)

    @routes.get("/disnaker/audit", response_class=HTMLResponse)
    def audit_trail(request: Request) -> Response:
        visit, user = c.visitor(request, Role.DISNAKER)
        with session_scope(c.url) as session:
            events = audit.recent(session, program=user.program)
        return c.page(request, "audit.html", visit, user=user, events=events)

    @routes.get("/disnaker/laporan/{periode}/{kind}")
    def disnaker_report(request: Request, periode: str, kind: str) -> Response:
        visit, user = c.visitor(request, Role.DISNAKER)
        program = load_program(user.program)
        period = chosen(board.program_periods(program), periode)
        path = period and board.report(c.settings.out, program, period, kind, user.role.value)
        return c.download(request, visit, user, path or None, kind)

    @routes.post("/disnaker/jalankan", response_class=HTMLResponse)
    async def rerun(request: Request) -> Response:
        visit, user = c.visitor(request, Role.DISNAKER)
        form = await request.form(max_files=0, max_fields=4)
        if not csrf_ok(visit, str(form.get("csrf", ""))):
            return disnaker_page(request, visit, user, 400, galat=STALE_FORM)
        program = load_program(user.program)
        period = chosen(board.program_periods(program), str(form.get("periode", "")))
        if period is None:
            return disnaker_page(request, visit, user, 400, galat=BAD_PERIOD)
        dry_run = form.get("jenis") == "uji"
        started = await run_in_threadpool(
            c.prefect.start, program.code, str(period), dry_run, user.username
        )
        if isinstance(started, str):
            return disnaker_page(request, visit, user, 503, period=period, galat=started)
        c.note(
            request, user, "jalankan_uji" if dry_run else "jalankan_ulang",
            object=f"{program.code}/{period}", detail={"flow_run": started.id},
        )  # fmt: skip
        return disnaker_page(request, visit, user, period=period, started=started)

    return routes
