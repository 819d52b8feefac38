"""BKAD's routes: the program's invoices with their payment state, their PDF and XLSX, and the
SP2D list (the SIPD export) handed in."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from iuran.db.models import Role
from iuran.db.session import session_scope
from iuran.money import rupiah
from iuran.payments.rules import PAYMENT
from iuran.programs import today
from iuran.web import audit, bkad
from iuran.web.accounts import User
from iuran.web.cookies import Visit
from iuran.web.counter import Counter


def router(c: Counter) -> APIRouter:
    routes = APIRouter()

    def bkad_page(
        request: Request, visit: Visit, user: User, status: int = 200, **context: Any
    ) -> Response:
        with session_scope(c.url) as session:
            invoices = bkad.invoices(session, user.program, today())
        context.setdefault("result", None)
        return c.page(
            request, "bkad.html", visit, status, user=user, invoices=invoices,
            rupiah=rupiah, **context,
        )  # fmt: skip

    @routes.get("/bkad", response_class=HTMLResponse)
    def treasury(request: Request) -> Response:
        visit, user = c.visitor(request, Role.BKAD)
        return bkad_page(request, visit, user)

    @routes.get("/bkad/tagihan/{invoice_id}/{kind}")
    def invoice_document(request: Request, invoice_id: int, kind: str) -> Response:
        visit, user = c.visitor(request, Role.BKAD)
        with session_scope(c.url) as session:
            path = bkad.document(session, user.program, invoice_id, kind, c.settings.out)
            if path is not None:
                audit.record(
                    session, "unduh", username=user.username, role=user.role.value,
                    address=c.address(request), object=path.name,
                )  # fmt: skip
        if path is None:
            return c.not_found(request, visit, user, NO_INVOICE)
        return c.attachment(request, visit, path.read_bytes(), path.name, bkad.KINDS[kind])

    @routes.post("/bkad/sp2d", response_class=HTMLResponse)
    async def sp2d(request: Request) -> Response:
        visit, user = c.visitor(request, Role.BKAD)
        return await c.import_list(request, visit, user, bkad_page, PAYMENT, "impor_sp2d")

    return routes


NO_INVOICE = "Dokumen ini tidak ada atau bukan milik program Anda."
