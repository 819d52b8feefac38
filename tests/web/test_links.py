"""The counter's links (`iuran.web.links`) and its routes cannot drift apart: every link is the path
of a GET route of `create_app`, and opens (200) for the role it is written for, and for no other
(on SQLite and PostgreSQL)."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from iuran.config import Settings
from iuran.web import links
from iuran.web.app import create_app
from iuran.web.runs import Prefect
from tests.web.conftest import ACCOUNTS, log_in

PERIOD = "2026-01"


def every_link(invoice_id: int) -> dict[str, list[str]]:
    """account -> the links written for its role, each link function with each of its kinds."""
    return {
        "bkad": [
            links.invoices(),
            *(links.invoice(invoice_id, kind) for kind in links.INVOICE_KINDS),
        ],
        "disnaker": [links.report(PERIOD, kind) for kind in links.REPORT_KINDS],
        "bpjs": [links.mutation_list(PERIOD)],
        "desa-cilangkahan": [links.village(), links.village_workers(PERIOD)],
    }


def test_every_link_is_a_get_route_of_the_app(settings: Settings, prefect: Prefect) -> None:
    app = create_app(settings, prefect)
    routes = [r for r in app.routes if isinstance(r, APIRoute) and "GET" in (r.methods or ())]
    for written in every_link(42).values():
        for link in written:
            path = urlsplit(link).path
            assert any(r.path_regex.fullmatch(path) for r in routes), link


def test_every_link_opens_for_its_role_and_no_other(
    settings: Settings, prefect: Prefect, january: dict[str, object]
) -> None:
    written = every_link(int(str(january["id"])))
    for account in written:
        client = TestClient(create_app(settings, prefect), follow_redirects=False)
        assert log_in(client, account) == 303
        for owner, mine in written.items():
            for link in mine:
                status = client.get(link).status_code
                if owner == account:
                    assert status == 200, (account, link, status)
                else:
                    assert status == 403, (account, link, status)


def test_links_quote_what_they_carry() -> None:
    assert links.mutation_list("../etc") == "/bpjs/mutasi/..%2Fetc"
    assert links.village_workers("2026-01") == "/desa/peserta?periode=2026-01"
    assert links.absolute("https://loket.lebakkab.go.id/", "/desa") == (
        "https://loket.lebakkab.go.id/desa"
    )
    with pytest.raises(ValueError):
        links.invoice(1, "csv")
    with pytest.raises(ValueError):
        links.report(PERIOD, "mutasi")  # BPJS's, under its own route
    assert set(ACCOUNTS) >= set(every_link(1))
