"""The monthly program report read back as BKAD sees it: budget, coverage, rejections; no NIK."""

from __future__ import annotations

import datetime as dt
import io
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pypdf
import pytest

from iuran.claims import Benefits
from iuran.money import rupiah
from iuran.periods import Period
from iuran.program_report import (
    ProgramReport,
    month_label,
    rejections_by_reason,
    render_program_report,
    rupiah_singkat,
    village_coverage,
    write_program_report,
)
from tests.unit.test_reports import NAMES, SIXTEEN, A, B, C, billed_frame, rejected_frame


@pytest.mark.parametrize(
    ("amount", "text"),
    [
        (0, "Rp 0"),
        (950, "Rp 950"),
        (16_800, "Rp 17 rb"),
        (5_800_000, "Rp 5,8 jt"),
        (57_960_000, "Rp 58 jt"),
        (670_680_000, "Rp 671 jt"),
        (1_000_000_000, "Rp 1 M"),
        (7_257_600_000, "Rp 7,3 M"),
        (-2_000_000, "-Rp 2 jt"),
    ],
)
def test_rupiah_singkat(amount: int, text: str) -> None:
    assert rupiah_singkat(amount) == text


def test_rupiah_singkat_refuses_floats() -> None:
    with pytest.raises(TypeError):
        rupiah_singkat(1.5)


def test_coverage_and_reasons() -> None:
    cov = village_coverage(billed_frame(), NAMES, target=2)
    assert cov.to_dict("list") == {
        "kode_desa": [A, B, C],
        "nama_desa": ["Cilangkahan", "Pagelaran", "Sukaraja"],
        "billed": [3, 1, 1],
        "target": [2, 2, 2],
    }
    assert rejections_by_reason(rejected_frame())[0] == ("NIK_PANJANG", "NIK tidak 16 digit", 2)


def make_report(
    villages: int = 3, below: float = 0.5, pagu: int = 670_680_000, seed: int = 1
) -> ProgramReport:
    rng = np.random.default_rng(seed)
    codes = [f"36.02.{i // 40 + 1:02d}.{2001 + i % 40}" for i in range(villages)]
    billed = np.where(rng.random(villages) < below, rng.integers(0, 10, villages), 10)
    monthly = [
        (month_label(Period(2026, m)), 57_960_000 + (m == 2) * 16_800, m > 3) for m in range(1, 13)
    ]
    to_date = sum(b for _, b, p in monthly if not p)
    projected = sum(b for _, b, _ in monthly)
    return ProgramReport(
        program_name="Program Uji <b>#set page(fill: red)</b>",
        regency_name="Kabupaten Lebak",
        period_label="Maret 2026",
        budget={
            "pagu": pagu,
            "billed_to_date": to_date,
            "projected_year": projected,
            "shortfall": max(0, projected - pagu),
            "months_covered": pagu // 57_960_000,
            "headcount_covered": pagu // (16_800 * 12),
        },
        monthly=monthly,
        villages=pd.DataFrame(
            {
                "kode_desa": codes,
                "nama_desa": [f"Desa Nomor {i}" for i in range(villages)],
                "billed": billed,
                "target": 10,
            }
        ),
        rejections=[
            ("NIK_PANJANG", "NIK tidak 16 digit", 40),
            ("NAMA_KOSONG", "Nama kosong", 3),
        ],
        generated=dt.date(2026, 3, 5),
    )


def pdf_text(pdf: bytes) -> tuple[int, str]:
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    return len(reader.pages), "\n".join(p.extract_text() for p in reader.pages)


def test_program_report_text(tmp_path: Path) -> None:
    report = make_report(villages=20)
    assert report.period_total == 57_960_000
    pdf = render_program_report(report)
    pages, text = pdf_text(pdf)
    flat = " ".join(text.split())
    assert "Program Uji <b>#set page(fill: red)</b>" in flat  # placed as text, never evaluated
    assert "Maret 2026" in flat
    assert rupiah(670_680_000) in flat  # Rp670.680.000
    assert "Kekurangan pagu" in flat and rupiah(report.budget["shortfall"]) in flat
    assert "NIK_PANJANG" in flat and "Alasan terbanyak: NIK_PANJANG" in flat
    assert "Rp 58 jt" in flat and "Pagu Rp 671 jt" in flat
    assert "melampaui pagu pada Des 2026" in flat
    assert "Dibuat 5 Maret 2026" in flat
    assert not SIXTEEN.search(text)
    assert pages == 2
    assert render_program_report(report) == pdf  # deterministic
    out = write_program_report(report, tmp_path / "laporan.pdf")
    assert out.read_bytes() == pdf and not list(tmp_path.glob(".*.tmp"))


