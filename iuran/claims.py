"""BPJS's claims list: the benefits paid to a program's workers (JKK, JKM, a child's scholarship).

What the premiums bought is what a Bupati weighs against the budget: the heirs of a worker who died
receive JKM Rp42,000,000, a worker's child a scholarship. The branch's list comes as CSV or XLSX,
either in the month's folder (`INBOX/<program>/<YYYY-MM>/klaim*.csv|xlsx`, imported when the month
runs) or through the command line (`iuran claims import <file> --program X`). Columns: `NIK`, `Jenis`
(JKK / JKM / Beasiswa; also `Jenis Klaim`, `Program`, values like `JKM (Kematian)`), `Tanggal` (the
event: death, accident; else the claim's date), `Nilai` (Rupiah as `iuran.payments.rules.parse_amounts`
reads it: `Rp42.000.000`, `42,000,000.00`), optional `Nomor Klaim`.

A bad row is refused with its reason in Indonesian (`iuran.rosters.codes`, `KLAIM_*`), the rest are
stored (`claim`, one row per claim: BPJS's number, else NIK + type + date, so importing a list twice
adds nothing). Only claims of workers the program billed count; each is kept with the village that
billed the worker. A JKM claim is BPJS's word that the worker died on that date: it is written to the
registry as the status `meninggal` with that date (`iuran.registry.record_status_list`, the same path
as the status list), so the status rule (`iuran.reconcile.in_force`) covers the month of death and
bills nobody from the next month on.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from iuran.db.models import (
    Claim,
    ClaimType,
    ContributionLine,
    Participant,
)
from iuran.db.session import session_scope
from iuran.db.upsert import insert_or_ignore
from iuran.intake.header import Columns
from iuran.intake.read import read_file, read_table, table_frame
from iuran.intake.refusal import FileRefused, Limits
from iuran.money import rupiah
from iuran.nik import mask_series, validate_niks
from iuran.payments.rules import date_problems, message, parse_amounts
from iuran.premiums import SHARE_COLUMNS, UNPLACED, no_shares, premiums_by_village, premiums_paid
from iuran.programs import Program
from iuran.registry import IS_CURRENT, in_list, read_frame, record_status_list
from iuran.rosters.codes import fill
from iuran.rosters.folder import is_claims_file
from iuran.wilayah import villages

#: The status a JKM claim writes (`iuran.bpjs_status.STATUSES`).
DECEASED = "meninggal"

_SYNONYMS = {"nik": "nik", "no ktp": "nik", "nomor induk kependudukan": "nik",
             "jenis": "jenis", "jenis klaim": "jenis", "program": "jenis", "jenis manfaat": "jenis",
             "manfaat": "jenis", "program klaim": "jenis", "jenis program": "jenis",
             "tanggal": "tanggal", "tgl": "tanggal", "tanggal kejadian": "tanggal",
             "tgl kejadian": "tanggal", "tanggal meninggal": "tanggal", "tanggal klaim": "tanggal",
             "tgl klaim": "tanggal", "tanggal kecelakaan": "tanggal",
             "nilai": "nilai", "nilai klaim": "nilai", "jumlah": "nilai", "nominal": "nilai",
             "jumlah klaim": "nilai", "jumlah dibayar": "nilai", "nilai manfaat": "nilai",
             "nomor klaim": "nomor_klaim", "no klaim": "nomor_klaim", "nomor": "nomor_klaim",
             "no": "nomor_klaim"}  # fmt: skip
COLUMNS = Columns(
    _SYNONYMS,
    ("nik", "jenis", "tanggal", "nilai"),
    {
        "nik": "NIK",
        "jenis": "Jenis",
        "tanggal": "Tanggal",
        "nilai": "Nilai",
        "nomor_klaim": "Nomor Klaim",
    },
    min_matches=3,
    nik="nik",
)
LIMITS = Limits(max_rows=50_000, max_columns=40)
LABELS = {"tanggal": "Tanggal", "nilai": "Nilai"}

VALID_COLUMNS = ["source_row", "nik", "jenis", "tanggal", "nilai", "nomor_klaim", "claim_key"]
REJECTED_COLUMNS = ["source_row", "nik", "column", "code", "message"]
#: the amount codes of `parse_amounts` -> the claims list's own wording where the payments' differs
_AMOUNT_CODES = {"JUMLAH_KOSONG": "KLAIM_NILAI_KOSONG"}


def find_claims_files(folder: Path) -> list[Path]:
    """The claims lists in a month's folder, in name order (none: an empty list)."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and is_claims_file(p.name))


