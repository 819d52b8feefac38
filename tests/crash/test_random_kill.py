"""Random kills from outside: whole runs SIGKILLed at a seeded moment, run again, and compared with
an uninterrupted run.

Three runs of one small program month (Lahat, villages pay: 3 villages × 4 workers, faulty rows
included), in the order a month lives them, each a process of its own:

- **cycle**: the month under the cycle's lease (`tests/crash/kill_driver.py cycle`: the flow's
  lease and steps, as plain calls: no Prefect server per run);
- **payments**: the real command line, `python -m iuran.cli payments import` (an SP2D file paying
  one invoice in part, overpaying another, naming no invoice in a third row), which settles and
  delivers;
- **reminders**: the reminders flow's steps (`kill_driver.py reminders`), the day the invoices are
  overdue.

and the same three as Prefect flow runs, each on the ephemeral API (a temporary Prefect server the
run starts and stops, over a Prefect home of its own, copied from the uninterrupted runs'):

- **cycle-cli**: the real `python -m iuran.cli cycle` (the `monthly-cycle` flow, its lease and ten
  task runs);
- **payment-flow**: the `payment-status` flow (`tests/crash/flow_driver.py`), which finds the same
  SP2D file in `inbox/lahat/pembayaran/`;
- **reminders-flow**: the `reminders` flow (`flow_driver.py`).

A seed picks a run (seed mod 3), a moment and an outbox: the moment is a count of events (the fault
points of `iuran/faults.py` the run passes, traced to a file the test watches: the bookkeeping, the
documents, each message claimed, written, sent, marked) drawn between 0 and what the uninterrupted
run reaches, then a seeded delay (up to 20 ms after the event; for 0 events, anywhere between the
start and the first event: imports, migrations, Prefect's server starting, reading the rosters; after
the last event, anywhere in what the run spends to its end: Prefect's flow run ending, its server
stopping); a quarter of the seeds deliver over SMTP to an aiosmtpd server (`tests/smtp_server.py`)
instead of the file outbox. The run's process group (a flow run's Prefect server included) is
SIGKILLed at that moment, then:

1. what the kill left has no duplicate (invoice, current line, sent notification);
2. the same run again completes; after a killed *cycle* nothing of the month is left undelivered:
   the rerun took the dead run's stale lease over, and with it its outbox claims (issue #17);
3. a killed payment or reminders run holds no lease: a message it had claimed waits for its claim
   to run out (`CLAIM_LEASE`), so the next delivery run after it (`kill_driver.py deliver`) sends it;
4. the database, the documents and the delivered mail equal the uninterrupted run's
   (`tests/crash/dump.py`); over SMTP each message arrives once, or more than once only as the same
   message with the same Message-ID (at-least-once: a kill between the server's 250 and the commit).

Each seed starts from a copy of the uninterrupted run's state before its run (paths in the database
moved to the copy). A killed flow run stays `Running` in Prefect's database (nobody is left to end
it; a deployed run's missing heartbeats mark it `Crashed`): the rerun is a new flow run, not blocked
by it (the cycle's lease, taken in the month's database, is taken over as stale), and the suite
prints how many it left. `IURAN_KILL_SEEDS` (default 54) plain seeds and `IURAN_KILL_FLOW_SEEDS`
(default 6: two per flow) run in CI; `make crash-soak SEEDS=500 FLOW_SEEDS=60` runs more. A seed
that fails is printed; keep it in `REGRESSIONS` (or `FLOW_REGRESSIONS`).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from iuran.generate import generate_rosters
from iuran.periods import Period
from iuran.programs import load_program
from tests.crash.dump import dump, duplicates, message
from tests.crash.test_crash_consistency import _env
from tests.smtp_server import smtp_server

ROOT = Path(__file__).resolve().parents[2]

PROGRAM, PERIOD, TODAY = "lahat", "2025-09", "2025-09-05"
PAID_ON = "2025-09-20"  # also the reminders' day: the invoices are overdue
PAYMENTS = """\
nomor_sp2d;tanggal_sp2d;jumlah;nomor_tagihan;kode_desa;keterangan
0001/SP2D/BKAD/2025;10/09/2025;50.000;001/TAG-JKK-JKM/LHT/IX/2025;;sebagian
0002/SP2D/BKAD/2025;11/09/2025;5.000.000;002/TAG-JKK-JKM/LHT/IX/2025;;lebih bayar
0003/SP2D/BKAD/2025;12/09/2025;12.345;;16.04.01.2003;tanpa nomor tagihan
"""
STAGES = ("cycle", "payments", "reminders")
#: The same three days as Prefect flow runs on the ephemeral API; each starts from the state its
#: plain stage starts from (the payment-status flow finds the SP2D file in the month's inbox).
FLOWS = ("cycle-cli", "payment-flow", "reminders-flow")
STARTS = dict(zip(FLOWS, STAGES, strict=True))
SEEDS = int(os.environ.get("IURAN_KILL_SEEDS", "54"))
FLOW_SEEDS = int(os.environ.get("IURAN_KILL_FLOW_SEEDS", "6"))
FIRST_SEED = int(os.environ.get("IURAN_KILL_FIRST_SEED", "0"))
#: Seeds kept as regression cases whatever IURAN_KILL_SEEDS says: a seed that fails goes here.
#: None has failed yet; these kill the cycle while it holds an outbox claim, and fail when the run
#: taking the dead run's lease over does not take over its claims (issue #17, checked by removing
#: `release_claims` from `iuran.locks.acquire`: the mail stays `sending`).
REGRESSIONS: list[int] = [12, 24, 27, 30, 48]
#: The same for the flow runs' seeds (none has failed yet).
FLOW_REGRESSIONS: list[int] = []
#: The cycle's lease goes stale at once: the run after a kill takes it over as an admin's rerun
#: after the lease time would (IURAN_CYCLE_LEASE_MINUTES; 6 ms).
LEASE_MINUTES = "0.0001"
AFTER_EVENT = 0.02  # seconds: the longest delay after the chosen event


def command(stage: str, root: Path) -> list[str]:
    if stage == "cycle-cli":
        return [
            *("-m", "iuran.cli", "cycle", "--program", PROGRAM, "--period", PERIOD),
            *("--inbox", str(root / "inbox"), "--out", str(root / "out")),
            *("--db", f"sqlite:///{root / 'iuran.db'}", "--json"),
        ]
    if stage in ("payment-flow", "reminders-flow"):
        flow = "payment-status" if stage == "payment-flow" else "reminders"
        return [
            *("-m", "tests.crash.flow_driver", flow, "--root", str(root)),
            *("--program", PROGRAM, "--today", PAID_ON),
        ]
    if stage == "payments":
        return [
            *("-m", "iuran.cli", "payments", "import", str(root / "pembayaran.csv")),
            *("--program", PROGRAM, "--db", f"sqlite:///{root / 'iuran.db'}"),
            *("--today", PAID_ON, "--json"),
        ]
    driver = ["-m", "tests.crash.kill_driver", stage, "--root", str(root), "--program", PROGRAM]
    if stage == "cycle":
        return [*driver, "--period", PERIOD, "--today", TODAY]
    return [*driver, "--today", PAID_ON]


def environment(root: Path, trace: Path, smtp_port: int | None) -> dict[str, str]:
    """A run's environment; a flow runs on the ephemeral API over the Prefect home of its root."""
    extra = {
        "IURAN_VAR": str(root / "var"),
        "IURAN_OUT": str(root / "out"),
        "IURAN_CYCLE_LEASE_MINUTES": LEASE_MINUTES,
        "IURAN_FAULT_TRACE": str(trace),
        "PREFECT_HOME": str(prefect_home(root)),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90",
    }
    if smtp_port is not None:
        extra |= {"IURAN_SMTP_HOST": "127.0.0.1", "IURAN_SMTP_PORT": str(smtp_port)}
    env = _env(**extra)
    env.pop("PREFECT_API_URL", None)
    return env


