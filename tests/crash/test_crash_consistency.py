"""Crash consistency: kill the month at any point, run it again, and end exactly where an
uninterrupted month ends.

Each case runs `tests/crash/driver.py` (the whole month as the flow takes it, the unchanged-rerun
shortcut included, then a payment import, as plain functions) in a process of its own with IURAN_FAULT_POINT naming one point of `iuran.faults.POINTS`, so the
process dies there with `os._exit` (nothing flushed, no rollback, no `finally`); then runs it again
without the fault, and compares a canonical dump of the database, the documents and the delivered
mail (`tests/crash/dump.py`) with the dump of one uninterrupted run on an identical copy of the input.
A crash after the month's answer was kept (`rerun.remembered`, or in a payment import that did not
commit) is followed by a rerun that answers from it without redoing the month; a crash before it was
kept, or once a payment import has queued the month's payment mail, by one that redoes the month.

The inputs:

- Lahat, every point: villages pay, so one invoice per village ("between two payers" is reachable);
  4 villages × 6 workers with faulty rows (rejections recorded, reported and mailed); an SP2D file
  that pays one invoice in part, overpays another (credit), names no invoice in a third row
  (unmatched) and pays a third invoice in part.
- Lebak, a few points: the regency pays, one invoice and one message per invoice.

Cases run two at a time (one per core): each is a pair of processes that wait for each other.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from iuran import faults
from iuran.generate import generate_rosters
from iuran.mail.deliver import CLAIM_LEASE
from iuran.periods import Period
from iuran.programs import load_program
from tests.crash.dump import dump, duplicates

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Scenario:
    program: str
    period: str
    today: str  # the cycle's
    paid_on: str  # the payment import's
    villages: int
    per_village: int
    payments: str  # the SP2D file

    @property
    def clock(self) -> dt.datetime:
        """The sender's clock; the run after a crash comes back once the dead sender's claim on
        a message has run out."""
        return dt.datetime.fromisoformat(f"{self.today}T08:00:00+00:00")


LAHAT = Scenario(
    "lahat", "2025-09", "2025-09-05", "2025-09-20", villages=4, per_village=6,
    payments="""\
nomor_sp2d;tanggal_sp2d;jumlah;nomor_tagihan;kode_desa;keterangan
0001/SP2D/BKAD/2025;10/09/2025;50.000;001/TAG-JKK-JKM/LHT/IX/2025;;sebagian
0002/SP2D/BKAD/2025;11/09/2025;5.000.000;002/TAG-JKK-JKM/LHT/IX/2025;;lebih bayar
0003/SP2D/BKAD/2025;12/09/2025;12.345;;16.04.01.2004;tanpa nomor tagihan
0004/SP2D/BKAD/2025;12/09/2025;100.000;003/TAG-JKK-JKM/LHT/IX/2025;;sebagian
""",
)  # fmt: skip
LEBAK = Scenario(
    "lebak", "2026-01", "2026-01-05", "2026-01-20", villages=3, per_village=5,
    payments="""\
