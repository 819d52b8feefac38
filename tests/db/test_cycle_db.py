"""The cycle's bookkeeping on SQLite and PostgreSQL: billing, reruns, revisions, constraints."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError

from iuran.db.models import ContributionLine, Invoice, Membership, Notification
from iuran.db.session import session_scope
from iuran.generate import generate_rosters
from iuran.periods import Period
from iuran.programs import load_program
from tests.pipeline import run


def _count(url: str, model: type, *where: object) -> int:
    with session_scope(url) as s:
        return int(s.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def _events(url: str) -> dict[str, int]:
    with session_scope(url) as s:
        rows = s.execute(
            select(Notification.event, func.count()).group_by(Notification.event)
        ).all()
    return {str(e): int(n) for e, n in rows}


def _drop_rows(inbox: Path, program: str, period: str, n: int) -> str:
    """Remove `n` workers from the first CSV roster; returns its village code."""
    folder = inbox / program / period
    path = sorted(folder.glob("*.csv"))[0]
    df = pd.read_csv(path, dtype=str)
    df.iloc[n:].to_csv(path, index=False)
    return path.stem


@pytest.fixture
def lebak_inbox(tmp_path: Path) -> Path:
    inbox = tmp_path / "inbox"
    generate_rosters(
        load_program("lebak"), Period(2026, 1), inbox, villages=12, per_village=10, seed=7
    )
    return inbox


def test_first_cycle_bills_everyone_once(
    database_url: str, lebak_inbox: Path, tmp_path: Path
) -> None:
    lebak = load_program("lebak")
    s = run(database_url, lebak, "2026-01", lebak_inbox, tmp_path / "out")
    assert s["status"] == "issued"
    assert s["rows"] == {"received": 120, "accepted": 120, "rejected": 0}
    assert s["participants"]["billed"] == 120 and s["participants"]["new"] == 120
    assert s["total_due"] == 120 * 16_800
    [inv] = s["invoices"]
    assert inv["number"] == "001/TAG-JKK-JKM/LBK/I/2026" and inv["revision"] == 0
    assert inv["due_date"] == "2026-01-15"
    assert Path(inv["pdf"]).exists() and Path(inv["pdf"]).with_suffix(".xlsx").exists()
    with session_scope(database_url) as ses:
        total = ses.scalar(
            select(func.sum(ContributionLine.total)).where(ContributionLine.is_current)
        )
    assert total == inv["total"]
    assert _events(database_url) == {"invoice_issued": 1, "mutation_list": 1}
    b = s["budget"]
    assert b["billed_to_date"] == 120 * 16_800
    assert b["projected_year"] == 12 * 120 * 16_800


def test_unchanged_rerun_changes_nothing(
    database_url: str, lebak_inbox: Path, tmp_path: Path
) -> None:
    lebak = load_program("lebak")
    run(database_url, lebak, "2026-01", lebak_inbox, tmp_path / "out")
    again = run(database_url, lebak, "2026-01", lebak_inbox, tmp_path / "out")
    assert again["status"] == "unchanged"
    assert again["notifications"]["queued"] == 0
    assert _count(database_url, Invoice) == 1
    assert _count(database_url, ContributionLine) == 120
    assert _events(database_url) == {"invoice_issued": 1, "mutation_list": 1}


def test_fixed_roster_revises_the_unpaid_invoice(
    database_url: str, lebak_inbox: Path, tmp_path: Path
) -> None:
    lebak = load_program("lebak")
    run(database_url, lebak, "2026-01", lebak_inbox, tmp_path / "out")
    _drop_rows(lebak_inbox, "lebak", "2026-01", 3)
    s = run(database_url, lebak, "2026-01", lebak_inbox, tmp_path / "out")
    assert s["status"] == "revised"
    [inv] = s["invoices"]
    assert (inv["number"], inv["revision"], inv["participants"]) == (
        "001/TAG-JKK-JKM/LBK/I/2026",
        1,
        117,
    )
    assert inv["total"] == 117 * 16_800
    with session_scope(database_url) as ses:
        states = dict(ses.execute(select(Invoice.revision, Invoice.document_state)).all())
        current = ses.scalar(select(func.count()).where(ContributionLine.is_current))
    assert states == {0: "superseded", 1: "issued"}
    assert current == 117
    # issued, then revised; BPJS gets the corrected mutation list
    assert _events(database_url) == {"invoice_issued": 1, "invoice_revised": 1, "mutation_list": 2}


def test_a_worker_cannot_be_billed_twice(
    database_url: str, lebak_inbox: Path, tmp_path: Path
) -> None:
    run(database_url, load_program("lebak"), "2026-01", lebak_inbox, tmp_path / "out")
    with session_scope(database_url) as ses:
        line = ses.scalars(select(ContributionLine).limit(1)).one()
        row = {
            c.name: getattr(line, c.name)
            for c in ContributionLine.__table__.columns
            if c.name != "id"
        }
    with pytest.raises(IntegrityError), session_scope(database_url) as ses:
        ses.execute(insert(ContributionLine), [row])


def test_next_month_sees_continuing_and_ended(
    database_url: str, lebak_inbox: Path, tmp_path: Path
) -> None:
    lebak = load_program("lebak")
    run(database_url, lebak, "2026-01", lebak_inbox, tmp_path / "out")
    generate_rosters(lebak, Period(2026, 2), lebak_inbox, villages=12, per_village=10, seed=7)
    village = _drop_rows(lebak_inbox, "lebak", "2026-02", 2)
    s = run(database_url, lebak, "2026-02", lebak_inbox, tmp_path / "out")
    p = s["participants"]
    assert p["ended"] >= 2 and p["billed"] == p["new"] + p["continuing"]
    assert s["invoices"][0]["number"] == "002/TAG-JKK-JKM/LBK/II/2026"
    with session_scope(database_url) as ses:
        ended = ses.scalar(select(func.count()).where(Membership.end_reason == "tidak_di_roster"))
        spans = ses.execute(
            select(Membership.first_period, Membership.last_period, func.count())
            .where(Membership.end_period.is_(None))
            .group_by(Membership.first_period, Membership.last_period)
        ).all()
    assert ended == p["ended"]
    # continuing memberships extended to February (one UPDATE for them all), new ones begin there
    assert sorted(spans) == sorted(
        [("2026-01", "2026-02", p["continuing"]), ("2026-02", "2026-02", p["new"])]
    )
    assert village  # the village whose file lost two rows


def test_village_payers_get_one_invoice_each_and_only_the_changed_one_is_revised(
    database_url: str, tmp_path: Path
) -> None:
    lahat = load_program("lahat")
    inbox = tmp_path / "inbox"
    generate_rosters(lahat, Period(2025, 9), inbox, villages=6, per_village=10, seed=3)
    first = run(database_url, lahat, "2025-09", inbox, tmp_path / "out")
    assert len(first["invoices"]) == 6 and {i["status"] for i in first["invoices"]} == {"issued"}
    village = _drop_rows(inbox, "lahat", "2025-09", 3)
    second = run(database_url, lahat, "2025-09", inbox, tmp_path / "out")
    revised = [i for i in second["invoices"] if i["status"] == "revised"]
    assert [i["payer"] for i in revised] == [village]
    assert revised[0]["participants"] == 7 and revised[0]["revision"] == 1
    assert sum(1 for i in second["invoices"] if i["status"] == "unchanged") == 5


def test_dry_run_writes_nothing(database_url: str, lebak_inbox: Path, tmp_path: Path) -> None:
    s = run(
        database_url, load_program("lebak"), "2026-01", lebak_inbox, tmp_path / "out", dry_run=True
    )
    assert s["status"] == "issued" and s["dry_run"]
    assert _count(database_url, Invoice) == 0
    assert _count(database_url, Notification) == 0


def test_rerun_of_a_month_after_the_next_one_changes_nothing(
    database_url: str, tmp_path: Path
) -> None:
    """A later month must not change how an earlier month is decided (homes, quota, categories)."""
    lebak = load_program("lebak")
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    for month in (Period(2026, 1), Period(2026, 2)):
        generate_rosters(lebak, month, inbox, villages=10, per_village=10, faults=0.1, seed=5)
    first = run(database_url, lebak, "2026-01", inbox, out)
    run(database_url, lebak, "2026-02", inbox, out)
    again = run(database_url, lebak, "2026-01", inbox, out)
    assert first["rejections"].get("NIK_DESA_GANDA", 0) >= 1
    assert again["status"] == "unchanged"
    assert again["participants"] == first["participants"]


def test_a_fixed_earlier_month_leaves_the_later_months_memberships(
    database_url: str, lebak_inbox: Path, tmp_path: Path
) -> None:
    """January fixed and rerun after February: whoever February ended stays ended there."""
    lebak, out = load_program("lebak"), tmp_path / "out"
    run(database_url, lebak, "2026-01", lebak_inbox, out)
    generate_rosters(lebak, Period(2026, 2), lebak_inbox, villages=12, per_village=10, seed=7)
    _drop_rows(lebak_inbox, "lebak", "2026-02", 2)
    assert run(database_url, lebak, "2026-02", lebak_inbox, out)["participants"]["ended"] >= 2

    def memberships() -> list[tuple[object, ...]]:
        with session_scope(database_url) as ses:
            return sorted(
                ses.execute(
                    select(
                        Membership.participant_id,
                        Membership.kode_desa,
                        Membership.first_period,
                        Membership.last_period,
                        Membership.end_period,
                        Membership.end_reason,
                    )
                ).all()
            )

    before = memberships()
    assert [m[4] for m in before].count("2026-02") >= 2
    january = sorted((lebak_inbox / "lebak" / "2026-01").glob("*.csv"))[-1]
    rows = pd.read_csv(january, dtype=str, keep_default_na=False)
    rows.iloc[1:].to_csv(january, index=False)  # a worker January should not have billed
    assert run(database_url, lebak, "2026-01", lebak_inbox, out)["status"] == "revised"
    assert memberships() == before


def test_bpjs_reports_a_death_and_the_worker_is_never_billed_again(
    database_url: str, tmp_path: Path
) -> None:
    lebak = load_program("lebak")
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    for month in (Period(2026, 1), Period(2026, 2), Period(2026, 3)):
        generate_rosters(lebak, month, inbox, villages=3, per_village=10, seed=9, churn=0)
    run(database_url, lebak, "2026-01", inbox, out)
    roster = pd.read_csv(sorted((inbox / "lebak" / "2026-02").glob("*.csv"))[0], dtype=str)
    deceased, moved = roster["nik"].iloc[0], roster["nik"].iloc[1]
    (inbox / "lebak" / "2026-02" / "bpjs_status.csv").write_text(
        f"nik;status;tanggal\n{deceased};meninggal;20/01/2026\n{moved};pindah_pu;25/01/2026\n"
        "123;meninggal;01/01/2026\n"
    )
    feb = run(database_url, lebak, "2026-02", inbox, out)
    assert feb["rejections"]["PESERTA_MENINGGAL"] == 1
    assert feb["rejections"]["PINDAH_PENERIMA_UPAH"] == 1
    assert feb["participants"]["billed"] == 28
    assert feb["bpjs_status"] == {"meninggal": 1, "pindah_pu": 1}
    assert any("1 baris diabaikan" in n for n in feb["notes"])
    # March: no status file, the roster still lists them; the registry remembers.
    mar = run(database_url, lebak, "2026-03", inbox, out)
    assert mar["rejections"]["PESERTA_MENINGGAL"] == 1 and mar["participants"]["billed"] == 28
    with session_scope(database_url) as ses:
        from iuran.db.models import Participant

        status = dict(
            ses.execute(
                select(Participant.nik, Participant.bpjs_status).where(
                    Participant.bpjs_status != "aktif"
                )
            ).all()
        )
    assert status == {deceased: "meninggal", moved: "pindah_pu"}


def test_pagu_policy_stop_issues_nothing_beyond_the_budget(
    database_url: str, lebak_inbox: Path, tmp_path: Path
) -> None:
    lebak = load_program("lebak")
    y2026, *later = lebak.years
    years = (y2026.model_copy(update={"pagu": 12 * 100 * 16_800}), *later)
    tight = lebak.model_copy(update={"years": years, "pagu_policy": "stop"})
    s = run(database_url, tight, "2026-01", lebak_inbox, tmp_path / "out")
    assert s["status"] == "stopped"
    assert [i["status"] for i in s["invoices"]] == ["withheld"]
    assert s["budget"]["shortfall"] == 12 * 20 * 16_800
    assert any("melebihi pagu" in n for n in s["notes"])
    assert _count(database_url, Invoice) == 0 and _count(database_url, Notification) == 0
    warn = tight.model_copy(update={"pagu_policy": "warn"})
    s = run(database_url, warn, "2026-01", lebak_inbox, tmp_path / "out")
    assert s["status"] == "issued" and any("melebihi pagu" in n for n in s["notes"])


def _invariants(url: str) -> None:
    """Every live invoice's total is the sum of its current lines; a worker is billed once a period."""
    with session_scope(url) as ses:
        live = ses.execute(
            select(Invoice.id, Invoice.total, Invoice.participants).where(
                Invoice.document_state.in_(("draft", "issued"))
            )
        ).all()
        for inv_id, total, participants in live:
            sums = ses.execute(
                select(func.coalesce(func.sum(ContributionLine.total), 0), func.count()).where(
                    ContributionLine.invoice_id == inv_id, ContributionLine.is_current
                )
            ).one()
            assert (sums[0], sums[1]) == (total, participants)
        dup = ses.execute(
            select(ContributionLine.period, ContributionLine.participant_id, func.count())
            .where(ContributionLine.is_current)
            .group_by(
                ContributionLine.program, ContributionLine.period, ContributionLine.participant_id
            )
            .having(func.count() > 1)
        ).all()
        assert dup == []
        stale = ses.scalar(
            select(func.count())
            .select_from(ContributionLine)
            .join(Invoice, Invoice.id == ContributionLine.invoice_id)
            .where(ContributionLine.is_current, Invoice.document_state.not_in(("draft", "issued")))
        )
        assert stale == 0


