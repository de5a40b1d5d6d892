"""The DAG processor: DAG files in, DAG rows, tags, structures, sources, datasets, errors out.

Entry points (each commits its work):

- `process_folder(conf, force=False, progress=None, wait=True)`: parse the DAG folder (and the
  shipped examples when `[core] load_examples`). Only files whose content changed since they were
  last stored (`dag_code.source_hash`) are parsed again, unless `force`.
- `process_file(conf, fileloc)`: parse one file now, changed or not.
- `process_priority_requests(conf)`: parse the files asked for through `PUT /parseDagFile`.

What a file yields is written in bulk: DAG rows (created paused unless the file or
`[core] dags_are_paused_at_creation` says otherwise, never re-paused afterwards), tags, owners,
the serialized structure and its hash, the source, the next-run fields, datasets and the DAGs'
and tasks' references to them. DAGs whose file disappeared, or that their file no longer
defines, become inactive. A file's problems are stored as one import error, cleared when fixed.

One processor works on a database at a time (an advisory lock on PostgreSQL, a lock file beside
a SQLite database): two at once would both insert the same new DAGs. A periodic pass (the
scheduler's, `wait=False`) that finds another processor at work skips instead of doing the same
work twice; an explicit one (`stableflow dags reserialize`, standalone) waits its turn; a
`PUT /parseDagFile` that finds the lock taken leaves its request for the scheduler.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import and_, delete, func, insert, select, update

from app.dags import timetable
from app.dags.operations import mark_orphans
from app.dags.parser import ParseDefaults, ParsedFile, parse_source
from app.dags.structure import DagSpec, load_dag_specs
from app.extensions import db
from app.models import (
    DagCode,
    DagModel,
    DagPriorityParsingRequest,
    DagRun,
    DagScheduleDatasetReference,
    DagTag,
    DagWarning,
    Dataset,
    ImportErrorRecord,
    Pool,
    SerializedDag,
    TaskOutletDatasetReference,
    utcnow,
)

log = logging.getLogger(__name__)

EXAMPLES_FOLDER = Path(__file__).resolve().parent.parent / "example_dags"
SUFFIXES = (".yaml", ".yml")
NONEXISTENT_POOL = "non-existent pool"
CHUNK = 500
# Any constant shared by every stableflow process; it names the processor's advisory lock.
_LOCK_KEY = 0x5F10DA6


@dataclass
class ProcessResult:
    files_parsed: int = 0
    files_unchanged: int = 0
    files_removed: int = 0
    dags: int = 0
    deactivated: int = 0
    import_errors: int = 0
    skipped: bool = False  # another processor held the lock
    errors: list[str] = field(default_factory=list)


@dataclass
class _File:
    fileloc: str
    source: str
    source_hash: str | None
    parsed: ParsedFile


# -- entry points ------------------------------------------------------------------------------
def process_folder(
    conf, *, force: bool = False, progress: Callable[[int], None] | None = None, wait: bool = True
) -> ProcessResult:
    """Bring the database in line with the DAG folder."""
    with _exclusive(wait) as locked:
        if not locked:
            return ProcessResult(skipped=True)
        return _process_folder(conf, force, progress)


def _process_folder(conf, force: bool, progress: Callable[[int], None] | None) -> ProcessResult:
    defaults = ParseDefaults.from_conf(conf)
    paths = list_dag_files(conf)
    known = dict(db.session.execute(select(DagCode.fileloc, DagCode.source_hash)).all())
    result = ProcessResult()
    files = []
    for path in paths:
        source, digest = _read(path, defaults)
        if not force and digest is not None and known.get(path) == digest:
            result.files_unchanged += 1
        else:
            files.append(_parse(path, source, digest, defaults))
        if progress is not None:
            progress(1)
    listed = set(paths)
    removed = [fileloc for fileloc in known if fileloc not in listed]
    _store(files, removed, conf, result)
    _recheck_pool_warnings(exclude={s.dag_id for f in files for s in f.parsed.dags})
    db.session.commit()
    return result


def process_file(conf, fileloc: str) -> ProcessResult:
    """Parse one file now (a file outside the DAG folders counts as removed); answers its request."""
    with _exclusive(wait=False) as locked:
        if not locked:
            return ProcessResult(skipped=True)
        result = _process_paths(conf, [fileloc])
        db.session.execute(delete(DagPriorityParsingRequest).where(DagPriorityParsingRequest.fileloc == fileloc))
        db.session.commit()
        return result


def process_priority_requests(conf) -> ProcessResult:
    """Parse the files that `PUT /parseDagFile` asked for, and forget the requests."""
    requests = list(db.session.execute(select(DagPriorityParsingRequest)).scalars())
    if not requests:
        return ProcessResult()
    with _exclusive(wait=False) as locked:
        if not locked:
            return ProcessResult(skipped=True)
        result = _process_paths(conf, sorted({r.fileloc for r in requests}))
        db.session.execute(
            delete(DagPriorityParsingRequest).where(DagPriorityParsingRequest.id.in_([r.id for r in requests]))
        )
        db.session.commit()
        return result


def _process_paths(conf, filelocs: list[str]) -> ProcessResult:
    defaults = ParseDefaults.from_conf(conf)
    result = ProcessResult()
    files, removed = [], []
    for fileloc in filelocs:
        if _in_dag_folders(conf, fileloc) and Path(fileloc).is_file():
            files.append(_parse(fileloc, *_read(fileloc, defaults), defaults))
        else:
            removed.append(fileloc)
    _store(files, removed, conf, result)
    return result


# -- files -------------------------------------------------------------------------------------
def dag_folders(conf) -> list[Path]:
    folders = [Path(conf.get("core", "dags_folder")).expanduser()]
    if conf.getboolean("core", "load_examples"):
        folders.append(EXAMPLES_FOLDER)
    return folders


def list_dag_files(conf) -> list[str]:
    """Absolute paths of the YAML files in the DAG folders (hidden files and folders skipped)."""
    paths: list[str] = []
    for folder in dag_folders(conf):
        if not folder.is_dir():
            continue
        for path in sorted(folder.resolve().rglob("*")):
            relative = path.relative_to(folder.resolve()).parts
            if path.suffix in SUFFIXES and path.is_file() and not any(p.startswith(".") for p in relative):
                paths.append(str(path))
    return paths


def _in_dag_folders(conf, fileloc: str) -> bool:
    path = Path(fileloc)
    return path.suffix in SUFFIXES and any(
        path.is_relative_to(folder.resolve()) for folder in dag_folders(conf) if folder.is_dir()
    )


def _read(path: str, defaults: ParseDefaults) -> tuple[str, str | None]:
    """The file's text and the hash that decides whether it must be parsed again."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        return f"# could not be read: {exc}", None
    digest = hashlib.sha256(defaults.fingerprint().encode() + b"\0" + data).hexdigest()
    return data.decode("utf-8", errors="replace"), digest