nomor_sp2d;tanggal_sp2d;jumlah;nomor_tagihan;payer;keterangan
0001/SP2D/BKAD/2026;14/01/2026;100.000;001/TAG-JKK-JKM/LBK/I/2026;;sebagian
0002/SP2D/BKAD/2026;15/01/2026;1.234;;kabupaten;tanpa nomor tagihan
""",
)  # fmt: skip
SCENARIOS = {"lahat": LAHAT, "lebak": LEBAK}

# Lahat: every point once (its first reach), and later reaches that leave another state: the third
# of four invoices, the second report, the second cycle message, the last one (the month done, its
# answer not yet kept), the payment mail (the cycle sends 3 messages, the import 4), the third SP2D
# row.
CASES = [
    *faults.POINTS,
    "invoices.between_payers:3",
    "reports.between_reports:2",
    "mail.after_send:2",
    "mail.marked_sent:3",
    "mail.after_claim:5",
    "mail.after_send:7",
    "payments.between_rows:3",
]
# Lebak: the points whose work differs where the regency pays (one invoice, its own message).
LEBAK_CASES = [
    "invoices.lines_written",
    "documents.between_files",
    "mail.after_send",
    "mail.outbox_written:4",
    "payments.between_rows:2",
]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IURAN_")}
    return env | {"PYTHONPATH": str(ROOT)} | extra


def drive(
    s: Scenario, root: Path, later: bool = False, **env: str
) -> subprocess.CompletedProcess[str]:
    clock = s.clock + (CLAIM_LEASE + dt.timedelta(minutes=1) if later else dt.timedelta())
    args = {
        "--root": str(root),
        "--program": s.program,
        "--period": s.period,
        "--today": s.today,
        "--payments": str(root / "pembayaran.csv"),
        "--payments-today": s.paid_on,
        "--clock": clock.isoformat(),
    }
    return subprocess.run(
        [sys.executable, "-m", "tests.crash.driver", *(x for kv in args.items() for x in kv)],
        cwd=ROOT,
        env=_env(IURAN_VAR=str(root / "var"), **env),
        capture_output=True,
        text=True,
        timeout=300,
    )


@dataclass
class Outcome:
    crashed: subprocess.CompletedProcess[str]
    after_crash: dict[str, Any] | None = None
    rerun: subprocess.CompletedProcess[str] | None = None
    state: dict[str, Any] | None = None
    rerun_reached: Counter[str] | None = None  # how often the rerun reached each point


def crash_and_rerun(s: Scenario, fault: str, root: Path) -> Outcome:
    """Kill a run at `fault`, then run again as the next run would (after the claim lease)."""
    outcome = Outcome(crashed=drive(s, root, IURAN_FAULT_POINT=fault))
    if outcome.crashed.returncode != faults.EXIT_CODE:
        return outcome
    outcome.after_crash = dump(root)
    trace = root.parent / f"{root.name}-rerun-trace.txt"
    outcome.rerun = drive(s, root, later=True, IURAN_FAULT_TRACE=str(trace))
    outcome.rerun_reached = Counter(trace.read_text(encoding="utf-8").split())
    if outcome.rerun.returncode == 0:
        outcome.state = dump(root)
    return outcome


@dataclass
class Reference:
    state: dict[str, Any]
    reached: Counter[str]  # how often the run reached each point


def uninterrupted(s: Scenario, root: Path) -> Reference:
    trace = root.parent / f"{root.name}-trace.txt"
    done = drive(s, root, IURAN_FAULT_TRACE=str(trace))
    assert done.returncode == 0, done.stderr[-3000:]
    return Reference(dump(root), Counter(trace.read_text(encoding="utf-8").split()))


@pytest.fixture(scope="module")
def seeds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each scenario's input: rosters in `inbox/`, the SP2D file `pembayaran.csv`."""
    found = {}
    for name, s in SCENARIOS.items():
        root = tmp_path_factory.mktemp(f"seed-{name}")
        generate_rosters(
            load_program(s.program), Period.parse(s.period), root / "inbox",
            villages=s.villages, per_village=s.per_village, faults=0.1, seed=11,
        )  # fmt: skip
        (root / "pembayaran.csv").write_text(s.payments, encoding="utf-8")
        found[name] = root
    return found


@pytest.fixture(scope="module")
def runs(
    request: pytest.FixtureRequest, seeds: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[dict[str, Future[Reference]], dict[tuple[str, str], Future[Outcome]]]]:
    """The uninterrupted run of each scenario, and the crash and rerun of every selected case, all
    started at once on every core; a test waits for the runs it needs."""
    selected = dict.fromkeys(
        (item.callspec.params.get("scenario", "lahat"), item.callspec.params["fault"])
        for item in request.session.items
        if hasattr(item, "callspec") and "fault" in item.callspec.params
    )
    base = tmp_path_factory.mktemp("runs")

    def copy(name: str, label: str) -> Path:
        return Path(shutil.copytree(seeds[name], base / label))

    with ThreadPoolExecutor(max_workers=max(1, os.cpu_count() or 1)) as pool:
        references = {
            name: pool.submit(uninterrupted, s, copy(name, f"{name}-reference"))
            for name, s in SCENARIOS.items()
        }
        outcomes = {
            (name, fault): pool.submit(
                crash_and_rerun, SCENARIOS[name], fault, copy(name, f"{name}-{i:02d}")
            )
            for i, (name, fault) in enumerate(selected)
        }
        yield references, outcomes
        for future in outcomes.values():
            future.cancel()


References = dict[str, Future[Reference]]
Outcomes = dict[tuple[str, str], Future[Outcome]]


def test_the_uninterrupted_runs_are_full_months(runs: tuple[References, Outcomes]) -> None:
    lahat, lebak = (runs[0][name].result().state for name in ("lahat", "lebak"))
    db = lahat["database"]
    invoices = [dict(r) for r in db["invoice"]]
    assert len(invoices) == 4 and all(i["rendered_at"] for i in invoices)
    assert {i["payment_state"] for i in invoices} == {"unpaid", "partial", "paid"}
    assert len(db["contribution_line"]) == 24 and db["rejection"]
    assert sorted(dict(p)["status"] for p in db["payment"]) == [
        "credit",
        "partial",
        "partial",
        "unmatched",
    ]
    assert len(lahat["mail"]) == 7 and all(dict(n)["status"] == "sent" for n in db["notification"])
    assert sum(name.endswith(".pdf") for name in lahat["documents"]) == 5  # 4 invoices + report
    [invoice] = [dict(r) for r in lebak["database"]["invoice"]]
    assert invoice["payer_key"] == "kabupaten" and invoice["payment_state"] == "partial"
    assert len(lebak["mail"]) == 5
    assert not duplicates(lahat) and not duplicates(lebak)


