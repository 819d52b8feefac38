"""A village's correction list after the cycle, at the counter: its own villages only, the rejected
rows with the Indonesian reasons and masked NIKs as the month wrote them, every download audited."""

from __future__ import annotations

import io

import openpyxl
from fastapi.testclient import TestClient
from sqlalchemy import select

from iuran.config import Settings
from iuran.db.models import AuditEvent
from iuran.db.session import session_scope
from iuran.nik import mask
from tests.web.conftest import DESA, OTHER_DESA, log_in, niks

LIST = f"/desa/penolakan/2026-01/{DESA}"


def _cells(data: bytes) -> list[str]:
    book = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
    return [
        str(v) for sheet in book.worksheets for row in sheet.iter_rows(values_only=True)
        for v in row if v is not None
    ]  # fmt: skip


def test_a_village_downloads_its_correction_list(
    settings: Settings, client: TestClient, corrected_january: None
) -> None:
    log_in(client, "desa-cilangkahan")
    page = client.get("/desa").text
    assert f'href="{LIST}"' in page and f"/desa/penolakan/2026-01/{OTHER_DESA}" not in page
    response = client.get(LIST)
    assert response.status_code == 200, response.text[:300]
    assert response.headers["content-disposition"] == (
        f'attachment; filename="penolakan-{DESA}.xlsx"'
    )
    cells = _cells(response.content)
    text = " ".join(cells)
    workers = niks(DESA)
    assert mask(workers[3]) in cells  # the worker whose birth date is not a date, masked
    assert not any(nik in text for nik in workers)  # never a full NIK
    assert "Tanggal lahir 'bukan tanggal' tidak dikenali" in text  # the reason, in Indonesian
    with session_scope(settings.database_url) as session:
        objects = session.scalars(
            select(AuditEvent.object).where(
                AuditEvent.action == "unduh", AuditEvent.username == "desa-cilangkahan"
            )
        ).all()
    assert objects == [f"lebak/2026-01/penolakan-{DESA}.xlsx"]


def test_another_villages_list_is_refused(client: TestClient, corrected_january: None) -> None:
    log_in(client, "desa-cilangkahan")
    assert client.get(f"/desa/penolakan/2026-01/{OTHER_DESA}").status_code == 403
    log_in(client, "opd-dinsos")  # an OPD over other villages
    assert client.get(LIST).status_code == 403
    assert "tanpa-perbaikan" in client.get("/desa").text
    for account in ("bkad", "disnaker", "bpjs"):
        log_in(client, account)
        assert client.get(LIST).status_code == 403


def test_no_list_where_the_month_wrote_none(client: TestClient, corrected_january: None) -> None:
    log_in(client, "desa-cilangkahan")
    assert client.get(f"/desa/penolakan/2026-02/{DESA}").status_code == 404
    assert client.get(f"/desa/penolakan/1999-01/{DESA}").status_code == 404
    assert client.get(f"/desa/penolakan/bukan-bulan/{DESA}").status_code == 404
