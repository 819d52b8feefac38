"""One roster file handed in at the counter: the cycle's own verdict on it, then its landing in the
month's inbox, so that the scheduled cycle and any rerun read exactly what the operator was shown.

The verdict is `read_roster_file` + `validate_rows` (the collect and validate steps of
`iuran.month`), run on a staged copy under the name the file will have in the inbox. The file lands
under a name the server chooses (`loket-<village>.<ext>`, or `loket-opd-<account>.<ext>`) through a
temporary file and a rename; the version it replaces is kept in `.sebelumnya/` (a hidden folder,
which the roster reader ignores). A file refused whole, or with rows for villages outside the
account's, does not land: the previous version stays in force.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from iuran.db.models import RosterUpload
from iuran.files import private_folder, write_atomic
from iuran.intake.read import check_file
from iuran.intake.refusal import FileRefused
from iuran.nik import mask_series
from iuran.periods import Period
from iuran.programs import Program
from iuran.rosters.columns import LABELS, LIMITS
from iuran.rosters.read import read_roster_file
from iuran.rosters.validate import validate_rows
from iuran.web.accounts import User
from iuran.web.audit import masked

PREVIOUS = ".sebelumnya"  # hidden: never read by the cycle
OTHER_VILLAGE = "LOKET_DESA_LAIN"


@dataclass(frozen=True)
class Verdict:
    """What the operator is shown: `stored` is the inbox name, None when the file did not land."""

    original_name: str
    sha256: str
    stored: str | None
    accepted: int = 0
    code: str | None = None  # why the whole file was refused
    message: str | None = None
    warnings: tuple[str, ...] = ()
    #: refused rows: source_row (the Excel row), column, code, message, nik (masked), nama
    rejected: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def landed(self) -> bool:
        return self.stored is not None


def stored_name(user: User, suffix: str) -> str:
    return f"loket-{user.scope}{suffix}"


@contextlib.contextmanager
def _one_at_a_time(staging: Path, scope: str) -> Iterator[None]:
    """Two uploads of the same account land one after the other (a double click, two tabs)."""
    with open(private_folder(staging) / f"{scope}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _refused(name: str, sha: str, code: str, message: str | None) -> Verdict:
    return Verdict(name, sha, None, code=code, message=message)


def _shown(rejected: pd.DataFrame) -> pd.DataFrame:
    out = rejected[["source_row", "column", "code", "message", "nama"]].copy()
    out["column"] = out["column"].map(LABELS).fillna(out["column"])  # what the header says
    out.insert(4, "nik", mask_series(rejected["nik"]))
    return out.sort_values("source_row", kind="stable").reset_index(drop=True)


def judge(path: Path, user: User, program: Program, period: Period, data_sha: str) -> Verdict:
    """The cycle's verdict on the staged file `path` (named as it will be in the inbox)."""
    rows, verdict = read_roster_file(
        str(path),
        relative_to=str(path.parent),
        regency=program.regency,
        village_limit=program.per_village,
    )
    if rows is None:
        return _refused(path.name, data_sha, verdict.code or "BERKAS_RUSAK", verdict.message)
    checked = validate_rows(rows, program, period)
    villages = checked.accepted["kode_desa"].astype(str)
    foreign = sorted(set(villages) - set(user.villages))
    if foreign:
        shown = ", ".join(foreign[:5]) + (" …" if len(foreign) > 5 else "")
        return _refused(
            path.name,
            data_sha,
            OTHER_VILLAGE,
            f"Berkas memuat {int((~villages.isin(user.villages)).sum())} baris untuk desa lain "
            f"({shown}); akun ini hanya menyerahkan data desa {', '.join(user.villages)}. "
            "Berkas tidak disimpan: perbaiki lalu unggah lagi.",
        )
    counts = villages.value_counts()
    limit, target = program.limit_per_village, program.target_per_village
    warnings = [
        f"Desa {code}: {n} baris diterima, batas desa {limit}; "
        "kelebihannya ditolak saat siklus (KUOTA_DESA_PENUH)."
        for code, n in counts.items()
        if limit is not None and n > limit
    ] + [
        f"Desa {code}: {n} baris diterima, di bawah target {target} pekerja per desa "
        f"(kurang {target - n})."
        for code, n in counts.items()
        if target is not None and n < target
    ]
    if verdict.message:
        warnings.insert(0, verdict.message)
    return Verdict(
        path.name,
        data_sha,
        path.name,
        accepted=len(checked.accepted),
        warnings=tuple(warnings),
        rejected=_shown(checked.rejected),
    )


def land(folder: Path, name: str, data: bytes, now: dt.datetime) -> Path:
    """`data` becomes `folder/name` atomically; the versions it replaces (the same name, or the
    same name with another suffix) move to `folder/.sebelumnya/<time>-<name>`."""
    folder.mkdir(parents=True, exist_ok=True)
    previous = folder / PREVIOUS
    stamp = now.strftime("%Y%m%dT%H%M%S%f")
    target = folder / name
    stem = PurePosixPath(name).stem
    if target.exists():
        previous.mkdir(exist_ok=True)
        os.link(target, previous / f"{stamp}-{name}")  # the old bytes stay there after the rename
    write_atomic(target, data, mode=0o600)
    for other in folder.glob(f"{stem}.*"):
        if other.name != name:
            previous.mkdir(exist_ok=True)
            os.replace(other, previous / f"{stamp}-{other.name}")
    return target


def hand_in(
    data: bytes,
    original_name: str,
    user: User,
    program: Program,
    period: Period,
    inbox: Path,
    staging: Path,
    now: dt.datetime,
) -> Verdict:
    """Judge `data` as the cycle would and, unless refused whole, land it in the month's inbox."""
    sha = hashlib.sha256(data).hexdigest()
    suffix = PurePosixPath(original_name).suffix.lower()
    try:
        check_file(suffix, len(data), LIMITS)
    except FileRefused as exc:
        return _refused(original_name, sha, exc.code, exc.message)
    name = stored_name(user, suffix)
    with _one_at_a_time(staging, user.scope):
        work = Path(tempfile.mkdtemp(dir=private_folder(staging)))
        try:
            staged = write_atomic(work / name, data, mode=0o600)
            verdict = judge(staged, user, program, period, sha)
            if verdict.landed:
                land(inbox / program.code / str(period), name, data, now)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return replace(verdict, original_name=original_name)


def remember(session: Session, user: User, period: Period, verdict: Verdict) -> None:
    """The upload and its verdict (counts, no row data) in `roster_upload`."""
    session.add(
        RosterUpload(
            username=user.username,
            program=user.program,
            period=str(period),
            scope=user.scope,
            original_name=masked(verdict.original_name[:255]) or "",
            stored=verdict.stored,
            sha256=verdict.sha256,
            accepted=verdict.accepted,
            rejected=len(verdict.rejected),
            code=verdict.code,
            message=verdict.message,
        )
    )


def past_uploads(session: Session, user: User, limit: int = 50) -> list[RosterUpload]:
    """This account's scope's uploads (a village sees its own, whoever of its operators sent them)."""
    return list(
        session.scalars(
            select(RosterUpload)
            .where(RosterUpload.program == user.program, RosterUpload.scope == user.scope)
            .order_by(RosterUpload.id.desc())
            .limit(limit)
        )
    )
