"""Operating the monthly cycle on a real (temporary) Prefect server: the lease, the failure e-mail,
the approval gate (paused run resumed with input through the API), dry runs, artifacts, scheduled runs
without a period, tags."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import functools
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
import yaml
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    FlowRunFilter,
    FlowRunFilterName,
    FlowRunFilterState,
    FlowRunFilterStateType,
)
from prefect.client.schemas.objects import StateType
from prefect.exceptions import PrefectHTTPStatusError
from prefect.flow_runs import resume_flow_run
from sqlalchemy import func, select

import flows.monthly_cycle as cycle_module
from flows.hooks import send_failure_mail
from flows.monthly_cycle import monthly_cycle
from iuran.db.models import Cycle, Invoice, Notification
from iuran.db.session import session_scope
from iuran.generate import generate_rosters
from iuran.locks import CycleBusy, acquire, holder_of
from iuran.periods import Period
from iuran.programs import PROGRAMS_DIR, load_program

OPS = "ops@iuran.example"


@pytest.fixture
def lebak(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Lebak rosters for 2026-01 (5 villages × 10), a database, a file outbox, operations' address."""
    monkeypatch.setenv("IURAN_OUTBOX", str(tmp_path / "outbox"))
    monkeypatch.setenv("IURAN_OPS_EMAIL", OPS)
    inbox = tmp_path / "inbox"
    generate_rosters(
        load_program("lebak"), Period(2026, 1), inbox, villages=5, per_village=10, seed=5
    )
    from iuran.db.session import upgrade

    url = f"sqlite:///{tmp_path / 'iuran.db'}"
    upgrade(url)
    return dict(
        program="lebak", period="2026-01", inbox=str(inbox), db=url, out=str(tmp_path / "out")
    )


def _count(url: str, model: type, *where: Any) -> int:
    with session_scope(url) as s:
        return int(s.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def _emls(folder: Path, kind: str = "invoice") -> list[email.message.EmailMessage]:
    """The outbox's messages of one kind (`invoice`: issued/revised to BKAD; `ops`: failures)."""
    pattern = {"invoice": "invoice_*.eml", "ops": "ops_failure*.eml"}[kind]
    return [
        email.message_from_bytes(p.read_bytes(), policy=email.policy.default)  # type: ignore[misc]
        for p in sorted(folder.glob(pattern))
    ]


def _latest_run(name: str) -> Any:
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=[name]))
        )
    return max(runs, key=lambda r: r.created)


def test_a_cycle_held_by_another_run_fails_and_operations_get_one_email(
    lebak: dict[str, Any], tmp_path: Path
) -> None:
    acquire(lebak["db"], "lebak", "2026-01", "cycle-lebak-2026-01 (other run) @worker-2:4242")
    with pytest.raises(CycleBusy, match="is being run by cycle-lebak-2026-01 \\(other run\\)"):
        monthly_cycle(**lebak)
    assert _count(lebak["db"], Invoice) == 0  # refused before writing anything

    [msg] = _emls(tmp_path / "outbox", "ops")
    assert _emls(tmp_path / "outbox") == []  # no invoice went out
    run = _latest_run("cycle-lebak-2026-01")
    assert msg["To"] == OPS
    assert msg["Subject"] == "[iuran] Failed: cycle-lebak-2026-01"
    body = msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "is being run by cycle-lebak-2026-01 (other run) @worker-2:4242" in body
    assert f"/runs/flow-run/{run.id}" in body  # the link to the run in the UI
    assert "Program   : lebak / 2026-01" in body
    assert "Run lain sedang memproses siklus yang sama" in body  # what to do next
    with session_scope(lebak["db"]) as s:
        row = s.scalars(select(Notification).where(Notification.event == "ops_failure")).one()
        assert row.idempotency_key == f"ops_failure:{run.id}" and row.status == "sent"
    # The hook running again for the same run sends nothing more.
    with get_client(sync_client=True) as client:
        fresh = client.read_flow_run(run.id)
    assert fresh.state is not None and fresh.state.is_failed()
    assert "already reported" in send_failure_mail("monthly-cycle", fresh, fresh.state)
    assert len(_emls(tmp_path / "outbox", "ops")) == 1
    # The other run's lease is untouched; once it is gone, the rerun bills.
    assert holder_of(lebak["db"], "lebak", "2026-01") is not None
    with session_scope(lebak["db"]) as s:
        s.execute(Cycle.__table__.update().values(locked_by=None, locked_at=None))
    assert monthly_cycle(**lebak)["status"] == "issued"
    assert holder_of(lebak["db"], "lebak", "2026-01") is None  # released at the end


