"""The money on the paper a finance office signs, on SQLite and PostgreSQL: the detail sheet shows
the income a worker declared beside the income JKK is computed on (the BPU ceiling); the invoice
names the funding basis of its discount; the payer's credit pays an invoice when it is issued, and
the PDF and e-mail show the total, the credit applied and what is still to pay."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import openpyxl
import pandas as pd
import pypdf
from sqlalchemy import func, select

from iuran.db.models import LIVE, ContributionLine, CreditNote, Invoice, Notification
from iuran.db.session import session_scope
from iuran.generate import generate_rosters
from iuran.mail.compose import render
from iuran.payments.sp2d import record_payment
from iuran.periods import Period
from iuran.programs import load_program
from tests.pipeline import run

LEBAK = load_program("lebak")
JAN = "001/TAG-JKK-JKM/LBK/I/2026"


def _declare(roster: Path, incomes: list[int | None]) -> None:
    frame = pd.read_csv(roster, dtype=str)
    frame["penghasilan"] = [None if i is None else str(i) for i in incomes]
    frame.to_csv(roster, index=False)


def test_the_detail_sheet_shows_declared_and_applied_income(
    database_url: str, tmp_path: Path
) -> None:
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    generate_rosters(LEBAK, Period(2026, 1), inbox, villages=1, per_village=3, seed=4, xlsx_share=0)
    [roster] = sorted((inbox / "lebak" / "2026-01").glob("*.csv"))
    _declare(roster, [25_000_000, 2_500_000, None])
    summary = run(database_url, LEBAK, "2026-01", inbox, out)
    # JKK on Rp20,700,000 (Rp207,000), not Rp250,000
    assert summary["total_due"] == (207_000 + 6_800) + (25_000 + 6_800) + (10_000 + 6_800)
    [path] = sorted(out.rglob("*TAG-JKK-JKM*.xlsx"))
    rows = list(openpyxl.load_workbook(path)["Rincian"].iter_rows(values_only=True))
    header = list(rows[0])
    by_declared = {
        r[header.index("penghasilan_dilaporkan")]: (
            r[header.index("penghasilan")],
            r[header.index("jkk")],
        )
        for r in rows[1:-1]
    }
    assert by_declared == {
        25_000_000: (20_700_000, 207_000),
        2_500_000: (2_500_000, 25_000),
        1_000_000: (1_000_000, 10_000),
    }


def _pdf_text(path: Path) -> str:
    return " ".join(" ".join(p.extract_text() for p in pypdf.PdfReader(path).pages).split())


def test_the_invoice_names_the_funding_basis_of_its_discount(
    database_url: str, tmp_path: Path
) -> None:
    lahat = load_program("lahat")
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    generate_rosters(lahat, Period(2026, 5), inbox, villages=1, per_village=3, seed=4, xlsx_share=0)
    run(database_url, lahat, "2026-05", inbox, out)
    [path] = sorted(out.rglob("*TAG-JKK-JKM*.pdf"))
    text = _pdf_text(path)
    assert "Dasar diskon" in text
    assert "diskon 50% iuran JKK dan JKM: sumber dana ADD bukan APBN/APBD" in text


def _invoices(url: str) -> list[tuple[str, str, int, int, int, str]]:
    """(number, kind, total, credit_applied, sum of its current lines, payment_state) of live invoices."""
    with session_scope(url) as s:
        return [
            (
                inv.number,
                inv.kind,
                int(inv.total),
                int(inv.credit_applied),
                int(
                    s.scalar(
                        select(func.sum(ContributionLine.total)).where(
                            ContributionLine.invoice_id == inv.id, ContributionLine.is_current
                        )
                    )
                    or 0
                ),
                inv.payment_state,
            )
            for inv in s.scalars(
                select(Invoice).where(Invoice.document_state.in_(LIVE)).order_by(Invoice.id)
            )
        ]


def _swap_worker(roster: Path, donor: Path, income: int) -> None:
    """The roster loses its first worker and gains the donor roster's first one (same village)."""
    frame = pd.read_csv(roster, dtype=str)
    new = (
        pd.read_csv(donor, dtype=str)
        .iloc[:1]
        .assign(kode_desa=frame["kode_desa"].iloc[0], penghasilan=str(income))
    )
    pd.concat([frame.iloc[1:], new]).to_csv(roster, index=False)


