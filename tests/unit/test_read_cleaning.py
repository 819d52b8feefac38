"""Reader internals made cheaper: cleaning that skips plain values, XLSX columns from transposed
rows, cached CSV options with the streaming reader. Each against the straightforward version."""

from __future__ import annotations

import datetime as dt
import io
import random
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pytest

from iuran.rosters import read
from iuran.rosters.read import collect_rosters


def _clean_everything(values: pa.Array) -> pa.Array:
    """`_clean` with its regexes run on every value (what the prefilter must not change)."""
    trimmed = pc.utf8_trim_whitespace(values)
    need = pc.match_substring_regex(trimmed, read._NEEDS_COLLAPSE)
    collapsed = pc.utf8_trim(pc.replace_substring_regex(trimmed, read._SPACES, " "), " ")
    trimmed = pc.if_else(need, collapsed, trimmed)
    return pc.if_else(pc.greater(pc.utf8_length(trimmed), 0), trimmed, pa.scalar(None, pa.string()))


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("  Budi  Santoso ", "Budi Santoso"),
        ("Ani\u00a0Rahayu", "Ani Rahayu"),  # non-breaking space
        ("A\u200bB", "A B"),  # zero-width space
        ("x\x00y\x1bz", "x y z"),  # controls
        ("\ufeffNIK", "NIK"),
        ("Jl. Raya No. 1", "Jl. Raya No. 1"),  # plain: untouched
        ("\u00a0", None),
        ("", None),
        (None, None),
        ("Ña\u3000ño", "Ña ño"),
    ],
)
def test_clean(raw: str | None, clean: str | None) -> None:
    assert read._clean(pa.array([raw], pa.string())).to_pylist() == [clean]


def test_clean_prefilter_changes_nothing() -> None:
    rng = random.Random(7)
    alphabet = [
        "a", "B", " ", "  ", "\t", "\n", "\r", "\x00", "\x1f", "\x7f", "\u00a0", "\u2003", "\u200b",
        "\ufeff", "\u3000", "\u2028", "é", "-", "~", "\x0b", "\x0c", "\x85", "\u202f",
    ]  # fmt: skip
    for _ in range(300):
        values = [
            None if rng.random() < 0.1 else "".join(rng.choices(alphabet, k=rng.randrange(8)))
            for _ in range(rng.randrange(30))
        ]
        array = pa.array(values, pa.string())
        assert read._clean(array).equals(_clean_everything(array)), values


def test_xlsx_columns_from_transposed_rows() -> None:
    data: list[list[object]] = [
        ["3602011505900001", "Budi", dt.date(1990, 5, 15), 1500000.0, ""],
        [3602011505900002.0, "", dt.date(1991, 1, 2), "", True],
        ["", "Ani", "15/05/1990", 2.5, None],
    ]
    names: list[str | None] = ["nik", "nama", "tanggal_lahir", "penghasilan", None]
    got = read._columns(data, names)
    want = {
        n: read._text_array([r[i] for r in data], nik=n == "nik") for i, n in enumerate(names) if n
    }
    assert got.keys() == want.keys()
    assert all(got[n].equals(want[n]) for n in want)
    assert read._columns([], names)["nama"].to_pylist() == []


def test_a_nan_number_cell_is_blank_not_a_damaged_file() -> None:
    """A whole-number column with a NaN cell (a crafted `<v>NaN</v>`) reads like a mixed one."""
    got = read._text_array([1500000.0, float("nan"), "", 2000000.0])
    assert got.to_pylist() == ["1500000", None, None, "2000000"]
    assert read._text_array([1.0, "", 3.0]).to_pylist() == ["1", None, "3"]


def test_xlsx_columns_of_uneven_rows_fail_as_before() -> None:
    with pytest.raises(IndexError):
        read._columns([["a", "b"], ["c"]], ["nik", "nama"])


def test_csv_layouts_do_not_share_options(tmp_path: Path) -> None:
    """Options are cached per (lines skipped, width, separator): each file still gets its own."""
    header = ["NIK", "Nama", "Tgl Lahir", "JK", "Kode Desa"]
    row = ["3602011505900001", "Budi", "15/05/1990", "L", "36.02.01.2002"]
    (tmp_path / "a.csv").write_text(";".join(header) + "\n" + ";".join(row) + "\n")
    (tmp_path / "b.csv").write_text(
        "DAFTAR\n\n" + ",".join([*header, "Alamat"]) + "\n" + ",".join([*row, "Kp. X"]) + "\n"
    )
    (tmp_path / "c.csv").write_text("\t".join(header) + "\n" + "\t".join(row) + "\n" * 3)
    got = collect_rosters(str(tmp_path)).rows
    assert got["source_file"].tolist() == ["a.csv", "b.csv", "c.csv"]
    assert got["source_row"].tolist() == [2, 4, 2]
    assert got["alamat"].tolist()[1] == "Kp. X"
    assert got["kode_desa"].tolist() == ["36.02.01.2002"] * 3


def _load(raw: bytes, skip: int, width: int, streaming: bool) -> object:
    read_options, parse_options, convert_options = read._csv_options(skip, width, ",")
    options = {
        "read_options": read_options,
        "parse_options": parse_options,
        "convert_options": convert_options,
    }
    try:
        if streaming:
            return pcsv.open_csv(io.BytesIO(raw), **options).read_all().to_pydict()
        return pcsv.read_csv(io.BytesIO(raw), **options).to_pydict()
    except pa.ArrowInvalid:
        return "invalid"


def test_csv_streaming_reader_matches_read_csv() -> None:
    samples = [b"h\n", b"h", b"h\n\n", b"h\r\na,b\r\n", b'h\n"a\nb",c\n', b"h\na,b\nc\n", b"x\ny"]
    for raw in samples:
        for skip, width in ((0, 1), (1, 2), (2, 2)):
            assert _load(raw, skip, width, True) == _load(raw, skip, width, False), (raw, skip)