def test_a_run_releases_the_cycle_even_when_it_fails(lebak: dict[str, Any], tmp_path: Path) -> None:
    generate_rosters(
        load_program("lebak"), Period(2025, 12), Path(lebak["inbox"]), villages=2, per_village=3
    )
    december = lebak | {"period": "2025-12"}  # before Lebak's program year: the month refuses it
    with pytest.raises(Exception, match="outside the program's months"):
        monthly_cycle(**december)
    assert holder_of(lebak["db"], "lebak", "2025-12") is None
    [msg] = _emls(tmp_path / "outbox", "ops")
    assert msg["Subject"] == "[iuran] Failed: cycle-lebak-2025-12"
    body = msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "OutsideProgram: lebak 2025-12: outside the program's months" in body


def _drop_rows(inbox: str, n: int) -> None:
    path = sorted((Path(inbox) / "lebak" / "2026-01").glob("*.csv"))[0]
    df = pd.read_csv(path, dtype=str)
    df.iloc[n:].to_csv(path, index=False)


def _artifacts(flow_run_id: UUID) -> dict[str, Any]:
    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
        )
    return {a.key: a for a in found if a.key}


def test_dry_run_reports_the_revision_a_rerun_would_make_and_writes_nothing(
    lebak: dict[str, Any], tmp_path: Path
) -> None:
    first = monthly_cycle(**lebak)
    assert first["status"] == "issued" and first["participants"]["billed"] == 50
    _drop_rows(lebak["inbox"], 3)

    preview_state = monthly_cycle(**lebak, dry_run=True, return_state=True)
    preview = preview_state.result()
    assert preview["status"] == "revised" and preview["dry_run"] is True
    assert preview["participants"]["billed"] == 47
    assert [(i["revision"], i["status"]) for i in preview["invoices"]] == [(1, "revised")]
    assert _count(lebak["db"], Invoice) == 1  # nothing written
    assert len(_emls(tmp_path / "outbox")) == 1  # nothing sent
    assert holder_of(lebak["db"], "lebak", "2026-01") is None

    again_state = monthly_cycle(**lebak, return_state=True)
    again = again_state.result()
    assert again["status"] == "revised" and again["participants"]["billed"] == 47
    assert again["total_due"] == 47 * 16_800
    assert _count(lebak["db"], Invoice) == 2  # revision 0 superseded by revision 1
    assert len(_emls(tmp_path / "outbox")) == 2

    kinds = ("ringkasan", "tagihan", "dokumen", "penolakan", "desa")
    previewed = _artifacts(preview_state.state_details.flow_run_id)
    assert sorted(previewed) == sorted(f"lebak-2026-01-pratinjau-{k}" for k in kinds)
    arts = _artifacts(again_state.state_details.flow_run_id)
    assert sorted(arts) == sorted(f"lebak-2026-01-{k}" for k in kinds)
    docs = arts["lebak-2026-01-dokumen"].data
    pdf = Path(again["invoices"][0]["pdf"]).resolve()
    assert f"[PDF]({pdf.as_uri()})" in docs
    assert f"[XLSX]({pdf.with_suffix('.xlsx').as_uri()})" in docs
    assert "| 001/TAG-JKK-JKM/LBK/I/2026 | 1 | revised |" in docs
    table = json.dumps([a.data for a in [*arts.values(), *previewed.values()]])
    assert not any(len(n) == 16 for n in _digit_runs(table))  # no full NIK in any artifact