@pytest.mark.parametrize(
    ("scenario", "cases"), [("lahat", CASES), ("lebak", LEBAK_CASES)], ids=["lahat", "lebak"]
)
def test_every_point_is_reached_by_an_uninterrupted_run(
    scenario: str, cases: list[str], runs: tuple[References, Outcomes]
) -> None:
    reached = runs[0][scenario].result().reached
    wanted = Counter({name: int(nth or 1) for name, _, nth in (c.partition(":") for c in cases)})
    short = {name: (reached[name], n) for name, n in wanted.items() if reached[name] < n}
    assert not short, f"points reached fewer times than a case needs (reached, needed): {short}"


def test_every_point_in_the_code_is_registered() -> None:
    """A point the registry does not list would never be tested; a listed one nowhere in the code
    would be tested in vain."""
    called = Counter(
        name
        for path in (ROOT / "iuran").rglob("*.py")
        for name in re.findall(r"faults\.point\(\"([^\"]+)\"\)", path.read_text(encoding="utf-8"))
    )
    assert set(called) == set(faults.POINTS)
    assert len(faults.POINTS) >= 20 and len(set(faults.POINTS)) == len(faults.POINTS)


def check(scenario: str, fault: str, runs: tuple[References, Outcomes]) -> None:
    references, outcomes = runs
    outcome = outcomes[scenario, fault].result()

    crashed = outcome.crashed
    assert crashed.returncode == faults.EXIT_CODE, (
        f"the run did not die at {fault}: exit {crashed.returncode}\n{crashed.stderr[-3000:]}"
    )
    assert outcome.after_crash is not None
    assert not duplicates(outcome.after_crash, settled=False), "the crash left a duplicate behind"

    assert outcome.rerun is not None and outcome.rerun.returncode == 0, (
        outcome.rerun and outcome.rerun.stderr[-3000:]
    )
    state = outcome.state
    assert state is not None and not duplicates(state)
    expected = references[scenario].result().state
    for table, rows in expected["database"].items():
        assert state["database"].get(table) == rows, f"table {table} differs after {fault}"
    assert set(state["database"]) == set(expected["database"])
    assert state["documents"] == expected["documents"], f"documents differ after {fault}"
    assert state["mail"] == expected["mail"], f"delivered mail differs after {fault}"


@pytest.mark.parametrize("fault", CASES)
def test_a_rerun_after_a_crash_ends_where_an_uninterrupted_run_ends(
    fault: str, runs: tuple[References, Outcomes]
) -> None:
    check("lahat", fault, runs)


@pytest.mark.parametrize("scenario", ["lebak"])
@pytest.mark.parametrize("fault", LEBAK_CASES)
def test_the_same_where_the_regency_pays(
    scenario: str, fault: str, runs: tuple[References, Outcomes]
) -> None:
    check(scenario, fault, runs)


@pytest.mark.parametrize(
    "fault",
    [
        "mail.marked_sent:3",
        "rerun.before_commit",
        "rerun.remembered",
        "payments.file_registered",
        "payments.settle",
    ],
)
def test_a_month_whose_answer_was_kept_is_not_redone_after_a_crash(
    fault: str, runs: tuple[References, Outcomes]
) -> None:
    """The rerun shortcut after a crash: taken once the answer is committed, never before, and not
    while mail of the month waits (the payment import committed, its mail not yet delivered)."""
    outcome = runs[1]["lahat", fault].result()
    assert outcome.rerun_reached is not None
    kept = fault in ("rerun.remembered", "payments.file_registered")
    redone = {"collect.done", "record.before_commit", "reports.start", "rerun.remembered"}
    assert {p for p in redone if outcome.rerun_reached[p]} == (set() if kept else redone)


def test_a_point_kills_on_the_reach_it_names_and_traces_every_reach(tmp_path: Path) -> None:
    script = "from iuran import faults\nfor i in range(5):\n    faults.point('x')\n    print(i)\n"
    trace = tmp_path / "trace.txt"

    def run(**env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", script], env=_env(**env), capture_output=True, text=True
        )

    third = run(IURAN_FAULT_POINT="x:3", IURAN_FAULT_TRACE=str(trace))
    assert (third.returncode, third.stdout.split()) == (faults.EXIT_CODE, ["0", "1"])
    assert trace.read_text().split() == ["x", "x", "x"]
    first = run(IURAN_FAULT_POINT="x")
    assert (first.returncode, first.stdout) == (faults.EXIT_CODE, "")
    other = run(IURAN_FAULT_POINT="y")
    assert (other.returncode, other.stdout.split()) == (0, ["0", "1", "2", "3", "4"])
