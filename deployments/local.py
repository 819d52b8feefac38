"""A local Prefect server, a worker and the deployments: `make up` / `make down`.

    python -m deployments.local up      # server + work pool + deployments + worker + the counter
    python -m deployments.local down    # stops what `up` started (the pids in var/run/)
    python -m deployments.local status

The server keeps its state in `var/prefect-server/` (PREFECT_HOME of the server process; SQLite),
listens on 127.0.0.1:4200 (IURAN_PREFECT_PORT to change it), writes its API address to
`var/run/prefect-api-url` (`iuran cycle` and the other commands find it there and run their flows on
it while it answers) and logs to `var/log/`. Both processes
run detached in their own session, so `make up` returns; `down` stops exactly the processes whose
ids `up` wrote, after checking each is still the process it started. The counter (Loket, `iuran
web`) runs beside them on 127.0.0.1:8400 (IURAN_WEB_PORT), pointed at the server, so Disnaker can
start reruns from it; its log is `var/log/loket.log`.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path

from iuran.config import PREFECT_PORT, SERVER_FILE, VAR, WORK_POOL, load_settings

RUN = VAR / "run"
LOGS = VAR / "log"
SERVER_HOME = VAR / "prefect-server"  # the server's database and settings
CLIENT_HOME = VAR / "prefect"  # worker and flow runs: local result storage
PREFECT = [sys.executable, "-m", "prefect"]
LOKET = [sys.executable, "-m", "iuran.cli", "web"]
#: How often a worker asks the server for runs to start (Prefect's default: 10 s, so a run an admin
#: submits waited 5 s on average before its process started); one small query a second is nothing
#: to a server. PREFECT_WORKER_QUERY_SECONDS in the environment still decides.
WORKER_POLL_SECONDS = 1
#: pid file name -> what its process's command line holds (a stranger reusing the id does not)
MARKERS = {"prefect-server": b"prefect", "prefect-worker": b"prefect", "loket": b"iuran.cli web"}


def web_port() -> int:
    return int(os.environ.get("IURAN_WEB_PORT", "8400"))


def api_url(at_port: int) -> str:
    return f"http://127.0.0.1:{at_port}/api"


def client_env(url: str, home: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a process that talks to the server at `url` (worker, deploy, CLI)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API_")}
    env.update(
        PREFECT_API_URL=url,
        PREFECT_HOME=str(home),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra or {})
    return env


def start_server(
    home: Path, at_port: int, log: Path, extra_env: Mapping[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """`prefect server start` on 127.0.0.1:`at_port`, detached, its output in `log`."""
    home.mkdir(parents=True, exist_ok=True)
    log.parent.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API_")}
    env.update(
        PREFECT_HOME=str(home),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_UI_API_URL=api_url(at_port),
        **(extra_env or {}),
    )
    with log.open("ab") as out:
        return subprocess.Popen(
            [*PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(at_port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=home,
            start_new_session=True,
        )


def wait_healthy(
    url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 120, path: str = "/health"
) -> float:
    """Seconds until `<url><path>` answers; RuntimeError with the log's tail if it never does."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"{log.stem} exited with {proc.returncode}:\n{tail(log)}")
        try:
            with urllib.request.urlopen(f"{url}{path}", timeout=2) as answer:
                if answer.status == 200:
                    return time.monotonic() - started
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{url} not answering after {timeout:.0f} s:\n{tail(log)}")


def start_worker(
    pool: str, env: Mapping[str, str], log: Path, name: str | None = None, limit: int | None = None
) -> subprocess.Popen[bytes]:
    """`prefect worker start --pool <pool>` (at most `limit` runs at a time), detached, its output
    in `log`."""
    worker = name or f"iuran-{socket.gethostname()}"
    command = [*PREFECT, "worker", "start", "--pool", pool, "--name", worker, "--type", "process"]
    polling = {"PREFECT_WORKER_QUERY_SECONDS": str(WORKER_POLL_SECONDS), **env}
    return _detached([*command, *(["--limit", str(limit)] if limit else [])], polling, log)


def start_counter(env: Mapping[str, str], at_port: int, log: Path) -> subprocess.Popen[bytes]:
    """`iuran web` on 127.0.0.1:`at_port`, detached, its output in `log`."""
    return _detached([*LOKET, "--host", "127.0.0.1", "--port", str(at_port)], env, log)


