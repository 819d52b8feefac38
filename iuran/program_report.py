"""The monthly program report (PDF, typst) for BKAD: budget burn against the pagu, coverage per
village, rejections by reason, and what the program bought (premiums paid beside the JKK, JKM and
scholarship benefits its workers received, per type and per village), for readers who look rather
than read.

Counts and money only, no personal data. Deterministic (dated by the day it is made for), written
atomically, and left alone by a rerun that would write the same bytes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from iuran.claims import BENEFIT_LABELS, Benefits
from iuran.config import TEMPLATES
from iuran.db.models import LIVE, ClaimType, Invoice
from iuran.documents import tanggal, typst_pdf
from iuran.files import replace_if_changed
from iuran.money import angka, as_amount, rupiah
from iuran.periods import Period
from iuran.programs import Program
from iuran.reports import short_label
from iuran.wilayah import villages as regency_villages

REPORT_TEMPLATE = TEMPLATES / "report.typ"

BULAN_SINGKAT = (
    "Jan", "Feb", "Mar", "Apr", "Mei", "Jun", "Jul", "Agu", "Sep", "Okt", "Nov", "Des",
)  # fmt: skip


def month_label(period: Period) -> str:
    """`Jan 2026`: the axis label of a month."""
    return f"{BULAN_SINGKAT[period.month - 1]} {period.year}"


def rupiah_singkat(n: object) -> str:
    """`Rp 58 jt`, `Rp 1,2 M`: Rupiah for chart axes and labels (one decimal below 10 units)."""
    value = as_amount(n)
    sign, value = ("-" if value < 0 else ""), abs(value)
    for unit, name in ((10**12, "T"), (10**9, "M"), (10**6, "jt"), (10**3, "rb")):
        if value >= unit:
            tenths = (value * 10 + unit // 2) // unit
            if tenths < 100 and tenths % 10:
                return f"{sign}Rp {tenths // 10},{tenths % 10} {name}"
            return f"{sign}Rp {(value + unit // 2) // unit} {name}"
    return f"{sign}Rp {value}"


@dataclass(frozen=True, eq=False)
class ProgramReport:
    """Everything the monthly program report shows; counts and money only, no personal data."""

    program_name: str
    regency_name: str
    period_label: str  # "Januari 2026"
    #: `Budget.as_dict()`: pagu, billed_to_date, projected_year, shortfall, months_covered,
    #: headcount_covered
    budget: dict[str, int]
    #: every month of the program year: ("Jan 2026", billed, is_projection); see `monthly_billed`
    monthly: Sequence[tuple[str, int, bool]]
    #: kode_desa, nama_desa, billed (workers billed this period), target (0: none); see
    #: `village_coverage`
    villages: pd.DataFrame = field(repr=False)
    #: (code, short message, rows), most frequent first; see `rejections_by_reason`
    rejections: Sequence[tuple[str, str, int]]
    generated: dt.date
    #: what the program bought to date: premiums paid beside the benefits BPJS paid its workers
    #: (`iuran.claims.program_benefits`); None: not shown
    benefits: Benefits | None = field(default=None, repr=False)

    @property
    def period_total(self) -> int:
        """This period's billed total: the last month of the series that is not a projection."""
        actual = [billed for _, billed, projected in self.monthly if not projected]
        return actual[-1] if actual else 0


def village_coverage(
    billed: pd.DataFrame, village_names: pd.Series, target: int | None
) -> pd.DataFrame:
    """Billed workers per village against the program's target per village (a goal to reach, never a
    cap; 0 when the program sets none), every program village included (0 billed when none)."""
    counts = billed["kode_desa"].astype("string").value_counts()
    index = pd.Index(village_names.index.astype("string")).union(counts.index)
    names = pd.Series(village_names.astype("string").to_numpy(), index=village_names.index)
    out = pd.DataFrame(
        {
            "kode_desa": index,
            "nama_desa": index.map(names).astype("string").fillna(""),
            "billed": counts.reindex(index, fill_value=0).to_numpy(dtype="int64"),
        }
    )
    out["target"] = int(target or 0)
    return out


def rejections_by_reason(rejected: pd.DataFrame) -> list[tuple[str, str, int]]:
    """(code, short label, rows), most frequent first (ties by code)."""
    counts = rejected["code"].astype("string").value_counts()
    ordered = sorted(counts.items(), key=lambda kv: (-int(kv[1]), str(kv[0])))
    return [(str(code), short_label(str(code)), int(n)) for code, n in ordered]


