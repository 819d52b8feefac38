"""The hostile corpus against the roster reader and a whole cycle.

(a) every corpus file gets its expected verdict, the heavy ones within bounded memory (peak RSS
growth measured, time reported); (b) one cycle over an inbox holding the whole corpus and three good
villages bills the good villages exactly as without the corpus and lists every bad file with its
Indonesian reason; (c) path tricks: links out of the inbox are never followed, dot files never read,
nothing is written outside the output folder.
"""

from __future__ import annotations

import resource
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import select

from iuran.db.models import ContributionLine, Invoice, Participant
from iuran.db.session import session_scope
from iuran.generate import generate_rosters
from iuran.rosters.codes import CODES
from iuran.rosters.read import collect_rosters, read_roster_file
from iuran.rosters.validate import validate_rows
from iuran.wilayah import villages
from tests.hostile.corpus import (
    CASES,
    GOOD_VILLAGES,
    PERIOD,
    Case,
    lebak,
    people,
    write_all,
    write_case,
    write_csv,
)
from tests.pipeline import run

T = TypeVar("T")

#: Cases that would cost time or memory if the reader let them: each is measured.
HEAVY = [
    "csv_200mb", "zip_bomb", "zip_lying_sizes", "xlsx_far_cells", "xlsx_shared_strings_count",
    "xlsx_million_rows", "xlsx_rows_without_r", "csv_10000_columns", "xlsx_10000_columns",
    "csv_one_line_4m_cells", "csv_10001_rows",
]  # fmt: skip
MEMORY_BOUND = 500 * 2**20


def _reset_peak() -> bool:
    """Reset this process's peak RSS (Linux), so that getrusage measures from here."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def measured(fn: Callable[[], T]) -> tuple[T, float, int]:
    """fn's result, its wall time and the growth of the peak RSS while it ran (bytes)."""
    _reset_peak()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    result = fn()
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return result, elapsed, (after - before) * 1024


def message_prefix(code: str) -> str:
    """The fixed Indonesian start of a code's message (before its first placeholder)."""
    return CODES[code].split("{")[0]


def assert_verdict(case: Case, folder: Path, path: Path) -> None:
    rows, verdict = read_roster_file(str(path), relative_to=str(folder))
    if case.file_code is not None:
        assert rows is None, case.name
        assert (verdict.status, verdict.code) == ("rejected", case.file_code), verdict
        assert verdict.message is not None
        assert verdict.message.startswith(message_prefix(case.file_code)), verdict.message
        assert "root:x:0:0" not in verdict.message  # nothing of a file's content leaks
        return
    assert rows is not None and verdict.status == "read", verdict
    assert len(rows) == verdict.rows
    checked = validate_rows(rows, lebak(), PERIOD)
    assert len(checked.accepted) == case.accepted, case.name
    assert set(checked.rejected["code"]) == case.row_codes, case.name
    assert len(checked.accepted) + len(checked.rejected) == len(rows)
    if case.note:
        assert case.note in (verdict.message or ""), verdict.message


