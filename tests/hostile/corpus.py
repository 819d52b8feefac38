"""A corpus of broken and hostile roster files, kept as generators rather than files in git.

Each `Case` writes one file into a folder and says what the reader must make of it: the file refused
with a code (`file_code`), or read, with the rejection codes its rows get from validation
(`row_codes`) and how many rows validation accepts (`accepted`). Rows that must be accepted are real
people of Lebak (drawn with the demo generator) from villages the test's "good" rosters do not use, so
a corpus file never changes what the good villages are billed.

`big` cases (a 200 MB CSV, a zip bomb) are written at test time, sparse or streamed, never kept.
"""

from __future__ import annotations

import csv
import io
import os
import struct
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import pandas as pd
from openpyxl import Workbook

from iuran.generate import build_rosters
from iuran.periods import Period
from iuran.programs import Program, load_program

PERIOD = Period(2026, 1)
GOOD_VILLAGES = 3  # the first villages of Lebak: the good rosters' (generate_rosters(villages=3))
HEADER = [
    "nik", "nama", "tanggal_lahir", "jenis_kelamin", "pekerjaan", "kode_desa", "alamat", "no_hp",
    "penghasilan",
]  # fmt: skip

FORMULAS = ['=HYPERLINK("http://x","klik")', "+1", "-2", "@SUM(A1)", "=cmd|' /C calc'!A0"]
MARKUP = ["<script>alert(1)</script>", "<b>x</b>", "<img src=x onerror=alert(1)>"]


def lebak() -> Program:
    return load_program("lebak")


@lru_cache(maxsize=1)
def _pool() -> list[pd.DataFrame]:
    rosters = build_rosters(lebak(), PERIOD, villages=60, per_village=5, seed=808, xlsx_share=0)
    return [r.frame for r in rosters]


def people(slot: int, n: int) -> list[dict[str, str]]:
    """`n` valid workers (at most 5) of the village `GOOD_VILLAGES + slot`, as roster text."""
    frame = _pool()[GOOD_VILLAGES + slot].head(n)
    return [
        {
            "nik": r.nik,
            "nama": r.nama,
            "tanggal_lahir": r.tanggal_lahir.strftime("%d/%m/%Y"),
            "jenis_kelamin": r.jenis_kelamin,
            "pekerjaan": r.pekerjaan,
            "kode_desa": r.kode_desa,
            "alamat": r.alamat,
            "no_hp": r.no_hp,
            "penghasilan": "",
        }
        for r in frame.itertuples()
    ]


def village_codes() -> set[str]:
    """Every village a corpus case bills people of."""
    return {str(f["kode_desa"].iloc[0]) for f in _pool()[GOOD_VILLAGES:]}


# --- writers --------------------------------------------------------------------------------------


def csv_text(rows: list[dict[str, str]], sep: str = ",", header: list[str] = HEADER) -> str:
    out = io.StringIO()
    w = csv.writer(out, delimiter=sep, lineterminator="\n")
    w.writerow(header)
    for r in rows:
        w.writerow([r.get(c, "") for c in header])
    return out.getvalue()


def write_csv(
    path: Path, rows: list[dict[str, str]], sep: str = ",", encoding: str = "utf-8"
) -> None:
    path.write_bytes(csv_text(rows, sep).encode(encoding))


def write_xlsx(path: Path, grid: list[list[object]]) -> None:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "Peserta"
    for row in grid:
        ws.append(row)
    wb.save(path)


def xlsx_rows(rows: list[dict[str, str]]) -> list[list[object]]:
    return [HEADER, *([r[c] for c in HEADER] for r in rows)]


_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"