def claim_types(raw: pd.Series) -> pd.Series:
    """`JKM (Kematian)`, `jaminan kematian`, `Kecelakaan Kerja`, `Beasiswa Pendidikan` -> the
    `ClaimType` value; <NA> when not recognised."""
    s = raw.astype("string").str.lower().str.replace(r"[^a-z]+", " ", regex=True).str.strip()
    out = pd.Series(pd.NA, index=raw.index, dtype="string")
    for pattern, jenis in (
        (r"\bbeasiswa\b", ClaimType.BEASISWA),
        (r"\bjkk\b|kecelakaan", ClaimType.JKK),
        (r"\bjkm\b|kematian|meninggal", ClaimType.JKM),
    ):
        found = s.str.contains(pattern, regex=True).fillna(False).astype(bool) & out.isna()
        out[found] = str(jenis)
    return out


def validate_claims(raw: pd.DataFrame, today: dt.date) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Raw rows (strings, `source_row`) -> (valid `VALID_COLUMNS`, rejected `REJECTED_COLUMNS`).

    A row is refused for its first problem: NIK, type, date, amount, then the same claim twice in
    the file (the later row). Messages carry a masked NIK, never a whole one."""
    r = raw.reindex(columns=[*COLUMNS.required, "nomor_klaim", "source_row"])
    checked = validate_niks(r["nik"])
    jenis = claim_types(r["jenis"])
    dates, date_code, date_msg = date_problems(r["tanggal"], LABELS["tanggal"], today)
    amounts, amount_code = parse_amounts(r["nilai"])
    amount_code = amount_code.replace(_AMOUNT_CODES)
    nomor = r["nomor_klaim"].astype("string").str.strip().str.upper().str[:100]
    nomor = nomor.mask(nomor == "")

    code = pd.Series(pd.NA, index=r.index, dtype="string")
    column = pd.Series(pd.NA, index=r.index, dtype="string")
    msg = pd.Series(pd.NA, index=r.index, dtype="string")
    for i in amount_code.dropna().index[::-1]:  # last to first: the earlier problems overwrite
        c = str(amount_code[i])
        code[i], column[i] = c, "nilai"
        msg[i] = fill(c) if c.startswith("KLAIM_") else message(c, nilai=r["nilai"][i])
    has_date = date_code.notna()
    code[has_date], column[has_date], msg[has_date] = date_code[has_date], "tanggal", date_msg[has_date]  # fmt: skip
    bad_jenis = jenis.isna().to_numpy()
    if bad_jenis.any():
        code[bad_jenis], column[bad_jenis] = "KLAIM_JENIS", "jenis"
        msg[bad_jenis] = fill("KLAIM_JENIS", nilai=r["jenis"].fillna("")[bad_jenis])
    bad_nik = checked["code"].notna().to_numpy()
    if bad_nik.any():
        given = r["nik"].astype("string").fillna("")[bad_nik]
        digits = given.str.replace(r"\D", "", regex=True)
        nik_codes = checked["code"][bad_nik]
        code[bad_nik], column[bad_nik] = nik_codes, "nik"
        for c in nik_codes.unique():
            at = (nik_codes == c).to_numpy()
            msg[nik_codes.index[at]] = fill(
                str(c),
                nilai=mask_series(given[at]),
                panjang=digits[at].str.len(),
                provinsi=digits[at].str[:2],
                tanggal=digits[at].str[6:12],
            )

    day = pd.Series(dates, index=r.index).astype("string")
    key = nomor.fillna(checked["nik"] + "|" + jenis + "|" + day)
    ok = code.isna()
    first_row = pd.Series(r["source_row"], index=r.index).where(ok).groupby(key).transform("min")
    twice = (ok & key.duplicated(keep="first") & key.notna()).to_numpy()
    if twice.any():
        code[twice], column[twice] = "KLAIM_GANDA_BERKAS", "nomor_klaim"
        msg[twice] = fill("KLAIM_GANDA_BERKAS", baris=first_row[twice].astype("Int64").astype("string"))  # fmt: skip
    bad = code.notna().to_numpy()
    rejected = pd.DataFrame(
        {
            "source_row": r["source_row"],
            "nik": mask_series(r["nik"]),
            "column": column,
            "code": code,
            "message": msg,
        }
    ).loc[bad]
    good = ~bad
    valid = pd.DataFrame(
        {
            "source_row": r["source_row"].astype("int64"),
            "nik": checked["nik"].astype("string"),
            "jenis": jenis,
            "tanggal": pd.Series(dates, index=r.index),
            "nilai": amounts,
            "nomor_klaim": nomor,
            "claim_key": key,
        }
    ).loc[good]
    valid["nilai"] = valid["nilai"].astype("int64")
    return valid.reset_index(drop=True), rejected.reset_index(drop=True)


def billing_villages(session: Session, program: str, niks: pd.Series) -> pd.DataFrame:
    """nik, participant_id, period, kode_desa: every current line of `program` of these NIKs."""
    conn = session.connection()
    wanted = pd.Series(niks, dtype="string").dropna().unique().tolist()
    if not wanted:
        return pd.DataFrame(columns=["nik", "participant_id", "period", "kode_desa"])
    lines = read_frame(
        conn,
        select(Participant.nik, Participant.id, ContributionLine.period, ContributionLine.kode_desa)
        .join(ContributionLine, ContributionLine.participant_id == Participant.id)
        .where(
            in_list(conn, Participant.nik, wanted), ContributionLine.program == program, IS_CURRENT
        ),
    )
    lines.columns = pd.Index(["nik", "participant_id", "period", "kode_desa"])
    return lines


def claim_villages(claims: pd.DataFrame, lines: pd.DataFrame) -> pd.DataFrame:
    """`claims` with `participant_id` and `kode_desa`: the village of the worker's last line up to
    the claim's month (his first line when the claim is dated before it); claims of a NIK without a
    line are left out (not the program's worker)."""
    if not len(claims) or not len(lines):
        return claims.assign(participant_id=pd.Series(dtype="int64"), kode_desa="").iloc[0:0]
    month = pd.to_datetime(claims["tanggal"]).dt.strftime("%Y-%m")
    joined = claims.assign(_month=month, _n=np.arange(len(claims))).merge(
        lines.astype({"nik": "string", "period": "string"}), on="nik"
    )
    joined["_after"] = joined["period"] > joined["_month"]
    # per claim: lines up to its month, latest first; else the first line after it
    joined = joined.sort_values(["_n", "_after", "period"], ascending=[True, True, False])
    up_to = joined.loc[~joined["_after"]].drop_duplicates("_n")
    after = joined.loc[joined["_after"]].sort_values(["_n", "period"]).drop_duplicates("_n")
    chosen = pd.concat([up_to, after.loc[~after["_n"].isin(up_to["_n"])]]).sort_values("_n")
    return chosen.drop(columns=["_month", "_n", "_after", "period"]).reset_index(drop=True)


@dataclass
class ClaimsImport:
    """What one claims list did: counts, refused rows (masked NIKs), deaths written to the registry."""

    file: str
    status: str  # imported | rejected (the whole file)
    rows: int = 0
    stored: int = 0
    already: int = 0
    deaths: int = 0
    message: str | None = None
    rejected: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=REJECTED_COLUMNS))

    def notes(self) -> list[str]:
        """The run's notes for this list: what was stored, then each refused row (masked NIK)."""
        if self.status == "rejected":
            return [f"{self.file}: {self.message}"]
        head = (
            f"{self.file}: {self.rows} baris klaim: {self.stored} dicatat, {self.already} sudah "
            f"tercatat, {len(self.rejected)} ditolak; {self.deaths} peserta meninggal (klaim JKM)"
        )
        return [head] + [
            f"{self.file} baris {int(r)}: {m}"
            for r, m in zip(self.rejected["source_row"], self.rejected["message"], strict=True)
        ]

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "status": self.status,
            "rows": self.rows,
            "stored": self.stored,
            "already_recorded": self.already,
            "rejected": len(self.rejected),
            "deaths": self.deaths,
            "message": self.message,
            "refused": [
                {"row": int(r), "nik": str(n), "code": str(c), "message": str(m)}
                for r, n, c, m in zip(
                    self.rejected["source_row"],
                    self.rejected["nik"],
                    self.rejected["code"],
                    self.rejected["message"],
                    strict=True,
                )
            ],
        }


