"""The BPJS branch at the counter: its status list (deceased, moved to wage employment, inactive;
`iuran.bpjs_status`) lands in the month's inbox under the name the cycle looks for
(`bpjs_status.csv|xlsx`), atomically and with the previous version kept, as a roster does
(`iuran.web.upload.land`); the mutation list and the receipts go through `board.report` and
`bkad.import_sp2d(kind=RECEIPT)`.

The list is read first by the cycle's own reader (`read_status_list`) on a staged copy: a list
with no usable row does not land, and the branch is told why.
"""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from iuran.bpjs_status import LIMITS, read_status_list
from iuran.files import private_folder, write_atomic
from iuran.intake.read import check_file
from iuran.intake.refusal import FileRefused
from iuran.periods import Period
from iuran.web.upload import land

STATUS_SUFFIXES = (".csv", ".xlsx")  # what `find_status_file` looks for


@dataclass(frozen=True)
class StatusVerdict:
    stored: str | None  # the inbox name, None when refused
    rows: int = 0
    counts: tuple[tuple[str, int], ...] = ()  # status -> rows
    notes: tuple[str, ...] = ()


def hand_in_status(
    data: bytes,
    original_name: str,
    program: str,
    period: Period,
    inbox: Path,
    staging: Path,
    now: dt.datetime,
) -> StatusVerdict:
    suffix = PurePosixPath(original_name).suffix.lower()
    if suffix not in STATUS_SUFFIXES:
        return StatusVerdict(None, notes=("Daftar status harus berkas .csv atau .xlsx.",))
    try:
        check_file(suffix, len(data), LIMITS)
    except FileRefused as exc:
        return StatusVerdict(None, notes=(exc.message,))
    name = f"bpjs_status{suffix}"
    work = Path(tempfile.mkdtemp(dir=private_folder(staging)))
    try:
        write_atomic(work / name, data, mode=0o600)
        rows, notes = read_status_list(work)
        if rows.empty:
            why = (*notes, "Tidak ada baris yang dapat dipakai; berkas tidak disimpan.")
            return StatusVerdict(None, notes=why)
        land(inbox / program / str(period), name, data, now)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    counts = rows["bpjs_status"].value_counts()
    return StatusVerdict(
        name,
        rows=len(rows),
        counts=tuple((str(k), int(v)) for k, v in counts.items()),
        notes=tuple(notes),
    )
