"""Reconciliation: who is billed this period, who is new, who continues, who ended, and why not.

Pure functions over frames; the registry snapshot they need is read by `iuran.registry`. Categories are
derived from the previous period's billed lines, so a rerun of the same period reaches the same answer.

Documented rules:
- The same NIK in two villages of the program is billed once, before any limit counts: in the village
  that billed the worker last month (else where last billed); otherwise in the village with the lowest
  code, then the earliest file and row. The other row is rejected naming the village that keeps the
  worker. The same NIK sent twice for the same village (a village list and an OPD sector list) is one
  worker on both lists; the second row is reported as merged.
- The same NIK billed by another program for the same period is double funding: rejected.
- A participant that BPJS reports deceased or moved to wage employment is not billed from the month
  after the status's own date: the month of death is covered (the heirs' JKM claim depends on it),
  and a rerun of an earlier month bills him as before (`in_force`). An undated status counts from the
  month of the list it came in.
- Lists (`list_source`): a file or folder named `dinas…`/`opd…` is a partner OPD's list, anything else
  a village's own roster. A worker is carried forward while a list that named him last month is silent
  (his village sent no roster; the OPD sent no list) and ends only when every list that named him is
  sent without him. An OPD's list naming a village is not that village's roster.
- Every worker billed in a month, received or carried, passes that month's rules: carried workers go
  through the row rules of `iuran.rosters.validate` (age on the period's first day, eligibility, ...),
  the status list and double funding; one that fails ends with the rule's code as the reason.
- Targets are not caps (`Program.target_per_village` is reported, never enforced). Limits only where
  the program sets them: `limit_per_village` (KUOTA_DESA_PENUH) and the headcount `workers` (a note
  under `pagu_policy: warn`; KUOTA_PROGRAM_PENUH under `stop`); continuing members first, then new
  rows in file order.
- `require_fresh_rosters` turns carry-forward off.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from iuran.bpjs_status import STATUS_COLUMNS
from iuran.nik import isin_text
from iuran.periods import Period
from iuran.programs import Program
from iuran.rosters.codes import CARRIED_SOURCE
from iuran.rosters.codes import fill as message
from iuran.rosters.validate import validate_rows

PROVENANCE = ["source_file", "source_sheet", "source_row"]
REJECTED_COLUMNS = [*PROVENANCE, "kode_desa", "nik", "nama", "column", "code", "message"]
#: The `list_source` key of a village's own roster.
VILLAGE_SOURCE = "desa"

MERGED_CODE = "NIK_GANDA_SUMBER"


def status_frame(df: pd.DataFrame) -> pd.DataFrame:
    """nik, bpjs_status as text, tanggal as a date (NaT when none): the registry's status table."""
    return pd.DataFrame(
        {
            "nik": df["nik"].astype("string"),
            "bpjs_status": df["bpjs_status"].astype("string"),
            "tanggal": pd.to_datetime(df["tanggal"]).astype("datetime64[ns]"),
        }
    )


def in_force(status: pd.DataFrame, period: Period) -> pd.Series:
    """nik -> bpjs_status of the statuses in force in `period`: dated before its first day (or
    undated). A status takes effect from its own date, never backwards: the month a worker dies in
    (or moves to wage work in) is still covered, and a rerun of an earlier month bills him as before."""
    start = pd.Timestamp(period.first_day)
    dated = pd.to_datetime(status["tanggal"])
    live = status.loc[(dated.isna() | (dated < start)).to_numpy()]
    return live.drop_duplicates("nik", keep="last").set_index("nik")["bpjs_status"]


@dataclass(frozen=True)
class Registry:
    """What the database knows that this period's decision needs."""

    #: nik, kode_desa: the village each NIK was last billed in before this period
    members: pd.DataFrame
    #: last period's billed workers: nik, nama, tanggal_lahir, jenis_kelamin, pekerjaan,
    #: kode_desa, penghasilan, sumber (the lists that named them, `list_source` keys joined by "+")
    previous: pd.DataFrame
    #: nik, program: billed by other programs this period
    elsewhere: pd.DataFrame
    #: nik, bpjs_status, tanggal: participants BPJS reports as not active, and since when (NaT:
    #: a status recorded without a date, in force for every period)
    status: pd.DataFrame

    def with_status_list(self, status_list: pd.DataFrame) -> Registry:
        """BPJS's latest word on a NIK overrides what the registry knew."""
        listed = status_list.reindex(columns=STATUS_COLUMNS).astype({"nik": "string", "bpjs_status": "string"})  # fmt: skip
        merged = pd.concat([self.status, listed], ignore_index=True).drop_duplicates("nik", keep="last")  # fmt: skip
        merged["tanggal"] = pd.to_datetime(merged["tanggal"])
        return replace(self, status=merged)

    @classmethod
    def empty(cls) -> Registry:
        return cls(
            members=pd.DataFrame({"nik": [], "kode_desa": []}, dtype="string"),
            previous=pd.DataFrame(
                {
                    c: pd.Series(dtype="string")
                    for c in ["nik", "nama", "jenis_kelamin", "pekerjaan", "kode_desa", "sumber"]
                }
                | {
                    "tanggal_lahir": pd.Series(dtype="datetime64[ns]"),
                    "penghasilan": pd.Series(dtype="Int64"),
                }
            ),
            elsewhere=pd.DataFrame({"nik": [], "program": []}, dtype="string"),
            status=status_frame(pd.DataFrame({"nik": [], "bpjs_status": [], "tanggal": []})),
        )