def test_a_paid_invoice_is_never_changed(
    database_url: str, lebak_inbox: Path, tmp_path: Path
) -> None:
    lebak = load_program("lebak")
    run(database_url, lebak, "2026-01", lebak_inbox, tmp_path / "out")
    from sqlalchemy import update

    with session_scope(database_url) as ses:
        ses.execute(update(Invoice).values(payment_state="paid", paid=Invoice.total))
    folder = lebak_inbox / "lebak" / "2026-01"
    path = sorted(folder.glob("*.csv"))[0]
    df = pd.read_csv(path, dtype=str)
    removed = df.iloc[:1]
    # One new worker in the freed place (quota 10): a real row with a fresh serial number.
    extra = df.iloc[1:2].copy()
    extra["nik"] = extra["nik"].str[:12] + "9901"
    pd.concat([df.iloc[1:], extra]).to_csv(path, index=False)
    s = run(database_url, lebak, "2026-01", lebak_inbox, tmp_path / "out")
    by_status = {i["status"]: i for i in s["invoices"]}
    assert set(by_status) == {"unchanged", "supplementary"}
    assert by_status["unchanged"]["number"] == "001/TAG-JKK-JKM/LBK/I/2026"
    assert (
        by_status["unchanged"]["revision"] == 0 and by_status["unchanged"]["total"] == 120 * 16_800
    )
    sup = by_status["supplementary"]
    assert sup["number"] == "002/TAG-JKK-JKM/LBK/I/2026" and sup["participants"] == 1
    assert sup["total"] == 16_800 and Path(sup["pdf"]).exists()
    with session_scope(database_url) as ses:
        note = ses.scalar(select(Invoice.change_note).where(Invoice.seq == 1))
    assert note and "kredit" in note and removed["nik"].iloc[0] not in note
    _invariants(database_url)
    again = run(database_url, lebak, "2026-01", lebak_inbox, tmp_path / "out")
    assert again["status"] == "unchanged"
    _invariants(database_url)


