"""Runtime settings: embedded defaults (SQLite, file outbox, ephemeral Prefect) unless the environment says otherwise.

The environment is read here, once per `load_settings` call, and nowhere else: the flows and the CLI
load the settings when they start and pass each value down to where it is used, as a parameter whose
default is the documented one (below, or `SqliteOptions` for the two SQLite settings, which the
engines read). So a function called without settings (a test, a bench) behaves as documented, and a
variable changed after import is honoured by the next run. Exceptions: `IURAN_VAR` (`VAR`), where
Prefect's home lies before Prefect is imported; Prefect's own PREFECT_* variables; and the test hook
`IURAN_FAULT_POINT` (`iuran/faults.py`).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from iuran.db.session import SqliteOptions, configure_sqlite

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "templates"
PROGRAMS_DIR = ROOT / "deployments" / "programs"
VAR = Path(os.environ.get("IURAN_VAR", ROOT / "var"))

# The documented defaults (README, Configuration) of the settings passed down as parameters.
CYCLE_LEASE = dt.timedelta(minutes=15)  # a lease not renewed for this long belongs to a dead run
APPROVAL_TIMEOUT = dt.timedelta(hours=72)  # how long a gated program waits for a decision
APPROVAL_POLL_SECONDS = 10
PREFECT_PORT = 4200  # `make up`
WORK_POOL = "iuran"
#: Where `make up` writes the API address of the Prefect server it started (`deployments/local.py`):
#: the command line runs its flows there while that server answers (`use_running_server`).
SERVER_FILE = VAR / "run" / "prefect-api-url"

log = logging.getLogger("iuran.config")


def prefect_defaults() -> None:
    """Keep Prefect's state in the project and quiet; call before `import prefect`."""
    os.environ.setdefault("PREFECT_HOME", str(VAR / "prefect"))
    Path(os.environ["PREFECT_HOME"]).mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")


def running_server(file: Path = SERVER_FILE, timeout: float = 1.0) -> str | None:
    """The API address `make up` wrote in `file`, if the server there says it is healthy; None when
    there is no file, or the file is stale (the server is gone, or something else answers there)."""
    try:
        url = file.read_text(encoding="utf-8").strip()
    except OSError:
        return None
    if not url.startswith(("http://", "https://")):
        return None
    direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback, no proxy
    try:
        with direct.open(f"{url}/health", timeout=timeout) as answer:
            healthy = answer.status == 200 and answer.read(16).strip() == b"true"
    except (OSError, ValueError):
        return None
    return url if healthy else None


def use_running_server(file: Path = SERVER_FILE) -> str | None:
    """Point Prefect at `make up`'s server while it answers, so a command's flow run is kept where
    operations see it and no temporary server is started; call before `import prefect`. An explicit
    PREFECT_API_URL (an empty one: the embedded default) is left as it is. The API address used, or
    None for the embedded default."""
    if "PREFECT_API_URL" in os.environ:
        return os.environ["PREFECT_API_URL"] or None
    url = running_server(file)
    if url is not None:
        os.environ["PREFECT_API_URL"] = url
    return url


def _default_db_url() -> str:
    return f"sqlite:///{VAR / 'iuran.db'}"


@dataclass(frozen=True)
class SmtpSettings:
    host: str | None
    port: int
    tls: str  # "none" | "starttls" | "tls"
    username: str | None
    password: str | None = field(repr=False)
    mail_from: str
    timeout: float = 30.0
    ca_file: str | None = None
    validate_certs: bool = True

    @property
    def configured(self) -> bool:
        return bool(self.host)


@dataclass(frozen=True)
class Settings:
    database_url: str
    inbox: Path
    out: Path
    outbox: Path
    smtp: SmtpSettings
    ops_recipients: tuple[str, ...]
    cycle_lease: dt.timedelta = CYCLE_LEASE
    approval_timeout: dt.timedelta = APPROVAL_TIMEOUT
    approval_poll_seconds: int = APPROVAL_POLL_SECONDS
    # The counter's public address (`https://loket.lebakkab.go.id`): e-mails and artifacts link to
    # its pages instead of attaching or pointing at files; "" (the demo): attachments and file links
    loket_url: str = ""
    sqlite: SqliteOptions = field(default_factory=SqliteOptions)
    # The deployment scripts' (`deployments/`): where deployments take their code from (a path or a
    # git URL), their work pool, the port of `make up`'s server, the crash-detection window.
    source: str = str(ROOT)
    work_pool: str = WORK_POOL
    prefect_port: int = PREFECT_PORT
    crash_after: dt.timedelta | None = None  # None: three missed Prefect heartbeats
    # Owner-only files a web server must never serve (the roster read cache, the counter's staging
    # area and session secret); the counter's session secret ("": one kept in `private`)
    private: Path = VAR / "private"
    web_secret: str = field(default="", repr=False)


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    value = env.get(name, "").strip()
    return float(value) if value else default