def test_program_report_budget_enough() -> None:
    _, text = pdf_text(render_program_report(make_report(pagu=1_000_000_000)))
    flat = " ".join(text.split())
    assert "Cukup" in flat and "Kekurangan" not in flat
    assert "tetap di bawah pagu" in flat


def test_program_report_360_villages_fits_three_pages() -> None:
    report = make_report(villages=360, below=1.0)
    pages, text = pdf_text(render_program_report(report))
    assert pages <= 3
    flat = " ".join(text.split())
    assert "0 dari 360 desa mencapai target 10 peserta per desa; 360 desa di bawah target" in flat
    lacking = int((10 - report.villages["billed"]).sum())
    assert f"kurang {lacking:,}".replace(",", ".") + " peserta" in flat
    assert "Desa Nomor 359" in flat or "36.02.09.2040" in flat


def test_program_report_nothing_rejected_everyone_covered() -> None:
    report = make_report(below=0.0)
    report = ProgramReport(**{**report.__dict__, "rejections": []})
    _, text = pdf_text(render_program_report(report))
    flat = " ".join(text.split())
    assert "Tidak ada baris yang ditolak" in flat and "Tidak ada desa di bawah target" in flat


def test_program_report_without_a_target_says_so() -> None:
    report = make_report(villages=3)
    report.villages["target"] = 0
    _, text = pdf_text(render_program_report(report))
    assert "tidak menetapkan target per desa" in " ".join(text.split())


def test_empty_inputs() -> None:
    billed = billed_frame().iloc[0:0]
    report = ProgramReport(
        program_name="Kosong",
        regency_name="Kabupaten Lebak",
        period_label="Januari 2026",
        budget={"pagu": 0},
        monthly=[],
        villages=village_coverage(billed, NAMES.iloc[0:0], target=10),
        rejections=[],
        generated=dt.date(2026, 1, 1),
    )
    _, text = pdf_text(render_program_report(report))
    assert "Kosong" in text and "Program tanpa pagu" in text


def test_program_report_shows_each_villages_premium_beside_its_benefits(tmp_path: Path) -> None:
    """345 villages paid premiums, two had a death: the villages' table lists the two first, then the
    largest premiums, 40 rows and one line for the other 305, and its premium column adds up to
    the premiums paid. The page is kept as an image (pdftoppm) to look at."""
    report = make_report(villages=345)
    codes, names = report.villages["kode_desa"], report.villages["nama_desa"]
    premi = pd.DataFrame({"kode_desa": codes, "premi": [16_800 * (10 + i % 7) for i in range(345)]})
    claims = pd.DataFrame(
        {"kode_desa": [codes[5], codes[300]], "jenis": ["JKM", "JKM"], "claims": [1, 1],
         "nilai": [42_000_000] * 2, "smallest": [42_000_000] * 2, "largest": [42_000_000] * 2}
    )  # fmt: skip
    paid = int(premi["premi"].sum())
    bought = Benefits(paid, claims, pd.Series(names.to_numpy(), index=codes), premi)
    report = ProgramReport(**{**report.__dict__, "benefits": bought})
    pdf = render_program_report(report)
    flat = " ".join(pdf_text(pdf)[1].split())
    assert f"{codes[5]} Desa Nomor 5 {rupiah(16_800 * 15)} 0 1 0 Rp42.000.000" in flat
    assert f"{codes[6]} Desa Nomor 6 {rupiah(16_800 * 16)} 0 0 0 Rp0" in flat  # no claim, listed
    shown = bought.villages(40)
    assert len(shown) == 41 and int(shown["premi"].sum()) == paid
    rest = int(shown["premi"].iloc[-1])
    assert f"… 305 desa lainnya {rupiah(rest)} 0 0 0 Rp0" in flat
    assert f"Premi dibayar {rupiah(paid)} · Manfaat diterima Rp84.000.000" in flat
    if shutil.which("pdftoppm"):
        (tmp_path / "laporan.pdf").write_bytes(pdf)
        subprocess.run(["pdftoppm", "-r", "60", "-png", "laporan.pdf", "laporan"], cwd=tmp_path, check=True)  # fmt: skip
        assert sorted(tmp_path.glob("laporan-*.png"))