@pytest.mark.parametrize("seed", [1, 2])
def test_invariants_hold_through_a_series_of_roster_fixes(
    database_url: str, tmp_path: Path, seed: int
) -> None:
    import random

    lahat = load_program("lahat")
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    generate_rosters(
        lahat, Period(2025, 9), inbox, villages=5, per_village=8, faults=0.1, seed=seed
    )
    rng = random.Random(seed)
    numbers: set[str] = set()
    for _ in range(4):
        s = run(database_url, lahat, "2025-09", inbox, out, render=False)
        _invariants(database_url)
        numbers |= {i["number"] for i in s["invoices"]}
        files = sorted((inbox / "lahat" / "2025-09").glob("*.csv"))
        path = rng.choice(files)
        df = pd.read_csv(path, dtype=str)
        df = df.drop(index=rng.sample(list(df.index), k=min(2, len(df))))
        df.to_csv(path, index=False)
    with session_scope(database_url) as ses:
        seqs = ses.execute(select(Invoice.seq, Invoice.number).distinct()).all()
    assert (
        len({n for _, n in seqs}) == len({q for q, _ in seqs}) == 5
    )  # one number per village, kept


def test_every_generated_fault_is_reported_and_every_row_accounted_for(
    database_url: str, tmp_path: Path
) -> None:
    lebak = load_program("lebak")
    inbox = tmp_path / "inbox"
    report = generate_rosters(
        lebak, Period(2026, 1), inbox, villages=20, per_village=8, faults=0.05, seed=4
    )
    assert all(n > 0 for n in report.fault_rows.values()), report.fault_rows
    s = run(database_url, lebak, "2026-01", inbox, tmp_path / "out", render=False)
    assert s["rows"]["received"] == report.rows
    assert s["rows"]["accepted"] + s["rows"]["rejected"] == report.rows
    codes = set(s["rejections"])
    assert "NIK_NOTASI_ILMIAH" in codes  # nik_scientific
    assert "NIK_DESA_GANDA" in codes  # dua_desa
    assert "USIA_DI_ATAS_BATAS" in codes  # usia_lebih
    assert "NIK_GANDA_BERKAS" in codes  # nik_ganda
    assert codes & {
        "NAMA_KOSONG",
        "TANGGAL_LAHIR_KOSONG",
        "JENIS_KELAMIN_KOSONG",
        "KODE_DESA_KOSONG",
    }
    assert codes & {"NIK_PANJANG", "NIK_TANGGAL", "NIK_BUKAN_ANGKA", "NIK_PROVINSI", "NIK_SERIAL"}
    assert s["participants"]["billed"] == s["rows"]["accepted"]


