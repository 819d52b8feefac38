"""A village operator's upload: the cycle's own verdict, shown at once, and the file landing in the
month's inbox exactly as judged (the previous version kept where the cycle does not read)."""

from __future__ import annotations

import re
import stat
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select

from iuran import wilayah
from iuran.config import Settings
from iuran.db.models import AuditEvent, RosterUpload
from iuran.db.session import session_scope
from iuran.programs import load_program
from iuran.rosters.read import collect_rosters
from iuran.rosters.validate import validate_rows
from iuran.web.accounts import add_user
from iuran.web.upload import PREVIOUS
from tests.web.conftest import (
    DESA,
    OTHER_DESA,
    PASSWORD,
    csrf_of,
    log_in,
    niks,
    period,
    roster,
)

NAME = f"loket-{DESA}.xlsx"


def _upload(client: TestClient, data: bytes, name: str = "roster maret.xlsx") -> str:
    token = csrf_of(client.get("/desa").text)
    response = client.post(
        "/desa/unggah",
        data={"csrf": token, "periode": str(period())},
        files={"berkas": (name, data, "application/octet-stream")},
    )
    assert response.status_code == 200, response.text[:500]
    return response.text


def _rows(html: str) -> list[tuple[str, str]]:
    """(Excel row, reason) of each refused row shown."""
    body = html.split('id="baris-ditolak"')[1].split("</table>")[0]
    cells = re.findall(
        r'data-label="Baris Excel">(\d+)</td>.*?data-label="Alasan">([^<]*)</td></tr>', body, re.S
    )
    return [(row, reason) for row, reason in cells]


def test_the_verdict_is_the_cycles_and_lands_as_shown(
    settings: Settings, client: TestClient
) -> None:
    log_in(client, "desa-cilangkahan")
    html = _upload(client, roster(bad=True))
    assert re.search(r'id="diterima">4<', html) and re.search(r'id="ditolak">2<', html)
    shown = _rows(html)
    assert [row for row, _ in shown] == ["3", "5"]
    assert "NIK harus 16 digit" in shown[0][1]
    assert "tidak dikenali" in shown[1][1]
    # the cycle reads the month's folder and finds the same verdict
    folder = settings.inbox / "lebak" / str(period())
    assert sorted(p.name for p in folder.iterdir()) == [NAME]
    cycle = collect_rosters(str(folder))
    checked = validate_rows(cycle.rows, load_program("lebak"), period())
    assert len(checked.accepted) == 4
    assert checked.rejected["source_row"].tolist() == [3, 5]
    assert stat.S_IMODE((folder / NAME).stat().st_mode) == 0o600
    # no full NIK on the page
    assert not any(nik in html for nik in niks())


def test_a_fixed_file_replaces_the_last_and_the_last_is_kept(
    settings: Settings, client: TestClient
) -> None:
    log_in(client, "desa-cilangkahan")
    first, fixed = roster(bad=True), roster()
    _upload(client, first)
    html = _upload(client, fixed, "roster maret (perbaikan).xlsx")
    assert re.search(r'id="diterima">6<', html) and re.search(r'id="ditolak">0<', html)
    folder = settings.inbox / "lebak" / str(period())
    assert (folder / NAME).read_bytes() == fixed
    kept = list((folder / PREVIOUS).iterdir())
    assert [p.read_bytes() for p in kept] == [first]
    cycle = collect_rosters(str(folder))  # the kept version is not read
    assert cycle.files["path"].tolist() == [NAME]
    # a CSV after an XLSX: the XLSX moves away too, so one version is in force
    html = _upload(client, roster(csv=True), "roster.csv")
    assert re.search(r'id="diterima">6<', html)
    assert sorted(p.name for p in folder.iterdir() if p.is_file()) == [f"loket-{DESA}.csv"]
    assert len(list((folder / PREVIOUS).iterdir())) == 2
    assert "Unggahan sebelumnya" in client.get("/desa").text
    with session_scope(settings.database_url) as session:
        uploads = list(session.scalars(select(RosterUpload).order_by(RosterUpload.id)))
        assert [(u.accepted, u.rejected) for u in uploads] == [(4, 2), (6, 0), (6, 0)]
        audit = list(session.scalars(select(AuditEvent).where(AuditEvent.action == "unggah")))
        assert len(audit) == 3
        assert all(n not in repr(a.detail) + str(a.object) for a in audit for n in niks())


