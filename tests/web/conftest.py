"""The counter under test: its settings in a temporary folder, one account per role, rosters of
synthetic people written as the village operators' XLSX."""

from __future__ import annotations

import dataclasses
import io
import re
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from iuran.config import Settings, load_settings
from iuran.db.session import session_scope
from iuran.generate import COLUMNS, build_rosters, generate_rosters
from iuran.periods import Period
from iuran.programs import load_program
from iuran.web.accounts import add_user
from iuran.web.app import create_app, open_periods
from iuran.web.runs import Prefect
from tests.pipeline import run

PASSWORD = "kata-sandi-uji-123"
DESA = "36.02.01.2002"
OTHER_DESA = "36.02.01.2003"
#: username -> (role, villages)
ACCOUNTS = {
    "desa-cilangkahan": ("desa", [DESA]),
    "desa-pagelaran": ("desa", [OTHER_DESA]),
    "opd-dinsos": ("opd", ["36.02.01.2004", "36.02.01.2005"]),
    "disnaker": ("disnaker", []),
    "bkad": ("bkad", []),
    "bpjs": ("bpjs", []),
}


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    base = load_settings(database_url, tmp_path / "inbox", tmp_path / "out")
    settings = dataclasses.replace(base, private=tmp_path / "private", web_secret="uji-rahasia")
    with session_scope(database_url) as session:
        for name, (role, villages) in ACCOUNTS.items():
            add_user(session, name, PASSWORD, role, load_program("lebak"), villages)
    return settings


@pytest.fixture
def prefect() -> Prefect:
    """No Prefect server: the board says so; `test_browser_rerun.py` gives a real one."""
    return Prefect(None)


@pytest.fixture
def client(settings: Settings, prefect: Prefect) -> TestClient:
    return TestClient(create_app(settings, prefect), follow_redirects=False)


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF token on the page"
    return found.group(1)


def log_in(client: TestClient, username: str, password: str = PASSWORD) -> int:
    token = csrf_of(client.get("/masuk").text)
    response = client.post(
        "/masuk", data={"username": username, "password": password, "csrf": token}
    )
    return response.status_code


def period(program: str = "lebak") -> Period:
    return open_periods(load_program(program))[0]


def roster(
    village: str = DESA,
    n: int = 6,
    bad: bool = False,
    seed: int = 7,
    csv: bool = False,
    program: str = "lebak",
) -> bytes:
    """An XLSX of `n` synthetic workers of `village`, as the template lays it out; `bad`: the NIK of
    the second worker (Excel row 3) one digit short and the birth date of the fourth (row 5) not a
    date."""
    everyone = build_rosters(
        load_program(program), period(program), villages=6, per_village=n, seed=seed
    )
    frame = next(r for r in everyone if r.kode_desa == village).frame
    lines: list[list[object]] = [list(COLUMNS)]
    for i, row in enumerate(frame[COLUMNS].itertuples(index=False)):
        values = ["" if pd.isna(v) else v for v in row]
        values[0] = str(values[0])
        values[2] = pd.Timestamp(values[2]).strftime("%d/%m/%Y")
        if bad and i == 1:
            values[0] = values[0][:-1]
        if bad and i == 3:
            values[2] = "bukan tanggal"
        lines.append(values)
    if csv:
        return "\n".join(";".join(map(str, line)) for line in lines).encode()
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    for line in lines:
        ws.append(line)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def niks(village: str = DESA, n: int = 6, seed: int = 7) -> list[str]:
    program = load_program("lebak")
    everyone = build_rosters(program, period(), villages=6, per_village=n, seed=seed)
    return [str(x) for x in next(r for r in everyone if r.kode_desa == village).frame["nik"]]


@pytest.fixture
def january(settings: Settings) -> dict[str, object]:
    """Lebak's January billed: one invoice, its PDF and XLSX in the documents folder."""
    program = load_program("lebak")
    generate_rosters(program, Period(2026, 1), settings.inbox, 2, 3, 0.0, 1)
    summary = run(settings.database_url, program, "2026-01", settings.inbox, settings.out)
    invoice = summary["invoices"][0]
    assert isinstance(invoice, dict)
    return invoice


@pytest.fixture
def corrected_january(settings: Settings) -> None:
    """Lebak's January run on two villages' rosters with two bad rows each (Excel rows 3 and 5):
    the month writes a correction list for each of them."""
    folder = settings.inbox / "lebak" / "2026-01"
    folder.mkdir(parents=True)
    for village in (DESA, OTHER_DESA):
        (folder / f"{village}.xlsx").write_bytes(roster(village, bad=True))
    run(settings.database_url, load_program("lebak"), "2026-01", settings.inbox, settings.out)