def read_claims(path: Path) -> pd.DataFrame:
    """A claims list's rows under its header (strings, `source_row`). Raises FileRefused."""
    table = read_table(read_file(path, LIMITS), path.suffix.lower(), COLUMNS, LIMITS)
    return table_frame(table)


def record_claims(
    session: Session, program: str, valid: pd.DataFrame, source_file: str
) -> tuple[int, int, pd.DataFrame]:
    """Store the valid claims of the program's workers, in the caller's transaction; a JKM claim
    writes the death to the registry (status `meninggal` from its date). Returns (stored, deaths,
    the claims of NIKs the program never billed, as `valid` rows)."""
    placed = claim_villages(valid, billing_villages(session, program, valid["nik"]))
    outsiders = valid.loc[~valid["claim_key"].isin(placed["claim_key"])]
    stored = 0
    if len(placed):
        rows = [
            {
                "program": program,
                "claim_key": str(k)[:120],
                "participant_id": int(p),
                "jenis": str(j),
                "tanggal": t,
                "nilai": int(v),
                "nomor_klaim": None if pd.isna(n) else str(n),
                "kode_desa": str(d),
                "source_file": source_file[:255],
                "imported_at": dt.datetime.now(dt.UTC),
            }
            for k, p, j, t, v, n, d in zip(
                placed["claim_key"],
                placed["participant_id"],
                placed["jenis"],
                placed["tanggal"],
                placed["nilai"],
                placed["nomor_klaim"],
                placed["kode_desa"],
                strict=True,
            )
        ]
        before = session.scalar(select(func.count()).select_from(Claim).where(Claim.program == program))  # fmt: skip
        session.execute(insert_or_ignore(session, Claim.__table__, ["program", "claim_key"]), rows)
        after = session.scalar(select(func.count()).select_from(Claim).where(Claim.program == program))  # fmt: skip
        stored = int(after or 0) - int(before or 0)
    deaths = placed.loc[placed["jenis"] == ClaimType.JKM, ["nik", "tanggal"]]
    # the earliest death date of a NIK wins (`record_status_list` keeps a NIK's last row)
    deaths = deaths.sort_values("tanggal", ascending=False).assign(bpjs_status=DECEASED)
    record_status_list(
        session, deaths.assign(tanggal=pd.to_datetime(deaths["tanggal"]))[["nik", "bpjs_status", "tanggal"]]
    )  # fmt: skip
    return stored, int(deaths["nik"].nunique()), outsiders


