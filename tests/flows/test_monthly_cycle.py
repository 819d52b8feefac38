"""The monthly_cycle flow on a real (temporary) Prefect server, and the CLI's JSON contract."""

from __future__ import annotations

import email
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
from prefect.client.orchestration import get_client

from flows.monthly_cycle import monthly_cycle
from iuran.generate import generate_rosters
from iuran.periods import Period
from iuran.programs import load_program

ROOT = Path(__file__).resolve().parents[2]


def _env(tmp_path: Path) -> dict[str, str]:
    return {"IURAN_OUTBOX": str(tmp_path / "outbox")}


def test_flow_runs_the_month_and_a_rerun_bills_nothing_twice(
    sqlite_url: str, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setenv("IURAN_OUTBOX", str(tmp_path / "outbox"))
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    generate_rosters(
        load_program("lebak"),
        Period(2026, 1),
        inbox,
        villages=8,
        per_village=10,
        faults=0.05,
        seed=11,
    )
    args = dict(program="lebak", period="2026-01", inbox=str(inbox), db=sqlite_url, out=str(out))

    first = monthly_cycle(**args)
    assert first["status"] == "issued"
    assert first["rows"]["accepted"] + first["rows"]["rejected"] == first["rows"]["received"]
    # 80 valid workers; the faulty extra rows are rejected (a worker listed in two villages is billed
    # once).
    billed = first["participants"]["billed"]
    assert billed == first["rows"]["accepted"] and billed >= 79
    assert first["rows"]["rejected"] >= 4
    assert first["total_due"] == billed * 16_800
    # The invoice to BKAD, the mutation list to BPJS, the rejections to Disnaker: each sent once.
    assert first["notifications"] == {"queued": 3, "sent": 3}
    mails = {
        m["X-Iuran-Notification"].split(":")[0]: m
        for m in (
            email.message_from_bytes(p.read_bytes()) for p in (tmp_path / "outbox").glob("*.eml")
        )
    }
    assert set(mails) == {"invoice_issued", "mutation_list", "cycle_rejections"}
    invoice = mails["invoice_issued"]
    assert "001/TAG-JKK-JKM/LBK/I/2026" in invoice["Subject"]
    attached = [p.get_filename() for p in invoice.walk() if p.get_filename()]
    assert "001-TAG-JKK-JKM-LBK-I-2026.pdf" in attached and "laporan-lebak-2026-01.pdf" in attached

    again = monthly_cycle(**args)
    assert again["status"] == "unchanged"
    assert again["notifications"] == {"queued": 0, "sent": 0}
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 3

    # A handful of task runs, whatever the number of villages.
    import asyncio

    async def task_runs() -> int:
        async with get_client() as client:
            runs = await client.read_flow_runs()
            latest = max(runs, key=lambda r: r.created)
            assert latest.name == "cycle-lebak-2026-01"
            from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

            trs = await client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[latest.id]))
            )
            return len(trs)

    assert asyncio.run(task_runs()) <= 10


def test_cli_json_bills_lebak_at_the_standard_rate(tmp_path: Path) -> None:
    """The issue's acceptance run: 345 villages x 10 workers, standard Rp16.800, Lebak's real pagu."""
    env = {
        **os.environ,
        "IURAN_VAR": str(tmp_path / "var"),
        "IURAN_DATABASE_URL": f"sqlite:///{tmp_path / 'iuran.db'}",
        "PREFECT_HOME": str(tmp_path / "prefect"),
    }
    env.pop("PREFECT_API_URL", None)
    iuran = [sys.executable, "-m", "iuran.cli"]
    inbox = tmp_path / "inbox"
    subprocess.run(
        [*iuran, "generate-rosters", "--program", "lebak", "--period", "2026-01", "--inbox", str(inbox),
         "--villages", "345", "--per-village", "10", "--faults", "0"],
        check=True, env=env, cwd=ROOT, capture_output=True,
    )  # fmt: skip
    done = subprocess.run(
        [*iuran, "cycle", "--program", "lebak", "--period", "2026-01", "--inbox", str(inbox), "--json"],
        check=True, env=env, cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    summary = json.loads(done.stdout)  # exactly one JSON object on stdout
    assert summary["participants"]["billed"] == 3450
    assert summary["rows"] == {"received": 3450, "accepted": 3450, "rejected": 0}
    assert summary["total_due"] == 3450 * 16_800 == 57_960_000
    assert summary["budget"] == {
        "pagu": 670_680_000,
        "billed_to_date": 57_960_000,
        "projected_year": 695_520_000,
        "shortfall": 24_840_000,
        "months_covered": 11,
        "headcount_covered": 3326,
    }
    [inv] = summary["invoices"]
    assert inv["due_date"] == "2026-01-15" and Path(inv["pdf"]).exists()
    assert (
        pd.read_excel(Path(inv["pdf"]).with_suffix(".xlsx"), dtype=str)["nik"]
        .str.len()
        .eq(16)
        .sum()
        == 3450
    )


def test_an_unchanged_rerun_is_answered_from_the_last_complete_run(
    sqlite_url: str, tmp_path: Path, monkeypatch
) -> None:
    """The shortcut gives what the full unchanged rerun gives, with two task runs instead of nine."""
    import asyncio

    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
    from sqlalchemy import update

    from iuran.db.models import Cycle
    from iuran.db.session import session_scope

    monkeypatch.setenv("IURAN_OUTBOX", str(tmp_path / "outbox"))
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    generate_rosters(
        load_program("lebak"), Period(2026, 1), inbox, villages=5, per_village=6, faults=0, seed=4
    )
    args = dict(program="lebak", period="2026-01", inbox=str(inbox), db=sqlite_url, out=str(out))
    assert monthly_cycle(**args)["status"] == "issued"

    def tasks_of_latest_run() -> list[str]:
        async def read() -> list[str]:
            async with get_client() as client:
                latest = max(await client.read_flow_runs(), key=lambda r: r.created)
                trs = await client.read_task_runs(
                    flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[latest.id]))
                )
                return sorted(t.name.rsplit("-", 1)[0] for t in trs)

        return asyncio.run(read())

    with session_scope(sqlite_url) as s:  # forget the kept answer: the full path runs
        s.execute(update(Cycle).values(input_hash=None))
    full = monthly_cycle(**args)
    assert "collect-rosters" in tasks_of_latest_run()
    short = monthly_cycle(**args)
    assert tasks_of_latest_run() == ["publish-artifacts", "recall-unchanged"]
    assert full["status"] == "unchanged"
    assert json.loads(json.dumps(short, default=str)) == json.loads(json.dumps(full, default=str))

    # A roster fixed: the full path again, and the answer kept after it is the new one.
    path = sorted((inbox / "lebak" / "2026-01").glob("*.csv"))[0]
    lines = path.read_text(encoding="utf-8").splitlines()
    path.write_text("\n".join(lines[:-1]) + "\n", encoding="utf-8")
    fixed = monthly_cycle(**args)
    assert fixed["status"] == "revised"
    assert "collect-rosters" in tasks_of_latest_run()
    again = monthly_cycle(**args)
    assert tasks_of_latest_run() == ["publish-artifacts", "recall-unchanged"]
    assert again["total_due"] == fixed["total_due"] and again["status"] == "unchanged"