@dataclass(frozen=True)
class Reconciled:
    billed: pd.DataFrame  # accepted + carried rows, with `category` (baru|lanjutan) and `payer_key`
    rejected: pd.DataFrame  # REJECTED_COLUMNS
    ended: pd.DataFrame  # nik, kode_desa, nama, tanggal_lahir, jenis_kelamin, reason
    #: BPJS's status list for this period (nik, bpjs_status, tanggal): written to the registry
    status_list: pd.DataFrame | None = None
    notes: tuple[str, ...] = ()

    def with_status_list(self, status_list: pd.DataFrame | None, notes: list[str]) -> Reconciled:
        return replace(self, status_list=status_list, notes=(*self.notes, *notes))

    def counts(self) -> dict[str, int]:
        cat = self.billed["category"].value_counts()
        return {
            "billed": len(self.billed),
            "new": int(cat.get("baru", 0)),
            "continuing": int(cat.get("lanjutan", 0)),
            "ended": len(self.ended),
            "carried_forward": int(self.billed["carried"].sum()),
        }


def _lookup(keys: pd.Series, table: pd.Series, default: str) -> np.ndarray:
    """`table[key]` for each key, `default` where the table has none (even when the table is empty)."""
    found = isin_text(keys, table.index)
    values = np.full(len(keys), default, dtype=object)
    if found.any():
        values[found] = keys[found].map(table).astype(object).to_numpy()
    return values


def _rejections(rows: pd.DataFrame, code: str, column: str, msg: pd.Series | str) -> pd.DataFrame:
    out = rows.reindex(columns=[*PROVENANCE, "kode_desa", "nik", "nama"]).copy()
    out["column"] = column
    out["code"] = code
    out["message"] = msg if isinstance(msg, str) else msg.to_numpy()
    return out[REJECTED_COLUMNS]


def list_source(source_file: pd.Series) -> pd.Series:
    """The list a roster file is: a partner OPD's sector list when the file's folder (or, at the top
    of the month's folder, its name) starts with `dinas` or `opd` (`dinas-perikanan/nelayan.xlsx`,
    `opd-pertanian.csv`: key `dinas-perikanan`, `opd-pertanian`: letters only, so a month or a number
    in the name does not make another list), else the village's own roster (`desa`)."""
    # a few hundred files for tens of thousands of rows: each distinct path once, then spread
    positions, distinct = pd.factorize(source_file.astype("string").fillna(""))
    path = pd.Series(distinct, dtype="string")
    top = path.str.split("/", n=1).str[0].str.rsplit(".", n=1).str[0]
    top = top.where(path.str.contains("/", regex=False), path.str.rsplit(".", n=1).str[0])
    key = top.str.lower().str.replace(r"[^a-z]+", "-", regex=True).str.strip("-").str[:60]
    key = key.where(key.str.match(r"^(dinas|opd)"), VILLAGE_SOURCE).astype("string")
    return pd.Series(key.array.take(positions), index=source_file.index, dtype="string")


def _joined(sources: pd.DataFrame) -> pd.Series:
    """nik -> its lists (`sumber` values, each maybe "a+b") as one sorted "+"-joined key."""
    one = sources.assign(sumber=sources["sumber"].astype("string").str.split("+")).explode("sumber")
    return one.groupby("nik")["sumber"].agg(lambda s: "+".join(sorted(set(s)))).astype("string")


def _silent_lists(
    prev: pd.DataFrame, received_villages: set[str], heard_lists: frozenset[str]
) -> pd.DataFrame:
    """nik, sumber: each of last period's workers with the lists that named them and are silent
    now (a village's roster not sent, an OPD's list not sent). A worker with none has ended."""
    each = prev[["nik", "kode_desa"]].assign(
        sumber=prev.get("sumber", pd.Series(pd.NA, index=prev.index, dtype="string"))
        .astype("string")
        .fillna(VILLAGE_SOURCE)
        .str.split("+")
    )
    each = each.explode("sumber")
    village = each["sumber"].eq(VILLAGE_SOURCE).to_numpy()
    silent = np.where(
        village,
        ~isin_text(each["kode_desa"], received_villages),
        ~isin_text(each["sumber"], heard_lists),
    )
    return each.loc[silent, ["nik", "sumber"]].reset_index(drop=True)