def prefect_home(root: Path) -> Path:
    """Prefect's home (its database: flow runs, task runs, artifacts) for the runs over `root`:
    outside it, since Prefect's records are not the month's."""
    return root.parent / f"{root.name}-prefect"


def trace_of(root: Path) -> Path:
    return root.parent / f"{root.name}-trace.txt"


def reached(trace: Path) -> list[str]:
    return trace.read_text(encoding="utf-8").split() if trace.exists() else []


def run(
    args: list[str], root: Path, smtp_port: int | None = None
) -> subprocess.CompletedProcess[str]:
    trace = trace_of(root)
    trace.unlink(missing_ok=True)
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env=environment(root, trace, smtp_port),
        capture_output=True,
        text=True,
        timeout=300,
    )


def run_killed(
    args: list[str], root: Path, events: int, delay: float, smtp_port: int | None
) -> tuple[bool, list[str]]:
    """Start a run, SIGKILL it `delay` seconds after it reached `events` events; (killed, events
    reached before the kill). False: the run ended before the moment came.

    The run's whole process group is killed, as a machine failure kills it: a flow run's
    ephemeral Prefect server (a child process) dies with it. Killed alone, the run would leave
    that server running, an orphan nobody stops."""
    trace = trace_of(root)
    trace.unlink(missing_ok=True)
    log = root.parent / f"{root.name}-killed.log"
    with log.open("wb") as err:
        proc = subprocess.Popen(
            [sys.executable, *args],
            cwd=ROOT,
            env=environment(root, trace, smtp_port),
            stdout=subprocess.DEVNULL,
            stderr=err,
            start_new_session=True,
        )
        try:
            while proc.poll() is None:
                if len(reached(trace)) >= events:
                    time.sleep(delay)
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(proc.pid, signal.SIGKILL)
                    break
                time.sleep(0.001)
        finally:
            proc.wait(timeout=300)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)  # what the run left in its group
    return proc.returncode == -signal.SIGKILL, reached(trace)