def test_a_returning_worker_with_another_name_is_a_conflict_not_an_overwrite(
    database_url: str, lebak_inbox: Path, tmp_path: Path
) -> None:
    from iuran.db.models import Participant, RegistryConflict

    lebak = load_program("lebak")
    run(database_url, lebak, "2026-01", lebak_inbox, tmp_path / "out")
    path = sorted((lebak_inbox / "lebak" / "2026-01").glob("*.csv"))[0]
    df = pd.read_csv(path, dtype=str)
    original = df.loc[0, "nama"]
    df.loc[0, "nama"] = "Bambang Pamungkas Wijayakusuma"  # another person's name
    df.loc[1, "nama"] = df.loc[1, "nama"].upper() + "."  # a spelling variant: tolerated
    df.to_csv(path, index=False)
    s = run(database_url, lebak, "2026-01", lebak_inbox, tmp_path / "out")
    assert s["conflicts"] == 1 and s["participants"]["billed"] == 120
    with session_scope(database_url) as ses:
        [c] = ses.scalars(select(RegistryConflict)).all()
        kept = ses.scalar(select(Participant.nama).where(Participant.nik == df.loc[0, "nik"]))
    assert (c.field, c.registry_value, c.roster_value) == (
        "nama",
        original,
        "Bambang Pamungkas Wijayakusuma",
    )
    assert kept == original  # never silently overwritten


