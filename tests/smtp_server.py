"""A real SMTP server on loopback for tests: aiosmtpd, optional AUTH / STARTTLS / implicit TLS, and
fault injection (421 greetings, 421 at MAIL, 451 at DATA, a connection dropped during DATA, a
message accepted and the connection dropped before the final reply, 550 for chosen recipients).
What it accepts is kept in `server.messages`, so a test counts deliveries at the receiving end
instead of trusting the sender's own report.

    with smtp_server(auth=("iuran", "s3cret")) as server:
        settings = server.settings(database_url, outbox)
        server.faults.tempfail_data = 1
        ...
        assert len(server.messages) == 1
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email
import email.policy
import ipaddress
import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any, cast

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from iuran.config import Settings, SmtpSettings

MAIL_FROM = "iuran@disnaker.example.go.id"


@dataclass
class Faults:
    """Counters of faults still to inject; each one fires once per count, then the server behaves."""

    refuse_connections: int = 0  # greet with 421 and hang up
    refuse_transactions: int = 0  # 421 to MAIL FROM (the client then closes the connection)
    tempfail_data: int = 0  # 451 after the message data, nothing stored
    drop_data: int = 0  # hang up right after "354", nothing stored
    stall_data: int = 0  # store the message but answer only after `stall_seconds` (a lost "250")
    stall_seconds: float = 1.0
    # store the message, then hang up before the final "250": the client cannot know it was taken
    accept_then_drop: int = 0
    reject_recipients: set[str] = field(default_factory=set)  # 550 at RCPT TO, every time
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def take(self, name: str) -> bool:
        with self._lock:
            left = int(getattr(self, name))
            if left > 0:
                setattr(self, name, left - 1)
                return True
            return False


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        return cast(EmailMessage, email.message_from_bytes(self.data, policy=email.policy.default))


class RecordingHandler:
    """aiosmtpd handler: applies the recipient / data faults and stores what it accepts."""

    def __init__(self, faults: Faults) -> None:
        self.faults = faults
        self.messages: list[Received] = []
        self.connections = 0
        self._lock = threading.Lock()

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self.faults.take("refuse_transactions"):
            return "421 4.3.2 Too busy, try again later"
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address in self.faults.reject_recipients:
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.faults.take("tempfail_data"):
            return "451 4.3.0 Temporary local problem, try again later"
        content = envelope.original_content or b""
        with self._lock:
            self.messages.append(
                Received(str(envelope.mail_from), tuple(envelope.rcpt_tos), bytes(content))
            )
            number = len(self.messages)
        if self.faults.take("accept_then_drop"):
            assert isinstance(server.transport, asyncio.Transport)
            server.transport.abort()  # the message is kept; its "250" is never written
            return f"250 2.0.0 OK queued as {number}"
        if self.faults.take("stall_data"):  # accepted, but the client gives up before the reply
            await asyncio.sleep(self.faults.stall_seconds)
        return f"250 2.0.0 OK queued as {number}"


class FaultySMTP(SMTP):
    """aiosmtpd's SMTP with the two faults a handler hook cannot express."""

    def __init__(self, handler: RecordingHandler, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self.recorder = handler

    async def _handle_client(self) -> None:
        self.recorder.connections += 1
        if self.recorder.faults.take("refuse_connections"):
            await self.push("421 4.3.2 Service not available, closing transmission channel")
            assert self.transport is not None
            self.transport.close()
            return
        await super()._handle_client()

    async def smtp_DATA(self, arg: str) -> None:
        if (
            self.envelope is not None
            and self.envelope.rcpt_tos
            and self.recorder.faults.take("drop_data")
        ):
            await self.push("354 End data with <CR><LF>.<CR><LF>")
            assert self.transport is not None
            self.transport.close()
            return
        await super().smtp_DATA(arg)


class _Controller(Controller):
    def factory(self) -> SMTP:
        return FaultySMTP(self.handler, **self.SMTP_kwargs)


@dataclass(frozen=True)
class TlsFiles:
    ca_file: Path  # what the client trusts
    cert_file: Path
    key_file: Path

    def server_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(self.cert_file, self.key_file)
        return ctx


def make_tls_files(directory: Path, host: str = "127.0.0.1") -> TlsFiles:
    """A throwaway CA and a server certificate for `host` (and localhost) signed by it."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    directory.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)
    valid = {
        "not_valid_before": now - dt.timedelta(days=1),
        "not_valid_after": now + dt.timedelta(days=2),
    }

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "iuran test CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(valid["not_valid_before"])
        .not_valid_after(valid["not_valid_after"])
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )

    key = ec.generate_private_key(ec.SECP256R1())
    alt_names: list[x509.GeneralName] = [x509.DNSName("localhost")]
    try:
        alt_names.append(x509.IPAddress(ipaddress.ip_address(host)))
    except ValueError:
        alt_names.append(x509.DNSName(host))
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(valid["not_valid_before"])
        .not_valid_after(valid["not_valid_after"])
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )

    files = TlsFiles(directory / "ca.pem", directory / "server.pem", directory / "server.key")
    files.ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    files.cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files.key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return files


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@dataclass
class SmtpTestServer:
    host: str
    port: int
    tls: str  # "none" | "starttls" | "tls", as SmtpSettings spells it
    faults: Faults
    handler: RecordingHandler
    tls_files: TlsFiles | None = None
    username: str | None = None
    password: str | None = None
    auth_attempts: list[tuple[str, bool]] = field(default_factory=list)  # (login, accepted)

    @property
    def messages(self) -> list[Received]:
        return self.handler.messages

    @property
    def connections(self) -> int:
        return self.handler.connections

    def smtp_settings(self, **overrides: Any) -> SmtpSettings:
        values: dict[str, Any] = {
            "host": self.host,
            "port": self.port,
            "tls": self.tls,
            "username": self.username,
            "password": self.password,
            "mail_from": MAIL_FROM,
            "timeout": 5.0,
        }
        values.update(overrides)
        return SmtpSettings(**values)

    def settings(self, database_url: str, outbox: Path, **overrides: Any) -> Settings:
        return Settings(
            database_url=database_url,
            inbox=outbox.parent / "inbox",
            out=outbox.parent,
            outbox=outbox,
            smtp=self.smtp_settings(**overrides),
            ops_recipients=(),
        )


@contextmanager
def smtp_server(
    *,
    tls: str = "none",
    auth: tuple[str, str] | None = None,
    tls_dir: Path | None = None,
    host: str = "127.0.0.1",
) -> Iterator[SmtpTestServer]:
    """Run a recording SMTP server for the duration of the block.

    `tls="starttls"` or `"tls"` needs `tls_dir` (a CA and certificate are generated there; point the
    client at `server.tls_files.ca_file`). `auth=(user, password)` makes AUTH mandatory (PLAIN and
    LOGIN), without requiring TLS so plain-text tests can log in.
    """
    if tls not in ("none", "starttls", "tls"):
        raise ValueError(tls)
    faults = Faults()
    handler = RecordingHandler(faults)
    server = SmtpTestServer(host, free_port(host), tls, faults, handler)
    kwargs: dict[str, Any] = {"server_hostname": "localhost", "ready_timeout": 10.0}
    if tls != "none":
        if tls_dir is None:
            raise ValueError("TLS needs tls_dir for the generated certificate")
        server.tls_files = make_tls_files(tls_dir, host)
        context = server.tls_files.server_context()
        if tls == "tls":
            kwargs["ssl_context"] = context
        else:
            kwargs["tls_context"] = context
            kwargs["require_starttls"] = True
    if auth is not None:
        user, password = auth
        server.username, server.password = user, password

        def authenticator(
            _server: SMTP, _session: Session, _envelope: Envelope, mechanism: str, data: Any
        ) -> AuthResult:
            ok = (
                isinstance(data, LoginPassword)
                and data.login == user.encode()
                and data.password == password.encode()
            )
            login = data.login.decode() if isinstance(data, LoginPassword) else "?"
            server.auth_attempts.append((login, ok))
            return AuthResult(success=ok, handled=False)  # handled=False: the server answers 535

        kwargs.update(
            authenticator=authenticator,
            auth_required=True,
            auth_require_tls=tls == "starttls",  # plain-text tests must be able to log in
        )
    controller = _Controller(handler, hostname=host, port=server.port, **kwargs)
    controller.start()
    handler.connections = 0  # the controller's own readiness probe is not a client
    try:
        yield server
    finally:
        controller.stop()