def moved(snapshot: Path, root: Path) -> Path:
    """A copy of a run's folder whose database names the copy's paths (documents, attachments)."""
    shutil.copytree(snapshot, root)
    if not (root / "iuran.db").exists():
        return root
    conn = sqlite3.connect(root / "iuran.db")
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            for column in [c[1] for c in conn.execute(f"PRAGMA table_info({table})")]:
                conn.execute(
                    f'UPDATE "{table}" SET "{column}" = replace("{column}", ?, ?) '
                    f'WHERE typeof("{column}") = \'text\' AND instr("{column}", ?) > 0',
                    (f"{snapshot}/", f"{root}/", f"{snapshot}/"),
                )
        conn.commit()
    finally:
        conn.close()
    return root


def waiting(root: Path) -> list[tuple[str, str]]:
    """Messages not delivered yet: (key, status)."""
    conn = sqlite3.connect(f"file:{root / 'iuran.db'}?mode=ro", uri=True)
    try:
        return list(
            conn.execute(
                "SELECT idempotency_key, status FROM notification "
                "WHERE status IN ('pending', 'sending') ORDER BY id"
            )
        )
    finally:
        conn.close()


@dataclass
class Stage:
    before: Path  # the state the run starts from
    events: int  # events an uninterrupted run reaches
    first_event: float  # seconds from the start to its first event
    tail: float  # seconds from its last event to its end (a flow run: Prefect's shutdown)
    state: dict[str, Any]  # the dump after it


