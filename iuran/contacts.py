"""The village contacts file: who heads each desa, who keeps its books, where its mail goes.

Where villages pay (`payer: village`, Lahat's ADD), each village receives its own invoice and
correction list by e-mail, and its invoice is signed by its own head (or treasurer) by name. The
program file names the file (`contacts:`, relative to `deployments/`, e.g.
`contacts/lahat.csv`); Disnaker keeps it. CSV or XLSX, read like every file people send
(`iuran.intake`: the header among the first rows, Indonesian spellings, the same size guards).

Columns (synonyms accepted): `kode_desa` (Kemendagri code, 10 digits; a 6-digit kecamatan code
makes the row a district's contact, which then receives the digest of its villages that have no
e-mail), `nama_desa`, `kepala_desa`, `bendahara`, `email` (several split by `;` or `,`), `no_hp`.

Nothing here crashes on a bad file: a file that cannot be read is one note and no contacts (the
invoices then go to BKAD as before); a row with an unknown code or a repeated one is left out, a
row with a bad e-mail keeps its names but not the address; each such row is reported with the row
number the operator sees and an Indonesian reason (`iuran.rosters.codes`, `KONTAK_*`). Phone
numbers are kept for the operators, never logged or mailed.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pandas as pd

from iuran.config import PROGRAMS_DIR
from iuran.intake.header import Columns
from iuran.intake.read import read_file, read_table, table_frame
from iuran.intake.refusal import FileRefused, Limits
from iuran.programs import Program
from iuran.rosters.codes import fill
from iuran.wilayah import districts, villages

log = logging.getLogger("iuran.contacts")

#: Where a relative `contacts:` path of a program file is found.
DEPLOYMENTS = PROGRAMS_DIR.parent

CONTACT_COLUMNS = ["kode_desa", "nama_desa", "kepala_desa", "bendahara", "email", "no_hp"]
#: Header spellings (as `normalize_header` gives them) -> column.
_SYNONYMS = {
    "kode desa": "kode_desa", "kode": "kode_desa", "kode wilayah": "kode_desa",
    "kode kemendagri": "kode_desa", "kode desa kemendagri": "kode_desa",
    "kode desa kelurahan": "kode_desa", "kode wilayah desa": "kode_desa",
    "nama desa": "nama_desa", "desa": "nama_desa", "desa kelurahan": "nama_desa",
    "nama wilayah": "nama_desa",
    "kepala desa": "kepala_desa", "nama kepala desa": "kepala_desa", "kades": "kepala_desa",
    "nama kades": "kepala_desa", "kepala": "kepala_desa", "pimpinan": "kepala_desa",
    "bendahara": "bendahara", "nama bendahara": "bendahara", "bendahara desa": "bendahara",
    "nama bendahara desa": "bendahara", "kaur keuangan": "bendahara",
    "kepala urusan keuangan": "bendahara",
    "email": "email", "e mail": "email", "alamat email": "email", "alamat e mail": "email",
    "surel": "email", "email desa": "email", "e mail desa": "email",
    "no hp": "no_hp", "nomor hp": "no_hp", "hp": "no_hp", "telepon": "no_hp",
    "no telepon": "no_hp", "nomor telepon": "no_hp", "telp": "no_hp", "no telp": "no_hp",
    "whatsapp": "no_hp", "no wa": "no_hp", "nomor wa": "no_hp", "no hp wa": "no_hp",
}  # fmt: skip
COLUMNS = Columns(
    _SYNONYMS,
    ("kode_desa",),
    {
        "kode_desa": "Kode Desa",
        "nama_desa": "Nama Desa",
        "kepala_desa": "Kepala Desa",
        "bendahara": "Bendahara",
        "email": "E-mail",
        "no_hp": "No. HP",
    },
    min_matches=2,
    template=("kode_desa", "nama_desa", "kepala_desa", "bendahara", "email", "no_hp"),
)
#: A regency has a few hundred villages; the file is small and narrow.
LIMITS = Limits(max_bytes=2 * 1024 * 1024, max_rows=5_000, max_columns=40)

#: one address: something@domain.tld, no spaces, one @
_EMAIL = r"[^@\s,;<>]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
_EMAILS = re.compile(rf"^\s*{_EMAIL}(\s*[;,]\s*{_EMAIL})*\s*$")

Role = Literal["kepala_desa", "bendahara"]


@dataclass(frozen=True)
class Contacts:
    """The usable rows of a contacts file.

    `villages`: index kode_desa, columns nama_desa (the official name), kepala_desa, bendahara,
    email (`;`-joined addresses or <NA>), no_hp. `districts`: index kode_kecamatan, columns
    nama_kecamatan, email. `problems`: one dict per row left out or partly used (`row`, `kode`,
    `code`, `message`), for the digest and the operator. `note`: why the file as a whole gave
    nothing (missing, refused), else None."""

    villages: pd.DataFrame
    districts: pd.DataFrame
    problems: list[dict[str, object]] = field(default_factory=list)
    note: str | None = None

    def emails(self, kode_desa: str) -> list[str]:
        """The village's addresses, [] when it has none (or no contact)."""
        if kode_desa not in self.villages.index:
            return []
        value = self.villages.at[kode_desa, "email"]
        return [] if pd.isna(value) else str(value).split(";")

    def district_emails(self, kode_kecamatan: str) -> list[str]:
        if kode_kecamatan not in self.districts.index:
            return []
        value = self.districts.at[kode_kecamatan, "email"]
        return [] if pd.isna(value) else str(value).split(";")

    def signer(self, kode_desa: str, role: Role) -> str | None:
        """The name that signs the village's invoice (its head or treasurer), None if unknown."""
        if kode_desa not in self.villages.index:
            return None
        value = self.villages.at[kode_desa, role]
        return None if pd.isna(value) else str(value)


