"""Reports fed by a real cycle (rosters with faults, registry, invoices) on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import io
import re
from dataclasses import dataclass
from pathlib import Path

import openpyxl
import pandas as pd
import pypdf
from sqlalchemy import select
from sqlalchemy.orm import Session

from iuran.cycle import Recorded, record_cycle
from iuran.cycle_reports import program_villages
from iuran.db.models import Cycle, Invoice, Notification
from iuran.db.session import session_scope
from iuran.generate import generate_rosters
from iuran.mutation_list import write_mutation_list
from iuran.periods import Period
from iuran.pricing import price_lines
from iuran.program_report import build_program_report, monthly_billed, render_program_report
from iuran.programs import Program, load_program
from iuran.reconcile import Reconciled, Registry, reconcile
from iuran.registry import load_registry
from iuran.reports import TOTAL, data_quality_table, write_rejection_reports
from iuran.rosters.columns import Collected
from iuran.rosters.read import collect_rosters
from iuran.rosters.validate import validate_rows
from iuran.summary import all_rejections
from iuran.wilayah import normalize_kode_desa, villages

TODAY = dt.date(2026, 1, 5)


@dataclass
class Step:
    rosters: Collected
    rejected: pd.DataFrame
    registry: Registry
    decided: Reconciled
    recorded: Recorded


def cycle(url: str, program: Program, period: Period, inbox: Path, out: Path) -> Step:
    """tests.pipeline.run, keeping the frames the reports are built from."""
    rosters = collect_rosters(str(inbox / program.code / str(period)))
    checked = validate_rows(rosters.rows, program, period)
    with session_scope(url) as session:
        registry = load_registry(session, program, period, checked.accepted["nik"])
    received = set(normalize_kode_desa(rosters.rows["kode_desa"]).dropna())
    decided = reconcile(checked.accepted, received, registry, program, period)
    lines = price_lines(decided.billed, program, period)
    rejected = all_rejections(checked, decided)
    recorded = record_cycle(
        url, program, period, rosters.files, rejected, decided, lines, out, TODAY
    )
    return Step(rosters, rejected, registry, decided, recorded)


def invoice(cycle: Cycle, period: str, total: int, seq: int, **kw: object) -> Invoice:
    """A Lebak invoice of 2026 as the budget and the program report read it (kw: program,
    revision, kind, state, participants)."""
    return Invoice(
        program=kw.pop("program", "lebak"),
        period=period,
        year=2026,
        seq=seq,
        number=f"{seq:03d}/T/{period}",
        revision=kw.pop("revision", 0),
        kind=kw.pop("kind", "regular"),
        payer_key="kabupaten",
        payer_name="BKAD",
        cycle_id=cycle.id,
        document_state=kw.pop("state", "issued"),
        participants=kw.pop("participants", 1),
        total=total,
        content_hash="x",
        issue_date=dt.date(2026, 1, 5),
        due_date=dt.date(2026, 1, 15),
    )


def lebak_january(session: Session) -> Cycle:
    """The cycle row invoices of Lebak's January hang from."""
    cycle = Cycle(program="lebak", period="2026-01")
    session.add(cycle)
    session.flush()
    return cycle


def test_monthly_billed_live_invoices_then_projection(database_url: str) -> None:
    lebak = load_program("lebak")
    with session_scope(database_url) as s:
        cyc = lebak_january(s)
        s.add_all(
            [
                invoice(cyc, "2026-01", 57_960_000, 1),
                invoice(cyc, "2026-02", 999, 2, state="superseded"),
                invoice(cyc, "2026-02", 57_943_200, 2, revision=1),
                invoice(cyc, "2026-02", 16_800, 3, kind="supplementary"),
                invoice(cyc, "2026-02", 5, 4, program="lahat"),
                invoice(cyc, "2026-03", 1, 5, state="draft"),  # after the period asked for
            ]
        )
    with session_scope(database_url) as s:
        series = monthly_billed(s, lebak, Period(2026, 2))
    assert len(series) == 12
    assert series[0] == ("Jan 2026", 57_960_000, False)
    assert series[1] == ("Feb 2026", 57_960_000, False)
    assert series[2] == (
        "Mar 2026",
        57_943_200,
        True,
    )  # regular total projected, not the supplement
    assert series[-1] == ("Des 2026", 57_943_200, True)


