"""What every route of the counter shares: the session of a visitor (`Counter.visitor`), a page
rendered with the session kept (`Counter.page`), the audit note of an action (`Counter.note`), a
report's download, a payment list's import, the months a form may name, and the messages in
Indonesian. The routes themselves live per role (`routes_*.py`); `app.create_app` wires them.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from fastapi.templating import Jinja2Templates
from starlette.datastructures import UploadFile

from iuran.config import Settings
from iuran.db.models import Role
from iuran.db.session import session_scope
from iuran.generate import build_roster_template
from iuran.payments.read import LIMITS as PAYMENT_LIMITS
from iuran.periods import Period
from iuran.programs import Program, today
from iuran.rosters.columns import LIMITS
from iuran.web import accounts, audit, bkad, board
from iuran.web.accounts import User
from iuran.web.cookies import COOKIE, MAX_AGE, Signer, Visit, csrf_ok, server_secret
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


class Counter:
    """The counter's settings, its Prefect server and its session signer, with the helpers every
    role's routes call."""

    def __init__(self, settings: Settings, prefect: Prefect) -> None:
        self.settings = settings
        self.prefect = prefect
        self.signer = Signer(server_secret(settings.private, settings.web_secret))
        self.url = settings.database_url
        self.staging = settings.private / "loket"

    @staticmethod
    def address(request: Request) -> str:
        return request.client.host if request.client else "-"

    def visit_of(self, request: Request) -> Visit | None:
        return self.signer.load(request.cookies.get(COOKIE))

    def page(
        self, request: Request, name: str, visit: Visit, status: int = 200, **context: Any
    ) -> Response:
        response = TEMPLATES.TemplateResponse(
            request, name, {"csrf": visit.csrf, **context}, status_code=status
        )
        self.keep(response, request, visit)
        return response

    def keep(self, response: Response, request: Request, visit: Visit) -> None:
        response.headers.update(HEADERS)
        response.set_cookie(
            COOKIE,
            self.signer.dump(visit),
            max_age=MAX_AGE,
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
        )

    def visitor(self, request: Request, *roles: Role) -> tuple[Visit, User]:
        """The logged-in account, if its role is one of `roles`; else `Denied`."""
        visit = self.visit_of(request)
        if visit is None or visit.user_id is None:
            raise Denied(login=True)
        with session_scope(self.url) as session:
            user = accounts.get_user(session, visit.user_id)
        if user is None or user.session_epoch != visit.epoch:  # gone, or the session revoked
            raise Denied(login=True)
        if user.role not in roles:
            raise Denied(login=False)
        return visit, user

    def note(self, request: Request, user: User, action: str, **kw: Any) -> None:
        """`action` of a logged-in account in the audit trail, in a transaction of its own."""
        with session_scope(self.url) as session:
            audit.record(
                session, action, username=user.username, role=user.role.value,
                address=self.address(request), **kw,
            )  # fmt: skip

    def attachment(
        self, request: Request, visit: Visit, data: bytes, name: str, media_type: str
    ) -> Response:
        """A file to download, the session kept."""
        response = Response(
            data,
            media_type=media_type,
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
        self.keep(response, request, visit)
        return response

    def not_found(self, request: Request, visit: Visit, user: User, message: str) -> Response:
        return self.page(
            request, "pesan.html", visit, 404, user=user, judul="Tidak ditemukan", pesan=message
        )

    def download(
        self, request: Request, visit: Visit, user: User, path: Path | None, kind: str
    ) -> Response:
        """A month's report (`board.REPORTS`), audited; 404 when it is not there."""
        if path is None:
            return self.not_found(request, visit, user, NO_REPORT)
        self.note(request, user, "unduh", object=f"{user.program}/{path.name}")
        return self.attachment(request, visit, path.read_bytes(), path.name, board.REPORTS[kind][1])

    def month_of(self, program: Program, text: str | None) -> Period:
        """The month asked for (`?periode=`), if the program has it; else its latest cycle's."""
        periods = board.program_periods(program)
        asked = chosen(periods, text)
        if asked is not None:
            return asked
        with session_scope(self.url) as session:
            return board.latest_period(session, program, open_periods(program)[0])

    async def import_list(
        self, request: Request, visit: Visit, user: User, render: Page, kind: str, action: str
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
            bkad.import_sp2d, self.url, data, file.filename, user.program, self.staging, kind
        )
        summary = result.get("summary", {})
        self.note(
            request, user, action, object=file.filename,
            detail={"status": result["status"], "sha256": result.get("sha256"),
                    "dicatat": summary.get("recorded"), "belum_cocok": summary.get("unmatched")},
        )  # fmt: skip
        return render(request, visit, user, result=result)


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def open_periods(program: Program) -> list[Period]:
    """The months an upload may be for: this month and the next, within the program year."""
    current = Period(today().year, today().month)
    return [p for p in (current, current.shift(1)) if program.covers(p)] or [program.last_period]


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
NO_REPORT = "Laporan bulan ini belum dibuat (siklus belum berjalan) atau bukan untuk peran Anda."
