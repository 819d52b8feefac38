"""Area codes shipped with the package: the programs' villages, names and code normalisation."""

from __future__ import annotations

import pandas as pd
import pytest

from iuran import wilayah
from iuran.programs import load_programs

# counted from the official list (shared/reference/README.md)
REGENCIES = [
    ("36.02", "Kabupaten Lebak", 340, 5),
    ("36.04", "Kabupaten Serang", 326, 0),
    ("16.04", "Kabupaten Lahat", 360, 18),
    ("62.09", "Kabupaten Lamandau", 85, 3),
    ("73.24", "Kabupaten Luwu Timur", 125, 3),
]


@pytest.mark.parametrize(("code", "name", "desa", "kelurahan"), REGENCIES)
def test_program_regencies(code: str, name: str, desa: int, kelurahan: int) -> None:
    v = wilayah.villages(code)
    assert len(v) == desa + kelurahan
    assert v["jenis"].value_counts().to_dict() == {
        k: n for k, n in (("desa", desa), ("kelurahan", kelurahan)) if n
    }
    assert len(wilayah.villages(code, desa_only=True)) == desa
    assert wilayah.regency_name(code) == name


def test_lebak_and_lahat_as_the_sources_count_them() -> None:
    assert len(wilayah.villages("36.02")) == 345  # 345 x 10 = 3,450 workers
    assert len(wilayah.villages("16.04", desa_only=True)) == 360  # "360 desa"


def test_every_program_file_matches_the_list() -> None:
    for program in load_programs().values():
        assert wilayah.regency_name(program.regency) == program.regency_name
        assert len(wilayah.villages(program.regency, desa_only=program.desa_only)) > 0


def test_village_frame_shape() -> None:
    v = wilayah.villages("36.02")
    assert list(v.columns) == [
        "kode_desa",
        "nama_desa",
        "kode_kecamatan",
        "nama_kecamatan",
        "jenis",
    ]
    assert v["kode_desa"].is_monotonic_increasing and v["kode_desa"].is_unique
    assert v["kode_desa"].str.fullmatch(r"36\.02\.\d{2}\.\d{4}").all()
    assert (v["kode_kecamatan"] == v["kode_desa"].str[:8]).all()
    assert v.notna().all().all()
    first = v.iloc[0]
    assert (first["kode_desa"], first["nama_kecamatan"]) == ("36.02.01.2002", "Malingping")
    assert set(v.loc[v["jenis"] == "kelurahan", "kode_desa"].str[9]) == {"1"}


def test_returned_frames_are_copies() -> None:
    v = wilayah.villages("36.02")
    v.loc[0, "nama_desa"] = "rusak"
    assert wilayah.villages("36.02").loc[0, "nama_desa"] != "rusak"


def test_all_villages() -> None:
    a = wilayah.all_villages()
    assert len(a) == 83_762
    assert list(a.columns) == [*wilayah.VILLAGE_COLUMNS, "kode_kabupaten"]
    assert a["jenis"].value_counts().to_dict() == {
        "desa": 75_252,
        "kelurahan": 8_496,
        "desa_adat": 14,
    }
    assert a["kode_kabupaten"].nunique() == 514
    assert a["kode_kecamatan"].nunique() == 7_285
    assert (a["nama_desa"] == a["nama_desa"].str.strip()).all()  # a few names have stray spaces


def test_regency_name_rejects_unknown_and_malformed_codes() -> None:
    assert wilayah.regency_name("3602") == "Kabupaten Lebak"
    for bad in ("36.99", "3", "36.02.01", "Lebak"):
        with pytest.raises(ValueError):
            wilayah.regency_name(bad)
    with pytest.raises(ValueError):
        wilayah.villages("99.99")


def test_normalize_kode_desa() -> None:
    raw = pd.Series(
        [
            "36.02.01.2002",
            "3602012002",
            " 36.02.01.2002 ",
            "36. 02.01.2002",
            "3602012002\u00a0",
            "3602012002.0",  # a numeric Excel cell read as text
            "36.02.01.200",
            "36020120021",
            "360201200",
            "36.02.012002",
            "36-02-01-2002",
            "abc",
            "",
            None,
        ],
        index=range(10, 24),
    )
    out = wilayah.normalize_kode_desa(raw)
    assert list(out.index) == list(raw.index)
    assert str(out.dtype) == "string"
    assert out.iloc[:6].tolist() == ["36.02.01.2002"] * 6
    assert out.iloc[6:].isna().all()


def test_normalize_accepts_numbers() -> None:
    out = wilayah.normalize_kode_desa(pd.Series([3602012002, 3602012002.0]))
    assert out.tolist() == ["36.02.01.2002", "36.02.01.2002"]


def test_normalize_is_whole_column_and_fast() -> None:
    import time

    codes = wilayah.all_villages()["kode_desa"].str.replace(".", "", regex=False)
    start = time.perf_counter()
    out = wilayah.normalize_kode_desa(codes)
    assert time.perf_counter() - start < 2
    assert out.equals(wilayah.all_villages()["kode_desa"].astype("string"))


def test_village_names() -> None:
    names = wilayah.village_names(
        pd.Series(["36.02.01.2002", "3602012003", "36.02.01.2001", None, "x"])
    )
    assert names.tolist()[:2] == ["Cilangkahan", "Pagelaran"]
    assert names.iloc[2:].isna().all()  # 36.02.01.2001 has the right shape but is not a village
    assert wilayah.is_village(pd.Series(["36.02.01.2002", "36.02.01.2001"])).tolist() == [
        True,
        False,
    ]


def test_name_of_any_level() -> None:
    assert wilayah.name("36") == "Banten"
    assert wilayah.name("36.02.01") == "Malingping"
    assert wilayah.name("99") is None
    assert wilayah.districts("36.02")["kode_kecamatan"].str.startswith("36.02.").all()
    assert "36.02" in set(wilayah.regencies("36")["kode"])
