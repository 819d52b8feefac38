"""BKAD at the counter: its invoices with their payment state, their documents through the counter
only, and an SP2D list recorded by the payment day's own import (on SQLite and PostgreSQL)."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import select, update

from iuran.config import Settings
from iuran.db.models import AuditEvent, Invoice
from iuran.db.session import session_scope
from tests.web.conftest import csrf_of, log_in


def _sp2d(client: TestClient, body: bytes, name: str = "sp2d-sipd.csv") -> str:
    token = csrf_of(client.get("/bkad").text)
    response = client.post(
        "/bkad/sp2d", data={"csrf": token}, files={"berkas": (name, body, "text/csv")}
    )
    assert response.status_code == 200, response.text[:400]
    return response.text


def test_bkad_sees_downloads_and_pays_its_invoice(
    settings: Settings, client: TestClient, january: dict[str, object]
) -> None:
    assert log_in(client, "bkad") == 303
    assert client.get("/").headers["location"] == "/bkad"
    page = client.get("/bkad").text
    assert str(january["number"]) in page
    assert "belum dibayar" in page or "lewat jatuh tempo" in page  # January: due on the 15th
    with session_scope(settings.database_url) as session:
        invoice_id = session.scalar(select(Invoice.id).where(Invoice.number == january["number"]))
    pdf = client.get(f"/bkad/tagihan/{invoice_id}/pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert client.get(f"/bkad/tagihan/{invoice_id}/xlsx").content.startswith(b"PK")
    assert client.get(f"/bkad/tagihan/{invoice_id}/txt").status_code == 404

    html = _sp2d(
        client,
        (
            "nomor_sp2d,tanggal_sp2d,jumlah,nomor_tagihan,keterangan\n"
            f"0042/SP2D/BKAD/2026,14/01/2026,{january['total']},{january['number']},Iuran Januari\n"
            "0043/SP2D/BKAD/2026,15/01/2026,12345,999/TIDAK/ADA,Salah kirim\n"
        ).encode(),
    )
    assert re.search(r'id="belum-cocok">1<', html)
    rows = html.split('id="sp2d"')[1].split("</table>")[0]
    assert "0042/SP2D/BKAD/2026" in rows and "cocok" in rows and "(lunas)" in rows
    assert "0043/SP2D/BKAD/2026" in rows and "belum cocok" in rows
    tagihan = html.split('id="tagihan"')[1].split("</table>")[0]
    assert "lunas" in tagihan and "belum dibayar" not in tagihan and "jatuh tempo" not in tagihan
    with session_scope(settings.database_url) as session:
        actions = [e.action for e in session.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    assert actions.count("unduh") == 2 and "impor_sp2d" in actions


def test_a_document_never_leaves_its_folder(
    settings: Settings, client: TestClient, january: dict[str, object], tmp_path: object
) -> None:
    log_in(client, "bkad")
    outside = settings.out.parent / "rahasia.pdf"
    outside.write_bytes(b"%PDF bukan dokumen tagihan")
    with session_scope(settings.database_url) as session:
        session.execute(update(Invoice).values(pdf_path=str(outside)))
        invoice_id = session.scalar(select(Invoice.id))
    assert client.get(f"/bkad/tagihan/{invoice_id}/pdf").status_code == 404


def test_another_programs_invoice_is_not_shown(
    settings: Settings, client: TestClient, january: dict[str, object]
) -> None:
    with session_scope(settings.database_url) as session:
        session.execute(update(Invoice).values(program="serang"))
        invoice_id = session.scalar(select(Invoice.id))
    log_in(client, "bkad")
    assert str(january["number"]) not in client.get("/bkad").text
    assert client.get(f"/bkad/tagihan/{invoice_id}/pdf").status_code == 404


def test_a_refused_sp2d_file_says_why(client: TestClient) -> None:
    log_in(client, "bkad")
    html = _sp2d(client, b"%PDF-1.4", "sp2d.pdf")
    assert 'id="ditolak-berkas"' in html and "BERKAS_JENIS" in html
