"""BPJS's claims list (#18) on SQLite and PostgreSQL: a JKM claim ends cover after the month of death
through the status rule; claims are stored once; the program report and `iuran status` show the
premiums paid beside the benefits received, per type and per village, without a NIK."""

from __future__ import annotations

import datetime as dt
import io
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pypdf
from sqlalchemy import func, select
from typer.testing import CliRunner

from iuran.claims import import_claims
from iuran.cli import app
from iuran.db.models import Claim
from iuran.db.session import session_scope
from iuran.generate import generate_rosters
from iuran.money import rupiah
from iuran.payments.sp2d import record_payment
from iuran.periods import Period
from iuran.programs import load_program
from iuran.status import format_status, status_report
from iuran.wilayah import villages
from tests.db.test_who_is_billed import _billed
from tests.pipeline import run

LAMANDAU = load_program("lamandau")
TODAY = dt.date(2025, 3, 20)


def _claims(url: str) -> int:
    with session_scope(url) as s:
        return int(s.scalar(select(func.count()).select_from(Claim)) or 0)


def _months(inbox: Path, *months: int) -> pd.DataFrame:
    """Lamandau's rosters for these months of 2025 (the same workers each month); January's rows."""
    for m in months:
        generate_rosters(LAMANDAU, Period(2025, m), inbox, villages=2, per_village=5, seed=7, churn=0, xlsx_share=0)  # fmt: skip
    files = sorted((inbox / "lamandau" / "2025-01").glob("*.csv"))
    return pd.concat([pd.read_csv(f, dtype=str) for f in files], ignore_index=True)


def test_a_jkm_claim_ends_cover_after_the_month_of_death(database_url: str, tmp_path: Path) -> None:
    """Died 20 January (BPJS's claims list through the command line): billed in January, on a later
    rerun of January too; not from February; the same list imported again adds nothing."""
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    workers = _months(inbox, 1, 2, 3)
    jan = run(database_url, LAMANDAU, "2025-01", inbox, out, render=False)
    assert jan["participants"]["billed"] == 10
    deceased = workers["nik"].iloc[0]
    listed = tmp_path / "klaim.csv"
    listed.write_text(
        "No;NIK Peserta;Jenis Klaim;Tanggal Kejadian;Nilai Klaim\n"
        f"1;{deceased};JKM (Kematian);20/01/2025;Rp42.000.000\n"
        "2;3602011501900001;JKM;21/01/2025;42,000,000.00\n"  # never billed by Lamandau
        f"3;{workers['nik'].iloc[1]};Sakit;05/01/2025;1.000.000\n"  # no such claim type
    )
    first = import_claims(database_url, listed, "lamandau", TODAY)
    assert (first.stored, first.already, first.deaths) == (1, 0, 1)
    assert list(first.rejected["code"]) == ["KLAIM_BUKAN_PESERTA", "KLAIM_JENIS"]
    assert list(first.rejected["source_row"]) == [3, 4]
    assert deceased not in " ".join(first.notes())  # masked NIKs only
    again = import_claims(database_url, listed, "lamandau", TODAY)
    assert (again.stored, again.already) == (0, 1)
    assert _claims(database_url) == 1

    feb = run(database_url, LAMANDAU, "2025-02", inbox, out, render=False)
    assert feb["rejections"].get("PESERTA_MENINGGAL") == 1
    assert deceased not in _billed(database_url, "lamandau", "2025-02")
    run(database_url, LAMANDAU, "2025-01", inbox, out, render=False)  # January rerun later
    assert deceased in _billed(database_url, "lamandau", "2025-01")
    run(database_url, LAMANDAU, "2025-03", inbox, out, render=False)
    assert deceased not in _billed(database_url, "lamandau", "2025-03")