def test_the_payers_credit_pays_its_supplementary_invoice_when_it_is_issued(
    database_url: str, tmp_path: Path
) -> None:
    """The issue's case: a paid month loses a worker (declared Rp1,234,600: Rp19,146) and gains one
    (Rp16,800). The credit note pays the supplementary invoice at once: to pay Rp0, Rp2,346 left; a
    rerun applies nothing twice; a second added worker takes the rest of the credit."""
    url, inbox, out = database_url, tmp_path / "inbox", tmp_path / "out"
    generate_rosters(LEBAK, Period(2026, 1), inbox, villages=1, per_village=3, seed=4, xlsx_share=0)
    generate_rosters(LEBAK, Period(2026, 1), tmp_path / "donor", villages=1, per_village=3, seed=9)
    [roster] = sorted((inbox / "lebak" / "2026-01").glob("*.csv"))
    [donor] = sorted((tmp_path / "donor" / "lebak" / "2026-01").glob("*.*"))
    _declare(roster, [1_234_600, None, None])
    january = 19_146 + 2 * 16_800
    assert run(url, LEBAK, "2026-01", inbox, out)["total_due"] == january
    [p] = record_payment(
        url,
        nomor_sp2d="100/SP2D/2026",
        tanggal="14/01/2026",
        jumlah=str(january),
        nomor_tagihan=JAN,
        today=dt.date(2026, 1, 14),
    )["payments"]
    assert p["result"] == "recorded"

    _swap_worker(roster, donor, 1_000_000)
    run(url, LEBAK, "2026-01", inbox, out)
    [regular, supplementary] = _invoices(url)
    assert regular == (JAN, "regular", january, 0, january, "paid")
    # total = the sum of its lines; the credit note paid it in full when it was issued
    assert supplementary[1:] == ("supplementary", 16_800, 16_800, 16_800, "paid")
    with session_scope(url) as s:
        [note] = s.scalars(select(CreditNote))
        assert (int(note.amount), int(note.unapplied)) == (19_146, 2_346)
        [mail] = s.scalars(
            select(Notification).where(
                Notification.event == "invoice_issued",
                Notification.context["total"].as_integer() == 16_800,
            )
        )
        _, text, _ = render(mail.template, mail.context)
    text = " ".join(text.split())
    assert "Total tagihan : Rp16.800" in text
    assert "Dikurangi kredit: -Rp16.800" in text and "Sisa yang harus dibayar: Rp0" in text
    pdf = _pdf_text(Path(next(out.rglob(supplementary[0].replace("/", "-") + ".pdf"))))
    assert "Dikurangi kredit : -Rp16.800 Sisa yang harus dibayar : Rp0,00" in pdf

    run(url, LEBAK, "2026-01", inbox, out)  # a rerun applies no credit twice
    assert _invoices(url)[1] == supplementary
    with session_scope(url) as s:
        assert int(s.scalars(select(CreditNote)).one().unapplied) == 2_346

    # one more worker (Rp2,500,000 declared: Rp31,800) takes the Rp2,346 left
    frame = pd.read_csv(roster, dtype=str)
    extra = (
        pd.read_csv(donor, dtype=str)
        .iloc[1:2]
        .assign(kode_desa=frame["kode_desa"].iloc[0], penghasilan="2500000")
    )
    pd.concat([frame, extra]).to_csv(roster, index=False)
    run(url, LEBAK, "2026-01", inbox, out)
    last = _invoices(url)[-1]
    assert last[1:5] == ("supplementary", 31_800, 2_346, 31_800)
    pdf = _pdf_text(Path(next(out.rglob(last[0].replace("/", "-") + ".pdf"))))
    assert "Dikurangi kredit : -Rp2.346 Sisa yang harus dibayar : Rp29.454,00" in pdf
    for _, _, total, credit, lines, _ in _invoices(url):
        assert total == lines and 0 <= credit <= total


def test_disnakers_rejection_mail_shows_each_villages_rows_as_the_data_quality_table(
    database_url: str, tmp_path: Path
) -> None:
    """A month with two bad rows in one village: the e-mail body Disnaker reads gives that village
    received / accepted / rejected exactly as the attached data-quality table ("5 / 3 / 2", never
    "2 dari 0 baris")."""
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    generate_rosters(LEBAK, Period(2026, 1), inbox, villages=2, per_village=5, seed=4, xlsx_share=0)
    first = sorted((inbox / "lebak" / "2026-01").glob("*.csv"))[0]
    frame = pd.read_csv(first, dtype=str)
    frame.loc[:1, "nik"] = ["12345", "3602"]
    frame.to_csv(first, index=False)
    run(database_url, LEBAK, "2026-01", inbox, out)
    with session_scope(database_url) as s:
        [mail] = s.scalars(select(Notification).where(Notification.event == "cycle_rejections"))
        _, text, _ = render(mail.template, mail.context)
    [quality] = sorted(out.rglob("kualitas-data-*.xlsx"))
    rows = list(openpyxl.load_workbook(quality).worksheets[0].iter_rows(values_only=True))
    at = next(i for i, r in enumerate(rows) if r and "Baris diterima" in r)
    header = list(rows[at])
    kode = first.stem
    [row] = [r for r in rows[at + 1 :] if r[0] == kode]
    figures = [row[header.index(c)] for c in ("Baris diterima", "Lolos", "Ditolak")]
    assert figures == [5, 3, 2]
    line = next(x for x in text.splitlines() if x.strip().startswith(f"- {kode}"))
    assert line.rstrip().endswith("5 / 3 / 2"), line
    assert "dari 0 baris" not in text
