"""A rerun records again only the payers whose rows changed (`iuran.cycle.unchanged_payers`), and
leaves the database as recording every payer again would: checked against a full record on both
backends, with a conflict on a payer left alone, a name changed, a worker removed and one added."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import select, update

from iuran.cycle import payer_digests, unchanged_payers
from iuran.db.models import (
    ContributionLine,
    Cycle,
    Invoice,
    Membership,
    Participant,
    RegistryConflict,
)
from iuran.db.session import session_scope
from iuran.generate import generate_rosters
from iuran.periods import Period
from iuran.pricing import price_lines
from iuran.programs import load_program
from iuran.registry import decide, participant_changes
from iuran.rosters.read import collect_rosters
from iuran.rosters.validate import validate_rows
from tests.pipeline import run

PERIOD = Period(2026, 1)
LAHAT = load_program("lahat")  # one invoice per village: payers a rerun can leave alone


@pytest.fixture
def month(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Lahat January, six villages of eight workers (CSV), billed once."""
    monkeypatch.setenv("IURAN_OUTBOX", str(tmp_path / "outbox"))
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    generate_rosters(LAHAT, PERIOD, inbox, villages=6, per_village=8, seed=5, xlsx_share=0.0)
    folder = inbox / "lahat" / str(PERIOD)
    m = {"url": database_url, "inbox": inbox, "out": out, "folder": folder}
    assert rerun(m)["status"] == "issued"
    return m


def rerun(m: dict[str, Any]) -> dict[str, Any]:
    return run(m["url"], LAHAT, str(PERIOD), m["inbox"], m["out"], render=False)


def village(m: dict[str, Any], i: int) -> Path:
    return sorted(m["folder"].glob("*.csv"))[i]


def edit(path: Path, change: Any) -> None:
    rows = pd.read_csv(path, dtype=str, keep_default_na=False)
    change(rows).to_csv(path, index=False)


def rename_first(rows: pd.DataFrame) -> pd.DataFrame:
    return rows.assign(nama=[rows["nama"].iloc[0] + " Binti Ahmad", *rows["nama"].iloc[1:]])


def drop_last(rows: pd.DataFrame) -> pd.DataFrame:
    return rows.iloc[:-1]


def add_worker(rows: pd.DataFrame) -> pd.DataFrame:
    # the first worker's area and birth date (the NIK must agree with them), another serial
    new = rows.iloc[[0]].assign(nik=rows["nik"].iloc[0][:12] + "0999", nama="Saudara Baru")
    return pd.concat([rows, new], ignore_index=True)


