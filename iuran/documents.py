"""Invoice documents: the PDF a finance office (BKAD or a village) pays from, and the XLSX detail sheet
BPJS loads.

The PDF is typst (`templates/invoice.typ`). User text (names, villages, payee) never becomes typst
source: the whole document goes in as JSON through `sys.inputs` and the template only places strings
as text. The PDF shows masked NIKs only; the full NIK goes only to the XLSX, which BPJS needs to
match participants.

Before anything is written the document is checked for internal consistency (breakdown, village
summary and detail lines must all add up to the total): an invoice whose attachment disagrees with
its own total is rejected by the finance office, so it is better never produced.

The cycle's render step (`iuran.render.render_pending`) builds these documents from the records and
runs `write_job` for each, in worker processes.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import typst

from iuran import faults, xlsx
from iuran.config import TEMPLATES
from iuran.contacts import Contacts
from iuran.files import temp_beside
from iuran.money import angka, as_amount, rupiah, rupiah_sen, terbilang
from iuran.nik import mask
from iuran.periods import BULAN
from iuran.programs import Payee, Program, Signatory

INVOICE_TEMPLATE = TEMPLATES / "invoice.typ"
KINDS = ("regular", "supplementary")
TITLE = "TAGIHAN IURAN JAMINAN SOSIAL KETENAGAKERJAAN"
MONEY_COLUMNS = ("jkk", "jkm", "jht", "discount", "total")
LINE_COLUMNS = (
    "nik", "nama", "kode_desa", "nama_desa", "pekerjaan", "penghasilan", *MONEY_COLUMNS, "rule_id",
)  # fmt: skip
BUDGET_LABELS = {
    "pagu": "Pagu anggaran",
    "billed_to_date": "Ditagih s.d. periode ini",
    "projected_year": "Proyeksi setahun",
    "shortfall": "Kekurangan",
    "months_covered": "Pagu cukup untuk",
    "headcount_covered": "Pagu cukup setahun untuk",
}
BUDGET_UNITS = {"months_covered": "bulan", "headcount_covered": "peserta"}
WIB = dt.timezone(dt.timedelta(hours=7))


class DocumentError(ValueError):
    """The invoice's parts disagree (or a field is malformed); nothing was rendered."""


@dataclass(frozen=True)
class VillageSummary:
    kode_desa: str
    nama_desa: str
    nama_kecamatan: str
    peserta: int
    jumlah: int


# eq=False: the document holds a DataFrame and a dict, which neither compare to a bool nor hash;
# identity equality keeps the dataclass usable (sets, dict keys) without pretending to deep-compare.
@dataclass(frozen=True, eq=False)
class InvoiceDocument:
    number: str  # "001/TAG-JKK-JKM/LBK/I/2026"
    revision: int  # 0 = original; shown as "Rev. 1" / "Revisi 1"
    kind: str  # "regular" | "supplementary"
    program_name: str
    regency_name: str
    funding_source: str
    payer_name: str
    period_label: str  # "Januari 2026"
    issue_date: dt.date
    due_date: dt.date
    total: int
    participants: int
    jkk_total: int
    jkm_total: int
    jht_total: int
    discount_total: int
    villages: tuple[VillageSummary, ...]
    # nik (full 16 digits), nama, kode_desa, nama_desa, pekerjaan, penghasilan, jkk, jkm, jht,
    # discount, total, rule_id; optionally tanggal_lahir, jenis_kelamin, discount_id.
    # repr=False: full NIKs and names must not reach a log line through repr(doc).
    lines: pd.DataFrame = field(repr=False)
    payee: Payee
    signatory: Signatory
    budget: dict[str, int] | None = None  # pagu, billed_to_date, projected_year, shortfall
    change_note: str | None = None  # for revisions: what changed and why
    place: str | None = None  # signature place; default: regency name without "Kabupaten"/"Kota"
    # why the lines have (or have not) a discount: `Program.discount_note`, naming the funding basis
    discount_note: str = ""
    # the payer's credit (credit notes, overpayments) that paid this invoice when it was issued;
    # the page shows the total (the sum of the lines), this credit, and total − credit still to pay
    credit_applied: int = 0

    @property
    def number_full(self) -> str:
        """The number as printed: `001/TAG-JKK-JKM/LBK/I/2026 Rev. 1` for a revision."""
        return f"{self.number} Rev. {self.revision}" if self.revision > 0 else self.number


