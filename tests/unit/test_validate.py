"""Row rules: each rule and format, the fixed rule order, and accepted + rejected = received."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from iuran.periods import Period
from iuran.programs import Program, load_program
from iuran.rosters.codes import CODES, fill
from iuran.rosters.columns import CANONICAL
from iuran.rosters.read import collect_rosters
from iuran.rosters.validate import (
    ACCEPTED_COLUMNS,
    COLUMN,
    REJECTED_COLUMNS,
    RULE_ORDER,
    Validated,
    parse_dates,
    parse_income,
    validate_rows,
)

PERIOD = Period(2026, 1)
DESA = "36.02.01.2002"  # Cilangkahan, Kabupaten Lebak
KELURAHAN_LAHAT = "16.04.10.1031"
GOOD: dict[str, Any] = {
    "nik": "3602011505900001",
    "nama": "Budi Santoso",
    "tanggal_lahir": "15/05/1990",
    "jenis_kelamin": "L",
    "pekerjaan": "Petani",
    "kode_desa": DESA,
    "alamat": "Kp. Cibeber",
    "no_hp": "0812",
    "penghasilan": "1.500.000",
}


@pytest.fixture(scope="module")
def lebak() -> Program:
    return load_program("lebak")


@pytest.fixture(scope="module")
def lahat() -> Program:
    return load_program("lahat")


def frame(*rows: dict[str, Any], source_file: str = "desa.csv") -> pd.DataFrame:
    """Collected-style rows: GOOD with overrides, numbered from spreadsheet row 2."""
    records = [{**GOOD, **r} for r in rows]
    df = pd.DataFrame(records, columns=CANONICAL).astype("string")
    df["source_file"] = pd.array([r.get("source_file", source_file) for r in rows], dtype="string")
    df["source_sheet"] = pd.array([""] * len(rows), dtype="string")
    df["source_row"] = pd.array(
        [r.get("source_row", i + 2) for i, r in enumerate(rows)], dtype="int64"
    )
    return df


def one(program: Program, **override: Any) -> Validated:
    return validate_rows(frame(override), program, PERIOD)


def code_of(program: Program, **override: Any) -> str | None:
    got = one(program, **override)
    assert len(got.accepted) + len(got.rejected) == 1
    return None if len(got.accepted) else str(got.rejected.loc[0, "code"])


# --- accepted -------------------------------------------------------------------------------------


def test_a_good_row_is_typed(lebak: Program) -> None:
    got = one(lebak, kode_desa="3602012002", pekerjaan="  PETANI ", nik="'3602011505900001")
    assert got.rejected.empty
    row = got.accepted.iloc[0]
    assert list(got.accepted.columns) == ACCEPTED_COLUMNS
    assert row["nik"] == "3602011505900001"
    assert row["tanggal_lahir"] == pd.Timestamp("1990-05-15")
    assert (row["jenis_kelamin"], row["pekerjaan"], row["kode_desa"]) == ("L", "petani", DESA)
    assert row["penghasilan"] == 1_500_000
    dtypes = got.accepted.dtypes.astype(str).to_dict()
    assert dtypes["tanggal_lahir"] == "datetime64[ns]"
    assert dtypes["penghasilan"] == "Int64"
    assert dtypes["source_row"] == "int64"
    assert all(dtypes[c] == "string" for c in ("nik", "nama", "jenis_kelamin", "kode_desa"))


def test_optional_fields(lebak: Program) -> None:
    got = one(lebak, pekerjaan=None, alamat=None, no_hp=None, penghasilan="-")
    row = got.accepted.iloc[0]
    assert row["pekerjaan"] == ""  # documented default
    assert pd.isna(row["alamat"]) and pd.isna(row["no_hp"]) and pd.isna(row["penghasilan"])


@pytest.mark.parametrize(
    "text",
    ["15/05/1990", "15-05-1990", "15.5.1990", "1990-05-15", "1990-05-15 00:00:00", "15 Mei 1990",
     "15-mei-1990", "15 May 1990", "33008", "33008.0"],
)  # fmt: skip
def test_birth_date_formats(lebak: Program, text: str) -> None:
    got = one(lebak, tanggal_lahir=text)
    assert got.accepted["tanggal_lahir"].tolist() == [pd.Timestamp("1990-05-15")], got.rejected


def test_parse_dates_refuses_guesses() -> None:
    out = parse_dates(pd.Series(["05/15/1990", "15/05/90", "1990", "31/02/1990", "x", None]))
    assert out.isna().all()


@pytest.mark.parametrize("text", ["L", "l", "Laki-laki", "LAKI LAKI", "LK", "Pria", " L. "])
def test_men(lebak: Program, text: str) -> None:
    assert code_of(lebak, jenis_kelamin=text) is None


@pytest.mark.parametrize("text", ["P", "Perempuan", "PR", "wanita"])
def test_women(lebak: Program, text: str) -> None:
    assert code_of(lebak, jenis_kelamin=text, nik="3602015505900001") is None


@pytest.mark.parametrize(
    ("text", "value"),
    [("1500000", 1_500_000), ("1.500.000", 1_500_000), ("Rp 1.500.000", 1_500_000),
     ("Rp. 1.500.000,-", 1_500_000), ("1.500.000,00", 1_500_000), ("1,500,000", 1_500_000),
     ("1500000.00", 1_500_000), ("IDR 2000000", 2_000_000), ("0", 0)],
)  # fmt: skip
def test_income_formats(text: str, value: int) -> None:
    income, bad = parse_income(pd.Series([text], dtype="string"))
    assert income.tolist() == [value] and not bad.any()


@pytest.mark.parametrize("text", ["1.5", "1500000.5", "-1", "satu juta", "1.50.000", "9" * 13])
def test_income_refused(lebak: Program, text: str) -> None:
    assert code_of(lebak, penghasilan=text) == "PENGHASILAN_FORMAT"


# --- each rule ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("override", "code"),
    [
        ({"nik": None}, "NIK_KOSONG"),
        ({"nik": "3.60201E+15"}, "NIK_NOTASI_ILMIAH"),
        ({"nik": "36020115O5900001"}, "NIK_BUKAN_ANGKA"),
        ({"nik": "360201150590001"}, "NIK_PANJANG"),
        ({"nik": "9901011505900001"}, "NIK_PROVINSI"),
        ({"nik": "3602013205900001"}, "NIK_TANGGAL"),
        ({"nik": "3602011505900000"}, "NIK_SERIAL"),
        ({"nama": None}, "NAMA_KOSONG"),
        ({"nama": "-"}, "NAMA_KOSONG"),
        ({"tanggal_lahir": None}, "TANGGAL_LAHIR_KOSONG"),
        ({"tanggal_lahir": "15/05/90"}, "TANGGAL_LAHIR_FORMAT"),
        ({"tanggal_lahir": "16/05/1990"}, "TANGGAL_LAHIR_TIDAK_SESUAI_NIK"),
        ({"tanggal_lahir": "15/05/1991"}, "TANGGAL_LAHIR_TIDAK_SESUAI_NIK"),
        ({"jenis_kelamin": None}, "JENIS_KELAMIN_KOSONG"),
        ({"jenis_kelamin": "X"}, "JENIS_KELAMIN_FORMAT"),
        ({"jenis_kelamin": "P"}, "JENIS_KELAMIN_TIDAK_SESUAI_NIK"),
        ({"kode_desa": None}, "KODE_DESA_KOSONG"),
        ({"kode_desa": "36.02.01.9999"}, "KODE_DESA_TIDAK_DIKENAL"),
        ({"kode_desa": "36.04.01.2001"}, "KODE_DESA_TIDAK_DIKENAL"),  # Serang, not Lebak
        ({"kode_desa": "Cilangkahan"}, "KODE_DESA_TIDAK_DIKENAL"),
        ({"nik": "3602011505120001", "tanggal_lahir": "15/05/2012"}, "USIA_DI_BAWAH_BATAS"),
        ({"nik": "3602011505500001", "tanggal_lahir": "15/05/1950"}, "USIA_DI_ATAS_BATAS"),
        ({"penghasilan": "sejuta"}, "PENGHASILAN_FORMAT"),
    ],
)
def test_each_rule(lebak: Program, override: dict[str, Any], code: str) -> None:
    got = validate_rows(frame(override), lebak, PERIOD)
    assert got.accepted.empty
    rejected = got.rejected.iloc[0]
    assert list(got.rejected.columns) == REJECTED_COLUMNS
    assert (rejected["code"], rejected["column"]) == (code, COLUMN[code])
    assert rejected["message"] and "{" not in rejected["message"]
    assert (rejected["source_file"], rejected["source_row"]) == ("desa.csv", 2)


def test_messages_name_both_values(lebak: Program) -> None:
    date = str(one(lebak, tanggal_lahir="16/05/1990").rejected.loc[0, "message"])
    assert "16/05/1990" in date and "15/05/1990" in date
    sex = str(one(lebak, jenis_kelamin="Perempuan").rejected.loc[0, "message"])
    assert "Perempuan" in sex and "laki-laki (L)" in sex
    old = str(
        one(lebak, nik="3602011505500001", tanggal_lahir="1950-05-15").rejected.loc[0, "message"]
    )
    assert "75 tahun" in old and "(65 tahun)" in old and "01/01/2026" in old


def test_nik_messages_show_the_fault_not_the_nik(lebak: Program) -> None:
    got = validate_rows(
        frame(
            {"nik": "360201150590001"},
            {"nik": "9901011505900001"},
            {"nik": "3602 0132 0590 0001"},
        ),
        lebak,
        PERIOD,
    )
    length, province, date = got.rejected["message"].tolist()
    assert "15 digit" in length and "360201150590001" not in length and "3602*******0001" in length
    assert "(99)" in province and "9901011505900001" not in province
    assert "(320590)" in date


def test_age_limits_are_inclusive(lebak: Program) -> None:
    # On 2026-01-01: born 1960-01-01 is 66, 1960-01-02 still 65; 2011-01-01 is 15, 2011-01-02 is 14.
    assert (
        code_of(lebak, nik="3602010101600001", tanggal_lahir="01/01/1960") == "USIA_DI_ATAS_BATAS"
    )
    assert code_of(lebak, nik="3602010201600001", tanggal_lahir="02/01/1960") is None
    assert code_of(lebak, nik="3602010101110001", tanggal_lahir="01/01/2011") is None
    assert (
        code_of(lebak, nik="3602010201110001", tanggal_lahir="02/01/2011") == "USIA_DI_BAWAH_BATAS"
    )


def test_kelurahan_only_refused_in_a_desa_only_program(lebak: Program, lahat: Program) -> None:
    assert code_of(lahat, kode_desa=KELURAHAN_LAHAT) == "KODE_DESA_BUKAN_DESA"
    assert code_of(lahat, kode_desa="16.04.01.2001") is None
    assert code_of(lebak, kode_desa="36.02.14.1002") is None  # Lebak bills kelurahan too


def test_first_failing_rule_wins(lebak: Program) -> None:
    got = validate_rows(
        frame(
            {"nik": "123", "nama": None, "kode_desa": None},
            {"nama": None, "jenis_kelamin": "X", "nik": "3602011505900002"},
            {
                "jenis_kelamin": "X",
                "kode_desa": None,
                "penghasilan": "?",
                "nik": "3602011505900003",
            },
        ),
        lebak,
        PERIOD,
    )
    assert got.rejected["code"].tolist() == ["NIK_PANJANG", "NAMA_KOSONG", "JENIS_KELAMIN_FORMAT"]
    assert list(RULE_ORDER[:4]) == [
        "NIK_KOSONG", "NIK_NOTASI_ILMIAH", "NIK_DISAMARKAN", "NIK_BUKAN_ANGKA",
    ]  # fmt: skip


def test_duplicate_nik_in_one_file_names_the_first_row(lebak: Program) -> None:
    got = validate_rows(
        frame(
            {"source_row": 5},
            {"source_row": 9, "nama": "Budi lagi"},
            {"source_row": 12, "nik": "3602 0115 0590 0001"},  # same NIK, typed differently
            {"source_file": "lain.csv"},  # another file: left to reconcile
        ),
        lebak,
        PERIOD,
    )
    assert got.accepted["source_file"].tolist() == ["desa.csv", "lain.csv"]
    assert got.rejected["code"].tolist() == ["NIK_GANDA_BERKAS"] * 2
    assert got.rejected["source_row"].tolist() == [9, 12]
    assert got.rejected["message"].str.contains("baris 5").all()


def test_rejected_values_fit_the_registry(lebak: Program) -> None:
    got = one(lebak, nik="1" * 40, nama="x" * 300, kode_desa="9" * 30)
    r = got.rejected.iloc[0]
    assert (len(r["nik"]), len(r["nama"]), len(r["kode_desa"])) == (20, 200, 13)


def test_rejected_kode_desa_is_dotted_when_it_can_be(lebak: Program) -> None:
    got = one(lebak, kode_desa="3602012002", nama=None)
    assert got.rejected.loc[0, "kode_desa"] == DESA


def test_empty_input(lebak: Program) -> None:
    got = validate_rows(frame(), lebak, PERIOD)
    assert got.accepted.empty and got.rejected.empty
    assert list(got.accepted.columns) == ACCEPTED_COLUMNS
    assert list(got.rejected.columns) == REJECTED_COLUMNS


def test_catalogue() -> None:
    assert set(RULE_ORDER) <= set(CODES)
    registry = {"NIK_DESA_GANDA", "NIK_PROGRAM_LAIN", "KUOTA_DESA_PENUH", "PESERTA_MENINGGAL"}
    assert registry | {"PINDAH_PENERIMA_UPAH", "NIK_GANDA_SUMBER"} <= set(CODES)
    files = {"BERKAS_KOSONG", "BERKAS_RUSAK", "BERKAS_TANPA_HEADER", "BERKAS_JENIS"}
    assert files | {"BERKAS_TERLALU_BESAR"} <= set(CODES)
    assert all(re.fullmatch(r"[A-Z][A-Z_]+", c) for c in CODES)
    assert "65" in str(fill("USIA_DI_ATAS_BATAS", batas=65))
    filled = fill("NIK_GANDA_BERKAS", baris_lain=pd.Series([3, 4]))
    assert isinstance(filled, pd.Series) and filled.str.contains("baris 3").iloc[0]


def test_read_then_validate(tmp_path: Path, lebak: Program) -> None:
    header = "No;NIK;Nama;Tgl Lahir;L/P;Kode Desa;Penghasilan"
    lines = [
        "1;3602011505900001;Budi;15/05/1990;L;36.02.01.2002;1.500.000",
        "2;3.60201E+15;Ani;15/05/1990;P;36.02.01.2002;",
        "3;;;;;;",
        "4;3602015505900002;Siti;1990-05-15;Perempuan;3602012002;Rp 2.000.000,-",
    ]
    (tmp_path / "desa.csv").write_bytes(("\n".join([header, *lines]) + "\n").encode("cp1252"))
    collected = collect_rosters(str(tmp_path))
    got = validate_rows(collected.rows, lebak, PERIOD)
    assert got.accepted["nik"].tolist() == ["3602011505900001", "3602015505900002"]
    assert got.accepted["penghasilan"].tolist() == [1_500_000, 2_000_000]
    assert got.rejected[["source_row", "code"]].values.tolist() == [[3, "NIK_NOTASI_ILMIAH"]]


# --- invariant ------------------------------------------------------------------------------------

_values = {
    "nik": st.sampled_from(
        ["3602011505900001", "3602015505900002", "3.60201E+15", "", "9901011505900001", "36020115"]
    ),
    "nama": st.sampled_from(["Budi", "", "-", "Siti Aminah"]),
    "tanggal_lahir": st.sampled_from(["15/05/1990", "1990-05-15", "33008", "", "x", "15/05/2012"]),
    "jenis_kelamin": st.sampled_from(["L", "P", "Perempuan", "", "?"]),
    "kode_desa": st.sampled_from([DESA, "3602012002", "36.02.14.1002", "", "99.99.99.9999"]),
    "penghasilan": st.sampled_from(["", "1.500.000", "x", "1500000"]),
    "source_file": st.sampled_from(["a.csv", "b.xlsx"]),
}


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.fixed_dictionaries(_values), max_size=30))
def test_every_row_ends_in_exactly_one_frame(lebak: Program, rows: list[dict[str, str]]) -> None:
    df = frame(*rows)
    df["source_row"] = range(2, len(df) + 2)
    got = validate_rows(df, lebak, PERIOD)
    assert len(got.accepted) + len(got.rejected) == len(df)
    seen = pd.concat(
        [got.accepted[["source_file", "source_row"]], got.rejected[["source_file", "source_row"]]]
    )
    assert sorted(map(tuple, seen.values.tolist())) == sorted(
        map(tuple, df[["source_file", "source_row"]].values.tolist())
    )
    assert got.rejected["code"].isin(RULE_ORDER).all()
    assert got.rejected["message"].notna().all()
    assert not got.rejected["message"].str.contains("{", regex=False).any()
    assert got.accepted["nik"].str.fullmatch(r"\d{16}").all()


# --- cheaper internals, checked against the straightforward versions ------------------------------


def _fill_with_pandas(code: str, **values: Any) -> Any:
    """`fill` as pandas string operations, one placeholder at a time (its specification)."""
    scalars = {k: v for k, v in values.items() if not isinstance(v, pd.Series)}
    columns = {k: v for k, v in values.items() if isinstance(v, pd.Series)}
    template = CODES[code]
    for name, value in scalars.items():
        template = template.replace("{" + name + "}", str(value))
    if not columns:
        return template
    result = pd.Series(template, index=next(iter(columns.values())).index, dtype="string")
    for name, value in columns.items():
        parts = result.str.partition("{" + name + "}")
        filled = parts[0] + value.astype("string").fillna("") + parts[2]
        result = filled.where(parts[1] != "", result)
    return result.astype("string")


@pytest.mark.parametrize(
    ("code", "values"),
    [
        ("NIK_PANJANG", {"nilai": ["36", None], "panjang": pd.array([3, None], "Int64")}),
        ("TANGGAL_LAHIR_FORMAT", {"nilai": ["{nilai}", "x"]}),  # operator text with braces
        ("USIA_DI_ATAS_BATAS", {"usia": [70, 71], "batas": 65, "per_tanggal": "01/01/2026"}),
        (
            "JENIS_KELAMIN_TIDAK_SESUAI_NIK",
            {"jenis_kelamin": ["X", "L"], "jk_nik": ["P", None]},
        ),
        ("NIK_GANDA_BERKAS", {"baris_lain": [2.0, float("nan")]}),
    ],
)
def test_fill_matches_pandas(code: str, values: dict[str, Any]) -> None:
    index = pd.Index([7, 3])
    args = {
        k: v if isinstance(v, str | int) else pd.Series(v, index=index) for k, v in values.items()
    }
    got, want = fill(code, **args), _fill_with_pandas(code, **args)
    pd.testing.assert_series_equal(got, want)  # type: ignore[arg-type]


def test_an_operators_text_that_looks_like_a_placeholder_goes_in_verbatim() -> None:
    """A cell reading `{jk_nik}` is quoted as written, not filled with the next placeholder's value
    (filling one placeholder after another into the message so far did that)."""
    sex = fill(
        "JENIS_KELAMIN_TIDAK_SESUAI_NIK",
        jenis_kelamin=pd.Series(["{jk_nik}"]),
        jk_nik=pd.Series(["P"]),
    )
    assert sex.tolist() == [  # type: ignore[union-attr]
        "Jenis kelamin {jk_nik} tidak sama dengan NIK, yang menunjukkan P (pada NIK perempuan, "
        "tanggal lahir ditambah 40). Periksa kembali NIK dan jenis kelamin dengan KTP."
    ]


def test_fill_aligns_columns_on_different_indexes() -> None:
    a = pd.Series(["x", "y"], index=[1, 2])
    b = pd.Series([5, 6], index=[2, 1])
    got = fill("NIK_PANJANG", nilai=a, panjang=b)
    pd.testing.assert_series_equal(got, _fill_with_pandas("NIK_PANJANG", nilai=a, panjang=b))  # type: ignore[arg-type]
    assert got.tolist()[0].startswith("NIK harus 16 digit; yang tertulis 6 digit (x)")  # type: ignore[union-attr]


def test_duplicate_niks_match_a_sort_and_group_by() -> None:
    """NIK_GANDA_BERKAS and the row it names, against the pandas version it replaced."""
    import random

    import numpy as np

    from iuran.rosters.validate import _first_in_file

    rng = random.Random(3)
    for _ in range(50):
        n = rng.randrange(0, 60)
        files = pd.Series(rng.choices(["a.csv", "b.xlsx", "c.csv"], k=n), dtype="string")
        niks = pd.Series(rng.choices(["1", "2", "3", None], k=n), dtype="string")
        rows = np.array(rng.choices(range(2, 12), k=n), dtype=np.int64)
        ok = niks.notna().to_numpy()
        keyed = pd.DataFrame({"f": files, "n": niks, "row": rows}).loc[ok]
        keyed = keyed.sort_values(["f", "row"], kind="stable")
        first = pd.Series(0, index=files.index, dtype="int64")
        first[keyed.index] = keyed.groupby(["f", "n"], sort=False)["row"].transform("first")
        later = np.zeros(n, dtype=bool)
        later[keyed.index[keyed.duplicated(["f", "n"]).to_numpy()]] = True
        got_first, got_later = _first_in_file(files, niks, rows, ok)
        assert got_first.tolist() == first.tolist()
        assert got_later.tolist() == later.tolist()


def test_later_date_formats_still_read_among_iso_dates() -> None:
    """Each format is tried only on what earlier ones left: mixed columns read as before."""
    raw = pd.Series(
        ["1990-05-15", "15/05/1990", "15 Mei 1990", "33008", "0000-01-01", "", None, "15-05-1990"],
        dtype="string",
    )
    got = parse_dates(raw).dt.strftime("%Y-%m-%d").tolist()
    assert got[:4] == ["1990-05-15"] * 4
    assert pd.isna(got[4]) and pd.isna(got[5]) and pd.isna(got[6])
    assert got[7] == "1990-05-15"


# --- eligibility by occupation (#16) ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("pekerjaan", "code"),
    [
        ("PNS", "PEKERJAAN_ASN_TNI_POLRI"),
        ("Guru PNS", "PEKERJAAN_ASN_TNI_POLRI"),
        ("TNI AD", "PEKERJAAN_ASN_TNI_POLRI"),
        ("Polri", "PEKERJAAN_ASN_TNI_POLRI"),
        ("5", "PEKERJAAN_ASN_TNI_POLRI"),  # OpenSID's code: ASN
        ("Karyawan Swasta", "PEKERJAAN_PENERIMA_UPAH"),
        ("Honorer", "PEKERJAAN_PENERIMA_UPAH"),
        ("Perangkat Desa", "PEKERJAAN_PENERIMA_UPAH"),
        ("Kades", "PEKERJAAN_PEJABAT"),
        ("Anggota DPRD Kabupaten/Kota", "PEKERJAAN_PEJABAT"),
        ("Belum/Tidak Bekerja", "PEKERJAAN_BUKAN_PEKERJA"),
        ("Pelajar/Mahasiswa", "PEKERJAAN_BUKAN_PEKERJA"),
        ("PETANI / PEKEBUN", None),
        ("ojek online", None),
        ("", None),
        (None, None),
    ],
)
def test_occupations_insured_elsewhere_or_not_working_are_refused(
    lebak: Program, pekerjaan: str | None, code: str | None
) -> None:
    assert code_of(lebak, pekerjaan=pekerjaan) == code
    if code:
        [row] = one(lebak, pekerjaan=pekerjaan).rejected.to_dict("records")
        assert row["column"] == "pekerjaan" and "{" not in row["message"]


def test_occupation_messages_say_why(lebak: Program) -> None:
    got = validate_rows(
        frame(
            {"pekerjaan": "TNI AD"},
            {"pekerjaan": "Karyawan Swasta", "source_file": "lain.csv"},
        ),
        lebak,
        PERIOD,
    )
    asn, upah = got.rejected["message"]
    assert "Taspen" in asn and "ASABRI" in asn and "'TNI AD'" in asn
    assert "pemberi kerja" in upah


def test_a_program_may_accept_non_workers(lebak: Program) -> None:
    accepting = lebak.model_copy(update={"non_workers": "accept"})
    assert lebak.non_workers == "refuse"
    assert code_of(accepting, pekerjaan="Mengurus Rumah Tangga") is None
    assert code_of(accepting, pekerjaan="PNS") == "PEKERJAAN_ASN_TNI_POLRI"


def test_occupation_is_eligibility_after_the_fields_before_age(lebak: Program) -> None:
    at = RULE_ORDER.index
    assert at("KODE_DESA_BUKAN_DESA") < at("PEKERJAAN_ASN_TNI_POLRI") < at("USIA_DI_BAWAH_BATAS")
    old = {"nik": "3602011505500001", "tanggal_lahir": "15/05/1950", "pekerjaan": "PNS"}
    assert code_of(lebak, **old) == "PEKERJAAN_ASN_TNI_POLRI"
    assert code_of(lebak, kode_desa=None, pekerjaan="PNS") == "KODE_DESA_KOSONG"


# --- a NIK from a number cell ending in 0 (#16) -----------------------------------------------------


def test_a_rounded_number_cell_is_accepted_only_when_the_registry_holds_that_person(
    lebak: Program,
) -> None:
    from iuran.intake.cells import nik_cell
    from iuran.rosters.validate import confirm_rounded_niks, rounded_niks

    nik = "3602011505900010"
    cell = nik_cell(float(nik))  # what an XLSX number cell becomes: Excel may have rounded it
    assert cell == "3.60201150590001E+15" and rounded_niks(pd.Series([cell])).tolist() == [nik]
    rows = frame(
        {"nik": cell},
        {"nik": cell, "source_file": "lain.csv", "nama": "Orang Lain"},
        {"nik": "3.60201E+15", "source_file": "tiga.csv"},
    )
    assert code_of(lebak, nik=cell) == "NIK_NOTASI_ILMIAH"  # nothing known: refused as today
    known = pd.DataFrame(
        {"nik": [nik], "nama": ["BUDI  SANTOSO"], "tanggal_lahir": [pd.Timestamp("1990-05-15")]}
    )
    got = validate_rows(confirm_rounded_niks(rows, known), lebak, PERIOD)
    assert got.accepted["nik"].tolist() == [nik]
    assert got.rejected["code"].tolist() == ["NIK_NOTASI_ILMIAH", "NIK_NOTASI_ILMIAH"]
    other_birthday = known.assign(tanggal_lahir=pd.Timestamp("1990-05-16"))
    assert confirm_rounded_niks(rows, other_birthday)["nik"].tolist() == rows["nik"].tolist()
    assert confirm_rounded_niks(rows, known.iloc[:0]) is rows
