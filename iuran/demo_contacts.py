"""Demo village contacts file for a program whose villages pay (Lahat): synthetic people only.

`python -m iuran.demo_contacts lahat [PATH]` writes the file the program names (`contacts:`, read
by `iuran.contacts`), or PATH: one row per village with a head, a treasurer, a phone and, for most
villages, an e-mail; a few villages have no e-mail (their invoices go in the digest) and the
file's headers are the Indonesian ones an operator types. Deterministic for a seed.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from iuran.contacts import contacts_path
from iuran.files import write_atomic
from iuran.programs import Program, load_program
from iuran.wilayah import villages

_FIRST = (
    "Abdullah", "Ahmad", "Amir", "Bahrul", "Darmawan", "Effendi", "Hasan", "Herman", "Junaidi",
    "Kgs. Rusli", "M. Yusuf", "Nasrul", "Rahmat", "Rusdi", "Sudirman", "Syamsul", "Zainal",
    "Aisyah", "Fatimah", "Hartini", "Masnah", "Nurhayati", "Rosmala", "Siti Aminah", "Yuliana",
)  # fmt: skip
_LAST = (
    "Hamid", "Saleh", "Arifin", "Harun", "Ibrahim", "Ismail", "Jamil", "Mansur", "Rasyid",
    "Somad", "Syukri", "Thalib", "Usman", "Wahab", "Yahya", "Zulkarnain",
)  # fmt: skip
#: headers as an operator types them (each a synonym `iuran.contacts` knows)
HEADERS = ["Kode Desa", "Nama Desa", "Nama Kepala Desa", "Bendahara", "E-mail", "No. HP"]


def demo_contacts(program: Program, seed: int = 18, without_email: float = 0.1) -> pd.DataFrame:
    """One row per village of the program: names drawn from a small Malay name list, e-mail
    `desa-<code>@<program>.iuran.example` except for a share `without_email` of villages."""
    v = villages(program.regency, desa_only=program.desa_only)
    rng = np.random.default_rng(seed)
    n = len(v)

    def names() -> np.ndarray:
        first = rng.choice(np.array(_FIRST, dtype=object), n)
        last = rng.choice(np.array(_LAST, dtype=object), n)
        return first + " " + last

    email = (
        "desa-"
        + v["kode_desa"].str.replace(".", "", regex=False)
        + f"@{program.code}.iuran.example"
    )
    phone = pd.Series(rng.integers(10**8, 10**9, n).astype(str)).radd("0812")
    return pd.DataFrame(
        {
            HEADERS[0]: v["kode_desa"].to_numpy(),
            HEADERS[1]: v["nama_desa"].to_numpy(),
            HEADERS[2]: names(),
            HEADERS[3]: names(),
            HEADERS[4]: email.where(rng.random(n) >= without_email, "").to_numpy(),
            HEADERS[5]: phone.to_numpy(),
        }
    )


def write_demo_contacts(program: Program, path: Path | None = None, seed: int = 18) -> Path:
    """Write the demo contacts (CSV) where the program looks for them, or to `path`."""
    target = path or contacts_path(program)
    if target is None:
        raise ValueError(f"program {program.code} names no contacts file (contacts:)")
    target.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(target, demo_contacts(program, seed).to_csv(index=False).encode("utf-8"))
    return target


if __name__ == "__main__":  # pragma: no cover - a demo helper
    args = sys.argv[1:]
    if not args:
        sys.exit("usage: python -m iuran.demo_contacts PROGRAM [PATH]")
    written = write_demo_contacts(load_program(args[0]), Path(args[1]) if len(args) > 1 else None)
    print(written)