def import_claims(
    database_url: str, path: Path, program: str, today: dt.date | None = None
) -> ClaimsImport:
    """Read, check and store one claims list for `program`, in one transaction."""
    today = today or dt.date.today()
    try:
        raw = read_claims(path)
    except FileRefused as exc:
        return ClaimsImport(path.name, "rejected", message=exc.message)
    except Exception as exc:  # a file that cannot be read is reported, never fatal to the month
        return ClaimsImport(
            path.name, "rejected", message=f"berkas tidak dapat dibaca ({type(exc).__name__})"
        )
    valid, rejected = validate_claims(raw, today)
    with session_scope(database_url) as session:
        stored, deaths, outsiders = record_claims(session, program, valid, path.name)
    if len(outsiders):
        refused = pd.DataFrame(
            {
                "source_row": outsiders["source_row"],
                "nik": mask_series(outsiders["nik"]),
                "column": "nik",
                "code": "KLAIM_BUKAN_PESERTA",
                "message": fill("KLAIM_BUKAN_PESERTA", program=program),
            }
        )
        rejected = pd.concat([rejected, refused], ignore_index=True).sort_values("source_row")
    return ClaimsImport(
        path.name,
        "imported",
        rows=len(raw),
        stored=stored,
        already=len(valid) - len(outsiders) - stored,
        deaths=deaths,
        rejected=rejected.reset_index(drop=True),
    )


