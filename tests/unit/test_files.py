"""Atomic file writing (`iuran.files`): a reader sees the old file or the new one, never half."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from iuran.files import replace_if_changed, sweep_temps, temp_beside, write_atomic


def test_write_atomic_writes_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "a.pdf"
    write_atomic(target, b"x" * 100_000)
    assert target.read_bytes() == b"x" * 100_000
    assert [p.name for p in target.parent.iterdir()] == ["a.pdf"]


def test_write_atomic_sets_mode(tmp_path: Path) -> None:
    target = write_atomic(tmp_path / "peserta.xlsx", b"data", mode=0o600, fsync=True)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


def test_a_dead_writers_temp_is_swept_and_others_are_kept(tmp_path: Path) -> None:
    dead = tmp_path / ".a.pdf.abc123.tmp"
    other = tmp_path / ".b.pdf.abc123.tmp"
    dead.write_bytes(b"half")
    other.write_bytes(b"half")
    write_atomic(tmp_path / "a.pdf", b"new")
    assert not dead.exists()
    assert other.exists()  # another target's writer may still be at work
    sweep_temps(tmp_path)
    assert not other.exists()


def test_a_failed_write_keeps_the_previous_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "a.pdf"
    target.write_bytes(b"old")

    def broken(*_: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken)
    with pytest.raises(OSError, match="disk full"):
        write_atomic(target, b"new")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.pdf"]


def test_replace_if_changed_skips_the_same_bytes(tmp_path: Path) -> None:
    target = tmp_path / "r.xlsx"
    assert replace_if_changed(target, b"one") is True
    before = target.stat().st_ino
    assert replace_if_changed(target, b"one") is False
    assert target.stat().st_ino == before  # not renamed over
    assert replace_if_changed(target, b"two") is True
    assert target.read_bytes() == b"two"


def test_temp_beside_is_in_the_same_folder(tmp_path: Path) -> None:
    temp = temp_beside(tmp_path / "x" / "m.eml")
    assert temp.parent == tmp_path / "x"
    assert temp.name.startswith(".m.eml.") and temp.name.endswith(".tmp")