def package(sheet_xml: bytes | str, shared: str | None = None) -> dict[str, bytes]:
    """The parts of a minimal workbook (one sheet `Peserta`), to be zipped as they are or broken."""
    over = (
        '<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-'
        'officedocument.spreadsheetml.sharedStrings+xml"/>'
        if shared
        else ""
    )
    parts = {
        "[Content_Types].xml": (
            '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/'
            'package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.'
            'openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="'
            'application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.'
            'openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/'
            'worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.'
            f'spreadsheetml.worksheet+xml"/>{over}</Types>'
        ),
        "_rels/.rels": (
            '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.'
            'openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="'
            f'{_REL}/officeDocument" Target="xl/workbook.xml"/></Relationships>'
        ),
        "xl/workbook.xml": (
            f'<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="{_NS}" xmlns:r="{_REL}">'
            '<sheets><sheet name="Peserta" sheetId="1" r:id="rId1"/></sheets></workbook>'
        ),
        "xl/_rels/workbook.xml.rels": (
            '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.'
            'openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="'
            f'{_REL}/worksheet" Target="worksheets/sheet1.xml"/>'
            + (
                f'<Relationship Id="rId2" Type="{_REL}/sharedStrings" Target="sharedStrings.xml"/>'
                if shared
                else ""
            )
            + "</Relationships>"
        ),
        "xl/worksheets/sheet1.xml": sheet_xml,
    }
    if shared:
        parts["xl/sharedStrings.xml"] = shared
    return {k: v.encode() if isinstance(v, str) else v for k, v in parts.items()}


