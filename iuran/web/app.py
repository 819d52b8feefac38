"""The counter's routes (FastAPI, pages rendered on the server from `templates/`, in Indonesian).

Every page but the login form needs a session of an account (`_visitor`); every form posts the
session's CSRF token; what a role may open is said once per route (`_allowed`). A village account
sees only its own village's uploads, template and billed workers; BKAD its program's invoices and
SP2D imports; Disnaker the month's board, the audit trail, the reports, and reruns through Prefect;
the BPJS branch the mutation list, receipts and the status list. `create_app(settings)` builds it;
`iuran web` serves it with uvicorn.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from prefect.settings import get_current_settings
from starlette.datastructures import UploadFile

from iuran.config import Settings
from iuran.db.models import Role
from iuran.db.session import session_scope
from iuran.generate import build_roster_template
from iuran.money import rupiah
from iuran.payments.read import LIMITS as PAYMENT_LIMITS
from iuran.payments.rules import PAYMENT, RECEIPT
from iuran.periods import Period
from iuran.programs import Program, load_program, today
from iuran.rosters.columns import LIMITS
from iuran.web import accounts, audit, bkad, board, bpjs, upload
from iuran.web.accounts import User
from iuran.web.cookies import COOKIE, MAX_AGE, Signer, Visit, csrf_ok, new_visit, server_secret
from iuran.web.runs import Prefect

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
VILLAGE_ROLES = (Role.DESA, Role.OPD)
HOMES = {
    Role.DESA: "/desa",
    Role.OPD: "/desa",
    Role.BKAD: "/bkad",
    Role.DISNAKER: "/disnaker",
    Role.BPJS: "/bpjs",
}
#: A multipart request is its file plus a few short fields
BODY_LIMIT = LIMITS.max_bytes + 64 * 1024
PAYMENT_BODY_LIMIT = PAYMENT_LIMITS.max_bytes + 64 * 1024
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
#: A role's page: (request, visit, user, status, **context) -> the page
Page = Callable[..., Response]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class Denied(Exception):
    """The visitor may not open this page: `login` when nobody is logged in."""

    def __init__(self, login: bool) -> None:
        self.login = login


@lru_cache(maxsize=1)
def template_bytes() -> bytes:
    """The operators' Excel template (`iuran.generate.build_roster_template`), built once."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "templat-roster.xlsx"
        build_roster_template(path)
        return path.read_bytes()


def prefect_from_environment() -> Prefect:
    """The Prefect server the counter starts runs on: PREFECT_API_URL (and PREFECT_UI_URL)."""
    current = get_current_settings()
    return Prefect(current.api.url, current.ui_url)


