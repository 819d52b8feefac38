"""Composing a notification's message: its templates rendered, headers, attachments, envelope.

Pure: nothing here touches the database or the network, so the outbox can check a template exists
when it queues a row and the sender can build the same message on every attempt (the Message-ID is
derived from the idempotency key, so a resend is recognisably the same mail). With the counter's
address (`IURAN_LOKET_URL`) the documents with full NIKs stay at the counter and the message links
there (`at_the_counter`); the outbox row is the same either way.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import hashlib
import mimetypes
import re
from collections.abc import Mapping
from email.message import EmailMessage
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2

from iuran.config import TEMPLATES
from iuran.db.models import Notification
from iuran.db.session import as_utc
from iuran.money import angka, rupiah, terbilang
from iuran.nik import mask
from iuran.periods import BULAN
from iuran.web import links

EMAIL_TEMPLATES = TEMPLATES / "email"

CONTENT_TYPES = {
    ".pdf": ("application", "pdf"),
    ".xlsx": ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    ".csv": ("text", "csv"),
}

_TEMPLATE_NAME = re.compile(r"[a-z][a-z0-9_]*")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def template_files(template: str) -> tuple[str, str, str]:
    """The subject, text and HTML template names for `template`; ValueError if one is missing."""
    if not _TEMPLATE_NAME.fullmatch(template):
        raise ValueError(f"bad e-mail template name {template!r}")
    names = (f"{template}.subject.j2", f"{template}.txt.j2", f"{template}.html.j2")
    missing = [n for n in names if not (EMAIL_TEMPLATES / n).is_file()]
    if missing:
        raise ValueError(f"e-mail template {template!r} is missing {', '.join(missing)}")
    return names


def _tanggal(value: object) -> str:
    """`15 Januari 2026` from a date or an ISO string (contexts hold ISO strings after JSON)."""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value) if "T" in value else dt.date.fromisoformat(value)
    if not isinstance(value, dt.date):
        raise TypeError(f"not a date: {value!r}")
    return f"{value.day} {BULAN[value.month - 1]} {value.year}"


def _mask_nik(value: object) -> str:
    return mask(str(value))


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    """One Jinja environment: HTML autoescaped, text not; undefined variables are errors."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(EMAIL_TEMPLATES),
        autoescape=jinja2.select_autoescape(
            enabled_extensions=("html.j2",), disabled_extensions=("txt.j2",), default=False
        ),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(
        rupiah=rupiah,
        terbilang=terbilang,
        angka=angka,
        tanggal=_tanggal,
        mask_nik=_mask_nik,
    )
    return env


def render(template: str, context: Mapping[str, Any]) -> tuple[str, str, str]:
    """Subject (one line), plain text and HTML of a template."""
    env = environment()
    subject_t, text_t, html_t = template_files(template)
    subject = " ".join(env.get_template(subject_t).render(context).split())
    return (
        subject,
        env.get_template(text_t).render(context),
        env.get_template(html_t).render(context),
    )


def mail_domain(mail_from: str) -> str:
    address = email.utils.parseaddr(mail_from)[1]
    return address.rpartition("@")[2] or "localhost"


def message_id(key: str, mail_from: str) -> str:
    """`<iuran.<hash of key>@domain>`: the same for every attempt at one notification.

    Deliberately not `email.utils.make_msgid`, which mixes in the time and a random number: a resend
    after a crash must carry the Message-ID of the first send so it is recognisably the same mail.
    """
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]
    return f"<iuran.{digest}@{mail_domain(mail_from)}>"


#: The invoice messages BKAD reads (the key's last part is the recipient: `iuran.invoicing`)
BKAD_INVOICE_MAIL = ("invoice_issued", "invoice_revised")


def _detail_sheet(path: Path, files: list[Path]) -> bool:
    """An invoice's XLSX detail sheet (full NIKs): written beside its PDF, and attached with it."""
    return path.suffix.lower() == ".xlsx" and path.with_suffix(".pdf") in files


def _counter_page(n: Notification, path: Path, files: list[Path]) -> dict[str, str] | None:
    """The counter's page that stands in for attachment `path` of `n` when it holds full NIKs;
    None for a document that may travel (masked NIKs or counts only: an invoice PDF, a correction
    list, the data-quality table, the program report)."""
    period = n.period or ""
    if n.template == "mutation_list" and path.suffix.lower() == ".xlsx":
        return {"label": "Daftar mutasi peserta (XLSX)", "path": links.mutation_list(period)}
    if not _detail_sheet(path, files):
        return None
    if n.template == "invoice_village":  # the counter serves a village no detail sheet
        return {
            "label": "Peserta desa yang ditagih bulan ini",
            "path": links.village_workers(period),
        }
    return _bkad_page(n)


