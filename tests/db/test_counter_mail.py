"""With the counter's address (IURAN_LOKET_URL) the month's e-mails link to the counter instead of
carrying documents with full NIKs; without it they are what they were. Read back as a mail client
reads them (`email.message_from_bytes`), on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import email
import email.policy
import re
from email.message import EmailMessage
from pathlib import Path

from iuran.config import Settings, load_settings
from iuran.db.models import Notification
from iuran.generate import generate_rosters
from iuran.mail.compose import build_message, outbox_name
from iuran.mail.deliver import deliver_pending_sync
from iuran.periods import Period
from iuran.programs import load_program
from tests.db.test_village_invoices import MONTH, lahat_with_contacts, notifications
from tests.pipeline import run

LOKET = "https://loket.lebakkab.go.id"
FROM = "iuran@disnaker.example.go.id"
FULL_NIK = re.compile(r"(?<!\d)\d{16}(?!\d)")


def delivered(url: str, tmp_path: Path, loket_url: str) -> dict[str, EmailMessage]:
    """Every pending message through the file outbox, read back: idempotency key -> message."""
    base = load_settings(url, tmp_path / "inbox", tmp_path / "out")
    settings: Settings = dataclasses.replace(
        base, smtp=dataclasses.replace(base.smtp, host=None), loket_url=loket_url
    )
    report = deliver_pending_sync(url, settings)
    assert report.sent > 0 and report.failed == 0
    read = {}
    for n in notifications(url):
        raw = (settings.outbox / outbox_name(n.idempotency_key)).read_bytes()
        message = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        read[n.idempotency_key] = message
    return read


def parts(message: EmailMessage) -> tuple[str, str, dict[str, bytes]]:
    """Text body, HTML body, attachments by file name."""
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    files = {str(a.get_filename()): a.get_payload(decode=True) for a in message.iter_attachments()}
    return text, html, files  # type: ignore[return-value]


def test_a_regency_month_links_bpjs_and_bkad_to_the_counter(
    database_url: str, tmp_path: Path
) -> None:
    lebak = load_program("lebak")
    generate_rosters(lebak, Period.parse(MONTH), tmp_path / "inbox", 3, 4, 0.3, 5)
    summary = run(database_url, lebak, MONTH, tmp_path / "inbox", tmp_path / "out")
    invoice_id = summary["invoices"][0]["id"]
    read = delivered(database_url, tmp_path, LOKET)
    by_template = {k.split(":", 1)[0]: m for k, m in read.items()}

    text, html, files = parts(by_template["mutation_list"])
    mutation = f"{LOKET}/bpjs/mutasi/{MONTH}"
    assert mutation in text and f'href="{mutation}"' in html
    assert files == {}  # the full list stays at the counter
    assert "dapat diunduh di Loket" in text and "terlampir" not in text

    text, html, files = parts(by_template["invoice_issued"])
    sheet = f"{LOKET}/bkad/tagihan/{invoice_id}/xlsx"
    assert sheet in text and f'href="{sheet}"' in html
    assert [name.rsplit(".", 1)[1] for name in files] == ["pdf", "pdf"]  # invoice + program report
    for message in read.values():
        text, html, _ = parts(message)
        assert not FULL_NIK.search(text + html), message["Subject"]


def test_a_village_gets_its_invoice_and_a_link_not_its_detail_sheet(
    database_url: str, tmp_path: Path
) -> None:
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    lahat, _, _ = lahat_with_contacts(tmp_path, inbox)
    run(database_url, lahat, MONTH, inbox, out)
    rows = {n.idempotency_key: n for n in notifications(database_url)}
    plain = {k: build_message(n, FROM) for k, n in rows.items()}  # composed as today
    read = delivered(database_url, tmp_path, LOKET)

    own = sorted(k for k in read if k.startswith("invoice_village:"))
    assert len(own) == 2
    workers = f"{LOKET}/desa/peserta?periode={MONTH}"
    for key in own:
        text, html, files = parts(read[key])
        assert workers in text and f'href="{workers}"' in html
        kinds = sorted(name.rsplit(".", 1)[1] for name in files)
        assert kinds == ["pdf", "xlsx"]  # the invoice PDF and the correction list (masked)
        assert all(name.startswith("penolakan-") for name in files if name.endswith(".xlsx"))
        assert not any(FULL_NIK.search(b.decode("latin-1")) for b in files.values())
        assert not FULL_NIK.search(text + html)
        assert "rincian peserta (XLSX)" not in text  # not said to be attached
        # the same outbox row, the same Message-ID: only what travels differs
        assert read[key]["Message-ID"] == plain[key]["Message-ID"]
        _, _, before = parts(plain[key])
        assert len(before) == 3 and not any(LOKET in p for p in parts(plain[key])[:2])
    digest = next(k for k in read if k.endswith(":bkad"))
    text, html, _ = parts(read[digest])
    assert f"{LOKET}/bkad\n" in text and f'href="{LOKET}/bkad"' in html


def test_without_the_counter_the_documents_travel_as_before(
    database_url: str, tmp_path: Path
) -> None:
    lebak = load_program("lebak")
    generate_rosters(lebak, Period.parse(MONTH), tmp_path / "inbox", 2, 3, 0.0, 9)
    run(database_url, lebak, MONTH, tmp_path / "inbox", tmp_path / "out")
    read = delivered(database_url, tmp_path, "")
    mutation = next(m for k, m in read.items() if k.startswith("mutation_list:"))
    text, _, files = parts(mutation)
    assert [n.rsplit(".", 1)[1] for n in files] == ["xlsx"] and "terlampir" in text
    assert all("Loket" not in parts(m)[0] + parts(m)[1] for m in read.values())


REVISED = {
    "program_name": "Lebak", "regency_name": "Kabupaten Lebak", "period_label": "Januari 2026",
    "invoices": [{
        "number": "001/TAG", "revision": 1, "kind": "regular", "payer": "kabupaten",
        "participants": 3, "total": 100, "total_rupiah": "Rp 100", "credit_applied": 0,
        "to_pay": 100, "due_date": "2026-01-15", "change_note": "3 peserta ditambahkan",
    }],
    "total": 100, "total_rupiah": "Rp 100", "total_terbilang": "seratus rupiah",
    "credit_applied": 0, "to_pay": 100, "to_pay_terbilang": "seratus rupiah",
    "due_date": "2026-01-15", "change_note": "3 peserta ditambahkan", "old_total": 50,
    "old_participants": 2,
    "payee": {"name": "BPJS", "bank": "BNI", "account_name": "BPJS", "account_number": "1"},
}  # fmt: skip


def test_composing_is_decided_by_the_outbox_row_alone(tmp_path: Path) -> None:
    """The same row composes the same message on every attempt: the counter's address decides what
    travels and what is linked; the row itself is untouched."""
    pdf, sheet = tmp_path / "TAG-1.pdf", tmp_path / "TAG-1.xlsx"
    pdf.write_bytes(b"%PDF-1.7 synthetic")
    sheet.write_bytes(b"PK synthetic")
    n = Notification(
        idempotency_key="invoice_revised:001/TAG:r1:bkad",
        event="invoice_revised",
        program="lebak",
        period=MONTH,
        invoice_id=9,
        to_addrs=["bkad@example.go.id"],
        cc_addrs=[],
        template="invoice_revised",
        context=dict(REVISED),
        attachments=[str(pdf), str(sheet)],
    )
    before = (list(n.attachments), dict(n.context))
    first, again = (build_message(n, FROM, loket_url=LOKET) for _ in range(2))
    assert parts(first) == parts(again) and first["Message-ID"] == again["Message-ID"]
    assert list(parts(first)[2]) == ["TAG-1.pdf"]  # the detail sheet stays at the counter
    assert f"{LOKET}/bkad/tagihan/9/xlsx" in parts(first)[0]
    assert list(parts(build_message(n, FROM))[2]) == ["TAG-1.pdf", "TAG-1.xlsx"]
    assert (list(n.attachments), dict(n.context)) == before