def loket_url(env: Mapping[str, str]) -> str:
    """`IURAN_LOKET_URL` without its trailing `/`; ValueError when it is not an http(s) address.

    `IURAN_DOCUMENTS_URL` (the documents folder behind a web server) is not read any more, not even
    as an alias: its links named files under a folder, the counter's name routes, and a folder served
    as it is hands every detail sheet (full NIKs) to anyone with the address. Still set, it gets a
    warning, so whoever deployed it learns to take the folder off the web server.
    """
    if env.get("IURAN_DOCUMENTS_URL", "").strip():
        log.warning(
            "IURAN_DOCUMENTS_URL is no longer read: documents are served by the counter "
            "(set IURAN_LOKET_URL) and the documents folder must not be served over HTTP"
        )
    url = env.get("IURAN_LOKET_URL", "").strip().rstrip("/")
    if url and not url.lower().startswith(("https://", "http://")):
        raise ValueError(f"IURAN_LOKET_URL must be an http(s) address, not {url!r}")
    return url


def render_workers(env: Mapping[str, str] = os.environ) -> int:
    """How many processes may render invoice documents (`IURAN_RENDER_WORKERS`): by default the
    cores this process may use; 1 renders in the cycle's own process, as before."""
    value = env.get("IURAN_RENDER_WORKERS", "").strip()
    if value:
        return max(1, int(value))
    return max(
        1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    )


def load_settings(
    database_url: str | None = None,
    inbox: Path | str | None = None,
    out: Path | str | None = None,
) -> Settings:
    """The settings from the environment; also hands the SQLite options to the engines
    (`iuran.db.session.configure_sqlite`)."""
    env = os.environ
    tls = env.get("IURAN_SMTP_TLS", "none").lower()
    default_port = {"tls": 465, "starttls": 587}.get(tls, 25)
    out_path = Path(out or env.get("IURAN_OUT") or VAR / "out")
    crash_after = env.get("IURAN_CRASH_AFTER_SECONDS", "").strip()
    sqlite = SqliteOptions(
        busy_timeout=_number(env, "IURAN_SQLITE_BUSY_TIMEOUT", SqliteOptions.busy_timeout),
        cache_mb=int(_number(env, "IURAN_SQLITE_CACHE_MB", SqliteOptions.cache_mb)),
    )
    configure_sqlite(sqlite)
    return Settings(
        database_url=database_url or env.get("IURAN_DATABASE_URL") or _default_db_url(),
        inbox=Path(inbox or env.get("IURAN_INBOX") or VAR / "inbox"),
        out=out_path,
        outbox=Path(env.get("IURAN_OUTBOX") or out_path / "outbox"),
        smtp=SmtpSettings(
            host=env.get("IURAN_SMTP_HOST") or None,
            port=int(env.get("IURAN_SMTP_PORT", default_port)),
            tls=tls,
            username=env.get("IURAN_SMTP_USERNAME") or None,
            password=env.get("IURAN_SMTP_PASSWORD") or None,
            mail_from=env.get("IURAN_MAIL_FROM", "iuran@disnaker.example.go.id"),
            ca_file=env.get("IURAN_SMTP_CA_FILE") or None,
            validate_certs=env.get("IURAN_SMTP_VALIDATE_CERTS", "1").lower()
            not in ("0", "false", "no", "off"),
        ),
        ops_recipients=tuple(
            a.strip() for a in env.get("IURAN_OPS_EMAIL", "").split(",") if a.strip()
        ),
        cycle_lease=dt.timedelta(
            minutes=_number(env, "IURAN_CYCLE_LEASE_MINUTES", CYCLE_LEASE / dt.timedelta(minutes=1))
        ),
        approval_timeout=dt.timedelta(
            hours=_number(
                env, "IURAN_APPROVAL_TIMEOUT_HOURS", APPROVAL_TIMEOUT / dt.timedelta(hours=1)
            )
        ),
        approval_poll_seconds=int(
            _number(env, "IURAN_APPROVAL_POLL_SECONDS", APPROVAL_POLL_SECONDS)
        ),
        loket_url=loket_url(env),
        sqlite=sqlite,
        source=env.get("IURAN_SOURCE") or str(ROOT),
        work_pool=env.get("IURAN_WORK_POOL", WORK_POOL),
        private=Path(env.get("IURAN_PRIVATE") or VAR / "private"),
        web_secret=env.get("IURAN_WEB_SECRET", ""),
        prefect_port=int(_number(env, "IURAN_PREFECT_PORT", PREFECT_PORT)),
        crash_after=dt.timedelta(seconds=int(crash_after)) if crash_after else None,
    )
