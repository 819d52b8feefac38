"""Invoice PDF and XLSX: read back what a finance office and BPJS would read."""

from __future__ import annotations

import datetime as dt
import io
import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pypdf
import pytest
from hypothesis import given
from hypothesis import strategies as st
from python_calamine import CalamineWorkbook

from iuran import documents
from iuran.documents import (
    DocumentError,
    InvoiceDocument,
    VillageSummary,
    check_document,
    render_invoice_pdf,
    write_detail_xlsx,
    write_invoice_files,
)
from iuran.money import rupiah, rupiah_sen, terbilang
from iuran.nik import mask
from iuran.periods import Period
from iuran.programs import Payee, Signatory, load_program

HOSTILE = '#set page(fill: red) =HYPERLINK("x") <b>x</b>'

VILLAGES = (
    ("36.02.01.2001", "Cilangkahan", "Malingping"),
    ("36.02.01.2002", "Sukamanah", "Malingping"),
    ("36.02.05.2010", "Bayah Barat", "Bayah"),
)


def make_lines(per_village: tuple[int, ...] = (2, 2, 1), hostile: bool = True) -> pd.DataFrame:
    rows = []
    serial = 1
    for (kode, desa, _), count in zip(VILLAGES, per_village, strict=False):
        for _ in range(count):
            income = 1_000_000 + 500_000 * (serial % 3)
            jkk = income // 100
            rows.append(
                {
                    "nik": f"3602{serial % 10:02d}4501900{serial:03d}"[:16].ljust(16, "0"),
                    "nama": f"Pekerja Nomor {serial}",
                    "tanggal_lahir": pd.Timestamp(1990, 1, serial % 28 + 1),
                    "jenis_kelamin": "L" if serial % 2 else "P",
                    "kode_desa": kode,
                    "nama_desa": desa,
                    "pekerjaan": "petani",
                    "penghasilan": income,
                    "jkk": jkk,
                    "jkm": 6800,
                    "jht": 0,
                    "discount": 0,
                    "total": jkk + 6800,
                    "rule_id": "bpu-standar-2026",
                }
            )
            serial += 1
    lines = pd.DataFrame(rows)
    if hostile and len(lines) > 1:
        lines.loc[1, "nama"] = HOSTILE
        lines.loc[2 % len(lines), "pekerjaan"] = "=1+2"
    return lines


def make_doc(lines: pd.DataFrame | None = None, **overrides: Any) -> InvoiceDocument:
    lines = make_lines() if lines is None else lines
    villages = []
    for kode, desa, kecamatan in VILLAGES:
        sub = lines[lines["kode_desa"] == kode]
        if len(sub):
            villages.append(
                VillageSummary(kode, desa, kecamatan, len(sub), int(sub["total"].sum()))
            )
    fields: dict[str, object] = {
        "number": "001/TAG-JKK-JKM/LBK/I/2026",
        "revision": 0,
        "kind": "regular",
        "program_name": "Perlindungan Jaminan Sosial Ketenagakerjaan Pekerja Rentan Kabupaten Lebak 2026",
        "regency_name": "Kabupaten Lebak",
        "funding_source": "APBD",
        "payer_name": "Pemerintah Kabupaten Lebak c.q. BKAD Kabupaten Lebak",
        "period_label": "Januari 2026",
        "issue_date": dt.date(2026, 1, 2),
        "due_date": dt.date(2026, 1, 15),
        "total": int(lines["total"].sum()),
        "participants": len(lines),
        "jkk_total": int(lines["jkk"].sum()),
        "jkm_total": int(lines["jkm"].sum()),
        "jht_total": int(lines["jht"].sum()),
        "discount_total": int(lines["discount"].sum()),
        "villages": tuple(villages),
        "lines": lines,
        "payee": Payee(
            name="BPJS Ketenagakerjaan Kantor Cabang Rangkasbitung",
            bank="Bank BJB",
            account_name="BPJS Ketenagakerjaan Cabang Rangkasbitung",
            account_number="0012345678901",
        ),
        "signatory": Signatory(
            name="Drs. Dedi Lukman Indepur, M.Si",
            title="Kepala Dinas Tenaga Kerja Kabupaten Lebak",
            nip="196801011990031001",
        ),
    }
    fields.update(overrides)
    return InvoiceDocument(**fields)  # type: ignore[arg-type]


