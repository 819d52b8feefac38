"""The cycle's render step (`render_pending`): every live invoice's documents written, spread over
processes, many at once.

`iuran.documents` says how one invoice's document is built, checked, rendered and written
(`write_invoice_files`, `write_job`); this module reads what is pending from the records and runs
that job over worker processes, one per core (`iuran.config.render_workers`,
`IURAN_RENDER_WORKERS`), with the results handed back in order so each invoice is marked rendered
as its files land. A typst compile holds a core for most of an
invoice's time, and the rest (payload, detail sheet) holds the GIL, so threads gain little; processes
gain a core each.

Workers are forked from multiprocessing's fork server, which imports the rendering code once per
process that renders (the first pool of a process costs that import, ~1 s; later ones ~0.1 s). Not
plain `fork`: the parent may already run typst's and Prefect's threads, and a fork of a threaded
process can deadlock; not `spawn`: each worker would import pandas, SQLAlchemy and typst again.
Each worker builds its typst compiler once (`warm`) and takes the parent's environment as it is at
render time (fault points, settings), not the fork server's from when it started.

What a worker writes is atomic per file (`iuran.files`); if a worker dies the pool breaks, the
caller's transaction is not committed, and the next run renders what has no files or no mark.
"""

from __future__ import annotations

import datetime as dt
import math
import multiprocessing
import multiprocessing.context
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import contextmanager
from multiprocessing import forkserver
from pathlib import Path
from typing import TypeVar

import pandas as pd
from sqlalchemy import select

from iuran import faults
from iuran.budget import compute_budget
from iuran.config import render_workers
from iuran.contacts import read_contacts
from iuran.db.models import ContributionLine, Invoice, Participant
from iuran.db.session import session_scope
from iuran.documents import (
    RENDER_THREADS,
    InvoiceDocument,
    VillageSummary,
    signatory_of,
    warm_compiler,
    write_job,
)
from iuran.files import sweep_temps
from iuran.invoicing import live_invoices
from iuran.periods import Period
from iuran.programs import Program
from iuran.wilayah import villages

Job = TypeVar("Job")
Done = TypeVar("Done")

#: Fewer invoices than this a worker are written in the calling process: the pool's start (the fork
#: server's imports ~1 s the first time in a process, then ~0.2 s a worker with its first compile)
#: would cost more than the core it adds saves (~12 ms an invoice on two cores).
MIN_PER_WORKER = 40
#: Chunks a worker gets: a few, so that a worker that drew large invoices does not finish last alone.
CHUNKS_PER_WORKER = 4
#: The modules the fork server imports once, before it forks any worker.
PRELOAD = ["iuran.render"]  # and with it `iuran.documents`


def _preload() -> list[str]:
    """`PRELOAD` and the main module's imports: a worker runs the main script (or `-m` module) again,
    as multiprocessing does, and with what it imports already loaded that costs little (the `iuran`
    command imports its CLI, the Prefect engine all of Prefect: ~1 s a worker otherwise). A `-m`
    module's package, not the module: runpy warns when it runs a module already imported."""
    main = getattr(sys.modules["__main__"].__spec__, "name", None) or ""
    package = main.rpartition(".")[0]
    return ["__main__", *([package] if package else []), *PRELOAD]