def test_the_corpus_has_every_kind() -> None:
    assert len(CASES) >= 40
    codes = {c.file_code for c in CASES}
    assert codes >= {
        "BERKAS_TERLALU_BESAR", "BERKAS_RUSAK", "BERKAS_KOSONG", "BERKAS_JENIS",
        "BERKAS_TANPA_HEADER", None,
    }  # fmt: skip
    assert len({c.filename for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", [c for c in CASES if not c.big], ids=lambda c: c.name)
def test_each_corpus_file_gets_its_verdict(case: Case, tmp_path: Path) -> None:
    assert_verdict(case, tmp_path, write_case(case, tmp_path))


@pytest.mark.parametrize("name", HEAVY)
def test_heavy_files_are_refused_in_bounded_memory(
    name: str, tmp_path: Path, record_property: Callable[[str, Any], None]
) -> None:
    case = next(c for c in CASES if c.name == name)
    path = write_case(case, tmp_path)
    (rows, verdict), elapsed, growth = measured(
        lambda: read_roster_file(str(path), relative_to=str(tmp_path))
    )
    record_property("seconds", round(elapsed, 3))
    record_property("peak_rss_growth_mb", growth // 2**20)
    print(
        f"{name}: {path.stat().st_size / 2**20:.1f} MB file, {elapsed:.2f} s, +{growth // 2**20} MB"
    )
    assert rows is None and verdict.code == case.file_code, verdict
    assert growth < MEMORY_BOUND


# --- (b) one cycle over the whole corpus ----------------------------------------------------------


def billed_lines(url: str) -> set[tuple[str, str, int]]:
    """(nik, kode_desa, total) of every current line of a live invoice."""
    with session_scope(url) as s:
        rows = s.execute(
            select(Participant.nik, ContributionLine.kode_desa, ContributionLine.total)
            .join(Participant, Participant.id == ContributionLine.participant_id)
            .join(Invoice, Invoice.id == ContributionLine.invoice_id)
            .where(ContributionLine.is_current, Invoice.document_state.in_(("draft", "issued")))
        ).all()
    return {(n, k, int(t)) for n, k, t in rows}


def good_inbox(inbox: Path) -> None:
    generate_rosters(lebak(), PERIOD, inbox, villages=GOOD_VILLAGES, per_village=5, seed=11)


def test_a_cycle_over_the_whole_corpus_bills_the_good_villages_as_usual(
    tmp_path: Path, record_property: Callable[[str, Any], None]
) -> None:
    from iuran.db.session import upgrade

    program = lebak()
    base_url, url = f"sqlite:///{tmp_path / 'base.db'}", f"sqlite:///{tmp_path / 'corpus.db'}"
    upgrade(base_url)
    upgrade(url)
    good_inbox(tmp_path / "base")
    baseline = run(base_url, program, str(PERIOD), tmp_path / "base", tmp_path / "out-base")
    assert baseline["participants"]["billed"] == 15

    inbox = tmp_path / "inbox"
    good_inbox(inbox)
    write_all(inbox / program.code / str(PERIOD))
    summary, elapsed, growth = measured(
        lambda: run(url, program, str(PERIOD), inbox, tmp_path / "out")
    )
    record_property("seconds", round(elapsed, 2))
    print(f"cycle over {len(CASES)} corpus files: {elapsed:.1f} s, +{growth // 2**20} MB")
    assert growth < MEMORY_BOUND

    good = set(villages(program.regency)["kode_desa"].head(GOOD_VILLAGES))
    lines = billed_lines(url)
    assert {line for line in lines if line[1] in good} == billed_lines(base_url)
    # Whatever the corpus adds is its own accepted rows, billed once each.
    assert len(lines) == 15 + sum(c.accepted for c in CASES)
    with session_scope(url) as s:
        for invoice in s.scalars(select(Invoice)):
            assert invoice.total == sum(
                int(t)
                for t in s.scalars(
                    select(ContributionLine.total).where(
                        ContributionLine.invoice_id == invoice.id, ContributionLine.is_current
                    )
                )
            )

    rejected = {f["path"]: f for f in summary["files"]["rejected_files"]}
    for case in CASES:
        if case.file_code is None:
            assert case.filename not in rejected, case.name
            continue
        got = rejected[case.filename]
        assert got["code"] == case.file_code, case.name
        assert got["message"].startswith(message_prefix(case.file_code)), got
    assert len(rejected) == sum(c.file_code is not None for c in CASES)
    assert summary["files"]["read"] == GOOD_VILLAGES + sum(c.file_code is None for c in CASES)
    assert summary["status"] == "issued"


# --- (c) path tricks ------------------------------------------------------------------------------


def tree(root: Path) -> set[str]:
    """Every path under `root` but the output folder and the database's own files."""
    found = (p.relative_to(root) for p in root.rglob("*"))
    return {str(p) for p in found if p.parts[0] != "out" and not p.parts[0].startswith("iuran.db")}


def test_links_out_of_the_inbox_are_never_followed(tmp_path: Path) -> None:
    from iuran.db.session import upgrade

    program = lebak()
    url = f"sqlite:///{tmp_path / 'iuran.db'}"
    upgrade(url)
    inbox = tmp_path / "inbox"
    good_inbox(inbox)
    folder = inbox / program.code / str(PERIOD)
    outside = tmp_path / "outside"
    outside.mkdir()
    stranger = people(40, 2)  # a roster outside the inbox: must never be billed
    write_csv(outside / "roster.csv", stranger)
    hidden = people(41, 2)
    write_csv(folder / "..\\..\\evil.csv", hidden)  # a dot file by its first character
    write_csv(folder / ".hidden.csv", hidden)
    deep = folder.joinpath(*["sub" * 20] * 6)  # a 370-character relative path
    deep.mkdir(parents=True)
    nested = people(42, 2)
    write_csv(deep / "nested.csv", nested)
    first_good = sorted(folder.glob("36.*"))[0]

    links = {
        "passwd.csv": Path("/etc/passwd"),
        "outside.csv": outside / "roster.csv",
        "outside-relative.csv": Path("../../../outside/roster.csv"),
        "outside-dir": outside,
        "dangling.csv": Path("tidak-ada.csv"),
        "inside.csv": Path(first_good.name),
        "loop": Path("."),
    }
    for name, target in links.items():
        (folder / name).symlink_to(target)
    before = tree(tmp_path)

    summary = run(url, program, str(PERIOD), inbox, tmp_path / "out")

    files = {f["path"]: f for f in summary["files"]["rejected_files"]}
    for name in ("passwd.csv", "outside.csv", "outside-relative.csv", "outside-dir"):
        assert files[name]["code"] == "BERKAS_JENIS", files[name]
        assert "tautan (symlink) ke luar folder roster" in files[name]["message"]
    assert files["dangling.csv"]["code"] == "BERKAS_RUSAK"
    assert not any("evil" in p or "hidden" in p for p in files)  # dot files: ignored, not read
    assert "inside.csv" not in files  # a link within the inbox is read like its target
    assert "root:x:0:0" not in str(summary)

    billed = {nik for nik, _, _ in billed_lines(url)}
    assert not billed & {p["nik"] for p in stranger + hidden}
    assert {p["nik"] for p in nested} <= billed
    assert len(billed) == 15 + len(nested)  # the linked copy of a good roster bills nobody twice
    assert tree(tmp_path) == before  # nothing written anywhere but the output folder
    assert not any(p.is_symlink() for p in (tmp_path / "out").rglob("*"))


def test_collect_refuses_a_link_out_of_the_inbox_without_reading_it(tmp_path: Path) -> None:
    secret = tmp_path / "secret.csv"
    write_csv(secret, people(43, 1))
    folder = tmp_path / "inbox"
    folder.mkdir()
    (folder / "a.csv").symlink_to(secret)
    collected = collect_rosters(str(folder))
    [row] = collected.files.to_dict("records")
    assert (row["path"], row["status"], row["code"], row["sha256"]) == (
        "a.csv",
        "rejected",
        "BERKAS_JENIS",
        "",  # not even hashed
    )
    assert len(collected.rows) == 0
    rows, verdict = read_roster_file(str(folder / "a.csv"), relative_to=str(folder))
    assert rows is None and verdict.code == "BERKAS_JENIS"