def pdf_text(pdf: bytes) -> list[str]:
    return [page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages]


@pytest.fixture(scope="module")
def doc() -> InvoiceDocument:
    return make_doc()


@pytest.fixture(scope="module")
def rendered(doc: InvoiceDocument) -> tuple[bytes, str]:
    pdf = render_invoice_pdf(doc)
    return pdf, "\n".join(pdf_text(pdf))


def test_pdf_is_a4_with_cover_and_attachment(rendered: tuple[bytes, str]) -> None:
    pdf, _ = rendered
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    assert pdf.startswith(b"%PDF")
    assert len(reader.pages) == 2
    box = reader.pages[0].mediabox
    assert (round(float(box.width) / 72 * 25.4), round(float(box.height) / 72 * 25.4)) == (210, 297)


def test_pdf_shows_what_the_finance_office_checks(
    doc: InvoiceDocument, rendered: tuple[bytes, str]
) -> None:
    _, text = rendered
    total = doc.total
    assert "TAGIHAN IURAN JAMINAN SOSIAL KETENAGAKERJAAN (JKK dan JKM)" in text
    assert "001/TAG-JKK-JKM/LBK/I/2026" in text
    assert "Rev." not in text and "SUSULAN" not in text
    assert "Januari 2026" in text
    assert "Jatuh tempo : 15 Januari 2026" in text
    assert "Tanggal tagihan : 2 Januari 2026" in text
    assert "Pemerintah Kabupaten Lebak c.q. BKAD Kabupaten Lebak" in text
    assert "0012345678901" in text and "Bank BJB" in text
    assert rupiah(total) in text  # Rp114.000
    assert rupiah_sen(total) in text  # Rp114.000,00
    assert f"({terbilang(total)})" in text
    assert "(seratus empat belas ribu rupiah)" in text
    assert "Iuran JKK : Rp80.000" in text and "Iuran JKM : Rp34.000" in text
    assert "JHT" not in text and "Potongan" not in text
    assert "36.02.05.2010 Bayah Barat Bayah 1 Rp26.800" in text
    assert "Jumlah 5 Rp114.000" in text
    assert "Lebak, 2 Januari 2026" in text
    assert "NIP. 196801011990031001" in text
    assert "Lampiran: Rincian Peserta" in text
    assert "Jumlah (5 peserta) Rp80.000 Rp34.000 Rp114.000" in text
    assert "Halaman 1 dari 2" in text and "Halaman 2 dari 2" in text


def test_pdf_masks_every_nik(doc: InvoiceDocument, rendered: tuple[bytes, str]) -> None:
    _, text = rendered
    squeezed = "".join(text.split())
    for nik in doc.lines["nik"]:
        assert mask(nik) in text
        assert nik not in squeezed
        assert nik[4:12] not in squeezed  # the birth-date part never leaks
    assert not re.search(r"(?<!\d)\d{16}(?!\d)", text)  # no NIK-shaped number at all


def test_hostile_text_is_printed_literally(rendered: tuple[bytes, str]) -> None:
    _, text = rendered
    squeezed = "".join(text.split())
    assert "".join(HOSTILE.split()) in squeezed
    assert "=1+2" in text


def test_markup_everywhere_is_literal() -> None:
    evil = '#panic("x") ] [ $x^2$ *bold* _em_ @ref <lbl> \\ // /* `raw` #import "/etc/passwd"'
    lines = make_lines(hostile=False)
    lines["nama"] = evil
    lines["nama_desa"] = evil
    doc = make_doc(
        lines,
        payer_name=evil,
        program_name=evil,
        funding_source=evil,
        change_note=evil,
        revision=1,
        payee=Payee(name=evil, bank=evil, account_name=evil, account_number=evil),
        signatory=Signatory(name=evil, title=evil, nip=evil),
        villages=tuple(
            VillageSummary(v.kode_desa, evil, evil, v.peserta, v.jumlah)
            for v in make_doc().villages
        ),
    )
    squeezed = "".join("".join(pdf_text(render_invoice_pdf(doc))).split())
    assert squeezed.count("".join(evil.split())) >= 10