# ------------------------------------------------------------------------------------------ checks


def _int_column(lines: pd.DataFrame, column: str) -> pd.Series:
    s = lines[column]
    if not pd.api.types.is_integer_dtype(s.dtype) or pd.api.types.is_bool_dtype(s.dtype):
        raise DocumentError(f"lines.{column}: money must be integer Rupiah, got dtype {s.dtype}")
    if s.hasnans:
        raise DocumentError(f"lines.{column}: missing amounts")
    return s


def _budget_value(key: str, value: int) -> str:
    unit = BUDGET_UNITS.get(key)
    return f"{angka(value)} {unit}" if unit else rupiah(value)


def check_document(doc: InvoiceDocument) -> None:
    """Raise DocumentError unless breakdown, village summary and lines all add up to `doc.total`."""
    if doc.kind not in KINDS:
        raise DocumentError(f"kind must be one of {KINDS}, got {doc.kind!r}")
    if isinstance(doc.revision, bool) or not isinstance(doc.revision, int) or doc.revision < 0:
        raise DocumentError(f"revision must be an int >= 0, got {doc.revision!r}")
    try:
        total, jkk, jkm, jht, discount = (
            as_amount(v)
            for v in (doc.total, doc.jkk_total, doc.jkm_total, doc.jht_total, doc.discount_total)
        )
        as_amount(doc.participants)
        for v in doc.villages:
            as_amount(v.peserta)
            as_amount(v.jumlah)
        for key, value in (doc.budget or {}).items():
            as_amount(value)
            if key not in BUDGET_LABELS:
                raise DocumentError(f"budget: unknown key {key!r} (known: {list(BUDGET_LABELS)})")
    except TypeError as exc:
        raise DocumentError(str(exc)) from exc
    try:
        credit = as_amount(doc.credit_applied)
    except TypeError as exc:
        raise DocumentError(f"credit_applied: {exc}") from exc
    if credit < 0 or credit > total:
        raise DocumentError(f"credit applied {credit} exceeds the total {total}")
    if jkk + jkm + jht - discount != total:
        raise DocumentError(
            f"breakdown JKK {jkk} + JKM {jkm} + JHT {jht} - potongan {discount} != total {total}"
        )
    missing = [c for c in LINE_COLUMNS if c not in doc.lines.columns]
    if missing:
        raise DocumentError(f"lines: missing columns {missing}")
    lines = doc.lines
    for column, expected in zip(MONEY_COLUMNS, (jkk, jkm, jht, discount, total), strict=True):
        got = int(_int_column(lines, column).sum())
        if got != expected:
            raise DocumentError(f"lines.{column} sum to {got}, the document says {expected}")
    parts = [lines[c].to_numpy() for c in MONEY_COLUMNS]
    if (parts[0] + parts[1] + parts[2] - parts[3] != parts[4]).any():
        raise DocumentError("a line's total is not jkk + jkm + jht - discount")
    if len(lines) != doc.participants:
        raise DocumentError(f"{len(lines)} lines, the document says {doc.participants} peserta")
    if sum(v.peserta for v in doc.villages) != doc.participants:
        raise DocumentError("village summary peserta do not add up to the participants")
    if sum(v.jumlah for v in doc.villages) != total:
        raise DocumentError("village summary jumlah do not add up to the total")
    if len({v.kode_desa for v in doc.villages}) != len(doc.villages):
        raise DocumentError("village summary lists a village twice")
    per_village: dict[str, list[int]] = {}
    for kode, amount in zip(lines["kode_desa"].tolist(), lines["total"].tolist(), strict=True):
        entry = per_village.setdefault(str(kode), [0, 0])
        entry[0] += 1
        entry[1] += int(amount)
    for v in doc.villages:
        size, amount = per_village.pop(v.kode_desa, [0, 0])
        if size != v.peserta or amount != v.jumlah:
            raise DocumentError(
                f"village {v.kode_desa}: summary {v.peserta} peserta / {v.jumlah}, "
                f"lines {size} / {amount}"
            )
    if per_village:
        raise DocumentError(f"lines name villages not in the summary: {sorted(per_village)[:5]}")