def test_reports_from_a_real_cycle(database_url: str, tmp_path: Path) -> None:
    lebak = load_program("lebak")
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    generate_rosters(lebak, Period(2026, 1), inbox, villages=6, per_village=10, faults=0.3, seed=5)
    jan = cycle(database_url, lebak, Period(2026, 1), inbox, out)
    assert len(jan.rejected) > 0

    v = villages(lebak.regency)
    names = pd.Series(v["nama_desa"].to_numpy(), index=v["kode_desa"])
    written = write_rejection_reports(
        jan.rejected,
        jan.rosters.files,
        names,
        out / "penolakan",
        program=lebak,
        period=Period(2026, 1),
    )
    rows_in_reports = 0
    full_niks = set(jan.rosters.rows["nik"].dropna())
    for path in written.values():
        ws = openpyxl.load_workbook(path)["Penolakan"]
        values = [list(r) for r in ws.iter_rows(values_only=True)]
        start = next(i for i, r in enumerate(values) if r[0] == "Berkas asal")
        rows_in_reports += len(values) - start - 1
        assert not full_niks & {str(x) for r in values for x in r}
    assert rows_in_reports == len(jan.rejected)

    table = data_quality_table(jan.rosters.rows, jan.rejected, jan.decided.billed)
    total = table.loc[table["kode_desa"] == TOTAL].iloc[0]
    assert total["diterima"] == len(jan.rosters.rows)
    assert total["ditolak"] == len(jan.rejected)
    assert total["lolos"] == len(jan.decided.billed)

    # Disnaker's e-mail tells each village what the attached table says
    with session_scope(database_url) as s:
        context = s.scalars(
            select(Notification.context).where(Notification.event == "cycle_rejections")
        ).one()
    attached = data_quality_table(
        jan.rosters.rows, jan.rejected, jan.decided.billed, village_names=program_villages(lebak)
    )
    attached = attached.loc[(attached["kode_desa"] != TOTAL) & (attached["ditolak"] > 0)]
    assert {
        v["kode_desa"]: (v["received"], v["accepted"], v["rejected"]) for v in context["by_village"]
    } == {str(r.kode_desa): (r.diterima, r.lolos, r.ditolak) for r in attached.itertuples()}

    # February: one village drops three workers -> three terminations with names from the registry
    generate_rosters(lebak, Period(2026, 2), inbox, villages=6, per_village=10, seed=5, churn=0)
    folder = inbox / "lebak" / "2026-02"
    target = sorted(folder.glob("*.csv"))[0]
    df = pd.read_csv(target, dtype=str)
    df.iloc[3:].to_csv(target, index=False)
    feb = cycle(database_url, lebak, Period(2026, 2), inbox, out)
    assert len(feb.decided.ended) >= 3
    path = write_mutation_list(
        feb.decided.billed,
        feb.decided.ended,
        feb.registry.previous,
        lebak,
        Period(2026, 2),
        tmp_path / "mutasi.xlsx",
    )
    gone = openpyxl.load_workbook(path)["Pengurangan"]
    ended_rows = list(gone.iter_rows(min_row=2, values_only=True))
    assert {r[0] for r in ended_rows} == set(feb.decided.ended["nik"])
    assert all(r[1] and re.fullmatch(r"\d{16}", r[0]) for r in ended_rows)
    assert {r[8] for r in ended_rows} == {dt.datetime(2026, 1, 31)}

    with session_scope(database_url) as s:
        series = monthly_billed(s, lebak, Period(2026, 2))
        live = s.scalars(
            select(Invoice.total).where(Invoice.document_state.in_(("draft", "issued")))
        ).all()
    assert sum(b for _, b, p in series if not p) == sum(live) == feb.recorded.budget.billed_to_date
    assert sum(b for _, b, _ in series) == feb.recorded.budget.projected_year
    report = build_program_report(
        lebak,
        Period(2026, 2),
        feb.recorded.budget.as_dict(),
        series,
        feb.decided.billed,
        feb.rejected,
        dt.date(2026, 2, 3),
    )
    assert len(report.villages) == 345
    reader = pypdf.PdfReader(io.BytesIO(render_program_report(report)))
    text = " ".join(" ".join(p.extract_text() for p in reader.pages).split())
    assert "Februari 2026" in text and "Rp670.680.000" in text
    assert not re.search(r"(?<!\d)\d{16}(?!\d)", text)
