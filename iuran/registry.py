"""Reading and writing the registry in bulk: whole frames in, a handful of statements out.

Why one module of ~650 lines: every read and write here goes through the same few fast paths
(`read_frame` and `in_list` for reads, `bulk_insert` with SQLite's date text for writes), measured
against a country's registry; they are what the module is, and the writers of each table are a
screen of code each on top of them.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sized
from pathlib import Path
from typing import Any, cast

import pandas as pd
from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    String,
    Table,
    any_,
    bindparam,
    delete,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import InstrumentedAttribute, Session

from iuran import faults
from iuran.bpjs_status import STATUS_COLUMNS, read_status_list
from iuran.conflicts import find_conflicts
from iuran.db.bulk import copy_insert, copy_insert_new, copy_update
from iuran.db.models import (
    REGISTRY_CHANGE,
    ConflictStatus,
    ContributionLine,
    Cycle,
    LineSource,
    Membership,
    Participant,
    RegistryConflict,
    Rejection,
    RosterFile,
)
from iuran.db.session import session_scope
from iuran.db.upsert import insert_or_ignore
from iuran.nik import isin_text, mask_series
from iuran.periods import Period
from iuran.programs import Program
from iuran.reconcile import (
    VILLAGE_SOURCE,
    Reconciled,
    Registry,
    list_source,
    reconcile,
    status_frame,
)
from iuran.wilayah import normalize_kode_desa

#: `is_current` spelled as the partial index `uq_line_current` spells it: SQLite uses a partial index
#: only for the very same term, and SQLAlchemy writes `ContributionLine.is_current` as `is_current = 1`
#: there, which scans every line of every program (0.7 s a query at 8 million lines).
IS_CURRENT = text("contribution_line.is_current")


def read_frame(conn: Connection, query: Select) -> pd.DataFrame:
    """A query's rows as a frame. Dates come as ISO text on SQLite: callers convert them."""
    plain = _driver_rows(conn, query)
    if plain is not None:
        keys, tuples = plain
        return pd.DataFrame.from_records(tuples, columns=keys, coerce_float=False)
    result = conn.execute(query)
    keys = list(result.keys())
    rows = result.fetchall()
    if rows:  # column by column: ~3x faster than a frame from a list of Row objects
        df = pd.DataFrame(dict(enumerate(list(c) for c in zip(*rows, strict=True))))
        df.columns = pd.Index(keys)
        return df
    return pd.DataFrame(rows, columns=keys)


def _driver_rows(conn: Connection, query: Select) -> tuple[list[str], list[tuple]] | None:
    """The rows as the driver returns them: SQLAlchemy makes a Row object and runs the type
    conversions of each value (~2.5 µs a row, a third of a month's registry reads). Only for plain
    bound values (text, numbers; on PostgreSQL also the arrays of `in_list`), which need no
    conversion on the way in; on PostgreSQL only for columns SQLAlchemy does not convert on the
    way out either (psycopg's dates are SQLAlchemy's). Else None."""
    dialect = conn.dialect.name
    if dialect not in ("sqlite", "postgresql"):
        return None
    # `IN (<list>)` parameters rendered one by one: the driver knows no SQLAlchemy post-compile
    compiled = query.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    params = compiled.construct_params()
    values: list[Any] | dict[str, Any]
    if dialect == "sqlite":
        values = [params[name] for name in compiled.positiontup or ()]
        plain = values
    else:
        values, plain = dict(params), [x for v in params.values() for x in _items(v)]
        out = (c.type.dialect_impl(conn.dialect) for c in query.selected_columns)
        if any(t.result_processor(conn.dialect, None) is not None for t in out):
            return None
    if not all(v is None or isinstance(v, str | int | float) for v in plain):
        return None
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(compiled.string, values)
        return [d[0] for d in cursor.description], cursor.fetchall()
    finally:
        cursor.close()


def _items(value: object) -> list[object]:
    return list(value) if isinstance(value, list) else [value]