def _bkad_page(n: Notification) -> dict[str, str]:
    """BKAD's download of the invoice's detail sheet; its invoice list for a digest of several."""
    if n.invoice_id is not None:
        return {"label": "Rincian peserta (XLSX)", "path": links.invoice(n.invoice_id, "xlsx")}
    return {"label": "Daftar tagihan dan rinciannya", "path": links.invoices()}


def at_the_counter(n: Notification, loket_url: str = "") -> tuple[list[Path], list[dict[str, str]]]:
    """The attachments that travel with `n`, and the counter's links ({label, url}) in its body.

    With the counter's address (`loket_url`, IURAN_LOKET_URL) a document with full NIKs (an
    invoice's XLSX detail sheet, the mutation list) stays at the counter, behind the login of the
    role that may open it, and the message links there; BKAD's invoice messages also link to the
    invoice's downloads. Without it (the demo's file outbox) every attachment travels as before.
    Decided from the outbox row alone, so every attempt builds the same message.
    """
    files = [Path(a) for a in n.attachments]
    if not loket_url:
        return files, []
    pages = {p: _counter_page(n, p, files) for p in files}
    kept = [p for p, page in pages.items() if page is None]
    linked = [page for page in pages.values() if page is not None]
    if n.template in BKAD_INVOICE_MAIL and n.idempotency_key.endswith(":bkad") and not linked:
        linked.append(_bkad_page(n))
    unique = {page["path"]: page["label"] for page in linked}
    return kept, [
        {"label": label, "url": links.absolute(loket_url, p)} for p, label in unique.items()
    ]


def build_message(
    n: Notification, mail_from: str, *, now: dt.datetime | None = None, loket_url: str = ""
) -> EmailMessage:
    """The complete message for a notification: text + HTML alternatives, then the attachments;
    with `loket_url`, links to the counter instead of the attachments with full NIKs.

    Raises jinja2.TemplateError when the template cannot be rendered and OSError when an attachment
    cannot be read (a document not rendered yet).
    """
    attachments, counter_links = at_the_counter(n, loket_url)
    subject, text, html = render(n.template, {**n.context, "counter_links": counter_links})
    msg = EmailMessage()
    msg["Subject"] = subject
    msg["From"] = mail_from
    msg["To"] = ", ".join(n.to_addrs)
    if n.cc_addrs:
        msg["Cc"] = ", ".join(n.cc_addrs)
    msg["Date"] = email.utils.format_datetime(as_utc(now or dt.datetime.now(dt.UTC)))
    msg["Message-ID"] = n.message_id or message_id(n.idempotency_key, mail_from)
    msg["X-Iuran-Notification"] = n.idempotency_key
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation auto-replies to a robot
    # quoted-printable keeps the parts 7-bit: safe on servers without 8BITMIME
    msg.set_content(text, cte="quoted-printable")
    msg.add_alternative(html, subtype="html", cte="quoted-printable")
    for path in attachments:
        maintype, subtype = content_type(path)
        msg.add_attachment(path.read_bytes(), maintype, subtype, filename=path.name)
    return msg


def content_type(path: Path) -> tuple[str, str]:
    known = CONTENT_TYPES.get(path.suffix.lower())
    if known:
        return known
    guessed, _ = mimetypes.guess_type(path.name)
    if guessed:
        maintype, _, subtype = guessed.partition("/")
        return maintype, subtype
    return "application", "octet-stream"


def recipients(n: Notification) -> list[str]:
    """Envelope recipients: To then Cc, bare addresses, each once."""
    seen: dict[str, None] = {}
    for addr in [*n.to_addrs, *n.cc_addrs]:
        bare = email.utils.parseaddr(addr)[1] or addr
        seen.setdefault(bare, None)
    return list(seen)


def outbox_name(key: str) -> str:
    """A file name for a key: readable, and made unique by a hash (`a/b` and `a_b` must not clash)."""
    safe = _UNSAFE.sub("_", key).strip("._")[:150] or "notification"
    return f"{safe}-{hashlib.sha256(key.encode('utf-8')).hexdigest()[:10]}.eml"
