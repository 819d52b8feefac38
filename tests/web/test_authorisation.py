"""Every route of the counter, with every role and with nobody logged in: who gets what.

`ALLOWED` lists each route once; a route added to the app without a line here fails the test."""

from __future__ import annotations

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from tests.web.conftest import ACCOUNTS, DESA, csrf_of, log_in, period, roster

EVERYONE = frozenset(ACCOUNTS)
VILLAGES = frozenset(n for n, (role, _) in ACCOUNTS.items() if role in ("desa", "opd"))
DISNAKER = frozenset({"disnaker"})
BRANCH = frozenset({"bpjs"})
TREASURY = frozenset({"bkad"})
#: the accounts of the village a path names (`kode_desa`: `DESA`)
OWN_VILLAGE = frozenset(n for n, (_, villages) in ACCOUNTS.items() if DESA in villages)
NOBODY: frozenset[str] = frozenset()
PUBLIC = None  # the login form: open to all
#: (method, path) -> the accounts that may use it
ALLOWED: dict[tuple[str, str], frozenset[str] | None] = {
    ("GET", "/"): EVERYONE,
    ("GET", "/masuk"): PUBLIC,
    ("POST", "/masuk"): PUBLIC,
    ("POST", "/keluar"): EVERYONE,
    ("GET", "/desa"): VILLAGES,
    ("POST", "/desa/unggah"): VILLAGES,
    ("GET", "/desa/templat"): VILLAGES,
    ("GET", "/desa/peserta"): VILLAGES,
    ("GET", "/desa/tagihan/{invoice_id}"): NOBODY,  # Lebak: BKAD pays, villages see no invoice
    ("GET", "/desa/penolakan/{periode}/{kode_desa}"): OWN_VILLAGE,
    ("GET", "/disnaker"): DISNAKER,
    ("GET", "/disnaker/audit"): DISNAKER,
    ("GET", "/disnaker/laporan/{periode}/{kind}"): DISNAKER,
    ("POST", "/disnaker/jalankan"): DISNAKER,
    ("GET", "/bpjs"): BRANCH,
    ("GET", "/bpjs/mutasi/{periode}"): BRANCH,
    ("POST", "/bpjs/penerimaan"): BRANCH,
    ("POST", "/bpjs/status"): BRANCH,
    ("GET", "/bkad"): TREASURY,
    ("GET", "/bkad/tagihan/{invoice_id}/{kind}"): TREASURY,
    ("POST", "/bkad/sp2d"): TREASURY,
}


def _routes(client: TestClient) -> set[tuple[str, str]]:
    return {
        (method, route.path)
        for route in client.app.routes  # type: ignore[attr-defined]
        if isinstance(route, APIRoute)
        for method in route.methods
    }


def _call(client: TestClient, method: str, route: str, token: str) -> int:
    path = route.format(invoice_id=1, kind="pdf", periode=str(period()), kode_desa=DESA)
    if method == "GET":
        return client.get(path).status_code
    files = {"berkas": ("r.xlsx", roster(), "application/octet-stream")}
    sends_file = path in ("/desa/unggah", "/bkad/sp2d", "/bpjs/penerimaan", "/bpjs/status")
    data = {"csrf": token, "periode": str(period())}
    if path == "/masuk":
        data |= {"username": "tidak-ada", "password": "x"}
    return client.post(path, data=data, files=files if sends_file else None).status_code


def test_every_route_is_listed(client: TestClient) -> None:
    assert _routes(client) == set(ALLOWED)


@pytest.mark.parametrize("account", [None, *sorted(ACCOUNTS)])
def test_every_route_with_every_role(client: TestClient, account: str | None) -> None:
    if account is not None:
        assert log_in(client, account) == 303
    for (method, path), allowed in sorted(ALLOWED.items()):
        if path == "/keluar":
            continue  # logging out ends the walk: checked last
        token = csrf_of(client.get("/masuk").text)
        status = _call(client, method, path, token)
        if allowed is PUBLIC:
            assert status in (200, 303, 401), (account, method, path, status)
        elif account is None:
            assert status == 303, (method, path, status)  # to the login form, nothing shown
        elif account in allowed:  # 404: a document not there; 503: no Prefect server to run on
            assert status in (200, 303, 404, 503), (account, method, path, status)
        else:
            assert status == 403, (account, method, path, status)
    status = client.post("/keluar", data={"csrf": csrf_of(client.get("/masuk").text)}).status_code
    assert status == 303
    assert client.get("/").status_code == 303  # and now nothing again


def test_nobody_logged_out_sees_anything(client: TestClient) -> None:
    for (method, path), allowed in ALLOWED.items():
        if allowed is PUBLIC:
            continue
        where = path.format(invoice_id=1, kind="pdf", periode="2026-01", kode_desa=DESA)
        response = client.request(method, where)
        assert response.status_code == 303 and response.headers["location"] == "/masuk"
        assert response.content == b""
