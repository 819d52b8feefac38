"""A program file's last budget year repeated into a later year, for tests that price a month the
shipped files do not bill (Lamandau's DBH Sawit extended into 2026, inside PP 50/2025's window)."""

from __future__ import annotations

from iuran.programs import Program


def extended_to(program: Program, tahun: int) -> Program:
    last = program.years[-1]
    year = last.model_copy(update={"tahun": tahun, "months": None})
    return Program.model_validate(program.model_dump() | {"years": (*program.years, year)})
