import pandas as pd

from iuran.conflicts import find_conflicts, fold_names


def frame(rows: list[tuple[str, str, str]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["nik", "nama", "tanggal_lahir"]).assign(
        tanggal_lahir=lambda d: pd.to_datetime(d["tanggal_lahir"]),
        source_file="a.csv",
        source_row=2,
    )


def test_spelling_variants_fold_to_one_name() -> None:
    names = pd.Series(
        ["H. Soekarno, S.Pd.", "sukarno", "Djoko  Tjahjono", "Joko Cahyono", "Muhammmad"]
    )
    assert fold_names(names).tolist() == [
        "sukarno",
        "sukarno",
        "yoko cahyono",
        "yoko cahyono",
        "muhamad",
    ]


def test_typos_are_tolerated_but_other_people_are_not() -> None:
    registry = frame([("1", "Siti Nurhaliza", "1990-05-15"), ("2", "Budi Santoso", "1985-01-02")])
    roster = frame([("1", "Siti Nurhaliz", "1990-05-15"), ("2", "Agus Salim", "1985-01-02")])
    c = find_conflicts(roster, registry)
    assert c[["nik", "field", "registry_value", "roster_value"]].values.tolist() == [
        ["2", "nama", "Budi Santoso", "Agus Salim"]
    ]


def test_a_different_birth_date_is_a_conflict() -> None:
    registry = frame([("1", "Siti", "1990-05-15")])
    roster = frame([("1", "Siti", "1990-05-16")])
    c = find_conflicts(roster, registry)
    assert c[["field", "registry_value", "roster_value"]].values.tolist() == [
        ["tanggal_lahir", "1990-05-15", "1990-05-16"]
    ]


def test_new_niks_are_not_conflicts() -> None:
    assert (
        len(find_conflicts(frame([("9", "X", "2000-01-01")]), frame([("1", "Y", "2000-01-01")])))
        == 0
    )
