"""The summary artifact's e-mail section (`tasks.report.undelivered_markdown`, #17)."""

from __future__ import annotations

from tasks.report import undelivered_markdown


def test_the_summary_artifact_lists_messages_not_delivered_yet() -> None:
    waiting = [
        {
            "event": "mutation_list",
            "period": "2026-01",
            "recipient": "bpjs",
            "state": "claimed",
            "attempts": 0,
            "next_attempt_at": "2026-01-05T08:40:00+00:00",
            "last_error": None,
        },
        {
            "event": "invoice_issued",
            "period": "2026-01",
            "recipient": "bkad",
            "state": "failing",
            "attempts": 3,
            "next_attempt_at": "2026-01-05T09:00:00+00:00",
            "last_error": "421 try later",
        },
    ]
    text = "\n".join(undelivered_markdown({"undelivered": waiting}))
    assert "## E-mail belum terkirim (2)" in text
    assert (
        "mutation_list 2026-01 ke bpjs: sedang dikirim, percobaan berikut 2026-01-05 08:40" in text
    )
    assert "invoice_issued 2026-01 ke bkad: gagal sementara, dicoba lagi, 3x dicoba" in text
    assert "semua e-mail" not in text.lower()


def test_a_month_with_everything_delivered_says_so() -> None:
    assert "Semua e-mail bulan ini sudah terkirim." in undelivered_markdown({"undelivered": []})
