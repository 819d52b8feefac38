"""Disnaker at the counter: the month's board (per village handed in / not yet / refused / billed
against the target, the pagu, the cycle), the audit trail without a NIK, the month's reports through
the counter only, and a rerun that says so plainly when no Prefect server is there to run it."""

from __future__ import annotations

import re

import pandas as pd
from fastapi.testclient import TestClient
from sqlalchemy import select

from iuran.config import Settings
from iuran.cycle_reports import program_villages
from iuran.db.models import AuditEvent
from iuran.db.session import session_scope
from iuran.nik import mask
from iuran.programs import load_program
from iuran.web import board
from iuran.web.app import create_app
from iuran.web.runs import Prefect
from tests.web.conftest import DESA, OTHER_DESA, csrf_of, log_in, niks, period, roster


def _village(html: str, kode: str) -> tuple[str, list[str]]:
    """(state, [handed in, refused, billed]) of a village's row on the board."""
    row = html.split(f'data-desa="{kode}"')[1].split("</tr>")[0]
    state = re.search(r'class="keadaan">([^<]*)<', row)
    numbers = re.findall(r'class="angka[^"]*" data-label="[^"]*">(\d+)<', row)
    assert state
    return state.group(1), numbers


def _upload(client: TestClient, data: bytes, name: str = "r.xlsx") -> None:
    token = csrf_of(client.get("/desa").text)
    client.post(
        "/desa/unggah",
        data={"csrf": token, "periode": str(period())},
        files={"berkas": (name, data, "application/octet-stream")},
    )


def _this_months_uploads(client: TestClient) -> None:
    """This month's uploads: one landed with two refused rows, one refused whole (another
    village's rows)."""
    village = TestClient(client.app, follow_redirects=False)
    log_in(village, "desa-cilangkahan")
    _upload(village, roster(bad=True))
    log_in(village, "desa-pagelaran")
    _upload(village, roster(DESA))


def test_the_board_shows_each_village_and_the_month(
    settings: Settings, client: TestClient, january: dict[str, object]
) -> None:
    log_in(client, "disnaker")
    assert client.get("/").headers["location"] == "/disnaker"
    html = client.get("/disnaker?periode=2026-01").text
    assert _village(html, DESA) == ("ditagih", ["0", "0", "3"])
    assert _village(html, OTHER_DESA) == ("ditagih", ["0", "0", "3"])
    assert _village(html, "36.02.01.2004")[0] == "belum"
    assert "<strong>2</strong> ditagih" in html and "6 pekerja ditagih" in html
    assert re.search(r'id="siklus">Siklus: <strong>\w+</strong>, dijalankan 1 kali', html)
    assert "Pagu Rp" in html and "Januari 2026" in html
    # this month's uploads: one landed with a refused row, one refused whole (another village's rows)
    _this_months_uploads(client)
    now = client.get(f"/disnaker?periode={period()}").text
    assert _village(now, DESA) == ("diterima", ["4", "2", "0"])
    assert _village(now, OTHER_DESA)[0] == "berkas ditolak"
    assert "belum berjalan" in now


def test_reports_only_through_the_counter_and_only_the_months(
    settings: Settings, client: TestClient, january: dict[str, object]
) -> None:
    log_in(client, "disnaker")
    xlsx = client.get("/disnaker/laporan/2026-01/kualitas-data")
    assert xlsx.status_code == 200 and xlsx.content.startswith(b"PK")
    assert "kualitas-data-lebak-2026-01.xlsx" in xlsx.headers["content-disposition"]
    pdf = client.get("/disnaker/laporan/2026-01/laporan")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert client.get("/disnaker/laporan/2026-01/mutasi").status_code == 404  # full NIKs: BPJS
    assert client.get("/disnaker/laporan/2026-02/laporan").status_code == 404  # not run yet
    assert client.get("/disnaker/laporan/..%2F..%2Fetc/laporan").status_code == 404
    with session_scope(settings.database_url) as session:
        got = [
            e.object
            for e in session.scalars(select(AuditEvent).where(AuditEvent.action == "unduh"))
        ]
    assert got == ["lebak/kualitas-data-lebak-2026-01.xlsx", "lebak/laporan-lebak-2026-01.pdf"]


def test_the_audit_trail_says_who_did_what_without_a_nik(
    settings: Settings, client: TestClient
) -> None:
    log_in(client, "desa-cilangkahan")
    nik = niks()[0]
    _upload(client, roster(), name=f"roster {nik}.pdf")  # refused: its own name is recorded
    log_in(client, "disnaker")
    html = client.get("/disnaker/audit").text
    table = html.split('id="audit"')[1]
    assert "desa-cilangkahan" in table and "unggah" in table and "masuk" in table
    assert nik not in html
    assert mask(nik) in html  # the file's name, masked
    # another program's accounts are not Lebak's business
    assert "tidak-ada" not in table


