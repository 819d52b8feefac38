"""Realistic, deterministic demo rosters: one file per village, the program's real villages, CSV and XLSX.

The generator stands in for the village operators, so the rest of the cycle can be exercised on data that
looks like theirs: NIKs that agree with birth date and sex, local names and rural occupations, Excel files
next to CSV files, and, on request, the faults operators make (see `FAULT_KINDS`).

Determinism and continuity (what the cycle relies on):

* Everything is drawn from random streams keyed by `(seed, kode_desa, purpose)`, never by run order, so the
  same arguments give byte-identical CSV files and identical XLSX cells (with the same numpy: its
  Generator's streams may change between numpy feature releases), and a village's valid rows do not depend
  on how many other villages are generated.
* A village's workers are the same people every period: they are derived from `(seed, kode_desa)` and
  `per_village`, not from the period. Their birth dates are drawn so that their age stays within
  `age_min+1 .. age_max-1` on the first day of every period of the program year (not guaranteed for a
  period outside the program year).
* Churn: from the program's second period on, each month replaces about `churn` (default 2%) of a village's
  rows with new people (stochastic rounding, so with 10 workers a village about one village in five replaces
  one worker a month). A replacement keeps the row count, so a village's size stays the same.
  Period k's roster is period k-1's roster with that month's replacements: the rest continue. `churn=0`
  gives the same roster every month.
* NIKs are unique across the program by construction: a person's 4-digit serial lies in a block reserved for
  their village (its position in the regency's list), and within a village duplicates are redrawn.
* Fault rows are extra rows, `round(faults x valid rows)` (half up) of them, spread over the villages and
  placed among the valid rows; their kinds cycle through `FAULT_KINDS` so that every kind appears once there
  are six (`dua_desa` needs two villages). They are drawn per period. A `dua_desa` row repeats a valid
  person of another village, so reconciliation (not validation) has to catch it.

Why one module of ~900 lines: a sixth of it is the name and occupation lists rows are drawn from,
and the rest is one generator whose parts share the streams above (which purpose draws what, in
which order, is what keeps a village's rows the same whatever else is generated); split, that order
would become a contract between files. The roster template (`build_roster_template`) stays beside
it: it is the same sheet, columns and formats an operator fills and the demo rosters imitate.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import math
from collections import Counter
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.worksheet.datavalidation import DataValidation

from iuran import wilayah
from iuran.files import write_atomic
from iuran.generate_formats import file_name, layout_bytes, layout_of
from iuran.periods import Period
from iuran.programs import Program

COLUMNS = [
    "nik",
    "nama",
    "tanggal_lahir",
    "jenis_kelamin",
    "pekerjaan",
    "kode_desa",
    "alamat",
    "no_hp",
    "penghasilan",
]
SHEET = "Peserta"

#: fault kinds, in the order extra rows cycle through them
FAULT_KINDS = (
    "nik_invalid",  # wrong length or an impossible date part
    "nik_scientific",  # Excel turned the NIK into a number: `3.60201E+15` (CSV) or a float cell (XLSX)
    "dua_desa",  # a valid person of another village of this program listed again here
    "usia_lebih",  # older than the program's age_max
    "kolom_kosong",  # nama or tanggal_lahir left empty
    "nik_ganda",  # the same row twice in one file
)


@dataclass(frozen=True)
class GenerateReport:
    files: list[Path]
    villages: int
    rows: int
    valid_rows: int
    fault_rows: dict[str, int]  # fault kind -> count (every kind, 0 when absent)


@dataclass(frozen=True)
class VillageRoster:
    """One village's file before it is written, as parallel arrays (`frame` turns them into a DataFrame)."""

    kode_desa: str
    fmt: str  # "csv" | "xlsx"
    columns: dict[str, np.ndarray] = field(repr=False)

    @cached_property
    def frame(self) -> pd.DataFrame:
        """COLUMNS plus `fault` (the kind, missing on valid rows); dates datetime64, `penghasilan` Int64."""
        return _frame(self.columns)

    def __len__(self) -> int:
        return len(self.columns["nik"])


# --------------------------------------------------------------------------------------------- names

