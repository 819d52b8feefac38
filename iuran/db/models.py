"""SQLAlchemy models. Unique constraints, not application checks, are what stop double billing.

Every record that drives a side effect (document, e-mail, payment) says what was done, when, how many
attempts it took and the last error, so an operator reading a row knows what happens next.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    column,
    func,
    table,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

Money = BigInteger  # integer Rupiah


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dict[str, Any]: JSON}


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# --- States: one definition each. StrEnum members are the strings stored (no CHECK constraint lists
# them): comparing and writing a member is comparing and writing its string.


class CycleStatus(StrEnum):
    """A (program, period): `issued` once a run has recorded its invoices."""

    OPEN = "open"
    ISSUED = "issued"


class RosterFileStatus(StrEnum):
    """A roster file read for a cycle, or refused whole (`RosterFile.code` says why)."""

    READ = "read"
    REJECTED = "rejected"


class ConflictStatus(StrEnum):
    """A registry conflict: open until someone who checked it marks it resolved (by hand)."""

    OPEN = "open"
    RESOLVED = "resolved"


class DocumentState(StrEnum):
    """An invoice as a document: a revision supersedes it; removing all its workers cancels it."""

    DRAFT = "draft"
    ISSUED = "issued"
    SUPERSEDED = "superseded"
    CANCELLED = "cancelled"


#: An invoice's `document_state` while it counts (not superseded, not cancelled)
LIVE = (DocumentState.DRAFT, DocumentState.ISSUED)


class PaymentState(StrEnum):
    """What an invoice has received, from its allocations (`confirmed`: paid, and BPJS's receipt
    matched). Overdue is not stored: `iuran.status` derives it from the due date."""

    UNPAID = "unpaid"
    PARTIAL = "partial"
    PAID = "paid"
    CONFIRMED = "confirmed"


class NotificationStatus(StrEnum):
    """An outbox row: `sending` while one sender holds its claim; `cancelled` when its invoice was
    superseded before delivery."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    CANCELLED = "cancelled"


class PaymentStatus(StrEnum):
    """An SP2D: all of it allocated (`matched`), less than an invoice's total (`partial`), more
    (`credit`: the rest waits for the payer's next invoices), or no invoice found (`unmatched`)."""

    MATCHED = "matched"
    PARTIAL = "partial"
    CREDIT = "credit"
    UNMATCHED = "unmatched"


class ReceiptStatus(StrEnum):
    """BPJS's receipt against its SP2D: amounts agree, differ, or no such SP2D recorded."""

    CONFIRMED = "confirmed"
    MISMATCH = "mismatch"
    UNMATCHED = "unmatched"


class Participant(Base):
    """One person per NIK, whatever program pays for them."""

    __tablename__ = "participant"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    nik: Mapped[str] = mapped_column(String(16), unique=True)
    nama: Mapped[str] = mapped_column(String(200))
    tanggal_lahir: Mapped[dt.date] = mapped_column(Date)
    jenis_kelamin: Mapped[str] = mapped_column(String(1))
    bpjs_status: Mapped[str] = mapped_column(
        String(20), default="aktif"
    )  # aktif|nonaktif|meninggal|pindah_pu
    bpjs_status_date: Mapped[dt.date | None] = mapped_column(Date)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), default=_now, onupdate=_now
    )