def test_a_rerun_without_prefect_says_so_and_starts_nothing(
    settings: Settings, client: TestClient
) -> None:
    log_in(client, "disnaker")
    html = client.get("/disnaker").text
    assert "Server Prefect belum diatur" in html
    answer = client.post(
        "/disnaker/jalankan", data={"csrf": csrf_of(html), "periode": "2026-01", "jenis": "ulang"}
    )
    assert answer.status_code == 503 and "tidak ada yang dijalankan" in answer.text
    down = TestClient(
        create_app(settings, Prefect("http://127.0.0.1:9/api")), follow_redirects=False
    )
    log_in(down, "disnaker")
    page = down.get("/disnaker").text
    assert "Server Prefect tidak dapat dihubungi (http://127.0.0.1:9/api)" in page
    answer = down.post(
        "/disnaker/jalankan", data={"csrf": csrf_of(page), "periode": "2026-01", "jenis": "uji"}
    )
    assert answer.status_code == 503
    with session_scope(settings.database_url) as session:
        actions = set(session.scalars(select(AuditEvent.action)))
    assert not actions & {"jalankan_ulang", "jalankan_uji"}


def _rows(html: str) -> list[str]:
    return re.findall(r'<tr data-desa="([^"]+)"', html)


def test_the_board_pages_and_filters_its_villages(
    client: TestClient, january: dict[str, object]
) -> None:
    everyone = list(program_villages(load_program("lebak")).index)
    pages = -(-len(everyone) // board.PER_PAGE)
    log_in(client, "disnaker")
    first = client.get("/disnaker?periode=2026-01").text
    assert _rows(first) == everyone[: board.PER_PAGE]
    assert f"{len(everyone)} desa, halaman 1 dari {pages}" in first
    assert 'href="/disnaker?periode=2026-01&amp;hal=2" id="berikutnya"' in first
    second = client.get("/disnaker?periode=2026-01&hal=2").text
    assert _rows(second) == everyone[board.PER_PAGE : 2 * board.PER_PAGE]
    last = client.get("/disnaker?periode=2026-01&hal=999").text  # past the end: the last page
    assert _rows(last) == everyone[(pages - 1) * board.PER_PAGE :]
    assert 'id="berikutnya"' not in last and 'id="sebelumnya"' in last
    assert _rows(client.get("/disnaker?periode=2026-01&hal=x").text) == _rows(first)
    waiting = client.get("/disnaker?periode=2026-01&status=belum").text
    assert f"{len(everyone) - 2} desa" in waiting and DESA not in _rows(waiting)
    assert 'href="/disnaker?periode=2026-01&amp;status=belum&amp;hal=2"' in waiting
    assert "0 desa." in client.get("/disnaker?periode=2026-01&status=ditolak").text
    below = client.get("/disnaker?periode=2026-01&status=kurang").text
    assert _rows(below) == [] and 'value="kurang"' not in below  # Lebak sets no target
    # this month: one village with refused rows, one whose file was refused whole
    _this_months_uploads(client)
    refused = client.get(f"/disnaker?periode={period()}&status=ditolak").text
    assert _rows(refused) == [DESA, OTHER_DESA] and "2 desa." in refused
    unknown = client.get(f"/disnaker?periode={period()}&status=<script>").text
    assert _rows(unknown) == everyone[: board.PER_PAGE] and "<script>" not in unknown


def test_shown_villages_filters_then_pages() -> None:
    villages = pd.DataFrame(
        {
            "kode_desa": [f"36.02.01.{2000 + i}" for i in range(7)],
            "keadaan": [
                "belum",
                "ditagih",
                "berkas ditolak",
                "diterima",
                "belum",
                "ditagih",
                "belum",
            ],
            "ditolak": [0, 2, 0, 1, 0, 0, 0],
            "kurang": [10, 0, 10, 10, 10, 5, 10],
        }
    )
    shown = board.shown_villages(villages, "belum", page=2, per_page=2)
    assert list(shown.villages["kode_desa"]) == ["36.02.01.2006"]
    assert (shown.matching, shown.page, shown.pages) == (3, 2, 2)
    refused = board.shown_villages(villages, "ditolak", page=1, per_page=10).villages
    assert list(refused["kode_desa"]) == ["36.02.01.2001", "36.02.01.2002", "36.02.01.2003"]
    assert board.shown_villages(villages, "kurang", 1, 10).matching == 6
    assert board.shown_villages(villages, None, page=0, per_page=3).page == 1
    empty = board.shown_villages(villages.iloc[:0], "belum", page=3)
    assert (empty.matching, empty.page, empty.pages) == (0, 1, 1)