def import_month_claims(database_url: str, program: str, folder: Path) -> list[ClaimsImport]:
    """Every claims list in a month's folder (`find_claims_files`), imported before the month
    decides, so a death it reports ends the worker's cover from its date in this very run."""
    return [import_claims(database_url, path, program) for path in find_claims_files(folder)]


# --- what the programs bought: counts and sums only, never a NIK or a name (premiums: iuran.premiums)

BENEFIT_LABELS = {ClaimType.JKK: "JKK", ClaimType.JKM: "JKM", ClaimType.BEASISWA: "Beasiswa"}
#: what one claim of a type is, in a sentence: `2 kematian`
BENEFIT_NOUNS = {ClaimType.JKK: "kecelakaan kerja", ClaimType.JKM: "kematian",
                 ClaimType.BEASISWA: "beasiswa"}  # fmt: skip
VILLAGE_COLUMNS = [
    "kode_desa",
    "nama_desa",
    "premi",
    *(str(t) for t in ClaimType),
    "claims",
    "nilai",
]
#: the name shown for money paid to an invoice without a line (`iuran.premiums.UNPLACED`)
UNPLACED_NAME = "(tanpa rincian desa)"


def claims_by_village(session: Session, program: str) -> pd.DataFrame:
    """kode_desa, jenis, claims, nilai (their sum), smallest, largest: the program's claims per
    village and type."""
    rows = session.execute(
        select(
            Claim.kode_desa,
            Claim.jenis,
            func.count(),
            func.coalesce(func.sum(Claim.nilai), 0),
            func.min(Claim.nilai),
            func.max(Claim.nilai),
        )
        .where(Claim.program == program)
        .group_by(Claim.kode_desa, Claim.jenis)
        .order_by(Claim.kode_desa, Claim.jenis)
    ).all()
    columns = ["kode_desa", "jenis", "claims", "nilai", "smallest", "largest"]
    out = pd.DataFrame(rows, columns=columns)
    return out.astype({c: "string" if c in ("kode_desa", "jenis") else "int64" for c in columns})


def top_villages(villages: pd.DataFrame, top: int) -> pd.DataFrame:
    """The first `top` rows of a VILLAGE_COLUMNS frame and the others summed in one row (`…`,
    `N desa lainnya`), so that every column still adds up to the program's total."""
    if len(villages) <= top:
        return villages
    rest = villages.iloc[top:]
    summed = {"kode_desa": "…", "nama_desa": f"{len(rest)} desa lainnya",
              **{c: int(rest[c].sum()) for c in VILLAGE_COLUMNS[2:]}}  # fmt: skip
    return pd.concat([villages.iloc[:top], pd.DataFrame([summed])], ignore_index=True).astype(
        villages.dtypes.to_dict()
    )


