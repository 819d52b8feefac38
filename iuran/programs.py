"""Program files (`deployments/programs/*.yaml`): who pays, for whom, at which rates, from which budget.

A program file is validated on load; an error names the file and the field so the admin who edited it
can fix it. Rates are effective-dated configuration, never constants in code.
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
from iuran.periods import Period

log = logging.getLogger("iuran.programs")

Payer = Literal["regency", "village"]


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
    sectors: tuple[str, ...] = Field((), description="only for these occupations (empty: all)")
    excluded_funding: tuple[str, ...] = ("APBN", "APBD")

    _parse = field_validator("berlaku_mulai", "berlaku_sampai", mode="before")(_period)

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


class Program(_Model):
    code: str = Field(pattern=r"^[a-z][a-z0-9-]*$")
    name: str
    short: str = Field(pattern=r"^[A-Z]{2,6}$", description="invoice-number code, e.g. LBK")
    regency: str = Field(pattern=r"^\d{2}\.\d{2}$")
    regency_name: str
    year: int = Field(ge=2000, le=2100)
    months: tuple[Period, Period] | None = Field(
        None, description="first and last period of the program year (default: January–December)"
    )
    funding_source: str
    payer: Payer = "regency"
    payer_name: str
    desa_only: bool = False
    workers: int | None = Field(
        None,
        ge=1,
        description="the program's headcount limit, only where its source gives one: more workers "
        "billed is a note under pagu_policy warn; under stop the newest beyond it are refused",
    )
    pagu: int = Field(ge=0)
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
    default_income: int = Field(1_000_000, ge=0)
    require_fresh_rosters: bool = False
    approval_required: bool = False
    rules: tuple[PremiumRule, ...] = Field(min_length=1)
    discounts: tuple[Discount, ...] = ()
    recipients: Recipients
    payee: Payee
    signatory: Signatory
    schedule: Schedule = Schedule()

    @field_validator("months", mode="before")
    @classmethod
    def _months(cls, value: object) -> object:
        if isinstance(value, list | tuple):
            return tuple(_period(v) for v in value)
        return value

    @model_validator(mode="after")
    def _check(self) -> Program:
        if self.age_max < self.age_min:
            raise ValueError("age_max is below age_min")
        return self

    @property
    def first_period(self) -> Period:
        return self.months[0] if self.months else Period(self.year, 1)

    @property
    def last_period(self) -> Period:
        return self.months[1] if self.months else Period(self.year, 12)

    @property
    def per_village(self) -> int:
        """Workers one village is expected to list: its limit, else its target, else the headcount
        limit spread over the program's villages, else 100 (the "1 desa 100" programs' scale). Sizes
        generated rosters and the whole-population guard (`iuran.rosters.read`); never a cap."""
        if self.limit_per_village or self.target_per_village:
            return int(self.limit_per_village or self.target_per_village or 0)
        if self.workers:
            n = len(wilayah.villages(self.regency, desa_only=self.desa_only))
            return max(1, -(-self.workers // max(n, 1)))
        return 100

    def covers(self, period: Period) -> bool:
        return self.first_period <= period <= self.last_period

    def months_after(self, period: Period) -> int:
        """Program-year months still to come after `period` (for the budget projection)."""
        return max(0, self.last_period.index - period.index)

    def rule_for(self, period: Period) -> PremiumRule:
        found = [r for r in self.rules if r.in_force(period)]
        if len(found) != 1:
            raise ProgramError(
                f"program {self.code}: {len(found)} premium rules in force for {period}, need exactly 1"
            )
        return found[0]

    def discounts_for(self, period: Period) -> tuple[Discount, ...]:
        return tuple(
            d
            for d in self.discounts
            if d.in_force(period) and self.funding_source not in d.excluded_funding
        )


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
