"""A canonical dump of what a run leaves behind: database, documents and delivered mail.

Two runs that end in the same state give equal dumps, whatever ids, clocks and folders they had:

- **database**: every table (new tables and columns included automatically), without surrogate ids
  (a foreign key becomes the natural key of the row it points to: a participant's NIK, an invoice's
  number and revision, ...), with timestamps reduced to whether they are set, the answer kept for
  reruns as the next run would give it (`kept_answer`), rows sorted;
- **documents**: every file under `out/` but the outbox, by path, with its content (PDFs are
  deterministic: their bytes; spreadsheets: their cells; zips: their members);
- **mail**: every `.eml` of the file outbox: its notification key, headers but `Date`, text, and the
  names of its attachments.

Absolute paths are written relative to the run's root, so two copies of one input compare equal.
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import io
import json
import sqlite3
import zipfile
from collections import Counter
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from python_calamine import CalamineWorkbook

from iuran.mail.compose import outbox_name
from iuran.rerun import as_unchanged

#: Columns holding the moment something happened: only whether they are set is compared.
MOMENTS = {
    "created_at",
    "updated_at",
    "rendered_at",
    "sent_at",
    "imported_at",
    "locked_at",
    "next_attempt_at",
    # not a moment but a process (`@host:pid`) claiming a message being sent: it differs between any
    # two runs, so only whether a message is claimed is compared
    "claimed_by",
}
#: Columns that legitimately differ between a run and a crashed run plus its rerun.
LEGITIMATE = {
    ("cycle", "runs"),  # how many times the cycle was recorded: the rerun is one more
}
#: table -> columns of its natural key, for the foreign keys that point to it.
NATURAL = {
    "participant": ("nik",),
    "invoice": ("number", "revision"),
    "cycle": ("program", "period"),
    "payment": ("nomor_sp2d",),
    "payment_import": ("kind", "sha256"),
    "credit_note": ("number",),
}


def kept_answer(stored: str | None) -> Any:
    """The answer a month keeps for its reruns (`iuran.rerun.remember`), as the next run gives it.

    What must compare equal is what an unchanged rerun answers from it (`recall` passes the summary
    through `as_unchanged`): the figures, invoices, budget, notes, the village table and the roster
    fingerprint; a run after a crash that kept a different one would answer the next rerun wrongly.
    What it says about the run that kept it (status issued or unchanged, each invoice's action, the
    messages queued and sent) differs legitimately: the run after a crash finds part of the month
    done and reports doing less. The key (`input_hash`) is compared as stored: the same inputs.
    """
    if stored is None:
        return None
    kept = json.loads(stored)
    return kept | {"summary": as_unchanged(kept["summary"])} if kept else kept


#: Columns compared through what they mean rather than as stored.
MEANING: dict[tuple[str, str], Callable[[Any], Any]] = {("cycle", "summary"): kept_answer}
#: A change log for the rerun shortcut (`iuran.rerun`): how many updates happened, not what is.
SKIP_TABLES = {"alembic_version", "registry_change"}


def database(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
            if r[0] not in SKIP_TABLES
        ]
        keys = {
            t: {
                row[0]: tuple(row[1:])
                for row in conn.execute(f"SELECT id, {', '.join(cols)} FROM {t}")
            }
            for t, cols in NATURAL.items()
            if t in tables
        }
        out: dict[str, list[tuple[Any, ...]]] = {}
        for table in sorted(tables):
            info = conn.execute(f"PRAGMA table_info({table})").fetchall()
            columns = [c[1] for c in info]
            fks = {
                fk[3]: fk[2]  # from column -> referenced table
                for fk in conn.execute(f"PRAGMA foreign_key_list({table})").fetchall()
            }
            rows = []
            for values in conn.execute(f"SELECT * FROM {table}"):
                row: list[Any] = []
                for column, value in zip(columns, values, strict=True):
                    if column == "id" or (table, column) in LEGITIMATE:
                        continue
                    if column in fks and value is not None:
                        value = (fks[column], *keys[fks[column]][value])
                    elif column in MOMENTS:
                        value = f"{column} set" if value is not None else None
                    elif (table, column) in MEANING:
                        value = MEANING[table, column](value)
                    row.append((column, value))
                rows.append(tuple(row))
            out[table] = sorted(rows, key=repr)
        return out
    finally:
        conn.close()


def _xlsx(raw: bytes) -> list[Any]:
    book = CalamineWorkbook.from_filelike(io.BytesIO(raw))
    return [(name, book.get_sheet_by_name(name).to_python()) for name in book.sheet_names]


def content(name: str, raw: bytes) -> Any:
    """What a file says, independent of when it was written."""
    suffix = Path(name).suffix.lower()
    if suffix == ".xlsx":
        return _xlsx(raw)
    if suffix == ".zip":
        with zipfile.ZipFile(io.BytesIO(raw)) as zf:
            return [(n, content(n, zf.read(n))) for n in sorted(zf.namelist())]
    return hashlib.sha256(raw).hexdigest()  # PDFs included: the same document gives the same bytes


def documents(out: Path, outbox: Path) -> dict[str, Any]:
    return {
        str(p.relative_to(out)): content(p.name, p.read_bytes())
        for p in sorted(out.rglob("*"))
        if p.is_file() and outbox not in p.parents
    }


def message(raw: bytes) -> tuple[str, dict[str, Any]]:
    """One delivered message: its notification key, and its headers but `Date`, text, attachments.
    Line ends as a file has them: SMTP carries the same message with CRLF."""
    msg = email.message_from_bytes(raw.replace(b"\r\n", b"\n"), policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    body = msg.get_body(("plain",))
    return str(msg["X-Iuran-Notification"]), {
        "headers": sorted((k, str(v)) for k, v in msg.items() if k not in ("Date", "Content-Type")),
        "text": body.get_content() if body is not None else None,
        "attachments": [a.get_filename() for a in msg.iter_attachments()],
    }


def mails(outbox: Path) -> dict[str, dict[str, Any]]:
    """key -> the message, one per `.eml`; a file whose name is not its key's is an error."""
    found: dict[str, dict[str, Any]] = {}
    for path in sorted(outbox.iterdir()) if outbox.is_dir() else []:
        if path.name.startswith(".") or path.suffix != ".eml":
            found[f"stray file {path.name}"] = {}  # e.g. a temporary file a dead sender left
            continue
        key, found_message = message(path.read_bytes())
        assert path.name == outbox_name(key), f"{path.name} is not where {key} is written"
        assert key not in found, f"{key} delivered twice"
        found[key] = found_message
    return found


