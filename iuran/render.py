"""The cycle's render step spread over processes: many invoices' documents written at once.

`iuran.documents` builds each invoice's document from the records and says how one is rendered and
written (`write_invoice_files`); this module only runs that job over worker processes, one per core
(`iuran.config.render_workers`, `IURAN_RENDER_WORKERS`), and hands the results back in order so the
caller marks each invoice rendered as its files land. A typst compile holds a core for most of an
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
from typing import TypeVar

Job = TypeVar("Job")
Done = TypeVar("Done")

#: Fewer invoices than this a worker are written in the calling process: the pool's start (the fork
#: server's imports ~1 s the first time in a process, then ~0.2 s a worker with its first compile)
#: would cost more than the core it adds saves (~12 ms an invoice on two cores).
MIN_PER_WORKER = 40
#: Chunks a worker gets: a few, so that a worker that drew large invoices does not finish last alone.
CHUNKS_PER_WORKER = 4
#: The modules the fork server imports once, before it forks any worker.
PRELOAD = ["iuran.documents"]


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