def create_app(settings: Settings, prefect: Prefect | None = None) -> FastAPI:
    prefect = prefect or prefect_from_environment()
    app = FastAPI(title="Loket iuran", docs_url=None, redoc_url=None, openapi_url=None)
    signer = Signer(server_secret(settings.private, settings.web_secret))
    url = settings.database_url
    staging = settings.private / "loket"

    def address(request: Request) -> str:
        return request.client.host if request.client else "-"

    def visit_of(request: Request) -> Visit | None:
        return signer.load(request.cookies.get(COOKIE))

    def page(
        request: Request, name: str, visit: Visit, status: int = 200, **context: Any
    ) -> Response:
        response = TEMPLATES.TemplateResponse(
            request, name, {"csrf": visit.csrf, **context}, status_code=status
        )
        keep(response, request, visit)
        return response

    def keep(response: Response, request: Request, visit: Visit) -> None:
        response.headers.update(HEADERS)
        response.set_cookie(
            COOKIE,
            signer.dump(visit),
            max_age=MAX_AGE,
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
        )

    def visitor(request: Request, *roles: Role) -> tuple[Visit, User]:
        """The logged-in account, if its role is one of `roles`; else `Denied`."""
        visit = visit_of(request)
        if visit is None or visit.user_id is None:
            raise Denied(login=True)
        with session_scope(url) as session:
            user = accounts.get_user(session, visit.user_id)
        if user is None:
            raise Denied(login=True)
        if user.role not in roles:
            raise Denied(login=False)
        return visit, user

    def note(request: Request, user: User, action: str, **kw: Any) -> None:
        """`action` of a logged-in account in the audit trail, in a transaction of its own."""
        with session_scope(url) as session:
            audit.record(
                session, action, username=user.username, role=user.role.value,
                address=address(request), **kw,
            )  # fmt: skip

    @app.exception_handler(Denied)
    def denied(request: Request, exc: Denied) -> Response:
        if exc.login:
            response: Response = RedirectResponse("/masuk", status_code=303)
            response.headers.update(HEADERS)
            return response
        return page(
            request,
            "pesan.html",
            visit_of(request) or new_visit(),
            status=403,
            judul="Tidak berwenang",
            pesan="Akun Anda tidak berwenang membuka halaman ini.",
        )

    @app.get("/", response_class=HTMLResponse)
    def home(request: Request) -> Response:
        _, user = visitor(request, *Role)
        where = HOMES[user.role]
        return RedirectResponse(where, status_code=303)

    @app.get("/masuk", response_class=HTMLResponse)
    def login_form(request: Request) -> Response:
        visit = visit_of(request) or new_visit()
        return page(request, "masuk.html", visit, pesan=None)

    @app.post("/masuk", response_class=HTMLResponse)
    async def login(request: Request) -> Response:
        form = await request.form(max_files=0, max_fields=5)
        visit = visit_of(request)
        username = str(form.get("username", "")).strip().lower()[:80]
        password = str(form.get("password", ""))[:1000]
        if not csrf_ok(visit, str(form.get("csrf", ""))):
            return page(request, "masuk.html", visit or new_visit(), 400, pesan=STALE_FORM)
        assert visit is not None
        now = dt.datetime.now(dt.UTC)
        who = address(request)

        def check() -> tuple[User | None, bool]:
            with session_scope(url) as session:
                if accounts.too_many_failures(session, username, who, now):
                    audit.record(
                        session, "masuk_dibatasi", username=username, role=None, address=who
                    )
                    return None, True
                user = accounts.log_in(session, username, password, who, now)
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
            return page(request, "masuk.html", visit, 429 if limited else 401, pesan=message)
        response = RedirectResponse("/", status_code=303)
        keep(response, request, new_visit(user.id))  # a new session: a new token
        return response

    @app.post("/keluar")
    async def logout(request: Request) -> Response:
        visit, user = visitor(request, *Role)
        form = await request.form(max_files=0, max_fields=2)
        if not csrf_ok(visit, str(form.get("csrf", ""))):
            return page(
                request, "pesan.html", visit, 400, judul="Formulir kedaluwarsa", pesan=STALE_FORM
            )
        note(request, user, "keluar")
        response = RedirectResponse("/masuk", status_code=303)
        response.headers.update(HEADERS)
        response.delete_cookie(COOKIE)
        return response

    def village_page(
        request: Request, visit: Visit, user: User, status: int = 200, **context: Any
    ) -> Response:
        program = load_program(user.program)
        with session_scope(url) as session:
            past = upload.past_uploads(session, user)
        context.setdefault("verdict", None)
        return page(
            request,
            "desa.html",
            visit,
            status,
            user=user,
            program=program,
            periods=open_periods(program),
            past=past,
            batas_mb=LIMITS.max_bytes // 2**20,
            **context,
        )

    @app.get("/desa", response_class=HTMLResponse)
    def village(request: Request) -> Response:
        visit, user = visitor(request, *VILLAGE_ROLES)
        return village_page(request, visit, user)

    @app.post("/desa/unggah", response_class=HTMLResponse)
    async def hand_in(request: Request) -> Response:
        visit, user = visitor(request, *VILLAGE_ROLES)
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
            settings.inbox,
            staging,
            dt.datetime.now(dt.UTC),
        )

        def remember() -> None:
            with session_scope(url) as session:
                upload.remember(session, user, period, verdict)
                audit.record(
                    session,
                    "unggah",
                    username=user.username,
                    role=user.role.value,
                    address=address(request),
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

    @app.get("/desa/templat")
    def template(request: Request) -> Response:
        visit, user = visitor(request, *VILLAGE_ROLES)
        note(request, user, "unduh", object="templat-roster.xlsx")
        response = Response(
            template_bytes(),
            media_type=XLSX,
            headers={"Content-Disposition": 'attachment; filename="templat-roster.xlsx"'},
        )
        keep(response, request, visit)
        return response

    def bkad_page(
        request: Request, visit: Visit, user: User, status: int = 200, **context: Any
    ) -> Response:
        with session_scope(url) as session:
            invoices = bkad.invoices(session, user.program, today())
        context.setdefault("result", None)
        return page(
            request, "bkad.html", visit, status, user=user, invoices=invoices,
            rupiah=rupiah, **context,
        )  # fmt: skip

    @app.get("/bkad", response_class=HTMLResponse)
    def treasury(request: Request) -> Response:
        visit, user = visitor(request, Role.BKAD)
        return bkad_page(request, visit, user)

    @app.get("/bkad/tagihan/{invoice_id}/{kind}")
    def invoice_document(request: Request, invoice_id: int, kind: str) -> Response:
        visit, user = visitor(request, Role.BKAD)
        with session_scope(url) as session:
            path = bkad.document(session, user.program, invoice_id, kind, settings.out)
            if path is not None:
                audit.record(
                    session, "unduh", username=user.username, role=user.role.value,
                    address=address(request), object=path.name,
                )  # fmt: skip
        if path is None:
            return page(
                request, "pesan.html", visit, 404, user=user, judul="Tidak ditemukan",
                pesan="Dokumen ini tidak ada atau bukan milik program Anda.",
            )  # fmt: skip
        response = Response(
            path.read_bytes(),
            media_type=bkad.KINDS[kind],
            headers={"Content-Disposition": f'attachment; filename="{path.name}"'},
        )
        keep(response, request, visit)
        return response

    async def import_list(
        request: Request, visit: Visit, user: User, render: Page, kind: str, action: str
    ) -> Response:
        """An SP2D list (BKAD) or receipts (BPJS) handed in: bounded, CSRF-checked, recorded by
        the payment day's own import, audited; `render` shows the answer on the role's page."""
        size = request.headers.get("content-length")
        if size is None or not size.isdigit() or int(size) > PAYMENT_BODY_LIMIT:
            return render(request, visit, user, 413, galat=TOO_LARGE_OR_UNKNOWN)
        form = await request.form(max_files=1, max_fields=2)
        if not csrf_ok(visit, str(form.get("csrf", ""))):
            return render(request, visit, user, 400, galat=STALE_FORM)
        file = form.get("berkas")
        if not isinstance(file, UploadFile) or not file.filename:
            return render(request, visit, user, 400, galat=NO_FILE)
        data = await file.read(PAYMENT_BODY_LIMIT)
        result = await run_in_threadpool(
            bkad.import_sp2d, url, data, file.filename, user.program, staging, kind
        )
        summary = result.get("summary", {})
        note(
            request, user, action, object=file.filename,
            detail={"status": result["status"], "sha256": result.get("sha256"),
                    "dicatat": summary.get("recorded"), "belum_cocok": summary.get("unmatched")},
        )  # fmt: skip
        return render(request, visit, user, result=result)

    @app.post("/bkad/sp2d", response_class=HTMLResponse)
    async def sp2d(request: Request) -> Response:
        visit, user = visitor(request, Role.BKAD)
        return await import_list(request, visit, user, bkad_page, PAYMENT, "impor_sp2d")

    def download(
        request: Request, visit: Visit, user: User, path: Path | None, kind: str
    ) -> Response:
        if path is None:
            return page(
                request, "pesan.html", visit, 404, user=user, judul="Tidak ditemukan",
                pesan="Laporan bulan ini belum dibuat (siklus belum berjalan) atau bukan untuk peran Anda.",
            )  # fmt: skip
        note(request, user, "unduh", object=f"{user.program}/{path.name}")
        response = Response(
            path.read_bytes(),
            media_type=board.REPORTS[kind][1],
            headers={"Content-Disposition": f'attachment; filename="{path.name}"'},
        )
        keep(response, request, visit)
        return response

    def month_of(program: Program, text: str | None) -> Period:
        """The month asked for (`?periode=`), if the program has it; else its latest cycle's."""
        periods = board.program_periods(program)
        asked = chosen(periods, text)
        if asked is not None:
            return asked
        with session_scope(url) as session:
            return board.latest_period(session, program, open_periods(program)[0])

    def disnaker_page(
        request: Request, visit: Visit, user: User, status: int = 200, **context: Any
    ) -> Response:
        program = load_program(user.program)
        period = context.pop("period", None) or month_of(
            program, request.query_params.get("periode")
        )
        with session_scope(url) as session:
            state = board.month(session, program, period)
        runs = prefect.recent(program.code)
        context.setdefault("started", None)
        return page(
            request, "disnaker.html", visit, status, user=user, program=program, m=state,
            periods=board.program_periods(program), runs=runs, rupiah=rupiah, **context,
        )  # fmt: skip

    @app.get("/disnaker", response_class=HTMLResponse)
    def disnaker(request: Request) -> Response:
        visit, user = visitor(request, Role.DISNAKER)
        return disnaker_page(request, visit, user)

    @app.get("/disnaker/audit", response_class=HTMLResponse)
    def audit_trail(request: Request) -> Response:
        visit, user = visitor(request, Role.DISNAKER)
        with session_scope(url) as session:
            events = audit.recent(session, program=user.program)
        return page(request, "audit.html", visit, user=user, events=events)

    @app.get("/disnaker/laporan/{periode}/{kind}")
    def disnaker_report(request: Request, periode: str, kind: str) -> Response:
        visit, user = visitor(request, Role.DISNAKER)
        program = load_program(user.program)
        period = chosen(board.program_periods(program), periode)
        path = period and board.report(settings.out, program, period, kind, user.role.value)
        return download(request, visit, user, path or None, kind)

    @app.post("/disnaker/jalankan", response_class=HTMLResponse)
    async def rerun(request: Request) -> Response:
        visit, user = visitor(request, Role.DISNAKER)
        form = await request.form(max_files=0, max_fields=4)
        if not csrf_ok(visit, str(form.get("csrf", ""))):
            return disnaker_page(request, visit, user, 400, galat=STALE_FORM)
        program = load_program(user.program)
        period = chosen(board.program_periods(program), str(form.get("periode", "")))
        if period is None:
            return disnaker_page(request, visit, user, 400, galat=BAD_PERIOD)
        dry_run = form.get("jenis") == "uji"
        started = await run_in_threadpool(
            prefect.start, program.code, str(period), dry_run, user.username
        )
        if isinstance(started, str):
            return disnaker_page(request, visit, user, 503, period=period, galat=started)
        note(
            request, user, "jalankan_uji" if dry_run else "jalankan_ulang",
            object=f"{program.code}/{period}", detail={"flow_run": started.id},
        )  # fmt: skip
        return disnaker_page(request, visit, user, period=period, started=started)

    def bpjs_page(
        request: Request, visit: Visit, user: User, status: int = 200, **context: Any
    ) -> Response:
        program = load_program(user.program)
        period = context.pop("period", None) or month_of(
            program, request.query_params.get("periode")
        )
        mutation = board.report(settings.out, program, period, "mutasi", user.role.value)
        context.setdefault("result", None)
        context.setdefault("status_list", None)
        return page(
            request, "bpjs.html", visit, status, user=user, program=program, period=period,
            periods=board.program_periods(program), mutation=mutation, rupiah=rupiah, **context,
        )  # fmt: skip

    @app.get("/bpjs", response_class=HTMLResponse)
    def branch(request: Request) -> Response:
        visit, user = visitor(request, Role.BPJS)
        return bpjs_page(request, visit, user)

    @app.get("/bpjs/mutasi/{periode}")
    def mutation_list(request: Request, periode: str) -> Response:
        visit, user = visitor(request, Role.BPJS)
        program = load_program(user.program)
        period = chosen(board.program_periods(program), periode)
        path = period and board.report(settings.out, program, period, "mutasi", user.role.value)
        return download(request, visit, user, path or None, "mutasi")

    @app.post("/bpjs/penerimaan", response_class=HTMLResponse)
    async def receipts(request: Request) -> Response:
        visit, user = visitor(request, Role.BPJS)
        return await import_list(request, visit, user, bpjs_page, RECEIPT, "impor_penerimaan")

    @app.post("/bpjs/status", response_class=HTMLResponse)
    async def status_list(request: Request) -> Response:
        visit, user = visitor(request, Role.BPJS)
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
            bpjs.hand_in_status, data, file.filename, program.code, period, settings.inbox,
            staging, dt.datetime.now(dt.UTC),
        )  # fmt: skip
        note(
            request, user, "unggah_status", object=f"{program.code}/{period}/{verdict.stored or file.filename}",
            detail={"baris": verdict.rows, "disimpan": verdict.stored is not None},
        )  # fmt: skip
        return bpjs_page(request, visit, user, period=period, status_list=verdict)

    @app.get("/desa/peserta", response_class=HTMLResponse)
    def covered(request: Request) -> Response:
        visit, user = visitor(request, *VILLAGE_ROLES)
        program = load_program(user.program)
        period = month_of(program, request.query_params.get("periode"))
        with session_scope(url) as session:
            workers = board.billed_workers(session, program, period, user.villages)
        return page(
            request, "peserta.html", visit, user=user, period=period, workers=workers,
            periods=board.program_periods(program),
        )  # fmt: skip

    return app