def in_list(
    conn: Connection, column: InstrumentedAttribute[Any], values: list[Any]
) -> ColumnElement[bool]:
    """`column IN <values>` as one bound value, whatever their number.

    SQLite gets one JSON array (`json_each`), PostgreSQL one array (as text: `array_literal`):
    SQLAlchemy compiles and binds a list of 5,000 parameters at ~13 µs a value, and a temporary
    table costs an insert a value.
    Sorted, so the index probes walk the index in order (2-4x fewer page visits than at random).
    """
    values = sorted(values)
    if conn.dialect.name == "sqlite":
        listed = func.json_each(bindparam(None, json.dumps(values), type_=String))
        return column.in_(select(listed.table_valued("value").c.value))
    array = postgresql.ARRAY(column.type)
    literal = array_literal(values)
    if literal is None:
        return column == any_(bindparam(None, values, type_=array))
    # a subquery, evaluated once: `= ANY(CAST(…))` is not folded at planning (the cast is only
    # stable), and a scan that filters by it parses the whole list again for every row it reads
    listed = func.unnest(sql_cast(bindparam(None, literal, type_=String), array))
    return column.in_(select(listed))


def array_literal(values: list[Any]) -> str | None:
    """PostgreSQL's text form of an array of these texts or integers (`{"a","b"}`, `{1,2}`), built
    by joins over the whole list; None for other values (or a mix), which go as an array.

    Why: psycopg dumps a list bound as an array element by element in Python (a type check and a
    quoting regex each, ~6 µs a value: a fifth of the national writer's CPU on PostgreSQL, for the
    NIK lists of `load_registry` and `ensure_participants`); one text parameter cast to the array
    type is parsed by the server instead, once (`in_list` unnests it in a subquery). Every text is quoted, `\\` and `"` escaped (the word
    NULL or a comma inside a text stay text); NUL, which PostgreSQL texts cannot hold, separates."""
    kinds = set(map(type, values))
    if kinds <= {int}:
        return "{" + ",".join(map(str, values)) + "}"
    if kinds != {str}:
        return None
    joined = "\x00".join(values)
    if joined.count("\x00") != len(values) - 1:  # a value held a NUL
        return None
    escaped = joined.replace("\\", "\\\\").replace('"', '\\"')
    return '{"' + escaped.replace("\x00", '","') + '"}'


def _nik_in(conn: Connection, niks: Iterable[str]) -> ColumnElement[bool]:
    return in_list(
        conn, Participant.nik, pd.Series(niks, dtype="object").dropna().unique().tolist()
    )


def _by_nik(
    conn: Connection,
    base: Select,
    niks: Iterable[str] | ColumnElement[bool],
    columns: list[str],
) -> pd.DataFrame:
    """`base` for these NIKs (or an `_nik_in` already built, when several queries share a list);
    no NIKs, no query."""
    if isinstance(niks, Sized) and not len(niks):
        df = pd.DataFrame()
    else:
        where = niks if isinstance(niks, ColumnElement) else _nik_in(conn, niks)
        df = read_frame(conn, base.where(where))
    if not len(df):
        return pd.DataFrame({c: pd.Series(dtype="string") for c in columns})
    return df.astype("string")


