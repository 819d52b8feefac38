"""The benchmark's synthetic rosters: generated once, deterministically, and cached under `bench/data/`.

* Lahat (case 1): `iuran.generate.generate_rosters`, exactly what `make demo` writes, at full size
  (360 desa x 100 workers, 2% extra faulty rows, half CSV half XLSX).
* Lahat in the layouts villages really send (case 5): the same month written `--format mixed`
  (`iuran.generate_formats`: the template, OpenSID's exports, SIAK's `.xls`, in turn by village),
  with what each layout holds (files, rows, valid rows) to compare what the month reads against.
* National (case 2): every village and ward of `iuran.wilayah.all_villages()` (83,762 in 514
  regencies), 100 workers each, drawn by `iuran.generate.build_rosters` per regency (same people,
  NIKs, names and faults as the demo generator) but written by the fast writers below: CSV with the
  csv module, XLSX as the same parts openpyxl writes (copied once from an openpyxl workbook) around a
  sheet XML built as text. openpyxl would take about 5 ms a file, ~4 minutes for 42,000 workbooks.
* Province (case 5): every village of one province's regencies (Jawa Tengah: 8,563 in 35), 10
  workers each, one program per regency, written like the national rosters.

A folder is complete when its `STAMP` file holds the current `VERSION` and parameters; anything else
is deleted and regenerated, so a change here (bump `VERSION`) can never mix old and new files.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import shutil
import time
import zipfile
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from iuran.generate import COLUMNS, SHEET, build_rosters, generate_rosters
from iuran.generate_formats import layout_of
from iuran.periods import Period
from iuran.programs import Program, ProgramYear, load_program

ROOT = Path(__file__).resolve().parent
DATA = Path(os.environ.get("IURAN_BENCH_DATA", ROOT / "data"))
VERSION = 1
SEED = 2026

LAHAT = "lahat"
LAHAT_PERIOD = Period(2025, 9)
NATIONAL_PERIOD = Period(2026, 1)
NATIONAL_FAULTS = (
    0.005  # half a percent of extra faulty rows: the reader's and validator's slow paths
)
LAHAT_FAULTS = 0.02  # what `make demo` uses


@dataclass(frozen=True)
class Dataset:
    inbox: Path
    files: int
    rows: int
    seconds: float  # generation time (0.0 when reused from the cache)
    reused: bool
    programs: list[str]


def _stamp(folder: Path, params: dict[str, Any]) -> bool:
    stamp = folder / "STAMP"
    want = json.dumps({"version": VERSION, **params}, sort_keys=True)
    return stamp.exists() and stamp.read_text() == want


def _write_stamp(folder: Path, params: dict[str, Any], info: dict[str, Any]) -> None:
    (folder / "STAMP").write_text(json.dumps({"version": VERSION, **params}, sort_keys=True))
    (folder / "INFO.json").write_text(json.dumps(info, sort_keys=True))


def _cached(
    name: str, params: dict[str, Any], build: Callable[[Path], dict[str, Any]]
) -> tuple[Path, dict[str, Any], float, bool]:
    folder = DATA / name
    if _stamp(folder, params):
        return folder, json.loads((folder / "INFO.json").read_text()), 0.0, True
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    t0 = time.perf_counter()
    info = build(folder)
    seconds = time.perf_counter() - t0
    _write_stamp(folder, params, info)
    return folder, info, seconds, False


# --------------------------------------------------------------------------------------- Lahat


def lahat(villages: int | None = None, per_village: int = 100, fmt: str = "template") -> Dataset:
    """Lahat rosters for `LAHAT_PERIOD` under `bench/data/lahat-*/inbox/lahat/2025-09/`, in the
    roster layout `fmt` (`iuran.generate_formats.FORMATS`)."""
    params = {
        "villages": villages,
        "per_village": per_village,
        "faults": LAHAT_FAULTS,
        "seed": SEED,
        **({"fmt": fmt} if fmt != "template" else {}),  # the template's caches stay valid
    }
    name = f"lahat-{villages or 'all'}x{per_village}{'' if fmt == 'template' else '-' + fmt}"

    def build(folder: Path) -> dict[str, Any]:
        program = load_program(LAHAT)
        args = (villages, per_village, LAHAT_FAULTS, SEED)
        report = generate_rosters(program, LAHAT_PERIOD, folder / "inbox", *args, fmt=fmt)
        return {
            "files": len(report.files),
            "rows": report.rows,
            "valid_rows": report.valid_rows,
            "programs": [LAHAT],
            "layouts": layouts(program, args, fmt),
        }

    folder, info, seconds, reused = _cached(name, params, build)
    return Dataset(folder / "inbox", info["files"], info["rows"], seconds, reused, info["programs"])


def lahat_mixed(quick: bool = False) -> Dataset:
    """Case 5's month: every Lahat village in turn in each layout (`--quick`: 21 villages x 10)."""
    return lahat(21, 10, fmt="mixed") if quick else lahat(None, 100, fmt="mixed")


