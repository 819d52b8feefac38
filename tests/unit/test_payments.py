"""Payment rules as pure functions: reading, validating, matching, allocating, lapse and reminders."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pytest

from iuran.intake.refusal import FileRefused
from iuran.payments.match import EXISTING_COLUMNS, INVOICE_COLUMNS, match_payments
from iuran.payments.read import read_payment_table
from iuran.payments.rules import parse_amounts, split_numbers, validate_rows
from iuran.reminders import reminder_window
from iuran.status import lapse_state, payment_state, unpaid_streaks

TODAY = dt.date(2026, 3, 20)
JAN, FEB, MAR = (
    "001/TAG-JKK-JKM/LBK/I/2026",
    "002/TAG-JKK-JKM/LBK/II/2026",
    "003/TAG-JKK-JKM/LBK/III/2026",
)
KINDS = {"lebak": "regency", "lahat": "village"}


def invoice(
    id: int,
    number: str,
    period: str,
    total: int,
    *,
    paid: int = 0,
    program: str = "lebak",
    payer: str = "kabupaten",
    revision: int = 0,
    state: str = "issued",
    kind: str = "regular",
) -> dict[str, Any]:
    year, month = map(int, period.split("-"))
    return {
        "id": id,
        "number": number,
        "revision": revision,
        "program": program,
        "period": period,
        "payer_key": payer,
        "payer_name": f"Pembayar {payer}",
        "kind": kind,
        "due_date": dt.date(year, month, 15),
        "total": total,
        "paid": paid,
        "document_state": state,
    }


def lebak_invoices(**paid: int) -> pd.DataFrame:
    rows = [
        invoice(1, JAN, "2026-01", 504_000, paid=paid.get("jan", 0)),
        invoice(2, FEB, "2026-02", 504_000, paid=paid.get("feb", 0)),
        invoice(3, MAR, "2026-03", 504_000, paid=paid.get("mar", 0)),
    ]
    return pd.DataFrame(rows, columns=INVOICE_COLUMNS)


def rows(*specs: dict[str, Any], program: str | None = "lebak") -> pd.DataFrame:
    """Raw file rows (text, as read) -> valid rows."""
    raw = pd.DataFrame(
        [
            {
                "nomor_sp2d": s["sp2d"],
                "tanggal_sp2d": s.get("tanggal", "14/02/2026"),
                "jumlah": s["jumlah"],
                "nomor_tagihan": s.get("tagihan"),
                "payer": s.get("payer"),
                "keterangan": None,
                "program": None,
            }
            for s in specs
        ],
        dtype="string",
    ).assign(source_row=list(range(2, 2 + len(specs))))
    valid, rejected = validate_rows(raw, "pembayaran", TODAY, program)
    assert rejected.empty, rejected.to_dict("records")
    return valid


def match(
    valid: pd.DataFrame, invoices: pd.DataFrame, existing: pd.DataFrame | None = None
) -> tuple[list[dict[str, Any]], list[tuple[str, int, int]]]:
    m = match_payments(
        valid,
        invoices,
        existing if existing is not None else pd.DataFrame(columns=EXISTING_COLUMNS),
        KINDS,
    )
    decided = m.rows.to_dict("records")
    allocs = [(a.nomor_sp2d, int(a.invoice_id), int(a.amount)) for a in m.allocations.itertuples()]
    return decided, allocs


# --- reading and validating -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "amount", "code"),
    [
        ("57.960.000", 57_960_000, None),
        ("Rp57.960.000", 57_960_000, None),
        ("Rp 57.960.000,00", 57_960_000, None),
        ("57960000", 57_960_000, None),
        ("Rp. 57.960.000,-", 57_960_000, None),
        ("IDR 1.000", 1_000, None),
        ("57.960.000,50", None, "JUMLAH_DESIMAL"),
        ("1.5", None, "JUMLAH_DESIMAL"),
        ("57,960,000", None, "JUMLAH_FORMAT"),
        ("57960000.00", None, "JUMLAH_FORMAT"),
        ("lima juta", None, "JUMLAH_FORMAT"),
        ("-1.000", None, "JUMLAH_FORMAT"),
        ("0", None, "JUMLAH_NOL"),
        ("", None, "JUMLAH_KOSONG"),
    ],
)
def test_amounts_are_whole_rupiah(text: str, amount: int | None, code: str | None) -> None:
    amounts, codes = parse_amounts(pd.Series([text], dtype="string"))
    assert (None if pd.isna(amounts[0]) else int(amounts[0])) == amount
    assert (None if pd.isna(codes[0]) else codes[0]) == code


def test_invalid_rows_are_refused_with_indonesian_messages() -> None:
    raw = pd.DataFrame(
        {
            "nomor_sp2d": ["A-1", None, "A-3", "A-4", "A-5", "A-6"],
            "tanggal_sp2d": ["14/02/2026", "14/02/2026", "31/02/2026", "01/04/2026", "2026-02-14", None],
            "jumlah": ["1.000", "1.000", "1.000", "1.000", "1.000,25", "1.000"],
        },
        dtype="string",
    ).assign(source_row=[2, 3, 4, 5, 6, 7])  # fmt: skip
    valid, rejected = validate_rows(raw, "pembayaran", TODAY)
    assert list(valid["nomor_sp2d"]) == ["A-1"]
    assert valid["tanggal"][0] == dt.date(2026, 2, 14) and valid["jumlah"][0] == 1_000
    by_row = {r.source_row: r for r in rejected.itertuples()}
    assert by_row[3].code == "SP2D_KOSONG"
    assert by_row[4].code == "TANGGAL_FORMAT" and "'31/02/2026' tidak dikenali" in by_row[4].message
    assert by_row[5].code == "TANGGAL_MASA_DEPAN" and "belum terjadi" in by_row[5].message
    assert by_row[6].code == "JUMLAH_DESIMAL" and "Rupiah bulat" in by_row[6].message
    assert by_row[7].code == "TANGGAL_KOSONG" and by_row[7].column == "tanggal_sp2d"


def test_payer_program_and_sp2d_number_must_fit() -> None:
    raw = pd.DataFrame(
        {
            "nomor_sp2d": ["A-1", "A-2", "A-3", "X" * 101, "A-5"],
            "tanggal_sp2d": ["14/02/2026"] * 5,
            "jumlah": ["1.000"] * 5,
            "payer": ["Desa Sukamaju", "1604012001", "Pemkab", None, ""],
            "program": [None, "Lebak ", "lebak/2026", None, None],
        },
        dtype="string",
    ).assign(source_row=[2, 3, 4, 5, 6])
    valid, rejected = validate_rows(raw, "pembayaran", TODAY)
    assert dict(zip(rejected["source_row"], rejected["code"], strict=True)) == {
        2: "PEMBAYAR_FORMAT",
        4: "PROGRAM_FORMAT",
        5: "SP2D_PANJANG",
    }
    assert "'Desa Sukamaju' tidak dikenali" in rejected["message"].iloc[0]
    assert list(valid["source_row"]) == [3, 6]
    assert (valid["payer"][0], valid["program"][0]) == ("16.04.01.2001", "lebak")
    assert pd.isna(valid["payer"][1]) and pd.isna(valid["program"][1])  # empty is not a payer


def test_invoice_numbers_split_on_comma_and_semicolon() -> None:
    assert split_numbers(f" {JAN} ; {FEB.lower()},{JAN}") == (JAN, FEB)
    assert split_numbers("001 / TAG-JKK-JKM / LBK / I / 2026") == (JAN,)
    assert split_numbers(None) == ()


def test_reads_a_csv_with_common_header_spellings(tmp_path: Path) -> None:
    path = tmp_path / "sp2d.csv"
    path.write_text(
        "Daftar SP2D Januari 2026\n"
        "No;No. SP2D;Tgl SP2D;Nilai (Rp);No Tagihan;Kode Desa\n"
        f"1;0001/SP2D/2026;14/01/2026;Rp504.000;{JAN};\n"
        ";;;;;\n"
        "2;0002/SP2D/2026;15-01-2026;10.000;;16.04.01.2001\n",
        encoding="utf-8",
    )
    table, sha = read_payment_table(path)
    assert len(sha) == 64
    assert list(table["nomor_sp2d"]) == ["0001/SP2D/2026", "0002/SP2D/2026"]
    assert list(table["source_row"]) == [3, 5]  # the rows the operator sees (blank row dropped)
    assert list(table["jumlah"]) == ["Rp504.000", "10.000"]
    assert table["payer"].isna().tolist() == [True, False]


def test_reads_an_xlsx_with_number_and_date_cells(tmp_path: Path) -> None:
    path = tmp_path / "sp2d.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["Nomor SP2D", "Tanggal SP2D", "Jumlah", "Nomor Tagihan", "Keterangan"])
    ws.append(["0001/SP2D/2026", dt.datetime(2026, 1, 14), 504000, f"{JAN}; {FEB}", "dua bulan"])
    wb.save(path)
    table, _ = read_payment_table(path)
    valid, rejected = validate_rows(table, "pembayaran", TODAY, "lebak")
    assert rejected.empty
    r = valid.iloc[0]
    assert (r["tanggal"], r["jumlah"], r["tagihan"]) == (dt.date(2026, 1, 14), 504_000, (JAN, FEB))


def test_a_file_without_the_required_columns_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "salah.csv"
    path.write_text("nama,alamat\nBudi,Lebak\n", encoding="utf-8")
    with pytest.raises(FileRefused) as err:
        read_payment_table(path)
    assert err.value.code == "BERKAS_TANPA_HEADER"
    assert "Nomor SP2D, Tanggal SP2D, Jumlah" in err.value.message


# --- matching ------------------------------------------------------------------------------------------


def test_exact_payment_by_invoice_number() -> None:
    decided, allocs = match(
        rows({"sp2d": "S1", "jumlah": "504.000", "tagihan": JAN}), lebak_invoices()
    )
    assert decided[0]["status"] == "matched" and decided[0]["matched_by"] == "nomor"
    assert allocs == [("S1", 1, 504_000)]


def test_partial_payment_leaves_the_rest_outstanding() -> None:
    decided, allocs = match(
        rows({"sp2d": "S1", "jumlah": "200.000", "tagihan": FEB}), lebak_invoices()
    )
    assert decided[0]["status"] == "partial" and decided[0]["unallocated"] == 0
    assert allocs == [("S1", 2, 200_000)]


def test_one_sp2d_pays_several_invoices_oldest_first() -> None:
    valid = rows({"sp2d": "S1", "jumlah": "700.000", "tagihan": f"{MAR}; {FEB}"})
    decided, allocs = match(valid, lebak_invoices())
    assert allocs == [("S1", 2, 504_000), ("S1", 3, 196_000)]  # February before March
    assert decided[0]["status"] == "partial"


def test_overpayment_is_kept_as_credit_of_the_payer() -> None:
    decided, allocs = match(
        rows({"sp2d": "S1", "jumlah": "600.000", "tagihan": JAN}), lebak_invoices()
    )
    d = decided[0]
    assert (d["status"], d["unallocated"], d["payer"]) == ("credit", 96_000, "kabupaten")
    assert d["code"] == "LEBIH_BAYAR" and "Rp96.000" in d["message"]
    assert allocs == [("S1", 1, 504_000)]


def test_without_number_the_exact_sum_of_the_oldest_unpaid_invoices_matches() -> None:
    invoices = lebak_invoices(jan=504_000, feb=4_000)  # January paid, February partly
    decided, allocs = match(rows({"sp2d": "S1", "jumlah": "1.004.000"}), invoices)
    assert decided[0]["status"] == "matched" and decided[0]["matched_by"] == "pembayar"
    assert allocs == [("S1", 2, 500_000), ("S1", 3, 504_000)]


def test_without_number_one_invoice_with_exactly_that_amount_matches() -> None:
    invoices = lebak_invoices(feb=4_000)  # outstanding: Jan 504.000, Feb 500.000, Mar 504.000
    decided, allocs = match(rows({"sp2d": "S1", "jumlah": "500.000"}), invoices)
    assert decided[0]["status"] == "matched" and allocs == [("S1", 2, 500_000)]


@pytest.mark.parametrize(
    ("spec", "invoices", "code"),
    [
        ({"jumlah": "100.000"}, lebak_invoices(), "JUMLAH_TIDAK_COCOK"),
        # Jan 4.000 outstanding: 504.000 is no sum of the oldest, and both Feb and Mar are 504.000
        ({"jumlah": "504.000"}, lebak_invoices(jan=500_000), "JUMLAH_GANDA"),
        ({"jumlah": "504.000", "tagihan": "009/TAG-JKK-JKM/LBK/I/2026"}, lebak_invoices(), "TAGIHAN_TIDAK_ADA"),
        ({"jumlah": "504.000", "tagihan": JAN, "payer": "36.02.01.2001"}, lebak_invoices(), "TAGIHAN_PEMBAYAR_LAIN"),
        ({"jumlah": "504.000"}, lebak_invoices(jan=504_000, feb=504_000, mar=504_000), "TIDAK_ADA_TAGIHAN"),
    ],
)  # fmt: skip
def test_unmatched_payments_are_never_guessed(
    spec: dict[str, Any], invoices: pd.DataFrame, code: str
) -> None:
    decided, allocs = match(rows({"sp2d": "S1", **spec}), invoices)
    d = decided[0]
    assert (d["action"], d["status"], d["code"]) == ("record", "unmatched", code)
    assert d["unallocated"] == int(d["jumlah"])
    assert allocs == [] and d["message"]


def test_without_program_or_village_payer_it_stays_unmatched() -> None:
    decided, _ = match(rows({"sp2d": "S1", "jumlah": "504.000"}, program=None), lebak_invoices())
    assert decided[0]["code"] == "PROGRAM_TIDAK_DIKETAHUI"
    lahat = pd.DataFrame(
        [invoice(7, "001/TAG-JKK-JKM/LHT/IX/2025", "2025-09", 168_000, program="lahat", payer="16.04.01.2001")],
        columns=INVOICE_COLUMNS,
    )  # fmt: skip
    decided, _ = match(rows({"sp2d": "S2", "jumlah": "168.000"}, program="lahat"), lahat)
    assert decided[0]["code"] == "PEMBAYAR_KOSONG"
    decided, allocs = match(
        rows({"sp2d": "S3", "jumlah": "168.000", "payer": "1604012001"}, program="lahat"), lahat
    )
    assert decided[0]["status"] == "matched" and decided[0]["payer"] == "16.04.01.2001"
    assert allocs == [("S3", 7, 168_000)]


def test_a_superseded_revision_number_pays_the_live_revision_and_cancelled_does_not() -> None:
    invoices = pd.DataFrame(
        [
            invoice(1, JAN, "2026-01", 504_000, state="superseded"),
            invoice(4, JAN, "2026-01", 453_600, revision=1),
            invoice(5, FEB, "2026-02", 504_000, state="cancelled"),
        ],
        columns=INVOICE_COLUMNS,
    )
    decided, allocs = match(rows({"sp2d": "S1", "jumlah": "453.600", "tagihan": JAN}), invoices)
    assert decided[0]["status"] == "matched" and allocs == [("S1", 4, 453_600)]
    decided, allocs = match(rows({"sp2d": "S2", "jumlah": "504.000", "tagihan": FEB}), invoices)
    assert decided[0]["code"] == "TAGIHAN_BATAL" and allocs == []


def test_rows_of_one_file_see_each_other() -> None:
    """Two SP2Ds for the same invoice in one file: the second pays only what is left."""
    valid = rows(
        {"sp2d": "S1", "jumlah": "300.000", "tagihan": JAN, "tanggal": "10/01/2026"},
        {"sp2d": "S2", "jumlah": "300.000", "tagihan": JAN, "tanggal": "12/01/2026"},
    )
    decided, allocs = match(valid, lebak_invoices())
    assert [d["status"] for d in decided] == ["partial", "credit"]
    assert allocs == [("S1", 1, 300_000), ("S2", 1, 204_000)]
    assert decided[1]["unallocated"] == 96_000


def test_repeated_sp2d_numbers_are_recorded_once_or_reported_as_conflict() -> None:
    valid = rows(
        {"sp2d": "S1", "jumlah": "504.000", "tagihan": JAN},
        {"sp2d": "S1", "jumlah": "504.000", "tagihan": JAN},
        {"sp2d": "S1", "jumlah": "5.040.000", "tagihan": JAN},
    )
    decided, allocs = match(valid, lebak_invoices())
    assert [(d["source_row"], d["action"]) for d in decided] == [
        (2, "record"),
        (3, "duplicate"),
        (4, "conflict"),
    ]
    assert decided[2]["code"] == "SP2D_GANDA_BERKAS" and "baris 2" in decided[2]["message"]
    assert allocs == [("S1", 1, 504_000)]


def test_sp2d_already_recorded_is_skipped_or_a_conflict() -> None:
    existing = pd.DataFrame(
        [
            {"id": 9, "nomor_sp2d": "S1", "tanggal": dt.date(2026, 2, 14), "jumlah": 504_000, "status": "matched"},
            {"id": 10, "nomor_sp2d": "S2", "tanggal": dt.date(2026, 2, 14), "jumlah": 504_000, "status": "matched"},
            {"id": 11, "nomor_sp2d": "S3", "tanggal": dt.date(2026, 2, 14), "jumlah": 504_000, "status": "unmatched"},
        ],
        columns=EXISTING_COLUMNS,
    )  # fmt: skip
    valid = rows(
        {"sp2d": "S1", "jumlah": "504.000", "tagihan": JAN},
        {"sp2d": "S2", "jumlah": "540.000", "tagihan": FEB},
        {"sp2d": "S3", "jumlah": "504.000", "tagihan": MAR},
    )
    decided, allocs = match(valid, lebak_invoices(), existing)
    by = {d["nomor_sp2d"]: d for d in decided}
    assert by["S1"]["action"] == "duplicate" and by["S1"]["code"] == "SP2D_SUDAH_DICATAT"
    assert by["S2"]["action"] == "conflict" and "Rp504.000" in by["S2"]["message"]
    assert (by["S3"]["action"], by["S3"]["status"], by["S3"]["payment_id"]) == (
        "rematch",
        "matched",
        11,
    )
    assert allocs == [("S3", 3, 504_000)]


# --- state, lapse and reminders --------------------------------------------------------------------


def test_overdue_is_derived_from_the_due_date() -> None:
    inv = {"payment_state": "partial", "due_date": dt.date(2026, 1, 15)}
    assert payment_state(inv, dt.date(2026, 1, 15)) == "partial"
    assert payment_state(inv, dt.date(2026, 1, 16)) == "overdue"
    assert payment_state(inv | {"payment_state": "paid"}, dt.date(2026, 3, 1)) == "paid"


def _streak_frame(outstanding: dict[str, int], payer: str = "kabupaten") -> pd.DataFrame:
    rows = []
    for n, (period, left) in enumerate(outstanding.items(), start=1):
        rows.append(invoice(n, f"{n:03d}/X", period, 504_000, paid=504_000 - left, payer=payer))
    return pd.DataFrame(rows).assign(participants=30)


@pytest.mark.parametrize(
    ("outstanding", "today", "streak"),
    [
        ({"2026-01": 504_000, "2026-02": 504_000}, dt.date(2026, 2, 16), 2),
        ({"2026-01": 504_000, "2026-02": 504_000}, dt.date(2026, 2, 15), 1),  # Feb not yet late
        ({"2026-01": 504_000, "2026-02": 0, "2026-03": 1}, dt.date(2026, 3, 20), 1),
        ({"2026-01": 504_000, "2026-02": 504_000, "2026-03": 504_000}, dt.date(2026, 3, 20), 3),
        ({"2026-01": 504_000, "2026-03": 504_000}, dt.date(2026, 3, 20), 1),  # a gap ends it
        ({"2026-01": 0}, dt.date(2026, 3, 20), 0),
    ],
)
def test_consecutive_unpaid_months(
    outstanding: dict[str, int], today: dt.date, streak: int
) -> None:
    s = unpaid_streaks(_streak_frame(outstanding), today)
    assert int(s["streak"].iloc[0]) == streak
    assert len(s["periods"].iloc[0]) == streak


def test_streaks_are_counted_per_village() -> None:
    frame = pd.concat(
        [
            _streak_frame({"2025-09": 10, "2025-10": 10}, payer="16.04.01.2001"),
            _streak_frame({"2025-09": 0, "2025-10": 10}, payer="16.04.01.2002"),
        ]
    )
    s = unpaid_streaks(frame, dt.date(2025, 10, 20)).set_index("payer_key")
    assert s.loc["16.04.01.2001", "streak"] == 2 and s.loc["16.04.01.2002", "streak"] == 1
    assert s.loc["16.04.01.2001", "periods"] == ["2025-09", "2025-10"]
    assert [lapse_state(n) for n in (0, 1, 2, 3)] == [
        "aman",
        "tertunggak",
        "peringatan",
        "nonaktif",
    ]


def test_reminder_windows_open_seven_and_two_days_before_the_due_date() -> None:
    due, issued = dt.date(2026, 3, 16), dt.date(2026, 3, 2)
    assert reminder_window(due, issued, dt.date(2026, 3, 8)) is None
    assert reminder_window(due, issued, dt.date(2026, 3, 9)) == dt.date(2026, 3, 9)
    assert reminder_window(due, issued, dt.date(2026, 3, 13)) == dt.date(2026, 3, 9)
    assert reminder_window(due, issued, dt.date(2026, 3, 14)) == dt.date(2026, 3, 14)
    assert reminder_window(due, issued, dt.date(2026, 3, 16)) == dt.date(2026, 3, 14)
    assert reminder_window(due, issued, dt.date(2026, 3, 17)) is None
    # issued after the first window opened: only the second one
    assert reminder_window(due, dt.date(2026, 3, 10), dt.date(2026, 3, 12)) is None