def load_registry(session: Session, program: Program, period: Period, niks: pd.Series) -> Registry:
    conn = session.connection()
    prev_period = str(period.shift(-1))
    previous = read_frame(
        conn,
        select(
            Participant.nik,
            Participant.nama,
            Participant.tanggal_lahir,
            Participant.jenis_kelamin,
            ContributionLine.pekerjaan,
            ContributionLine.kode_desa,
            ContributionLine.penghasilan,
            LineSource.sumber,
        )
        .join(Participant, Participant.id == ContributionLine.participant_id)
        .outerjoin(
            LineSource,
            (LineSource.participant_id == ContributionLine.participant_id)
            & (LineSource.program == program.code)
            & (LineSource.period == prev_period),
        )
        .where(
            ContributionLine.program == program.code,
            ContributionLine.period == prev_period,
            IS_CURRENT,
        ),
    )
    if len(previous):
        previous = previous.astype(
            {
                "nik": "string",
                "nama": "string",
                "jenis_kelamin": "string",
                "pekerjaan": "string",
                "kode_desa": "string",
                "penghasilan": "Int64",
                "sumber": "string",
            }
        )
        previous["sumber"] = previous["sumber"].fillna(VILLAGE_SOURCE)  # no row: the village's
        previous["tanggal_lahir"] = pd.to_datetime(previous["tanggal_lahir"])
    else:
        previous = Registry.empty().previous
    # Home village: where each NIK was last billed before this period. Never the membership's latest
    # village, which a later period may have moved: a rerun of this period must decide the same.
    # Last period's line says it for most workers; only the others are looked up in older periods
    # (the lookup returns every earlier line of a NIK: a year's worth for a long-standing worker).
    niks = pd.Series(pd.Series(niks, dtype="string").dropna().unique(), dtype="string")
    returning = niks[~isin_text(niks, previous["nik"])]
    before_prev = (
        ContributionLine.program == program.code,
        ContributionLine.period < prev_period,
        IS_CURRENT,
    )
    # A program's first two months have no older lines: no lookup then (a list of every NIK)
    any_older = session.scalar(select(ContributionLine.id).where(*before_prev).limit(1))
    older = _by_nik(
        conn,
        select(Participant.nik, ContributionLine.kode_desa, ContributionLine.period)
        .join(Participant, Participant.id == ContributionLine.participant_id)
        .where(*before_prev),
        returning if any_older is not None else [],
        ["nik", "kode_desa", "period"],
    )
    older = older.sort_values("period").drop_duplicates("nik", keep="last")
    members = pd.concat(
        [previous[["nik", "kode_desa"]], older[["nik", "kode_desa"]]], ignore_index=True
    ).astype("string")
    # NIKs the registry has never seen match nothing below: each costs one index probe, no scan.
    wanted = _nik_in(conn, pd.concat([niks, previous["nik"]]))  # one list for both queries
    elsewhere = _by_nik(
        conn,
        select(Participant.nik, ContributionLine.program)
        .join(Participant, Participant.id == ContributionLine.participant_id)
        .where(
            ContributionLine.period == str(period),
            ContributionLine.program != program.code,
            IS_CURRENT,  # as `ix_line_participant_period` spells it: a lookup per NIK, not a scan
        ),
        wanted,
        ["nik", "program"],
    )
    status = _by_nik(
        conn,
        select(
            Participant.nik, Participant.bpjs_status, Participant.bpjs_status_date.label("tanggal")
        ).where(Participant.bpjs_status != "aktif"),
        wanted,
        STATUS_COLUMNS,
    )
    status = status_frame(status)
    return Registry(members=members, previous=previous, elsewhere=elsewhere, status=status)


def decide(
    database_url: str,
    rows: pd.DataFrame,
    accepted: pd.DataFrame,
    program: Program,
    period: Period,
    folder: Path | None = None,
) -> Reconciled:
    """Reconcile this period's accepted rows against the registry and BPJS's status list."""
    status, notes = read_status_list(folder) if folder is not None else (None, [])
    if status is not None:
        # An undated status is BPJS's word as of this period's list: in force from this period on,
        # never for an earlier month a later rerun bills again (`iuran.reconcile.in_force`).
        status["tanggal"] = status["tanggal"].fillna(
            pd.Timestamp(period.first_day - dt.timedelta(days=1))
        )
    with session_scope(database_url) as session:
        registry = load_registry(session, program, period, accepted["nik"])
    if status is not None and len(status):
        registry = registry.with_status_list(status)
    # A village is heard from when its own roster came; a partner OPD's list naming it is not that.
    lists = list_source(rows["source_file"]) if len(rows) else pd.Series([], dtype="string")
    own = rows.loc[lists.eq(VILLAGE_SOURCE).to_numpy()] if len(rows) else rows
    received = set(normalize_kode_desa(own["kode_desa"]).dropna().unique()) if len(own) else set()
    heard = frozenset(lists.loc[lists.ne(VILLAGE_SOURCE)].unique().tolist())
    decided = reconcile(accepted, received, registry, program, period, heard)
    faults.point("reconcile.done")
    return decided.with_status_list(status, notes)