def processes_for(jobs: int, workers: int) -> int:
    """How many processes render `jobs` invoices given `workers` allowed: 1 (the calling process)
    unless every process gets at least `MIN_PER_WORKER` invoices."""
    return max(1, min(workers, jobs // MIN_PER_WORKER))


def _leave_with_parent(parent: int) -> None:
    """A worker whose parent (the fork server, which leaves with the cycle's process) is gone exits:
    a cycle killed mid-render leaves no idle worker behind."""
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(0)


def _start(environment: dict[str, str], warm: Callable[[], object]) -> None:
    os.environ.clear()
    os.environ.update(environment)
    threading.Thread(target=_leave_with_parent, args=(os.getppid(),), daemon=True).start()
    warm()


def _context() -> multiprocessing.context.ForkServerContext:
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(_preload())
    return context


def prepare(processes: int) -> None:
    """Start the fork server now if workers will be needed, so that it imports the rendering code
    while the caller reads the invoices (the first render of a process would otherwise wait ~1 s)."""
    if processes > 1:
        _context()
        forkserver.ensure_running()


@contextmanager
def write_all(
    write: Callable[[Job], Done],
    jobs: Sequence[Job],
    processes: int,
    warm: Callable[[], object],
    threads: int,
) -> Iterator[Iterator[Done]]:
    """`write(job)` for every job, results in the jobs' order: in `processes` worker processes, or
    with one, in `threads` threads of the calling process (typst releases the GIL while it compiles).

    `write` and `warm` must be module-level functions (they are pickled by name); `warm` runs once
    in each worker before its first job (the typst compiler, the template). If the caller leaves
    early (an error), what has not started is cancelled.

    Like every use of multiprocessing: a script that renders must keep its top level under
    `if __name__ == "__main__":`, as a worker imports the main script (the `iuran` command, the
    Prefect engine, `python -m` modules and pytest do).
    """
    pool: Executor
    if processes > 1:
        pool = ProcessPoolExecutor(
            max_workers=processes,
            mp_context=_context(),
            initializer=_start,
            initargs=(dict(os.environ), warm),
        )
        chunk = max(1, math.ceil(len(jobs) / (processes * CHUNKS_PER_WORKER)))
    else:
        pool, chunk = ThreadPoolExecutor(max_workers=threads), 1
    try:
        yield pool.map(write, jobs, chunksize=chunk)
    finally:
        pool.shutdown(cancel_futures=True)


def needs_rendering(inv: Invoice) -> bool:
    """Not rendered yet, or a file of it is gone (someone may have deleted one)."""
    pdf = Path(inv.pdf_path or "")
    return inv.rendered_at is None or not (pdf.is_file() and pdf.with_suffix(".xlsx").is_file())


def render_pending(
    database_url: str, program: Program, period: Period, workers: int | None = None
) -> list[str]:
    """Write the PDF and detail sheet of every live invoice not rendered yet, or whose files are gone
    (a rerun after a crash, or after someone deleted a document, picks up exactly what is missing).

    Spread over `workers` processes (default `IURAN_RENDER_WORKERS`, the cores: `iuran.render`) when
    there are enough invoices; the invoices are marked rendered in their order as their files land,
    in the one transaction, whichever process wrote them."""
    written: list[str] = []
    with session_scope(database_url) as session:
        pending = [i for i in live_invoices(session, program, period) if needs_rendering(i)]
        if not pending:
            return written
        processes = processes_for(len(pending), render_workers() if workers is None else workers)
        prepare(processes)
        result = session.execute(
            select(
                ContributionLine.invoice_id,
                Participant.nik,
                Participant.nama,
                Participant.tanggal_lahir,
                Participant.jenis_kelamin,
                ContributionLine.kode_desa,
                ContributionLine.pekerjaan,
                ContributionLine.penghasilan_dilaporkan,
                ContributionLine.penghasilan,
                ContributionLine.jkk,
                ContributionLine.jkm,
                ContributionLine.jht,
                ContributionLine.discount,
                ContributionLine.total,
                ContributionLine.rule_id,
            )
            .join(Participant, Participant.id == ContributionLine.participant_id)
            .where(ContributionLine.invoice_id.in_([i.id for i in pending]))
            .order_by(ContributionLine.invoice_id, ContributionLine.kode_desa, Participant.nama)
        )
        all_lines = pd.DataFrame(result.fetchall(), columns=list(result.keys()))
        names = villages(program.regency).set_index("kode_desa")
        all_lines["nama_desa"] = all_lines["kode_desa"].map(names["nama_desa"]).fillna("")
        all_lines["nama_kecamatan"] = all_lines["kode_desa"].map(names["nama_kecamatan"]).fillna("")
        # Grouped once for all invoices: a groupby per invoice costs ~10 ms, as much as its PDF.
        at = all_lines.groupby("invoice_id", sort=False).indices
        detail = all_lines.drop(columns="invoice_id")
        parts = ["jkk", "jkm", "jht", "discount"]
        sums = all_lines.groupby("invoice_id")[parts].sum().astype("int64").to_dict("index")
        village_rows = (
            all_lines.groupby(
                ["invoice_id", "kode_desa", "nama_desa", "nama_kecamatan"], sort=True
            )["total"]
            .agg(["size", "sum"])
            .reset_index()
        )
        summaries: dict[int, list[VillageSummary]] = {}
        for r in village_rows.itertuples():
            summaries.setdefault(int(r.invoice_id), []).append(
                VillageSummary(r.kode_desa, r.nama_desa, r.nama_kecamatan, int(r.size), int(r.sum))
            )
        budget = compute_budget(
            session,
            program,
            period,
            sum(i.total for i in pending if i.kind == "regular"),
            sum(i.participants for i in pending if i.kind == "regular"),
        )
        contacts = read_contacts(program) if program.payer == "village" else None
        docs: list[tuple[Invoice, InvoiceDocument]] = []
        for inv in pending:
            lines = detail.iloc[at.get(inv.id, [])].reset_index(drop=True)
            totals = sums.get(inv.id, dict.fromkeys(parts, 0))
            doc = InvoiceDocument(
                number=inv.number,
                revision=inv.revision,
                kind=inv.kind,
                program_name=program.name,
                regency_name=program.regency_name,
                funding_source=program.year_of(period).funding_source,
                discount_note=program.discount_note(period),
                credit_applied=int(inv.credit_applied or 0),
                payer_name=inv.payer_name,
                period_label=period.label,
                issue_date=inv.issue_date,
                due_date=inv.due_date,
                total=inv.total,
                participants=inv.participants,
                jkk_total=int(totals["jkk"]),
                jkm_total=int(totals["jkm"]),
                jht_total=int(totals["jht"]),
                discount_total=int(totals["discount"]),
                villages=tuple(summaries.get(inv.id, ())),
                lines=lines,
                payee=program.payee,
                signatory=signatory_of(program, contacts, inv.payer_key, names["nama_desa"]),
                budget=budget.as_dict() if program.payer == "regency" else None,
                change_note=inv.change_note,
            )
            docs.append((inv, doc))

        for folder in {Path(inv.pdf_path or "").parent for inv, _ in docs}:
            folder.mkdir(parents=True, exist_ok=True)
            sweep_temps(folder)

        jobs = [(doc, Path(inv.pdf_path or "")) for inv, doc in docs]
        with write_all(write_job, jobs, processes, warm_compiler, RENDER_THREADS) as paths:
            for (inv, _), pdf in zip(docs, paths, strict=True):
                faults.point("documents.written")
                inv.rendered_at = dt.datetime.now(dt.UTC)
                written.append(str(pdf))
                faults.point("documents.marked")
        faults.point("documents.before_commit")
    return written
