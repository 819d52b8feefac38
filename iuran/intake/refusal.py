"""Why a file is refused as a whole: the limits a reader sets, the one error every reader raises, and
the `BERKAS_*` messages the person who sent the file reads.

Codes are stable (stored, counted); the Indonesian messages say what to do in the spreadsheet and
may be reworded. They are written once, here, for every file a person sends (a village's roster, a
BKAD payment file, a BPJS receipt or status list); the roster codes (`iuran.rosters.codes`) and the
payment messages (`iuran.payments.rules`) take them from here.
"""

from __future__ import annotations

from dataclasses import dataclass

FILE_MESSAGES: dict[str, str] = {
    "BERKAS_KOSONG": "Berkas tidak berisi data (kosong, atau hanya judul/header tanpa baris data).",
    "BERKAS_RUSAK": (
        "Berkas tidak dapat dibuka: rusak, terpotong saat dikirim, atau bukan berkas {jenis} yang sah. "
        "Buka di Excel lalu simpan ulang sebagai .xlsx atau .csv dan kirim kembali."
    ),
    "BERKAS_TANPA_HEADER": (
        "Baris judul kolom (header) tidak ditemukan di {baris} baris pertama. Kolom wajib yang tidak "
        "ditemukan: {kolom}. Gunakan templat: {wajib}."
    ),
    "BERKAS_JENIS": (
        "Jenis berkas {jenis} tidak dapat diproses. Kirim sebagai Excel .xlsx atau .csv "
        "(di Excel: File > Save As > Excel Workbook (.xlsx), tanpa kata sandi)."
    ),
    "BERKAS_TANPA_DESA": (
        "Desa berkas ini tidak diketahui: tidak ada kolom Kode Desa, nama berkas tidak memuat kode "
        "desa kabupaten ini ({kode}), dan tidak ada kolom Nama Desa yang cocok dengan tepat satu desa "
        "kabupaten ini. Beri nama berkas dengan kode desa Kemendagri 10 digit, mis. {contoh}.xlsx "
        "atau penduduk_{contoh}.xlsx (ekspor OpenSID boleh tetap apa adanya), atau tambahkan kolom "
        "Kode Desa."
    ),
    "BERKAS_DESA_GANDA": (
        "Nama desa {desa} dimiliki lebih dari satu desa kabupaten ini ({pilihan}), dan berkas ini "
        "tidak menyebut kecamatannya. Beri nama berkas dengan kode desa Kemendagri 10 digit desa "
        "yang dimaksud, mis. {contoh}.xlsx atau penduduk_{contoh}.xlsx, atau tambahkan kolom "
        "Kecamatan atau Kode Desa."
    ),
    "BERKAS_DATA_PENDUDUK": (
        "Berkas ini tampak sebagai ekspor seluruh data penduduk ({baris} orang, lebih dari dua kali "
        "{batas} pekerja per desa yang diharapkan program ini), sehingga tidak ditagih agar warga "
        "yang bukan pekerja rentan tidak ikut terdaftar. Kirim hanya pekerja yang didaftarkan: di "
        "OpenSID pakai ekspor Program Bantuan (peserta BPJS Ketenagakerjaan), atau saring data "
        "penduduk lalu ekspor ulang."
    ),
    "BERKAS_NIK_DISAMARKAN": (
        "Semua NIK dalam berkas ini disamarkan (XXXX): daftar cetak OpenSID dengan privasi NIK "
        "menyembunyikan 8 digit terakhir, sehingga tidak ada yang dapat didaftarkan. Unduh ulang "
        "dari OpenSID dengan privasi NIK dimatikan, atau kirim ekspor Excel (Penduduk > Ekspor)."
    ),
    "BERKAS_TERLALU_BESAR": (
        "Berkas terlalu besar ({ukuran}; batas {batas}). Pecah berkas, atau hapus baris/kolom kosong "
        "yang terformat."
    ),
}


def file_message(code: str, **values: object) -> str:
    """`FILE_MESSAGES[code]` with its placeholders filled (one left without a value stays visible)."""
    out = FILE_MESSAGES[code]
    for name, value in values.items():
        out = out.replace("{" + name + "}", str(value))
    return out


class FileRefused(Exception):
    """A file refused as a whole: a `BERKAS_*` code and the values for its message's placeholders.

    Every reader of spreadsheets raises this one error and its callers catch it; `message` is for
    the person who sent the file."""

    def __init__(self, code: str, **values: object) -> None:
        self.code = code
        self.values = values
        self.message = file_message(code, **values)
        super().__init__(self.message)


@dataclass(frozen=True)
class Limits:
    """What a reader accepts, so that time and memory stay bounded whatever a file holds.

    The defaults are the roster reader's; a reader of smaller files sets its own. An XLSX is measured
    against them before calamine opens it (`iuran.intake.workbook`)."""

    max_bytes: int = 20 * 1024 * 1024
    max_unzipped_bytes: int = 200 * 1024 * 1024
    max_rows: int = 10_000  # data rows
    max_columns: int = 200
    header_rows: int = 15  # rows searched for the header

    def too_large(self, size: int) -> FileRefused:
        """The refusal of a file of `size` bytes (over `max_bytes`)."""
        return FileRefused(
            "BERKAS_TERLALU_BESAR",
            ukuran=f"{size / 2**20:.1f} MB",
            batas=f"{self.max_bytes // 2**20} MB",
        )

    def grid_budget(self) -> int:
        """Cells a sheet's grid may span: twice the largest sheet the limits accept (formatted empty
        cells around the data are common and cost calamine little)."""
        return 2 * (self.max_rows + self.header_rows) * self.max_columns