def test_a_month_with_only_refused_files_still_tells_disnaker_once(
    database_url: str, lebak_inbox: Path, tmp_path: Path
) -> None:
    """No row rejected, but a file nobody can read: the operator must hear of it all the same."""
    lebak = load_program("lebak")
    (lebak_inbox / "lebak" / "2026-01" / "36.02.01.2099.xlsx").write_bytes(b"not a workbook")
    s = run(database_url, lebak, "2026-01", lebak_inbox, tmp_path / "out")
    assert s["rows"]["rejected"] == 0 and s["files"]["rejected"] == 1
    assert _events(database_url)["cycle_rejections"] == 1
    with session_scope(database_url) as ses:
        context = ses.scalars(
            select(Notification.context).where(Notification.event == "cycle_rejections")
        ).one()
    assert [f["path"] for f in context["files_rejected"]] == ["36.02.01.2099.xlsx"]
    run(database_url, lebak, "2026-01", lebak_inbox, tmp_path / "out")
    assert _events(database_url)["cycle_rejections"] == 1  # a rerun tells nothing twice


def test_an_unpaid_supplementary_invoice_is_revised_when_its_workers_leave(
    database_url: str, lebak_inbox: Path, tmp_path: Path
) -> None:
    """The paid invoice stays as it is; the open supplementary one follows the roster."""
    from sqlalchemy import update

    lebak = load_program("lebak")
    out = tmp_path / "out"
    run(database_url, lebak, "2026-01", lebak_inbox, out)
    with session_scope(database_url) as ses:
        ses.execute(update(Invoice).values(payment_state="paid", paid=Invoice.total))
    path = sorted((lebak_inbox / "lebak" / "2026-01").glob("*.csv"))[0]
    df = pd.read_csv(path, dtype=str)
    # Two workers leave, two newcomers take their places: a supplementary invoice for 2.
    newcomers = df.iloc[2:4].copy()
    newcomers["nik"] = newcomers["nik"].str[:12] + pd.Series(
        ["9901", "9902"], index=newcomers.index
    )
    pd.concat([df.iloc[2:], newcomers]).to_csv(path, index=False)
    s = run(database_url, lebak, "2026-01", lebak_inbox, out)
    [sup] = [i for i in s["invoices"] if i["status"] == "supplementary"]
    assert sup["participants"] == 2 and sup["total"] == 2 * 16_800

    # One newcomer leaves again before the supplementary invoice is paid: it is revised to 1.
    pd.concat([df.iloc[2:], newcomers.iloc[:1]]).to_csv(path, index=False)
    s = run(database_url, lebak, "2026-01", lebak_inbox, out)
    [rev] = [i for i in s["invoices"] if i["status"] == "revised"]
    assert (rev["number"], rev["revision"]) == (sup["number"], 1)
    assert rev["participants"] == 1 and rev["total"] == 16_800
    _invariants(database_url)

    # The other leaves too: the supplementary invoice is cancelled; the paid one never changes.
    df.iloc[2:].to_csv(path, index=False)
    s = run(database_url, lebak, "2026-01", lebak_inbox, out)
    assert {i["number"]: i["status"] for i in s["invoices"]} == {
        "001/TAG-JKK-JKM/LBK/I/2026": "unchanged",
        sup["number"]: "cancelled",
    }
    with session_scope(database_url) as ses:
        live = ses.execute(
            select(Invoice.number, Invoice.total).where(Invoice.document_state == "issued")
        ).all()
    assert live == [("001/TAG-JKK-JKM/LBK/I/2026", 120 * 16_800)]
    _invariants(database_url)
    assert run(database_url, lebak, "2026-01", lebak_inbox, out)["status"] == "unchanged"