def dump(root: Path) -> dict[str, Any]:
    """Database, documents and mail of the run whose files are under `root`, paths made relative."""
    out = root / "out"
    state = {
        "database": database(root / "iuran.db"),
        "documents": documents(out, out / "outbox"),
        "mail": mails(out / "outbox"),
    }
    text = json.dumps(state, ensure_ascii=False, sort_keys=True, default=str)
    return dict(
        json.loads(text.replace(str(root.resolve()), "<root>").replace(str(root), "<root>"))
    )


def duplicates(state: dict[str, Any], settled: bool = True) -> dict[str, list[Any]]:
    """What must be unique in any state: invoice number + revision, the current line of a worker in
    a program's period, a sent notification. `settled` (not right after a crash, which may fall
    between a delivery and its record): every sent row has its message, every message its row."""
    db = state["database"]
    invoices = [dict(r) for r in db["invoice"]]
    lines = [dict(r) for r in db["contribution_line"]]
    sent = [dict(r)["idempotency_key"] for r in db["notification"] if dict(r)["status"] == "sent"]
    found: dict[str, Counter[Any]] = {
        "invoice": Counter((i["number"], i["revision"]) for i in invoices),
        "current line": Counter(
            (ln["program"], ln["period"], tuple(ln["participant_id"]))
            for ln in lines
            if ln["is_current"]
        ),
        "sent notification": Counter(sent),
    }
    problems = {what: [k for k, n in counts.items() if n > 1] for what, counts in found.items()}
    if settled:
        problems["sent but not delivered"] = sorted(set(sent) - set(state["mail"]))
        problems["delivered but not sent"] = sorted(set(state["mail"]) - set(sent))
    return {what: keys for what, keys in problems.items() if keys}
