"""Creating and deleting runs; the task instances a run has."""
from __future__ import annotations

import datetime as dt
import getpass
import math
import re
from collections import OrderedDict
from collections.abc import Mapping, Sequence

import jsonschema
from sqlalchemy import delete, or_, select
from sqlalchemy.exc import IntegrityError

from app.dags import timetable
from app.dags.structure import DagSpec, TaskSpec
from app.errors import AlreadyExists, BadRequest, NotFound
from app.extensions import db
from app.models import DagModel, DagRun, SerializedDag, TaskInstance, utcnow
from app.runs import states as S
from app.runs.logs import delete_run_logs
from app.secrets_masker import hidden_instance, hide_value

# Airflow's default [scheduler] allowed_run_id_pattern. Run ids become path segments (URLs, log
# folders), so nothing outside it is accepted.
RUN_ID_PATTERN = re.compile(r"^[A-Za-z0-9_.~:+-]+$")
RUN_ID_MAX_LENGTH = 250
RUN_TYPES = ("manual", "scheduled", "backfill", "dataset_triggered")


def generate_run_id(run_type: str, logical_date: dt.datetime) -> str:
    return f"{run_type}__{logical_date.isoformat()}"


def check_run_id(run_id: str) -> None:
    if not RUN_ID_PATTERN.match(run_id) or len(run_id) > RUN_ID_MAX_LENGTH:
        raise BadRequest(
            detail=f"The provided run ID '{run_id}' is invalid. It must match the pattern "
            f"'{RUN_ID_PATTERN.pattern}' and have at most {RUN_ID_MAX_LENGTH} characters."
        )


def validate_conf(spec: DagSpec, conf: Mapping | None) -> None:
    """Check a run's conf against the DAG's params (a param missing from conf uses its default)."""
    if conf is not None and not isinstance(conf, Mapping):
        raise BadRequest(detail="'conf' must be a JSON object")
    conf = conf or {}
    for name, param in spec.params.items():
        if name not in conf and param.value is None:
            raise BadRequest(detail=f"Invalid input for param {name}: No value passed and Param has no default value")
        value = conf.get(name, param.value)
        try:
            jsonschema.validate(value, param.schema, format_checker=jsonschema.FormatChecker())
        except jsonschema.ValidationError as err:
            raise BadRequest(detail=f"Invalid input for param {name}: {_param_error(name, err)}") from None


def _param_error(name: str, err: jsonschema.ValidationError) -> str:
    """jsonschema's whole text, as Airflow answers it, unless it would quote a secret (a param named
    like one, or a value holding one): then its message alone, with the value redacted."""
    names = [name, *(str(item) for item in err.path if isinstance(item, str))]
    hidden = hidden_instance(err, names)
    return str(err) if hidden == err.instance else hide_value(err.message, err.instance, hidden)


def trigger_dag_run(
    dag_id: str,
    *,
    run_id: str | None = None,
    logical_date: dt.datetime | None = None,
    now: dt.datetime | None = None,
    **run_fields,
) -> DagRun:
    """Create a run of an active DAG, with its task instances; flushed, not committed.

    `run_fields` are new_dag_run's other keywords (data_interval, conf, note, external_trigger,
    run_type, state). Raises NotFound (DAG missing or inactive), BadRequest (import errors, bad
    conf or run id, naive dates) or AlreadyExists (the run id or the logical date is taken).
    Uniqueness is the database's call: on a conflict the session's transaction is rolled back
    before the 409.
    """
    spec, dag_hash = triggerable_dag(dag_id)
    attempts_left = _TRIGGER_ATTEMPTS
    while True:
        run = new_dag_run(spec, dag_hash, run_id=run_id, logical_date=logical_date, now=now, **run_fields)
        try:
            insert_dag_runs([run], new_task_instances(run, spec))
            return run
        except IntegrityError:
            run_id_taken, date_taken = _taken(dag_id, run.run_id, run.execution_date)
            # A caller who named no logical date asked for "now": two triggers in the same
            # microsecond must not make one of them a 409, so the loser takes the next microsecond.
            retry = logical_date is None and date_taken and not (run_id is not None and run_id_taken)
            attempts_left -= 1
            if not retry or attempts_left == 0:
                raise _conflict(dag_id, run.run_id, run.execution_date, date_taken) from None
            now = max(utcnow(), run.execution_date + _ONE_MICROSECOND)


