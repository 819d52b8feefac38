"""The counter's deadline-day rush: N villages upload their roster over loopback at once while
the month's cycle runs again and again on the same inbox and database.

`iuran web` runs in its own process (uvicorn, SQLite in a temporary folder); each village is a
client that logs in, opens its page and uploads a CSV of synthetic workers (`CONCURRENCY` at a time).
Meanwhile a second process reruns the month's cycle (plain calls, `iuran.month.PLAIN`) in a loop.
Afterwards: every upload answered 200 with its verdict, every file in the inbox is byte for byte
what its village sent (no upload lost or half-written), the counter recorded one upload per
village, and one last cycle reads every file. Reported: upload response times (p50, p95, max), the
wall time, the cycles run meanwhile. No assertion on time: the figures are reported.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
from sqlalchemy import func, select

from deployments.local import wait_healthy
from iuran.db.models import RosterUpload
from iuran.db.session import session_scope, upgrade
from iuran.generate import COLUMNS, build_rosters
from iuran.programs import load_program
from iuran.web.accounts import add_user
from iuran.web.app import open_periods

PROGRAM = "lebak"
PASSWORD = "bench-kata-sandi-123"
CONCURRENCY = 24
PER_VILLAGE = 20
CYCLE_LOOP = """
import sys, time
from iuran.config import load_settings
from iuran.month import PLAIN, run_month
from iuran.periods import Period
from iuran.programs import load_program
settings = load_settings()
program, period, stop = load_program(sys.argv[1]), Period.parse(sys.argv[2]), sys.argv[3]
import os
runs = 0
while not os.path.exists(stop) or runs == 0:
    try:
        summary = run_month(PLAIN, settings, program, period, None).summary
    except Exception as exc:  # e.g. no roster landed yet: try again
        print("error", type(exc).__name__, exc, file=sys.stderr, flush=True)
        time.sleep(1)
        continue
    runs += 1
    print(runs, summary["status"], summary["files"]["read"], summary["rows"]["received"], flush=True)
"""


def _csv(frame: pd.DataFrame) -> bytes:
    lines = frame[COLUMNS].astype("string").fillna("")
    lines["tanggal_lahir"] = pd.to_datetime(frame["tanggal_lahir"]).dt.strftime("%d/%m/%Y")
    body = lines.to_csv(sep=";", index=False)
    return body.encode()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _hand_in(base: str, username: str, period: str, body: bytes) -> tuple[int, float, str]:
    """Log in, open the page, upload: (status, seconds of the upload request, the answer's text)."""
    with httpx.Client(base_url=base, timeout=600, follow_redirects=False) as client:
        token = re.search(r'name="csrf" value="([^"]+)"', client.get("/masuk").text)
        assert token
        client.post("/masuk", data={"username": username, "password": PASSWORD, "csrf": token[1]})
        page = re.search(r'name="csrf" value="([^"]+)"', client.get("/desa").text)
        assert page, f"{username}: not logged in"
        started = time.perf_counter()
        answer = client.post(
            "/desa/unggah",
            data={"csrf": page[1], "periode": period},
            files={"berkas": ("roster.csv", body, "text/csv")},
        )
        return answer.status_code, time.perf_counter() - started, answer.text


def run(quick: bool, villages: int | None = None) -> dict[str, Any]:
    villages = villages or (30 if quick else 345)
    program = load_program(PROGRAM)
    period = open_periods(program)[0]
    work = Path(tempfile.mkdtemp(prefix="bench-loket-"))
    env = dict(os.environ)
    env.update(
        IURAN_DATABASE_URL=f"sqlite:///{work / 'iuran.db'}",
        IURAN_INBOX=str(work / "inbox"),
        IURAN_OUT=str(work / "out"),
        IURAN_OUTBOX=str(work / "outbox"),
        IURAN_PRIVATE=str(work / "private"),
        IURAN_VAR=str(work / "var"),
        IURAN_WEB_SECRET="bench-rahasia",
    )
    env.pop("PREFECT_API_URL", None)
    url = env["IURAN_DATABASE_URL"]
    upgrade(url)
    rosters = build_rosters(program, period, villages=villages, per_village=PER_VILLAGE, seed=5)
    bodies = {r.kode_desa: _csv(r.frame) for r in rosters}
    with session_scope(url) as session:
        for code in bodies:
            add_user(session, f"desa-{code}", PASSWORD, "desa", program, [code])
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    log = work / "loket.log"
    root = Path(__file__).resolve().parent.parent
    with log.open("wb") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "iuran.cli", "web", "--port", str(port)],
            env=env, cwd=root, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    stop = work / "stop"
    cycles = subprocess.Popen(
        [sys.executable, "-c", CYCLE_LOOP, PROGRAM, str(period), str(stop)],
        env=env, cwd=root, stdout=subprocess.PIPE, stderr=(work / "cycles.log").open("w"), text=True,
    )  # fmt: skip
    try:
        wait_healthy(base, server, log, path="/masuk")
        started = time.perf_counter()
        with ThreadPoolExecutor(CONCURRENCY) as pool:
            answers = list(
                pool.map(
                    lambda item: _hand_in(base, f"desa-{item[0]}", str(period), item[1]),
                    bodies.items(),
                )
            )
        wall = time.perf_counter() - started
        stop.touch()
        loop_out, _ = cycles.communicate(timeout=900)
        last = subprocess.run(
            [sys.executable, "-c", CYCLE_LOOP, PROGRAM, str(period), str(stop)],
            env=env, cwd=root, capture_output=True, text=True, check=True,
        ).stdout.split()  # fmt: skip
    finally:
        server.terminate()
        server.wait(30)
        if cycles.poll() is None:
            cycles.kill()
    seconds = np.array([s for _, s, _ in answers])
    folder = Path(env["IURAN_INBOX"]) / PROGRAM / str(period)
    intact = sum(
        hashlib.sha256((folder / f"loket-{code}.csv").read_bytes()).digest()
        == hashlib.sha256(body).digest()
        for code, body in bodies.items()
        if (folder / f"loket-{code}.csv").exists()
    )
    with session_scope(url) as session:
        recorded = session.scalar(select(func.count()).select_from(RosterUpload))
    accepted = sum(f'id="diterima">{PER_VILLAGE}<' in text for _, _, text in answers)
    result: dict[str, Any] = {
        "villages": villages,
        "rows_per_village": PER_VILLAGE,
        "concurrency": CONCURRENCY,
        "answered_200": sum(status == 200 for status, _, _ in answers),
        "all_rows_accepted": accepted,
        "files_intact": intact,
        "uploads_recorded": recorded,
        "upload_p50_s": round(float(np.percentile(seconds, 50)), 3),
        "upload_p95_s": round(float(np.percentile(seconds, 95)), 3),
        "upload_max_s": round(float(seconds.max()), 3),
        "wall_s": round(wall, 1),
        "cycles_meanwhile": len(loop_out.splitlines()),
        "last_cycle": {"files_read": int(last[2]), "rows": int(last[3])},
    }
    result["ok"] = (
        result["answered_200"] == villages
        and intact == villages
        and recorded == villages
        and result["last_cycle"]["files_read"] == villages
        and result["last_cycle"]["rows"] == villages * PER_VILLAGE
    )
    if result["ok"]:
        shutil.rmtree(work, ignore_errors=True)
    else:
        result["kept"] = str(work)  # the logs and the inbox, to look at
    return result