class Membership(Base):
    """A participant in one program: where, since when, until when and why it ended."""

    __tablename__ = "membership"
    __table_args__ = (UniqueConstraint("program", "participant_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    program: Mapped[str] = mapped_column(String(40))  # uq (program, participant_id) leads with it
    participant_id: Mapped[int] = mapped_column(ForeignKey("participant.id"))
    kode_desa: Mapped[str] = mapped_column(String(13))
    pekerjaan: Mapped[str] = mapped_column(String(100), default="")
    first_period: Mapped[str] = mapped_column(String(7))
    last_period: Mapped[str] = mapped_column(String(7))
    end_period: Mapped[str | None] = mapped_column(String(7))
    end_reason: Mapped[str | None] = mapped_column(
        String(40)
    )  # tidak_di_roster|meninggal|pindah_pu|…


class Cycle(Base):
    """One (program, period): the key every rerun lands on."""

    __tablename__ = "cycle"
    __table_args__ = (UniqueConstraint("program", "period"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    program: Mapped[str] = mapped_column(String(40))
    period: Mapped[str] = mapped_column(String(7))
    status: Mapped[str] = mapped_column(String(20), default=CycleStatus.OPEN)
    input_hash: Mapped[str | None] = mapped_column(String(64))
    runs: Mapped[int] = mapped_column(Integer, default=0)
    locked_by: Mapped[str | None] = mapped_column(String(100))
    locked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    summary: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # payer → digest of its rows as last recorded, and the participant changes counted then
    # (`iuran.cycle.unchanged_payers`): a rerun records again only the payers that changed
    recorded: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), default=_now, onupdate=_now
    )


class RosterFile(Base):
    """A file read for a cycle, with its hash (reruns compare them) and why it was refused, if it was."""

    __tablename__ = "roster_file"
    __table_args__ = (UniqueConstraint("cycle_id", "path"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cycle_id: Mapped[int] = mapped_column(ForeignKey("cycle.id"))
    path: Mapped[str] = mapped_column(String(500))
    sha256: Mapped[str] = mapped_column(String(64))
    rows: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(20))  # RosterFileStatus
    code: Mapped[str | None] = mapped_column(String(40))
    message: Mapped[str | None] = mapped_column(Text)


class Rejection(Base):
    """A roster row refused this cycle, with a reason the village operator understands."""

    __tablename__ = "rejection"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cycle_id: Mapped[int] = mapped_column(ForeignKey("cycle.id"), index=True)
    source_file: Mapped[str] = mapped_column(String(500))
    source_row: Mapped[int] = mapped_column(Integer)
    kode_desa: Mapped[str | None] = mapped_column(String(13))
    nik_masked: Mapped[str | None] = mapped_column(String(20))
    nama: Mapped[str | None] = mapped_column(String(200))
    column: Mapped[str | None] = mapped_column(String(40))
    code: Mapped[str] = mapped_column(String(40))
    message: Mapped[str] = mapped_column(Text)


class RegistryConflict(Base):
    """A roster row whose name or birth date disagrees with the registry: kept for review, never
    silently overwritten (the worker is still billed: the NIK is valid and matches the row's
    birth date and sex)."""

    __tablename__ = "registry_conflict"
    __table_args__ = (UniqueConstraint("cycle_id", "participant_id", "field"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cycle_id: Mapped[int] = mapped_column(ForeignKey("cycle.id"), index=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participant.id"))
    field: Mapped[str] = mapped_column(String(20))  # nama | tanggal_lahir
    registry_value: Mapped[str] = mapped_column(String(200))
    roster_value: Mapped[str] = mapped_column(String(200))
    source_file: Mapped[str] = mapped_column(String(500))
    source_row: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), default=ConflictStatus.OPEN)


class InvoiceCounter(Base):
    """Last invoice sequence number used per program and year: numbers are never reused."""

    __tablename__ = "invoice_counter"

    program: Mapped[str] = mapped_column(String(40), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last: Mapped[int] = mapped_column(Integer, default=0)


#: UPDATEs and DELETEs of lines per (program, period), of participants under ('*', '*'): counted by
#: the triggers of migration 0005 (not a mapped class: nothing but those triggers writes it).
REGISTRY_CHANGE = table(
    "registry_change", column("program"), column("period"), column("n", BigInteger)
)

_LIVE_REGULAR = f"document_state IN ({', '.join(repr(str(s)) for s in LIVE)}) AND kind = 'regular'"


class Invoice(Base):
    """A tagihan to one payer for one period; a revision keeps the number and bumps `revision`."""

    __tablename__ = "invoice"
    __table_args__ = (
        UniqueConstraint("number", "revision"),
        UniqueConstraint("program", "year", "seq", "revision"),
        # At most one live (not superseded/cancelled) regular invoice per payer and period.
        Index(
            "uq_invoice_live",
            "program",
            "period",
            "payer_key",
            "kind",
            unique=True,
            sqlite_where=text(_LIVE_REGULAR),
            postgresql_where=text(_LIVE_REGULAR),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    program: Mapped[str] = mapped_column(String(40))
    period: Mapped[str] = mapped_column(String(7))
    year: Mapped[int] = mapped_column(Integer)
    seq: Mapped[int] = mapped_column(Integer)
    number: Mapped[str] = mapped_column(String(60))
    revision: Mapped[int] = mapped_column(Integer, default=0)
    kind: Mapped[str] = mapped_column(String(20), default="regular")  # regular|supplementary
    payer_key: Mapped[str] = mapped_column(String(20))  # "kabupaten" or a kode_desa
    payer_name: Mapped[str] = mapped_column(String(200))
    cycle_id: Mapped[int] = mapped_column(ForeignKey("cycle.id"))
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("invoice.id"))
    document_state: Mapped[str] = mapped_column(String(20), default=DocumentState.DRAFT)
    payment_state: Mapped[str] = mapped_column(String(20), default=PaymentState.UNPAID)
    participants: Mapped[int] = mapped_column(Integer)
    total: Mapped[int] = mapped_column(Money)
    paid: Mapped[int] = mapped_column(Money, default=0)
    # credit (credit notes, overpayments) that paid this invoice: BKAD pays total − credit_applied
    credit_applied: Mapped[int] = mapped_column(Money, default=0, server_default="0")
    content_hash: Mapped[str] = mapped_column(String(64))
    issue_date: Mapped[dt.date] = mapped_column(Date)
    due_date: Mapped[dt.date] = mapped_column(Date)
    pdf_path: Mapped[str | None] = mapped_column(String(500))
    xlsx_path: Mapped[str | None] = mapped_column(String(500))
    rendered_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    change_note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)

    lines: Mapped[list[ContributionLine]] = relationship(back_populates="invoice")


class ContributionLine(Base):
    """The premium due for one worker in one period, and the rule that priced it."""

    __tablename__ = "contribution_line"
    __table_args__ = (
        UniqueConstraint("invoice_id", "participant_id"),
        # A worker is billed once per program and period, whatever the reruns.
        Index(
            "uq_line_current",
            "program",
            "period",
            "participant_id",
            unique=True,
            sqlite_where=text("is_current"),
            postgresql_where=text("is_current"),
        ),
        # Which programs bill a worker in a period (double funding): a lookup, not a scan.
        Index(
            "ix_line_participant_period",
            "participant_id",
            "period",
            sqlite_where=text("is_current"),
            postgresql_where=text("is_current"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # looked up through uq (invoice_id, participant_id): no index of its own
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoice.id"))
    program: Mapped[str] = mapped_column(String(40))
    period: Mapped[str] = mapped_column(String(7))
    participant_id: Mapped[int] = mapped_column(ForeignKey("participant.id"))
    kode_desa: Mapped[str] = mapped_column(String(13))
    pekerjaan: Mapped[str] = mapped_column(String(100), default="")
    category: Mapped[str] = mapped_column(String(20))  # baru|lanjutan
    # declared on the roster (else the program's default); null on lines priced before 0009
    penghasilan_dilaporkan: Mapped[int | None] = mapped_column(Money, nullable=True)
    penghasilan: Mapped[int] = mapped_column(Money)  # applied: held inside the rule's income range
    jkk: Mapped[int] = mapped_column(Money)
    jkm: Mapped[int] = mapped_column(Money)
    jht: Mapped[int] = mapped_column(Money, default=0)
    discount: Mapped[int] = mapped_column(Money, default=0)
    total: Mapped[int] = mapped_column(Money)
    rule_id: Mapped[str] = mapped_column(String(60))
    discount_id: Mapped[str | None] = mapped_column(String(60))
    is_current: Mapped[bool] = mapped_column(Boolean, default=True)

    invoice: Mapped[Invoice] = relationship(back_populates="lines")


class LineSource(Base):
    """Which lists named a worker billed in a period, where that is not (only) the village's own
    roster: a partner OPD's list (`iuran.reconcile.list_source`), alone or with the village's. A worker
    without a row here was listed by his village. The next period carries a worker forward while one of
    his lists is silent, and ends him only when every list that named him is sent without him."""

    __tablename__ = "line_source"
    __table_args__ = (UniqueConstraint("program", "period", "participant_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    program: Mapped[str] = mapped_column(String(40))
    period: Mapped[str] = mapped_column(String(7))
    participant_id: Mapped[int] = mapped_column(ForeignKey("participant.id"))
    sumber: Mapped[str] = mapped_column(
        String(200)
    )  # list keys joined by "+": desa+dinas-perikanan


class Notification(Base):
    """Transactional outbox: written with the event it reports, delivered at most once."""

    __tablename__ = "notification"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    event: Mapped[str] = mapped_column(String(40))  # invoice_issued|invoice_revised|…
    program: Mapped[str] = mapped_column(String(40), index=True)
    period: Mapped[str | None] = mapped_column(String(7))
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoice.id"))
    to_addrs: Mapped[list[str]] = mapped_column(JSON)
    cc_addrs: Mapped[list[str]] = mapped_column(JSON, default=list)
    template: Mapped[str] = mapped_column(String(60))
    context: Mapped[dict[str, Any]] = mapped_column(JSON)
    attachments: Mapped[list[str]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(20), default=NotificationStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    message_id: Mapped[str | None] = mapped_column(String(200))
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)
    sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    # While `sending`: the process that claimed it (`@host:pid`, `iuran.locks.process_identity`), so
    # a run taking over that process's stale cycle lease takes the claim over too (migration 0008).
    claimed_by: Mapped[str | None] = mapped_column(String(100))


class Payment(Base):
    """An SP2D received from BKAD (or a payment recorded by hand)."""

    __tablename__ = "payment"
    __table_args__ = (UniqueConstraint("nomor_sp2d"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    nomor_sp2d: Mapped[str] = mapped_column(String(100))
    tanggal_sp2d: Mapped[dt.date] = mapped_column(Date)
    jumlah: Mapped[int] = mapped_column(Money)
    nomor_tagihan: Mapped[str | None] = mapped_column(Text)  # one number or several (, ;)
    program: Mapped[str | None] = mapped_column(String(40))
    payer_key: Mapped[str | None] = mapped_column(String(20))
    keterangan: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str | None] = mapped_column(String(500))
    unallocated: Mapped[int] = mapped_column(Money, default=0)  # credit or unmatched amount
    status: Mapped[str] = mapped_column(String(20), default=PaymentStatus.MATCHED)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)
    # Where it came from and how it was matched (iuran.payments): the file row, `nomor`|`pembayar`|
    # `kredit`, and the Indonesian reason an amount stayed unmatched or became credit.
    import_id: Mapped[int | None] = mapped_column(ForeignKey("payment_import.id"))
    source_row: Mapped[int | None] = mapped_column(Integer)
    matched_by: Mapped[str | None] = mapped_column(String(20))
    note: Mapped[str | None] = mapped_column(Text)


class PaymentAllocation(Base):
    """Money paying an invoice: from an SP2D (`payment_id`) or from a credit note (`credit_note_id`),
    exactly one of the two. An invoice's `paid` is the sum of its allocations."""

    __tablename__ = "payment_allocation"
    __table_args__ = (
        UniqueConstraint("payment_id", "invoice_id"),
        UniqueConstraint("credit_note_id", "invoice_id"),
        CheckConstraint("(payment_id IS NULL) <> (credit_note_id IS NULL)", name="one_source"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payment.id"))
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoice.id"), index=True)
    amount: Mapped[int] = mapped_column(Money)
    credit_note_id: Mapped[int | None] = mapped_column(ForeignKey("credit_note.id"))


class CreditNote(Base):
    """Workers removed from an invoice after it was (partly) paid: the invoice is never changed, what
    they cost is credited to the payer and pays its next unpaid invoices (`iuran.credit_notes`, `iuran.payments.credit`).

    One row per roster fix that removed more workers (`seq` 1, 2, ... per source invoice; `number`
    is `<invoice number>-K<seq>`): a rerun finds its workers credited already and writes nothing.
    `amount` is the sum of its lines and = allocated + `unapplied` + `withdrawn` (credit taken back
    because its workers were billed again before it was used).
    """

    __tablename__ = "credit_note"
    __table_args__ = (UniqueConstraint("number"), UniqueConstraint("source_invoice_id", "seq"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(80))
    program: Mapped[str] = mapped_column(String(40), index=True)
    payer_key: Mapped[str] = mapped_column(String(20))
    period: Mapped[str] = mapped_column(String(7))  # the source invoice's period
    source_invoice_id: Mapped[int] = mapped_column(ForeignKey("invoice.id"))
    seq: Mapped[int] = mapped_column(Integer)
    cycle_id: Mapped[int] = mapped_column(ForeignKey("cycle.id"))  # the run that found the removal
    reason: Mapped[str] = mapped_column(String(40))  # peserta_dikeluarkan
    participants: Mapped[int] = mapped_column(Integer)
    amount: Mapped[int] = mapped_column(Money)
    unapplied: Mapped[int] = mapped_column(Money)
    withdrawn: Mapped[int] = mapped_column(Money, default=0)
    note: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)


class CreditNoteLine(Base):
    """One removed worker's premium in a credit note. A worker is credited at most once per source
    invoice (`uq_credit_line_current`); a line stops being current when its credit is withdrawn."""

    __tablename__ = "credit_note_line"
    __table_args__ = (
        UniqueConstraint("credit_note_id", "participant_id"),
        Index(
            "uq_credit_line_current",
            "source_invoice_id",
            "participant_id",
            unique=True,
            sqlite_where=text("is_current"),
            postgresql_where=text("is_current"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    credit_note_id: Mapped[int] = mapped_column(ForeignKey("credit_note.id"), index=True)
    source_invoice_id: Mapped[int] = mapped_column(ForeignKey("invoice.id"))
    participant_id: Mapped[int] = mapped_column(ForeignKey("participant.id"))
    amount: Mapped[int] = mapped_column(Money)
    is_current: Mapped[bool] = mapped_column(Boolean, default=True)


class PaymentImport(Base):
    """A payment (SP2D) or receipt file read once: its hash lets the inbox flow skip it next time."""

    __tablename__ = "payment_import"
    __table_args__ = (UniqueConstraint("kind", "sha256"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # pembayaran|penerimaan
    program: Mapped[str | None] = mapped_column(String(40))
    path: Mapped[str] = mapped_column(String(500))
    sha256: Mapped[str] = mapped_column(String(64))
    rows: Mapped[int] = mapped_column(Integer, default=0)
    summary: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    imported_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)


class Receipt(Base):
    """BPJS's confirmation that an SP2D's money arrived: closes SP2D <-> invoice <-> receipt."""

    __tablename__ = "receipt"
    __table_args__ = (UniqueConstraint("nomor_sp2d"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    nomor_sp2d: Mapped[str] = mapped_column(String(100))
    tanggal_terima: Mapped[dt.date] = mapped_column(Date)
    jumlah: Mapped[int] = mapped_column(Money)
    program: Mapped[str | None] = mapped_column(String(40))
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payment.id"), index=True)
    status: Mapped[str] = mapped_column(String(20))  # ReceiptStatus
    note: Mapped[str | None] = mapped_column(Text)
    import_id: Mapped[int | None] = mapped_column(ForeignKey("payment_import.id"))
    source: Mapped[str | None] = mapped_column(String(500))
    source_row: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)


class PaymentReminder(Base):
    """One reminder (due soon, overdue, lapse) per subject and window, whatever the number of runs:
    the subject is an invoice (`<number>:r<rev>`) or a payer (`<program>:<payer>`)."""

    __tablename__ = "payment_reminder"
    __table_args__ = (UniqueConstraint("kind", "subject", "window_start"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # reminder_due|overdue|lapse_warning
    subject: Mapped[str] = mapped_column(String(200))
    window_start: Mapped[dt.date] = mapped_column(Date)
    program: Mapped[str] = mapped_column(String(40))
    notification_key: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)


# --- The counter (`iuran/web/`): its accounts, login attempts, audit trail and uploads


class Role(StrEnum):
    """Who an account of the counter speaks for: a village, a partner OPD over its villages,
    Disnaker, BKAD or the BPJS branch."""

    DESA = "desa"
    OPD = "opd"
    DISNAKER = "disnaker"
    BKAD = "bkad"
    BPJS = "bpjs"


class WebUser(Base):
    """An account of the counter: an Argon2 hash, never the password; scoped to a program and, for
    a village or an OPD, to its villages (dotted codes)."""

    __tablename__ = "web_user"
    __table_args__ = (UniqueConstraint("username"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(80))
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))  # Role
    program: Mapped[str] = mapped_column(String(40))
    villages: Mapped[list[str]] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)
    #: the generation of the account's sessions: a cookie of another generation is refused;
    #: logging out and a new password raise it (`iuran.web.accounts.revoke_sessions`)
    session_epoch: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class LoginAttempt(Base):
    """One login attempt: the recent failures of a username from an address limit the next ones."""

    __tablename__ = "login_attempt"
    __table_args__ = (Index("ix_login_attempt_username_address_at", "username", "address", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(80))
    address: Mapped[str] = mapped_column(String(64))
    ok: Mapped[bool] = mapped_column(Boolean)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)


class AuditEvent(Base):
    """Who did what to which object, when: every login, upload and download of the counter.
    `object` and `detail` name files and counts, never a whole NIK."""

    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now, index=True)
    username: Mapped[str | None] = mapped_column(String(80))
    role: Mapped[str | None] = mapped_column(String(20))
    address: Mapped[str | None] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(40))
    object: Mapped[str | None] = mapped_column(String(500))
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class RosterUpload(Base):
    """A roster handed in at the counter, with the verdict the operator was shown (counts only):
    `stored` is the name it landed under in the month's inbox, None when refused whole."""

    __tablename__ = "roster_upload"
    __table_args__ = (Index("ix_roster_upload_program_scope", "program", "scope"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)
    username: Mapped[str] = mapped_column(String(80))
    program: Mapped[str] = mapped_column(String(40))
    period: Mapped[str] = mapped_column(String(7))
    scope: Mapped[str] = mapped_column(String(80))  # the village code, or `opd-<username>`
    original_name: Mapped[str] = mapped_column(String(255))
    stored: Mapped[str | None] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64))
    accepted: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)
    code: Mapped[str | None] = mapped_column(String(40))
    message: Mapped[str | None] = mapped_column(Text)


class ClaimType(StrEnum):
    """What BPJS paid a worker or his heirs: work accident, death, a child's scholarship."""

    JKK = "JKK"
    JKM = "JKM"
    BEASISWA = "beasiswa"


class Claim(Base):
    """A benefit BPJS paid to a program's worker (`iuran.claims`): what the premiums bought. One row
    per claim: `claim_key` is BPJS's claim number, or `<participant>|<jenis>|<tanggal>` when the list
    has none, so a list imported twice adds nothing. `kode_desa` is the village that billed the worker
    (his last line of the program up to the claim's month), kept for the per-village figures."""

    __tablename__ = "claim"
    __table_args__ = (UniqueConstraint("program", "claim_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    program: Mapped[str] = mapped_column(String(40))
    claim_key: Mapped[str] = mapped_column(String(120))
    participant_id: Mapped[int] = mapped_column(ForeignKey("participant.id"), index=True)
    jenis: Mapped[str] = mapped_column(String(10))  # ClaimType
    tanggal: Mapped[dt.date] = mapped_column(Date)  # the event: death, accident; else the claim's
    nilai: Mapped[int] = mapped_column(Money)
    nomor_klaim: Mapped[str | None] = mapped_column(String(100))
    kode_desa: Mapped[str] = mapped_column(String(13))
    source_file: Mapped[str] = mapped_column(String(255))
    imported_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)


__all__ = [
    "LIVE",
    "AuditEvent",
    "Base",
    "Claim",
    "ClaimType",
    "ConflictStatus",
    "ContributionLine",
    "CreditNote",
    "CreditNoteLine",
    "Cycle",
    "CycleStatus",
    "DocumentState",
    "Invoice",
    "InvoiceCounter",
    "LoginAttempt",
    "Membership",
    "Notification",
    "NotificationStatus",
    "Participant",
    "Payment",
    "PaymentAllocation",
    "PaymentImport",
    "PaymentReminder",
    "PaymentState",
    "PaymentStatus",
    "Receipt",
    "ReceiptStatus",
    "RegistryConflict",
    "Rejection",
    "Role",
    "RosterFile",
    "RosterFileStatus",
    "RosterUpload",
    "WebUser",
    "func",
]