def bulk_insert(
    session: Session,
    table: Table,
    columns: list[str],
    rows: list[tuple[object, ...]],
    ignore_conflict: list[str] | None = None,
) -> int:
    """Insert many rows of plain values (int, str, bool, date, None), every column given.

    On SQLite the rows go straight to the driver's executemany: SQLAlchemy's per-row parameter
    handling costs about twice the insert itself (dates are written as SQLAlchemy writes them, ISO
    text). PostgreSQL takes them through `COPY` (`iuran.db.bulk`), others SQLAlchemy Core.
    `ignore_conflict`: skip rows that would violate the unique index on those columns. Returns the
    rows inserted as the driver counts them (exactly on SQLite and PostgreSQL; an executemany
    elsewhere may say -1).
    """
    if not rows:
        return 0
    conn = session.connection()
    if conn.dialect.name == "sqlite":
        quote = conn.dialect.identifier_preparer.quote
        names = ", ".join(quote(c) for c in columns)
        marks = ", ".join("?" for _ in columns)
        tail = ""
        if ignore_conflict:
            tail = f" ON CONFLICT ({', '.join(quote(c) for c in ignore_conflict)}) DO NOTHING"
        result = conn.exec_driver_sql(
            f"INSERT INTO {quote(table.name)} ({names}) VALUES ({marks}){tail}",
            rows if not _has_dates(rows[0]) else [_sqlite_row(r) for r in rows],
        )
        return int(result.rowcount)
    if conn.dialect.name == "postgresql":
        return copy_insert(conn, table.name, columns, rows, ignore_conflict)
    stmt = insert_or_ignore(session, table, ignore_conflict) if ignore_conflict else insert(table)
    return int(conn.execute(stmt, [dict(zip(columns, r, strict=True)) for r in rows]).rowcount)


def bulk_update(
    session: Session, model: type[Any], columns: list[str], rows: list[tuple[object, ...]]
) -> None:
    """Update many rows of `model`'s table by id: each row is (id, *values of `columns`).

    PostgreSQL takes them in one `UPDATE … FROM` a COPY-filled staging table (`iuran.db.bulk`);
    SQLite the ORM's update by primary key (an executemany).
    """
    if not rows:
        return
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        copy_update(conn, model.__table__.name, "id", columns, rows)
        return
    session.execute(update(model), [dict(zip(["id", *columns], r, strict=True)) for r in rows])


def _has_dates(row: tuple[object, ...]) -> bool:
    return any(isinstance(v, dt.date) for v in row)


def _sqlite_row(row: tuple[object, ...]) -> tuple[object, ...]:
    """Dates and datetimes as SQLAlchemy's SQLite types store them (and read them back)."""
    return tuple(
        v.strftime("%Y-%m-%d %H:%M:%S.%f")
        if isinstance(v, dt.datetime)
        else v.isoformat()
        if isinstance(v, dt.date)
        else v
        for v in row
    )


def participant_ids(session: Session, niks: Iterable[str]) -> pd.Series:
    """NIK → participant id for the NIKs the registry knows."""
    ids = _by_nik(
        session.connection(), select(Participant.nik, Participant.id), niks, ["nik", "id"]
    )
    return ids.set_index("nik")["id"].astype("int64")


