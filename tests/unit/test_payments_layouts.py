"""Payment files as BKAD's and BPJS's systems write them (FORMATS.md: "BKAD: SP2D from SIPD RI",
"BPJS Ketenagakerjaan documents"): SIPD RI's SP2D export (CSV and XLSX), SIPD's register with its
repeated `Tanggal SP2D`, SIMDA Keuangan's list and a BPJS receipt's amount and date. Synthetic values."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from iuran.payments.read import read_payment_table
from iuran.payments.rules import PAYMENT, RECEIPT, numbers_in_text, parse_amounts, validate_rows

TODAY = dt.date(2026, 3, 20)
JAN, FEB, MAR = (
    "001/TAG-JKK-JKM/LBK/I/2026",
    "002/TAG-JKK-JKM/LBK/II/2026",
    "003/TAG-JKK-JKM/LBK/III/2026",
)
SIPD_1 = "36.02/04.0/000117/LS/5.02.0.00.0.00.01.0000/M/1/2026"
SIPD_2 = "36.02/04.0/000231/LS/5.02.0.00.0.00.01.0000/M/2/2026"
SIPD_3 = "36.02/04.0/000232/LS/5.02.0.00.0.00.01.0000/M/2/2026"

SIPD_HEADER = [
    "id_sp_2_d", "tahun", "nomor_sp_2_d", "tanggal_sp_2_d", "jenis_sp_2_d", "id_skpd", "nama_skpd",
    "nomor_spm", "tanggal_spm", "nilai_sp_2_d", "keterangan_sp_2_d", "is_verifikasi_sp_2_d",
    "created_at",
]  # fmt: skip
SIPD_ROWS = [
    ["90117", "2026", SIPD_1, "2026-01-13 00:00:00", "LS", "1021", "DINAS TENAGA KERJA",
     "36.02/03.0/000101/LS/5.02.0.00.0.00.01.0000/M/1/2026", "2026-01-12 00:00:00", "168000",
     f"Pembayaran iuran JKK JKM pekerja rentan Jan 2026 sesuai tagihan {JAN}", "1",
     "2026-01-12 09:14:03"],
    ["90231", "2026", SIPD_2, "2026-02-16 00:00:00", "LS", "1021", "DINAS TENAGA KERJA",
     "36.02/03.0/000210/LS/5.02.0.00.0.00.01.0000/M/2/2026", "2026-02-13 00:00:00", "336000",
     f"Pembayaran iuran JKK, JKM Feb-Mar 2026 tagihan no. {FEB} dan {MAR.lower()}", "1",
     "2026-02-13 10:01:55"],
    ["90232", "2026", SIPD_3, "0001-01-01 00:00:00", "LS", "1021", "DINAS TENAGA KERJA",
     "36.02/03.0/000211/LS/5.02.0.00.0.00.01.0000/M/2/2026", "2026-02-13 00:00:00", "168000",
     "SP2D belum terbit", "0", "2026-02-13 10:03:12"],
]  # fmt: skip


def _csv(path: Path, header: list[str], rows: list[list[str]], sep: str = ",") -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, delimiter=sep)
        w.writerow(header)
        w.writerows(rows)
    return path


def _xlsx(path: Path, rows: list[list[object]]) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    for row in rows:
        ws.append(row)
    wb.save(path)
    return path


def _read(path: Path, kind: str = PAYMENT) -> tuple[pd.DataFrame, pd.DataFrame]:
    table, _ = read_payment_table(path, kind)
    return validate_rows(table, kind, TODAY, default_program="lebak")


def _rows(valid: pd.DataFrame) -> list[tuple[int, str, dt.date, int, tuple[str, ...]]]:
    return [
        (int(r.source_row), r.nomor_sp2d, r.tanggal, int(r.jumlah), tuple(r.tagihan))
        for r in valid.itertuples()
    ]


SIPD_EXPECTED = [
    (2, SIPD_1, dt.date(2026, 1, 13), 168_000, (JAN,)),
    (3, SIPD_2, dt.date(2026, 2, 16), 336_000, (FEB, MAR)),
]


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_a_sipd_sp2d_export_is_read_as_it_is(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"sp2d-sipd{suffix}"
    if suffix == ".csv":
        _csv(path, SIPD_HEADER, SIPD_ROWS)
    else:
        _xlsx(path, [SIPD_HEADER, *SIPD_ROWS])
    valid, rejected = _read(path)
    assert _rows(valid) == SIPD_EXPECTED  # SIPD numbers kept exactly, invoice numbers found
    assert valid["nomor_tagihan"].tolist() == [JAN, f"{FEB}; {MAR}"]
    assert valid["keterangan"][0].startswith("Pembayaran iuran JKK JKM")
    # SIPD's empty date `0001-01-01 00:00:00`: refused as an empty date, with the row Excel shows
    [bad] = rejected.itertuples()
    assert (bad.source_row, bad.nomor_sp2d, bad.code) == (4, SIPD_3, "TANGGAL_KOSONG")
    assert bad.message.startswith("Tanggal SP2D kosong")


def test_the_sipd_register_with_a_repeated_date_header_is_read(tmp_path: Path) -> None:
    header = ["No", "Nomor SP2D", "Tanggal SP2D", "Keterangan SP2D", "Jenis SP2D", "Nama SKPD",
              "Nilai SP2D", "Nomor SPM", "Tanggal SPM", "Tanggal SP2D"]  # fmt: skip
    path = _xlsx(
        tmp_path / "register-sp2d.xlsx",
        [
            ["REGISTER SP2D DINAS TENAGA KERJA TAHUN ANGGARAN 2026"],
            [],
            header,
            [1, SIPD_1, "13/01/2026", f"Iuran pekerja rentan Januari {JAN}", "LS",
             "Dinas Tenaga Kerja", 168000, "36.02/03.0/000101/LS", "12/01/2026", "20/01/2026"],
            [2, "0002/SP2D/LS/2026", dt.datetime(2026, 2, 16), f"Iuran Feb {FEB}", "LS",
             "Dinas Tenaga Kerja", "168.000", "0002/SPM/LS/2026", "13/02/2026", "23/02/2026"],
        ],
    )  # fmt: skip
    table, _ = read_payment_table(path)
    valid, rejected = validate_rows(table, PAYMENT, TODAY)
    assert rejected.empty
    # the first `Tanggal SP2D` counts (column C), not the second (column J)
    assert _rows(valid) == [
        (4, SIPD_1, dt.date(2026, 1, 13), 168_000, (JAN,)),
        (5, "0002/SP2D/LS/2026", dt.date(2026, 2, 16), 168_000, (FEB,)),
    ]


def test_a_simda_sp2d_list_is_read(tmp_path: Path) -> None:
    path = _csv(
        tmp_path / "simda.csv",
        ["Tahun", "No_SP2D", "Tgl_SP2D", "No_SPM", "Keterangan", "Nilai"],
        [
            ["2026", "0117/SP2D/LS/2026", "2026-01-13 00:00:00", "0101/SPM/LS/2026",
             f"Bayar iuran BPJS TK pekerja rentan sesuai {JAN}", "168000"],
            ["2026", "0118/SP2D/LS/2026", "14/02/2026", "0102/SPM/LS/2026",
             "Bayar iuran BPJS TK Februari", "168.000"],
            ["2026", "0119/SP2D/LS/2026", "15/02/2026", "0103/SPM/LS/2026", "-", "1,680"],
        ],
        sep=";",
    )  # fmt: skip
    valid, rejected = _read(path)
    assert _rows(valid) == [
        (2, "0117/SP2D/LS/2026", dt.date(2026, 1, 13), 168_000, (JAN,)),
        (3, "0118/SP2D/LS/2026", dt.date(2026, 2, 14), 168_000, ()),
    ]
    assert valid["nomor_tagihan"].isna().tolist() == [False, True]
    [bad] = rejected.itertuples()
    assert (bad.source_row, bad.code) == (4, "JUMLAH_FORMAT")  # `1,680`: thousands or cents?


def test_a_bpjs_receipt_amount_and_date_are_read(tmp_path: Path) -> None:
    path = _csv(
        tmp_path / "penerimaan.csv",
        ["nomor_sp2d", "tanggal_terima", "jumlah"],
        [
            [SIPD_1, "22-SEP-2023", "Rp 446,819,131.00"],
            [SIPD_2, "16-FEB-2026", "Rp 336,000.00"],
            [SIPD_3, "16-FEB-2026", "Rp 336,000.50"],
        ],
    )
    valid, rejected = _read(path, RECEIPT)
    assert _rows(valid) == [
        (2, SIPD_1, dt.date(2023, 9, 22), 446_819_131, ()),
        (3, SIPD_2, dt.date(2026, 2, 16), 336_000, ()),
    ]
    assert rejected["code"].tolist() == ["JUMLAH_DESIMAL"]


@pytest.mark.parametrize(
    ("text", "amount", "code"),
    [
        ("Rp 446,819,131.00", 446_819_131, None),
        ("446,819,131.00", 446_819_131, None),
        ("Rp336,000.00", 336_000, None),
        ("IDR 1,000.00", 1_000, None),
        ("446.819", 446_819, None),  # dots are Indonesian thousands, as always
        ("446,819,131.50", None, "JUMLAH_DESIMAL"),
        ("1,234", None, "JUMLAH_FORMAT"),  # 1,234 Rupiah or 1 Rupiah 23 sen?
        ("446,819,131", None, "JUMLAH_FORMAT"),  # comma thousands only with the .00
        ("446,819.131.00", None, "JUMLAH_FORMAT"),
        ("4468,19.00", None, "JUMLAH_FORMAT"),
    ],
)
def test_comma_thousands_are_read_only_with_dot_cents(
    text: str, amount: int | None, code: str | None
) -> None:
    amounts, codes = parse_amounts(pd.Series([text], dtype="string"))
    assert (None if pd.isna(amounts[0]) else int(amounts[0])) == amount
    assert (None if pd.isna(codes[0]) else codes[0]) == code


def test_invoice_numbers_are_found_anywhere_in_a_description() -> None:
    assert numbers_in_text(f"sesuai tagihan {JAN}.") == (JAN,)
    assert numbers_in_text(f"tagihan {FEB},{MAR} dan lagi {FEB}") == (FEB, MAR)
    assert numbers_in_text("tagihan 001 / tag-jkk-jkm / lbk / i / 2026") == (JAN,)
    assert numbers_in_text("SP2D 36.02/04.0/000117/LS/5.02 Jan 2026") == ()
    assert numbers_in_text(None) == ()


def test_a_nomor_tagihan_column_wins_over_the_description() -> None:
    raw = pd.DataFrame(
        {
            "source_row": [2, 3],
            "nomor_sp2d": ["A-1", "A-2"],
            "tanggal_sp2d": ["14/01/2026", "14/01/2026"],
            "jumlah": ["168.000", "168.000"],
            "nomor_tagihan": [FEB, None],
            "keterangan": [f"salah tulis {JAN}", f"lihat {JAN}"],
        },
        dtype="string",
    )
    valid, _ = validate_rows(raw, PAYMENT, TODAY)
    assert valid["tagihan"].tolist() == [(FEB,), (JAN,)]
