"""Registry rules as plain functions over small frames."""

from __future__ import annotations

import pandas as pd

from iuran.periods import Period
from iuran.programs import load_program
from iuran.reconcile import CARRIED_SOURCE, Registry, list_source, reconcile, status_frame

LEBAK = load_program("lebak")  # no per-village limit, 3,450 workers, regency pays
CAPPED = LEBAK.model_copy(update={"limit_per_village": 10})
LAHAT = load_program("lahat")  # villages pay
JAN = Period(2026, 1)
A, B, C = "36.02.01.2002", "36.02.01.2003", "36.02.01.2004"


def rows(*spec: tuple[str, str], file: str = "a.csv") -> pd.DataFrame:
    """(nik, kode_desa) pairs as accepted roster rows."""
    n = len(spec)
    return pd.DataFrame(
        {
            "nik": pd.array([s[0] for s in spec], dtype="string"),
            "nama": pd.array([f"Orang {i}" for i in range(n)], dtype="string"),
            "tanggal_lahir": pd.to_datetime(["1990-05-15"] * n),
            "jenis_kelamin": pd.array(["L"] * n, dtype="string"),
            "pekerjaan": pd.array(["petani"] * n, dtype="string"),
            "kode_desa": pd.array([s[1] for s in spec], dtype="string"),
            "alamat": pd.array([""] * n, dtype="string"),
            "no_hp": pd.array([""] * n, dtype="string"),
            "penghasilan": pd.array([None] * n, dtype="Int64"),
            "source_file": pd.array([file] * n, dtype="string"),
            "source_sheet": pd.array([""] * n, dtype="string"),
            "source_row": list(range(2, n + 2)),
        }
    )


def registry(
    members: list[tuple[str, str]] = (),  # type: ignore[assignment]
    previous: pd.DataFrame | None = None,
    elsewhere: list[tuple[str, str]] = (),  # type: ignore[assignment]
    status: list[tuple[str, ...]] = (),  # type: ignore[assignment]
) -> Registry:
    """`status`: (nik, bpjs_status) or (nik, bpjs_status, date in force from)."""
    empty = Registry.empty()
    prev = empty.previous
    if previous is not None:
        prev = previous.reindex(columns=list(empty.previous.columns))
    return Registry(
        members=pd.DataFrame(members, columns=["nik", "kode_desa"], dtype="string")
        if members
        else empty.members,
        previous=prev,
        elsewhere=pd.DataFrame(elsewhere, columns=["nik", "program"], dtype="string")
        if elsewhere
        else empty.elsewhere,
        status=status_frame(
            pd.DataFrame(
                [(*s, None) if len(s) == 2 else s for s in status],
                columns=["nik", "bpjs_status", "tanggal"],
            )
        )
        if status
        else empty.status,
    )


def nik(i: int) -> str:
    return f"360201150590{i:04d}"


def test_everyone_new_in_the_first_period() -> None:
    r = reconcile(rows((nik(1), A), (nik(2), B)), {A, B}, registry(), LEBAK, JAN)
    assert r.billed["category"].tolist() == ["baru", "baru"]
    assert r.billed["payer_key"].unique().tolist() == ["kabupaten"]
    assert len(r.rejected) == 0 and len(r.ended) == 0


def test_same_nik_in_two_villages_is_billed_once_in_the_lowest_village() -> None:
    r = reconcile(rows((nik(1), B), (nik(1), A)), {A, B}, registry(), LEBAK, JAN)
    assert r.billed["kode_desa"].tolist() == [A]
    [rej] = r.rejected.to_dict("records")
    assert rej["code"] == "NIK_DESA_GANDA" and rej["kode_desa"] == B and A in rej["message"]


def test_same_nik_in_two_villages_stays_in_its_home_village() -> None:
    r = reconcile(
        rows((nik(1), A), (nik(1), B)), {A, B}, registry(members=[(nik(1), B)]), LEBAK, JAN
    )
    assert r.billed["kode_desa"].tolist() == [B]
    assert r.rejected["kode_desa"].tolist() == [A]