def _detached(command: list[str], env: Mapping[str, str], log: Path) -> subprocess.Popen[bytes]:
    """`command` in this source tree, in its own session (so `make up` returns), output in `log`."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        return subprocess.Popen(
            command,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=dict(env),
            cwd=str(Path(__file__).resolve().parent.parent),
            start_new_session=True,
        )


def tail(log: Path, lines: int = 40) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return f"({log} unreadable)"


def stop(pid: int, grace: float = 20) -> bool:
    """SIGTERM the process group `pid` leads (it was started in its own session), then SIGKILL."""
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        try:
            os.killpg(pid, 0)
        except ProcessLookupError:
            return True
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        time.sleep(0.2)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)
    return True


def _ours(pid: int, marker: bytes = b"prefect") -> bool:
    """Is `pid` still the process we started (not a stranger that reused the id)?"""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
    except OSError:
        return False
    return marker in cmdline


def _pid(name: str) -> int | None:
    path = RUN / f"{name}.pid"
    try:
        pid = int(path.read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if _ours(pid, MARKERS[name]) else None


def _write_pid(name: str, pid: int) -> None:
    RUN.mkdir(parents=True, exist_ok=True)
    (RUN / f"{name}.pid").write_text(f"{pid}\n")


def up(pool: str = WORK_POOL, at_port: int = PREFECT_PORT) -> int:
    url = api_url(at_port)
    ui = url.removesuffix("/api")
    server_log, worker_log = LOGS / "prefect-server.log", LOGS / "prefect-worker.log"
    if _pid("prefect-server"):
        print(f"prefect server already running (pid {_pid('prefect-server')})")
    else:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", at_port)) == 0:
                print(f"port {at_port} is taken by another program: set IURAN_PREFECT_PORT")
                return 1
        started = time.monotonic()
        server = start_server(SERVER_HOME, at_port, server_log)
        _write_pid("prefect-server", server.pid)
        try:
            wait_healthy(url, server, server_log)
        except RuntimeError as exc:
            print(exc)
            stop(server.pid)
            (RUN / "prefect-server.pid").unlink(missing_ok=True)
            return 1
        print(f"prefect server up in {time.monotonic() - started:.1f} s (log {server_log})")
    announce(url)

    env = client_env(url, CLIENT_HOME)
    # the month's e-mails link to this counter instead of carrying detail sheets (unless set)
    env.setdefault("IURAN_LOKET_URL", f"http://127.0.0.1:{web_port()}")
    root = str(Path(__file__).resolve().parent.parent)
    migrated = subprocess.run(
        [sys.executable, "-m", "iuran.cli", "db", "upgrade"], env=env, cwd=root, check=False
    )
    if migrated.returncode != 0:
        print("migrating the database failed (see above); `make down` stops the server")
        return migrated.returncode
    deployed = subprocess.run(
        [sys.executable, "-m", "deployments.deploy", "--pool", pool],
        env=env,
        cwd=root,
        check=False,
    )
    if deployed.returncode != 0:
        print("deploying failed (see above); the server keeps running: `make down` stops it")
        return deployed.returncode

    if _pid("prefect-worker"):
        print(f"worker already running (pid {_pid('prefect-worker')})")
    else:
        worker = start_worker(pool, env, worker_log)
        _write_pid("prefect-worker", worker.pid)
        print(f"worker started on pool {pool!r} (log {worker_log})")

    counter = f"http://127.0.0.1:{web_port()}"
    if _pid("loket"):
        print(f"counter already running (pid {_pid('loket')})")
    else:
        with socket.socket() as probe:
            taken = probe.connect_ex(("127.0.0.1", web_port())) == 0
        if taken:
            print(f"port {web_port()} is taken by another program: set IURAN_WEB_PORT")
            counter = "(not started)"
        else:
            loket = start_counter(env, web_port(), LOGS / "loket.log")
            _write_pid("loket", loket.pid)
            try:
                took = wait_healthy(counter, loket, LOGS / "loket.log", path="/masuk")
                print(f"counter up in {took:.1f} s (log {LOGS / 'loket.log'})")
            except RuntimeError as exc:
                print(exc)
                counter = "(not started: see above)"

    print(
        f"""
Prefect UI:  {ui}
API:         {url}   (export PREFECT_API_URL={url} to use the prefect CLI)
Deployments: {ui}/deployments
Run a month: PREFECT_API_URL={url} .venv/bin/prefect deployment run 'monthly-cycle/cycle-lebak' -p period=2026-01 --watch
Loket:       {counter}/masuk   (accounts: `make demo` prints demo ones; `iuran users add`)
Stop:        make down"""
    )
    return 0


def announce(url: str, file: Path = SERVER_FILE) -> None:
    """Write where the server listens, for the command line (`iuran.config.use_running_server`)."""
    file.parent.mkdir(parents=True, exist_ok=True)
    partial = file.with_name(f".{file.name}.{os.getpid()}")
    partial.write_text(f"{url}\n", encoding="utf-8")
    partial.replace(file)  # whole or absent, never half-written


def down() -> int:
    SERVER_FILE.unlink(missing_ok=True)
    stopped = False
    for name in ("loket", "prefect-worker", "prefect-server"):
        pid = _pid(name)
        if pid is not None and stop(pid):
            print(f"stopped {name} (pid {pid})")
            stopped = True
        (RUN / f"{name}.pid").unlink(missing_ok=True)
    if not stopped:
        print("nothing to stop")
    return 0


def status() -> int:
    for name in ("prefect-server", "prefect-worker", "loket"):
        pid = _pid(name)
        print(f"{name}: {'running, pid ' + str(pid) if pid else 'not running'}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deployments.local", description=__doc__)
    parser.add_argument("command", choices=("up", "down", "status"))
    settings = load_settings()
    parser.add_argument("--pool", default=settings.work_pool)
    args = parser.parse_args(argv)
    if args.command == "up":
        return up(args.pool, settings.prefect_port)
    if args.command == "down":
        return down()
    return status()


if __name__ == "__main__":
    sys.exit(main())
