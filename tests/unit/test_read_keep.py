"""A rerun reads only the roster files whose bytes changed (`collect_rosters(keep=…)`), and gets
exactly what reading every file would give."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from iuran.intake import read as intake_read
from iuran.rosters import kept, read
from iuran.rosters.columns import Collected
from iuran.rosters.read import collect_rosters
from tests.unit.test_read import HEADER, ROW, _xlsx


def _row(nik: str, desa: str = "36.02.01.2002") -> str:
    return ROW.replace("3602011505900001", nik).replace("36.02.01.2002", desa)


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    """Every kind of file a folder holds: CSV and XLSX rosters, a twin, a refused and an empty file."""
    folder = tmp_path / "inbox"
    (folder / "kec").mkdir(parents=True)
    rows = [_row(f"36020115059000{i:02d}") for i in range(1, 6)]
    (folder / "36.02.01.2002.csv").write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    (folder / "kec" / "twin.csv").write_bytes((folder / "36.02.01.2002.csv").read_bytes())
    _xlsx(
        folder / "36.02.01.2003.xlsx",
        [
            HEADER.split(";"),
            *(_row(f"36020115059001{i:02d}", "36.02.01.2003").split(";") for i in range(3)),
        ],
    )
    (folder / "rusak.xlsx").write_bytes(b"not a workbook")
    (folder / "kosong.csv").write_text(f"{HEADER}\n;;;;;;;;\n", encoding="utf-8")
    return folder


def _same(a: Collected, b: Collected) -> None:
    pd.testing.assert_frame_equal(a.rows, b.rows)
    pd.testing.assert_frame_equal(a.files, b.files)


def _count_parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The files parsed from here on, by the parser each went to (`read_csv`, `read_xlsx`)."""
    parsed: list[str] = []
    for name in ("read_csv", "read_xlsx"):
        real = getattr(intake_read, name)

        def spy(*args: Any, real: Any = real, name: str = name) -> Any:
            parsed.append(name)
            return real(*args)

        monkeypatch.setattr(intake_read, name, spy)
    return parsed


def test_an_unchanged_folder_is_read_from_what_was_kept(
    inbox: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    keep = tmp_path / "kept.arrow"
    first = collect_rosters(str(inbox), keep)
    _same(first, collect_rosters(str(inbox)))
    assert set(first.files["status"]) == {"read", "rejected"}
    parsed = _count_parses(monkeypatch)
    again = collect_rosters(str(inbox), keep)
    assert parsed == []  # the refused file too: same bytes, same verdict
    _same(again, first)


def test_a_changed_file_alone_is_read_again(
    inbox: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    keep = tmp_path / "kept.arrow"
    collect_rosters(str(inbox), keep)
    path = inbox / "36.02.01.2002.csv"
    path.write_text(
        path.read_text(encoding="utf-8").replace("Budi", "Budiman", 2), encoding="utf-8"
    )
    (inbox / "36.02.01.2004.csv").write_text(f"{HEADER}\n{_row('3602011505900099', '36.02.01.2004')}\n")  # fmt: skip
    parsed = _count_parses(monkeypatch)
    changed = collect_rosters(str(inbox), keep)
    assert parsed == ["read_csv", "read_csv"]
    monkeypatch.undo()
    _same(changed, collect_rosters(str(inbox)))
    assert "isi berkas sama persis" not in " ".join(changed.files["message"].dropna())


def test_the_same_bytes_under_another_name_are_read_under_that_name(
    inbox: Path, tmp_path: Path
) -> None:
    keep = tmp_path / "kept.arrow"
    collect_rosters(str(inbox), keep)
    (inbox / "36.02.01.2003.xlsx").rename(inbox / "36.02.01.2005.xlsx")
    moved = collect_rosters(str(inbox), keep)
    _same(moved, collect_rosters(str(inbox)))
    assert "36.02.01.2005.xlsx" in set(moved.rows["source_file"])


@pytest.mark.parametrize("spoil", ["version", "garbage", "missing"])
def test_a_keep_it_cannot_trust_is_ignored(
    inbox: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spoil: str
) -> None:
    keep = tmp_path / "kept.arrow"
    collect_rosters(str(inbox), keep)
    if spoil == "version":
        kept._reader_version.cache_clear()
        monkeypatch.setattr(kept, "_reader_version", lambda: "another reader")
    elif spoil == "garbage":
        keep.write_bytes(b"ARROW1 but not really")
    else:
        keep.unlink()
    parsed = _count_parses(monkeypatch)
    again = collect_rosters(str(inbox), keep)
    assert sorted(parsed) == ["read_csv", "read_csv", "read_csv", "read_xlsx"]  # all parsed
    monkeypatch.undo()
    _same(again, collect_rosters(str(inbox)))


def test_the_keep_has_the_same_bytes_whether_files_were_reused_or_read(
    inbox: Path, tmp_path: Path
) -> None:
    """A run that reused every file keeps what a run that read every file keeps (the crash tests
    compare whole output folders)."""
    fresh, reused = tmp_path / "fresh.arrow", tmp_path / "reused.arrow"
    collect_rosters(str(inbox), fresh)
    reused.write_bytes(fresh.read_bytes())
    collect_rosters(str(inbox), reused)
    assert reused.read_bytes() == fresh.read_bytes()


def test_the_reader_version_covers_every_intake_module(monkeypatch: pytest.MonkeyPatch) -> None:
    """Reading is done in `iuran.intake`: a change there must invalidate what was kept too."""
    hashed: list[Path] = []
    real = Path.read_bytes

    def spy(self: Path) -> bytes:
        hashed.append(self.resolve())
        return real(self)

    kept._reader_version.cache_clear()
    monkeypatch.setattr(Path, "read_bytes", spy)
    kept._reader_version()
    monkeypatch.undo()
    kept._reader_version.cache_clear()
    modules = sorted(Path(intake_read.__file__).resolve().parent.glob("*.py"))
    assert len(modules) >= 6 and set(modules) <= set(hashed)
    assert Path(read.__file__).resolve() in hashed
