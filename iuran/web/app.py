"""The counter (FastAPI, pages rendered on the server from `templates/`, in Indonesian):
`create_app(settings)` wires the routes of every role; `iuran web` serves it with uvicorn.

Every page but the login form needs a session of an account (`Counter.visitor`); every form posts
the session's CSRF token; what a role may open is said once per route. A village account sees only
its own village's uploads, template, correction lists and billed workers (`routes_desa`); BKAD its
program's invoices and SP2D imports (`routes_bkad`); Disnaker the month's board, the audit trail,
the reports, and reruns through Prefect (`routes_disnaker`); the BPJS branch the mutation list,
receipts and the status list (`routes_bpjs`). Logging in and out is here.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from prefect.settings import get_current_settings

from iuran.config import Settings
from iuran.db.models import Role
from iuran.db.session import session_scope
from iuran.web import accounts, audit, routes_bkad, routes_bpjs, routes_desa, routes_disnaker
from iuran.web.accounts import User
from iuran.web.cookies import COOKIE, csrf_ok, new_visit
from iuran.web.counter import (
    HEADERS,
    HOMES,
    STALE_FORM,
    TOO_MANY,
    WRONG_PASSWORD,
    Counter,
    Denied,
    now,
    open_periods,
)
from iuran.web.runs import Prefect

__all__ = ["create_app", "open_periods", "prefect_from_environment"]


def prefect_from_environment() -> Prefect:
    """The Prefect server the counter starts runs on: PREFECT_API_URL (and PREFECT_UI_URL)."""
    current = get_current_settings()
    return Prefect(current.api.url, current.ui_url)


def create_app(settings: Settings, prefect: Prefect | None = None) -> FastAPI:
    app = FastAPI(title="Loket iuran", docs_url=None, redoc_url=None, openapi_url=None)
    c = Counter(settings, prefect or prefect_from_environment())

    @app.exception_handler(Denied)
    def denied(request: Request, exc: Denied) -> Response:
        if exc.login:
            response: Response = RedirectResponse("/masuk", status_code=303)
            response.headers.update(HEADERS)
            return response
        return c.page(
            request,
            "pesan.html",
            c.visit_of(request) or new_visit(),
            status=403,
            judul="Tidak berwenang",
            pesan="Akun Anda tidak berwenang membuka halaman ini.",
        )

    @app.get("/", response_class=HTMLResponse)
    def home(request: Request) -> Response:
        _, user = c.visitor(request, *Role)
        return RedirectResponse(HOMES[user.role], status_code=303)

    @app.get("/masuk", response_class=HTMLResponse)
    def login_form(request: Request) -> Response:
        visit = c.visit_of(request) or new_visit()
        return c.page(request, "masuk.html", visit, pesan=None)

    @app.post("/masuk", response_class=HTMLResponse)
    async def login(request: Request) -> Response:
        form = await request.form(max_files=0, max_fields=5)
        visit = c.visit_of(request)
        username = str(form.get("username", "")).strip().lower()[:80]
        password = str(form.get("password", ""))[:1000]
        if not csrf_ok(visit, str(form.get("csrf", ""))):
            return c.page(request, "masuk.html", visit or new_visit(), 400, pesan=STALE_FORM)
        assert visit is not None
        at, who = now(), c.address(request)

        def check() -> tuple[User | None, bool]:
            with session_scope(c.url) as session:
                if accounts.too_many_failures(session, username, who, at):
                    audit.record(
                        session, "masuk_dibatasi", username=username, role=None, address=who
                    )
                    return None, True
                user = accounts.log_in(session, username, password, who, at)
                audit.record(
                    session,
                    "masuk" if user else "gagal_masuk",
                    username=username,
                    role=user.role.value if user else None,
                    address=who,
                )
                return user, False

        user, limited = await run_in_threadpool(check)
        if user is None:
            message = TOO_MANY if limited else WRONG_PASSWORD
            return c.page(request, "masuk.html", visit, 429 if limited else 401, pesan=message)
        response = RedirectResponse("/", status_code=303)
        c.keep(response, request, new_visit(user.id, user.session_epoch))  # a new token
        return response

    @app.post("/keluar")
    async def logout(request: Request) -> Response:
        visit, user = c.visitor(request, *Role)
        form = await request.form(max_files=0, max_fields=2)
        if not csrf_ok(visit, str(form.get("csrf", ""))):
            return c.page(
                request, "pesan.html", visit, 400, judul="Formulir kedaluwarsa", pesan=STALE_FORM
            )
        with session_scope(c.url) as session:  # this session and any copy of its cookie end
            accounts.revoke_sessions(session, user.id)
        c.note(request, user, "keluar")
        response = RedirectResponse("/masuk", status_code=303)
        response.headers.update(HEADERS)
        response.delete_cookie(COOKIE)
        return response

    # the routes themselves, not `include_router`: FastAPI 0.150 includes a router lazily, as one
    # entry, and the authorisation walk reads every route of `app.routes`
    for module in (routes_desa, routes_bkad, routes_disnaker, routes_bpjs):
        app.router.routes.extend(module.router(c).routes)
    return app