def _empty_villages() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="string") for c in CONTACT_COLUMNS}).set_index(
        "kode_desa"
    )


def _empty_districts() -> pd.DataFrame:
    return pd.DataFrame(
        {c: pd.Series(dtype="string") for c in ("kode_kecamatan", "nama_kecamatan", "email")}
    ).set_index("kode_kecamatan")


def none(note: str | None = None) -> Contacts:
    """No contacts: every village's invoice goes in the digest, signed by title only."""
    return Contacts(_empty_villages(), _empty_districts(), [], note)


def contacts_path(program: Program) -> Path | None:
    """The program's contacts file (`contacts:`, relative to `deployments/`), None if it names none."""
    if not program.contacts:
        return None
    path = Path(program.contacts)
    return path if path.is_absolute() else DEPLOYMENTS / path


def codes_of(raw: pd.Series) -> pd.Series:
    """`1604012001`, `16.04.01.2001`, `16 04 01 2001` -> `16.04.01.2001`; 6 digits -> `16.04.01`;
    anything else <NA>. Whole column at once."""
    digits = raw.astype("string").str.replace(r"\D", "", regex=True)
    village = digits.str.replace(r"^(\d{2})(\d{2})(\d{2})(\d{4})$", r"\1.\2.\3.\4", regex=True)
    district = digits.str.replace(r"^(\d{2})(\d{2})(\d{2})$", r"\1.\2.\3", regex=True)
    return (
        village.where(digits.str.len() == 10)
        .fillna(district.where(digits.str.len() == 6))
        .astype("string")
    )