def monthly_billed(
    session: Session, program: Program, period: Period
) -> list[tuple[str, int, bool]]:
    """Billed per month of `period`'s program year (its own pagu's months, `ProgramYear`): live
    invoices (draft/issued, regular and supplementary) up to `period`, then each month after it
    projected at `period`'s regular total (as the budget's `projected_year` does; a supplementary
    invoice corrects the past and is not repeated)."""
    year = program.year_of(period)
    rows = session.execute(
        select(Invoice.period, Invoice.kind, func.coalesce(func.sum(Invoice.total), 0))
        .where(
            Invoice.program == program.code,
            Invoice.document_state.in_(LIVE),
            Invoice.period >= str(year.first),
            Invoice.period <= str(period),
        )
        .group_by(Invoice.period, Invoice.kind)
    ).all()
    per_month: dict[str, int] = {}
    regular: dict[str, int] = {}
    for key, kind, total in rows:
        per_month[key] = per_month.get(key, 0) + int(total)
        if kind == "regular":
            regular[key] = regular.get(key, 0) + int(total)
    projection = regular.get(str(period), 0)
    out: list[tuple[str, int, bool]] = []
    month = year.first
    while month <= year.last:
        if month <= period:
            out.append((month_label(month), per_month.get(str(month), 0), False))
        else:
            out.append((month_label(month), projection, True))
        month = month.shift(1)
    return out


def build_program_report(
    program: Program,
    period: Period,
    budget: dict[str, int],
    monthly: Sequence[tuple[str, int, bool]],
    billed: pd.DataFrame,
    rejected: pd.DataFrame,
    generated: dt.date,
    benefits: Benefits | None = None,
) -> ProgramReport:
    """The report from the cycle's frames: `Reconciled.billed`, all rejections, `Budget.as_dict()`,
    and what the program bought (`iuran.claims.program_benefits`)."""
    v = regency_villages(program.regency, desa_only=program.desa_only)
    names = pd.Series(v["nama_desa"].to_numpy(), index=v["kode_desa"])
    return ProgramReport(
        program_name=program.name,
        regency_name=program.regency_name,
        period_label=period.label,
        budget=dict(budget),
        monthly=list(monthly),
        villages=village_coverage(billed, names, program.target_per_village),
        rejections=rejections_by_reason(rejected),
        generated=generated,
        benefits=benefits,
    )