def test_village_list_and_opd_list_naming_the_same_worker_are_one_worker() -> None:
    both = pd.concat(
        [rows((nik(1), A), file="desa.csv"), rows((nik(1), A), file="dinas-pertanian.xlsx")]
    )
    r = reconcile(both, {A}, registry(), LEBAK, JAN)
    assert len(r.billed) == 1 and r.billed["source_file"].tolist() == ["desa.csv"]
    assert r.rejected["code"].tolist() == ["NIK_GANDA_SUMBER"]
    assert "desa.csv" in r.rejected["message"].iloc[0]


def test_double_funding_by_another_program_is_refused() -> None:
    r = reconcile(
        rows((nik(1), A), (nik(2), A)), {A}, registry(elsewhere=[(nik(2), "serang")]), LEBAK, JAN
    )
    assert r.billed["nik"].tolist() == [nik(1)]
    assert r.rejected["code"].tolist() == ["NIK_PROGRAM_LAIN"]
    assert "serang" in r.rejected["message"].iloc[0]


def test_deceased_and_wage_employment_are_never_billed() -> None:
    reg = registry(status=[(nik(1), "meninggal"), (nik(2), "pindah_pu"), (nik(3), "nonaktif")])
    r = reconcile(rows((nik(1), A), (nik(2), A), (nik(3), A)), {A}, reg, LEBAK, JAN)
    assert r.billed["nik"].tolist() == [nik(3)]
    assert sorted(r.rejected["code"]) == ["PESERTA_MENINGGAL", "PINDAH_PENERIMA_UPAH"]


def _previous(pairs: list[tuple[str, str]]) -> pd.DataFrame:
    prev = rows(*pairs)
    return prev


def test_a_per_village_limit_keeps_continuing_members_first() -> None:
    new = [(nik(i), A) for i in range(1, 11)]
    old = [(nik(i), A) for i in range(11, 14)]
    feb = Period(2026, 2)
    r = reconcile(rows(*new, *old), {A}, registry(previous=_previous(old)), CAPPED, feb)
    assert len(r.billed) == 10
    assert set(r.billed.loc[r.billed["category"] == "lanjutan", "nik"]) == {n for n, _ in old}
    rejected = r.rejected.loc[r.rejected["code"] == "KUOTA_DESA_PENUH", "nik"].tolist()
    assert rejected == [nik(8), nik(9), nik(10)]  # the last new rows in file order
    assert "(10 peserta)" in r.rejected["message"].iloc[0]


def test_a_target_is_not_a_cap() -> None:
    """Luwu Timur and Lahat: 'at least 100' a village. A village of 120 is billed in full."""
    lutim = load_program("luwu-timur")
    assert lutim.target_per_village == 100 and lutim.limit_per_village is None
    village = "73.24.01.2001"
    workers = [(f"732401150590{i:04d}", village) for i in range(1, 121)]
    r = reconcile(rows(*workers), {village}, registry(), lutim, Period(2025, 5))
    assert len(r.billed) == 120 and len(r.rejected) == 0


def test_a_worker_listed_twice_is_resolved_before_the_limit() -> None:
    """Listed by A (lower code) and B, billed by B last month: kept in B, and A's own tenth worker
    is billed within A's limit of 10."""
    own = [(nik(i), A) for i in range(1, 11)]
    twice = nik(20)
    prev = _previous([(twice, B)])
    r = reconcile(rows((twice, A), *own, (twice, B)), {A, B}, registry(members=[(twice, B)], previous=prev), CAPPED, Period(2026, 2))  # fmt: skip
    assert set(r.billed.loc[r.billed["kode_desa"] == A, "nik"]) == {n for n, _ in own}
    assert r.billed.loc[r.billed["nik"] == twice, "kode_desa"].tolist() == [B]
    assert r.rejected["code"].tolist() == ["NIK_DESA_GANDA"]