_SUNDA_L = (
    "Asep", "Ujang", "Dede", "Cecep", "Dadang", "Yayan", "Endang", "Entis", "Ade", "Iwan", "Jajang",
    "Aang", "Deden", "Eman", "Odih", "Karta", "Sarip", "Maman", "Ohim", "Udin", "Encep", "Uus",
    "Engkos", "Wawan", "Yana", "Mumuh", "Nana", "Ruhiyat", "Sukarna", "Jaja", "Oman", "Dayat",
)  # fmt: skip
_SUNDA_P = (
    "Euis", "Neneng", "Iis", "Imas", "Enung", "Eti", "Ai", "Yayah", "Cucu", "Elis", "Lilis",
    "Nining", "Entin", "Oom", "Popon", "Tuti", "Eha", "Enok", "Ika", "Rina", "Nani", "Ecin",
    "Atikah", "Ipah", "Titin", "Onah", "Kokom", "Emah", "Yeni", "Dedeh",
)  # fmt: skip
_SUNDA_2L = (
    "Saepudin", "Hidayat", "Sopian", "Permana", "Nugraha", "Suhendar", "Rohman", "Supriatna",
    "Ruhimat", "Kurnia", "Sutisna", "Mulyana", "Sukmana", "Setiawan", "Firmansyah", "Maulana",
)  # fmt: skip
_SUNDA_2P = (
    "Komalasari", "Nurjanah", "Rohaeti", "Kurniasih", "Sumiati", "Rahmawati", "Hayati", "Mulyani",
    "Suryani", "Nurhasanah", "Fitriani", "Apriliani", "Purnamasari", "Sopiah",
)  # fmt: skip
_JAWA_L = (
    "Slamet", "Sutrisno", "Wahyudi", "Sugeng", "Paijo", "Tukiman", "Joko", "Budi", "Agus", "Bambang",
    "Sukardi", "Suparman", "Heri", "Suyanto", "Darsono", "Priyo", "Wagiman", "Sarno", "Eko",
    "Teguh", "Supri", "Warsito", "Mulyono", "Sugiarto", "Parman", "Kasno",
)  # fmt: skip
_JAWA_P = (
    "Sri", "Suminah", "Sumarni", "Sulastri", "Tumini", "Wartini", "Painem", "Sukinah", "Rukmini",
    "Suyati", "Ngatini", "Darmi", "Yuli", "Wahyuni", "Lestari", "Tri", "Ratna", "Sarinah",
    "Kasiyem", "Partini", "Endah", "Murni",
)  # fmt: skip
_JAWA_2L = (
    "Santoso", "Prasetyo", "Susanto", "Wibowo", "Raharjo", "Saputro", "Purnomo", "Hartono",
    "Widodo", "Kurniawan", "Setiyono", "Nugroho", "Pamungkas", "Hadi",
)  # fmt: skip
_JAWA_2P = (
    "Rahayu", "Handayani", "Lestari", "Wulandari", "Susanti", "Astuti", "Utami", "Ningsih",
    "Hartini", "Suprihatin", "Purwanti", "Winarsih",
)  # fmt: skip
_MELAYU_L = (
    "Rahmat", "Syamsul", "Zulkifli", "Syahrial", "Hendri", "Rusli", "Amran", "Bakri", "Darmawan",
    "Firdaus", "Herman", "Jamaluddin", "Khairul", "Marzuki", "Nasrul", "Rizal", "Saipul", "Yusri",
    "Zainal", "Anwar", "Azhari", "Rudi", "Sahlan", "Mat Ali", "Hamdan",
)  # fmt: skip
_MELAYU_P = (
    "Nurhayati", "Rosmiati", "Yusnani", "Asmawati", "Fatimah", "Herlina", "Jamilah", "Komariah",
    "Marlina", "Nuraini", "Rosdiana", "Salmah", "Sariah", "Yanti", "Zuraidah", "Maimunah", "Rohani",
    "Darmawati", "Erna", "Kartini",
)  # fmt: skip
_MELAYU_2L = (
    "Effendi", "Syahputra", "Saputra", "Hasibuan", "Harahap", "Gunawan", "Ramadhan", "Fauzi",
    "Hakim", "Pratama", "Kurniawan", "Hidayatullah",
)  # fmt: skip
_MELAYU_2P = (
    "Sari", "Wati", "Yusnita", "Fitri", "Susanti", "Hasanah", "Ningsih", "Agustina", "Purnama",
    "Safitri",
)  # fmt: skip
_BUGIS_L = (
    "Baso", "Arif", "Syamsuddin", "Jufri", "Hasanuddin", "Ilham", "Irwan", "Kamaruddin",
    "Mappiasse", "Mustari", "Nasir", "Ridwan", "Sudirman", "Taufik", "Amiruddin", "Haeruddin",
    "Baharuddin", "Lukman", "Syarifuddin", "Arifin", "Mappatunru", "Ambo", "Lapanca",
)  # fmt: skip
_BUGIS_P = (
    "Sitti", "Hasnah", "Hamsinah", "Nurhaedah", "Rosmini", "Sahariah", "Fatmawati", "Hadijah",
    "Jumriah", "Marwah", "Nurmiati", "Rahmawati", "Syamsiah", "Warda", "Hasniati", "Ratnawati",
    "Besse", "Indo Tang", "Becce",
)  # fmt: skip
_BUGIS_2L = (
    "Daeng Nai", "Daeng Sitaba", "Mallarangeng", "Paturusi", "Sulaiman", "Yunus", "Tahir",
    "Lahamma", "Hamid", "Latif", "Rasyid", "Jalil",
)  # fmt: skip
_BUGIS_2P = (
    "Daeng Ngai", "Halimah", "Nurdin", "Saleh", "Hamzah", "Basri", "Idris", "Kadir", "Arsyad",
)  # fmt: skip
_KALIMANTAN_L = (
    "Yohanes", "Markus", "Agustinus", "Dedi", "Rusdiansyah", "Fransiskus", "Hendrikus", "Junaidi",
    "Kristian", "Mulyadi", "Norhadi", "Riduan", "Saprudin", "Sahrani", "Tomas", "Yulius",
    "Aspihani", "Rahmadi", "Gusti", "Hermanto", "Sabran", "Ilon",
)  # fmt: skip
_KALIMANTAN_P = (
    "Maria", "Agustina", "Yuliana", "Rusmini", "Nor Aida", "Fransiska", "Hasanah", "Kristina",
    "Lusiana", "Masitah", "Norhayati", "Rabiatul", "Salbiah", "Theresia", "Elisabeth", "Rosita",
    "Antonia", "Itah",
)  # fmt: skip
_KALIMANTAN_2L = (
    "Sahay", "Ngabut", "Antang", "Apui", "Rahman", "Ramli", "Saleh", "Usup", "Dj. Ahim", "Lambung",
    "Andreas", "Ardiansyah",
)  # fmt: skip
_KALIMANTAN_2P = (
    "Sari", "Nuryati", "Ambun", "Hayati", "Yanti", "Rosalina", "Emilia", "Wati", "Fitriani",
)  # fmt: skip