def uninterrupted(stage: str, root: Path) -> tuple[int, float, float]:
    """Run a stage to its end: (events reached, seconds to the first, seconds after the last)."""
    trace = trace_of(root)
    trace.unlink(missing_ok=True)
    start = time.monotonic()
    first: float | None = None
    last, count = start, 0
    proc = subprocess.Popen(
        [sys.executable, *command(stage, root)],
        cwd=ROOT,
        env=environment(root, trace, None),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    while proc.poll() is None:
        now = len(reached(trace))
        if now > count:
            count, last = now, time.monotonic()
            first = last - start if first is None else first
        time.sleep(0.001)
    end = time.monotonic()
    assert proc.returncode == 0, proc.stderr.read().decode()[-3000:] if proc.stderr else ""
    events = len(reached(trace))
    assert events, f"{stage}: an uninterrupted run reaches no event"
    return events, first if first is not None else 0.0, end - last


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Stage]:
    """The uninterrupted runs, one after the other, with a copy of the state before each; then
    each flow run from the state its plain stage started from, one Prefect home for all three."""
    base = tmp_path_factory.mktemp("reference")
    root = base / "run"
    generate_rosters(
        load_program(PROGRAM), Period.parse(PERIOD), root / "inbox",
        villages=3, per_village=4, faults=0.1, seed=11,
    )  # fmt: skip
    (root / "pembayaran.csv").write_text(PAYMENTS, encoding="utf-8")
    stages = {}
    for stage in STAGES:
        before = moved(root, base / f"before-{stage}")
        events, first, tail = uninterrupted(stage, root)
        stages[stage] = Stage(before, events, first, tail, dump(root))
    if FLOW_SEEDS or FLOW_REGRESSIONS:
        flows = base / "flows"
        for stage in FLOWS:
            before = moved(stages[STARTS[stage]].before, base / f"before-{stage}")
            if stage == "payment-flow":  # where BKAD drops its SP2D lists
                folder = before / "inbox" / PROGRAM / "pembayaran"
                folder.mkdir(parents=True)
                shutil.copy(before / "pembayaran.csv", folder / "sp2d.csv")
            shutil.rmtree(flows, ignore_errors=True)
            moved(before, flows)
            events, first, tail = uninterrupted(stage, flows)
            stages[stage] = Stage(before, events, first, tail, dump(flows))
        # the flows' Prefect home (migrated, their runs recorded): each seed starts from a copy
        shutil.copytree(prefect_home(flows), prefect_home(base / "before"))
    return stages


@dataclass(frozen=True)
class Kill:
    seed: int
    stage: str
    events: int
    delay: float
    smtp: bool


def plan(seed: int, reference: dict[str, Stage], stages: tuple[str, ...] = STAGES) -> Kill:
    """The moment: a count of events, then a delay: after the first event up to AFTER_EVENT;
    before it (imports, migrations, Prefect's start) or after the last (a flow run's end, Prefect's
    shutdown) anywhere in what an uninterrupted run spends there."""
    rng = random.Random(seed)
    stage = stages[seed % len(stages)]
    ref = reference[stage]
    events = rng.randint(0, ref.events)
    if not events:
        longest = ref.first_event
    elif events == ref.events:
        longest = max(AFTER_EVENT, ref.tail)
    else:
        longest = AFTER_EVENT
    delay = rng.uniform(0, longest)
    return Kill(seed, stage, events, delay, smtp=rng.random() < 0.25)


@dataclass
class Outcome:
    kill: Kill
    killed: bool = False
    last_event: str = "start"  # the last event before the kill
    problems: list[str] = field(default_factory=list)
    drained: list[tuple[str, str]] = field(default_factory=list)  # left to the next delivery run
    resent: list[str] = field(default_factory=list)  # delivered twice over SMTP, same Message-ID
    stuck: list[str] = field(default_factory=list)  # flow runs the kill left running in Prefect