def test_lamandau_two_deaths_in_the_report_and_status(database_url: str, tmp_path: Path) -> None:
    """Two workers of Lamandau died; the claims list in February's folder pays their heirs JKM
    Rp42,000,000 each: the program report and `iuran status` show Rp84.000.000 and 2 deaths beside
    the premiums paid, per village, and never a NIK. The report's page is kept as an image."""
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    workers = _months(inbox, 1, 2)
    jan = run(database_url, LAMANDAU, "2025-01", inbox, out, render=False)
    [invoice] = jan["invoices"]
    paid = record_payment(
        database_url,
        nomor_sp2d="900/SP2D/LMD/2025",
        tanggal="14/01/2025",
        jumlah=str(invoice["total"]),
        nomor_tagihan=invoice["number"],
        today=dt.date(2025, 1, 14),
    )
    assert paid["payments"][0]["result"] == "recorded"
    dead = workers.iloc[[0, 6]]
    (inbox / "lamandau" / "2025-02" / "klaim-bpjs.csv").write_text(
        "NIK;Program;Tanggal;Nilai;Nomor Klaim\n"
        + "".join(
            f"{n};JKM;{day}/01/2025;Rp42.000.000;KLM-{i}\n"
            for i, (n, day) in enumerate(zip(dead["nik"], ("20", "25"), strict=True))
        )
    )
    feb = run(database_url, LAMANDAU, "2025-02", inbox, out)
    assert feb["participants"]["billed"] == 8
    assert any("2 dicatat" in n for n in feb["notes"]), feb["notes"]
    run(database_url, LAMANDAU, "2025-02", inbox, out)  # rerun: nothing added
    assert _claims(database_url) == 2

    names = villages(LAMANDAU.regency).set_index("kode_desa")["nama_desa"]
    codes = sorted(set(dead["kode_desa"]))
    pdf_path = next((out / "lamandau" / "2025-02").glob("laporan-*.pdf"))
    text = " ".join(
        " ".join(
            p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf_path.read_bytes())).pages
        ).split()
    )
    premium = invoice["total"]
    assert (
        f"Premi dibayar Rp{premium:,} · Manfaat diterima Rp84.000.000 (JKM 2 × Rp42.000.000)".replace(
            ",", "."
        )
        in text
    )
    assert "JKM 2 kematian Rp84.000.000" in text
    for code in codes:
        assert code in text and str(names[code]) in text
    for nik in workers["nik"]:
        assert nik not in text
    if shutil.which("pdftoppm"):
        subprocess.run(
            ["pdftoppm", "-r", "60", "-png", pdf_path.name, "laporan"], cwd=pdf_path.parent, check=True
        )  # fmt: skip
        assert sorted(pdf_path.parent.glob("laporan-*.png"))

    report = status_report(database_url, LAMANDAU, None, dt.date(2025, 2, 20))
    b = report["benefits"]
    assert (b["premiums_paid"], b["benefits_paid"], b["claims"]) == (premium, 84_000_000, 2)
    jkm = next(t for t in b["by_type"] if t["jenis"] == "JKM")
    assert (jkm["claims"], jkm["nilai"]) == (2, 84_000_000)
    assert {v["kode_desa"] for v in b["villages"]} == set(workers["kode_desa"])  # premiums too
    assert sum(v["nilai"] for v in b["villages"]) == 84_000_000
    assert sum(v["premi"] for v in b["villages"]) == premium  # January's invoice, per village
    for v in b["villages"]:  # the PDF's villages table: premiums paid beside the benefits
        assert f"{v['kode_desa']} {names[v['kode_desa']]} {rupiah(v['premi'])}" in text
    shown = CliRunner().invoke(
        app, ["status", "--program", "lamandau", "--db", database_url, "--today", "2025-02-20"]
    ).stdout  # fmt: skip
    assert shown == format_status(report) + "\n"
    assert "Manfaat diterima Rp84.000.000 (JKM 2 × Rp42.000.000)" in shown
    assert "JKM: 2 kematian, Rp84.000.000" in shown
    for code in codes:
        assert code in shown
    for nik in workers["nik"]:
        assert nik not in shown