#: culture -> (male first names, female first names, male second names, female second names)
_CULTURES: dict[str, tuple[tuple[str, ...], ...]] = {
    "sunda": (_SUNDA_L, _SUNDA_P, _SUNDA_2L, _SUNDA_2P),
    "jawa": (_JAWA_L, _JAWA_P, _JAWA_2L, _JAWA_2P),
    "melayu": (_MELAYU_L, _MELAYU_P, _MELAYU_2L, _MELAYU_2P),
    "bugis": (_BUGIS_L, _BUGIS_P, _BUGIS_2L, _BUGIS_2P),
    "kalimantan": (_KALIMANTAN_L, _KALIMANTAN_P, _KALIMANTAN_2L, _KALIMANTAN_2P),
}
_CULTURE_NAMES = tuple(_CULTURES)

#: province -> culture weights (Banten Sundanese, Sumatera Selatan Malay, Kalimantan Tengah Dayak/Banjar
#: with Javanese transmigrants, Sulawesi Selatan Bugis); other provinces get a national mix
_CULTURE_MIX: dict[str, dict[str, float]] = {
    "36": {"sunda": 0.75, "jawa": 0.2, "melayu": 0.05},
    "32": {"sunda": 0.85, "jawa": 0.15},
    "16": {"melayu": 0.7, "jawa": 0.25, "sunda": 0.05},
    "62": {"kalimantan": 0.6, "jawa": 0.3, "bugis": 0.05, "melayu": 0.05},
    "73": {"bugis": 0.85, "jawa": 0.1, "melayu": 0.05},
}
_DEFAULT_MIX = {"jawa": 0.4, "sunda": 0.2, "melayu": 0.2, "bugis": 0.1, "kalimantan": 0.1}

# ---------------------------------------------------------------------------------------- occupations

_OCCUPATIONS: dict[str, float] = {
    "petani": 20,
    "buruh tani": 14,
    "buruh harian lepas": 14,
    "pedagang": 8,
    "pedagang keliling": 3,
    "ojek": 6,
    "tukang bangunan": 5,
    "tukang kayu": 2,
    "peternak": 5,
    "nelayan": 3,
    "sopir": 3,
    "kernet": 1,
    "tukang becak": 1,
    "pengrajin": 2,
    "pekebun sawit": 2,
    "pekebun karet": 1,
    "pekebun kopi": 1,
    "buruh perkebunan": 2,
    "penambang pasir": 1,
}
#: province -> multipliers on the weights above (the local economy)
_OCCUPATION_BOOST: dict[str, dict[str, float]] = {
    "36": {"petani": 1.3, "buruh tani": 1.3, "penambang pasir": 2, "nelayan": 1.5},
    "16": {"pekebun kopi": 12, "pekebun karet": 10, "pekebun sawit": 3},
    "62": {"pekebun sawit": 12, "buruh perkebunan": 6, "pekebun karet": 4, "nelayan": 0.5},
    "73": {"nelayan": 5, "petani": 1.3, "pekebun kopi": 2},
}

_PHONE_PREFIXES = np.array(
    [812, 813, 821, 822, 823, 852, 853, 851, 857, 858, 856, 877, 878, 895, 896, 897, 838, 831, 882]
)

_KAMPUNG = (
    "Cibeber", "Cikadu", "Babakan", "Sukamaju", "Pasir Kembang", "Cijengkol", "Sindangsari",
    "Tegalsari", "Pasirhaur", "Cipanas", "Kadu Agung", "Ciherang", "Bojong", "Cisarua", "Sukajadi",
    "Cilaki", "Gunungsari", "Cimanggu", "Leuwiliang", "Pasanggrahan", "Kaduhauk", "Cigembong",
)  # fmt: skip
_DUSUN = (
    "Krajan", "Sukamaju", "Sidorejo", "Mekarsari", "Sumber Rejo", "Tanjung", "Karang Anyar",
    "Sungai Baru", "Lubuk", "Talang Baru", "Bukit Indah", "Suka Damai", "Harapan Jaya", "Air Hitam",
    "Pasar", "Tengah", "I", "II", "III", "IV", "V",
)  # fmt: skip
_KAMPUNG_PROVINCES = {"31", "32", "36"}  # where hamlets are "Kp." rather than "Dusun"
_PAD3 = np.array([f"{i:03d}" for i in range(1000)], dtype=object)  # RT/RW numbers: 001 ...


# ------------------------------------------------------------------------------------------ streams


def _rng(seed: int, *parts: object) -> np.random.Generator:
    """A random stream keyed by what it is for, so no stream depends on the order of the others."""
    key = "|".join(str(p) for p in (seed, *parts)).encode()
    return np.random.default_rng(
        int.from_bytes(hashlib.blake2b(key, digest_size=16).digest(), "big")
    )