@dataclass(frozen=True, eq=False)
class Benefits:
    """What a program's premiums bought: premiums paid to date beside the claims BPJS paid to its
    workers, per type and per village. Counts and sums only, never a NIK or a name."""

    premiums_paid: int
    #: kode_desa, jenis, claims, nilai, smallest, largest (`claims_by_village`)
    claims: pd.DataFrame = field(repr=False)
    #: kode_desa -> nama_desa of the program's regency
    village_names: pd.Series = field(repr=False)
    #: kode_desa, premi: the premiums paid per village, summing to `premiums_paid`
    #: (`iuran.premiums.premiums_by_village`)
    premiums: pd.DataFrame = field(repr=False, default_factory=no_shares)

    @property
    def total(self) -> int:
        return int(self.claims["nilai"].sum())

    @property
    def count(self) -> int:
        return int(self.claims["claims"].sum())

    def by_type(self) -> list[dict[str, Any]]:
        """Every type in `ClaimType` order (0 when none): jenis, label, noun, claims, nilai, and
        `each` when every claim of the type paid the same amount (`JKM 2 × Rp42.000.000`)."""
        out = []
        for jenis in ClaimType:
            rows = self.claims.loc[self.claims["jenis"] == str(jenis)]
            n, total = int(rows["claims"].sum()), int(rows["nilai"].sum())
            same = n and int(rows["smallest"].min()) == int(rows["largest"].max())
            each = int(rows["smallest"].min()) if same else None
            out.append({"jenis": str(jenis), "label": BENEFIT_LABELS[jenis],
                        "noun": BENEFIT_NOUNS[jenis], "claims": n, "nilai": total,
                        "each": each})  # fmt: skip
        return out

    def villages(self, top: int | None = None) -> pd.DataFrame:
        """VILLAGE_COLUMNS: per village with a premium paid or a claim, the premiums paid, the
        claims of each type, their count and sum; highest benefits first, then highest premium
        (ties by code). With `top`, the first `top` villages and the others summed in one row
        (`…`, `N desa lainnya`), so the columns still add up to the program's totals."""
        types = [str(t) for t in ClaimType]
        counts = self.claims.pivot_table(
            index="kode_desa", columns="jenis", values="claims", aggfunc="sum", fill_value=0
        ).reindex(columns=types, fill_value=0)
        sums = self.claims.groupby("kode_desa")[["claims", "nilai"]].sum()
        premi = self.premiums[SHARE_COLUMNS].groupby("kode_desa")["premi"].sum()
        index = pd.Index(premi.index.astype("string")).union(pd.Index(sums.index.astype("string")))
        out = pd.concat([premi.reindex(index), counts.reindex(index), sums.reindex(index)], axis=1)
        out = out.fillna(0).astype("int64").rename_axis("kode_desa").reset_index()
        out["kode_desa"] = out["kode_desa"].astype("string")
        names = out["kode_desa"].map(self.village_names).astype("string")
        out["nama_desa"] = names.mask(out["kode_desa"] == UNPLACED, UNPLACED_NAME).fillna("")
        out = (
            out[VILLAGE_COLUMNS]
            .sort_values(["nilai", "premi", "kode_desa"], ascending=[False, False, True])
            .reset_index(drop=True)
        )
        return out if top is None else top_villages(out, top)

    def sentence(self) -> str:
        """`Premi dibayar Rp… · Manfaat diterima Rp… (JKM 2 × Rp42.000.000)`."""
        parts = [
            f"{t['label']} {t['claims']} × {rupiah(t['each'])}"
            if t["each"] is not None
            else f"{t['label']} {t['claims']} klaim {rupiah(t['nilai'])}"
            for t in self.by_type()
            if t["claims"]
        ]
        detail = f" ({', '.join(parts)})" if parts else " (belum ada klaim)"
        return f"Premi dibayar {rupiah(self.premiums_paid)} · Manfaat diterima {rupiah(self.total)}{detail}"

    def as_dict(self) -> dict[str, Any]:
        v = self.villages()
        return {
            "premiums_paid": self.premiums_paid,
            "benefits_paid": self.total,
            "claims": self.count,
            "by_type": self.by_type(),
            "villages": [
                {
                    "kode_desa": str(r["kode_desa"]),
                    "nama_desa": str(r["nama_desa"]),
                    "premi": int(r["premi"]),
                    **{str(t): int(r[str(t)]) for t in ClaimType},
                    "claims": int(r["claims"]),
                    "nilai": int(r["nilai"]),
                }
                for _, r in v.iterrows()
            ],
            "sentence": self.sentence(),
        }


def program_benefits(session: Session, program: Program) -> Benefits:
    """`Benefits` of a program as the registry holds them now."""
    v = villages(program.regency, desa_only=program.desa_only)
    return Benefits(
        premiums_paid=premiums_paid(session, program.code),
        claims=claims_by_village(session, program.code),
        village_names=pd.Series(v["nama_desa"].to_numpy(), index=v["kode_desa"]),
        premiums=premiums_by_village(session, program.code),
    )
