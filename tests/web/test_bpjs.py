"""The BPJS branch at the counter: the mutation list through the counter, receipts recorded by the
payment day's own import, the status list landing in the month's folder under the name the cycle
reads; and a village's own billed workers after the cycle, masked, its own village only."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from iuran.bpjs_status import read_status_list
from iuran.config import Settings
from iuran.db.models import ContributionLine, Participant
from iuran.db.session import session_scope
from iuran.nik import mask
from iuran.web.upload import PREVIOUS
from tests.web.conftest import DESA, OTHER_DESA, csrf_of, log_in


def _post(client: TestClient, path: str, body: bytes, name: str, **data: str) -> str:
    token = csrf_of(client.get("/bpjs").text)
    answer = client.post(
        path, data={"csrf": token, **data}, files={"berkas": (name, body, "text/csv")}
    )
    assert answer.status_code == 200, answer.text[:300]
    return answer.text


def _billed(settings: Settings, village: str) -> list[tuple[str, str]]:
    with session_scope(settings.database_url) as session:
        return list(
            session.execute(
                select(Participant.nik, Participant.nama)
                .join(ContributionLine, ContributionLine.participant_id == Participant.id)
                .where(ContributionLine.kode_desa == village)
            ).tuples()
        )


def test_bpjs_downloads_the_mutation_list_and_records_receipts(
    settings: Settings, client: TestClient, january: dict[str, object]
) -> None:
    log_in(client, "bpjs")
    assert client.get("/").headers["location"] == "/bpjs"
    page = client.get("/bpjs?periode=2026-01").text
    assert 'id="unduh-mutasi"' in page
    got = client.get("/bpjs/mutasi/2026-01")
    assert got.status_code == 200 and got.content.startswith(b"PK")
    assert client.get("/bpjs/mutasi/2026-02").status_code == 404
    html = _post(
        client, "/bpjs/penerimaan",
        b"nomor_sp2d,tanggal_terima,jumlah\n0099/SP2D/BKAD/2026,20/01/2026,16800\n", "terima.csv",
    )  # fmt: skip
    assert 'id="belum-cocok">1<' in html and "0099/SP2D/BKAD/2026" in html


def test_the_status_list_lands_where_the_cycle_reads_it(
    settings: Settings, client: TestClient, january: dict[str, object]
) -> None:
    log_in(client, "bpjs")
    nik = _billed(settings, DESA)[0][0]
    body = f"nik,status,tanggal\n{nik},meninggal,10/01/2026\n".encode()
    html = _post(client, "/bpjs/status", body, "status cabang.csv", periode="2026-01")
    assert 'id="status-disimpan"' in html and "meninggal 1" in html and nik not in html
    folder = settings.inbox / "lebak" / "2026-01"
    assert (folder / "bpjs_status.csv").read_bytes() == body
    rows, notes = read_status_list(folder)
    assert list(rows["nik"]) == [nik] and notes == []
    # a second list replaces it, the first kept aside; an unusable one does not land
    again = f"nik,status\n{nik},aktif\n".encode()
    _post(client, "/bpjs/status", again, "status.csv", periode="2026-01")
    assert (folder / "bpjs_status.csv").read_bytes() == again
    assert [p.read_bytes() for p in (folder / PREVIOUS).glob("*bpjs_status.csv")] == [body]
    refused = _post(client, "/bpjs/status", b"nik,status\n123,hilang\n", "s.csv", periode="2026-01")
    assert 'id="status-ditolak"' in refused
    assert (folder / "bpjs_status.csv").read_bytes() == again


def test_a_village_sees_its_own_billed_workers_masked(
    settings: Settings, client: TestClient, january: dict[str, object]
) -> None:
    log_in(client, "desa-cilangkahan")
    html = client.get("/desa/peserta?periode=2026-01").text
    assert 'id="jumlah">3<' in html
    for nik, nama in _billed(settings, DESA):
        assert nama in html and nik not in html and mask(nik) in html
    for nik, nama in _billed(settings, OTHER_DESA):
        assert nama not in html and mask(nik) not in html
    log_in(client, "opd-dinsos")  # villages that were not billed
    assert 'id="jumlah">0<' in client.get("/desa/peserta?periode=2026-01").text