def _years_before(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


@dataclass(frozen=True)
class _Village:
    kode_desa: str
    nama_desa: str
    jenis: str
    own_kec: int  # 6-digit district code, e.g. 360201
    serial0: int  # first serial of the village's block, minus one
    hamlets: tuple[str, ...]
    rt_counts: np.ndarray = field(repr=False)


@dataclass(frozen=True)
class _Context:
    seed: int
    block: int  # serials per village
    birth_lo: np.datetime64
    birth_hi: np.datetime64
    old_lo: np.datetime64
    old_hi: np.datetime64
    kec_codes: np.ndarray  # districts of the regency
    province_kec: np.ndarray  # districts of the province's other regencies (NIK issued elsewhere)
    culture_p: np.ndarray
    occupations: np.ndarray
    occupation_p: np.ndarray


def _pools(index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Names of all cultures in one array, with each culture's offset and size, for vectorised picks."""
    parts = [_CULTURES[c][index] for c in _CULTURE_NAMES]
    sizes = np.array([len(p) for p in parts])
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    return np.array([n for p in parts for n in p], dtype=object), offsets, sizes


_NAME_POOLS = [_pools(i) for i in range(4)]


def _context(program: Program, period: Period, seed: int) -> _Context:
    province = program.regency[:2]
    mix = _CULTURE_MIX.get(province, _DEFAULT_MIX)
    culture_p = np.array([mix.get(c, 0.0) for c in _CULTURE_NAMES])
    boost = _OCCUPATION_BOOST.get(province, {})
    occ = np.array(list(_OCCUPATIONS), dtype=object)
    occ_w = np.array([w * boost.get(o, 1.0) for o, w in _OCCUPATIONS.items()])

    kec = wilayah.districts(program.regency)["kode_kecamatan"].str.replace(".", "", regex=False)
    allv = wilayah.all_villages()
    others = allv.loc[
        (allv["kode_kabupaten"].str[:2] == province)
        & (allv["kode_kabupaten"] != program.regency)
        & (allv["kode_kabupaten"].str[3:5].astype(int) < 70),  # regencies, not cities
        "kode_kecamatan",
    ].drop_duplicates()
    n_all = len(wilayah.villages(program.regency))

    # Ages stay in age_min+1 .. age_max-1 on the first day of every period of the program year.
    first, last = program.first_period.first_day, program.last_period.first_day
    lo = _years_before(last, program.age_max) + dt.timedelta(days=1)
    hi = _years_before(first, program.age_min + 1)
    if hi < lo:  # a program longer than its age band allows: keep the band for `period` alone
        lo = _years_before(period.first_day, program.age_max) + dt.timedelta(days=1)
        hi = _years_before(period.first_day, program.age_min + 1)
    ref = min(period, program.first_period).first_day
    old_hi = _years_before(ref, program.age_max + 1)
    old_lo = _years_before(ref, program.age_max + 11) + dt.timedelta(days=1)
    return _Context(
        seed=seed,
        block=max(1, 9999 // max(1, n_all)),
        birth_lo=np.datetime64(lo, "D"),
        birth_hi=np.datetime64(hi, "D"),
        old_lo=np.datetime64(old_lo, "D"),
        old_hi=np.datetime64(old_hi, "D"),
        kec_codes=kec.astype(np.int64).to_numpy(),
        province_kec=others.str.replace(".", "", regex=False).astype(np.int64).to_numpy(),
        culture_p=culture_p / culture_p.sum(),
        occupations=occ,
        occupation_p=occ_w / occ_w.sum(),
    )


def _village(seed: int, row: Any, position: int, block: int, province: str) -> _Village:
    rng = _rng(seed, row.kode_desa, "geo")
    names = _KAMPUNG if province in _KAMPUNG_PROVINCES else _DUSUN
    prefix = "Kp." if province in _KAMPUNG_PROVINCES else "Dusun"
    n = int(rng.integers(3, 7))
    picked = rng.choice(len(names), size=n, replace=False)
    return _Village(
        kode_desa=row.kode_desa,
        nama_desa=row.nama_desa,
        jenis=row.jenis,
        own_kec=int(row.kode_desa[:8].replace(".", "")),
        serial0=position * block,
        hamlets=tuple(f"{prefix} {names[i]}" for i in picked),
        rt_counts=rng.integers(2, 6, size=n),
    )


# ------------------------------------------------------------------------------------------- people

#: a set of rows as parallel numpy arrays: pandas frames are too slow to build 360 times in small pieces
_Rows = dict[str, np.ndarray]


def _take(rows: _Rows, index: np.ndarray) -> _Rows:
    return {k: a[index] for k, a in rows.items()}


def _concat(parts: list[_Rows]) -> _Rows:
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def _pick(
    rng: np.random.Generator, pool: tuple[np.ndarray, np.ndarray, np.ndarray], culture: np.ndarray
) -> np.ndarray:
    names, offsets, sizes = pool
    u = rng.random(len(culture))
    return names[offsets[culture] + (u * sizes[culture]).astype(np.int64)]


def _alamat(rng: np.random.Generator, v: _Village, n: int) -> np.ndarray:
    hamlet = rng.integers(0, len(v.hamlets), size=n)
    rt = 1 + (rng.random(n) * v.rt_counts[hamlet]).astype(np.int64)
    kind = "Kelurahan" if v.jenis == "kelurahan" else "Desa"
    hamlets = np.array(v.hamlets, dtype=object)[hamlet]
    return hamlets + " RT " + _PAD3[rt] + "/RW " + _PAD3[hamlet + 1] + f", {kind} {v.nama_desa}"


def _people(
    rng: np.random.Generator,
    n: int,
    ctx: _Context,
    v: _Village,
    lo: np.datetime64,
    hi: np.datetime64,
) -> _Rows:
    """`n` new people of village `v`, born between `lo` and `hi`; every column drawn as one array."""
    female = rng.random(n) < 0.38
    span = int((hi - lo).astype(np.int64))
    u = (rng.random(n) + rng.random(n)) / 2  # peaks in mid working age
    birth = lo + np.minimum((u * (span + 1)).astype(np.int64), span).astype("timedelta64[D]")

    r = rng.random(n)
    other_kec = ctx.kec_codes[rng.integers(0, len(ctx.kec_codes), size=n)]
    prov = ctx.province_kec if len(ctx.province_kec) else ctx.kec_codes
    prov_kec = prov[rng.integers(0, len(prov), size=n)]
    area = np.where(r < 0.75, v.own_kec, np.where(r < 0.95, other_kec, prov_kec)).astype(np.int64)
    serial = v.serial0 + 1 + rng.integers(0, ctx.block, size=n)

    culture = rng.choice(len(_CULTURE_NAMES), size=n, p=ctx.culture_p)
    first = np.where(
        female, _pick(rng, _NAME_POOLS[1], culture), _pick(rng, _NAME_POOLS[0], culture)
    )
    second = np.where(
        female, _pick(rng, _NAME_POOLS[3], culture), _pick(rng, _NAME_POOLS[2], culture)
    )
    has_second = rng.random(n) < 0.6
    title = rng.random(n)
    nama = np.where(has_second, first + " " + second, first)
    nama = np.where(~female & (title < 0.08), "Muhammad " + nama, nama)
    nama = np.where(female & (title < 0.06), "Siti " + nama, nama)
    bugis = culture == _CULTURE_NAMES.index("bugis")
    nama = np.where(~female & bugis & (title > 0.95), "Andi " + nama, nama)

    pekerjaan = ctx.occupations[rng.choice(len(ctx.occupations), size=n, p=ctx.occupation_p)]
    alamat = _alamat(rng, v, n)
    prefix = _PHONE_PREFIXES[rng.integers(0, len(_PHONE_PREFIXES), size=n)]
    phone = prefix * 10**8 + rng.integers(0, 10**8, size=n)
    declared = rng.random(n) < 0.2
    # Pemda programs insure pekerja rentan at the lowest declared income, so the standard premium
    # (Rp16.800) holds for every demo worker; draw anyway to keep the random stream stable.
    income = np.minimum(rng.integers(10, 31, size=n) * 100_000, 1_000_000)

    ymd = birth.astype("datetime64[Y]")
    year = ymd.astype(np.int64) + 1970
    month = (birth.astype("datetime64[M]") - birth.astype("datetime64[Y]")).astype(np.int64) + 1
    day = (birth - birth.astype("datetime64[M]")).astype(np.int64) + 1
    nik = (
        area * 10**10 + (day + 40 * female) * 10**8 + month * 10**6 + (year % 100) * 10**4 + serial
    )
    return {
        "nik": nik.astype(np.int64),
        "serial": serial.astype(np.int64),
        "nama": nama.astype(object),
        "tanggal_lahir": birth,
        "jenis_kelamin": np.where(female, "P", "L").astype(object),
        "pekerjaan": pekerjaan,
        "kode_desa": np.full(n, v.kode_desa, dtype=object),
        "alamat": alamat.astype(object),
        "no_hp": ("0" + phone.astype(str)).astype(object),
        "penghasilan": np.where(declared, income, 0).astype(np.int64),  # 0: not declared
    }


def _dedupe(
    people: _Rows, used: set[int], rng: np.random.Generator, ctx: _Context, v: _Village
) -> _Rows:
    """Redraw the serial of anyone whose NIK is already used in the village (rare); records the NIKs."""
    nik = people["nik"].copy()
    serial = people["serial"].copy()
    for i in range(len(nik)):
        while int(nik[i]) in used:
            new = v.serial0 + 1 + int(rng.integers(0, ctx.block))
            nik[i] += new - serial[i]
            serial[i] = new
        used.add(int(nik[i]))
    return {**people, "nik": nik, "serial": serial}


_CHUNK = 16  # newcomers are drawn in chunks of this size: month m's never depend on later months


def _village_people(
    ctx: _Context, v: _Village, per_village: int, months: int, churn: float
) -> tuple[_Rows, set[int]]:
    """The village's roster `months` after the program's first period: its people, then the churn."""
    used: set[int] = set()
    base = _people(
        _rng(ctx.seed, v.kode_desa, "people", per_village),
        per_village, ctx, v, ctx.birth_lo, ctx.birth_hi,
    )  # fmt: skip
    roster = _dedupe(base, used, _rng(ctx.seed, v.kode_desa, "retry", per_village), ctx, v)
    if months <= 0 or churn <= 0:
        return roster, used

    plan = _rng(ctx.seed, v.kode_desa, "churn-plan", per_village, churn)
    expected = churn * per_village
    replaced: list[int] = []
    for _ in range(months):
        c = min(per_village, int(expected) + int(plan.random() < expected - int(expected)))
        replaced.extend(int(s) for s in plan.choice(per_village, size=c, replace=False))
    if not replaced:
        return roster, used
    pool_rng = _rng(ctx.seed, v.kode_desa, "churn-people", per_village)
    retry = _rng(ctx.seed, v.kode_desa, "churn-retry", per_village)
    chunks = [
        _dedupe(_people(pool_rng, _CHUNK, ctx, v, ctx.birth_lo, ctx.birth_hi), used, retry, ctx, v)
        for _ in range(math.ceil(len(replaced) / _CHUNK))
    ]
    # slot -> row of roster + pool; replacements applied month by month, so a later one wins
    source = np.arange(per_village)
    for k, slot in enumerate(replaced):
        source[slot] = per_village + k
    return _take(_concat([roster, *chunks]), source), used


# ------------------------------------------------------------------------------------------- faults


def _scientific_text(nik: str) -> str:
    """What Excel's General format writes for a 16-digit number: `3.60201E+15`."""
    return f"{float(nik):.5E}"


def _excel_float(nik: str) -> float:
    """What Excel stores when a 16-digit NIK is typed as a number: 15 significant digits, the 16th lost."""
    return float(nik[:15] + "0")


def _broken_nik(nik: str, male: bool, variant: int, at: int) -> str:
    """A NIK no check accepts: a digit left out or typed twice, or a day/month that does not exist."""
    if variant == 0:
        return nik[:at] + nik[at + 1 :]
    if variant == 1:
        return nik[:at] + nik[at] + nik[at:]
    if variant == 2:
        return nik[:6] + ("35" if male else "00") + nik[8:]
    return nik[:8] + "13" + nik[10:]


_FRESH = ("nik_invalid", "nik_scientific", "kolom_kosong")


def _fault_rows(
    ctx: _Context,
    v: _Village,
    kinds: list[str],
    valid: _Rows,
    used: set[int],
    others: list[_Rows],
    period: Period,
) -> _Rows:
    """The village's extra rows, one per kind in `kinds` (`valid`/`others` have `nik` as text)."""
    rng = _rng(ctx.seed, v.kode_desa, "faults", period)
    retry = _rng(ctx.seed, v.kode_desa, "faults-retry", period)
    n_fresh = sum(k in _FRESH for k in kinds)
    fresh = _dedupe(_people(rng, n_fresh, ctx, v, ctx.birth_lo, ctx.birth_hi), used, retry, ctx, v)
    old = _dedupe(
        _people(rng, kinds.count("usia_lebih"), ctx, v, ctx.old_lo, ctx.old_hi), used, retry, ctx, v
    )
    fresh["nik"] = fresh["nik"].astype(str).astype(object)
    old["nik"] = old["nik"].astype(str).astype(object)
    fi = oi = 0
    parts: list[_Rows] = []
    for kind in kinds:
        if kind in _FRESH:
            row = _take(fresh, np.array([fi]))
            fi += 1
            if kind == "nik_invalid":
                variant, at = int(rng.integers(0, 4)), int(rng.integers(6, 15))
                male = row["jenis_kelamin"][0] == "L"
                row["nik"][0] = _broken_nik(str(row["nik"][0]), male, variant, at)
            elif kind == "kolom_kosong":
                if rng.random() < 0.5:
                    row["nama"][0] = None
                else:
                    row["tanggal_lahir"][0] = np.datetime64("NaT")
        elif kind == "usia_lebih":
            row = _take(old, np.array([oi]))
            oi += 1
        elif kind == "dua_desa":  # registered here too, with an address here
            other = others[int(rng.integers(0, len(others)))]
            row = _take(other, np.array([int(rng.integers(0, len(other["nik"])))]))
            row["kode_desa"] = np.array([v.kode_desa], dtype=object)
            row["alamat"] = _alamat(rng, v, 1).astype(object)
        else:  # nik_ganda: the same worker entered twice
            row = _take(valid, np.array([int(rng.integers(0, len(valid["nik"])))]))
        row["fault"] = np.array([kind], dtype=object)
        parts.append(row)
    return _concat(parts)


# -------------------------------------------------------------------------------------------- build


def _xlsx_villages(n: int, share: float, seed: int) -> np.ndarray:
    """About `share` of the villages in XLSX, evenly spread; a village keeps its format every period."""
    phase = _rng(seed, "format").random()
    i = np.arange(n)
    return np.floor((i + 1) * share + phase) > np.floor(i * share + phase)


def _frame(rows: _Rows) -> pd.DataFrame:
    income = rows["penghasilan"]
    out = pd.DataFrame({c: rows[c] for c in [*COLUMNS, "fault"]})
    out["penghasilan"] = pd.array(income, dtype="Int64").copy()
    out.loc[income == 0, "penghasilan"] = pd.NA
    return out


def build_rosters(
    program: Program,
    period: Period,
    villages: int | None = None,
    per_village: int | None = None,
    faults: float = 0.0,
    seed: int = 2026,
    xlsx_share: float = 0.5,
    churn: float = 0.02,
) -> list[VillageRoster]:
    """The rosters `generate_rosters` writes, as frames (for benchmarks and tests that skip the disk)."""
    if per_village is None:
        per_village = program.per_village
    if per_village < 1:
        raise ValueError("per_village must be at least 1")
    if faults < 0:
        raise ValueError("faults must be 0 or more")
    if not 0 <= xlsx_share <= 1:
        raise ValueError("xlsx_share must be between 0 and 1")
    ctx = _context(program, period, seed)
    everyone = wilayah.villages(program.regency)
    position = dict(zip(everyone["kode_desa"], range(len(everyone)), strict=True))
    chosen = wilayah.villages(program.regency, desa_only=program.desa_only)
    if villages is not None:
        chosen = chosen.head(max(0, villages))
    province = program.regency[:2]
    vs = [
        _village(seed, r, position[r.kode_desa], ctx.block, province) for r in chosen.itertuples()
    ]
    months = period.index - program.first_period.index

    valid: list[_Rows] = []
    used: list[set[int]] = []
    for v in vs:
        people, u = _village_people(ctx, v, per_village, months, churn)
        people["nik"] = people["nik"].astype(str).astype(object)
        people["fault"] = np.full(per_village, None, dtype=object)
        valid.append(people)
        used.append(u)

    n_faults = math.floor(faults * per_village * len(vs) + 0.5)
    kinds = [k for k in FAULT_KINDS if k != "dua_desa" or len(vs) > 1]
    # kinds cycle strictly (every kind once there are six); each round over the villages takes a new
    # order, so that a village does not get the same kind again whenever len(vs) is a multiple of six
    spread = _rng(seed, "fault-villages", len(vs))
    assigned: list[list[str]] = [[] for _ in vs]
    order = np.array([], dtype=np.int64)
    for i in range(n_faults if vs else 0):
        if i % len(vs) == 0:
            order = spread.permutation(len(vs))
        assigned[int(order[i % len(vs)])].append(kinds[i % len(kinds)])

    xlsx = _xlsx_villages(len(vs), xlsx_share, seed)
    out: list[VillageRoster] = []
    for j, v in enumerate(vs):
        rows = valid[j]
        if assigned[j]:
            others = [valid[k] for k in range(len(vs)) if k != j]
            bad = _fault_rows(ctx, v, assigned[j], valid[j], used[j], others, period)
            rng = _rng(seed, v.kode_desa, "fault-positions", period)
            at = rng.integers(0, per_village + 1, size=len(bad["nik"]))
            key = np.concatenate([2 * np.arange(per_village) + 1, 2 * at])
            rows = _take(_concat([rows, bad]), np.argsort(key, kind="stable"))
        out.append(VillageRoster(v.kode_desa, "xlsx" if xlsx[j] else "csv", rows))
    return out


# -------------------------------------------------------------------------------------------- write


def _cells(rows: _Rows, excel: bool) -> list[list[Any]]:
    """Rows as cell values: CSV text (dates yyyy-mm-dd), or XLSX values (real dates, int income)."""
    sci = rows["fault"] == "nik_scientific"
    nik = rows["nik"].copy()
    birth = rows["tanggal_lahir"].astype("datetime64[D]")
    income = rows["penghasilan"]
    empty = np.array(None if excel else "", dtype=object)
    if excel:
        nik[sci] = [_excel_float(n) for n in nik[sci]]
        birth_col = birth.astype(object)  # datetime.date, None for NaT
        income_col = np.where(income > 0, income.astype(object), empty)
    else:
        nik[sci] = [_scientific_text(n) for n in nik[sci]]
        birth_col = np.where(np.isnat(birth), "", np.datetime_as_string(birth)).astype(object)
        income_col = np.where(income > 0, income.astype(str), "").astype(object)
    text = {
        c: np.where(pd.isna(rows[c]), empty, rows[c])
        for c in ("nama", "jenis_kelamin", "pekerjaan", "kode_desa", "alamat", "no_hp")
    }
    cols = [
        nik, text["nama"], birth_col, text["jenis_kelamin"], text["pekerjaan"],
        text["kode_desa"], text["alamat"], text["no_hp"], income_col,
    ]  # fmt: skip
    return np.column_stack(cols).tolist() if len(nik) else []


def _csv_bytes(rows: _Rows) -> bytes:
    text = io.StringIO(newline="")
    w = csv.writer(text, lineterminator="\n")
    w.writerow(COLUMNS)
    w.writerows(_cells(rows, excel=False))
    return text.getvalue().encode("utf-8")


def _xlsx_bytes(rows: _Rows) -> bytes:
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(SHEET)
    ws.append(COLUMNS)
    for row in _cells(rows, excel=True):
        ws.append(row)
    data = io.BytesIO()
    wb.save(data)
    return data.getvalue()


def generate_rosters(
    program: Program,
    period: Period,
    inbox: Path,
    villages: int | None = None,
    per_village: int | None = None,
    faults: float = 0.0,
    seed: int = 2026,
    xlsx_share: float = 0.5,
    churn: float = 0.02,
    fmt: str = "template",
) -> GenerateReport:
    """Write one roster per village to `inbox/<program>/<YYYY-MM>/<kode_desa>.csv|.xlsx` (see module doc).

    `villages`: the first N villages in code order (default all; desa only for ADD programs);
    `per_village`: valid rows per village (default `Program.per_village`); `faults`: extra faulty rows as a
    share of the valid rows; `fmt`: the layout villages send (`iuran.generate_formats.FORMATS`: the
    project's template, an OpenSID or SIAK export, or `mixed`). A village's file of another layout left
    by an earlier run is removed, so a folder never holds two rosters for one village.
    """
    layout_of(fmt, 0)  # an unknown format fails before anything is written
    rosters = build_rosters(program, period, villages, per_village, faults, seed, xlsx_share, churn)
    folder = Path(inbox) / program.code / str(period)
    folder.mkdir(parents=True, exist_ok=True)
    names = wilayah.villages(program.regency).set_index("kode_desa")
    files: list[Path] = []
    counts: Counter[str] = Counter()
    rows = 0
    for j, r in enumerate(rosters):
        layout = layout_of(fmt, j)
        if layout == "template":
            path = folder / f"{r.kode_desa}.{r.fmt}"
            data = _csv_bytes(r.columns) if r.fmt == "csv" else _xlsx_bytes(r.columns)
        else:
            place = names.loc[r.kode_desa]
            path = folder / file_name(r.kode_desa, layout)
            cells = _cells(r.columns, excel=False)
            data = layout_bytes(layout, cells, place["nama_desa"], place["nama_kecamatan"])
        for stale in (
            *folder.glob(f"{r.kode_desa}.*"),
            *folder.glob(f"{r.kode_desa.replace('.', '')}*"),
        ):
            if stale != path:
                stale.unlink(missing_ok=True)
        write_atomic(path, data)  # a reader never sees half a file
        files.append(path)
        rows += len(r)
        counts.update(k for k in r.columns["fault"] if k is not None)
    fault_rows = {k: counts.get(k, 0) for k in FAULT_KINDS}
    return GenerateReport(
        files=files,
        villages=len(rosters),
        rows=rows,
        valid_rows=rows - sum(fault_rows.values()),
        fault_rows=fault_rows,
    )


# ----------------------------------------------------------------------------------------- template

_PETUNJUK = [
    ("Kolom", "Wajib", "Keterangan", "Contoh"),
    (
        "nik",
        "Ya",
        "Nomor Induk Kependudukan 16 digit sesuai KTP/KK. Kolom ini sudah berformat Teks: ketik atau "
        "tempel sebagai teks. Bila diketik sebagai angka, Excel mengubahnya menjadi 3,60201E+15 dan digit "
        "terakhir hilang.",
        "3602011708850001",
    ),
    ("nama", "Ya", "Nama lengkap sesuai KTP.", "Asep Saepudin"),
    (
        "tanggal_lahir",
        "Ya",
        "Tanggal lahir dengan format dd/mm/yyyy (17/08/1985) atau yyyy-mm-dd (1985-08-17). Usia peserta "
        "harus dalam batas usia program (umumnya 15–65 tahun).",
        "17/08/1985",
    ),
    ("jenis_kelamin", "Ya", "L untuk laki-laki, P untuk perempuan.", "L"),
    (
        "pekerjaan",
        "Ya",
        "Pekerjaan utama, mis. petani, buruh tani, nelayan, pedagang, ojek, peternak, buruh harian lepas.",
        "petani",
    ),
    (
        "kode_desa",
        "Ya",
        "Kode wilayah desa/kelurahan dari Kemendagri, 10 digit dengan titik: provinsi.kabupaten."
        "kecamatan.desa. Semua baris dalam satu file memakai kode desa yang sama.",
        "36.02.01.2002",
    ),
    (
        "alamat",
        "Ya",
        "Kampung/dusun, RT/RW dan nama desa.",
        "Kp. Cibeber RT 002/RW 001, Desa Cilangkahan",
    ),
    (
        "no_hp",
        "Ya",
        "Nomor HP aktif, diawali 08 (kolom berformat Teks agar angka 0 di depan tidak hilang).",
        "081234567890",
    ),
    (
        "penghasilan",
        "Tidak",
        "Penghasilan per bulan dalam Rupiah, angka saja tanpa titik, koma atau 'Rp'. Kosongkan bila tidak "
        "ada: iuran dihitung dari penghasilan terendah yang ditetapkan program (umumnya Rp1.000.000).",
        "1500000",
    ),
]
_CATATAN = [
    "Catatan:",
    "1. Satu file untuk satu desa; nama file = kode desa, mis. 36.02.01.2002.xlsx.",
    "2. Isi mulai baris 2 lembar 'Peserta', satu baris untuk satu pekerja. Jangan mengubah, menggabungkan "
    "(merge) atau menambah baris judul.",
    "3. Satu NIK hanya boleh muncul satu kali, dan hanya di satu desa.",
    "4. Data ini data pribadi (UU 27/2022): kirim hanya melalui saluran resmi Disnaker.",
]


def build_roster_template(path: Path) -> None:
    """The Excel template village operators fill: NIK, kode_desa and no_hp are text so zeros and digits survive."""
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = SHEET
    ws.append(COLUMNS)
    bold = Font(bold=True)
    fill = PatternFill("solid", fgColor="DDEBF7")
    widths = {
        "nik": 20,
        "nama": 28,
        "tanggal_lahir": 14,
        "jenis_kelamin": 13,
        "pekerjaan": 20,
        "kode_desa": 15,
        "alamat": 44,
        "no_hp": 15,
        "penghasilan": 13,
    }
    for i, col in enumerate(COLUMNS, start=1):
        cell = ws.cell(row=1, column=i)
        cell.font, cell.fill = bold, fill
        letter = cell.column_letter
        ws.column_dimensions[letter].width = widths[col]
        if col in ("nik", "kode_desa", "no_hp"):
            ws.column_dimensions[letter].number_format = "@"
        elif col == "tanggal_lahir":
            ws.column_dimensions[letter].number_format = "dd/mm/yyyy"
        elif col == "penghasilan":
            ws.column_dimensions[letter].number_format = "0"
    ws.freeze_panes = "A2"
    sex = DataValidation(type="list", formula1='"L,P"', allow_blank=True)
    sex.error, sex.errorTitle = "Isi L atau P", "Jenis kelamin"
    ws.add_data_validation(sex)
    sex.add("D2:D5000")

    help_ws = wb.create_sheet("Petunjuk")
    for row in _PETUNJUK:
        help_ws.append(list(row))
    help_ws.append([])
    for line in _CATATAN:
        help_ws.append([line])
    for cell in help_ws[1]:
        cell.font, cell.fill = bold, fill
    for letter, width in zip("ABCD", (16, 8, 90, 44), strict=True):
        help_ws.column_dimensions[letter].width = width
    for row in help_ws.iter_rows(min_row=2, max_row=len(_PETUNJUK)):
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
        row[3].number_format = "@"
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)


if __name__ == "__main__":  # python -m iuran.generate: rebuild templates/roster-template.xlsx
    from iuran.config import TEMPLATES

    build_roster_template(TEMPLATES / "roster-template.xlsx")
    print(TEMPLATES / "roster-template.xlsx")