def test_the_headcount_limit_warns_or_stops_as_the_pagu_policy_says() -> None:
    y2026, *later = LEBAK.years  # the headcount is the budget year's (`ProgramYear.workers`)
    small = LEBAK.model_copy(update={"years": (y2026.model_copy(update={"workers": 3}), *later)})
    workers = rows(*[(nik(i), A) for i in range(1, 6)])
    warn = reconcile(workers, {A}, registry(), small, JAN)
    assert len(warn.billed) == 5 and any("(3)" in n for n in warn.notes)
    stop = reconcile(
        workers, {A}, registry(), small.model_copy(update={"pagu_policy": "stop"}), JAN
    )
    assert stop.billed["nik"].tolist() == [nik(1), nik(2), nik(3)]
    assert stop.rejected["code"].tolist() == ["KUOTA_PROGRAM_PENUH"] * 2
    assert "(3 peserta)" in stop.rejected["message"].iloc[0]


def test_workers_no_longer_on_the_roster_have_ended() -> None:
    prev = _previous([(nik(1), A), (nik(2), A)])
    r = reconcile(rows((nik(1), A)), {A}, registry(previous=prev), LEBAK, Period(2026, 2))
    assert r.ended[["nik", "kode_desa", "reason"]].to_dict("records") == [
        {"nik": nik(2), "kode_desa": A, "reason": "tidak_di_roster"}
    ]
    assert r.counts()["continuing"] == 1


def test_a_village_that_sent_nothing_is_carried_forward() -> None:
    prev = _previous([(nik(1), A), (nik(2), B)])
    r = reconcile(rows((nik(1), A)), {A}, registry(previous=prev), LEBAK, Period(2026, 2))
    carried = r.billed.loc[r.billed["carried"]]
    assert carried["nik"].tolist() == [nik(2)] and carried["source_file"].tolist() == [
        CARRIED_SOURCE
    ]
    assert carried["category"].tolist() == ["lanjutan"]
    assert len(r.ended) == 0 and r.counts()["carried_forward"] == 1


def test_fresh_rosters_required_means_no_carry_forward() -> None:
    strict = LEBAK.model_copy(update={"require_fresh_rosters": True})
    prev = _previous([(nik(1), A), (nik(2), B)])
    r = reconcile(rows((nik(1), A)), {A}, registry(previous=prev), strict, Period(2026, 2))
    assert r.billed["nik"].tolist() == [nik(1)]
    assert r.ended["nik"].tolist() == [nik(2)]


def test_a_deceased_member_is_not_carried_forward_and_ends_as_deceased() -> None:
    prev = _previous([(nik(1), A), (nik(2), B)])
    reg = registry(previous=prev, status=[(nik(2), "meninggal")])
    r = reconcile(rows((nik(1), A)), {A}, reg, LEBAK, Period(2026, 2))
    assert r.billed["nik"].tolist() == [nik(1)]
    assert r.ended.set_index("nik")["reason"].to_dict() == {nik(2): "meninggal"}
    assert len(r.rejected) == 0  # nobody sent that row this period


def test_villages_pay_their_own_invoice() -> None:
    a, b = "16.04.01.2001", "16.04.01.2002"
    r = reconcile(rows((nik(1), a), (nik(2), b)), {a, b}, registry(), LAHAT, Period(2025, 9))
    assert r.billed["payer_key"].tolist() == [a, b]


def test_every_accepted_row_is_billed_or_rejected_exactly_once() -> None:
    spec = [(nik(i % 7), [A, B, C][i % 3]) for i in range(30)]
    accepted = rows(*spec)
    r = reconcile(accepted, {A, B, C}, registry(elsewhere=[(nik(3), "serang")]), LEBAK, JAN)
    assert len(r.billed) + len(r.rejected) == len(accepted)
    assert r.billed["nik"].is_unique