def layouts(
    program: Program, args: tuple[int | None, int, float, int], fmt: str
) -> dict[str, dict[str, Any]]:
    """What `generate_rosters(..., fmt=fmt)` wrote in each layout: its villages, rows, valid rows
    (the same rosters drawn again: the generator is deterministic)."""
    found: dict[str, dict[str, Any]] = {}
    for j, roster in enumerate(build_rosters(program, LAHAT_PERIOD, *args)):
        faulty = sum(kind is not None for kind in roster.columns["fault"])
        layout = found.setdefault(layout_of(fmt, j), {"villages": [], "rows": 0, "valid_rows": 0})
        layout["villages"].append(roster.kode_desa)
        layout["rows"] += len(roster)
        layout["valid_rows"] += len(roster) - faulty
    return found


# ------------------------------------------------------------------------------------ national


def national_program(template: Program, regency: str, index: int, villages: int) -> Program:
    """One regency-paid program per regency, from a template program (`lebak`)."""
    from iuran import wilayah

    short = "N" + "".join(chr(65 + (index // 26**k) % 26) for k in (2, 1, 0))
    return template.model_copy(
        update={
            "code": "kab-" + regency.replace(".", "-"),
            "short": short,
            "regency": regency,
            "regency_name": wilayah.regency_name(regency),
            "payer": "regency",
            "desa_only": False,
            "target_per_village": 100,
            "years": (_one_year(template, villages * 100),),
        }
    )


def _one_year(template: Program, workers: int) -> ProgramYear:
    """The template's first budget year planned for `workers` (headcount and pagu)."""
    return template.years[0].model_copy(update={"workers": workers, "pagu": workers * 16_800 * 12})


def national_programs(limit: int | None = None) -> list[Program]:
    from iuran import wilayah

    counts = wilayah.all_villages().groupby("kode_kabupaten").size()
    template = load_program("lebak")
    regencies = list(counts.index)
    if limit is not None:
        regencies = regencies[:: max(1, len(regencies) // limit)][:limit]
    return [
        national_program(template, r, i, int(counts[r])) for i, r in enumerate(sorted(regencies))
    ]


_XML_ESCAPE = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
_EPOCH = np.datetime64("1899-12-30", "D")


@dataclass(frozen=True)
class _XlsxParts:
    """Every part of an openpyxl workbook except the sheet: what the fast writer copies."""

    parts: list[tuple[str, bytes]]
    head: str  # sheet XML up to <sheetData>
    tail: str  # sheet XML after </sheetData>


_PARTS: _XlsxParts | None = None


def _xlsx_parts() -> _XlsxParts:
    global _PARTS
    if _PARTS is None:
        from openpyxl import Workbook

        wb = Workbook(write_only=True)
        ws = wb.create_sheet(SHEET)
        ws.append(COLUMNS)
        ws.append(["1", "x", dt.date(2000, 1, 1), "L", "x", "x", "x", "x", 1])  # a date style
        buf = io.BytesIO()
        wb.save(buf)
        with zipfile.ZipFile(buf) as z:
            parts = [(i.filename, z.read(i)) for i in z.infolist()]
        sheet = dict(parts)["xl/worksheets/sheet1.xml"].decode()
        head = sheet[: sheet.index("<sheetData>") + len("<sheetData>")]
        tail = sheet[sheet.index("</sheetData>") :]
        _PARTS = _XlsxParts([p for p in parts if p[0] != "xl/worksheets/sheet1.xml"], head, tail)
    return _PARTS


def _istr(ref: str, value: object) -> str:
    return f'<c r="{ref}" t="inlineStr"><is><t>{str(value).translate(_XML_ESCAPE)}</t></is></c>'


def _cells(ref: np.ndarray, values: np.ndarray, present: np.ndarray, kind: str) -> np.ndarray:
    """One column's cells as XML text ("" where the cell is empty), built array-wise."""
    out = np.full(len(values), "", dtype=object)
    if not present.any():
        return out
    v = values[present].astype(str).astype(object)
    r = ref[present]
    if kind == "s":
        joined = "".join(v)
        if "&" in joined or "<" in joined or ">" in joined:
            v = np.array([x.translate(_XML_ESCAPE) for x in v], dtype=object)
        out[present] = '<c r="' + r + '" t="inlineStr"><is><t>' + v + "</t></is></c>"
    elif kind == "d":
        out[present] = '<c r="' + r + '" s="1" t="n"><v>' + v + "</v></c>"
    else:
        out[present] = '<c r="' + r + '" t="n"><v>' + v + "</v></c>"
    return out


def _sheet_xml(rows: dict[str, np.ndarray]) -> str:
    """The roster as openpyxl would write it: inline strings, dates as serials with style 1 (a
    date format), income as a number cell, empty cells left out; a NIK the Excel fault turned into
    a number (`nik_scientific`) is a number cell holding the 15-digit float."""
    parts = _xlsx_parts()
    n = len(rows["nik"])
    numbers = np.arange(2, n + 2).astype(str).astype(object)
    birth = rows["tanggal_lahir"].astype("datetime64[D]")
    serial = np.where(np.isnat(birth), -1, (birth - _EPOCH).astype(np.int64))
    sci = rows["fault"] == "nik_scientific"
    nik = rows["nik"].astype(object)
    has_nik = np.array([v is not None for v in nik], dtype=bool)
    floats = np.array([repr(float(str(v)[:15] + "0")) for v in nik[sci]], dtype=object)
    nik_num = np.full(n, "", dtype=object)
    nik_num[sci] = floats
    columns = [
        np.where(
            sci,
            _cells("A" + numbers, nik_num, sci, "n"),
            _cells("A" + numbers, nik, has_nik & ~sci, "s"),
        ),
        _cells("C" + numbers, serial, serial >= 0, "d"),
        _cells("I" + numbers, rows["penghasilan"], rows["penghasilan"] > 0, "n"),
    ]
    for col, key in (
        ("B", "nama"),
        ("D", "jenis_kelamin"),
        ("E", "pekerjaan"),
        ("F", "kode_desa"),
        ("G", "alamat"),
        ("H", "no_hp"),
    ):
        values = rows[key].astype(object)
        present = np.array([v is not None and v == v for v in values], dtype=bool)
        columns.insert("ABCDEFGHI".index(col), _cells(col + numbers, values, present, "s"))
    body = '<row r="' + numbers + '">'
    for c in columns:
        body = body + c
    body = body + "</row>"
    header = "".join(_istr(f"{chr(65 + i)}1", c) for i, c in enumerate(COLUMNS))
    return f'{parts.head}<row r="1">{header}</row>{"".join(body)}{parts.tail}'


def write_xlsx(path: Path, rows: dict[str, np.ndarray]) -> None:
    parts = _xlsx_parts()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as z:
        for name, data in parts.parts[:3]:
            z.writestr(name, data, zipfile.ZIP_STORED)
        z.writestr("xl/worksheets/sheet1.xml", _sheet_xml(rows))
        for name, data in parts.parts[3:]:
            z.writestr(name, data, zipfile.ZIP_STORED)


def write_csv(path: Path, rows: dict[str, np.ndarray]) -> None:
    """The roster as `generate_rosters` writes it: dates yyyy-mm-dd, the Excel-damaged NIK as
    `3.60201E+15`, empty income left blank."""
    birth = rows["tanggal_lahir"].astype("datetime64[D]")
    dates = np.where(np.isnat(birth), "", np.datetime_as_string(birth)).astype(object)
    sci = rows["fault"] == "nik_scientific"
    nik = rows["nik"].astype(object).copy()
    nik[sci] = [f"{float(n):.5E}" for n in nik[sci]]
    income = np.where(rows["penghasilan"] > 0, rows["penghasilan"].astype(str), "")
    cols = [
        nik, rows["nama"], dates, rows["jenis_kelamin"], rows["pekerjaan"], rows["kode_desa"],
        rows["alamat"], rows["no_hp"], income,
    ]  # fmt: skip
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(COLUMNS)
    w.writerows(zip(*[["" if v is None else v for v in c] for c in cols], strict=True))
    path.write_text(buf.getvalue(), encoding="utf-8", newline="")


def _write_regency(args: tuple[Program, Path, int, float, int | None]) -> tuple[str, int, int]:
    """One regency's rosters (its first `villages`, all when None) under `inbox`."""
    program, inbox, per_village, faults, villages = args
    rosters = build_rosters(program, NATIONAL_PERIOD, villages, per_village, faults, SEED)
    folder = inbox / program.code / str(NATIONAL_PERIOD)
    folder.mkdir(parents=True, exist_ok=True)
    rows = 0
    for r in rosters:
        path = folder / f"{r.kode_desa}.{r.fmt}"
        (write_csv if r.fmt == "csv" else write_xlsx)(path, r.columns)
        rows += len(r)
    return program.code, len(rosters), rows


def national(
    regencies: int | None = None, per_village: int = 100, workers: int = 2
) -> tuple[Dataset, list[Program]]:
    """Rosters of every village of `regencies` regencies (all 514 by default) for `NATIONAL_PERIOD`."""
    programs = national_programs(regencies)
    params = {
        "regencies": regencies,
        "per_village": per_village,
        "faults": NATIONAL_FAULTS,
        "seed": SEED,
        "numpy": np.__version__,  # the generator's streams may change between numpy releases
    }
    name = f"national-{regencies or 'all'}x{per_village}"
    return _regencies(name, params, programs, per_village, None, workers), programs


def _regencies(
    name: str,
    params: dict[str, Any],
    programs: list[Program],
    per_village: int,
    villages: int | None,
    workers: int,
) -> Dataset:
    """The programs' rosters under `bench/data/<name>/inbox/`, written by `workers` processes."""

    def build(folder: Path) -> dict[str, Any]:
        jobs = [(p, folder / "inbox", per_village, NATIONAL_FAULTS, villages) for p in programs]
        with ProcessPoolExecutor(max_workers=workers) as pool:
            done = list(pool.map(_write_regency, jobs, chunksize=4))
        return {
            "files": sum(d[1] for d in done),
            "rows": sum(d[2] for d in done),
            "programs": [d[0] for d in done],
        }

    folder, info, seconds, reused = _cached(name, params, build)
    return Dataset(folder / "inbox", info["files"], info["rows"], seconds, reused, info["programs"])


def roster_files(inbox: Path) -> Iterator[Path]:
    for p in sorted(inbox.rglob("*")):
        if p.suffix in (".csv", ".xlsx") and not p.name.startswith("."):
            yield p


# ------------------------------------------------------------------------------------ province


def province_programs(
    province: str, regencies: int | None = None, per_village: int = 10
) -> list[Program]:
    """One regency-paid program per kabupaten/kota of `province` (the first `regencies` by code),
    from the `lebak` template, named after its regency, `per_village` workers a village."""
    from iuran import wilayah

    villages = wilayah.all_villages()
    counts = villages[villages["kode_kabupaten"].str.startswith(province + ".")]
    sizes = counts.groupby("kode_kabupaten").size()
    template = load_program("lebak")
    out = []
    for i, regency in enumerate(sorted(sizes.index)[:regencies]):
        base = national_program(template, regency, i, int(sizes[regency]))
        name = wilayah.regency_name(regency)
        workers = int(sizes[regency]) * per_village
        out.append(
            base.model_copy(
                update={
                    "name": f"Perlindungan Jaminan Sosial Ketenagakerjaan Pekerja Rentan {name} 2026",
                    "payer_name": f"Pemerintah {name} c.q. BKAD {name}",
                    "target_per_village": per_village,
                    "years": (_one_year(template, workers),),
                }
            )
        )
    return out


def province(
    code: str,
    regencies: int | None = None,
    villages: int | None = None,
    per_village: int = 10,
    workers: int = 2,
) -> tuple[Dataset, list[Program]]:
    """Rosters of a province's regencies (all by default; `villages` a regency, all by default) for
    `NATIONAL_PERIOD`, written like the national case's."""
    programs = province_programs(code, regencies, per_village)
    params = {
        "province": code,
        "regencies": regencies,
        "villages": villages,
        "per_village": per_village,
        "faults": NATIONAL_FAULTS,
        "seed": SEED,
        "numpy": np.__version__,
    }
    name = f"province-{code}-{regencies or 'all'}x{villages or 'all'}x{per_village}"
    return _regencies(name, params, programs, per_village, villages, workers), programs
