"""Fuzzing the roster reader (hypothesis): whatever a file holds, `read_roster_file` answers with a
verdict (read, or refused with a known code) and never raises; rows read stay within the limits and
go through validation without error."""

from __future__ import annotations

import codecs
import datetime as dt
import io
import itertools
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook

from iuran.rosters.columns import CANONICAL, LIMITS, PROVENANCE, REQUIRED, ROW_COLUMNS, SYNONYMS
from iuran.rosters.read import read_roster_file
from iuran.rosters.validate import validate_rows
from tests.hostile.corpus import PERIOD, lebak

FILE_CODES = {"BERKAS_KOSONG", "BERKAS_RUSAK", "BERKAS_TANPA_HEADER", "BERKAS_JENIS", "BERKAS_TERLALU_BESAR", "BERKAS_TANPA_DESA", "BERKAS_DATA_PENDUDUK", "BERKAS_DESA_GANDA", "BERKAS_NIK_DISAMARKAN"}  # fmt: skip
FUZZ = settings(
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
_counter = itertools.count()


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def check(folder: Path, name: str, data: bytes) -> None:
    path = folder / f"{next(_counter)}-{name}"
    path.write_bytes(data)
    try:
        rows, verdict = read_roster_file(str(path), relative_to=str(folder))
    finally:
        path.unlink()
    assert verdict.status in ("read", "rejected")
    event(verdict.code or "read")
    if rows is None:
        assert verdict.status == "rejected" and verdict.code in FILE_CODES, verdict
        assert verdict.message
        return
    assert verdict.status == "read" and verdict.code is None
    assert 0 < len(rows) <= LIMITS.max_rows and verdict.rows == len(rows)
    assert list(rows.columns) == [*ROW_COLUMNS, *PROVENANCE]
    checked = validate_rows(rows, lebak(), PERIOD)
    assert len(checked.accepted) + len(checked.rejected) == len(rows)


# --- random bytes ---------------------------------------------------------------------------------

MAGIC = st.sampled_from([b"", b"PK\x03\x04", b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff", b"%PDF", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"])  # fmt: skip


@settings(FUZZ, max_examples=300)
@given(
    magic=MAGIC,
    body=st.binary(max_size=4096),
    suffix=st.sampled_from([".csv", ".xlsx", ".CSV", ".txt", ""]),
)
def test_random_bytes(folder: Path, magic: bytes, body: bytes, suffix: str) -> None:
    check(folder, f"acak{suffix}", magic + body)


# --- random CSV text ------------------------------------------------------------------------------

HEADERS = [*sorted(SYNONYMS), "No", "Keterangan", "", "Tempat Lahir", "Nama Ibu", "NIK"]
SPELLINGS = {c: sorted(k for k, v in SYNONYMS.items() if v == c) for c in CANONICAL}


@st.composite
def headers(draw: st.DrawFn) -> list[str]:
    """Mostly a header the reader recognises (every required column under some spelling, extra and
    duplicate columns, any order); sometimes any list of names."""
    if draw(st.integers(0, 4)) == 0:
        return draw(st.lists(st.sampled_from(HEADERS), min_size=1, max_size=12))
    wanted = [c for c in CANONICAL if c in REQUIRED or draw(st.booleans())]
    if draw(st.integers(0, 5)) == 0:
        wanted.remove(draw(st.sampled_from(list(REQUIRED))))
    names = [draw(st.sampled_from(SPELLINGS[c])) for c in wanted]
    names += draw(st.lists(st.sampled_from(HEADERS), max_size=3))
    return draw(st.permutations(names))


CELL = st.one_of(
    st.text(max_size=30),
    st.text(alphabet=st.sampled_from(list(",;\t|\"'\r\n =+-@0123456789")), max_size=20),
    st.from_regex(r"\d{14,17}", fullmatch=True),
    st.sampled_from(
        ["L", "P", "36.02.01.2002", "3602012002", "15/05/1990", "1990-05-15", "3.602E+15"]
    ),
)
ENCODINGS = ["utf-8", "utf-8-sig", "cp1252", "utf-16", "latin-1"]


@settings(FUZZ, max_examples=300)
@given(
    header=headers(),
    rows=st.lists(st.lists(CELL, max_size=14), max_size=25),
    sep=st.sampled_from([",", ";", "\t", "|"]),
    quote_all=st.booleans(),
    titles=st.lists(st.text(max_size=40), max_size=3),
    encoding=st.sampled_from(ENCODINGS),
    newline=st.sampled_from(["\n", "\r\n", "\n", "\r"]),
)
def test_random_csv(
    folder: Path,
    header: list[str],
    rows: list[list[str]],
    sep: str,
    quote_all: bool,
    titles: list[str],
    encoding: str,
    newline: str,
) -> None:
    import csv

    out = io.StringIO()
    for title in titles:
        out.write(title.replace("\n", " ") + newline)
    w = csv.writer(
        out,
        delimiter=sep,
        lineterminator=newline,
        quoting=csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL,
    )
    w.writerow(header)
    w.writerows(rows)
    data = out.getvalue().encode(encoding, errors="replace")
    if encoding == "utf-16" and not data.startswith(codecs.BOM_UTF16):
        data = codecs.BOM_UTF16 + data
    check(folder, "roster.csv", data)


# --- random XLSX ----------------------------------------------------------------------------------

XCELL = st.one_of(
    st.none(),
    st.text(
        alphabet=st.characters(blacklist_categories=["Cs", "Cc"]), max_size=20
    ),  # openpyxl refuses control characters
    st.integers(min_value=-(2**53), max_value=2**53),
    st.floats(allow_nan=False, allow_infinity=False, width=64),
    st.booleans(),
    st.dates(min_value=dt.date(1900, 3, 1), max_value=dt.date(2100, 1, 1)),
    st.sampled_from(
        ["=1+1", '=HYPERLINK("http://x","klik")', "3602011505900001", 3602011505900001.0]
    ),
)


@settings(FUZZ, max_examples=120)
@given(
    header=headers(),
    rows=st.lists(st.lists(XCELL, max_size=12), max_size=15),
    skip=st.integers(min_value=0, max_value=4),
    sheets=st.integers(min_value=1, max_value=3),
)
def test_random_xlsx(
    folder: Path, header: list[str], rows: list[list[object]], skip: int, sheets: int
) -> None:
    wb = Workbook()
    for i in range(sheets):
        ws = wb.active if i == 0 else wb.create_sheet(f"Lembar{i}")
        assert ws is not None
        for _ in range(skip):
            ws.append(["Daftar peserta"])
        ws.append(header)
        for row in rows[i::sheets]:
            ws.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    check(folder, "roster.xlsx", buf.getvalue())


# --- mutated sheet XML ------------------------------------------------------------------------------

TOKENS = [
    "<row>", "</row>", '<row r="1048576">', "<row/>", '<c r="XFD1048576" t="inlineStr">',
    "<c>", '<c t="inlineStr">', "</c>", "<c/>", '<c r="A1"', " r=", '"', "'", "<", ">", "/",
    '<is><t>nik</t></is>', "<v>1</v>", "<x:c>", "\t", "\n", 'r="Z99"', "99999999",
    "<!--", "-->", "<![CDATA[", "]]>", "&amp;", "&#0;",
]  # fmt: skip


@st.composite
def mutated_sheet(draw: st.DrawFn) -> str:
    """A real sheet (header and a few rows), with tokens inserted, spans deleted or replaced."""
    from tests.hostile.corpus import HEADER_ROW, istr, sheet

    rows = "".join(
        f'<row r="{r}">' + "".join(istr(f"{chr(65 + i)}{r}", "x") for i in range(5)) + "</row>"
        for r in range(2, draw(st.integers(2, 6)))
    )
    xml = sheet(HEADER_ROW + rows)
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, len(xml)))
        cut = draw(st.integers(0, 12))
        xml = xml[:at] + draw(st.sampled_from(["", *TOKENS])) + xml[at + cut :]
    return xml


@settings(FUZZ, max_examples=200)
@given(xml=mutated_sheet())
def test_mutated_sheet_xml(folder: Path, xml: str) -> None:
    """calamine never sees a workbook that could make it allocate without bound (it would abort the
    whole test run, not fail a test)."""
    from tests.hostile.corpus import package

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in package(xml).items():
            z.writestr(name, data)
    check(folder, "mutasi.xlsx", buf.getvalue())