def ensure_participants(session: Session, people: pd.DataFrame) -> tuple[pd.Series, pd.DataFrame]:
    """Insert the NIKs the registry does not know yet.

    Returns NIK → participant id, and what the registry held for the NIKs it knew before (nik, nama,
    tanggal_lahir): only those can disagree with the roster (`record_conflicts`).
    """
    rows = (
        people[["nik", "nama", "tanggal_lahir", "jenis_kelamin"]]
        .drop_duplicates("nik")
        .assign(tanggal_lahir=lambda d: pd.to_datetime(d["tanggal_lahir"]).dt.date)
    )
    before = _by_nik(
        session.connection(),
        select(Participant.nik, Participant.id, Participant.nama, Participant.tanggal_lahir),
        rows["nik"],
        ["nik", "id", "nama", "tanggal_lahir"],
    )
    known = before.set_index("nik")["id"].astype("int64")
    before = before.drop(columns="id")
    # In NIK order: ids then follow the NIK index, and later lookups by NIK read the table in order
    missing = rows.loc[~isin_text(rows["nik"], known.index)].sort_values("nik")
    if not len(missing):
        return known, before
    now: object = dt.datetime.now(dt.UTC)
    sqlite_db = session.get_bind().dialect.name == "sqlite"
    if sqlite_db:  # ISO text, as SQLAlchemy stores them there
        missing = missing.assign(
            tanggal_lahir=pd.to_datetime(missing["tanggal_lahir"]).dt.strftime("%Y-%m-%d")
        )
        now = _sqlite_row((now,))[0]
    names = [*missing.columns, "bpjs_status", "created_at", "updated_at"]
    columns = [_cells(missing[c]) for c in missing.columns]  # column-wise: ~3x faster than to_dict
    new_ids = None
    if sqlite_db:
        # The ids are given, not read back by NIK (that lookup was a fifth of a national run's
        # recording). Safe: this transaction already holds SQLite's only write lock, so max(id)
        # cannot move before the insert; the count below checks it all the same.
        first = int(session.scalar(select(func.max(Participant.id))) or 0) + 1
        new_ids = pd.Series(
            range(first, first + len(missing)), index=missing["nik"].to_numpy(), dtype="int64"
        )
        names, columns = ["id", *names], [new_ids.tolist(), *columns]
    table = cast(Table, Participant.__table__)
    values = [(*values, "aktif", now, now) for values in zip(*columns, strict=True)]
    if session.get_bind().dialect.name == "postgresql":  # the ids come back with the insert
        back = copy_insert_new(
            session.connection(), table.name, names, values, ["nik"], ["nik", "id"]
        )
        inserted = len(back)
        new_ids = pd.Series([i for _, i in back], index=[n for n, _ in back], dtype="int64")
    else:
        inserted = bulk_insert(session, table, names, values, ignore_conflict=["nik"])
    if new_ids is None or inserted != len(missing):
        new_ids = participant_ids(session, missing["nik"])
    new_ids.index = new_ids.index.astype("string")
    return pd.concat([known, new_ids]), before


