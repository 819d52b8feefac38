"""Rejection codes and the Indonesian messages a village operator reads in the rejection report.

Codes are stable (stored in the database, counted in summaries); messages may be reworded. A message
says what is wrong and how to fix it in the spreadsheet. `{placeholders}` are filled per row by `fill`,
one whole column at a time. The file-level codes (`BERKAS_*`) are `iuran.intake.refusal`'s.
"""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from iuran.intake.refusal import FILE_MESSAGES
from iuran.nik import text_array

#: `source_file` of a worker carried forward from last period (`iuran.reconcile`): not a received row,
#: so never on a village's rejection list, but checked by the same row rules.
CARRIED_SOURCE = "(dibawa dari periode sebelumnya)"

CODES: dict[str, str] = {
    # --- files (collect): one text for every file people send
    **FILE_MESSAGES,
    # --- NIK ---
    "NIK_KOSONG": "NIK kosong. Isi NIK 16 digit sesuai KTP/KK.",
    "NIK_NOTASI_ILMIAH": (
        "NIK berubah menjadi notasi ilmiah (mis. 3.602E+15) atau kehilangan digit karena kolom Excel "
        "berformat angka; ketik ulang NIK sebagai teks (format kolom: Teks), nilai saat ini: {nilai}."
    ),
    "NIK_DISAMARKAN": (
        "NIK disamarkan ({nilai}): daftar cetak OpenSID dengan privasi NIK menyembunyikan 8 digit "
        "terakhir. Unduh ulang dari OpenSID dengan privasi NIK dimatikan, atau kirim ekspor Excel."
    ),
    "NIK_BUKAN_ANGKA": "NIK hanya boleh berisi angka 0-9 (nilai saat ini: {nilai}).",
    "NIK_PANJANG": "NIK harus 16 digit; yang tertulis {panjang} digit ({nilai}). Periksa kembali dengan KTP/KK.",
    "NIK_PROVINSI": (
        "Dua digit pertama NIK ({provinsi}) bukan kode provinsi yang ada. Periksa kembali NIK dengan KTP/KK."
    ),
    "NIK_TANGGAL": (
        "Digit ke-7 s.d. 12 NIK ({tanggal}) bukan tanggal lahir yang mungkin (tanggal 01-31, atau 41-71 "
        "untuk perempuan; bulan 01-12). Periksa kembali NIK dengan KTP/KK."
    ),
    "NIK_SERIAL": (
        "Empat digit terakhir NIK 0000 tidak pernah diterbitkan. Biasanya Excel membulatkan NIK yang "
        "disimpan sebagai angka (digit terakhir menjadi 0): ketik ulang NIK sebagai teks."
    ),
    "NIK_GANDA_BERKAS": (
        "NIK ini sudah tercantum di baris {baris_lain} pada berkas yang sama; satu orang cukup satu "
        "baris. Hapus baris ganda, atau perbaiki NIK bila orangnya berbeda."
    ),
    # --- other fields (validate) ---
    "PENDUDUK_BUKAN_HIDUP": (
        "Menurut data kependudukan status orang ini {nilai}, bukan Hidup: yang meninggal, pindah "
        "atau hilang tidak didaftarkan. Hapus baris ini; bila statusnya keliru, perbaiki dulu di "
        "SIAK/OpenSID."
    ),
    "NAMA_KOSONG": "Nama kosong. Isi nama lengkap sesuai KTP.",
    "TANGGAL_LAHIR_KOSONG": "Tanggal lahir kosong. Isi dengan format dd/mm/yyyy, mis. 15/05/1990.",
    "TANGGAL_LAHIR_FORMAT": (
        "Tanggal lahir '{nilai}' tidak dikenali. Gunakan format dd/mm/yyyy (mis. 15/05/1990), "
        "dd-mm-yyyy, yyyy-mm-dd, atau sel tanggal Excel; tahun ditulis 4 digit."
    ),
    "TANGGAL_LAHIR_TIDAK_SESUAI_NIK": (
        "Tanggal lahir {tanggal_lahir} tidak sama dengan tanggal lahir dalam NIK ({tanggal_nik}). "
        "Periksa kembali NIK dan tanggal lahir dengan KTP."
    ),
    "JENIS_KELAMIN_KOSONG": "Jenis kelamin kosong. Isi L (laki-laki) atau P (perempuan).",
    "JENIS_KELAMIN_FORMAT": (
        "Jenis kelamin '{nilai}' tidak dikenali. Isi L atau P (juga diterima: Laki-laki, Perempuan, LK, PR)."
    ),
    "JENIS_KELAMIN_TIDAK_SESUAI_NIK": (
        "Jenis kelamin {jenis_kelamin} tidak sama dengan NIK, yang menunjukkan {jk_nik} (pada NIK "
        "perempuan, tanggal lahir ditambah 40). Periksa kembali NIK dan jenis kelamin dengan KTP."
    ),
    "USIA_DI_BAWAH_BATAS": (
        "Usia {usia} tahun pada {per_tanggal} di bawah batas usia program ({batas} tahun)."
    ),
    "USIA_DI_ATAS_BATAS": (
        "Usia {usia} tahun pada {per_tanggal} di atas batas usia program ({batas} tahun)."
    ),
    "KODE_DESA_KOSONG": "Kode desa kosong. Isi kode desa Kemendagri 10 digit, mis. 36.02.01.2002.",
    "KODE_DESA_TIDAK_DIKENAL": (
        "Kode desa '{nilai}' tidak ada dalam daftar desa/kelurahan {kabupaten} (Kepmendagri). "
        "Gunakan kode 10 digit seperti 36.02.01.2002."
    ),
    "KODE_DESA_BUKAN_DESA": (
        "Kode {nilai} adalah kelurahan; program ini (dana desa) hanya untuk desa, karena kelurahan tidak "
        "menerima dana desa."
    ),
    "PEKERJAAN_ASN_TNI_POLRI": (
        "Pekerjaan '{nilai}': ASN/PNS dijamin Taspen, TNI dan POLRI dijamin ASABRI, bukan peserta "
        "pekerja rentan. Hapus dari daftar, atau perbaiki pekerjaan bila salah tulis."
    ),
    "PEKERJAAN_PENERIMA_UPAH": (
        "Pekerjaan '{nilai}': karyawan (swasta, BUMN, BUMD), tenaga honorer dan perangkat desa "
        "didaftarkan oleh pemberi kerjanya sebagai peserta penerima upah, bukan pekerja rentan. "
        "Hapus dari daftar, atau perbaiki pekerjaan bila salah tulis."
    ),
    "PEKERJAAN_PEJABAT": (
        "Pekerjaan '{nilai}': kepala desa dan pejabat (anggota DPR/DPRD, bupati, dsb.) dijamin "
        "melalui jabatannya, bukan pekerja rentan. Hapus dari daftar, atau perbaiki pekerjaan bila "
        "salah tulis."
    ),
    "PEKERJAAN_BUKAN_PEKERJA": (
        "Pekerjaan '{nilai}' menunjukkan orang ini tidak bekerja (belum/tidak bekerja, pelajar/"
        "mahasiswa, mengurus rumah tangga, pensiunan); program ini hanya untuk pekerja. Isi "
        "pekerjaan yang sebenarnya, atau hapus dari daftar."
    ),
    "PENGHASILAN_FORMAT": (
        "Penghasilan '{nilai}' tidak dikenali. Isi angka rupiah bulat tanpa desimal, mis. 1500000 "
        "atau 1.500.000, atau kosongkan bila tidak ada."
    ),
    # --- registry (reconcile) ---
    "NIK_DESA_GANDA": (
        "NIK ini juga didaftarkan oleh desa {desa_lain} dan tetap ditanggung di sana; satu peserta "
        "hanya di satu desa."
    ),
    "NIK_GANDA_SUMBER": (
        "NIK ini sudah ada di berkas {berkas_lain} untuk desa yang sama; dihitung satu peserta."
    ),
    "NIK_PROGRAM_LAIN": (
        "NIK ini sudah dibayar iurannya oleh program {program_lain} untuk periode yang sama; tidak "
        "boleh ditanggung dua kali."
    ),
    "KUOTA_DESA_PENUH": (
        "Batas peserta per desa program ini ({kuota} peserta) sudah penuh; peserta lanjutan "
        "didahulukan, lalu urutan baris."
    ),
    "KUOTA_PROGRAM_PENUH": (
        "Jumlah peserta program ini ({kuota} peserta) sudah penuh; peserta lanjutan didahulukan, "
        "lalu urutan baris."
    ),
    "PESERTA_MENINGGAL": (
        "Menurut BPJS Ketenagakerjaan peserta ini telah meninggal dunia; hapus dari daftar."
    ),
    "PINDAH_PENERIMA_UPAH": (
        "Menurut BPJS Ketenagakerjaan peserta ini sudah terdaftar sebagai pekerja penerima upah "
        "(dibayar pemberi kerja); hapus dari daftar."
    ),
    # --- the village contacts file (`iuran.contacts`): a row that cannot be used, and why
    "KONTAK_KODE_TIDAK_DIKENAL": (
        "Kode {nilai} bukan kode desa (10 digit) atau kecamatan (6 digit) program ini; isi kode "
        "wilayah Kemendagri, mis. {contoh}. Baris ini tidak dipakai."
    ),
    "KONTAK_DESA_GANDA": (
        "Kode {nilai} sudah ada di baris {baris}; baris ini tidak dipakai. Satu baris untuk satu desa."
    ),
    "KONTAK_EMAIL_TIDAK_SAH": (
        "Alamat e-mail {nilai} tidak sah (contoh yang benar: desa@contoh.go.id); nama dipakai untuk "
        "tanda tangan, tetapi tagihan desa ini dikirim lewat rekap ke kecamatan/BKAD."
    ),
    # --- BPJS's claims list (`iuran.claims`)
    "KLAIM_JENIS": (
        "Jenis klaim '{nilai}' tidak dikenali; tulis JKK (kecelakaan kerja), JKM (kematian) atau "
        "Beasiswa."
    ),
    "KLAIM_NILAI_KOSONG": "Nilai klaim kosong; isi nilai yang dibayarkan dalam Rupiah, mis. 42.000.000.",
    "KLAIM_BUKAN_PESERTA": (
        "NIK ini tidak pernah ditagihkan dalam program {program}; klaimnya tidak dihitung sebagai "
        "manfaat program ini."
    ),
    "KLAIM_GANDA_BERKAS": (
        "Klaim yang sama (nomor klaim, atau NIK, jenis dan tanggal) sudah ada di baris {baris} berkas "
        "ini; baris ini tidak dicatat."
    ),
}