def received(messages: list[bytes], outcome: Outcome) -> dict[str, dict[str, Any]]:
    """What the SMTP server got, one entry per key; a key received twice must be the same message
    with the same Message-ID (at-least-once), else it is a problem."""
    found: dict[str, dict[str, Any]] = {}
    for raw in messages:
        key, got = message(raw)
        if key in found:
            outcome.resent.append(key)
            if got != found[key]:
                outcome.problems.append(f"{key} received twice, not the same message")
        found[key] = got
    return found


def unfinished(home: Path) -> list[str]:
    """Flow runs Prefect's database (under `home`) still records as running or about to run."""
    if not (home / "prefect.db").exists():
        return []
    conn = sqlite3.connect(f"file:{home / 'prefect.db'}?mode=ro", uri=True)
    try:
        return [
            f"{name} {state}"
            for name, state in conn.execute(
                "SELECT name, state_type FROM flow_run "
                "WHERE state_type IN ('RUNNING', 'PENDING', 'SCHEDULED') ORDER BY name"
            )
        ]
    finally:
        conn.close()


def kill_and_rerun(kill: Kill, reference: dict[str, Stage], base: Path) -> Outcome:
    outcome = Outcome(kill)
    root = moved(reference[kill.stage].before, base / f"seed-{kill.seed}-{kill.stage}")
    if kill.stage in FLOWS:
        shutil.copytree(
            prefect_home(reference[kill.stage].before.parent / "before"), prefect_home(root)
        )
    with ExitStack() as stack:
        server = stack.enter_context(smtp_server()) if kill.smtp else None
        port = server.port if server else None
        args = command(kill.stage, root)
        outcome.killed, events = run_killed(args, root, kill.events, kill.delay, port)
        outcome.last_event = events[-1] if events else "start"
        if outcome.killed and len(events) == reference[kill.stage].events:
            outcome.last_event += " (its last: the run's end)"
        outcome.stuck = unfinished(prefect_home(root))
        if outcome.killed:
            left = duplicates(dump(root), settled=False)
            if left:
                outcome.problems.append(f"the kill left duplicates: {left}")
        again = run(args, root, port)
        if again.returncode != 0:
            outcome.problems.append(f"the rerun failed:\n{again.stderr[-3000:]}")
            return outcome
        if kill.stage in ("cycle", "cycle-cli") and waiting(root):
            outcome.problems.append(f"the cycle's rerun left mail undelivered: {waiting(root)}")
        outcome.drained = waiting(root)
        if outcome.drained:
            later = run(
                ["-m", "tests.crash.kill_driver", "deliver", "--root", str(root)], root, port
            )
            if later.returncode != 0:
                outcome.problems.append(f"the next delivery failed:\n{later.stderr[-3000:]}")
        state = dump(root)
        if server is not None:
            over_smtp = received([m.data for m in server.messages], outcome)
            if set(over_smtp) & set(state["mail"]):
                outcome.problems.append("a message both in the file outbox and sent over SMTP")
            state["mail"] |= json.loads(json.dumps(over_smtp))  # as `dump` gives it
    expected = reference[kill.stage].state
    if duplicates(state):
        outcome.problems.append(f"duplicates after the rerun: {duplicates(state)}")
    for table in sorted(set(expected["database"]) | set(state["database"])):
        if state["database"].get(table) != expected["database"].get(table):
            outcome.problems.append(f"table {table} differs")
    for part in ("documents", "mail"):
        if state[part] != expected[part]:
            differ = sorted(set(state[part]) ^ set(expected[part])) or [
                (name, what, state[part][name][what], expected[part][name][what])
                for name in expected[part]
                for what in (expected[part][name] if part == "mail" else ())
                if state[part][name] != expected[part][name]
                and state[part][name][what] != expected[part][name][what]
            ]
            outcome.problems.append(f"{part} differ: {differ}")
    return outcome