def read_contacts(program: Program) -> Contacts:
    """The program's contacts (`none()` when it names no file, with a note when the file is
    missing or refused). Never raises for what the file holds."""
    path = contacts_path(program)
    if path is None:
        return none()
    if not path.is_file():
        return none(f"{path.name}: berkas kontak desa tidak ditemukan")
    try:
        table = read_table(read_file(path, LIMITS), path.suffix.lower(), COLUMNS, LIMITS)
    except FileRefused as exc:
        return none(f"{path.name}: {exc.message}")
    except Exception as exc:  # a file that cannot be read is reported, never fatal
        return none(f"{path.name}: berkas tidak dapat dibaca ({type(exc).__name__})")
    found = contacts_from_frame(table_frame(table), program)
    if found.problems:  # counts and row numbers only: the rows hold names and phone numbers
        log.warning(
            "%s: %d baris kontak bermasalah (baris %s)",
            path.name,
            len(found.problems),
            ", ".join(str(p["row"]) for p in found.problems[:20]),
        )
    return found


def contacts_from_frame(frame: pd.DataFrame, program: Program) -> Contacts:
    """The rows of a contacts table (`table_frame`'s columns and `source_row`) checked against the
    program's villages and districts."""
    df = frame.reindex(columns=[*CONTACT_COLUMNS, "source_row"])
    for c in CONTACT_COLUMNS:
        df[c] = df[c].astype("string")
    code = codes_of(df["kode_desa"])
    desa = villages(program.regency, desa_only=program.desa_only).set_index("kode_desa")
    kec = districts(program.regency).set_index("kode_kecamatan")
    is_desa = code.isin(desa.index).fillna(False)
    is_kec = code.isin(kec.index).fillna(False)
    known = is_desa | is_kec
    first_row = df["source_row"].groupby(code.where(known)).transform("first")
    repeated = known & code.where(known).duplicated(keep="first").fillna(False)
    email = (
        df["email"]
        .str.replace(r"\s*[;,]\s*", ";", regex=True)
        .str.strip()
        .str.strip(";")
        .str.lower()
    )
    email = email.where(email.ne("")).astype("string")
    bad_email = known & ~repeated & email.notna() & ~email.str.match(_EMAILS).fillna(False)

    problems = pd.concat(
        [
            _problems(
                df, ~known, "KONTAK_KODE_TIDAK_DIKENAL",
                nilai=df["kode_desa"].fillna("(kosong)"), contoh=str(desa.index[0]),
            ),
            _problems(
                df, repeated, "KONTAK_DESA_GANDA",
                nilai=code.fillna(""), baris=first_row.astype("Int64").astype("string"),
            ),
            _problems(df, bad_email, "KONTAK_EMAIL_TIDAK_SAH", nilai=df["email"].fillna("")),
        ],
        ignore_index=True,
    ).sort_values(["row", "code"], kind="stable")  # fmt: skip
    email = email.mask(bad_email)

    use = ~repeated
    v = df.loc[is_desa & use, ["kepala_desa", "bendahara", "no_hp"]].assign(
        kode_desa=code[is_desa & use], email=email[is_desa & use]
    )
    v["nama_desa"] = v["kode_desa"].map(desa["nama_desa"]).astype("string")
    d = pd.DataFrame(
        {
            "kode_kecamatan": code[is_kec & use],
            "email": email[is_kec & use],
        }
    )
    d["nama_kecamatan"] = d["kode_kecamatan"].map(kec["nama_kecamatan"]).astype("string")
    return Contacts(
        v.set_index("kode_desa")[["nama_desa", "kepala_desa", "bendahara", "email", "no_hp"]],
        d.set_index("kode_kecamatan")[["nama_kecamatan", "email"]],
        problems.to_dict("records"),
    )


def _problems(
    df: pd.DataFrame, where: pd.Series, code: str, **values: pd.Series | str
) -> pd.DataFrame:
    """The rows `where` holds, as problems with `code`'s message filled per row."""
    rows = df.loc[where]
    message = fill(code, **{k: v.loc[where] if isinstance(v, pd.Series) else v for k, v in values.items()})  # fmt: skip
    return pd.DataFrame(
        {
            "row": rows["source_row"].astype("int64"),
            "kode": rows["kode_desa"].fillna("").astype(str),
            "code": code,
            "message": pd.Series(message, index=rows.index, dtype="string").astype(str)
            if len(rows)
            else pd.Series(dtype=str),
        }
    )