def test_control_characters_do_not_break_rendering(tmp_path: Path) -> None:
    lines = make_lines(hostile=False)
    lines.loc[0, "nama"] = "Siti\x00 Aminah\n\tbinti\x1b Ahmad\r"
    doc = make_doc(lines)
    assert "Siti Aminah binti Ahmad" in "".join(pdf_text(render_invoice_pdf(doc)))
    wb = openpyxl.load_workbook(write_detail_xlsx(doc, tmp_path / "x.xlsx"))
    # the sheet keeps the roster's text, minus what XML cannot carry (XML turns \r into \n)
    assert wb.active["B2"].value.rstrip() == "Siti Aminah\n\tbinti Ahmad"


def test_revision_and_supplementary_marks() -> None:
    doc = make_doc(
        revision=2,
        kind="supplementary",
        change_note="Dua peserta desa Sukamanah ditambahkan setelah verifikasi.",
    )
    text = "\n".join(pdf_text(render_invoice_pdf(doc)))
    assert "001/TAG-JKK-JKM/LBK/I/2026 Rev. 2" in text
    assert "Revisi 2" in text
    assert "TAGIHAN SUSULAN" in text
    assert "Keterangan revisi 2" in text
    assert "Dua peserta desa Sukamanah ditambahkan setelah verifikasi." in text


def test_change_note_keeps_its_lines() -> None:
    note = "Baris satu.\r\nBaris\x00 dua: =A1 #x.\n\n\tBaris tiga."
    text = pdf_text(render_invoice_pdf(make_doc(revision=1, change_note=note)))[0]
    assert "Baris satu.\nBaris dua: =A1 #x.\nBaris tiga." in text


def test_renders_from_several_threads() -> None:
    numbers = [f"{i:03d}/TAG-JKK-JKM/LBK/I/2026" for i in range(6)]
    with ThreadPoolExecutor(max_workers=3) as pool:
        pdfs = list(pool.map(lambda n: render_invoice_pdf(make_doc(number=n)), numbers))
    assert all(n in pdf_text(pdf)[0] for n, pdf in zip(numbers, pdfs, strict=True))


def test_budget_block() -> None:
    budget = {
        "pagu": 670_680_000,
        "billed_to_date": 57_960_000,
        "projected_year": 695_520_000,
        "shortfall": 24_840_000,
    }
    text = "\n".join(pdf_text(render_invoice_pdf(make_doc(budget=budget))))
    assert "Pagu anggaran : Rp670.680.000" in text
    assert "Ditagih s.d. periode ini : Rp57.960.000" in text
    assert "Proyeksi setahun : Rp695.520.000" in text
    assert "Kekurangan : Rp24.840.000" in text
    assert "Informasi anggaran" not in "\n".join(pdf_text(render_invoice_pdf(make_doc())))


def test_jht_and_discount_shown_when_present() -> None:
    lines = make_lines(hostile=False)
    lines["jht"] = lines["penghasilan"] * 2 // 100
    lines["discount"] = (lines["jkk"] + lines["jkm"]) // 2
    lines["total"] = lines["jkk"] + lines["jkm"] + lines["jht"] - lines["discount"]
    doc = make_doc(lines)
    text = "\n".join(pdf_text(render_invoice_pdf(doc)))
    assert "(JKK, JKM dan JHT)" in text
    assert f"Iuran JHT : {rupiah(doc.jht_total)}" in text
    assert f"Potongan (diskon iuran) : -{rupiah(doc.discount_total)}" in text
    assert "No NIK Nama Desa Pekerjaan JKK JKM JHT Potongan Jumlah" in text
    assert rupiah_sen(doc.total) in text and terbilang(doc.total) in text


