"""The payment day's order and its two decisions (`iuran/payment_day.py`): which programs are
settled, and when the outbox is delivered; the steps are stand-ins that note their calls."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from iuran.config import Settings, load_settings
from iuran.mail.deliver import DeliveryReport
from iuran.payment_day import PaymentSteps, nothing_arrived, run_payment_day

TODAY = dt.date(2026, 1, 20)


def _steps(
    calls: list[str], payments: list[dict[str, Any]], receipts: list[dict[str, Any]] | None = None
) -> PaymentSteps:
    def import_payments() -> list[dict[str, Any]]:
        calls.append("import payments")
        return payments

    def import_receipts() -> list[dict[str, Any]]:
        calls.append("import receipts")
        return receipts or []

    def settle(url: str, program: str, today: dt.date) -> dict[str, Any]:
        calls.append(f"settle {program}")
        return {"credits_applied": [{"program": program}], "invoices_changed": 1}

    def deliver(settings: Settings) -> DeliveryReport:
        calls.append("deliver")
        return DeliveryReport(sent=2)

    return PaymentSteps(import_payments, import_receipts, settle, deliver)


def _read(*programs: str | None) -> dict[str, Any]:
    return {"status": "read", "payments": [{"program": p} for p in programs]}


def _settings(tmp_path: Path) -> Settings:
    return load_settings("sqlite://", tmp_path / "inbox", tmp_path / "out")


def test_a_programs_day_settles_it_and_delivers_whatever_arrived(tmp_path: Path) -> None:
    calls: list[str] = []
    day = run_payment_day(_steps(calls, []), _settings(tmp_path), TODAY, program="lebak")
    assert calls == ["import payments", "import receipts", "settle lebak", "deliver"]
    assert day.settled == {
        "lebak": {"credits_applied": [{"program": "lebak"}], "invoices_changed": 1}
    }
    assert day.delivered is not None and day.delivered.sent == 2


def test_a_payment_read_settles_the_programs_it_paid_then_delivers(tmp_path: Path) -> None:
    calls: list[str] = []
    payments = [_read("serang", "lebak", None, "lebak")]
    day = run_payment_day(_steps(calls, payments), _settings(tmp_path), TODAY)
    assert calls == [
        "import payments",
        "import receipts",
        "settle lebak",
        "settle serang",
        "deliver",
    ]
    assert day.payments == payments
    assert day.credits_applied == [{"program": "lebak"}, {"program": "serang"}]


def test_a_rejected_payment_file_or_receipts_alone_settle_and_send_nothing(tmp_path: Path) -> None:
    for payments, receipts in (
        ([{"status": "rejected", "code": "KOLOM_KURANG"}], []),
        ([], [{"status": "read", "receipts": []}]),
    ):
        calls: list[str] = []
        day = run_payment_day(_steps(calls, payments, receipts), _settings(tmp_path), TODAY)
        assert calls == ["import payments", "import receipts"]
        assert day.settled == {} and day.delivered is None and day.credits_applied == []


def test_nothing_arrived_is_an_empty_import() -> None:
    assert nothing_arrived() == []
