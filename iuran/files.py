"""Writing files so that no reader ever sees half of one: temporary file beside it, then a rename.

One home for the pattern every writer of the project needs (documents, reports, the file outbox,
the demo rosters, the roster read cache). A writer that died leaves only a `.<name>.*.tmp` beside
its target; the next writer of that target sweeps it (one writer a target at a time: the cycle
lease, the outbox claim).
"""

from __future__ import annotations

import glob
import os
import tempfile
from pathlib import Path


def sweep_temps(directory: Path, name: str = "*") -> None:
    """Remove what writers of `directory/<name>` that died left behind (`name` is a glob)."""
    for stale in directory.glob(f".{name}.*.tmp"):
        stale.unlink(missing_ok=True)


def temp_beside(path: Path, *, sweep: bool = True) -> Path:
    """A new empty temporary file in `path`'s folder, named after it (a rename away from `path`).

    `sweep=False`: the caller already swept the folder, once for many targets.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    if sweep:
        sweep_temps(path.parent, glob.escape(path.name))
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    return Path(temp)


def write_atomic(
    path: Path, data: bytes, *, sweep: bool = True, fsync: bool = False, mode: int | None = None
) -> Path:
    """`data` to `path` through a temporary file in the same folder and a rename.

    `fsync`: the bytes reach the disk before the rename (a message that must survive a power cut);
    `mode`: the file's permissions (`0o600` for anything that holds personal data).
    """
    temp = temp_beside(path, sweep=sweep)
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_TRUNC)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            if fsync:
                os.fsync(fd)
        finally:
            os.close(fd)
        if mode is not None:
            os.chmod(temp, mode)
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return path


def replace_if_changed(path: Path, data: bytes) -> bool:
    """`data` to `path` atomically unless the file already holds exactly these bytes: True when
    written. A rename over an existing file costs a flush on ext4 (`auto_da_alloc`), and a rerun
    mostly produces what is already there."""
    sweep_temps(path.parent, glob.escape(path.name))
    try:
        if path.stat().st_size == len(data) and path.read_bytes() == data:
            return False
    except FileNotFoundError:
        pass
    write_atomic(path, data, sweep=False)
    return True


def private_folder(path: Path) -> Path:
    """`path` as a folder only its owner may enter (`0700`), made when missing: where files with
    personal data or secrets live that a web server must never serve (the roster read cache, the
    counter's staging area and session secret)."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if path.stat().st_mode & 0o077:
        os.chmod(path, 0o700)
    return path