def _parse(path: str, source: str, digest: str | None, defaults: ParseDefaults) -> _File:
    if digest is None:
        parsed = ParsedFile(path, errors=[f"{path}:1: the file could not be read"])
    else:
        parsed = parse_source(source, path, defaults)
    return _File(path, source, digest, parsed)


# -- writing -----------------------------------------------------------------------------------
def _store(files: list[_File], removed: list[str], conf, result: ProcessResult) -> None:
    now = utcnow()
    _drop_duplicates_of_other_files(files, removed)
    specs = [spec for f in files for spec in f.parsed.dags]
    _store_sources(files, removed, now)
    _store_import_errors(files, removed, now)
    deactivated = _store_dag_rows(files, removed, specs, conf, now)
    _store_serialized(specs, now)
    _store_dataset_references(specs, deactivated)
    _store_pool_warnings({s.dag_id: s for s in specs}, deactivated)
    result.files_parsed += len(files)
    result.files_removed += len(removed)
    result.dags += len(specs)
    result.deactivated += len(deactivated)
    result.import_errors += sum(1 for f in files if f.parsed.errors)
    result.errors.extend(e for f in files for e in f.parsed.errors)


def _drop_duplicates_of_other_files(files: list[_File], removed: list[str]) -> None:
    """A DAG id already defined by another (unchanged) file is an import error of the newcomer."""
    ids = [spec.dag_id for f in files for spec in f.parsed.dags]
    touched = {f.fileloc for f in files} | set(removed)
    claimed = {
        dag_id: fileloc
        for chunk in _chunks(ids)
        for dag_id, fileloc in db.session.execute(
            select(DagModel.dag_id, DagModel.fileloc).where(DagModel.dag_id.in_(chunk), DagModel.is_active)
        )
        if fileloc not in touched
    }
    for f in files:
        kept = []
        for spec in f.parsed.dags:
            owner = claimed.setdefault(spec.dag_id, f.fileloc)
            if owner != f.fileloc:
                f.parsed.errors.append(
                    f"{f.fileloc}:{spec.line}: DAG id '{spec.dag_id}' is already defined in {owner}; "
                    "this definition is ignored"
                )
                # Parsed again on every pass, so it takes over once the other file lets go.
                f.source_hash = None
            else:
                kept.append(spec)
        f.parsed.dags = kept


