"""Where villages pay (Lahat), the village contacts file decides who receives what: each village with
an e-mail its own invoice, detail sheet and correction list; the others are named in the BKAD
digest with their invoices attached; every invoice is signed by its village head's name; a rerun
mails nothing twice."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import select

from iuran.budget import Budget
from iuran.config import ROOT
from iuran.db.models import Invoice, Notification
from iuran.db.session import session_scope
from iuran.generate import generate_rosters
from iuran.invoicing import _outcome, queue_invoice_mail
from iuran.mail.compose import build_message
from iuran.periods import Period
from iuran.programs import Program, load_program
from iuran.wilayah import villages
from tests.pipeline import run
from tests.unit.test_documents import pdf_text

MONTH = "2026-01"
#: pictures of the documents, kept to look at (git ignores test-output/)
PICTURES = ROOT / "test-output" / "village-invoices"


def lahat_with_contacts(
    tmp_path: Path, inbox: Path, district: bool = False
) -> tuple[Program, list[str], dict[str, str]]:
    """Lahat with a contacts file for the three villages that sent rosters: the first two with an
    e-mail, the third with a name but no e-mail; plus a row with an unknown code."""
    lahat = load_program("lahat")
    generate_rosters(
        lahat, Period.parse(MONTH), inbox, villages=3, per_village=8, faults=0.5, seed=18
    )
    codes = sorted(
        re.search(r"\d{2}\.\d{2}\.\d{2}\.\d{4}", p.name).group(0)  # type: ignore[union-attr]
        for p in (inbox / "lahat" / MONTH).iterdir()
    )
    assert len(codes) == 3
    heads = {codes[0]: "Zainal Arifin", codes[1]: "Siti Aminah", codes[2]: "Rusdi Hamid"}
    contacts = pd.DataFrame(
        {
            "Kode Desa": [c.replace(".", "") for c in codes] + ["99.99.99.9999"],
            "Nama Desa": ["a", "b", "c", "x"],
            "Nama Kepala Desa": [*heads.values(), "Nobody"],
            "Bendahara": ["Masnah", "Junaidi", "Hasan", "-"],
            "Alamat E-mail": [
                "desa1@desa.example",
                "desa2@desa.example; kades2@desa.example",
                "",
                "",
            ],
            "No. HP": ["081234567001", "081234567002", "081234567003", ""],
        }
    )
    if district:  # the third village's kecamatan has a contact
        contacts.loc[len(contacts)] = [
            codes[2][:8],
            "Kecamatan",
            "Camat",
            "",
            "camat@lahat.example",
            "",
        ]
    path = tmp_path / "kontak-desa.csv"
    contacts.to_csv(path, index=False)
    return lahat.model_copy(update={"contacts": str(path)}), codes, heads


def notifications(url: str) -> list[Notification]:
    with session_scope(url) as s:
        found = list(s.scalars(select(Notification).order_by(Notification.id)))
        s.expunge_all()
    return found


@pytest.mark.parametrize("signed_by", ["kepala_desa"])
def test_each_village_gets_its_own_invoice_and_corrections(
    database_url: str, tmp_path: Path, signed_by: str
) -> None:
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    lahat, codes, heads = lahat_with_contacts(tmp_path, inbox)
    names = villages(lahat.regency).set_index("kode_desa")["nama_desa"]
    run(database_url, lahat, MONTH, inbox, out)

    sent = notifications(database_url)
    own = [n for n in sent if n.event == "invoice_village"]
    assert sorted(n.idempotency_key.split(":")[-2] for n in own) == codes[:2]
    assert [n.to_addrs for n in own] == [
        ["desa1@desa.example"],
        ["desa2@desa.example", "kades2@desa.example"],
    ]
    for n, code in zip(own, codes[:2], strict=True):
        pdf, sheet, *fix = n.attachments
        assert pdf.endswith(".pdf") and sheet.endswith(".xlsx")
        assert fix == [str(out / "lahat" / MONTH / "penolakan" / f"penolakan-{code}.xlsx")]
        assert all(Path(a).is_file() for a in n.attachments)  # written by reports and render
        message = build_message(n, "iuran@lahat.iuran.example")
        body = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        assert f"Yth. Kepala Desa {names[code]} (Bapak/Ibu {heads[code]})" in body
        # its own rejected rows, each with its reason, the NIK masked (never 16 digits in a row)
        assert n.context["corrections_count"] > 0
        assert "Perbaikan roster desa" in body and n.context["corrections"][0]["message"] in body
        html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
        assert not re.search(r"(?<!\d)\d{16}(?!\d)", body + html + str(n.context))
        assert {r["file"] for r in n.context["corrections"]} <= {
            p.name for p in (inbox / "lahat" / MONTH).iterdir() if code in p.name
        } | {"(dibawa dari bulan sebelumnya)"}
        # the invoice in it is the village's own
        with session_scope(database_url) as s:
            inv = s.get(Invoice, n.invoice_id)
            assert inv is not None and inv.payer_key == code and inv.pdf_path == pdf
        text = " ".join(" ".join(pdf_text(Path(pdf).read_bytes())).split())
        assert f"Kepala Desa {names[code]} {heads[code]}" in text

    digests = [n for n in sent if n.event.startswith("invoice_") and n.event != "invoice_village"]
    assert len(digests) == 1
    bkad = digests[0]
    assert bkad.idempotency_key.endswith(":bkad") and bkad.to_addrs == ["bkad@lahat.iuran.example"]
    assert [u["kode_desa"] for u in bkad.context["unreached"]] == [codes[2]]
    assert bkad.context["reached"] == 2
    third = next(n for n in bkad.attachments if n.endswith(".pdf") and "laporan" not in n)
    body = build_message(bkad, "iuran@lahat.iuran.example").get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert f"{codes[2]} {names[codes[2]]}" in body and "tidak ada alamat e-mail yang sah" in body
    assert "baris 5 (99.99.99.9999)" in body  # the unknown code of the contacts file, by its row
    assert "081234567" not in body + str(bkad.context)  # phones never travel
    # the third village has a head in the file: its invoice is signed by name too
    text = " ".join(" ".join(pdf_text(Path(third).read_bytes())).split())
    assert f"Kepala Desa {names[codes[2]]} {heads[codes[2]]}" in text

    if shutil.which("pdftoppm"):  # a page to look at
        PICTURES.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["pdftoppm", "-r", "60", "-f", "1", "-l", "1", "-png", own[0].attachments[0],
             str(PICTURES / f"tagihan-{codes[0]}")],
            check=True,
        )  # fmt: skip
        assert (PICTURES / f"tagihan-{codes[0]}-1.png").stat().st_size > 0

    # a rerun sends nothing new; queueing the same invoices again adds nothing either
    run(database_url, lahat, MONTH, inbox, out)
    assert [n.idempotency_key for n in notifications(database_url)] == [
        n.idempotency_key for n in sent
    ]
    with session_scope(database_url) as s:
        issued = [_outcome(i, "issued") for i in s.scalars(select(Invoice))]
        budget = Budget(0, 0, 0, 0, 0, 0)
        assert queue_invoice_mail(s, lahat, Period.parse(MONTH), issued, budget) == 0


def test_without_a_contact_the_invoice_keeps_the_title_and_the_digest_says_so(
    database_url: str, tmp_path: Path
) -> None:
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    lahat = load_program("lahat").model_copy(update={"contacts": str(tmp_path / "none.csv")})
    generate_rosters(lahat, Period.parse(MONTH), inbox, villages=2, per_village=5, seed=3)
    run(database_url, lahat, MONTH, inbox, out)
    sent = [n for n in notifications(database_url) if n.event.startswith("invoice_")]
    assert [n.event for n in sent] == ["invoice_issued"]  # today's one digest to BKAD
    assert {u["reason"] for u in sent[0].context["unreached"]} == {"tidak ada kontak desa"}
    assert "none.csv: berkas kontak desa tidak ditemukan" in sent[0].context["contact_note"]
    pdf = next(a for a in sent[0].attachments if "TAG" in a)
    text = " ".join(" ".join(pdf_text(Path(pdf).read_bytes())).split())
    # today's title, an empty line to sign by hand (typst sets the dots as ellipses)
    assert re.search(r"Kepala Desa selaku Pengguna Anggaran Dana Desa \( [.…]+ \)", text)


def test_a_kecamatan_with_a_contact_receives_its_unreached_villages(
    database_url: str, tmp_path: Path
) -> None:
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    lahat, codes, _ = lahat_with_contacts(tmp_path, inbox, district=True)
    run(database_url, lahat, MONTH, inbox, out, render=False)
    sent = {n.idempotency_key.rsplit(":", 1)[-1]: n for n in notifications(database_url)}
    camat = sent["kecamatan"]
    assert camat.to_addrs == ["camat@lahat.example"]
    assert [u["kode_desa"] for u in camat.context["unreached"]] == [codes[2]]
    assert len(camat.attachments) == 1 and "TAG" in camat.attachments[0]
    assert sent["bkad"].context["unreached"][0]["district"] is True