def open_periods(program: Program) -> list[Period]:
    """The months an upload may be for: this month and the next, within the program year."""
    now = Period(today().year, today().month)
    return [p for p in (now, now.shift(1)) if program.covers(p)] or [program.last_period]


def chosen(periods: list[Period], text: str | None) -> Period | None:
    """`text` as a month, if it is one of `periods`."""
    try:
        period = Period.parse(text or "")
    except ValueError:
        return None
    return period if period in periods else None


def chosen_period(program: Program, text: str) -> Period | None:
    return chosen(open_periods(program), text)


STALE_FORM = "Formulir kedaluwarsa atau tidak sah. Muat ulang halaman lalu coba lagi."
WRONG_PASSWORD = "Nama pengguna atau kata sandi salah."
TOO_MANY = "Terlalu banyak percobaan masuk yang gagal. Coba lagi dalam 15 menit."
NO_FILE = "Pilih berkas roster (.xlsx atau .csv) terlebih dahulu."
NO_SIZE = "Ukuran unggahan tidak diketahui; gunakan peramban biasa untuk mengunggah."
TOO_LARGE_OR_UNKNOWN = "Berkas terlalu besar atau ukurannya tidak diketahui (paling besar 5 MB)."
BAD_PERIOD = "Bulan yang dipilih tidak dibuka untuk unggahan."