def _digit_runs(text: str) -> list[str]:
    import re

    return re.findall(r"\d+", text)


@pytest.fixture
def program_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Install a changed copy of lebak.yaml as the flow's program (the shipped files stay as they are)."""
    programs = tmp_path / "programs"
    programs.mkdir()
    monkeypatch.setattr(
        cycle_module, "load_program", functools.partial(load_program, directory=programs)
    )

    def install(**changes: Any) -> None:
        data = yaml.safe_load((PROGRAMS_DIR / "lebak.yaml").read_text(encoding="utf-8"))
        (programs / "lebak.yaml").write_text(yaml.safe_dump(data | changes), encoding="utf-8")

    return install


def test_a_run_without_a_period_bills_the_month_it_was_scheduled_in_and_is_tagged(
    lebak: dict[str, Any], program_copy: Any
) -> None:
    now = dt.datetime.now(ZoneInfo("Asia/Jakarta"))
    month = Period(now.year, now.month)
    # Lebak's program year moved to this year, so the test does not depend on the clock.
    rule = {"id": "standar", "berlaku_mulai": f"{now.year}-01", "kind": "bpu", "jkk_bp": 100}
    year = {"tahun": now.year, "funding_source": "APBD", "pagu": 670_680_000}
    program_copy(years=[year], rules=[rule], discounts=[])
    generate_rosters(
        cycle_module.load_program("lebak"), month, Path(lebak["inbox"]), villages=2, per_village=3
    )
    summary = monthly_cycle(**(lebak | {"period": None}), dry_run=True)
    assert summary["period"] == str(month) and summary["participants"]["billed"] == 6
    run = _latest_run(f"cycle-lebak-{month}")
    assert "program:lebak" in run.tags
    assert run.parameters["period"] is None


def test_the_period_of_a_scheduled_run_is_its_month_in_the_programs_timezone() -> None:
    from flows.monthly_cycle import month_at

    # 07:00 on the 1st in Jakarta is still the last day of the previous month in UTC.
    assert month_at(dt.datetime(2026, 1, 31, 17, 30, tzinfo=dt.UTC), "Asia/Jakarta") == Period(
        2026, 2
    )
    assert month_at(dt.datetime(2026, 1, 31, 16, 30, tzinfo=dt.UTC), "Asia/Jakarta") == Period(
        2026, 1
    )
    assert month_at(dt.datetime(2026, 1, 31, 16, 30, tzinfo=dt.UTC), "Asia/Makassar") == Period(
        2026, 2
    )


# ---------------------------------------------------------------------------------------------------
# The approval gate


@pytest.fixture
def gated(
    lebak: dict[str, Any], program_copy: Any, monkeypatch: pytest.MonkeyPatch
) -> dict[str, Any]:
    """Lebak with `approval_required: true` (a copy: no shipped program asks for approval)."""
    program_copy(approval_required=True)
    monkeypatch.setenv("IURAN_APPROVAL_POLL_SECONDS", "1")
    return lebak


@pytest.fixture
def operator() -> Iterator[dict[str, Any]]:
    """A second thread playing the operator: waits for the run to pause, reads what it asks, answers."""
    seen: dict[str, Any] = {}

    def answer(name: str, run_input: dict[str, Any]) -> None:
        deadline = time.monotonic() + 120
        with get_client(sync_client=True) as client:
            while time.monotonic() < deadline:
                paused = client.read_flow_runs(
                    flow_run_filter=FlowRunFilter(
                        name=FlowRunFilterName(any_=[name]),
                        state=FlowRunFilterState(
                            type=FlowRunFilterStateType(any_=[StateType.PAUSED])
                        ),
                    )
                )
                if paused:
                    run = paused[0]
                    keyset = run.state.state_details.run_input_keyset
                    try:  # Prefect pauses the run first, then saves what it asks
                        asked = client.read_flow_run_input(run.id, keyset["description"])
                    except PrefectHTTPStatusError as exc:
                        if exc.response.status_code != 404:
                            raise
                        time.sleep(0.3)
                        continue
                    seen["description"] = json.loads(asked)
                    seen["run_id"] = run.id
                    resume_flow_run(run.id, run_input=run_input)
                    return
                time.sleep(0.3)
        seen["error"] = "the run never paused"

    threads: list[threading.Thread] = []

    def start(name: str, run_input: dict[str, Any]) -> None:
        t = threading.Thread(target=answer, args=(name, run_input), daemon=True)
        t.start()
        threads.append(t)

    seen["start"] = start
    yield seen
    for t in threads:
        t.join(timeout=130)


