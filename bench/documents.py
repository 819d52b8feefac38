"""Case 3: invoice documents rendered per second per core, in one process.

The smallest real invoice: one Lahat village with 10 workers, priced by `iuran.pricing`, a different
village each time. Its PDF is the cover page plus a one-page attachment (the 10 workers' detail). Rates are per core: the
documents rendered divided by the CPU seconds the process used (typst may use a second thread), or
by the wall seconds if that is larger.

Then the cycle's render step as `iuran.render.render_pending` runs it (`iuran.render.write_all`):
other pairs in the cycle's own process (threads, `IURAN_RENDER_WORKERS=1`) and others again in one
worker process a core; the pool's start-up (fork server, typst compiler) is timed apart. Each set
is new to the process that renders it (typst memoises), so the three rates compare like with like.
"""

from __future__ import annotations

import datetime as dt
import re
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import data


def sample_documents(count: int, workers: int = 10) -> list[tuple[Any, str]]:
    """`count` one-village invoices of `workers` lines, each a different Lahat village (typst
    memoises: rendering the same document again costs a third of a new one, so none repeats)."""
    from iuran.documents import InvoiceDocument, VillageSummary
    from iuran.generate import build_rosters
    from iuran.invoicing import document_stem, invoice_number
    from iuran.pricing import price_lines
    from iuran.programs import load_program
    from iuran.wilayah import villages

    program = load_program(data.LAHAT)
    period = data.LAHAT_PERIOD
    names = villages(program.regency).set_index("kode_desa")
    rosters = build_rosters(program, period, villages=count, per_village=workers, seed=data.SEED)
    out = []
    for seq, roster in enumerate(rosters, 1):
        people = roster.frame.drop(columns="fault")
        people["pekerjaan"] = people["pekerjaan"].astype("string")
        lines = price_lines(people, program, period)
        lines["nama_desa"] = lines["kode_desa"].map(names["nama_desa"])
        money = ("penghasilan", "jkk", "jkm", "jht", "discount", "total")
        lines = lines.astype(dict.fromkeys(money, "int64")).reset_index(drop=True)
        kode = roster.kode_desa
        number = invoice_number(seq, program, period)
        doc = InvoiceDocument(
            number=number,
            revision=0,
            kind="regular",
            program_name=program.name,
            regency_name=program.regency_name,
            funding_source=program.year_of(period).funding_source,
            payer_name="Pemerintah Desa " + str(names.loc[kode, "nama_desa"]),
            period_label=period.label,
            issue_date=dt.date(2025, 9, 2),
            due_date=period.due_date,
            total=int(lines["total"].sum()),
            participants=len(lines),
            jkk_total=int(lines["jkk"].sum()),
            jkm_total=int(lines["jkm"].sum()),
            jht_total=int(lines["jht"].sum()),
            discount_total=int(lines["discount"].sum()),
            villages=(
                VillageSummary(
                    kode,
                    str(names.loc[kode, "nama_desa"]),
                    str(names.loc[kode, "nama_kecamatan"]),
                    len(lines),
                    int(lines["total"].sum()),
                ),
            ),
            lines=lines,
            payee=program.payee,
            signatory=program.signatory,
        )
        out.append((doc, document_stem(number, 0)))
    return out


def _pages(pdf: bytes) -> int:
    try:
        import io

        import pypdf

        return len(pypdf.PdfReader(io.BytesIO(pdf)).pages)
    except ImportError:  # pypdf is a dev dependency
        return len(re.findall(rb"/Type\s*/Page\b", pdf))


def _rate(n: int, wall: float, cpu: float) -> float:
    return round(n / max(wall, cpu), 1) if n else 0.0


def run(quick: bool = False) -> dict[str, Any]:
    from iuran.config import render_workers
    from iuran.documents import (
        RENDER_THREADS,
        render_invoice_pdf,
        warm_compiler,
        write_invoice_files,
        write_job,
    )
    from iuran.render import write_all

    n_pdf, n_pair = (20, 10) if quick else (100, 80)  # Lahat has 360 villages: 343 drawn
    docs = sample_documents(n_pdf + 3 * n_pair + 3)
    warm, pdfs = docs[:3], docs[3 : 3 + n_pdf]
    pairs, threaded, pooled = (
        docs[3 + n_pdf + i * n_pair : 3 + n_pdf + (i + 1) * n_pair] for i in range(3)
    )
    n_pdf, n_pair = len(pdfs), len(pairs)
    for doc, _ in warm:  # the compiler parses the template and loads its fonts once
        pdf = render_invoice_pdf(doc)

    t, c = time.perf_counter(), time.process_time()
    for doc, _ in pdfs:
        render_invoice_pdf(doc)
    pdf_wall, pdf_cpu = time.perf_counter() - t, time.process_time() - c

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        t, c = time.perf_counter(), time.process_time()
        for doc, stem in pairs:
            write_invoice_files(doc, folder, stem)
        pair_wall, pair_cpu = time.perf_counter() - t, time.process_time() - c
        xlsx_bytes = (folder / f"{pairs[0][1]}.xlsx").stat().st_size

        def jobs(batch: list[tuple[Any, str]]) -> list[tuple[Any, Path]]:
            return [(doc, folder / f"{stem}.pdf") for doc, stem in batch]

        # the cycle's own process, as with IURAN_RENDER_WORKERS=1
        t = time.perf_counter()
        with write_all(write_job, jobs(threaded), 1, warm_compiler, RENDER_THREADS) as done:
            list(done)
        threads_wall = time.perf_counter() - t
        # one worker process a core: start-up (fork server, compiler) timed apart from rendering
        cores = render_workers()
        t = time.perf_counter()
        with write_all(write_job, jobs(warm), cores, warm_compiler, RENDER_THREADS) as done:
            list(done)
        pool_start = time.perf_counter() - t
        t = time.perf_counter()
        with write_all(write_job, jobs(pooled), cores, warm_compiler, RENDER_THREADS) as done:
            list(done)
        pool_wall = time.perf_counter() - t

    return {
        "lines": len(warm[0][0].lines),
        "pages": _pages(pdf),
        "pdf_bytes": len(pdf),
        "xlsx_bytes": xlsx_bytes,
        "pdf_n": n_pdf,
        "pdf_wall_s": round(pdf_wall, 3),
        "pdf_cpu_s": round(pdf_cpu, 3),
        "pdf_per_s_per_core": _rate(n_pdf, pdf_wall, pdf_cpu),
        "pdf_ms": round(1000 * max(pdf_wall, pdf_cpu) / n_pdf, 2),
        "pair_n": n_pair,
        "pair_per_s_per_core": _rate(n_pair, pair_wall, pair_cpu),
        "pair_ms": round(1000 * max(pair_wall, pair_cpu) / n_pair, 2),
        "threads": RENDER_THREADS,
        "threads_pairs_per_s": round(n_pair / threads_wall, 1) if threads_wall else 0.0,
        "pool_processes": cores,
        "pool_start_s": round(pool_start, 3),
        "pool_pairs_per_s": round(n_pair / pool_wall, 1) if pool_wall else 0.0,
        "pool_vs_threads": round(threads_wall / pool_wall, 2) if pool_wall else 0.0,
    }