ALL_SEEDS = sorted({*range(FIRST_SEED, FIRST_SEED + SEEDS), *REGRESSIONS})
FLOW_CASES = sorted({*range(FIRST_SEED, FIRST_SEED + FLOW_SEEDS), *FLOW_REGRESSIONS})
#: (kinds, seed): the plain runs' seeds, then the flow runs'.
CASES = [*((STAGES, seed) for seed in ALL_SEEDS), *((FLOWS, seed) for seed in FLOW_CASES)]


def case_id(case: tuple[tuple[str, ...], int]) -> str:
    return f"{'flow' if case[0] == FLOWS else 'plain'}-{case[1]}"


@pytest.fixture(scope="module")
def outcomes(
    reference: dict[str, Stage], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Future[Outcome]]]:
    """Every seed, started at once on every core (the flow runs', the longest, first); a test
    waits for its own."""
    base = tmp_path_factory.mktemp("kills")
    with ThreadPoolExecutor(max_workers=max(1, os.cpu_count() or 1)) as pool:
        futures = {
            case_id(case): pool.submit(
                kill_and_rerun, plan(case[1], reference, case[0]), reference, base
            )
            for case in sorted(CASES, key=lambda case: case[0] != FLOWS)
        }
        yield futures
        for future in futures.values():
            future.cancel()


@pytest.mark.parametrize("kinds", [STAGES, *([FLOWS] if FLOW_CASES else [])], ids=["plain", "flow"])
def test_the_uninterrupted_runs_bill_pay_and_remind(
    reference: dict[str, Stage], kinds: tuple[str, ...]
) -> None:
    cycle, payments, reminders = (reference[s].state for s in kinds)
    assert len(cycle["database"]["invoice"]) == 3 and len(cycle["mail"]) == 3
    assert sorted(dict(p)["status"] for p in payments["database"]["payment"]) == [
        "credit",
        "partial",
        "unmatched",
    ]
    assert len(payments["mail"]) > len(cycle["mail"])
    assert any(key.startswith("overdue:") for key in reminders["mail"])
    for state in (cycle, payments, reminders):
        assert not duplicates(state)
        assert all(dict(n)["status"] == "sent" for n in state["database"]["notification"])


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_a_run_killed_at_a_random_moment_ends_like_an_uninterrupted_one(
    case: tuple[tuple[str, ...], int], outcomes: dict[str, Future[Outcome]]
) -> None:
    outcome = outcomes[case_id(case)].result()
    kill = outcome.kill
    keep = "FLOW_REGRESSIONS" if case[0] == FLOWS else "REGRESSIONS"
    assert not outcome.problems, (
        f"seed {kill.seed} failed (keep it in {keep}): {kill}, killed={outcome.killed} after "
        f"{outcome.last_event}:\n" + "\n".join(outcome.problems)
    )


def test_the_kills_cover_every_run_and_both_outboxes(
    outcomes: dict[str, Future[Outcome]],
) -> None:
    """What the seeds covered, printed (`pytest -s`, `make crash-soak`): each run killed, over the
    file outbox and SMTP, at moments spread over its events."""
    done = [f.result() for f in outcomes.values()]
    killed = [o for o in done if o.killed]
    moments = Counter(f"{o.kill.stage} after {o.last_event}" for o in killed)
    print(f"\n{len(done)} seeds, {len(killed)} killed (the others ended before their moment)")
    for moment, n in sorted(moments.items()):
        print(f"  {n:4d} × {moment}")
    print(f"  left to the next delivery run: {sum(bool(o.drained) for o in done)} seeds")
    print(f"  resent over SMTP with the same Message-ID: {sum(len(o.resent) for o in done)}")
    stuck = Counter(run for o in done for run in o.stuck)
    print(f"  flow runs a kill left running in Prefect (the rerun not blocked): {dict(stuck)}")
    if SEEDS >= 12:  # the plain runs' seeds, not only their regressions (IURAN_KILL_SEEDS=0)
        assert {o.kill.stage for o in killed} >= set(STAGES)
        assert {o.kill.smtp for o in killed} == {True, False}