_TRIGGER_ATTEMPTS = 5
_ONE_MICROSECOND = dt.timedelta(microseconds=1)


def triggerable_dag(dag_id: str) -> tuple[DagSpec, str | None]:
    """The parsed structure and hash of an active DAG without import errors (404 / 400 otherwise)."""
    row = db.session.execute(
        select(DagModel.has_import_errors, SerializedDag.dag_hash)
        .join(SerializedDag, SerializedDag.dag_id == DagModel.dag_id)
        .where(DagModel.dag_id == dag_id, DagModel.is_active)
    ).first()
    if row is None:
        raise NotFound("DAG not found", f"DAG with dag_id: '{dag_id}' not found")
    if row.has_import_errors:
        raise BadRequest("DAG cannot be triggered", f"DAG with dag_id: '{dag_id}' has import errors")
    spec = _SPECS.get((dag_id, row.dag_hash))
    if spec is not None:
        return spec, row.dag_hash
    loaded = _load_spec(dag_id)
    if loaded is None:  # deleted since the first query
        raise NotFound("DAG not found", f"DAG with dag_id: '{dag_id}' not found")
    return loaded


# Parsed DAG structures by (dag_id, dag_hash): the hash changes whenever the DAG file does, and
# parsing the stored structure again for every trigger cost a tenth of it.
_SPECS: OrderedDict[tuple[str, str], DagSpec] = OrderedDict()
_SPECS_SIZE = 256


def _load_spec(dag_id: str) -> tuple[DagSpec, str] | None:
    row = db.session.execute(
        select(SerializedDag.data, SerializedDag.dag_hash).where(SerializedDag.dag_id == dag_id)
    ).first()
    if row is None:
        return None
    data, dag_hash = row
    spec = DagSpec.from_dict(data)
    _SPECS[(dag_id, dag_hash)] = spec
    while len(_SPECS) > _SPECS_SIZE:
        _SPECS.popitem(last=False)
    return spec, dag_hash


def new_dag_run(
    spec: DagSpec,
    dag_hash: str | None,
    *,
    run_id: str | None = None,
    logical_date: dt.datetime | None = None,
    data_interval: tuple[dt.datetime, dt.datetime] | None = None,
    conf: Mapping | None = None,
    note: str | None = None,
    external_trigger: bool = True,
    run_type: str = "manual",
    state: str = S.QUEUED,
    now: dt.datetime | None = None,
) -> DagRun:
    """A checked, unsaved run of `spec` (see trigger_dag_run for the rules); no database access."""
    now = now or utcnow()
    if run_type not in RUN_TYPES:
        raise BadRequest(detail=f"Unknown run type {run_type!r}")
    logical_date = _aware(logical_date, "logical_date") if logical_date is not None else now
    run_id = run_id if run_id is not None else generate_run_id(run_type, logical_date)
    check_run_id(run_id)
    validate_conf(spec, conf)
    interval = _data_interval(spec, run_type, logical_date, data_interval)
    return DagRun(
        dag_id=spec.dag_id,
        run_id=run_id,
        execution_date=logical_date,
        run_type=run_type,
        external_trigger=external_trigger,
        conf=dict(conf) if conf is not None else None,
        data_interval_start=interval.start,
        data_interval_end=interval.end,
        dag_hash=dag_hash,
        note=note,
        state=state,
        queued_at=now if state == S.QUEUED else None,
        start_date=now if state == S.RUNNING else None,
        clear_number=0,
    )


def insert_dag_runs(runs: Sequence[DagRun], tis: Sequence[TaskInstance]) -> None:
    """Add new runs and their task instances in two flushes, whatever their number: the trigger
    adds one run, the bench's loader thousands at a time. A taken run id or logical date raises
    IntegrityError, with the session's transaction rolled back."""
    db.session.add_all(runs)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise
    db.session.add_all(tis)
    db.session.flush()


def _aware(value: dt.datetime, name: str) -> dt.datetime:
    if value.tzinfo is None:
        raise BadRequest("Invalid datetime format", f"Naive datetime is disallowed ({name})")
    return value


