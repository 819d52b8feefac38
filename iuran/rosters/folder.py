"""The month's roster folder: which of its files are rosters, and what it holds as a whole.

Files in sub-folders count too; hidden files, Office lock files (`~$...`), `bpjs_status.*` (read by
the registry step), the claims list `klaim*.csv|xlsx` (`iuran.claims`) and system junk are ignored.
A symbolic link that leads out of the folder is never read (`outside_listed`). `folder_digest` is
one hash of everything in the folder: equal digests mean a rerun would read what the last run read
(`iuran.rerun`). Local paths and fsspec URLs alike.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import PurePosixPath
from typing import Any

import fsspec
from fsspec.implementations.local import LocalFileSystem

from iuran.intake.read import SUPPORTED
from iuran.rosters.columns import LIMITS

_IGNORED_NAMES = {"thumbs.db", "desktop.ini"}


def filesystem(url: str) -> tuple[fsspec.AbstractFileSystem, str]:
    fs, root = fsspec.core.url_to_fs(url)
    return fs, root


def is_claims_file(name: str) -> bool:
    """BPJS's claims list in a month's folder (`klaim*.csv|xlsx`, read by `iuran.claims`), never a
    roster."""
    lower = name.lower()
    return lower.startswith("klaim") and lower.endswith((".csv", ".xlsx"))


def _ignored(relative: str) -> bool:
    parts = PurePosixPath(relative).parts
    name = parts[-1].lower() if parts else ""
    return (
        any(p.startswith((".", "~")) for p in parts)
        or name.startswith("bpjs_status.")
        or is_claims_file(name)
        or name in _IGNORED_NAMES
    )


def relative_path(path: str, root: str) -> str:
    root = root.rstrip("/")
    return path[len(root) + 1 :] if root and path.startswith(root + "/") else path


def candidates(
    folder: str,
) -> tuple[fsspec.AbstractFileSystem, str, dict[str, dict[str, Any]]]:
    """Every file under `folder` that is not ignored, sorted (fs paths), with what the listing knows
    of it (fsspec's info: `size`, and `islink` for a local file)."""
    fs, root = filesystem(folder)
    if not fs.isdir(root):
        raise FileNotFoundError(f"roster folder not found: {folder}")
    found = fs.find(root, detail=True)
    return fs, root, {p: found[p] for p in sorted(found) if not _ignored(relative_path(p, root))}


def _url(fs: fsspec.AbstractFileSystem, path: str) -> str:
    return path if isinstance(fs, LocalFileSystem) else fs.unstrip_protocol(path)


def list_roster_files(folder: str) -> list[str]:
    """CSV, XLSX and XLS files under `folder` (local path or fsspec URL), sorted; ignored files left out."""
    fs, _, found = candidates(folder)
    return [_url(fs, p) for p in found if PurePosixPath(p).suffix.lower() in SUPPORTED]


def folder_digest(folder: str) -> str:
    """One hash of every file under `folder` (names and bytes, ignored files and the BPJS status list
    included): equal digests mean a rerun would read exactly what the last run read."""
    fs, root = filesystem(folder)
    if not fs.isdir(root):
        return "no-folder"
    digest = hashlib.sha256()
    found = fs.find(root, detail=True)
    outside = outside_listed(fs, found, root)  # only links resolved, as collect does
    for path in sorted(found):
        try:
            if outside[path]:  # never read (collect refuses it): where it points is enough
                content = "link:" + os.path.realpath(path)
            elif (size := fs.size(path) or 0) > LIMITS.max_bytes:  # refused unread too
                content = f"big:{size}:{fs.modified(path).timestamp()}"
            else:
                content = sha256_stream(fs, path)
        except OSError as exc:  # a dangling link, a file gone since listed: collect refuses it too
            content = f"unreadable:{type(exc).__name__}"
        digest.update(f"{relative_path(path, root)}\0{content}\n".encode())
    return digest.hexdigest()


def sha256_stream(fs: fsspec.AbstractFileSystem, path: str) -> str:
    digest = hashlib.sha256()
    with fs.open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def outside(fs: fsspec.AbstractFileSystem, path: str, root: str) -> bool:
    """A local path that leads out of `root` once links are followed (a symlink to `/etc/passwd` or
    to another program's inbox): its content must never be read as a roster."""
    if not root or not isinstance(fs, LocalFileSystem):
        return False
    return _leads_out(path, os.path.realpath(root))


def _leads_out(path: str, real_root: str) -> bool:
    return os.path.commonpath([os.path.realpath(path), real_root]) != real_root


def outside_listed(
    fs: fsspec.AbstractFileSystem, found: dict[str, dict[str, Any]], root: str
) -> dict[str, bool]:
    """`_outside` for every file of a listing of `root`, resolving only the links.

    fsspec's local walk never enters a linked folder (it lists the link itself, as a file), so a
    listed path that is not a link has only real folders between `root` and itself: it is inside.
    Resolving every path instead cost ~0.1 ms a file."""
    if not isinstance(fs, LocalFileSystem):
        return dict.fromkeys(found, False)
    real_root = os.path.realpath(root)
    return {
        p: bool(info.get("islink", True)) and _leads_out(p, real_root) for p, info in found.items()
    }