# --------------------------------------------------------------------------------------------- PDF

_CONTROL = re.compile(r"[\s\x00-\x1f\x7f-\x9f]+")


def _text(value: object) -> str:
    """One line of printable text: control characters and newlines collapse to one space."""
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return ""
    return _CONTROL.sub(" ", str(value)).strip()


_CONTROL_KEEP_NEWLINE = re.compile(r"(?:[^\S\n]|[\x00-\x09\x0b-\x1f\x7f-\x9f])+")


def _paragraphs(value: str) -> str:
    """Free text (a change note): line breaks kept, other control characters and runs of spaces
    collapse to one space."""
    lines = (_CONTROL_KEEP_NEWLINE.sub(" ", line).strip() for line in value.splitlines())
    return "\n".join(line for line in lines if line)


def _texts(series: pd.Series) -> list[str]:
    return [_text(v) for v in series.tolist()]


def tanggal(day: dt.date) -> str:
    """`15 Januari 2026`, as Indonesian letters write dates."""
    return f"{day.day} {BULAN[day.month - 1]} {day.year}"


def _place(doc: InvoiceDocument) -> str:
    if doc.place:
        return doc.place
    for prefix in ("Kabupaten ", "Kota "):
        if doc.regency_name.startswith(prefix):
            return doc.regency_name[len(prefix) :]
    return doc.regency_name


BAND_KEYS = ["penghasilan", "jkk", "jkm", "jht", "discount", "total"]


def income_bands(lines: pd.DataFrame) -> pd.DataFrame:
    """The lines grouped by what each worker's amount is made of (applied income, JKK, JKM, JHT,
    discount): per group the count and the subtotal, so an auditor can recompute every Rupiah of
    the page (count × per-worker total) without the detail sheet. Sum of `jumlah` == the total."""
    # np.unique over the rows, not a pandas groupby: the same groups in the same (ascending) order,
    # ~0.1 ms instead of ~3 ms an invoice, a tenth of the Python time of its documents.
    keys, counts = np.unique(lines[BAND_KEYS].to_numpy(dtype="int64"), axis=0, return_counts=True)
    bands = pd.DataFrame(keys.reshape(-1, len(BAND_KEYS)), columns=BAND_KEYS)
    bands["peserta"] = counts.astype("int64")
    bands["jumlah"] = bands["total"] * bands["peserta"]
    return bands


