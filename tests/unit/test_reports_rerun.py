"""A rerun rewrites only the reports whose content changed, and what it leaves is what a fresh
write gives, byte for byte (the manifest of `iuran.reports._Manifest`)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from iuran import reports
from iuran.mutation_list import write_mutation_list
from iuran.periods import Period
from iuran.program_report import write_program_report
from iuran.programs import Program, load_program
from iuran.reports import write_rejection_reports
from tests.unit.test_program_report import make_report
from tests.unit.test_reports import NAMES, A, B, C, billed_frame, files_frame, rejected_frame

PERIOD = Period(2026, 2)


@pytest.fixture(scope="module")
def lebak() -> Program:
    return load_program("lebak")


def write(
    folder: Path,
    lebak: Program,
    rejected: pd.DataFrame | None = None,
    refused: pd.DataFrame | None = None,
) -> dict[str, Path]:
    """The village reports into `folder/penolakan`, zipped into `folder/penolakan.zip`."""
    return write_rejection_reports(
        rejected_frame() if rejected is None else rejected,
        files_frame() if refused is None else refused,
        NAMES,
        folder / "penolakan",
        program=lebak,
        period=PERIOD,
        zip_path=folder / "penolakan.zip",
    )


def files(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def stamps(folder: Path) -> dict[str, tuple[int, int]]:
    """Each file's inode and mtime: a file written again (a new file renamed over it) changes."""
    return {
        str(p.relative_to(folder)): (p.stat().st_ino, p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def rewritten(before: dict[str, tuple[int, int]], after: dict[str, tuple[int, int]]) -> set[str]:
    return {name for name, stamp in after.items() if before.get(name) != stamp}


def one_row_changed() -> pd.DataFrame:
    """Village B's first rejection with another message: only B's report changes."""
    changed = rejected_frame()
    at = changed.index[changed["kode_desa"].eq(B)][0]
    changed.loc[at, "message"] = "NIK harus 16 digit (diperbaiki pesannya)"
    return changed


def test_an_unchanged_rerun_rewrites_nothing(tmp_path: Path, lebak: Program) -> None:
    write(tmp_path, lebak)
    before = stamps(tmp_path)
    assert "penolakan/.manifest.json" in before
    write(tmp_path, lebak)
    assert rewritten(before, stamps(tmp_path)) == set()


def test_a_changed_row_rewrites_its_village_only_and_equals_a_fresh_write(
    tmp_path: Path, lebak: Program
) -> None:
    rerun, fresh = tmp_path / "rerun", tmp_path / "fresh"
    write(rerun, lebak)
    before = stamps(rerun)
    write(rerun, lebak, one_row_changed())
    assert rewritten(before, stamps(rerun)) == {
        f"penolakan/penolakan-{B}.xlsx",
        "penolakan.zip",  # one of its members changed
        "penolakan/.manifest.json",
    }
    write(fresh, lebak, one_row_changed())
    assert files(rerun) == files(fresh)


def test_a_village_now_clean_is_pruned_and_the_zip_follows(tmp_path: Path, lebak: Program) -> None:
    rerun, fresh = tmp_path / "rerun", tmp_path / "fresh"
    without_c = rejected_frame().query("kode_desa != @C and not source_file.str.contains(@C)")
    refused = files_frame().query("~path.str.contains(@C, regex=False)")
    write(rerun, lebak)
    before = stamps(rerun)
    written = write(rerun, lebak, without_c, refused)
    assert C not in written and not (rerun / "penolakan" / f"penolakan-{C}.xlsx").exists()
    assert rewritten(before, stamps(rerun)) == {"penolakan.zip", "penolakan/.manifest.json"}
    write(fresh, lebak, without_c, refused)
    assert files(rerun) == files(fresh)


def test_a_deleted_report_is_written_again(tmp_path: Path, lebak: Program) -> None:
    written = write(tmp_path, lebak)
    expected = files(tmp_path)
    written[A].unlink()
    before = stamps(tmp_path)
    write(tmp_path, lebak)
    assert files(tmp_path) == expected
    assert rewritten(before, stamps(tmp_path)) == {f"penolakan/penolakan-{A}.xlsx"}


def test_a_report_changed_on_disk_is_written_again(tmp_path: Path, lebak: Program) -> None:
    written = write(tmp_path, lebak)
    expected = files(tmp_path)
    written[C].write_bytes(b"edited by hand")
    (tmp_path / "penolakan.zip").write_bytes(b"truncated")
    write(tmp_path, lebak)
    assert files(tmp_path) == expected


@pytest.mark.parametrize(
    "manifest", [b"{not json", b'{"version": "other code", "files": {}}', b"[]"]
)
def test_an_unreadable_or_foreign_manifest_trusts_nothing(
    tmp_path: Path, lebak: Program, manifest: bytes
) -> None:
    written = write(tmp_path, lebak)
    expected = files(tmp_path)
    for path in written.values():
        path.write_bytes(b"stale")  # what a manifest that is not believed must not keep
    (tmp_path / "penolakan" / reports.MANIFEST).write_bytes(manifest)
    write(tmp_path, lebak)
    assert files(tmp_path) == expected


def test_a_run_that_died_before_its_manifest_is_caught(tmp_path: Path, lebak: Program) -> None:
    """A report rewritten by a run that died before saving the manifest does not have the digest
    the manifest records: the next run writes it again rather than trusting it."""
    run, fresh = tmp_path / "run", tmp_path / "fresh"
    manifest = run / "penolakan" / reports.MANIFEST
    write(run, lebak)
    old = manifest.read_bytes()
    write(run, lebak, one_row_changed())  # B's report and the zip change ...
    manifest.write_bytes(old)  # ... and the record of it is lost
    write(run, lebak)
    write(fresh, lebak)
    assert files(run) == files(fresh)


def test_program_files_with_the_same_bytes_are_left_alone(tmp_path: Path, lebak: Program) -> None:
    ended = pd.DataFrame({"nik": [], "kode_desa": [], "reason": []}, dtype="string")
    mutations = tmp_path / "mutasi.xlsx"
    write_mutation_list(billed_frame(), ended, ended, lebak, PERIOD, mutations)
    pdf = write_program_report(make_report(), tmp_path / "laporan.pdf")
    before = stamps(tmp_path)
    write_mutation_list(billed_frame(), ended, ended, lebak, PERIOD, mutations)
    write_program_report(make_report(), pdf)
    assert rewritten(before, stamps(tmp_path)) == set()
    write_mutation_list(billed_frame().iloc[1:], ended, ended, lebak, PERIOD, mutations)
    write_program_report(make_report(seed=2), pdf)
    assert rewritten(before, stamps(tmp_path)) == {"mutasi.xlsx", "laporan.pdf"}
    assert not list(tmp_path.glob(".*.tmp"))


def test_the_manifest_depends_on_the_content_only(tmp_path: Path, lebak: Program) -> None:
    """The crash suite compares whole output folders after a rerun with an uninterrupted run's:
    the manifest must not depend on when or by which run the files were written."""
    write(tmp_path / "one", lebak)
    write(tmp_path / "two", lebak, one_row_changed())
    write(tmp_path / "two", lebak)
    assert files(tmp_path / "one") == files(tmp_path / "two")
