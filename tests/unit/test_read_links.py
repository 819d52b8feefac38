"""Links in a roster folder, now that collect resolves only the entries the listing marks as links,
and local files are read with plain `open` (other filesystems still through fsspec)."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest
from fsspec.implementations.local import LocalFileSystem

from iuran.rosters import folder, read
from iuran.rosters.read import collect_rosters, read_roster_file

HEADER = "NIK;Nama Lengkap;Tgl Lahir;JK;Pekerjaan;Kode Desa;Alamat;No HP;Penghasilan"
ROW = "3602011505900001;Budi Santoso;15/05/1990;L;Petani;36.02.01.2002;Kp. Cibeber;0812;1.500.000"
OUT = "tautan (symlink) ke luar folder roster"


def _roster(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{HEADER}\n{ROW}\n", encoding="utf-8")
    return path


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    """Files, a sub-folder, and every kind of link, in and out of the folder."""
    outside = tmp_path / "outside"
    _roster(outside / "secret.csv")
    _roster(outside / "dir" / "x.csv")
    folder = tmp_path / "inbox"
    _roster(folder / "a.csv")
    _roster(folder / "sub" / "deeper" / "b.csv")
    links = {
        "in.csv": "a.csv",
        "sub/up.csv": "../a.csv",
        "sub/via-dir.csv": "deeper/b.csv",
        "sub/deeplink": str(folder / "sub" / "deeper"),
        "sub/via-link.csv": "deeplink/b.csv",  # a link through a linked folder, still inside
        "out.csv": str(outside / "secret.csv"),
        "out-relative.csv": "../outside/secret.csv",
        "sub/out-up.csv": "../../outside/secret.csv",
        "outdir": str(outside / "dir"),
        "indir": "sub",
        "dangling.csv": "nope.csv",
        "passwd.csv": "/etc/passwd",
    }
    for name, target in links.items():
        os.symlink(target, folder / name)
    return folder


def test_links_are_judged_where_they_lead(inbox: Path) -> None:
    files = collect_rosters(str(inbox)).files.set_index("path")
    refused = files.loc[files["status"] == "rejected"]
    out = {p for p, m in refused["message"].items() if OUT in str(m)}
    assert out == {"out.csv", "out-relative.csv", "sub/out-up.csv", "outdir", "passwd.csv"}
    assert (refused.loc[sorted(out), "sha256"] == "").all()  # never read, not even hashed
    read_ok = set(files.index[files["status"] == "read"])
    assert read_ok == {
        "a.csv", "in.csv", "sub/up.csv", "sub/via-dir.csv", "sub/via-link.csv",
        "sub/deeper/b.csv",
    }  # fmt: skip
    assert files.loc["dangling.csv", "code"] == "BERKAS_RUSAK"
    assert "FileNotFoundError" in str(files.loc["dangling.csv", "message"])
    assert files.loc["indir", "code"] == "BERKAS_RUSAK"  # a folder link is listed, not entered


def test_a_folder_reached_through_a_link_reads_the_same(inbox: Path, tmp_path: Path) -> None:
    os.symlink(inbox, tmp_path / "inbox-link")
    direct = collect_rosters(str(inbox))
    linked = collect_rosters(str(tmp_path / "inbox-link"))
    assert linked.files.equals(direct.files)
    assert linked.rows.equals(direct.rows)


def test_only_links_are_resolved(inbox: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    resolved: list[str] = []
    realpath = os.path.realpath

    def counting(path: str, *args: object, **kwargs: object) -> str:
        resolved.append(str(path))
        return realpath(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(folder.os.path, "realpath", counting)
    collect_rosters(str(inbox))
    names = {Path(p).name for p in resolved}
    assert "a.csv" not in names and "b.csv" not in names  # plain files: inside by construction
    assert {"out.csv", "in.csv", "dangling.csv", "inbox"} <= names


def test_one_file_through_a_link_is_still_refused(inbox: Path) -> None:
    rows, verdict = read_roster_file(str(inbox / "out.csv"), relative_to=str(inbox))
    assert rows is None and verdict.code == "BERKAS_JENIS" and OUT in (verdict.message or "")
    rows, verdict = read_roster_file(str(inbox / "in.csv"), relative_to=str(inbox))
    assert rows is not None and verdict.status == "read"


def test_local_files_are_read_without_fsspec_file_objects(
    inbox: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: object, **kwargs: object) -> bytes:
        raise AssertionError("cat_file used for a local file")

    monkeypatch.setattr(LocalFileSystem, "cat_file", refuse)
    files = collect_rosters(str(inbox)).files
    assert (files.loc[files["path"] == "a.csv", "status"] == "read").all()


def test_the_size_limit_holds_for_files_and_links(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A plain file's size comes from the listing; a link's is asked when it is read."""
    folder = tmp_path / "inbox"
    big = _roster(folder / "a.csv")
    os.symlink("a.csv", folder / "link.csv")
    monkeypatch.setattr(read, "LIMITS", replace(read.LIMITS, max_bytes=big.stat().st_size - 1))
    files = collect_rosters(str(folder)).files.set_index("path")
    assert files["code"].to_dict() == {
        "a.csv": "BERKAS_TERLALU_BESAR",
        "link.csv": "BERKAS_TERLALU_BESAR",
    }


def test_a_dangling_link_is_part_of_the_folder_digest_without_failing_it(tmp_path: Path) -> None:
    """The rerun shortcut hashes the folder before anything is read: a link to nothing (collect
    refuses it) must not stop the run there."""
    inbox_dir = tmp_path / "inbox"
    _roster(inbox_dir / "a.csv")
    before = folder.folder_digest(str(inbox_dir))
    os.symlink("gone.csv", inbox_dir / "b.csv")
    after = folder.folder_digest(str(inbox_dir))
    assert after != before
    assert folder.folder_digest(str(inbox_dir)) == after
    [refused] = [v for v in collect_rosters(str(inbox_dir)).files.itertuples() if v.path == "b.csv"]
    assert refused.status == "rejected"