def _payload(doc: InvoiceDocument) -> dict[str, Any]:
    """Everything the template shows, already formatted; strings only, so nothing is evaluated."""
    components = "JKK, JKM dan JHT" if doc.jht_total else "JKK dan JKM"
    banners = []
    if doc.kind == "supplementary":
        banners.append("TAGIHAN SUSULAN")
    if doc.revision > 0:
        banners.append(f"REVISI {doc.revision}")

    breakdown = [["Iuran JKK", rupiah(doc.jkk_total)], ["Iuran JKM", rupiah(doc.jkm_total)]]
    if doc.jht_total:
        breakdown.append(["Iuran JHT", rupiah(doc.jht_total)])
    if doc.discount_total:
        breakdown.append(["Potongan (diskon iuran)", rupiah(-doc.discount_total)])

    budget = None
    budget_note = None
    if doc.budget is not None:
        budget = [
            [label, _budget_value(k, doc.budget[k])]
            for k, label in BUDGET_LABELS.items()
            if k in doc.budget
        ]
        if doc.budget.get("shortfall", 0) > 0:
            budget_note = (
                f"Proyeksi tagihan setahun melebihi pagu sebesar {rupiah(doc.budget['shortfall'])}."
            )

    lines = doc.lines
    with_jht = bool(doc.jht_total)
    with_discount = bool(doc.discount_total)
    header = ["No", "NIK", "Nama", "Desa", "Pekerjaan", "JKK", "JKM"]
    money_columns = ["jkk", "jkm"]
    if with_jht:
        header.append("JHT")
        money_columns.append("jht")
    if with_discount:
        header.append("Potongan")
        money_columns.append("discount")
    header.append("Jumlah")
    money_columns.append("total")

    text_columns = [
        [str(i) for i in range(1, len(lines) + 1)],
        [mask(nik) for nik in _texts(lines["nik"])],
        _texts(lines["nama"]),
        _texts(lines["nama_desa"]),
        _texts(lines["pekerjaan"]),
    ]
    money = [[rupiah(v) for v in lines[c].tolist()] for c in money_columns]
    detail_rows = [list(row) for row in zip(*text_columns, *money, strict=True)]
    detail_total = [rupiah(int(lines[c].sum())) for c in money_columns]

    return {
        "doc_title": _text(f"Tagihan {doc.number_full} {doc.period_label}"),
        "title": f"{TITLE} ({components})",
        "program_name": _text(doc.program_name),
        "banners": banners,
        "number_full": _text(doc.number_full),
        "revision_note": (
            f"Revisi {doc.revision}, menggantikan tagihan sebelumnya dengan nomor yang sama"
            if doc.revision
            else None
        ),
        "period": _text(doc.period_label),
        "issue_date": tanggal(doc.issue_date),
        "due_date": tanggal(doc.due_date),
        "funding_source": _text(doc.funding_source),
        "discount_note": _text(doc.discount_note) if doc.discount_note else None,
        "payer": _text(doc.payer_name),
        "payee": {
            "name": _text(doc.payee.name),
            "bank": _text(doc.payee.bank),
            "account_name": _text(doc.payee.account_name),
            "account_number": _text(doc.payee.account_number),
        },
        "villages": [
            [
                str(i),
                _text(v.kode_desa),
                _text(v.nama_desa),
                _text(v.nama_kecamatan),
                angka(v.peserta),
                rupiah(v.jumlah),
            ]
            for i, v in enumerate(doc.villages, 1)
        ],
        "villages_total": [angka(doc.participants), rupiah(doc.total)],
        "breakdown": breakdown,
        "bands_header": [
            "Penghasilan dasar",
            "JKK",
            "JKM/JHT" if with_jht else "JKM",
            "Diskon",
            "Per peserta",
            "Peserta",
            "Jumlah",
        ],
        "bands_note": (
            "JKK = persentase program × penghasilan dasar (penghasilan yang dilaporkan, dibatasi "
            "rentang penghasilan BPU), dibulatkan ke rupiah terdekat; JKM"
            + (" dan JHT" if with_jht else "")
            + " per peserta; diskon sesuai dasar diskon di atas. Jumlah = per peserta × peserta."
        ),
        "bands": [
            [
                rupiah(b.penghasilan),
                rupiah(b.jkk),
                rupiah(b.jkm + b.jht),
                rupiah(-b.discount),
                rupiah(b.total),
                angka(b.peserta),
                rupiah(b.jumlah),
            ]
            for b in income_bands(doc.lines).itertuples()
        ],
        "total": rupiah_sen(doc.total),
        "total_words": f"({terbilang(doc.total)})",
        "credit": (
            {
                "applied": rupiah(-doc.credit_applied),
                "to_pay": rupiah_sen(doc.total - doc.credit_applied),
                "to_pay_words": f"({terbilang(doc.total - doc.credit_applied)})",
            }
            if doc.credit_applied
            else None
        ),
        "budget": budget,
        "budget_note": budget_note,
        "change_title": f"Keterangan revisi {doc.revision}" if doc.revision else "Keterangan",
        "change_note": _paragraphs(doc.change_note) if doc.change_note else None,
        "sign": {
            "place_date": f"{_text(_place(doc))}, {tanggal(doc.issue_date)}",
            "title": _text(doc.signatory.title),
            "name": _text(doc.signatory.name),
            "nip": _text(doc.signatory.nip),
        },
        "detail_header": header,
        "detail_money_cols": len(money_columns),
        "detail_rows": detail_rows,
        "detail_total_label": f"Jumlah ({angka(len(lines))} peserta)",
        "detail_total": detail_total,
    }