def test_one_village_invoice() -> None:
    lines = make_lines((10,), hostile=False)
    doc = make_doc(lines, payer_name="Pemerintah Desa Cilangkahan")
    text = "\n".join(pdf_text(render_invoice_pdf(doc)))
    assert "Kepada : Pemerintah Desa Cilangkahan" in text
    assert "1 36.02.01.2001 Cilangkahan Malingping 10" in text
    assert "Sukamanah" not in text


def test_long_attachment_repeats_its_header() -> None:
    doc = make_doc(make_lines((60, 50, 40), hostile=False))
    pages = pdf_text(render_invoice_pdf(doc))
    assert len(pages) >= 3
    header = "No NIK Nama Desa Pekerjaan JKK JKM Jumlah"
    attachment = [p for p in pages if "3602*" in p]
    assert len(attachment) >= 2
    assert all(header in p for p in attachment)
    assert f"Jumlah (150 peserta) {rupiah(doc.jkk_total)}" in pages[-1]
    assert all(f"dari {len(pages)}" in p for p in pages)


def test_repr_leaks_no_personal_data(doc: InvoiceDocument) -> None:
    text = repr(doc)
    assert "001/TAG-JKK-JKM/LBK/I/2026" in text
    assert not any(nik in text for nik in doc.lines["nik"])
    assert "Pekerja Nomor" not in text


def test_same_document_same_bytes(doc: InvoiceDocument, rendered: tuple[bytes, str]) -> None:
    assert render_invoice_pdf(doc) == rendered[0]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"total": 1}, "breakdown"),
        ({"jkk_total": 80_001, "total": 114_001}, "lines.jkk"),
        ({"participants": 6}, "peserta"),
        ({"kind": "extra"}, "kind"),
        ({"revision": -1}, "revision"),
        ({"total": 114_000.0}, "integer"),
        ({"budget": {"pagu": 1.5}}, "integer"),
        ({"budget": {"sisa": 1}}, "budget"),
    ],
)
def test_inconsistent_documents_are_refused(change: dict[str, Any], message: str) -> None:
    with pytest.raises(DocumentError, match=message):
        render_invoice_pdf(make_doc(**change))


def test_village_summary_must_match_lines() -> None:
    doc = make_doc()
    first, second, third = doc.villages
    swapped = (
        VillageSummary(first.kode_desa, first.nama_desa, "", first.peserta, second.jumlah),
        VillageSummary(second.kode_desa, second.nama_desa, "", second.peserta, first.jumlah),
        third,
    )
    with pytest.raises(DocumentError, match=r"village 36\.02\.01\.2001"):
        check_document(make_doc(villages=swapped))
    merged = (
        VillageSummary(
            first.kode_desa, "", "", first.peserta + second.peserta, first.jumlah + second.jumlah
        ),
        third,
    )
    with pytest.raises(DocumentError, match="village"):
        check_document(make_doc(villages=merged))


def test_float_money_columns_are_refused() -> None:
    lines = make_lines()
    lines["jkk"] = lines["jkk"].astype(float)
    with pytest.raises(DocumentError, match="integer"):
        check_document(make_doc(lines))
    lines = make_lines()
    lines["total"] = lines["total"] + [1, -1, 0, 0, 0]  # same sum, wrong lines
    with pytest.raises(DocumentError, match="line's total"):
        check_document(make_doc(lines))


# -------------------------------------------------------------------------------------------- XLSX


@pytest.fixture(scope="module")
def xlsx_doc() -> InvoiceDocument:
    lines = make_lines()
    lines.loc[0, "nik"] = "0102034501900001"  # a leading zero Excel would drop from a number
    lines.loc[3, "nama"] = "@SUM(A1:A9)"
    lines.loc[4, "nama"] = "-2+3"
    lines.loc[0, "nama"] = "#N/A"
    return make_doc(lines)


@pytest.fixture(scope="module")
def sheet(xlsx_doc: InvoiceDocument, tmp_path_factory: pytest.TempPathFactory) -> Any:
    path = write_detail_xlsx(xlsx_doc, tmp_path_factory.mktemp("xlsx") / "detail.xlsx")
    return openpyxl.load_workbook(path).active


