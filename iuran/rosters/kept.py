"""What a month's read of its rosters keeps for the next run: every file's verdict and rows, in one
Arrow file in the owner-only folder (`kept_read_path`: it holds full NIKs, names and phones), so that
an admin's rerun after fixing one village's roster parses only the files whose bytes changed.

A kept read is used only when written by the same reader (`reader_version`: the reading modules,
the occupation table and the libraries), for the same regency and per-village guard.
"""

from __future__ import annotations

import hashlib
import json
import logging
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.ipc

from iuran import intake
from iuran.files import private_folder, temp_beside
from iuran.intake.cells import Table
from iuran.rosters.columns import ROW_COLUMNS, FileVerdict

log = logging.getLogger(__name__)
_DATA = Path(__file__).resolve().parent.parent / "data"
_ROSTERS = Path(__file__).resolve().parent

#: What a cycle keeps of what it read (`collect_rosters(keep=…)`), in `kept_read_path`'s folder
KEEP_NAME = ".rosters-read.arrow"


def kept_read_path(private: Path, program: str, period: str) -> Path:
    """Where a month's kept read lives: in the owner-only folder (`Settings.private`), never beside
    the documents, as it holds every roster row (full NIKs, names, phones)."""
    return private_folder(private / "rosters-read" / program / period) / KEEP_NAME


#: `_read`'s table for a file whose bytes are those of the last read (`collect_rosters(keep=…)`)
KEPT = Table({}, np.zeros(0, dtype=np.int64))
_ROW_TYPES = {c: "string[pyarrow]" for c in ROW_COLUMNS} | {
    "source_file": "string",
    "source_sheet": "string",
    "source_row": "int64",
}


@lru_cache(maxsize=1)
def _reader_version() -> str:
    """What, besides a file's bytes, decides what is read from it: the roster's reading modules
    (`read`, `columns`, this one), every module of `iuran.intake` (where the reading is done), the
    occupation table, the libraries."""
    h = hashlib.sha256()
    for name in ("read.py", "columns.py", "kept.py"):
        h.update(b"\0" + name.encode() + b"\0" + (_ROSTERS / name).read_bytes())
    h.update(b"\0" + (_DATA / "opensid-pekerjaan.csv").read_bytes())
    for source in sorted(Path(intake.__file__).parent.glob("*.py")):
        h.update(b"\0" + source.name.encode() + b"\0" + source.read_bytes())
    for part in (pa.__version__, pd.__version__, np.__version__):
        h.update(b"\0" + part.encode())
    return h.hexdigest()


def load_kept(
    path: Path, regency: str | None = None, village_limit: int | None = None
) -> tuple[dict[str, FileVerdict], pd.DataFrame | None]:
    """The verdicts and rows a run kept (`save_kept`); nothing if absent, unreadable or of
    another reader version (then every file is read)."""
    try:
        with pa.memory_map(str(path)) as source:
            table = pa.ipc.open_file(source).read_all()
        meta = json.loads((table.schema.metadata or {})[b"iuran"])
        if (meta.get("version"), meta.get("regency"), meta.get("village_limit")) != (
            _reader_version(),
            regency,
            village_limit,
        ):
            return {}, None
        verdicts = {v["path"]: FileVerdict(**v) for v in meta["files"] if v.get("sha256")}
        rows = table.to_pandas().astype(_ROW_TYPES)
    except (OSError, ValueError, KeyError, TypeError, pa.ArrowException):
        return {}, None
    return verdicts, rows[list(_ROW_TYPES)]


def save_kept(
    path: Path,
    verdicts: list[FileVerdict],
    rows: pd.DataFrame,
    regency: str | None = None,
    village_limit: int | None = None,
) -> None:
    """This read's verdicts (as read, before `collect_rosters` adds its notes) and rows, written
    atomically; never an error for the run (the next one reads everything instead)."""
    meta = {
        "version": _reader_version(),
        "regency": regency,
        "village_limit": village_limit,
        "files": [v.__dict__ for v in verdicts],
    }
    # one schema whatever the frame's Arrow layout (string or large_string): the same rows, the
    # same bytes
    schema = pa.schema(
        [(c, pa.int64() if t == "int64" else pa.string()) for c, t in _ROW_TYPES.items()]
    )
    table = pa.Table.from_pandas(rows[list(_ROW_TYPES)], schema=schema, preserve_index=False)
    table = table.replace_schema_metadata({"iuran": json.dumps(meta, sort_keys=True)})
    try:
        temp = temp_beside(path)  # streamed to it: the rows are never one more copy in memory
        with pa.OSFile(str(temp), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
            writer.write_table(table)
        temp.replace(path)
    except OSError as exc:
        log.warning("rosters read not kept for the next run: %s", type(exc).__name__)