_local = threading.local()


def _compiler(template: Path) -> typst.Compiler:
    """One typst compiler per thread and template, kept: it holds the parsed template and the font
    book, ~1 ms an invoice less than `typst.compile`. Only typst's embedded fonts (Libertinus
    Serif, DejaVu Sans Mono): no system font scan (~4 ms a call) and the same PDF on every host."""
    compilers: dict[Path, typst.Compiler] = _local.__dict__.setdefault("compilers", {})
    compiler = compilers.get(template)
    if compiler is None:
        compiler = typst.Compiler(template, root=TEMPLATES, ignore_system_fonts=True)
        compilers[template] = compiler
    return compiler


def typst_pdf(template: Path, payload: dict[str, Any], day: dt.date) -> bytes:
    """`template` given `payload` as JSON (`sys.inputs.data`: placed as text, never evaluated), as
    PDF bytes dated `day`: the same payload gives the same bytes."""
    data = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    stamp = dt.datetime.combine(day, dt.time(), tzinfo=WIB)
    pdf = _compiler(template).compile(sys_inputs={"data": data}, timestamp=stamp)
    if not isinstance(pdf, bytes):  # one output file, so typst returns bytes, not a page list
        raise TypeError(f"typst returned {type(pdf).__name__}, expected PDF bytes")
    return pdf


def render_invoice_pdf(doc: InvoiceDocument) -> bytes:
    """The invoice as A4 PDF bytes: cover page(s), then "Lampiran: Rincian Peserta" (masked NIKs).

    Deterministic: the same document gives the same bytes (the PDF's creation date is the issue date),
    so re-running a cycle does not produce a "changed" file.
    """
    check_document(doc)
    return typst_pdf(INVOICE_TEMPLATE, _payload(doc), doc.issue_date)


# -------------------------------------------------------------------------------------------- XLSX

XLSX_INT = ("penghasilan_dilaporkan", "penghasilan", *MONEY_COLUMNS)
XLSX_COLUMNS = (
    "nik", "nama", "tanggal_lahir", "jenis_kelamin", "kode_desa", "nama_desa", "pekerjaan",
    "penghasilan_dilaporkan", "penghasilan", "jkk", "jkm", "jht", "discount", "total", "rule_id", "discount_id",
)  # fmt: skip
XLSX_CODES = ("nik", "kode_desa")  # digits that must stay text: Text format, every digit kept
_WIDTHS = {"nik": 19, "nama": 28, "tanggal_lahir": 12, "kode_desa": 14, "nama_desa": 20}


def _xlsx_column(lines: pd.DataFrame, column: str) -> xlsx.Column:
    series = lines[column]
    if column in XLSX_CODES:
        return xlsx.Column(series, "code")
    if column == "tanggal_lahir":  # date cells; text that is not a date stays (safe) text
        return xlsx.Column(series, "date", xlsx.ISO_DATE)
    if column in XLSX_INT:
        if pd.api.types.is_float_dtype(series.dtype):
            raise DocumentError(f"lines.{column}: money must be integer Rupiah, got {series.dtype}")
        return xlsx.Column(series, "int")
    return xlsx.Column(series, "text")