def test_xlsx_rows_and_header(xlsx_doc: InvoiceDocument, sheet: Any) -> None:
    rows = list(sheet.iter_rows(values_only=True))
    assert len(rows) == len(xlsx_doc.lines) + 2
    assert rows[0] == (
        "nik", "nama", "tanggal_lahir", "jenis_kelamin", "kode_desa", "nama_desa", "pekerjaan",
        "penghasilan", "jkk", "jkm", "jht", "discount", "total", "rule_id",
    )  # fmt: skip
    assert rows[-1][0] == "JUMLAH"


def test_xlsx_keeps_full_nik_as_text(xlsx_doc: InvoiceDocument, sheet: Any) -> None:
    niks = [sheet.cell(row=r, column=1) for r in range(2, len(xlsx_doc.lines) + 2)]
    assert [c.value for c in niks] == xlsx_doc.lines["nik"].tolist()
    assert niks[0].value == "0102034501900001"
    assert all(c.data_type == "s" and c.number_format == "@" for c in niks)
    assert sheet["E2"].value == "36.02.01.2001" and sheet["E2"].data_type == "s"
    assert sheet["C2"].value.date() == dt.date(1990, 1, 2)


def test_xlsx_neutralises_formulas(sheet: Any) -> None:
    for ref, value in [("B2", "#N/A"), ("B5", "@SUM(A1:A9)"), ("B6", "-2+3"), ("G4", "=1+2")]:
        cell = sheet[ref]
        assert cell.value == value
        assert cell.data_type == "s"
        assert cell.quotePrefix
    assert sheet["B3"].value == HOSTILE and sheet["B3"].data_type == "s"


def test_xlsx_totals_equal_the_lines(xlsx_doc: InvoiceDocument, sheet: Any) -> None:
    rows = list(sheet.iter_rows(values_only=True))
    header, body, total = rows[0], rows[1:-1], rows[-1]
    for column in ("jkk", "jkm", "jht", "discount", "total"):
        i = header.index(column)
        assert all(isinstance(r[i], int) for r in body)
        assert total[i] == sum(r[i] for r in body) == int(xlsx_doc.lines[column].sum())
    assert total[header.index("total")] == xlsx_doc.total


def test_xlsx_reads_back_with_calamine(xlsx_doc: InvoiceDocument, tmp_path: Path) -> None:
    path = write_detail_xlsx(xlsx_doc, tmp_path / "detail.xlsx")
    rows = CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).to_python()
    assert [r[0] for r in rows[1:-1]] == xlsx_doc.lines["nik"].tolist()


def test_xlsx_keeps_plain_text_plain(sheet: Any) -> None:
    cell = sheet["F2"]
    assert cell.value == "Cilangkahan" and cell.data_type == "s" and not cell.quotePrefix
    assert sheet["A1"].value == "nik" and not sheet["A1"].font.b


def test_write_invoice_files_is_atomic(doc: InvoiceDocument, tmp_path: Path) -> None:
    out = tmp_path / "out"
    pdf, xlsx = write_invoice_files(doc, out, "LBK-2026-01-001")
    assert (pdf.name, xlsx.name) == ("LBK-2026-01-001.pdf", "LBK-2026-01-001.xlsx")
    assert pdf.read_bytes().startswith(b"%PDF") and xlsx.read_bytes().startswith(b"PK")
    before = pdf.read_bytes(), xlsx.read_bytes()
    with pytest.raises(DocumentError):
        write_invoice_files(make_doc(total=1), out, "LBK-2026-01-001")
    assert (pdf.read_bytes(), xlsx.read_bytes()) == before
    write_invoice_files(make_doc(revision=1), out, "LBK-2026-01-001")
    assert "Rev. 1" in pdf_text(pdf.read_bytes())[0]
    assert sorted(p.name for p in out.iterdir()) == ["LBK-2026-01-001.pdf", "LBK-2026-01-001.xlsx"]


