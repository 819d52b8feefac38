"""Hostile text through a whole cycle (SQLite and PostgreSQL): names that look like spreadsheet
formulas or HTML, control characters, file names built to inject. Every spreadsheet the cycle writes
holds them as text cells (formula-like ones with Excel's quote prefix), the PDF prints them
literally, the e-mails' HTML escapes them, and a NUL in a name does not sink the cycle on PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import io
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import openpyxl
import pypdf
import pytest

from iuran.config import load_settings
from iuran.mail import deliver_pending_sync
from iuran.payments.sp2d import record_payment
from tests.hostile.corpus import (
    FORMULAS,
    MARKUP,
    PERIOD,
    csv_text,
    lebak,
    people,
    write_csv,
)
from tests.hostile.test_corpus import good_inbox
from tests.pipeline import run

NAMES = [*FORMULAS, *MARKUP]  # billed workers' names
FORMULA_START = ("=", "+", "-", "@")
BAD_FILES = {
    "<img src=x onerror=alert(1)>.csv": b"\x00\x01 bukan roster",
    '=HYPERLINK("http:evil","klik").csv': b"Daftar peserta\nbaris tanpa header\n",
}


def hostile_cycle(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> dict[str, Any]:
    """One cycle over three good villages, eight billed workers with hostile names, five rejected
    rows with hostile names, a NUL in a name and two files with hostile names; the mail delivered to
    a file outbox; then a payment with a hostile note."""
    monkeypatch.delenv("IURAN_SMTP_HOST", raising=False)
    monkeypatch.setenv("IURAN_OUTBOX", str(tmp_path / "outbox"))
    program = lebak()
    inbox = tmp_path / "inbox"
    good_inbox(inbox)
    folder = inbox / program.code / str(PERIOD)
    billed = people(32, 5) + people(33, 3)
    for person, name in zip(billed, NAMES, strict=True):
        person["nama"] = name
    billed[0]["pekerjaan"] = "=1+2"
    write_csv(folder / "hostile-billed.csv", billed)
    refused = people(34, 5)
    for person, name in zip(refused, NAMES, strict=False):
        person["nama"] = name
        person["tanggal_lahir"] = "=1+1"  # not a date: every row rejected, its value in the message
    write_csv(folder / "hostile-refused.csv", refused)
    nul = people(35, 2)
    nul[0]["alamat"] = "x" * 9000  # past the 8 KB the reader checks for binary content
    nul[1]["nama"] = "Siti\x00Aminah"
    (folder / "hostile-nul.csv").write_text(csv_text(nul))
    for name, data in BAD_FILES.items():
        (folder / name).write_bytes(data)

    out = tmp_path / "out"
    summary = run(database_url, program, str(PERIOD), inbox, out)
    [invoice] = summary["invoices"]
    paid = record_payment(
        database_url,
        nomor_sp2d="777/SP2D/2026",
        tanggal="14/01/2026",
        jumlah=str(invoice["total"]),
        nomor_tagihan=invoice["number"],
        keterangan='<script>alert(1)</script> =HYPERLINK("http://x")',
        today=dt.date(2026, 1, 20),
    )
    assert paid["summary"]["recorded"] == 1
    report = deliver_pending_sync(database_url, load_settings(database_url))
    assert report.failed == 0 and report.pending == 0, report.errors
    return {
        "summary": summary,
        "out": out / program.code / str(PERIOD),
        "invoice_xlsx": Path(invoice["pdf"]).with_suffix(".xlsx"),
        "invoice_pdf": Path(invoice["pdf"]),
        "outbox": tmp_path / "outbox",
        "refused_village": refused[0]["kode_desa"],
        "nul_nik": nul[1]["nik"],
    }


def text_cells(path: Path) -> dict[str, list[Any]]:
    """Every non-empty cell of every sheet of a workbook, by its value."""
    found: dict[str, list[Any]] = {}
    for ws in openpyxl.load_workbook(path).worksheets:
        for row in ws.iter_rows():
            for cell in row:
                if cell.value is not None:
                    found.setdefault(str(cell.value), []).append(cell)
    return found


def assert_neutralised(path: Path, values: list[str]) -> None:
    cells = text_cells(path)
    for value in values:
        assert value in cells, (path.name, value)
        for cell in cells[value]:
            assert cell.data_type == "s", (path.name, value)
            if value.startswith(FORMULA_START):
                assert cell.quotePrefix, (path.name, value)
    assert not any(c.data_type == "f" for cs in cells.values() for c in cs), path.name


def check_spreadsheets(cycle: dict[str, Any]) -> None:
    assert cycle["summary"]["participants"]["billed"] == 15 + 8 + 2
    assert_neutralised(cycle["invoice_xlsx"], [*NAMES, "=1+2"])
    out: Path = cycle["out"]
    assert_neutralised(out / "mutasi-lebak-2026-01.xlsx", [*NAMES, "=1+2"])
    village_report = out / "penolakan" / f"penolakan-{cycle['refused_village']}.xlsx"
    assert_neutralised(village_report, NAMES[:5])
    leftovers = next((out / "penolakan").glob("penolakan-tanpa-desa*.xlsx"))
    assert_neutralised(leftovers, list(BAD_FILES))
    for path in out.rglob("*.xlsx"):  # the data-quality table too: no formula anywhere
        assert_neutralised(path, [])


def check_pdf(cycle: dict[str, Any]) -> None:
    pages = pypdf.PdfReader(io.BytesIO(cycle["invoice_pdf"].read_bytes())).pages
    squeezed = "".join("".join(page.extract_text() for page in pages).split())
    for name in NAMES:
        assert "".join(name.split()) in squeezed, name
    assert "SitiAminah" in squeezed  # the NUL became a space


def _mails(outbox: Path) -> list[EmailMessage]:
    return [
        email.message_from_bytes(p.read_bytes(), policy=email.policy.default)  # type: ignore[misc]
        for p in sorted(outbox.glob("*.eml"))
    ]


def check_emails(cycle: dict[str, Any]) -> None:
    mails = {m["X-Iuran-Notification"].split(":")[0]: m for m in _mails(cycle["outbox"])}
    assert {"invoice_issued", "cycle_rejections", "mutation_list", "payment_recorded"} <= set(mails)
    for kind, msg in mails.items():
        html = msg.get_body(("html",)).get_content()  # type: ignore[union-attr]
        assert "<script" not in html and "<img src=x" not in html, kind
        assert "\x00" not in html and "\x00" not in msg.as_string(), kind
    rejections = mails["cycle_rejections"].get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "&lt;img src=x onerror=alert(1)&gt;.csv" in rejections
    payment = mails["payment_recorded"].get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in payment


def check_nul(cycle: dict[str, Any], database_url: str) -> None:
    from sqlalchemy import select

    from iuran.db.models import Participant
    from iuran.db.session import session_scope

    with session_scope(database_url) as s:
        name = s.scalar(select(Participant.nama).where(Participant.nik == cycle["nul_nik"]))
    assert name == "Siti Aminah"


def test_hostile_text_through_a_cycle(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cycle = hostile_cycle(database_url, tmp_path, monkeypatch)
    check_spreadsheets(cycle)
    check_pdf(cycle)
    check_emails(cycle)
    check_nul(cycle, database_url)


def _long_name(folder: Path) -> None:
    rows = people(36, 2)
    rows[0]["nama"] = "Siti " + "Aminah " * 40  # 285 characters
    write_csv(folder / "nama-panjang.csv", rows)


def _long_occupation(folder: Path) -> None:
    rows = people(37, 2)
    rows[0]["pekerjaan"] = "buruh harian lepas dan petani penggarap " * 4  # 160 characters
    write_csv(folder / "pekerjaan-panjang.csv", rows)


def _long_path(folder: Path) -> None:
    deep = folder.joinpath(*["kecamatan-" + "x" * 190] * 3)  # a 600-character relative path
    deep.mkdir(parents=True)
    write_csv(deep / "roster.csv", people(38, 2))


@pytest.mark.parametrize(
    "write", [_long_name, _long_occupation, _long_path], ids=["name", "occupation", "path"]
)
def test_an_overlong_value_does_not_sink_the_whole_cycle(
    write: Any, database_url: str, tmp_path: Path
) -> None:
    """One village's overlong name (> 200 characters), occupation (> 100) or file path (> 500) must
    not stop the cycle for every other village. PostgreSQL enforces the column widths of
    participant.nama, membership/contribution_line.pekerjaan and roster_file.path; SQLite does not."""
    program = lebak()
    inbox = tmp_path / "inbox"
    good_inbox(inbox)
    write(inbox / program.code / str(PERIOD))
    summary = run(database_url, program, str(PERIOD), inbox, tmp_path / "out", render=False)
    assert summary["status"] == "issued"
    assert summary["participants"]["billed"] >= 15 + 1
