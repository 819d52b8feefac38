"""Matching payments to invoices: a pure function over frames, nothing read or written here.

By invoice number when the row names one: the live revision of that number is paid (a superseded
revision's number pays its live revision); a number that is unknown, cancelled, of another program or
of another payer leaves the whole payment unmatched. Without a number, by payer (program + payer; the
regency when the program's payer is the regency) and *exact* amount: the oldest unpaid invoices whose
outstanding amounts add up to the amount, else the one unpaid invoice with exactly that amount; two
candidates, or none, leave it unmatched. Nothing is ever guessed. Allocation is oldest due first;
what is left after every named invoice is paid is credit of the payer.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from iuran.db.models import LIVE
from iuran.money import rupiah
from iuran.payments.rules import REGENCY_PAYER, message, tanggal

INVOICE_COLUMNS = ["id", "number", "revision", "program", "period", "payer_key", "payer_name",
                   "kind", "due_date", "total", "paid", "document_state"]  # fmt: skip


EXISTING_COLUMNS = ["id", "nomor_sp2d", "tanggal", "jumlah", "status"]


@dataclass
class Matched:
    """`rows`: the valid rows in processing order plus `action` (record | rematch | duplicate |
    conflict), `status` (matched | partial | credit | unmatched), `matched_by`, `program`, `payer`,
    `unallocated`, `code`, `message`, `payment_id` (the existing payment of a rematch/duplicate).
    `allocations`: `nomor_sp2d`, `invoice_id`, `amount`, `remaining` (invoice outstanding after it)."""

    rows: pd.DataFrame
    allocations: pd.DataFrame


def oldest_first(invoices: pd.DataFrame) -> pd.DataFrame:
    order = invoices.assign(_k=(invoices["kind"] != "regular").astype(int))
    return order.sort_values(["due_date", "period", "_k", "number", "revision", "id"]).drop(
        columns="_k"
    )


@dataclass
class Ledger:
    """Outstanding amounts while a file is matched: payments earlier in the file count."""

    invoices: pd.DataFrame  # live invoices, oldest first, indexed by id
    outstanding: dict[int, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.outstanding = {
            int(i): int(t) - int(p)
            for i, t, p in zip(
                self.invoices.index, self.invoices["total"], self.invoices["paid"], strict=True
            )
        }

    def open_for(self, program: str, payer: str) -> list[int]:
        inv = self.invoices
        ids = inv.index[(inv["program"] == program) & (inv["payer_key"] == payer)]
        return [int(i) for i in ids if self.outstanding[int(i)] > 0]

    def allocate(self, ids: Iterable[int], amount: int) -> tuple[list[tuple[int, int, int]], int]:
        """Pay `ids` oldest first; returns [(invoice_id, amount, remaining)] and what is left."""
        rank = {int(i): n for n, i in enumerate(self.invoices.index)}
        out = []
        for i in sorted(ids, key=rank.__getitem__):
            pay = min(amount, self.outstanding[i])
            if pay > 0:
                self.outstanding[i] -= pay
                amount -= pay
                out.append((i, pay, self.outstanding[i]))
        return out, amount


def _payer_label(payer: str, names: Mapping[str, str]) -> str:
    return names.get(payer) or ("Pemerintah Kabupaten" if payer == REGENCY_PAYER else payer)


def match_payments(
    rows: pd.DataFrame,
    invoices: pd.DataFrame,
    existing: pd.DataFrame,
    payer_kinds: Mapping[str, str],
) -> Matched:
    """Decide every valid row (see the module docstring): pure, no database.

    `invoices`: `INVOICE_COLUMNS` for the live invoices of the programs concerned and for every
    invoice (any state) whose number a row names; `paid` is what is already allocated.
    `existing`: `EXISTING_COLUMNS`, payments already recorded with the rows' SP2D numbers.
    `payer_kinds`: program code -> "regency" | "village" for the known programs.
    """
    inv = invoices.copy()
    live = oldest_first(inv.loc[inv["document_state"].isin(LIVE)]).set_index("id", drop=False)
    ledger = Ledger(live)
    live_by_number = {str(n): int(i) for n, i in zip(live["number"], live["id"], strict=True)}
    known_numbers = set(inv["number"].astype(str))
    payer_names = dict(zip(inv["payer_key"], inv["payer_name"], strict=False))
    before = {str(e.nomor_sp2d): e for e in existing.itertuples(index=False)}

    # Processing order: oldest SP2D first, then file order; the first of two rows with one SP2D
    # number (in file order) is the one recorded.
    order = rows.sort_values(["source_row"]).reset_index(drop=True)
    first_row: dict[str, Any] = {}
    dup_code: dict[int, tuple[str, str]] = {}
    for r in order.itertuples(index=False):
        key = str(r.nomor_sp2d)
        if key in first_row:
            f = first_row[key]
            same = (f.tanggal, f.jumlah, f.tagihan) == (r.tanggal, r.jumlah, r.tagihan)
            code = "SP2D_DUPLIKAT_BERKAS" if same else "SP2D_GANDA_BERKAS"
            dup_code[int(r.source_row)] = (
                code,
                message(code, sp2d=key, baris=int(f.source_row)),
            )
        else:
            first_row[key] = r
    order = order.assign(_t=order["tanggal"]).sort_values(["_t", "source_row"], kind="stable")
    order = order.drop(columns="_t").reset_index(drop=True)

    out: list[dict[str, Any]] = []
    allocations: list[dict[str, Any]] = []
    for r in order.itertuples(index=False):
        sp2d = str(r.nomor_sp2d)
        program = None if pd.isna(r.program) else str(r.program)
        payer = None if pd.isna(r.payer) else str(r.payer)
        row: dict[str, Any] = {
            **r._asdict(),
            "action": "record",
            "status": "unmatched",
            "matched_by": None,
            "program": program,
            "payer": payer,
            "unallocated": int(r.jumlah),
            "code": None,
            "message": None,
            "payment_id": None,
        }
        out.append(row)
        if int(r.source_row) in dup_code:
            code, text_ = dup_code[int(r.source_row)]
            row.update(action="duplicate" if code == "SP2D_DUPLIKAT_BERKAS" else "conflict")
            row.update(code=code, message=text_, unallocated=0)
            continue
        old = before.get(sp2d)
        if old is not None:
            row["payment_id"] = int(old.id)
            if (old.tanggal, int(old.jumlah)) != (r.tanggal, int(r.jumlah)):
                row.update(
                    action="conflict",
                    code="SP2D_KONFLIK",
                    unallocated=0,
                    message=message(
                        "SP2D_KONFLIK",
                        sp2d=sp2d,
                        jumlah_lama=rupiah(int(old.jumlah)),
                        tanggal_lama=tanggal(old.tanggal),
                        jumlah=rupiah(int(r.jumlah)),
                        tanggal=tanggal(r.tanggal),
                    ),
                )
                continue
            if old.status != "unmatched":
                row.update(
                    action="duplicate",
                    status=str(old.status),
                    unallocated=0,
                    code="SP2D_SUDAH_DICATAT",
                    message=message("SP2D_SUDAH_DICATAT", sp2d=sp2d),
                )
                continue
            row["action"] = "rematch"  # recorded as unmatched before: try again

        numbers: tuple[str, ...] = tuple(r.tagihan or ())
        targets: list[int] = []
        problem: tuple[str, dict[str, object]] | None = None
        if numbers:
            for n in numbers:
                if n in live_by_number:
                    targets.append(live_by_number[n])
                elif n in known_numbers:
                    problem = ("TAGIHAN_BATAL", {"nomor": n})
                    break
                else:
                    problem = ("TAGIHAN_TIDAK_ADA", {"nomor": n})
                    break
            if problem is None:
                progs = sorted({str(live.at[i, "program"]) for i in targets})
                if len(progs) > 1:
                    problem = ("TAGIHAN_CAMPUR_PROGRAM", {"program": ", ".join(progs)})
                elif program is not None and progs[0] != program:
                    n = str(live.at[targets[0], "number"])
                    problem = (
                        "TAGIHAN_PROGRAM_LAIN",
                        {"nomor": n, "program_tagihan": progs[0], "program": program},
                    )
                else:
                    program = progs[0]
            if problem is None and payer is not None:
                for i in targets:
                    if str(live.at[i, "payer_key"]) != payer:
                        problem = (
                            "TAGIHAN_PEMBAYAR_LAIN",
                            {
                                "nomor": str(live.at[i, "number"]),
                                "pembayar_tagihan": str(live.at[i, "payer_name"]),
                                "pembayar": _payer_label(payer, payer_names),
                            },
                        )
                        break
            if problem is None:
                payers = {str(live.at[i, "payer_key"]) for i in targets}
                payer = payers.pop() if len(payers) == 1 else None
                row["matched_by"] = "nomor"
        elif program is None:
            problem = ("PROGRAM_TIDAK_DIKETAHUI", {})
        elif program not in payer_kinds:
            problem = ("PROGRAM_TIDAK_ADA", {"program": program})
        else:
            if payer is None:
                if payer_kinds[program] == "regency":
                    payer = REGENCY_PAYER
                else:
                    problem = ("PEMBAYAR_KOSONG", {"program": program})
            if problem is None and payer is not None:
                label = _payer_label(payer, payer_names)
                candidates = ledger.open_for(program, payer)
                amount = int(r.jumlah)
                running, prefix = 0, None
                for k, i in enumerate(candidates):
                    running += ledger.outstanding[i]
                    if running == amount:
                        prefix = candidates[: k + 1]
                        break
                    if running > amount:
                        break
                singles = [i for i in candidates if ledger.outstanding[i] == amount]
                if not candidates:
                    problem = ("TIDAK_ADA_TAGIHAN", {"pembayar": label})
                elif prefix is not None:
                    targets = prefix
                elif len(singles) == 1:
                    targets = singles
                elif singles:
                    problem = (
                        "JUMLAH_GANDA",
                        {
                            "jumlah": rupiah(amount),
                            "pembayar": label,
                            "nomor": ", ".join(str(live.at[i, "number"]) for i in singles),
                        },
                    )
                else:
                    problem = ("JUMLAH_TIDAK_COCOK", {"pembayar": label, "jumlah": rupiah(amount)})
                row["matched_by"] = "pembayar" if problem is None else None

        row["program"], row["payer"] = program, payer
        if problem is not None:
            code, values = problem
            row.update(status="unmatched", code=code, message=message(code, **values))
            row["matched_by"] = None
            continue
        paid, left = ledger.allocate(targets, int(r.jumlah))
        for invoice_id, amount, remaining in paid:
            allocations.append(
                {
                    "nomor_sp2d": sp2d,
                    "invoice_id": invoice_id,
                    "amount": amount,
                    "remaining": remaining,
                }
            )
        row["unallocated"] = left
        if left > 0:
            row["status"] = "credit"
            code = "LEBIH_BAYAR" if payer is not None else "LEBIH_BAYAR_TANPA_PEMBAYAR"
            row.update(
                code=code,
                message=message(
                    code, lebih=rupiah(left), pembayar=_payer_label(payer or "", payer_names)
                ),
            )
        elif any(ledger.outstanding[i] > 0 for i in targets):
            row["status"] = "partial"
        else:
            row["status"] = "matched"
    rows_out = pd.DataFrame(
        out,
        columns=[*order.columns, "action", "status", "matched_by", "unallocated", "code",
                 "message", "payment_id"],
    )  # fmt: skip
    alloc_out = pd.DataFrame(
        allocations, columns=["nomor_sp2d", "invoice_id", "amount", "remaining"]
    ).astype({"invoice_id": "int64", "amount": "int64", "remaining": "int64"})
    return Matched(rows_out, alloc_out)