def _data_interval(spec: DagSpec, run_type: str, logical_date: dt.datetime, given) -> timetable.DataInterval:
    if given is not None:
        start, end = given
        return timetable.DataInterval(_aware(start, "data_interval_start"), _aware(end, "data_interval_end"))
    if run_type == "manual":
        return timetable.infer_manual_data_interval(spec, logical_date)
    return timetable.infer_automated_data_interval(spec, logical_date)


def _taken(dag_id: str, run_id: str, logical_date: dt.datetime) -> tuple[bool, bool]:
    """Whether a run of the DAG has this run id, and whether one has this logical date."""
    existing = db.session.execute(
        select(DagRun.run_id, DagRun.execution_date).where(
            DagRun.dag_id == dag_id, or_(DagRun.run_id == run_id, DagRun.execution_date == logical_date)
        )
    ).all()
    return any(row.run_id == run_id for row in existing), any(row.execution_date == logical_date for row in existing)


def _conflict(dag_id: str, run_id: str, logical_date: dt.datetime, date_taken: bool) -> AlreadyExists:
    """Name what the insert collided with, as Airflow does (the logical date first)."""
    if date_taken:
        shown = logical_date.astimezone(dt.timezone.utc).isoformat(sep=" ")
        return AlreadyExists(detail=f"DAGRun with DAG ID: '{dag_id}' and DAGRun logical date: '{shown}' already exists")
    return AlreadyExists(detail=f"DAGRun with DAG ID: '{dag_id}' and DAGRun ID: '{run_id}' already exists")


# -- task instances ----------------------------------------------------------------------------
def priority_weights(spec: DagSpec) -> dict[str, int]:
    """Each task's effective priority, by its weight rule (Airflow's priority_weight_total)."""
    own = {task.task_id: task.priority_weight for task in spec.tasks}

    def reach(task: TaskSpec, direction: str) -> set[str]:
        seen: set[str] = set()
        pending = list(getattr(task, direction))
        while pending:
            current = pending.pop()
            if current not in seen and current in own:
                seen.add(current)
                pending.extend(getattr(spec.task(current), direction))
        return seen

    weights = {}
    for task in spec.tasks:
        if task.weight_rule == "absolute":
            weights[task.task_id] = task.priority_weight
        else:
            others = reach(task, task.weight_rule)
            weights[task.task_id] = task.priority_weight + sum(own[other] for other in others)
    return weights


def map_indexes(task: TaskSpec) -> list[int]:
    """-1 for an unmapped task; one index per element of the expansion (the product of the lists)."""
    if task.expand is None:
        return [-1]
    return list(range(math.prod(len(values) for values in task.expand.values())))


def new_task_instances(run: DagRun, spec: DagSpec) -> list[TaskInstance]:
    """The task instances a run of `spec` has (not added to the session).

    A mapped task whose expansion is empty gets one skipped placeholder (map index -1), as in
    Airflow, so that its downstream tasks see it finished.
    """
    weights = priority_weights(spec)
    unixname = getpass.getuser()
    tis = []
    for task in spec.tasks:
        indexes = map_indexes(task)
        for index in indexes or [-1]:
            tis.append(
                TaskInstance(
                    dag_id=run.dag_id,
                    run_id=run.run_id,
                    task_id=task.task_id,
                    map_index=index,
                    task_display_name=task.task_id,
                    state=None if indexes else S.SKIPPED,
                    try_number=0,
                    max_tries=task.retries,
                    hostname="",
                    unixname=unixname,
                    pool=task.pool,
                    pool_slots=task.pool_slots,
                    queue=task.queue,
                    priority_weight=weights[task.task_id],
                    operator=task.operator,
                    executor_config="{}",
                )
            )
    return tis


def create_task_instances(run: DagRun, spec: DagSpec) -> list[TaskInstance]:
    """Add the task instances of a new run to the session."""
    tis = new_task_instances(run, spec)
    db.session.add_all(tis)
    return tis


def delete_dag_run(run: DagRun, conf) -> None:
    """Delete a run with its task instances, tries, XComs and notes (the database cascades) and
    its log files. No commit."""
    db.session.execute(delete(DagRun).where(DagRun.id == run.id))
    db.session.flush()
    delete_run_logs(conf, run.dag_id, run.run_id)