def _store_sources(files: list[_File], removed: list[str], now: dt.datetime) -> None:
    existing = _existing(DagCode.fileloc, [f.fileloc for f in files])
    rows = [
        {"fileloc": f.fileloc, "source_code": f.source, "source_hash": f.source_hash, "last_updated": now}
        for f in files
    ]
    _insert_or_update(DagCode, rows, existing, "fileloc")
    _delete_in(DagCode, DagCode.fileloc, removed)


def _store_import_errors(files: list[_File], removed: list[str], now: dt.datetime) -> None:
    failing = {f.fileloc: f.parsed.stack_trace for f in files if f.parsed.errors}
    current = {
        fileloc: (error_id, trace)
        for chunk in _chunks([f.fileloc for f in files] + removed)
        for error_id, fileloc, trace in db.session.execute(
            select(ImportErrorRecord.id, ImportErrorRecord.filename, ImportErrorRecord.stack_trace).where(
                ImportErrorRecord.filename.in_(chunk)
            )
        )
    }
    stale = [error_id for fileloc, (error_id, _) in current.items() if fileloc not in failing]
    _delete_in(ImportErrorRecord, ImportErrorRecord.id, stale)
    changed = [
        {"id": current[fileloc][0], "stack_trace": trace, "timestamp": now}
        for fileloc, trace in failing.items()
        if fileloc in current and current[fileloc][1] != trace
    ]
    if changed:
        db.session.execute(update(ImportErrorRecord), changed)
    new = [
        {"filename": fileloc, "stack_trace": trace, "timestamp": now}
        for fileloc, trace in failing.items()
        if fileloc not in current
    ]
    if new:
        db.session.execute(insert(ImportErrorRecord), new)


def _store_dag_rows(files: list[_File], removed: list[str], specs: list[DagSpec], conf, now) -> set[str]:
    """Upsert the DAG rows; returns the ids of the DAGs made inactive."""
    touched = {f.fileloc for f in files} | set(removed)
    ids = [s.dag_id for s in specs]
    rows: dict[str, DagModel] = {}
    for chunk in _chunks(ids):
        rows.update((d.dag_id, d) for d in db.session.execute(select(DagModel).where(DagModel.dag_id.in_(chunk))).scalars())
    for chunk in _chunks(sorted(touched)):
        rows.update(
            (d.dag_id, d)
            for d in db.session.execute(select(DagModel).where(DagModel.fileloc.in_(chunk))).scalars()
        )
    failing = {f.fileloc for f in files if f.parsed.errors}
    last_runs = _last_automated_intervals(ids)
    paused_at_creation = conf.getboolean("core", "dags_are_paused_at_creation")
    for spec in specs:
        row = rows.get(spec.dag_id)
        if row is None:
            paused = spec.is_paused_upon_creation
            row = DagModel(dag_id=spec.dag_id, is_paused=paused_at_creation if paused is None else paused)
            db.session.add(row)
            rows[spec.dag_id] = row
        _fill_dag_row(row, spec, spec.fileloc in failing, now)
        for name, value in timetable.next_dagrun_fields(spec, last_runs.get(spec.dag_id), now=now).items():
            setattr(row, name, value)
        _sync_tags(row, spec.tags)
    defined = set(ids)
    deactivated = set()
    for dag_id, row in rows.items():
        if dag_id not in defined and row.fileloc in touched:
            if row.is_active:
                deactivated.add(dag_id)
            row.is_active = False
            row.has_import_errors = row.fileloc in failing
    db.session.flush()
    return deactivated


