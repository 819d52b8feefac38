"""The counter's (Loket's) addresses of what it serves: one home for every link to a document.

E-mails (`iuran.mail.compose`) and the Prefect artifacts (`tasks/report.py`) link here instead of to
files, so a document with full NIKs is opened only by a logged-in account of the role that may see
it. Each function gives the path of one route of `iuran.web.app.create_app` (tests/web/
test_links.py requests each one with the role that may open it, so links and routes cannot drift
apart); `absolute` puts it under the counter's public address (`IURAN_LOKET_URL`). No FastAPI here:
the mail and the flows import this without the web server.
"""

from __future__ import annotations

from urllib.parse import quote, urlencode

#: An invoice's documents: its PDF (masked NIKs) and its XLSX detail sheet (full NIKs)
INVOICE_KINDS = ("pdf", "xlsx")
#: Disnaker's reports of a month (`iuran.web.board.REPORTS`)
REPORT_KINDS = ("kualitas-data", "laporan")


def _segment(value: object) -> str:
    return quote(str(value), safe="")


def invoice(invoice_id: int, kind: str) -> str:
    """BKAD's download of an invoice's PDF or XLSX detail sheet."""
    if kind not in INVOICE_KINDS:
        raise ValueError(f"no invoice document {kind!r}")
    return f"/bkad/tagihan/{int(invoice_id)}/{kind}"


def invoices() -> str:
    """BKAD's page: the program's invoices and their payment state."""
    return "/bkad"


def report(period: str, kind: str) -> str:
    """Disnaker's download of a month's report (the data-quality table, the program report)."""
    if kind not in REPORT_KINDS:
        raise ValueError(f"no report {kind!r}")
    return f"/disnaker/laporan/{_segment(period)}/{kind}"


def mutation_list(period: str) -> str:
    """The BPJS branch's download of a month's mutation list (full NIKs)."""
    return f"/bpjs/mutasi/{_segment(period)}"


def village() -> str:
    """A village account's page: uploads, their verdicts, the template."""
    return "/desa"


def village_workers(period: str) -> str:
    """A village account's billed workers of a month (masked NIKs) with their payment state."""
    return f"/desa/peserta?{urlencode({'periode': period})}"


def absolute(base: str, path: str) -> str:
    """`path` under the counter's public address `base` (`https://loket.lebakkab.go.id`)."""
    return base.rstrip("/") + path
