"""`iuran cycle` on a month that has not changed: on the embedded default it answers from the last
complete run before Prefect starts (no temporary server, no flow run nobody could see); with
`make up`'s server answering, or a month that changed, the flow runs. SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from deployments.local import announce
from iuran.config import load_settings
from iuran.generate import generate_rosters
from iuran.month import PLAIN, run_month
from iuran.periods import Period
from iuran.programs import load_program
from tests.unit.test_server_discovery import _health_server

ROOT = Path(__file__).resolve().parents[2]
PERIOD = Period(2026, 1)
#: `iuran cycle --json` with a stand-in for the flow (it says it ran, and on which API), reporting
#: on stderr whether Prefect was imported
PROBE = """
import os, sys, types
sys.modules["flows.monthly_cycle"] = types.SimpleNamespace(
    monthly_cycle=lambda **kw: {"flow_ran": True, "api": os.environ.get("PREFECT_API_URL")}
)
from iuran.cli import app
try:
    app(sys.argv[1:])
except SystemExit as exc:
    assert not exc.code, exc.code
sys.stderr.write("\\nprefect imported: %s\\n" % ("prefect" in sys.modules))
"""


@pytest.fixture
def month(database_url: str, tmp_path: Path) -> dict[str, Any]:
    """Lebak January run whole (plain calls, file outbox): its answer kept for the rerun."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_API", "IURAN_"))},
        "IURAN_VAR": str(tmp_path / "var"),
        "IURAN_OUTBOX": str(tmp_path / "outbox"),
        "IURAN_PRIVATE": str(tmp_path / "private"),
        "PREFECT_HOME": str(tmp_path / "prefect"),
        "PYTHONPATH": str(ROOT),
    }
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    lebak = load_program("lebak")
    generate_rosters(lebak, PERIOD, inbox, villages=4, per_village=5, seed=7)
    os.environ.update({k: env[k] for k in ("IURAN_OUTBOX", "IURAN_PRIVATE")})
    try:
        first = run_month(PLAIN, load_settings(database_url, inbox, out), lebak, PERIOD).summary
    finally:
        for k in ("IURAN_OUTBOX", "IURAN_PRIVATE"):
            os.environ.pop(k)
    args = ["cycle", "--program", "lebak", "--period", str(PERIOD), "--json"]
    args += ["--db", database_url, "--inbox", str(inbox), "--out", str(out)]
    return {"env": env, "args": args, "first": first, "inbox": inbox, "var": tmp_path / "var"}


def cli(m: dict[str, Any]) -> tuple[dict[str, Any], str]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *m["args"]],
        env=m["env"], cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout), done.stderr


def test_unchanged_month_is_answered_without_starting_prefect(month: dict[str, Any]) -> None:
    answer, log = cli(month)
    first = month["first"]
    assert answer["status"] == "unchanged" and "flow_ran" not in answer
    assert answer["total_due"] == first["total_due"] > 0
    assert answer["participants"] == first["participants"]
    assert [i["number"] for i in answer["invoices"]] == [i["number"] for i in first["invoices"]]
    assert {i["status"] for i in answer["invoices"]} == {"unchanged"}
    assert answer["notifications"] == {"queued": 0, "sent": 0}
    assert "prefect imported: False" in log
    assert "answered without a Prefect run" in log


def test_a_stale_server_file_still_answers_on_the_embedded_default(month: dict[str, Any]) -> None:
    gone = _health_server(b"true")
    announce(
        f"http://127.0.0.1:{gone.server_address[1]}/api", month["var"] / "run" / "prefect-api-url"
    )
    gone.server_close()
    answer, log = cli(month)
    assert answer["status"] == "unchanged" and "prefect imported: False" in log


def test_with_make_ups_server_up_the_run_is_a_flow_run_on_it(month: dict[str, Any]) -> None:
    """The run is kept where operations see it: the flow runs, pointed at the announced server."""
    server = _health_server(b"true")
    url = f"http://127.0.0.1:{server.server_address[1]}/api"
    try:
        announce(url, month["var"] / "run" / "prefect-api-url")
        answer, _ = cli(month)
    finally:
        server.shutdown()
        server.server_close()
    assert answer == {"flow_ran": True, "api": url}


def test_a_changed_month_and_a_dry_run_go_to_the_flow(month: dict[str, Any]) -> None:
    month["args"].append("--dry-run")
    assert cli(month)[0]["flow_ran"]
    month["args"].pop()
    village = next(p for p in (month["inbox"] / "lebak" / str(PERIOD)).iterdir() if p.is_file())
    village.write_bytes(village.read_bytes() + b"\n")
    assert cli(month)[0] == {"flow_ran": True, "api": None}


def test_the_command_line_ends_quickly_with_its_whole_answer_and_its_exit_code(
    month: dict[str, Any],
) -> None:
    """`python -m iuran.cli` (`QuickExit` armed): the JSON whole on stdout and exit 0; a refused
    period still exits 2 with its message."""
    iuran = [sys.executable, "-m", "iuran.cli"]
    done = subprocess.run(
        [*iuran, *month["args"]], env=month["env"], cwd=ROOT, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["status"] == "unchanged"
    refused = [*month["args"]]
    refused[refused.index(str(PERIOD))] = "2031-01"
    done = subprocess.run(
        [*iuran, *refused], env=month["env"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2 and "2031-01" in done.stderr and done.stdout == ""