def test_a_status_takes_effect_from_its_own_date() -> None:
    """Died 20 January: billed in January (the month of death is covered), not from February on."""
    prev = rows((nik(1), A), (nik(2), A))
    reg = registry(previous=prev, status=[(nik(1), "meninggal", "2026-01-20")])
    jan = reconcile(rows((nik(1), A), (nik(2), A)), {A}, reg, LEBAK, JAN)
    assert sorted(jan.billed["nik"]) == [nik(1), nik(2)] and len(jan.rejected) == 0
    feb = reconcile(rows((nik(1), A), (nik(2), A)), {A}, reg, LEBAK, Period(2026, 2))
    assert feb.billed["nik"].tolist() == [nik(2)]
    assert feb.rejected["code"].tolist() == ["PESERTA_MENINGGAL"]
    assert feb.ended.set_index("nik")["reason"].to_dict() == {nik(1): "meninggal"}


def test_an_opd_list_does_not_end_a_silent_villages_workers() -> None:
    """Village A sends nothing; Dinas Perikanan's list names one new fisherman in A: A's five
    workers of last month are carried forward, not ended."""
    prev = _previous([(nik(i), A) for i in range(1, 6)])
    opd = rows((nik(9), A), file="dinas-perikanan/nelayan-oktober.xlsx")
    r = reconcile(opd, set(), registry(previous=prev), LEBAK, Period(2026, 2), frozenset({"dinas-perikanan"}))  # fmt: skip
    assert len(r.billed) == 6 and len(r.ended) == 0
    assert r.billed.set_index("nik")["sumber"].to_dict() == {
        **{nik(i): "desa" for i in range(1, 6)},
        nik(9): "dinas-perikanan",
    }


def test_an_opd_workers_end_only_when_that_opd_sends_its_list() -> None:
    prev = _previous([(nik(1), A), (nik(2), A)]).assign(sumber=["desa", "dinas-perikanan"])
    reg = registry(previous=prev)
    village = reconcile(rows((nik(1), A)), {A}, reg, LEBAK, Period(2026, 2))
    assert sorted(village.billed["nik"]) == [nik(1), nik(2)] and len(village.ended) == 0
    other = rows((nik(3), B), file="opd-pertanian.csv")
    still = reconcile(other, {A}, reg, LEBAK, Period(2026, 2), frozenset({"opd-pertanian"}))
    assert nik(2) in set(still.billed["nik"])
    sent = rows((nik(3), A), file="dinas-perikanan/nelayan.csv")
    ended = reconcile(sent, {A}, reg, LEBAK, Period(2026, 2), frozenset({"dinas-perikanan"}))
    assert ended.ended.set_index("nik")["reason"].to_dict() == {nik(1): "tidak_di_roster", nik(2): "tidak_di_roster"}  # fmt: skip


def test_list_source_names_the_opd_lists() -> None:
    files = pd.Series(["3602012002.xlsx", "dinas-perikanan/nelayan.xlsx", "OPD Pertanian 2026-02.csv", "kec/3602012003.csv"])  # fmt: skip
    assert list_source(files).tolist() == ["desa", "dinas-perikanan", "opd-pertanian", "desa"]


def test_a_carried_worker_passes_the_months_rules() -> None:
    """Born 10 March 1960, village silent: 66 on 1 April 2026, above Lebak's age_max 65: not billed,
    ended with the age reason; the other carried worker goes on."""
    old = "3602011003600001"
    prev = rows((old, A), (nik(2), A))
    prev["tanggal_lahir"] = pd.to_datetime(["1960-03-10", "1990-05-15"])
    r = reconcile(rows((nik(3), B)), {B}, registry(previous=prev), LEBAK, Period(2026, 4))
    assert sorted(r.billed["nik"]) == [nik(2), nik(3)]
    assert r.ended.set_index("nik")["reason"].to_dict() == {old: "usia_di_atas_batas"}
    assert len(r.rejected) == 0  # not a received row: nothing on a village's rejection list
    march = reconcile(rows((nik(3), B)), {B}, registry(previous=prev), LEBAK, Period(2026, 3))
    assert old in set(march.billed["nik"])  # 65 on 1 March 2026
