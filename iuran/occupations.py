"""Occupation categories: whatever a roster writes in `pekerjaan` -> one normalised category.

Village operators write occupations freely (`PNS`, `Guru PNS`, `TNI AD`, `ojek online`,
`PETANI / PEKEBUN`), OpenSID writes its own table (`iuran/data/opensid-pekerjaan.csv`, codes 1-89
and their names, `PEGAWAI NEGERI SIPIL (PNS)` renamed `APARATUR SIPIL NEGARA (ASN)` in 2026), and
both mean the same few things to this program: who may not be a *pekerja rentan* at all (eligibility,
`iuran.rosters.validate`) and which sector a regulation names (PP 50/2025's transport discount).
`category(series) -> series` is the one place that decides it, over a whole column.

How a value is read: an OpenSID code (`5`) becomes its name; the text is lowered, every run of
non-letters/digits becomes one space (`PETANI / PEKEBUN` = `petani pekebun`), then the groups of
`GROUPS` are tried in their order, the first whose pattern matches a whole word wins; nothing matched
is `lainnya`, empty is `kosong`. The order matters where a text names two things: `Pensiunan PNS` is
retired (not working), `Guru PNS` a civil servant, `sopir truk sawit` a driver, `buruh tani` a farmer.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from iuran.nik import matches, text_array, text_series

_DATA = Path(__file__).resolve().parent / "data"

#: The categories a roster's refusal rules act on (`iuran.rosters.validate`): none of them is a
#: pekerja rentan, each for its own reason (see `GROUPS`).
NOT_VULNERABLE = ("asn", "tni", "polri", "penerima_upah", "pejabat")

#: (category, pattern over the normalised text: lower case, words separated by one space), in the
#: order they are tried. Patterns are RE2 (pyarrow) and match whole words.
GROUPS: tuple[tuple[str, str], ...] = (
    # Not working at all: pupils and students, the unemployed, housewives, the retired (a retired
    # civil servant or soldier too: `Pensiunan PNS` is a pensioner first). Not workers, so not
    # pekerja rentan; a program says whether such rows are refused or accepted (`non_workers`).
    (
        "bukan_pekerja",
        r"(belum|tidak|tdk|blm) (tidak )?bekerja|pengangguran|pelajar|mahasiswa|siswa|santri"
        r"|mengurus rumah tangga|ibu rumah tangga|\birt\b|pensiunan|pensiun|purnawirawan"
        r"|belum sekolah|tidak sekolah",
    ),
    # Civil servants (ASN: PNS and PPPK, UU 20/2023): insured for accidents and death by Taspen.
    (
        "asn",
        r"\b(pns|asn|pppk|p3k|cpns)\b|pegawai negeri|aparatur sipil|aparatur negara",
    ),
    # Soldiers: insured by ASABRI.
    ("tni", r"\b(tni|abri)\b|tentara|prajurit"),
    # Police: insured by ASABRI.
    ("polri", r"\bpolri\b|polisi|kepolisian|bhayangkara"),
    # Office holders (village heads, members of parliaments, regional heads, ministers): paid from
    # the office they hold, insured through it; not informal workers.
    (
        "pejabat",
        r"kepala desa|\bkades\b|\blurah\b|\bdprd?\b|\bdpd\b|anggota (dpr|dpd|bpk|mahkamah|kabinet)"
        r"|presiden|menteri|kabinet|duta besar|gubernur|bupati|wali ?kota|camat",
    ),
    # Wage employees (private companies, BUMN, BUMD, honorary staff, village officials): their
    # employer registers them with BPJS Ketenagakerjaan as wage earners (PU), so a Pemda program
    # paying for them as non-wage earners (BPU) pays twice.
    (
        "penerima_upah",
        r"karyawan|pegawai swasta|pegawai bumn|pegawai bumd|\bbumn\b|\bbumd\b|honorer"
        r"|tenaga kontrak|perangkat desa|sekretaris desa|\bsekdes\b|kepala dusun|\bkadus\b"
        r"|\bkaur\b|\bkasi\b|staf desa",
    ),
    # Transport workers: PP 50/2025 discounts their premiums over a longer period.
    (
        "transportasi",
        r"ojek|\bojol\b|gojek|\bgrab\b|sopir|supir|pengemudi|driver|kernet|kenek|becak|angkot"
        r"|kusir|motoris|transportasi|angkutan|juru mudi|tukang perahu",
    ),
    ("nelayan", r"nelayan|perikanan|pembudidaya ikan|petambak|\btambak\b"),
    ("petani", r"petani|pekebun|\btani\b|perkebunan|berkebun|penyadap|penggarap"),
    ("peternak", r"peternak"),
    ("pedagang", r"pedagang|perdagangan|berdagang|\bjualan\b|penjual|warung"),
    ("buruh", r"\bburuh\b|kuli|serabutan|pembantu rumah tangga|\bart\b"),
    ("tukang", r"tukang|konstruksi|mekanik|bengkel|\blas\b|penjahit"),
)

CATEGORIES: tuple[str, ...] = (*(g for g, _ in GROUPS), "lainnya", "kosong")


@lru_cache(maxsize=1)
def opensid_names() -> dict[str, str]:
    """OpenSID's occupation codes (`pekerjaan_id` 1-89, as Dukcapil numbers them) -> the name written
    since 2026 (code 5 is ASN, formerly PNS): `iuran/data/opensid-pekerjaan.csv`."""
    table = pd.read_csv(_DATA / "opensid-pekerjaan.csv", dtype=str)
    return dict(zip(table["pekerjaan_id"], table["nama_sejak_2026"], strict=True))


def named(values: pa.Array) -> pa.Array:
    """An OpenSID occupation code (`5`, `05`) as its name (`APARATUR SIPIL NEGARA (ASN)`); any other
    value as it is."""
    names = opensid_names()
    code = pc.replace_substring_regex(pc.utf8_trim_whitespace(values), r"^0+([0-9])", r"\1")
    name = pc.take(pa.array(list(names.values())), pc.index_in(code, pa.array(list(names))))
    return pc.coalesce(name, values)


def normalize(values: pa.Array) -> pa.Array:
    """Occupations as compared: an OpenSID code as its name, lower case, one space between words."""
    words = pc.replace_substring_regex(pc.utf8_lower(named(values)), r"[^\pL\pN]+", " ")
    return pc.utf8_trim(words, " ")


def category(occupations: pd.Series) -> pd.Series:
    """Each occupation's category (`CATEGORIES`), as a `string` Series on the same index.

    The patterns run over the distinct values only: a regency writes a few hundred different
    occupations over thousands of rows (measured: 345,000 rows in 0.09 s instead of 1.1 s)."""
    encoded = pc.dictionary_encode(text_array(occupations))
    key = normalize(encoded.dictionary)
    empty = ~np.asarray(pc.fill_null(pc.greater(pc.utf8_length(key), 0), False))
    found = np.select(
        [empty, *(matches(key, pattern) for _, pattern in GROUPS)],
        ["kosong", *(g for g, _ in GROUPS)],
        default="lainnya",
    )
    per_value = pa.array(found.astype(object), pa.string())
    indices = pc.fill_null(encoded.indices, len(per_value))  # a missing value: empty
    values = pc.take(pa.concat_arrays([per_value, pa.array(["kosong"], pa.string())]), indices)
    return text_series(values, occupations.index)