def _recheck(
    carried: pd.DataFrame, program: Program, period: Period
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Carried workers through the same row rules as received rows (`validate_rows`: age limits on
    this period's first day, eligibility, …): (those who pass, the rejections of the others)."""
    text = pd.DataFrame(
        {
            c: carried[c].astype("string")
            for c in ["nik", "nama", "jenis_kelamin", "pekerjaan", "kode_desa"]
        }
    )
    text["tanggal_lahir"] = pd.to_datetime(carried["tanggal_lahir"]).dt.strftime("%d/%m/%Y")
    text["penghasilan"] = carried["penghasilan"].astype("string")
    text["source_file"] = CARRIED_SOURCE
    text["source_sheet"] = ""
    text["source_row"] = 0
    checked = validate_rows(text, program, period)
    return carried.loc[isin_text(carried["nik"], checked.accepted["nik"])], checked.rejected


def reconcile(
    accepted: pd.DataFrame,
    received_villages: set[str],
    registry: Registry,
    program: Program,
    period: Period,
    heard_lists: frozenset[str] = frozenset(),
) -> Reconciled:
    """`received_villages`: the villages whose own roster came this period (a partner OPD's list
    naming a village is not its roster); `heard_lists`: the partner OPDs' lists that came
    (`list_source` keys)."""
    rows = accepted.reset_index(drop=True).copy()
    rows["_order"] = np.arange(len(rows))
    rows["carried"] = False
    rows["sumber"] = list_source(rows["source_file"])
    rejected: list[pd.DataFrame] = []

    # 1. One NIK, one row: the home village first, else the lowest village code, then file order.
    # Only the rows of a NIK listed more than once are ordered (a few in a thousand, not the month).
    listed_twice = rows["nik"].duplicated(keep=False).to_numpy()
    if listed_twice.any():
        home = registry.members.set_index("nik")["kode_desa"]
        twice = rows.loc[listed_twice]
        twice = twice.assign(
            _home=twice["nik"].map(home).eq(twice["kode_desa"]).fillna(False).astype(bool)
        ).sort_values(["nik", "_home", "kode_desa", "_order"], ascending=[True, False, True, True])
        first = ~twice.duplicated("nik", keep="first")
        keeper = twice.loc[first].set_index("nik")
        dup = twice.loc[~first]
        kept_desa = dup["nik"].map(keeper["kode_desa"])
        kept_file = dup["nik"].map(keeper["source_file"])
        same = dup["kode_desa"].eq(kept_desa).to_numpy()
        if same.any():
            d = dup.loc[same]
            rejected.append(
                _rejections(
                    d, MERGED_CODE, "nik", message(MERGED_CODE, berkas_lain=kept_file[same])
                )
            )
        if (~same).any():
            d = dup.loc[~same]
            rejected.append(
                _rejections(
                    d,
                    "NIK_DESA_GANDA",
                    "nik",
                    message("NIK_DESA_GANDA", desa_lain=kept_desa[~same]),
                )
            )
        # A worker sent twice for the same village is on both lists.
        merged = dup.loc[same, ["nik", "sumber"]]
        if len(merged):
            keepers = keeper.loc[keeper.index.isin(merged["nik"]), ["sumber"]].reset_index()
            at = isin_text(rows["nik"], merged["nik"])
            rows.loc[at, "sumber"] = rows.loc[at, "nik"].map(_joined(pd.concat([keepers, merged])))
        rows = rows.drop(index=dup.index)

    # 2. Carry forward the workers whose list is silent this period: a village's workers while the
    # village sends no roster, an OPD's while that OPD sends no list. Every list is checked again.
    if not program.require_fresh_rosters and len(registry.previous):
        prev = registry.previous
        held = _silent_lists(prev, received_villages, heard_lists)
        listed = isin_text(rows["nik"], held["nik"])
        if listed.any():  # still on a silent list too: the lists that named them this period and it
            also = pd.concat([held, rows.loc[listed, ["nik", "sumber"]]])
            rows.loc[listed, "sumber"] = rows.loc[listed, "nik"].map(_joined(also))
        carried = prev.loc[isin_text(prev["nik"], held["nik"]) & ~isin_text(prev["nik"], rows["nik"])].copy()  # fmt: skip
        if len(carried):
            carried["sumber"] = carried["nik"].map(_joined(held))
            carried, failed = _recheck(carried, program, period)
            rejected.append(failed)
            carried["source_file"] = CARRIED_SOURCE
            carried["source_sheet"] = ""
            carried["source_row"] = 0
            carried["carried"] = True
            carried["_order"] = np.arange(len(rows), len(rows) + len(carried))
            rows = pd.concat([rows, carried.reindex(columns=rows.columns)], ignore_index=True)
            rows["carried"] = rows["carried"].astype(bool)

    # 3. Double funding, deceased, wage employment.
    other = registry.elsewhere.drop_duplicates("nik").set_index("nik")["program"]
    in_other = isin_text(rows["nik"], other.index)
    if in_other.any():
        d = rows.loc[in_other]
        rejected.append(
            _rejections(
                d,
                "NIK_PROGRAM_LAIN",
                "nik",
                message("NIK_PROGRAM_LAIN", program_lain=d["nik"].map(other)),
            )
        )
    status = in_force(registry.status, period)
    st = _lookup(rows["nik"], status, "aktif")
    for code, value in (("PESERTA_MENINGGAL", "meninggal"), ("PINDAH_PENERIMA_UPAH", "pindah_pu")):
        hit = (st == value) & ~in_other
        if hit.any():
            rejected.append(_rejections(rows.loc[hit], code, "nik", message(code)))
    out_mask = in_other | (st == "meninggal") | (st == "pindah_pu")
    rows = rows.loc[~out_mask]

    # 4. Limits, only where the program sets them (a target is reported, never a cap): the village's
    # limit, then the program's headcount; continuing members first in line, then file order.
    rows = rows.assign(_cont=isin_text(rows["nik"], registry.previous["nik"]))
    over = np.zeros(len(rows), dtype=bool)
    limit = program.limit_per_village
    if limit and len(rows) and rows["kode_desa"].value_counts().iloc[0] > limit:
        rows = rows.sort_values(["kode_desa", "_cont", "_order"], ascending=[True, False, True])
        over = rows.groupby("kode_desa", sort=False).cumcount().to_numpy() >= limit
        if over.any():
            rejected.append(
                _rejections(
                    rows.loc[over],
                    "KUOTA_DESA_PENUH",
                    "kode_desa",
                    message("KUOTA_DESA_PENUH", kuota=str(limit)),
                )
            )
    notes: list[str] = []
    headcount = program.year_of(period).workers
    if headcount and int((~over).sum()) > headcount:
        if program.pagu_policy == "stop":
            rows = rows.assign(_over=over).sort_values(["_over", "_cont", "_order"], ascending=[True, False, True])  # fmt: skip
            over = rows["_over"].to_numpy() | (np.arange(len(rows)) >= headcount)
            beyond = rows.loc[over & ~rows["_over"].to_numpy()]
            rejected.append(
                _rejections(
                    beyond,
                    "KUOTA_PROGRAM_PENUH",
                    "nik",
                    message("KUOTA_PROGRAM_PENUH", kuota=str(headcount)),
                )
            )
            rows = rows.drop(columns="_over")
        else:
            notes.append(
                f"Peserta ditagih {int((~over).sum())} melebihi jumlah peserta program "
                f"({headcount}); pagu_policy 'warn': semuanya ditagih."
            )
    billed = rows.loc[~over].sort_values("_order")
    billed["category"] = np.where(billed["_cont"], "lanjutan", "baru")
    billed["payer_key"] = "kabupaten" if program.payer == "regency" else billed["kode_desa"]
    billed = billed.drop(columns=["_order", "_cont"]).reset_index(drop=True)

    # 5. Who ended: billed last period, not billed now.
    prev = registry.previous
    # Who they were comes along: the mutation list for BPJS names them.
    people = ["nik", "kode_desa", "nama", "tanggal_lahir", "jenis_kelamin"]
    gone = prev.loc[~isin_text(prev["nik"], billed["nik"]), people].copy()
    gone_status = pd.Series(_lookup(gone["nik"], status, ""), index=gone.index)
    rej = (
        pd.concat(rejected, ignore_index=True)
        if rejected
        else pd.DataFrame({c: pd.Series(dtype="object") for c in REJECTED_COLUMNS})
    )
    # A carried-forward worker was not received this period, so it cannot be a rejected row: one
    # that fails a rule (age, double funding, deceased, a limit) simply ends, with that rule's code.
    on_carried = (rej["source_file"] == CARRIED_SOURCE).to_numpy()
    rule = rej.loc[on_carried].drop_duplicates("nik").set_index("nik")["code"].str.lower()
    gone["reason"] = np.select(
        [gone_status.eq("meninggal"), gone_status.eq("pindah_pu")],
        ["meninggal", "pindah_pu"],
        default=_lookup(gone["nik"], rule, "tidak_di_roster"),
    )
    rej = rej.loc[~on_carried].reset_index(drop=True)
    return Reconciled(
        billed=billed, rejected=rej, ended=gone.reset_index(drop=True), notes=tuple(notes)
    )
