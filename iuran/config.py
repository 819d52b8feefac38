"""Runtime settings: embedded defaults (SQLite, file outbox, ephemeral Prefect) unless the environment says otherwise."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "templates"
PROGRAMS_DIR = ROOT / "deployments" / "programs"
VAR = Path(os.environ.get("IURAN_VAR", ROOT / "var"))


def prefect_defaults() -> None:
    """Keep Prefect's state in the project and quiet; call before `import prefect`."""
    os.environ.setdefault("PREFECT_HOME", str(VAR / "prefect"))
    Path(os.environ["PREFECT_HOME"]).mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")


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


def load_settings(
    database_url: str | None = None,
    inbox: Path | str | None = None,
    out: Path | str | None = None,
) -> Settings:
    env = os.environ
    tls = env.get("IURAN_SMTP_TLS", "none").lower()
    default_port = {"tls": 465, "starttls": 587}.get(tls, 25)
    out_path = Path(out or env.get("IURAN_OUT") or VAR / "out")
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
    )
