"""Program files (`deployments/programs/*.yaml`): who pays, for whom, at which rates, from which budget.

A program file is validated on load; an error names the file and the field so the admin who edited it
can fix it. Rates are effective-dated configuration, never constants in code. A program goes on
from one budget year to the next (`years:`): each year has its months, its pagu and its funding
source, and the same program code bills across the boundary, so a worker billed in December and
January is continuing.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from iuran import wilayah
from iuran.config import PROGRAMS_DIR
from iuran.occupations import CATEGORIES
from iuran.periods import Period

log = logging.getLogger("iuran.programs")

Payer = Literal["regency", "village"]

#: The budget a premium is paid (spent) through. PP 50/2025's discount excludes premiums paid from
#: APBN/APBD; what counts is the budget the money is spent through, not where it first came from.
FundingBasis = Literal["APBN", "APBD", "APBDes", "non-pemerintah"]

#: Every funding source a program file may name → its basis, with the reason. The ONE place that
#: decides; `Discount.excluded_funding` compares this basis, never the source's spelling.
FUNDING_BASIS: dict[str, tuple[FundingBasis, str]] = {
    "APBN": ("APBN", "anggaran pendapatan dan belanja negara"),
    "APBD": ("APBD", "anggaran pendapatan dan belanja daerah kabupaten/kota"),
    # DBH (Dana Bagi Hasil, incl. DBH Sawit) is a transfer from the centre to the regency, received
    # as regional revenue and spent through the regency's APBD (DOMAIN.md; UU 1/2022 HKPD). So a
    # DBH Sawit program (Lamandau) gets NO PP 50/2025 discount.
    "DBH": ("APBD", "DBH adalah transfer ke daerah yang dibelanjakan melalui APBD kabupaten"),
    "DBH Sawit": (
        "APBD",
        "DBH Sawit adalah transfer ke daerah yang dibelanjakan melalui APBD kabupaten",
    ),
    "DAU": ("APBD", "DAU adalah transfer ke daerah yang dibelanjakan melalui APBD kabupaten"),
    # ADD: OPEN QUESTION (DOMAIN.md: whether ADD-funded rosters count as APBD is unclear). Decision:
    # ADD is transferred from the regency's APBD to the village and the premium is paid by the village
    # from its own budget, the APBDes (UU 6/2014 Desa: the village is the payer, its budget is not the
    # APBD), so it is NOT APBN/APBD and the discount applies. If the ministry or BPJS rules otherwise,
    # change this one line (to "APBD") and every ADD program is re-priced the same way.
    "ADD": (
        "APBDes",
        "ADD dibayarkan desa dari APBDes, bukan dari APBN/APBD (keputusan sementara)",
    ),
    # Dana Desa comes from the APBN but, like ADD, is spent by the village through its APBDes.
    "DD": (
        "APBDes",
        "Dana Desa dibayarkan desa dari APBDes, bukan dari APBN/APBD (keputusan sementara)",
    ),
    "APBDes": ("APBDes", "anggaran pendapatan dan belanja desa"),
    # CSR: a company's own money, outside any government budget.
    "CSR": ("non-pemerintah", "dana CSR perusahaan, bukan anggaran pemerintah"),
}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _period(value: object) -> object:
    return Period.parse(value) if isinstance(value, str) else value


class PremiumRule(_Model):
    """One rate in force from `berlaku_mulai` (inclusive) to `berlaku_sampai` (inclusive, open if absent).

    kind `bpu`: JKK = jkk_bp/10000 of declared income (at least `min_income`), JKM flat, JHT optional.
    kind `flat`: one unit premium per worker (`flat`), split into JKK/JKM by `jkm` for reporting.
    """

    id: str
    berlaku_mulai: Period
    berlaku_sampai: Period | None = None
    kind: Literal["bpu", "flat"] = "bpu"
    jkk_bp: int = Field(100, ge=0, le=10000, description="JKK in basis points of income (100 = 1%)")
    jkm: int = Field(6800, ge=0)
    jht_bp: int = Field(0, ge=0, le=10000)
    min_income: int = Field(1_000_000, ge=0)
    max_income: int | None = Field(None, ge=0)
    flat: int | None = Field(None, ge=0)

    _parse = field_validator("berlaku_mulai", "berlaku_sampai", mode="before")(_period)

    @model_validator(mode="after")
    def _check(self) -> PremiumRule:
        if self.kind == "flat" and self.flat is None:
            raise ValueError("kind 'flat' needs 'flat' (the unit premium in Rupiah)")
        if self.berlaku_sampai is not None and self.berlaku_sampai < self.berlaku_mulai:
            raise ValueError("berlaku_sampai is before berlaku_mulai")
        return self

    def in_force(self, period: Period) -> bool:
        return self.berlaku_mulai <= period and (
            self.berlaku_sampai is None or period <= self.berlaku_sampai
        )


class Discount(_Model):
    """A regulation's discount, e.g. PP 50/2025: `percent` off the listed components."""

    id: str
    description: str = ""
    percent: int = Field(ge=0, le=100)
    components: tuple[Literal["jkk", "jkm", "jht"], ...] = ("jkk", "jkm")
    berlaku_mulai: Period
    berlaku_sampai: Period | None = None
    #: only for workers of these occupation categories (`iuran.occupations.CATEGORIES`, matched on the
    #: normalised occupation, never its spelling: "ojek online" and "sopir angkot" are transport too);
    #: empty: every worker
    sectors: tuple[str, ...] = ()
    #: funding bases (`FUNDING_BASIS` values, never a source's spelling) the discount does not cover
    excluded_funding: tuple[FundingBasis, ...] = ("APBN", "APBD")

    _parse = field_validator("berlaku_mulai", "berlaku_sampai", mode="before")(_period)

    @field_validator("sectors")
    @classmethod
    def _categories(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [v for v in value if v not in CATEGORIES]
        if unknown:
            raise ValueError(
                f"unknown occupation categories {unknown}: use {', '.join(CATEGORIES)}"
            )
        return value

    def in_force(self, period: Period) -> bool:
        return self.berlaku_mulai <= period and (
            self.berlaku_sampai is None or period <= self.berlaku_sampai
        )


class Recipients(_Model):
    bkad: tuple[str, ...] = Field(min_length=1)
    bpjs: tuple[str, ...] = Field(min_length=1)
    disnaker: tuple[str, ...] = Field(min_length=1)


class Payee(_Model):
    name: str
    bank: str
    account_name: str
    account_number: str


class Signatory(_Model):
    name: str
    title: str
    nip: str = ""


class Schedule(_Model):
    cron: str = "0 7 1 * *"
    timezone: str = "Asia/Jakarta"


class ProgramYear(_Model):
    """One budget year (tahun anggaran) of a program: APBD, DBH and ADD are annual, so each year
    has its own pagu, its own headcount plan and its own source of money, and bills its own months."""

    tahun: int = Field(ge=2000, le=2100, description="the budget year (tahun anggaran)")
    months: tuple[Period, Period] | None = Field(
        None, description="first and last period this year pays for (default: January–December)"
    )
    funding_source: str = Field(description="a key of FUNDING_BASIS, e.g. APBD, DBH Sawit, ADD")
    funding_basis: FundingBasis | None = Field(
        None, description="the basis FUNDING_BASIS gives the source, stated in the file for readers"
    )
    workers: int | None = Field(
        None,
        ge=1,
        description="the year's headcount limit, only where its source gives one: more workers "
        "billed is a note under pagu_policy warn; under stop the newest beyond it are refused",
    )
    pagu: int = Field(ge=0)

    @field_validator("months", mode="before")
    @classmethod
    def _months(cls, value: object) -> object:
        if isinstance(value, list | tuple):
            return tuple(_period(v) for v in value)
        return value

    @model_validator(mode="after")
    def _check(self) -> ProgramYear:
        if self.last < self.first:
            raise ValueError(f"months: {self.last} is before {self.first}")
        if self.funding_source not in FUNDING_BASIS:
            known = ", ".join(FUNDING_BASIS)
            raise ValueError(f"funding_source {self.funding_source!r} is not one of: {known}")
        if self.funding_basis is not None and self.funding_basis != self.basis:
            raise ValueError(
                f"funding_basis {self.funding_basis!r} disagrees with {self.funding_source!r}, "
                f"which is spent through {self.basis} (iuran.programs.FUNDING_BASIS)"
            )
        return self

    @property
    def basis(self) -> FundingBasis:
        """The budget this year's premiums are paid through (`FUNDING_BASIS`)."""
        return FUNDING_BASIS[self.funding_source][0]

    @property
    def first(self) -> Period:
        return self.months[0] if self.months else Period(self.tahun, 1)

    @property
    def last(self) -> Period:
        return self.months[1] if self.months else Period(self.tahun, 12)

    @property
    def month_count(self) -> int:
        return self.last.index - self.first.index + 1

    def covers(self, period: Period) -> bool:
        return self.first <= period <= self.last


class Program(_Model):
    code: str = Field(pattern=r"^[a-z][a-z0-9-]*$")
    name: str
    short: str = Field(pattern=r"^[A-Z]{2,6}$", description="invoice-number code, e.g. LBK")
    regency: str = Field(pattern=r"^\d{2}\.\d{2}$")
    regency_name: str
    years: tuple[ProgramYear, ...] = Field(
        min_length=1, description="the budget years in order, each with its months and pagu"
    )
    payer: Payer = "regency"
    payer_name: str
    desa_only: bool = False
    pagu_policy: Literal["warn", "stop"] = "warn"
    target_per_village: int | None = Field(
        None, ge=1, description="workers each village should reach: reported, never a cap"
    )
    limit_per_village: int | None = Field(
        None,
        ge=1,
        description="a cap on workers billed per village, only where the program sets one",
    )
    age_min: int = Field(15, ge=0)
    age_max: int = Field(65, ge=0)
    non_workers: Literal["refuse", "accept"] = Field(
        "refuse",
        description=(
            "rows whose occupation says they do not work (belum/tidak bekerja, pelajar/mahasiswa, "
            "mengurus rumah tangga, pensiunan): refused as PEKERJAAN_BUKAN_PEKERJA, or accepted"
        ),
    )
    default_income: int = Field(1_000_000, ge=0)
    require_fresh_rosters: bool = False
    approval_required: bool = False
    rules: tuple[PremiumRule, ...] = Field(min_length=1)
    discounts: tuple[Discount, ...] = ()
    recipients: Recipients
    payee: Payee
    signatory: Signatory
    contacts: str | None = Field(
        None,
        description="the village contacts file (CSV/XLSX; relative to deployments/, e.g. "
        "contacts/lahat.csv): where villages pay, each receives its own invoice mail and its "
        "invoice is signed by name (iuran.contacts)",
    )
    signed_by: Literal["kepala_desa", "bendahara"] = Field(
        "kepala_desa",
        description="whose name from the contacts file signs a village's invoice",
    )
    schedule: Schedule = Schedule()

    @model_validator(mode="after")
    def _check(self) -> Program:
        if self.age_max < self.age_min:
            raise ValueError("age_max is below age_min")
        for before, after in zip(self.years, self.years[1:], strict=False):
            if after.tahun <= before.tahun or after.first <= before.last:
                raise ValueError(
                    f"years: {after.tahun} ({after.first} to {after.last}) must come after "
                    f"{before.tahun} ({before.first} to {before.last}), in order and not overlapping"
                )
        for year in self.years:  # every month the program bills can be priced, by exactly one rule
            for k in range(year.month_count):
                period = year.first.shift(k)
                n = sum(r.in_force(period) for r in self.rules)
                if n != 1:
                    raise ValueError(
                        f"rules: {n} premium rules in force for {period} (year {year.tahun}), need 1"
                    )
        return self

    @property
    def first_period(self) -> Period:
        return self.years[0].first

    @property
    def last_period(self) -> Period:
        return self.years[-1].last

    def spans(self) -> list[tuple[Period, Period]]:
        """The program's months as unbroken runs (first, last): one run when each year starts the
        month after the one before ends, more when a budget year started late."""
        runs: list[tuple[Period, Period]] = []
        for y in self.years:
            if runs and runs[-1][1].shift(1) == y.first:
                runs[-1] = (runs[-1][0], y.last)
            else:
                runs.append((y.first, y.last))
        return runs

    def months_text(self) -> str:
        """`2024-01 to 2025-12`: the months the program bills, as messages and listings write them."""
        return ", ".join(f"{first} to {last}" for first, last in self.spans())

    def year_for(self, period: Period) -> ProgramYear | None:
        """The budget year that pays for `period`, None outside the program's months."""
        return next((y for y in self.years if y.covers(period)), None)

    def year_of(self, period: Period) -> ProgramYear:
        """`year_for`, for callers that only run inside the program's months (the month refuses
        the rest first, `iuran.month.refuse_outside`)."""
        found = self.year_for(period)
        if found is None:
            raise ProgramError(f"program {self.code}: {period} is in none of its years")
        return found

    @property
    def per_village(self) -> int:
        """Workers one village is expected to list: its limit, else its target, else the headcount
        limit spread over the program's villages, else 100 (the "1 desa 100" programs' scale). Sizes
        generated rosters and the whole-population guard (`iuran.rosters.read`); never a cap."""
        if self.limit_per_village or self.target_per_village:
            return int(self.limit_per_village or self.target_per_village or 0)
        # the largest headcount a year's source gives (a year without one is no reason to shrink)
        workers = max((y.workers for y in self.years if y.workers), default=None)
        if workers:
            n = len(wilayah.villages(self.regency, desa_only=self.desa_only))
            return max(1, -(-workers // max(n, 1)))
        return 100

    def covers(self, period: Period) -> bool:
        return self.year_for(period) is not None

    def rule_for(self, period: Period) -> PremiumRule:
        found = [r for r in self.rules if r.in_force(period)]
        if len(found) != 1:
            raise ProgramError(
                f"program {self.code}: {len(found)} premium rules in force for {period}, need exactly 1"
            )
        return found[0]

    def basis(self, period: Period) -> FundingBasis:
        """The budget `period`'s premiums are paid through (its year's source, `FUNDING_BASIS`)."""
        return self.year_of(period).basis

    def discounts_for(self, period: Period) -> tuple[Discount, ...]:
        return tuple(
            d
            for d in self.discounts
            if d.in_force(period) and self.basis(period) not in d.excluded_funding
        )

    def discount_note(self, period: Period) -> str:
        """Why the invoice has (or has not) a discount, in words a finance office files:
        the discount's name and the funding basis that allows or excludes it."""
        source = self.year_of(period).funding_source
        basis, reason = FUNDING_BASIS[source]
        in_force = [d for d in self.discounts if d.in_force(period)]
        if not in_force:
            return f"Tanpa diskon: tidak ada diskon iuran yang berlaku untuk {period.label}."
        notes = []
        for d in in_force:
            name = d.description or d.id
            if basis in d.excluded_funding:
                excluded = "/".join(d.excluded_funding)
                notes.append(
                    f"{name} tidak berlaku: sumber dana {source} termasuk {excluded} ({reason})."
                )
            else:
                excluded = "/".join(d.excluded_funding) or "-"
                notes.append(f"{name}: sumber dana {source} bukan {excluded} ({reason}).")
        return " ".join(notes)


class ProgramError(ValueError):
    """A program file is missing or wrong; the message names the file and the field."""


def load_program_file(path: Path) -> Program:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ProgramError(f"{path}: cannot read: {exc}") from exc
    if not isinstance(data, dict):
        raise ProgramError(f"{path}: expected a mapping at the top level")
    try:
        program = Program.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(top)'}: {e['msg']}" for e in exc.errors()
        )
        raise ProgramError(f"{path}: {problems}") from exc
    if program.code != path.stem:
        raise ProgramError(f"{path}: code: {program.code!r} must match the file name {path.stem!r}")
    return program


def load_program(code: str, directory: Path = PROGRAMS_DIR) -> Program:
    path = directory / f"{code}.yaml"
    if not path.exists():
        known = ", ".join(sorted(p.stem for p in directory.glob("*.yaml")))
        raise ProgramError(f"no program {code!r} in {directory} (known: {known})")
    return load_program_file(path)


def load_programs(directory: Path = PROGRAMS_DIR) -> dict[str, Program]:
    return {p.stem: load_program_file(p) for p in sorted(directory.glob("*.yaml"))}


def known_programs(codes: Iterable[str | None]) -> dict[str, Program]:
    """The programs of these codes that have a file; an unknown code is logged and left out (a
    payment row naming it is then not matched by payer, and says so)."""
    found: dict[str, Program] = {}
    for code in {c for c in codes if c}:
        try:
            found[code] = load_program(code)
        except ProgramError:
            log.warning("program %s not found: payments for it are not matched by payer", code)
    return found


def today() -> dt.date:
    return dt.date.today()