def snapshot(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """What recording writes, without ids and clocks."""
    with session_scope(url) as s:
        return {
            "participants": sorted(
                s.execute(
                    select(Participant.nik, Participant.nama, Participant.tanggal_lahir)
                ).all()
            ),
            "memberships": sorted(
                s.execute(
                    select(
                        Participant.nik,
                        Membership.kode_desa,
                        Membership.pekerjaan,
                        Membership.first_period,
                        Membership.last_period,
                        Membership.end_period,
                        Membership.end_reason,
                    ).join(Participant, Participant.id == Membership.participant_id)
                ).all()
            ),
            "conflicts": sorted(
                s.execute(
                    select(
                        Participant.nik,
                        RegistryConflict.field,
                        RegistryConflict.registry_value,
                        RegistryConflict.roster_value,
                        RegistryConflict.source_file,
                        RegistryConflict.source_row,
                    ).join(Participant, Participant.id == RegistryConflict.participant_id)
                ).all()
            ),
            "invoices": sorted(
                s.execute(
                    select(
                        Invoice.number,
                        Invoice.revision,
                        Invoice.document_state,
                        Invoice.total,
                        Invoice.participants,
                        Invoice.content_hash,
                    )
                ).all()
            ),
            "lines": sorted(
                s.execute(
                    select(
                        Invoice.number,
                        Invoice.revision,
                        Participant.nik,
                        ContributionLine.kode_desa,
                        ContributionLine.category,
                        ContributionLine.total,
                        ContributionLine.is_current,
                    )
                    .join(Invoice, Invoice.id == ContributionLine.invoice_id)
                    .join(Participant, Participant.id == ContributionLine.participant_id)
                ).all()
            ),
        }


def forget_recorded(url: str) -> None:
    """The next record of the month covers every payer, as before `cycle.recorded` existed."""
    with session_scope(url) as s:
        s.execute(update(Cycle).values(recorded=None))


def kept_now(m: dict[str, Any]) -> dict[str, int]:
    """What `record_cycle` would leave alone if the month were recorded now."""
    folder = m["folder"]
    rosters = collect_rosters(str(folder), None)
    checked = validate_rows(rosters.rows, LAHAT, PERIOD)
    decided = decide(m["url"], rosters.rows, checked.accepted, LAHAT, PERIOD, folder)
    lines = price_lines(decided.billed, LAHAT, PERIOD)
    with session_scope(m["url"]) as s:
        cycle = s.scalars(select(Cycle)).one()
        return unchanged_payers(
            s, cycle, LAHAT, PERIOD, payer_digests(lines), participant_changes(s)
        )


def test_a_rerun_leaves_unchanged_villages_alone_and_writes_what_a_full_record_would(
    month: dict[str, Any],
) -> None:
    url = month["url"]
    codes = [village(month, i).stem for i in range(6)]
    assert sorted(kept_now(month)) == codes  # nothing changed: every payer kept

    edit(village(month, 2), rename_first)  # a name the registry holds otherwise: a conflict
    assert sorted(kept_now(month)) == codes[:2] + codes[3:]
    assert rerun(month)["status"] == "unchanged"  # a name is not billed: no invoice changes
    conflicts = snapshot(url)["conflicts"]
    assert [(c[1], c[4]) for c in conflicts] == [("nama", village(month, 2).name)]

    edit(village(month, 0), drop_last)  # village 2, and its conflict, left alone by this rerun
    edit(village(month, 4), add_worker)
    assert sorted(kept_now(month)) == [codes[1], codes[2], codes[3], codes[5]]
    assert rerun(month)["status"] == "revised"
    scoped = snapshot(url)
    assert scoped["conflicts"] == conflicts

    forget_recorded(url)
    assert kept_now(month) == {}
    assert rerun(month)["status"] == "unchanged"
    assert snapshot(url) == scoped


def test_a_changed_participant_makes_the_next_rerun_record_every_payer(
    month: dict[str, Any],
) -> None:
    assert len(kept_now(month)) == 6
    with session_scope(month["url"]) as s:
        s.execute(update(Participant).where(Participant.id == 1).values(nama="Nama Diperbaiki"))
    assert kept_now(month) == {}  # names were checked against the registry as it was
    rerun(month)
    assert len(kept_now(month)) == 6


def test_a_paid_invoice_is_recorded_again(month: dict[str, Any]) -> None:
    with session_scope(month["url"]) as s:
        paid = s.scalars(select(Invoice).order_by(Invoice.number)).first()
        assert paid is not None
        paid.payment_state = "paid"
        payer = paid.payer_key
    kept = kept_now(month)
    assert len(kept) == 5 and payer not in kept


def test_digests_follow_every_column_and_ignore_row_order() -> None:
    lines = pd.DataFrame(
        {
            "payer_key": ["a", "a", "b"],
            "nik": ["1", "2", "3"],
            "nama": ["X", "Y", "Z"],
            "total": [10, 20, 30],
        }
    )
    d = payer_digests(lines)
    assert set(d) == {"a", "b"}
    assert payer_digests(lines.iloc[::-1]) == d
    renamed = payer_digests(lines.assign(nama=["X", "Y2", "Z"]))
    assert renamed["a"] != d["a"] and renamed["b"] == d["b"]
    fewer = payer_digests(lines.iloc[1:])
    assert fewer["a"] != d["a"] and fewer["b"] == d["b"]
    assert payer_digests(lines.assign(extra=1))["b"] != d["b"]  # a new column is a change
    assert payer_digests(lines.iloc[:0]) == {}
