"""Kemendagri area codes (`iuran/data/wilayah.csv.gz`, see `WILAYAH-LICENSE.md`): villages, names, codes.

The official list ships with the package so that village codes and names are checked without a network
and demo rosters use each regency's real villages. It is read once per process (about 50 ms) and every
lookup below is a cached, whole-column pandas operation. Frames returned to callers are copies, so a
caller that edits one cannot corrupt the cache.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import pandas as pd

DATA = Path(__file__).resolve().parent / "data" / "wilayah.csv.gz"

#: first digit of a village code's last part -> kind of village
JENIS = {"1": "kelurahan", "2": "desa", "3": "desa_adat"}

VILLAGE_COLUMNS = ["kode_desa", "nama_desa", "kode_kecamatan", "nama_kecamatan", "jenis"]

_REGENCY = re.compile(r"^(\d{2})\.?(\d{2})$")


@lru_cache(maxsize=1)
def _codes() -> pd.DataFrame:
    """Every code of the country (`kode`, `nama`, both `string`); names trimmed (a few have a trailing space)."""
    df = pd.read_csv(DATA, dtype="string", engine="pyarrow", keep_default_na=False, na_values=[])
    df["nama"] = df["nama"].str.strip()
    return df


@lru_cache(maxsize=1)
def _names() -> pd.Series:
    """`kode` -> `nama` for every level (province, regency, district, village)."""
    codes = _codes()
    return pd.Series(codes["nama"].array, index=pd.Index(codes["kode"].array), name="nama")


@lru_cache(maxsize=1)
def _all_villages() -> pd.DataFrame:
    codes = _codes()
    v = codes[codes["kode"].str.len() == 13]
    kode = v["kode"]
    kec = kode.str[:8]
    out = pd.DataFrame(
        {
            "kode_desa": kode.array,
            "nama_desa": v["nama"].array,
            "kode_kecamatan": kec.array,
            "nama_kecamatan": kec.map(_names()).astype("string").array,
            "jenis": kode.str[9].map(JENIS).astype("string").array,
            "kode_kabupaten": kode.str[:5].array,
        }
    )
    return out.sort_values("kode_desa", ignore_index=True)


def _regency_code(code: str) -> str:
    """`36.02` (or `3602`) -> `36.02`; ValueError for anything else or an unknown regency."""
    m = _REGENCY.match(str(code).strip())
    if not m:
        raise ValueError(f"regency code must look like 36.02, got {code!r}")
    dotted = f"{m.group(1)}.{m.group(2)}"
    if dotted not in _names().index:
        raise ValueError(f"unknown regency code {dotted!r} (not in the Kemendagri list)")
    return dotted


@lru_cache(maxsize=128)
def _regency_villages(regency: str, desa_only: bool) -> pd.DataFrame:
    allv = _all_villages()
    sel = allv[allv["kode_kabupaten"] == regency]
    if desa_only:
        sel = sel[sel["jenis"] != "kelurahan"]
    return sel[VILLAGE_COLUMNS].reset_index(drop=True)


def villages(regency: str, desa_only: bool = False) -> pd.DataFrame:
    """The villages of one regency (`36.02`), sorted by code.

    Columns `kode_desa, nama_desa, kode_kecamatan, nama_kecamatan, jenis` (`desa`, `kelurahan` or
    `desa_adat`). `desa_only` drops kelurahan, which have no village fund (ADD); desa adat stay, because
    they receive the village fund like any desa.
    """
    return _regency_villages(_regency_code(regency), bool(desa_only)).copy()


def all_villages() -> pd.DataFrame:
    """Every village and ward of the country (83,762 rows): `villages()` columns plus `kode_kabupaten`."""
    return _all_villages().copy()


@lru_cache(maxsize=128)
def _districts(regency: str) -> pd.DataFrame:
    v = _regency_villages(regency, False)
    return (
        v[["kode_kecamatan", "nama_kecamatan"]]
        .drop_duplicates("kode_kecamatan")
        .reset_index(drop=True)
    )


def districts(regency: str) -> pd.DataFrame:
    """The districts (kecamatan) of a regency that have villages: `kode_kecamatan, nama_kecamatan`."""
    return _districts(_regency_code(regency)).copy()


def regencies(province: str) -> pd.DataFrame:
    """Regencies and cities of a province (`36`): `kode` (`36.02`), `nama`, sorted by code."""
    codes = _codes()
    p = str(province).strip()
    sel = codes[(codes["kode"].str.len() == 5) & (codes["kode"].str[:2] == p)]
    return sel.sort_values("kode", ignore_index=True).copy()


def regency_name(code: str) -> str:
    """`36.02` -> `Kabupaten Lebak`."""
    return str(_names()[_regency_code(code)])


def name(code: str) -> str | None:
    """Name of any code (province, regency, district or village), None when unknown."""
    found = _names().get(str(code).strip())
    return None if found is None else str(found)


def normalize_kode_desa(codes: pd.Series) -> pd.Series:
    """Village codes as operators type them -> dotted `36.02.01.2001`, `<NA>` when not a village code shape.

    Accepts the dotted form and the bare 10 digits (also `3602012001.0`, what a numeric Excel cell becomes),
    with stray spaces anywhere. Checks the shape only; `village_names` tells whether the code exists.
    """
    raw = codes.astype("string")
    # A roster repeats a handful of codes: normalise each distinct value once, then spread them.
    positions, distinct = pd.factorize(raw)
    if len(distinct) * 2 < len(raw):
        done = _normalize_kode_desa(pd.Series(distinct, dtype="string"))
        spread = done.array.take(positions, allow_fill=True)
        return pd.Series(spread, index=raw.index, name=raw.name, dtype="string")
    return _normalize_kode_desa(raw)


def _normalize_kode_desa(codes: pd.Series) -> pd.Series:
    s = codes.str.replace(r"[\s\u00a0\u200b\ufeff]+", "", regex=True)
    s = s.str.replace(r"^(\d{10})\.0+$", r"\1", regex=True)
    dotted = s.str.fullmatch(r"\d{2}\.\d{2}\.\d{2}\.\d{4}").fillna(False).astype(bool)
    digits = s.str.fullmatch(r"\d{10}").fillna(False).astype(bool)
    from_digits = s.str[:2] + "." + s.str[2:4] + "." + s.str[4:6] + "." + s.str[6:10]
    out = s.where(dotted).mask(digits, from_digits)
    return out.astype("string")


def village_names(codes: pd.Series) -> pd.Series:
    """Village name for each code (any form `normalize_kode_desa` accepts), `<NA>` for unknown codes."""
    allv = _all_villages()
    lookup = pd.Series(allv["nama_desa"].array, index=pd.Index(allv["kode_desa"].array))
    return normalize_kode_desa(codes).map(lookup).astype("string")


def is_village(codes: pd.Series) -> pd.Series:
    """True where the code (any accepted form) is a village or ward of the official list."""
    return village_names(codes).notna()