def record_memberships(
    session: Session,
    program: Program,
    period: Period,
    billed: pd.DataFrame,
    ended: pd.DataFrame,
    participant_ids: pd.Series,
    only_these: bool = False,
) -> None:
    """Memberships follow what was billed: first and last period, village, and why one ended.

    `only_these`: read only the memberships of `participant_ids` (a rerun recording a few payers
    again) instead of the program's all.
    """
    p = str(period)
    conn = session.connection()
    existing_query = select(
        Membership.id,
        Membership.participant_id,
        Membership.first_period,
        Membership.last_period,
        Membership.kode_desa.label("kode_desa_now"),
        Membership.pekerjaan.label("pekerjaan_now"),
        Membership.end_period,
    ).where(Membership.program == program.code)
    if only_these:
        existing_query = existing_query.where(
            in_list(conn, Membership.participant_id, participant_ids.astype("int64").tolist())
        )
    existing = read_frame(conn, existing_query)
    b = billed[["nik", "kode_desa", "pekerjaan"]].copy()
    b["participant_id"] = b["nik"].map(participant_ids).astype("int64")
    if len(existing):
        b = b.merge(existing, on="participant_id", how="left")
    else:
        b = b.assign(
            id=pd.NA,
            first_period=pd.NA,
            last_period=pd.NA,
            kode_desa_now=pd.NA,
            pekerjaan_now=pd.NA,
            end_period=pd.NA,
        )
    new = b.loc[b["id"].isna()]
    bulk_insert(
        session,
        cast(Table, Membership.__table__),
        ["program", "participant_id", "kode_desa", "pekerjaan", "first_period", "last_period"],
        [
            (program.code, int(pid), kode, job or "", p, p)
            for pid, kode, job in zip(
                new["participant_id"].tolist(),
                new["kode_desa"].astype(object).tolist(),
                new["pekerjaan"].astype(object).tolist(),
                strict=True,
            )
        ],
    )
    old = b.loc[b["id"].notna()].copy()
    old["pekerjaan"] = old["pekerjaan"].astype("string").fillna("")
    old["first_period"] = old["first_period"].astype("string").where(old["first_period"] < p, p)
    old["last_period"] = old["last_period"].astype("string").where(old["last_period"] > p, p)
    # A month rerun after a later one was recorded: village, job and ending are the later month's
    # (an earlier month's rerun must not move a worker back, nor revive one who left); only an
    # earlier start is news.
    later = (
        old["last_period"].gt(p).fillna(False)
        | old["end_period"].astype("string").gt(p).fillna(False)
    ).to_numpy(dtype=bool)
    starts = old.loc[later & old["first_period"].ne(b.loc[old.index, "first_period"]).to_numpy()]
    if len(starts):
        session.execute(
            update(Membership)
            .where(in_list(conn, Membership.id, starts["id"].astype("int64").tolist()))
            .values(first_period=p)
            .execution_options(synchronize_session=False)
        )
    old = old.loc[~later]
    # A rerun bills the same workers in the same villages: only what differs is written.
    same = (
        old["kode_desa"].astype("string").eq(old["kode_desa_now"].astype("string")).fillna(False)
        & old["pekerjaan"].eq(old["pekerjaan_now"].astype("string").fillna("")).fillna(False)
        & old["first_period"].eq(b.loc[old.index, "first_period"].astype("string")).fillna(False)
        & old["last_period"].eq(b.loc[old.index, "last_period"].astype("string")).fillna(False)
        & old["end_period"].isna()
    )
    old = old.loc[~same.to_numpy(dtype=bool)]
    # Most months only move last_period: one UPDATE for them all instead of one a worker
    extended = (
        old["kode_desa"].astype("string").eq(old["kode_desa_now"].astype("string")).fillna(False)
        & old["pekerjaan"].eq(old["pekerjaan_now"].astype("string").fillna("")).fillna(False)
        & old["end_period"].isna()
    ).to_numpy(dtype=bool)
    # (no ORM session sync: it would read back every matched id to look for loaded objects)
    for (first, last), group in old.loc[extended].groupby(["first_period", "last_period"]):
        session.execute(
            update(Membership)
            .where(in_list(conn, Membership.id, group["id"].astype("int64").tolist()))
            .values(first_period=first, last_period=last)
            .execution_options(synchronize_session=False)
        )
    old = old.loc[~extended]
    bulk_update(
        session,
        Membership,
        ["kode_desa", "pekerjaan", "first_period", "last_period", "end_period", "end_reason"],
        [
            (int(i), kode, job, first, last, None, None)
            for i, kode, job, first, last in zip(
                old["id"].tolist(),
                _cells(old["kode_desa"]),
                _cells(old["pekerjaan"]),
                _cells(old["first_period"]),
                _cells(old["last_period"]),
                strict=True,
            )
        ],
    )
    if len(ended):
        ids = ended["nik"].map(participant_ids)
        e = ended.assign(participant_id=ids).dropna(subset=["participant_id"])
        for reason, group in e.groupby("reason"):
            ended_ids = group["participant_id"].astype("int64").tolist()
            session.execute(
                update(Membership)
                .where(
                    Membership.program == program.code,
                    in_list(conn, Membership.participant_id, ended_ids),
                    Membership.last_period < p,
                )
                .values(end_period=p, end_reason=str(reason))
                .execution_options(synchronize_session=False)
            )