def test_approved_cycle_issues_after_the_operator_says_yes(
    gated: dict[str, Any], operator: dict[str, Any], tmp_path: Path
) -> None:
    operator["start"]("cycle-lebak-2026-01", {"approve": True, "note": "disetujui Kabid"})
    summary = monthly_cycle(**gated)
    assert "error" not in operator
    assert summary["status"] == "issued" and summary["participants"]["billed"] == 50
    assert _count(gated["db"], Invoice) == 1
    assert len(_emls(tmp_path / "outbox")) == 1
    asked = operator["description"]
    assert "Persetujuan penerbitan tagihan lebak 2026-01" in asked
    assert "Rp840.000" in asked and "50 peserta" in asked
    assert not any(len(n) == 16 for n in _digit_runs(asked))  # counts and totals, no NIK

    # Nothing to issue on a rerun: no question asked, the run just says so.
    again = monthly_cycle(**gated)
    assert again["status"] == "unchanged"


def test_rejected_cycle_ends_rejected_and_writes_nothing(
    gated: dict[str, Any], operator: dict[str, Any], tmp_path: Path
) -> None:
    operator["start"]("cycle-lebak-2026-01", {"approve": False, "note": "roster desa belum final"})
    state = monthly_cycle(**gated, return_state=True)
    assert state.is_completed() and state.name == "Rejected"
    assert "roster desa belum final" in (state.message or "")
    summary = state.result()
    assert isinstance(summary, dict)
    assert summary["status"] == "rejected"
    assert summary["approval"] == {"approve": False, "note": "roster desa belum final"}
    assert _count(gated["db"], Invoice) == 0
    assert _count(gated["db"], Notification) == 0
    assert _count(gated["db"], Cycle) == 0
    assert not list((tmp_path / "outbox").glob("*.eml"))
    with get_client(sync_client=True) as client:
        run = client.read_flow_run(UUID(str(operator["run_id"])))
    assert run.state is not None and run.state.name == "Rejected"


def test_when_the_registry_database_is_down_the_failure_email_still_goes_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from uuid import uuid4

    from prefect.client.schemas.objects import FlowRun
    from prefect.states import Failed

    monkeypatch.setenv("IURAN_OUTBOX", str(tmp_path / "outbox"))
    monkeypatch.setenv("IURAN_OPS_EMAIL", OPS)
    down = "postgresql+psycopg://iuran@127.0.0.1:1/iuran"  # nothing listens on port 1
    run = FlowRun(
        id=uuid4(),
        name="cycle-lebak-2026-01",
        flow_id=uuid4(),
        parameters={"program": "lebak", "period": "2026-01", "db": down},
    )
    state = Failed(
        message="Flow run encountered an exception: OperationalError: connection refused"
    )
    assert "e-mailed to ops@iuran.example" in send_failure_mail("monthly-cycle", run, state)
    [msg] = _emls(tmp_path / "outbox", "ops")
    body = msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "OperationalError: connection refused" in body
    assert "already reported" in send_failure_mail("monthly-cycle", run, state)
    assert len(_emls(tmp_path / "outbox", "ops")) == 1


def test_a_gated_program_without_a_prefect_server_refuses_instead_of_waiting_forever() -> None:
    """On the ephemeral API (no PREFECT_API_URL) nobody could ever resume the paused run."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with (
        temporary_settings(restore_defaults={PREFECT_API_URL}),
        pytest.raises(cycle_module.ApprovalUnavailable, match="run it through its deployment"),
    ):
        cycle_module.ask_approval({"program": "lebak", "period": "2026-01"})