def test_a_file_refused_whole_does_not_land(settings: Settings, client: TestClient) -> None:
    log_in(client, "desa-cilangkahan")
    _upload(client, roster())
    folder = settings.inbox / "lebak" / str(period())
    before = (folder / NAME).read_bytes()
    html = _upload(client, b"%PDF-1.4 bukan roster", "roster.xlsx")
    assert 'id="ditolak-berkas"' in html and "BERKAS_" in html
    html = _upload(client, b"isi", "roster.docx")
    assert "BERKAS_JENIS" in html
    assert (folder / NAME).read_bytes() == before


def test_rows_of_another_village_are_refused(settings: Settings, client: TestClient) -> None:
    log_in(client, "desa-cilangkahan")
    html = _upload(client, roster(village=OTHER_DESA))
    assert "LOKET_DESA_LAIN" in html and OTHER_DESA in html
    assert not (settings.inbox / "lebak" / str(period())).exists()


def test_a_village_sees_only_its_own_uploads(settings: Settings, client: TestClient) -> None:
    log_in(client, "desa-cilangkahan")
    _upload(client, roster(), "rahasia-cilangkahan.xlsx")
    other = TestClient(client.app, follow_redirects=False)
    log_in(other, "desa-pagelaran")
    page = other.get("/desa").text
    assert "rahasia-cilangkahan" not in page and "Belum ada unggahan" in page


def test_uploads_are_bounded(settings: Settings, client: TestClient) -> None:
    log_in(client, "desa-cilangkahan")
    token = csrf_of(client.get("/desa").text)
    big = b"0" * (21 * 1024 * 1024)
    response = client.post(
        "/desa/unggah",
        data={"csrf": token, "periode": str(period())},
        files={"berkas": ("besar.csv", big, "text/csv")},
    )
    assert response.status_code == 413 and "terlalu besar" in response.text.lower()
    assert not Path(settings.inbox / "lebak").exists()


def test_template_download_is_audited(settings: Settings, client: TestClient) -> None:
    log_in(client, "desa-cilangkahan")
    response = client.get("/desa/templat")
    assert response.status_code == 200 and response.content.startswith(b"PK")
    with session_scope(settings.database_url) as session:
        assert session.scalar(select(AuditEvent.object).where(AuditEvent.action == "unduh")) == (
            "templat-roster.xlsx"
        )


def test_a_nik_in_a_file_name_is_masked_in_the_records(
    settings: Settings, client: TestClient
) -> None:
    log_in(client, "desa-cilangkahan")
    nik = niks()[0]
    _upload(client, roster(village=OTHER_DESA), f"koreksi {nik}.xlsx")  # refused: not stored
    with session_scope(settings.database_url) as session:
        upload = session.scalars(select(RosterUpload)).one()
        event = session.scalars(select(AuditEvent).where(AuditEvent.action == "unggah")).one()
    assert nik not in upload.original_name and nik[:4] in upload.original_name
    assert event.object is not None and nik not in event.object


def test_a_village_below_its_target_is_warned(settings: Settings, client: TestClient) -> None:
    """Lahat wants 100 workers per village (`target_per_village`): 6 rows land, with a warning."""
    lahat = load_program("lahat")
    village = str(wilayah.villages(lahat.regency, desa_only=True)["kode_desa"].iloc[0])
    with session_scope(settings.database_url) as session:
        add_user(session, "desa-lahat", PASSWORD, "desa", lahat, [village])
    log_in(client, "desa-lahat")
    token = csrf_of(client.get("/desa").text)
    html = client.post(
        "/desa/unggah",
        data={"csrf": token, "periode": str(period("lahat"))},
        files={"berkas": ("r.xlsx", roster(village, program="lahat"), "application/octet-stream")},
    ).text
    assert re.search(r'id="diterima">6<', html)
    assert (
        f"Desa {village}: 6 baris diterima, di bawah target 100 pekerja per desa (kurang 94)"
        in html
    )
    assert (settings.inbox / "lahat" / str(period("lahat")) / f"loket-{village}.xlsx").exists()