def participant_changes(session: Session) -> int:
    """UPDATEs and DELETEs of participants so far (migration 0005's triggers count them)."""
    rc = REGISTRY_CHANGE.c
    return int(session.scalar(select(rc.n).where(rc.program == "*", rc.period == "*")) or 0)


def get_cycle(session: Session, program: str, period: str) -> Cycle:
    session.connection().execute(
        insert_or_ignore(session, Cycle.__table__, ["program", "period"]).values(
            program=program, period=period
        )
    )
    return session.scalars(
        select(Cycle).where(Cycle.program == program, Cycle.period == period)
    ).one()


REJECTION_COLUMNS = ["cycle_id", "source_file", "source_row", "kode_desa", "nik_masked", "nama", "column", "code", "message"]  # fmt: skip


def record_inputs(
    session: Session, cycle: Cycle, files: pd.DataFrame, rejected: pd.DataFrame
) -> None:
    """This run's files and rejections replace the previous run's: the report is of the latest input."""
    session.execute(delete(RosterFile).where(RosterFile.cycle_id == cycle.id))
    session.execute(delete(Rejection).where(Rejection.cycle_id == cycle.id))
    if len(files):
        bulk_insert(
            session,
            cast(Table, RosterFile.__table__),
            ["cycle_id", "path", "sha256", "rows", "status", "code", "message"],
            list(
                zip(
                    [cycle.id] * len(files),
                    _cells(files["path"].astype(str).str.slice(0, 500)),
                    _cells(files["sha256"]),
                    _counts(files["rows"]),
                    _cells(files["status"]),
                    _cells(files["code"]),
                    _cells(files["message"]),
                    strict=True,
                )
            ),
        )
    if len(rejected):
        bulk_insert(
            session,
            cast(Table, Rejection.__table__),
            REJECTION_COLUMNS,
            list(
                zip(
                    [cycle.id] * len(rejected),
                    _cells(rejected["source_file"].fillna("").astype(str).str.slice(0, 500)),
                    _counts(rejected["source_row"]),
                    _cells(rejected["kode_desa"]),
                    _cells(mask_series(rejected["nik"])),
                    _cells(rejected["nama"]),
                    _cells(rejected["column"]),
                    _cells(rejected["code"]),
                    _cells(rejected["message"]),
                    strict=True,
                )
            ),
        )


def _cells(values: pd.Series) -> list[Any]:
    """A column's values as plain Python objects, missing ones as None (NULL)."""
    return values.astype(object).where(values.notna(), None).tolist()


def _counts(values: pd.Series) -> list[int]:
    return pd.to_numeric(values, errors="coerce").fillna(0).astype("int64").tolist()


def record_sources(
    session: Session, program: Program, period: Period, billed: pd.DataFrame
) -> None:
    """The period's `line_source` rows, written again: the workers a partner OPD's list named (the
    others were named by their village only, and have no row). A few rows a month, not a line each."""
    session.execute(
        delete(LineSource).where(
            LineSource.program == program.code, LineSource.period == str(period)
        )
    )
    named = billed.loc[billed["sumber"].astype("string").fillna(VILLAGE_SOURCE).ne(VILLAGE_SOURCE)]
    if not len(named):
        return
    ids = participant_ids(session, named["nik"])
    bulk_insert(
        session,
        cast(Table, LineSource.__table__),
        ["program", "period", "participant_id", "sumber"],
        [
            (program.code, str(period), int(ids[n]), str(src)[:200])
            for n, src in zip(named["nik"], named["sumber"], strict=True)
            if n in ids.index
        ],
    )