def test_a_worker_back_after_a_month_away_keeps_the_village_last_billed(
    database_url: str, tmp_path: Path
) -> None:
    """Listed in two villages, a worker stays where last billed, even if that was two months ago."""
    from iuran.db.models import Participant

    lebak = load_program("lebak")
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    for month in ("2026-01", "2026-02", "2026-03"):
        generate_rosters(lebak, Period.parse(month), inbox, villages=4, per_village=5, seed=3, churn=0)  # fmt: skip
    low, high = sorted((inbox / "lebak" / "2026-03").glob("*.csv"))[:2]
    worker = pd.read_csv(inbox / "lebak" / "2026-01" / high.name, dtype=str).iloc[0]
    assert worker["nik"] in set(pd.read_csv(high, dtype=str)["nik"])
    run(database_url, lebak, "2026-01", inbox, out)
    feb = inbox / "lebak" / "2026-02" / high.name  # away in February
    pd.read_csv(feb, dtype=str).iloc[1:].to_csv(feb, index=False)
    run(database_url, lebak, "2026-02", inbox, out)
    march = pd.read_csv(low, dtype=str)  # back in March, listed in the lower-coded village too
    extra = worker.copy()
    extra["kode_desa"] = march.loc[0, "kode_desa"]
    pd.concat([march, extra.to_frame().T]).to_csv(low, index=False)
    s = run(database_url, lebak, "2026-03", inbox, out)
    assert s["rejections"]["NIK_DESA_GANDA"] == 1
    with session_scope(database_url) as ses:
        desa = ses.scalars(
            select(ContributionLine.kode_desa)
            .join(Participant, Participant.id == ContributionLine.participant_id)
            .where(Participant.nik == worker["nik"], ContributionLine.period == "2026-03")
        ).all()
    assert desa == [worker["kode_desa"]]
