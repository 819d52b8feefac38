"""A village that pays its own premiums (Lahat: `payer: village`) sees its own invoices at the
counter with their payment state and downloads their PDF; never another village's; where BKAD pays
(Lebak), a village sees no invoice at all (on SQLite and PostgreSQL)."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from iuran.config import Settings
from iuran.db.models import AuditEvent, Invoice
from iuran.db.session import session_scope
from iuran.generate import generate_rosters
from iuran.periods import Period
from iuran.programs import load_program
from iuran.web.accounts import add_user
from tests.pipeline import run
from tests.web.conftest import PASSWORD, log_in


def _lahat_january(settings: Settings) -> list[tuple[int, str, str]]:
    """Lahat's January billed on two villages: (id, number, payer_key) of their two invoices, and
    an account for each village."""
    lahat = load_program("lahat")
    generate_rosters(lahat, Period(2026, 1), settings.inbox, 2, 3, 0.0, 1)
    run(settings.database_url, lahat, "2026-01", settings.inbox, settings.out)
    with session_scope(settings.database_url) as session:
        invoices = [
            (i.id, i.number, i.payer_key)
            for i in session.scalars(
                select(Invoice).where(Invoice.program == "lahat").order_by(Invoice.id)
            )
        ]
        for name, (_, _, village) in zip(("desa-lahat-a", "desa-lahat-b"), invoices, strict=False):
            add_user(session, name, PASSWORD, "desa", lahat, [village])
    assert len(invoices) == 2
    return invoices


def test_a_paying_village_sees_and_downloads_its_own_invoice(
    settings: Settings, client: TestClient
) -> None:
    (own, number, _), (theirs, other_number, _) = _lahat_january(settings)
    log_in(client, "desa-lahat-a")
    page = client.get("/desa").text
    assert 'id="tagihan-desa"' in page and number in page and other_number not in page
    assert "belum dibayar" in page or "lewat jatuh tempo" in page  # January: due on the 15th
    assert f'href="/desa/tagihan/{own}"' in page
    pdf = client.get(f"/desa/tagihan/{own}")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert client.get(f"/desa/tagihan/{theirs}").status_code == 404  # another village's
    assert client.get("/desa/tagihan/999999").status_code == 404
    with session_scope(settings.database_url) as session:
        downloads = session.scalars(
            select(AuditEvent.object).where(
                AuditEvent.action == "unduh", AuditEvent.username == "desa-lahat-a"
            )
        ).all()
    assert len(downloads) == 1 and downloads[0].startswith("lahat/")
    log_in(client, "desa-lahat-b")
    assert client.get(f"/desa/tagihan/{theirs}").status_code == 200
    assert client.get(f"/desa/tagihan/{own}").status_code == 404


def test_where_bkad_pays_a_village_sees_no_invoice(
    settings: Settings, client: TestClient, january: dict[str, object]
) -> None:
    with session_scope(settings.database_url) as session:
        invoice_id = session.scalar(select(Invoice.id).where(Invoice.number == january["number"]))
    log_in(client, "desa-cilangkahan")  # Lebak's village whose workers the invoice bills
    page = client.get("/desa").text
    assert "tagihan-desa" not in page and str(january["number"]) not in page
    assert client.get(f"/desa/tagihan/{invoice_id}").status_code == 403