def record_status_list(session: Session, status_list: pd.DataFrame) -> int:
    """Keep BPJS's word on the participants it names; returns how many the registry knows.

    Only what differs is written: a status list resent unchanged every month changes nothing (and so
    does not spoil the unchanged-rerun shortcut, `iuran.rerun`).
    """
    if status_list is None or not len(status_list):
        return 0
    now = _by_nik(
        session.connection(),
        select(
            Participant.nik, Participant.id, Participant.bpjs_status, Participant.bpjs_status_date
        ),
        status_list["nik"],
        ["nik", "id", "bpjs_status", "bpjs_status_date"],
    ).drop_duplicates("nik")
    if not len(now):
        return 0
    now = now.rename(
        columns={"bpjs_status": "bpjs_status_now", "bpjs_status_date": "bpjs_status_date_now"}
    )
    listed = status_list.drop_duplicates("nik", keep="last").merge(now, on="nik")
    dates = pd.to_datetime(listed["tanggal"]).dt.date
    dates_now = pd.to_datetime(listed["bpjs_status_date_now"]).dt.date
    same = listed["bpjs_status"].astype("string").eq(listed["bpjs_status_now"]).fillna(False) & (
        (dates == dates_now) | (dates.isna() & dates_now.isna())
    )
    changed = ~same.to_numpy(dtype=bool)
    stamp = dt.datetime.now(dt.UTC)  # `updated_at`, as the ORM's update would set it
    bulk_update(
        session,
        Participant,
        ["bpjs_status", "bpjs_status_date", "updated_at"],
        [
            (int(i), str(st), None if pd.isna(d) else d, stamp)
            for i, st, d in zip(
                listed.loc[changed, "id"],
                listed.loc[changed, "bpjs_status"],
                dates[changed],
                strict=True,
            )
        ],
    )
    return int(isin_text(status_list["nik"], now["nik"]).sum())


def record_conflicts(
    session: Session,
    cycle_id: int,
    billed: pd.DataFrame,
    ids: pd.Series,
    known: pd.DataFrame,
    kept_invoices: list[int] | None = None,
) -> int:
    """Name and birth-date disagreements of this run's rows with the registry, for review.

    `known`: the registry's nik, nama, tanggal_lahir of the NIKs it knew before this run
    (`ensure_participants`); a NIK first written by this run agrees with itself. The conflicts of
    the workers on `kept_invoices` (payers not recorded again, `iuran.cycle.unchanged_payers`) stay.
    """
    stale = delete(RegistryConflict).where(RegistryConflict.cycle_id == cycle_id)
    if kept_invoices:
        on_kept = select(ContributionLine.participant_id).where(
            in_list(session.connection(), ContributionLine.invoice_id, kept_invoices), IS_CURRENT
        )
        stale = stale.where(RegistryConflict.participant_id.not_in(on_kept))
    session.execute(stale)
    rows = billed.loc[~billed["carried"].astype(bool)] if "carried" in billed else billed
    rows = rows.loc[isin_text(rows["nik"], known["nik"])]
    if not len(rows):
        return 0
    # Only a row whose name or birth date differs from the registry's at all can conflict: fold and
    # compare just those (folding every name costs ~15 µs a row, most of a national run's conflicts).
    registry = known.drop_duplicates("nik").set_index("nik")
    same_name = rows["nik"].map(registry["nama"]).astype("string").eq(rows["nama"].astype("string"))
    same_date = pd.to_datetime(rows["nik"].map(registry["tanggal_lahir"])).dt.date.eq(
        pd.to_datetime(rows["tanggal_lahir"]).dt.date
    )
    rows = rows.loc[~(same_name.fillna(False) & same_date).to_numpy(dtype=bool)]
    found = find_conflicts(
        rows[["nik", "nama", "tanggal_lahir", "source_file", "source_row"]], known
    )
    if not len(found):
        return 0
    found = found.assign(participant_id=found["nik"].map(ids)).dropna(subset=["participant_id"])
    session.execute(
        insert(RegistryConflict),
        [
            {
                "cycle_id": cycle_id,
                "participant_id": int(r["participant_id"]),
                "field": r["field"],
                "registry_value": str(r["registry_value"])[:200],
                "roster_value": str(r["roster_value"])[:200],
                "source_file": str(r["source_file"] or "")[:500],
                "source_row": int(r["source_row"] or 0),
                "status": ConflictStatus.OPEN,
            }
            for r in found.to_dict("records")
        ],
    )
    return len(found)