def _nice_top(value: int, ticks: int = 5) -> tuple[int, int]:
    """(axis top, tick step): a 1-2-5 step so that `ticks` steps cover `value`."""
    if value <= 0:
        return 1, 1
    raw = -(-value // ticks)
    magnitude = 10 ** (len(str(raw)) - 1)
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    return -(-value // step) * step, step


def _fraction(value: int, top: int) -> float:
    return round(min(max(value / top, 0.0), 1.0), 4) if top else 0.0


def _chart(report: ProgramReport) -> dict[str, Any]:
    """Geometry as fractions of the plot (0..1); the template only scales and draws."""
    months = list(report.monthly)
    billed = [int(b) for _, b, _ in months]
    cumulative = np.cumsum(np.asarray(billed, dtype=np.int64)).tolist() if billed else []
    pagu = int(report.budget.get("pagu", 0))
    cum_top, cum_step = _nice_top(max([pagu, *cumulative, 1]) * 21 // 20)
    bar_top, bar_step = _nice_top(max([*billed, 1]) * 23 // 20, ticks=3)
    over = next((i for i, c in enumerate(cumulative) if pagu and c > pagu), None)
    return {
        "n": len(months),
        "months": [
            {
                "label": label,
                "projected": bool(projected),
                "bar": _fraction(b, bar_top),
                "bar_label": rupiah_singkat(b),
                "cum": _fraction(c, cum_top),
                "cum_label": rupiah_singkat(c),
            }
            for (label, _, projected), b, c in zip(months, billed, cumulative, strict=True)
        ],
        "cum_ticks": [
            {"at": _fraction(t, cum_top), "label": rupiah_singkat(t)}
            for t in range(0, cum_top + 1, cum_step)
        ],
        "bar_ticks": [
            {"at": _fraction(t, bar_top), "label": rupiah_singkat(t)}
            for t in range(0, bar_top + 1, bar_step)
        ],
        "pagu": _fraction(pagu, cum_top) if pagu else None,
        "pagu_label": f"Pagu {rupiah_singkat(pagu)}",
        "over_index": over,
        "note": (
            f"Pada laju ini tagihan kumulatif melampaui pagu pada {months[over][0]}."
            if over is not None
            else "Pada laju ini tagihan kumulatif tetap di bawah pagu sampai akhir tahun program."
            if pagu
            else "Program tanpa pagu."
        ),
    }


COVERAGE_BINS = (
    ("0%", "empty"),
    ("1–49%", "low"),
    ("50–79%", "mid"),
    ("80–99%", "high"),
    ("100%", "full"),
)


def _coverage(report: ProgramReport) -> dict[str, Any]:
    """Villages against the target per village: how many reach it, and the ones below it with how
    many workers they lack. A program without a target says so; nobody is refused for a target."""
    v = report.villages
    billed = v["billed"].astype("int64").to_numpy()
    target = v["target"].astype("int64").to_numpy()
    percent = np.where(target > 0, billed * 100 // np.maximum(target, 1), 100)
    level = np.select(
        [percent <= 0, percent < 50, percent < 80, percent < 100], [0, 1, 2, 3], default=4
    )
    hist = np.bincount(level, minlength=len(COVERAGE_BINS))
    below = v.assign(_p=billed / np.maximum(target, 1), _pct=percent, _lvl=level)
    below = below.loc[below["_pct"] < 100].sort_values(["_p", "kode_desa"], kind="stable")
    names = below["nama_desa"].astype("string").fillna("")
    names = names.where(names.str.len() <= 22, names.str[:21] + "…")
    full = int((percent >= 100).sum())
    total_billed, total_target = int(billed.sum()), int(target.sum())
    lacking = int(np.maximum(target - billed, 0).sum())
    summary = (
        f"{angka(full)} dari {angka(len(v))} desa mencapai target {angka(int(target.max()))} "
        f"peserta per desa; {angka(len(below))} desa di bawah target, kurang {angka(lacking)} "
        f"peserta. Peserta ditagih {angka(total_billed)} dari target {angka(total_target)} "
        f"({total_billed * 100 // total_target}%)."
        if total_target
        else f"Program ini tidak menetapkan target per desa; peserta ditagih {angka(total_billed)}."
    )
    return {
        "villages": len(v),
        "full": full,
        "summary": summary,
        "hist": [
            {"label": label, "level": key, "count": int(n), "frac": _fraction(int(n), max(hist))}
            for (label, key), n in zip(COVERAGE_BINS, hist.tolist(), strict=True)
        ],
        "below": [
            [
                k,
                n,
                f"{b}/{q} (−{q - b})",
                round(min(b / q, 1.0), 3) if q else 0.0,
                COVERAGE_BINS[lv][1],
            ]
            for k, n, b, q, lv in zip(
                below["kode_desa"].astype("string").tolist(),
                names.tolist(),
                below["billed"].astype("int64").tolist(),
                below["target"].astype("int64").tolist(),
                below["_lvl"].tolist(),
                strict=True,
            )
        ],
    }


def _rejection_bars(report: ProgramReport, top: int = 12) -> dict[str, Any]:
    items = sorted(report.rejections, key=lambda r: (-int(r[2]), r[0]))
    shown, rest = items[:top], items[top:]
    rows: list[tuple[str, str, int]] = [(c, m, int(n)) for c, m, n in shown]
    if rest:
        rows.append(("…", f"{len(rest)} alasan lainnya", sum(int(r[2]) for r in rest)))
    peak = max([n for _, _, n in rows], default=1)
    return {
        "total": angka(sum(int(r[2]) for r in items)),
        "rows": [[c, m, angka(n), _fraction(n, peak)] for c, m, n in rows],
        "top": items[0][0] if items else None,
    }


#: the columns of the villages' table: premiums paid, claims per type, benefits received
VILLAGE_HEADERS = ["Kode desa", "Desa", "Premi dibayar", *(BENEFIT_LABELS[t] for t in ClaimType),
                   "Manfaat"]  # fmt: skip
#: bar colours of the benefit chart, by claim type (the template's `benefit-color`)
BENEFIT_KEYS = {ClaimType.JKK: "jkk", ClaimType.JKM: "jkm", ClaimType.BEASISWA: "beasiswa"}


def _benefits(report: ProgramReport, top: int = 40) -> dict[str, Any] | None:
    """Premiums paid beside benefits received: two bars on one scale (the benefits one in segments
    per claim type), the figures per type and, per village, the premiums paid for its workers beside
    the benefits they received (`Benefits.villages`: the `top` first, the rest summed in one line).
    Counts and sums only."""
    b = report.benefits
    if b is None:
        return None
    types = b.by_type()
    scale = max(b.premiums_paid, b.total, 1)
    rows = [
        [str(r["kode_desa"]), str(r["nama_desa"]), rupiah(int(r["premi"])),
         *(angka(int(r[str(t)])) for t in ClaimType), rupiah(int(r["nilai"]))]
        for _, r in b.villages(top).iterrows()
    ]  # fmt: skip
    return {
        "sentence": b.sentence(),
        "premiums": {"label": rupiah(b.premiums_paid), "frac": _fraction(b.premiums_paid, scale)},
        "total": {"label": rupiah(b.total), "frac": _fraction(b.total, scale)},
        "segments": [
            {"key": BENEFIT_KEYS[ClaimType(t["jenis"])], "frac": _fraction(t["nilai"], scale)}
            for t in types
            if t["nilai"]
        ],
        "types": [
            [
                t["label"],
                f"{angka(t['claims'])} {t['noun']}",
                rupiah(t["nilai"]),
                BENEFIT_KEYS[ClaimType(t["jenis"])],
            ]
            for t in types
        ],
        "headers": VILLAGE_HEADERS,
        "villages": rows,
        "ratio": _ratio(b.total, b.premiums_paid),
    }


def _ratio(benefits: int, premiums: int) -> str:
    """`Setiap Rp1 premi ... Rp12,35 ...`: benefits per Rupiah of premium, in whole hundredths."""
    if not benefits or not premiums:
        return ""
    hundredths = (benefits * 100 + premiums // 2) // premiums
    return (
        f"Setiap Rp1 premi yang dibayar telah kembali Rp{angka(hundredths // 100)},"
        f"{hundredths % 100:02d} kepada pekerja dan ahli warisnya."
    )


def _report_payload(report: ProgramReport) -> dict[str, Any]:
    b = {k: as_amount(v) for k, v in report.budget.items()}
    shortfall = b.get("shortfall", 0)
    pagu = b.get("pagu", 0)
    figures = [
        {"label": f"Tagihan {report.period_label}", "value": rupiah(report.period_total)},
        {"label": "Ditagih s.d. bulan ini", "value": rupiah(b.get("billed_to_date", 0))},
        {"label": "Proyeksi setahun", "value": rupiah(b.get("projected_year", 0))},
    ]
    status = (
        {
            "label": "Kekurangan pagu",
            "value": rupiah(shortfall),
            "detail": "proyeksi setahun melebihi pagu",
            "ok": False,
        }
        if shortfall > 0
        else {
            "label": "Pagu",
            "value": "Cukup",
            "detail": f"sisa {rupiah(max(0, pagu - b.get('projected_year', 0)))}",
            "ok": True,
        }
    )
    notes = []
    if "months_covered" in b:
        notes.append(
            f"Pagu cukup untuk {angka(b['months_covered'])} bulan tagihan seperti bulan ini"
        )
    if "headcount_covered" in b:
        notes.append(f"cukup setahun untuk {angka(b['headcount_covered'])} peserta")
    return {
        "title": f"Laporan Bulanan {report.program_name} {report.period_label}",
        "program_name": report.program_name,
        "regency_name": report.regency_name,
        "period": report.period_label,
        "generated": f"Dibuat {tanggal(report.generated)}",
        "pagu": rupiah(pagu),
        "figures": figures,
        "status": status,
        "budget_note": "; ".join(notes) + "." if notes else "",
        "chart": _chart(report),
        "coverage": _coverage(report),
        "rejections": _rejection_bars(report),
        "benefits": _benefits(report),
    }


def render_program_report(report: ProgramReport) -> bytes:
    """The monthly program report as A4 PDF bytes; deterministic (dated by `report.generated`)."""
    return typst_pdf(REPORT_TEMPLATE, _report_payload(report), report.generated)


def write_program_report(report: ProgramReport, path: Path) -> Path:
    """`render_program_report` to `path`, atomically (left alone when it already holds it)."""
    replace_if_changed(path, render_program_report(report))
    return path
