"""`iuran cycle` without --json: the plain summary names the messages not delivered yet."""

from __future__ import annotations

from typing import Any

import pytest

from iuran.cli import _print_summary


def summary(undelivered: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "program": "lahat",
        "period": "2025-09",
        "status": "unchanged",
        "rows": {"received": 10, "accepted": 10, "rejected": 0},
        "participants": {"billed": 10, "new": 0, "continuing": 10, "ended": 0},
        "total_due": 168_000,
        "invoices": [],
        "budget": {"pagu": 1, "billed_to_date": 1, "projected_year": 1, "shortfall": 0},
        "notifications": {"queued": 0, "sent": 0},
        "undelivered": undelivered,
    }


def test_the_plain_summary_lists_what_is_not_delivered(capsys: pytest.CaptureFixture[str]) -> None:
    _print_summary(
        summary(
            [
                {
                    "event": "mutation_list",
                    "period": "2025-09",
                    "recipient": "bpjs",
                    "state": "claimed",
                    "attempts": 0,
                    "next_attempt_at": "2025-09-05T08:10:00+00:00",
                    "last_error": None,
                }
            ]
        )
    )
    out = capsys.readouterr().out
    assert "not delivered yet: 1" in out
    assert "mutation_list 2025-09 ke bpjs" in out and "2025-09-05 08:10 UTC" in out


def test_nothing_is_said_when_everything_went_out(capsys: pytest.CaptureFixture[str]) -> None:
    _print_summary(summary([]))
    assert "not delivered" not in capsys.readouterr().out