def text(code: str, **values: str | int) -> str:
    """One message, placeholders filled with scalars (file-level messages)."""
    out = CODES[code]
    for name, value in values.items():
        out = out.replace("{" + name + "}", str(value))
    return out


def fill(code: str, **values: pd.Series | str | int) -> pd.Series | str:
    """`CODES[code]` with placeholders filled; a value may be a whole column (one message per row).

    Scalars are filled once; with any Series value the result is a `string` Series on the first
    one's index (the others aligned on it by label). A placeholder without a value stays visible
    rather than failing. Values go in verbatim: an operator's text that looks like a placeholder
    (`{nilai}`) is never filled in turn.
    """
    scalars = {k: v for k, v in values.items() if not isinstance(v, pd.Series)}
    columns = {k: v for k, v in values.items() if isinstance(v, pd.Series)}
    template = text(code, **scalars)
    if not columns:
        return template
    index = next(iter(columns.values())).index
    # The template cut at each placeholder, the columns put between the pieces: one Arrow join for
    # all rows (pandas' string methods cost ~0.3 ms a call, a code has a few rows at a time).
    spots = sorted((template.find("{" + k + "}"), k) for k in columns if "{" + k + "}" in template)
    pieces: list[pa.Scalar | pa.Array] = []
    start = 0
    for at, name in spots:
        column = columns[name]
        column = column if column.index.equals(index) else column.reindex(index)
        pieces += [pa.scalar(template[start:at]), text_array(column.astype("string").fillna(""))]
        start = at + len(name) + 2
    pieces.append(pa.scalar(template[start:]))
    if len(pieces) == 1 or not len(index):
        return pd.Series(template, index=index, dtype="string")
    joined = pc.binary_join_element_wise(*pieces, "")
    return pd.Series(joined.to_numpy(zero_copy_only=False), index=index, dtype="string")