def write_package(path: Path, parts: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in parts.items():
            z.writestr(name, data)


def sheet(rows_xml: str) -> str:
    return f'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{_NS}"><sheetData>{rows_xml}</sheetData></worksheet>'


def istr(ref: str, value: str) -> str:
    return f'<c r="{ref}" t="inlineStr"><is><t>{value}</t></is></c>'


HEADER_ROW = (
    '<row r="1">' + "".join(istr(f"{chr(65 + i)}1", h) for i, h in enumerate(HEADER)) + "</row>"
)


# --- the cases ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    name: str
    filename: str
    write: Callable[[Path], None] = field(repr=False)
    file_code: str | None = None  # refused as a file with this code; None: read
    row_codes: frozenset[str] = frozenset()  # read: exactly these codes among its rejected rows
    accepted: int = 0  # read: rows validation accepts
    note: str | None = None  # read: in the file verdict's message
    big: bool = False  # generated at test time (hundreds of MB, sparse or streamed)


def _bytes(data: bytes) -> Callable[[Path], None]:
    return lambda p: p.write_bytes(data)


def _random(n: int, seed: int) -> bytes:
    import random

    rng = random.Random(seed)
    return bytes(rng.getrandbits(8) for _ in range(n))


def _valid_xlsx_bytes(rows: list[dict[str, str]]) -> bytes:
    buf = io.BytesIO()
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    for row in xlsx_rows(rows):
        ws.append(row)
    wb.save(buf)
    return buf.getvalue()


def _csv_200mb(path: Path) -> None:
    """A 200 MB CSV that takes no disk: a header, then a hole (sparse) up to 200 MB."""
    with path.open("wb") as f:
        f.write(csv_text([]).encode())
        f.truncate(200 * 2**20)


def _zip_bomb(path: Path) -> None:
    """A workbook whose one sheet inflates to 201 MB (declared honestly); the file is ~200 KB.
    Deflate streamed 1 MB at a time: nothing large is ever in memory."""
    parts = package(sheet(HEADER_ROW))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in parts.items():
            if name != "xl/worksheets/sheet1.xml":
                z.writestr(name, data)
        with z.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as f:
            f.write(data)
            block = b" " * 2**20  # whitespace between elements: still well-formed
            for _ in range(201):
                f.write(block)


def _lying_zip(path: Path) -> None:
    """A sheet of 64 MB whose headers claim 1 KB: the declared sizes pass, the real data does not."""
    raw = io.BytesIO()
    write_package_to(raw, package(sheet(HEADER_ROW + " " * (64 * 2**20))))
    data = bytearray(raw.getvalue())
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as z:
        local = z.getinfo("xl/worksheets/sheet1.xml").header_offset
        entry = z.start_dir  # the central directory: one 46-byte header (+ names) per part
    struct.pack_into("<I", data, local + 22, 1024)  # local header: uncompressed size
    while data[entry : entry + 4] == b"PK\x01\x02":
        n, m, k = struct.unpack_from("<HHH", data, entry + 28)
        if data[entry + 46 : entry + 46 + n] == b"xl/worksheets/sheet1.xml":
            struct.pack_into("<I", data, entry + 24, 1024)
        entry += 46 + n + m + k
    path.write_bytes(bytes(data))


def write_package_to(target: io.BytesIO, parts: dict[str, bytes]) -> None:
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in parts.items():
            z.writestr(name, data)


def _encrypted_flag(path: Path) -> None:
    """A workbook whose parts claim to be encrypted (general-purpose flag bit 0)."""
    buf = io.BytesIO(_valid_xlsx_bytes(people(0, 1)))
    data = bytearray(buf.getvalue())
    pos = 0
    while (pos := bytes(data).find(b"PK\x03\x04", pos)) >= 0:
        data[pos + 6] |= 1
        pos += 4
    pos = 0
    while (pos := bytes(data).find(b"PK\x01\x02", pos)) >= 0:
        data[pos + 8] |= 1
        pos += 4
    path.write_bytes(bytes(data))


def _truncated_xlsx(path: Path) -> None:
    whole = _valid_xlsx_bytes(people(1, 3))
    path.write_bytes(whole[: len(whole) // 2])


def _wide_csv(path: Path, columns: int) -> None:
    path.write_text(",".join(HEADER + [f"kolom{i}" for i in range(columns - len(HEADER))]) + "\n")


def _wide_xlsx(path: Path) -> None:
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("Peserta")
    ws.append(HEADER + [f"kolom{i}" for i in range(10_000 - len(HEADER))])
    wb.save(path)


def _one_line(path: Path) -> None:
    """18 MB on one line: 4.5 million cells, no header anywhere."""
    with path.open("w") as f:
        f.write(",".join(["abc"] * 4_500_000))
        f.write("\n")


def _too_many_rows(path: Path) -> None:
    [p] = people(2, 1)
    line = ",".join(p[c] for c in HEADER) + "\n"
    path.write_text(",".join(HEADER) + "\n" + line * 10_001)


def _far_cells(path: Path) -> None:
    xml = sheet(HEADER_ROW + '<row r="1048576">' + istr("XFD1048576", "x") + "</row>")
    write_package(path, package(xml))


def _shared_strings_count(path: Path) -> None:
    shared = (
        f'<?xml version="1.0" encoding="UTF-8"?><sst xmlns="{_NS}" count="1" '
        'uniqueCount="4000000000"><si><t>nik</t></si></sst>'
    )
    write_package(path, package(sheet('<row r="1"><c r="A1" t="s"><v>0</v></c></row>'), shared))


def _million_rows(path: Path) -> None:
    xml = sheet(HEADER_ROW + '<row r="1048576">' + istr("A1048576", "x") + "</row>")
    write_package(path, package(xml))


def _rows_without_r(path: Path) -> None:
    """Cells placed by counting (no `r` attributes): 200 columns, then 100,000 empty rows."""
    first = "<row>" + "<c t='inlineStr'><is><t>nik</t></is></c>" * 200 + "</row>"
    xml = sheet(
        first + "<row></row>" * 100_000 + "<row><c t='inlineStr'><is><t>x</t></is></c></row>"
    )
    write_package(path, package(xml))


def _malformed_sheet(path: Path) -> None:
    write_package(path, package(sheet(HEADER_ROW + '<row r="2"><c r="A2" t="inlineStr"><is><t>x')))


def _empty_workbook(path: Path) -> None:
    Workbook().save(path)


def _docx(path: Path) -> None:
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", "<w:document/>")


def _laughs(path: Path) -> None:
    shared = (
        '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;'
        '&lol;&lol;&lol;&lol;&lol;&lol;&lol;"><!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;'
        '&lol2;&lol2;&lol2;&lol2;"><!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">]>'
        f'<sst xmlns="{_NS}" count="1" uniqueCount="1"><si><t>&lol9;</t></si></sst>'
    )
    write_package(path, package(sheet('<row r="1"><c r="A1" t="s"><v>0</v></c></row>'), shared))


def _xxe(path: Path) -> None:
    shared = (
        '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
        f'<sst xmlns="{_NS}" count="1" uniqueCount="1"><si><t>&e;</t></si></sst>'
    )
    write_package(path, package(sheet('<row r="1"><c r="A1" t="s"><v>0</v></c></row>'), shared))


def _utf16_bom(path: Path) -> None:
    path.write_bytes(b"\xff\xfe" + csv_text(people(3, 2), sep="\t").encode("utf-16-le"))


def _cp1252(path: Path) -> None:
    rows = people(4, 2)
    rows[0]["nama"] = "Désirée Ñoño"
    rows[1]["alamat"] = "Jl. Café № 5"  # № is not in cp1252: written as "No"
    rows[1]["alamat"] = rows[1]["alamat"].replace("№", "No")
    write_csv(path, rows, sep=";", encoding="cp1252")


def _shift_jis(path: Path) -> None:
    rows = people(5, 2)
    rows[0]["nama"] = "山田太郎"
    path.write_bytes(csv_text(rows).encode("shift_jis"))


def _mixed_encodings(path: Path) -> None:
    rows = people(6, 2)
    head, first, second = csv_text(rows).splitlines(keepends=True)
    first = first.replace(rows[0]["nama"], rows[0]["nama"] + " é")
    second = second.replace(rows[1]["nama"], rows[1]["nama"] + " é")
    path.write_bytes(head.encode() + first.encode("utf-8") + second.encode("cp1252"))


def _formula_names(path: Path) -> None:
    rows = people(7, 5)
    for r, name in zip(rows, FORMULAS, strict=True):
        r["nama"] = name
    rows[0]["pekerjaan"] = "=1+2"
    rows[1]["alamat"] = '=HYPERLINK("http://evil.example","klik")'
    write_csv(path, rows)


def _markup_names(path: Path) -> None:
    rows = people(8, 3)
    for r, name in zip(rows, MARKUP, strict=True):
        r["nama"] = name
    write_xlsx(path, xlsx_rows(rows))


def _formula_cells(path: Path) -> None:
    """Real formulas (no cached value, as openpyxl writes them) where the names should be."""
    rows = people(9, 2)
    grid = xlsx_rows(rows)
    grid[1][1] = '=HYPERLINK("http://x","klik")'
    grid[2][1] = "=1+1"
    write_xlsx(path, grid)


def _control_chars(path: Path) -> None:
    """A NUL, an escape sequence and a bell in names, the NUL past the first 8 KB (which the reader
    checks for binary content), so the row reaches validation."""
    rows = people(10, 3)
    rows[0]["alamat"] = "x" * 9000
    rows[1]["nama"] = rows[1]["nama"] + "\x00\x07"
    rows[2]["nama"] = "\x1b[31m" + rows[2]["nama"] + "\x1b[0m"
    write_csv(path, rows)


def _unicode_tricks(path: Path) -> None:
    rows = people(11, 3)
    rows[0]["nama"] = rows[0]["nama"] + "\u202egnp.exe"  # right-to-left override
    rows[1]["nama"] = "\u200b" + rows[1]["nama"] + "\ufeff"  # zero-width space, BOM
    rows[2]["nama"] = rows[2]["nama"] + " 👷🏽 Z̴̡a̶l̷g̸o"
    write_csv(path, rows)


def _long_values(path: Path) -> None:
    rows = people(12, 2)
    rows[0]["alamat"] = "Kp. " + "panjang " * 130_000  # ~1 MB in one cell
    write_csv(path, rows)


def _row_faults(path: Path) -> None:
    bases = people(13, 5) + people(30, 4)  # one person per row: a NIK twice hides other faults
    faults = [
        {"nik": ""},
        {"nik": "36020A1505900001"},
        {"nik": "360201150590001"},
        {"nik": "3.60201E+15"},
        {"tanggal_lahir": "31/02/1990x"},
        {"jenis_kelamin": "X"},
        {"kode_desa": "=1+1"},
        {"penghasilan": "1,5 juta"},
        {"nama": ""},
    ]
    write_csv(path, [base | f for base, f in zip(bases, faults, strict=True)])


def _ragged(path: Path) -> None:
    rows = people(14, 2)
    text = csv_text(rows)
    lines = text.splitlines()
    lines[1] += ",extra,,,"
    lines[2] = lines[2].rsplit(",", 2)[0]  # a short line
    path.write_text("\n".join(lines) + "\n")


def _dup_headers(path: Path) -> None:
    rows = people(15, 2)
    header = [*HEADER, "nik", "Nama Lengkap"]
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(header)
    for r in rows:
        w.writerow([*(r[c] for c in HEADER), "9999999999999999", "Orang Lain"])
    path.write_text(out.getvalue())


def _no_header(path: Path) -> None:
    text = csv_text(people(16, 2))
    path.write_text(text.split("\n", 1)[1])


def _missing_column(path: Path) -> None:
    header = [c for c in HEADER if c != "kode_desa"]
    path.write_text(csv_text(people(17, 2), header=header))


def _late_header(path: Path) -> None:
    path.write_text("Daftar peserta\n" * 20 + csv_text(people(18, 2)))


def _unterminated_quote(path: Path) -> None:
    rows = people(19, 2)
    text = csv_text(rows)
    head, first, rest = text.split("\n", 2)
    path.write_text(
        head + "\n" + first.replace(rows[0]["nama"], '"' + rows[0]["nama"]) + "\n" + rest
    )


def _old_mac(path: Path) -> None:
    path.write_text(csv_text(people(20, 2)).replace("\n", "\r"))


def _html_table(rows: list[dict[str, str]], masked: bool = False) -> bytes:
    """Rows as a web page's table, as OpenSID's printable `.xls` list is (cells not escaped: markup
    in a cell stays markup); `masked`: NIKs printed as with OpenSID's NIK privacy on."""
    lines = ["<tr>" + "".join(f"<th>{h}</th>" for h in HEADER) + "</tr>"]
    for r in rows:
        cells = r | ({"nik": r["nik"][:8] + "XXXXXXXX"} if masked else {})
        lines.append("<tr>" + "".join(f"<td>{cells[h]}</td>" for h in HEADER) + "</tr>")
    return ("<html><body><table>" + "\n".join(lines) + "</table></body></html>").encode()


def _html_markup(path: Path) -> None:
    rows = people(31, 2)
    rows[0] = rows[0] | {"alamat": MARKUP[0], "no_hp": "<b>0812</b>"}
    path.write_bytes(_html_table(rows))


def _valid_named(slot: int) -> Callable[[Path], None]:
    return lambda p: write_csv(p, people(slot, 1))


CASES: list[Case] = [
    # --- size and limits
    Case("csv_200mb", "hostile-200mb.csv", _csv_200mb, "BERKAS_TERLALU_BESAR", big=True),
    Case("zip_bomb", "hostile-zip-bomb.xlsx", _zip_bomb, "BERKAS_TERLALU_BESAR", big=True),
    Case("zip_lying_sizes", "hostile-zip-lying.xlsx", _lying_zip, "BERKAS_RUSAK"),
    Case("xlsx_far_cells", "hostile-far-cells.xlsx", _far_cells, "BERKAS_TERLALU_BESAR"),
    Case(
        "xlsx_shared_strings_count",
        "hostile-sst.xlsx",
        _shared_strings_count,
        "BERKAS_TERLALU_BESAR",
    ),
    Case("xlsx_million_rows", "hostile-million-rows.xlsx", _million_rows, "BERKAS_TERLALU_BESAR"),
    Case("xlsx_rows_without_r", "hostile-no-r.xlsx", _rows_without_r, "BERKAS_TERLALU_BESAR"),
    Case(
        "csv_10000_columns",
        "hostile-10000-cols.csv",
        lambda p: _wide_csv(p, 10_000),
        "BERKAS_TERLALU_BESAR",
    ),
    Case("xlsx_10000_columns", "hostile-10000-cols.xlsx", _wide_xlsx, "BERKAS_TERLALU_BESAR"),
    Case("csv_one_line_4m_cells", "hostile-one-line.csv", _one_line, "BERKAS_TERLALU_BESAR"),
    Case("csv_10001_rows", "hostile-10001-rows.csv", _too_many_rows, "BERKAS_TERLALU_BESAR"),
    # --- broken and disguised files
    Case("xlsx_truncated", "hostile-truncated.xlsx", _truncated_xlsx, "BERKAS_RUSAK"),
    Case("xlsx_random_bytes", "hostile-random.xlsx", _bytes(_random(5000, 1)), "BERKAS_RUSAK"),
    Case("csv_random_binary", "hostile-random.csv", _bytes(_random(5000, 2)), "BERKAS_RUSAK"),
    Case("csv_empty", "hostile-empty.csv", _bytes(b""), "BERKAS_KOSONG"),
    Case("csv_whitespace", "hostile-whitespace.csv", _bytes(b" \r\n\t\n  \n"), "BERKAS_KOSONG"),
    Case("csv_header_only", "hostile-header-only.csv", lambda p: write_csv(p, []), "BERKAS_KOSONG"),
    Case("xlsx_malformed_xml", "hostile-malformed.xlsx", _malformed_sheet, "BERKAS_RUSAK"),
    Case("xlsx_empty_workbook", "hostile-empty.xlsx", _empty_workbook, "BERKAS_KOSONG"),
    Case("docx_renamed", "hostile-word.xlsx", _docx, "BERKAS_JENIS"),
    Case(
        "xls_renamed",
        "hostile-old-excel.xlsx",
        _bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(4000)),
        "BERKAS_RUSAK",  # an old Excel header and nothing else: a damaged .xls (tests/hostile/test_xls.py)
    ),
    Case(
        "pdf_renamed",
        "hostile-scan.csv",
        _bytes(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\n"),
        "BERKAS_JENIS",
    ),
    Case(
        "png_renamed",
        "hostile-photo.xlsx",
        _bytes(b"\x89PNG\r\n\x1a\n" + _random(2000, 3)),
        "BERKAS_RUSAK",
    ),
    Case(
        "txt_extension", "hostile-roster.txt", lambda p: write_csv(p, people(21, 1)), "BERKAS_JENIS"
    ),
    Case("no_extension", "hostile-roster", lambda p: write_csv(p, people(22, 1)), "BERKAS_JENIS"),
    # --- web pages named .xls (OpenSID's printable list is one)
    Case(
        "html_deep_nesting",
        "hostile-deep.xls",
        _bytes(b"<div>" * 300_000 + b"x" + b"</div>" * 300_000),
        "BERKAS_JENIS",
    ),
    Case(
        "html_rows_over_limit",
        "hostile-many-rows.xls",
        _bytes(b"<table>" + b"<tr><td>1</td></tr>" * 10_100 + b"</table>"),
        "BERKAS_TERLALU_BESAR",
    ),
    Case(
        "html_wide_row",
        "hostile-wide-row.xls",
        _bytes(b"<table><tr>" + b"<td></td>" * 100_000 + b"</tr></table>"),
        "BERKAS_TERLALU_BESAR",
    ),
    Case(
        "html_all_niks_masked",
        "hostile-masked.xls",
        lambda p: p.write_bytes(_html_table(people(32, 2), masked=True)),
        "BERKAS_NIK_DISAMARKAN",
    ),
    Case("html_markup_in_cells", "hostile-markup.xls", _html_markup, accepted=2),
    Case("xlsx_encrypted_flag", "hostile-encrypted.xlsx", _encrypted_flag, "BERKAS_RUSAK"),
    Case("xlsx_billion_laughs", "hostile-laughs.xlsx", _laughs, "BERKAS_RUSAK"),
    Case("xlsx_xxe", "hostile-xxe.xlsx", _xxe, "BERKAS_RUSAK"),
    Case(
        "csv_unterminated_quote",
        "hostile-quote.csv",
        _unterminated_quote,  # the quoted name runs on to the end of the line: that row is
        accepted=1,  # rejected (its birth date is swallowed), the next one is read
        row_codes=frozenset({"TANGGAL_LAHIR_FORMAT"}),
    ),
    Case("csv_old_mac_line_ends", "hostile-cr-only.csv", _old_mac, "BERKAS_RUSAK"),
    # --- encodings
    Case("csv_utf16_bom_tabs", "hostile-utf16.csv", _utf16_bom, accepted=2),
    Case(
        "csv_utf16_no_bom",
        "hostile-utf16-nobom.csv",
        lambda p: p.write_bytes(csv_text(people(23, 2)).encode("utf-16-le")),
        "BERKAS_RUSAK",
    ),
    Case(
        "csv_utf32",
        "hostile-utf32.csv",
        lambda p: p.write_bytes(csv_text(people(24, 2)).encode("utf-32")),
        "BERKAS_RUSAK",
    ),
    Case("csv_cp1252", "hostile-cp1252.csv", _cp1252, accepted=2),
    Case(
        "csv_latin1_undefined",
        "hostile-latin1.csv",
        lambda p: p.write_bytes(csv_text(people(25, 1)).encode() + b"\x81\x8d\x8f\n"),
        "BERKAS_RUSAK",
    ),
    Case("csv_shift_jis", "hostile-sjis.csv", _shift_jis, accepted=2),
    Case("csv_mixed_encodings", "hostile-mixed-enc.csv", _mixed_encodings, accepted=2),
    # --- headers
    Case(
        "csv_duplicate_headers",
        "hostile-dup-headers.csv",
        _dup_headers,
        accepted=2,
        note="ada dua kali",
    ),
    Case("csv_no_header", "hostile-no-header.csv", _no_header, "BERKAS_TANPA_HEADER"),
    Case("csv_missing_column", "hostile-no-kode-desa.csv", _missing_column, "BERKAS_TANPA_DESA"),
    Case(
        "csv_header_after_20_lines", "hostile-late-header.csv", _late_header, "BERKAS_TANPA_HEADER"
    ),
    # --- hostile content
    Case("csv_formula_names", "hostile-formulas.csv", _formula_names, accepted=5),
    Case("xlsx_markup_names", "hostile-markup.xlsx", _markup_names, accepted=3),
    Case(
        "xlsx_formula_cells",
        "hostile-formula-cells.xlsx",
        _formula_cells,
        accepted=0,
        row_codes=frozenset({"NAMA_KOSONG"}),
    ),
    Case("csv_control_chars", "hostile-control.csv", _control_chars, accepted=3),
    Case("csv_unicode_tricks", "hostile-unicode.csv", _unicode_tricks, accepted=3),
    Case("csv_one_megabyte_cell", "hostile-long-cell.csv", _long_values, accepted=2),
    Case(
        "csv_row_faults",
        "hostile-row-faults.csv",
        _row_faults,
        accepted=0,
        row_codes=frozenset(
            {
                "NIK_KOSONG",
                "NIK_BUKAN_ANGKA",
                "NIK_PANJANG",
                "NIK_NOTASI_ILMIAH",
                "TANGGAL_LAHIR_FORMAT",
                "JENIS_KELAMIN_FORMAT",
                "KODE_DESA_TIDAK_DIKENAL",
                "PENGHASILAN_FORMAT",
                "NAMA_KOSONG",
            }
        ),
    ),
    Case("csv_ragged_rows", "hostile-ragged.csv", _ragged, accepted=2),
    # --- path tricks in file names (the folder itself is tested in test_corpus.py)
    Case("name_with_newline", "hostile-new\nline.csv", _valid_named(26), accepted=1),
    Case("name_with_backslash_dots", "x..\\..\\..\\evil.csv", _valid_named(27), accepted=1),
    Case(
        "name_with_markup",
        "hostile-<img src=x onerror=alert(1)>.csv",
        _bytes(_random(300, 4)),
        "BERKAS_RUSAK",
    ),
    Case(
        "name_with_formula", '=HYPERLINK("http:evil","klik").csv', _no_header, "BERKAS_TANPA_HEADER"
    ),
    Case("name_very_long", "hostile-" + "a" * 230 + ".csv", _valid_named(28), accepted=1),
    Case("name_with_controls", "hostile-\x01\x1b[31m\u202egnp.csv", _valid_named(29), accepted=1),
]

BY_NAME = {c.name: c for c in CASES}


def write_case(case: Case, folder: Path) -> Path:
    path = folder / case.filename
    case.write(path)
    return path


def write_all(folder: Path, big: bool = True) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    return [write_case(c, folder) for c in CASES if big or not c.big]


def disk_usage(path: Path) -> int:
    """Bytes a file really occupies (a sparse file: far less than its size)."""
    return os.stat(path).st_blocks * 512