def write_detail_xlsx(doc: InvoiceDocument, path: Path) -> Path:
    """The detail sheet for BPJS: one row per billed worker with the FULL NIK, a header, a total row.

    Built column by column (`iuran.xlsx`). NIK and area codes are text cells with the Text format,
    so no digit is lost to Excel's number conversion; money is integer cells; any other text that
    looks like a formula carries Excel's quote prefix.
    """
    check_document(doc)
    lines = doc.lines
    columns = [c for c in XLSX_COLUMNS if c in lines.columns]
    table = [_xlsx_column(lines, c) for c in columns]

    book = xlsx.Workbook()
    sheet = book.sheet("Rincian", widths=[_WIDTHS.get(c, 11) for c in columns], freeze="A2")
    sheet.row(columns)
    try:
        sheet.table(table)
    except TypeError as exc:  # an integer column holding something else
        raise DocumentError(f"lines: {exc}") from exc
    total_row: list[object] = [None] * len(columns)
    total_row[0] = "JUMLAH"
    if "nama" in columns:
        total_row[columns.index("nama")] = f"{len(lines)} peserta"
    for column in MONEY_COLUMNS:
        total_row[columns.index(column)] = int(lines[column].sum())
    sheet.row(total_row)
    book.save(path)
    return path


# ------------------------------------------------------------------------------------------- files


def write_invoice_files(
    doc: InvoiceDocument, directory: Path, stem: str, *, sweep: bool = True
) -> tuple[Path, Path]:
    """`<stem>.pdf` and `<stem>.xlsx` in `directory`, each replaced atomically.

    Both are rendered to temporary names in the same folder first and only then renamed, so a reader
    never sees a half-written file and a failure leaves the previous pair in place. `sweep=False`: the
    caller has already removed dead writers' leftovers from the folder (`sweep_temps`), once for
    many documents rather than a folder scan for each.
    """
    if not stem or "/" in stem or "\\" in stem or stem.startswith("."):
        raise ValueError(f"stem must be a plain file name, got {stem!r}")
    pdf_path, xlsx_path = directory / f"{stem}.pdf", directory / f"{stem}.xlsx"
    pdf_bytes = render_invoice_pdf(doc)
    temps: list[Path] = []
    try:
        pdf_temp = temp_beside(pdf_path, sweep=sweep)
        temps.append(pdf_temp)
        pdf_temp.write_bytes(pdf_bytes)
        xlsx_temp = temp_beside(xlsx_path, sweep=sweep)
        temps.append(xlsx_temp)
        write_detail_xlsx(doc, xlsx_temp)
        os.replace(pdf_temp, pdf_path)
        faults.point("documents.between_files")
        os.replace(xlsx_temp, xlsx_path)
    finally:
        for temp in temps:
            temp.unlink(missing_ok=True)
    return pdf_path, xlsx_path


# ------------------------------------------------------------------------------- the render step


#: The signer's title on a village's invoice, by the role the program names (`signed_by`).
SIGNER_TITLES = {"kepala_desa": "Kepala Desa", "bendahara": "Bendahara Desa"}


def signatory_of(
    program: Program, contacts: Contacts | None, payer_key: str, village_names: pd.Series
) -> Signatory:
    """Who signs an invoice: the program's signatory where the regency pays; where a village pays,
    its head (or treasurer, `signed_by`) by name from the contacts file, titled with the village
    (`Kepala Desa Kembang Ayun`). A village without that name keeps the program's title and an
    empty name line, to be signed by hand (and the BKAD digest says its contact is missing)."""
    if contacts is None:
        return program.signatory
    name = contacts.signer(payer_key, program.signed_by)
    if name is None:
        return Signatory(name="", title=program.signatory.title)
    nama = village_names.get(payer_key, payer_key)
    return Signatory(name=name, title=f"{SIGNER_TITLES[program.signed_by]} {nama}")


#: Threads that render invoice documents in the cycle's own process (typst releases the GIL while it
#: compiles): when there are too few invoices for worker processes, or `IURAN_RENDER_WORKERS=1`.
RENDER_THREADS = max(1, min(4, os.cpu_count() or 1))


def write_job(job: tuple[InvoiceDocument, Path]) -> Path:
    """One invoice's files at the PDF path its record names (the folder already swept): the job a
    render thread or worker process does."""
    doc, pdf = job
    write_invoice_files(doc, pdf.parent, pdf.stem, sweep=False)
    return pdf


def warm_compiler() -> None:
    """A render worker's start: the typst compiler parses the template and loads its fonts once."""
    _compiler(INVOICE_TEMPLATE)