def _fill_dag_row(row: DagModel, spec: DagSpec, has_errors: bool, now: dt.datetime) -> None:
    row.fileloc = spec.fileloc
    row.is_active = True
    row.has_import_errors = has_errors
    row.last_parsed_time = now
    row.owners = ",".join(spec.owners) or None
    row.description = spec.description
    row.default_view = "grid"
    row.schedule_interval = spec.schedule_interval
    row.timetable_description = spec.timetable_description
    row.dataset_expression = timetable.dataset_expression(spec.schedule)
    row.max_active_tasks = spec.max_active_tasks
    row.max_active_runs = spec.max_active_runs
    row.max_consecutive_failed_dag_runs = spec.max_consecutive_failed_dag_runs
    row.has_task_concurrency_limits = False


def _sync_tags(row: DagModel, names: list[str]) -> None:
    wanted = set(names)
    have = {tag.name for tag in row.tags}
    if wanted == have:
        return
    row.tags[:] = [tag for tag in row.tags if tag.name in wanted] + [
        DagTag(name=name, dag_id=row.dag_id) for name in names if name not in have
    ]


def _last_automated_intervals(dag_ids: list[str]) -> dict[str, timetable.DataInterval]:
    """The data interval of each DAG's latest scheduled (or backfill) run, in one query a chunk."""
    out: dict[str, timetable.DataInterval] = {}
    for chunk in _chunks(dag_ids):
        latest = (
            select(DagRun.dag_id, func.max(DagRun.execution_date).label("latest"))
            .where(DagRun.dag_id.in_(chunk), DagRun.run_type.in_(("scheduled", "backfill")))
            .group_by(DagRun.dag_id)
            .subquery()
        )
        rows = db.session.execute(
            select(DagRun.dag_id, DagRun.execution_date, DagRun.data_interval_start, DagRun.data_interval_end).join(
                latest, and_(DagRun.dag_id == latest.c.dag_id, DagRun.execution_date == latest.c.latest)
            )
        )
        for dag_id, logical_date, start, end in rows:
            out[dag_id] = timetable.DataInterval(start or logical_date, end or logical_date)
    return out


def _store_serialized(specs: list[DagSpec], now: dt.datetime) -> None:
    existing = dict(
        row
        for chunk in _chunks([s.dag_id for s in specs])
        for row in db.session.execute(
            select(SerializedDag.dag_id, SerializedDag.dag_hash).where(SerializedDag.dag_id.in_(chunk))
        )
    )
    rows = []
    for spec in specs:
        data = spec.to_dict()
        dag_hash = hashlib.md5(json.dumps(data, sort_keys=True).encode(), usedforsecurity=False).hexdigest()
        if existing.get(spec.dag_id) != dag_hash:
            rows.append(
                {"dag_id": spec.dag_id, "fileloc": spec.fileloc, "data": data, "dag_hash": dag_hash, "last_updated": now}
            )
    _insert_or_update(SerializedDag, rows, set(existing), "dag_id")


def _store_dataset_references(specs: list[DagSpec], deactivated: set[str]) -> None:
    """Datasets named by schedules and outlets exist; references match the files exactly."""
    uris = sorted({u for s in specs for u in s.dataset_triggers} | {u for s in specs for t in s.tasks for u in t.outlets})
    ids = _dataset_ids(uris)
    missing = [uri for uri in uris if uri not in ids]
    if missing:
        db.session.execute(insert(Dataset), [{"uri": uri, "extra": {}} for uri in missing])
        ids.update(_dataset_ids(missing))
    affected = [s.dag_id for s in specs] + sorted(deactivated)
    schedule_wanted = {(s.dag_id, ids[u]) for s in specs for u in s.dataset_triggers}
    outlet_wanted = {(s.dag_id, t.task_id, ids[u]) for s in specs for t in s.tasks for u in t.outlets}
    touched_datasets = set(ids.values())
    touched_datasets |= _sync_references(
        DagScheduleDatasetReference, ("dag_id", "dataset_id"), schedule_wanted, affected
    )
    touched_datasets |= _sync_references(
        TaskOutletDatasetReference, ("dag_id", "task_id", "dataset_id"), outlet_wanted, affected
    )
    for chunk in _chunks(sorted(touched_datasets)):
        mark_orphans(chunk)


def _dataset_ids(uris: list[str]) -> dict[str, int]:
    return {
        uri: dataset_id
        for chunk in _chunks(uris)
        for uri, dataset_id in db.session.execute(select(Dataset.uri, Dataset.id).where(Dataset.uri.in_(chunk)))
    }