def test_write_invoice_files_cleans_up_after_a_failed_xlsx(
    doc: InvoiceDocument, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(doc: InvoiceDocument, path: Path) -> Path:
        path.write_bytes(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(documents, "write_detail_xlsx", boom)
    with pytest.raises(OSError, match="disk full"):
        write_invoice_files(doc, tmp_path, "x")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("stem", ["", "../x", "a/b", ".hidden"])
def test_write_invoice_files_wants_a_plain_stem(
    doc: InvoiceDocument, tmp_path: Path, stem: str
) -> None:
    with pytest.raises(ValueError, match="stem"):
        write_invoice_files(doc, tmp_path, stem)


def test_the_invoice_names_the_basis_of_its_discount() -> None:
    lahat = load_program("lahat")
    note = lahat.discount_note(Period(2026, 5))
    text = " ".join(" ".join(pdf_text(render_invoice_pdf(make_doc(discount_note=note)))).split())
    assert "Dasar diskon" in text
    assert "PP 50/2025 diskon 50% iuran JKK dan JKM: sumber dana ADD bukan APBN/APBD" in text


def test_the_pdf_explains_each_amount_by_income(tmp_path: Path) -> None:
    """Per applied income: JKK, JKM, discount, per worker, count, subtotal; an auditor recomputes
    the total from the page alone. The first page is kept as an image (pdftoppm) to look at."""
    lines = make_lines()
    pdf = render_invoice_pdf(make_doc(lines=lines, credit_applied=20_000))
    text = " ".join(" ".join(pdf_text(pdf)).split())
    if shutil.which("pdftoppm"):
        (tmp_path / "tagihan.pdf").write_bytes(pdf)
        subprocess.run(
            ["pdftoppm", "-r", "60", "-f", "1", "-l", "1", "-png", "tagihan.pdf", "tagihan"],
            cwd=tmp_path,
            check=True,
        )
        assert (tmp_path / "tagihan-1.png").stat().st_size > 0
    assert "Dikurangi kredit : -Rp20.000 Sisa yang harus dibayar : Rp94.000,00" in text
    assert "Perhitungan iuran per penghasilan" in text
    bands = documents.income_bands(lines)
    assert int(bands["jumlah"].sum()) == int(lines["total"].sum())
    for b in bands.itertuples():
        assert b.total == b.jkk + b.jkm + b.jht - b.discount
        assert f"{rupiah(b.penghasilan)} {rupiah(b.jkk)}" in text


@given(
    st.lists(st.integers(1_000_000, 20_700_000), min_size=1, max_size=30),
    st.integers(0, 100),
)
def test_every_invoice_total_is_the_sum_of_its_lines_after_credit(
    incomes: list[int], credit_share: int
) -> None:
    """total = Σ lines, credit ≤ total, to pay = total − credit, on the page as in the data."""
    lines = make_lines().iloc[:0]
    rows = pd.DataFrame(
        {
            "nik": [f"3602011505{i:06d}" for i in range(len(incomes))],
            "nama": "Siti",
            "kode_desa": VILLAGES[0][0],
            "nama_desa": VILLAGES[0][1],
            "pekerjaan": "petani",
            "penghasilan": incomes,
        }
    )
    rows["jkk"] = [(i * 100 + 5_000) // 10_000 for i in incomes]
    rows["jkm"], rows["jht"], rows["discount"] = 6_800, 0, 0
    rows["total"] = rows["jkk"] + rows["jkm"]
    rows["rule_id"] = "bpu"
    lines = pd.concat([lines, rows], ignore_index=True)
    for c in ("penghasilan", "jkk", "jkm", "jht", "discount", "total"):
        lines[c] = lines[c].astype("int64")
    total = int(lines["total"].sum())
    credit = total * credit_share // 100
    doc = make_doc(lines=lines, credit_applied=credit)
    payload = documents._payload(doc)
    assert doc.total == total == int(documents.income_bands(lines)["jumlah"].sum())
    if credit:
        assert payload["credit"]["to_pay"] == rupiah_sen(total - credit)
    else:
        assert payload["credit"] is None
    with pytest.raises(DocumentError, match="exceeds"):
        documents.check_document(make_doc(lines=lines, credit_applied=total + 1))