def _sync_references(model, key: tuple[str, ...], wanted: set[tuple], dag_ids: list[str]) -> set[int]:
    """Make `model`'s rows for `dag_ids` exactly `wanted`; returns the dataset ids involved."""
    columns = [getattr(model, name) for name in key]
    have = {
        tuple(row)
        for chunk in _chunks(dag_ids)
        for row in db.session.execute(select(*columns).where(model.dag_id.in_(chunk)))
    }
    for row in have - wanted:
        db.session.execute(delete(model).where(*(c == v for c, v in zip(columns, row, strict=True))))
    new = wanted - have
    if new:
        db.session.execute(insert(model), [dict(zip(key, row, strict=True)) for row in sorted(new)])
    return {row[-1] for row in have ^ wanted}


# -- DAG warnings ------------------------------------------------------------------------------
def _store_pool_warnings(specs: dict[str, DagSpec], deactivated: set[str]) -> None:
    """A task naming a pool that does not exist warns on its DAG (as Airflow does)."""
    if not specs and not deactivated:
        return
    pools = set(db.session.execute(select(Pool.pool)).scalars())
    wanted = {}
    for dag_id, spec in specs.items():
        missing = sorted({t.pool for t in spec.tasks} - pools)
        if missing:
            wanted[dag_id] = f"Dag '{dag_id}' references non-existent pools: {missing!r}"
    current = {
        dag_id: message
        for chunk in _chunks(list(specs) + sorted(deactivated))
        for dag_id, message in db.session.execute(
            select(DagWarning.dag_id, DagWarning.message).where(
                DagWarning.dag_id.in_(chunk), DagWarning.warning_type == NONEXISTENT_POOL
            )
        )
    }
    gone = [dag_id for dag_id in current if wanted.get(dag_id) != current[dag_id]]
    for chunk in _chunks(gone):
        db.session.execute(
            delete(DagWarning).where(DagWarning.dag_id.in_(chunk), DagWarning.warning_type == NONEXISTENT_POOL)
        )
    new = [
        {"dag_id": dag_id, "warning_type": NONEXISTENT_POOL, "message": message, "timestamp": utcnow()}
        for dag_id, message in wanted.items()
        if current.get(dag_id) != message
    ]
    if new:
        db.session.execute(insert(DagWarning), new)


def _recheck_pool_warnings(exclude: set[str]) -> None:
    """Pools come and go between parses: re-evaluate the DAGs that currently warn."""
    warned = set(
        db.session.execute(select(DagWarning.dag_id).where(DagWarning.warning_type == NONEXISTENT_POOL)).scalars()
    ) - exclude
    if warned:
        _store_pool_warnings(load_dag_specs(sorted(warned)), set())


# -- helpers -----------------------------------------------------------------------------------
@contextlib.contextmanager
def _exclusive(wait: bool):
    """Hold the processor lock of this database for the block (which commits); yields False when
    another processor holds it and `wait` is False."""
    engine = db.session.get_bind()
    if engine.dialect.name == "postgresql":
        # Transaction-scoped: released by the block's commit (or by a rollback on error).
        lock = func.pg_advisory_xact_lock if wait else func.pg_try_advisory_xact_lock
        locked = db.session.execute(select(lock(_LOCK_KEY))).scalar()
        yield wait or bool(locked)
        return
    database = engine.url.database
    if engine.dialect.name != "sqlite" or database in (None, "", ":memory:"):
        yield True
        return
    with open(database + ".dagprocessor.lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        # What another processor committed while this one waited must be read fresh.
        db.session.commit()
        yield True


def _chunks(items: Iterable, size: int = CHUNK):
    items = list(items)
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _existing(column, keys: list) -> set:
    return {value for chunk in _chunks(keys) for value in db.session.execute(select(column).where(column.in_(chunk))).scalars()}


def _insert_or_update(model, rows: list[dict], existing: set, key: str) -> None:
    updates = [row for row in rows if row[key] in existing]
    inserts = [row for row in rows if row[key] not in existing]
    if updates:
        db.session.execute(update(model), updates)
    if inserts:
        db.session.execute(insert(model), inserts)


def _delete_in(model, column, values: list) -> None:
    for chunk in _chunks(values):
        db.session.execute(delete(model).where(column.in_(chunk)), execution_options={"synchronize_session": False})
