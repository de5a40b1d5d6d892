"""Task instances: lists (one run, or many with ~), search, read, mark, annotate, dependencies,
tries, and the DAG-wide clear and mark operations."""
from __future__ import annotations

from sqlalchemy import Select, func, select

from app import runs
from app.audit import action_logging
from app.dags.structure import DagSpec, load_dag_spec
from app.errors import BadRequest, NotFound, PermissionDenied
from app.extensions import db
from app.models import DagRun, TaskInstance, TaskInstanceHistory
from app.queries import apply_date_range, apply_range, in_or_null, load_or_400, paginate, split_csv
from app.runs.dependencies import failed_dependencies
from app.runs.states import FAILED, RUNNING, UPSTREAM_FAILED, parse_ti_states
from app.schemas.task_instance_schema import (
    TaskInstanceCollection,
    clear_task_instances_body,
    list_task_instance_form,
    task_instance_collection_schema,
    task_instance_history_collection_schema,
    task_instance_history_schema,
    task_instance_note_body,
    task_instance_reference_collection_schema,
    task_instance_reference_schema,
    task_instance_schema,
    update_task_instance_body,
    update_task_instances_state_body,
)
from app.security import CAN_READ, current_identity, dag_access, requires_access

TI = TaskInstance
MAPPED = "Task instance is mapped, add the map_index value to the URL"
# listMapped's orderings, as Airflow lists them; ties go by map index.
MAPPED_ORDER_BY = {
    "map_index": (TI.map_index.asc(),),
    "-map_index": (TI.map_index.desc(),),
    **{
        f"{sign}{name}": ((column.desc() if sign else column.asc()), TI.map_index.asc())
        for name, column in {"state": TI.state, "duration": TI.duration, "start_date": TI.start_date,
                             "end_date": TI.end_date}.items()
        for sign in ("", "-")
    },
}


# -- lookups -----------------------------------------------------------------------------------
def _ti_query(dag_id, dag_run_id, task_id) -> Select:
    return select(TI).where(TI.dag_id == dag_id, TI.run_id == dag_run_id, TI.task_id == task_id)


def _one_ti(dag_id, dag_run_id, task_id, map_index, missing_title: str) -> TaskInstance:
    """The task instance at `map_index`; asking for -1 of a mapped task is 404 with a hint."""
    if map_index != -1:
        ti = db.session.execute(_ti_query(dag_id, dag_run_id, task_id).where(TI.map_index == map_index)).scalar()
        if ti is None:
            raise NotFound(missing_title)
        return ti
    ti = db.session.execute(_ti_query(dag_id, dag_run_id, task_id).order_by(TI.map_index).limit(1)).scalar()
    if ti is None:
        raise NotFound(missing_title)
    if ti.map_index != -1:
        raise NotFound("Task instance not found", MAPPED)
    return ti


def _filters(stmt: Select, *, dag_ids=None, run_ids=None, task_ids=None, state=None, pool=None, queue=None,
             executor=None, duration_gte=None, duration_lte=None, **bounds) -> Select:
    """The task-instance filters the lists share. The run is joined only to filter on its logical
    date: every task instance has its run (a foreign key), and counting through the join read both
    tables whole (1.6 s for a million task instances)."""
    for column, values in ((TI.dag_id, dag_ids), (TI.run_id, run_ids), (TI.task_id, task_ids),
                           (TI.pool, pool), (TI.queue, queue), (TI.executor, executor)):
        if values is not None:
            stmt = stmt.where(column.in_(sorted(values)))
    states = parse_ti_states(state)
    if states is not None:
        stmt = stmt.where(in_or_null(TI.state, states))
    stmt = apply_range(stmt, TI.duration, duration_gte, duration_lte)
    if bounds.get("execution_date_gte") is not None or bounds.get("execution_date_lte") is not None:
        stmt = stmt.join(TI.dag_run)
    for name, column in (("execution_date", DagRun.execution_date), ("start_date", TI.start_date),
                         ("end_date", TI.end_date), ("updated_at", TI.updated_at)):
        stmt = apply_date_range(stmt, column, bounds.get(f"{name}_gte"), bounds.get(f"{name}_lte"))
    return stmt


def _arrays(**values) -> dict:
    """Query arrays (repeated or comma-separated) as lists, None when absent."""
    return {name: split_csv(value) if value is not None else None for name, value in values.items()}


def _collection(stmt: Select, *, limit, offset, order=(TI.map_index.asc(),)) -> dict:
    # Airflow does not clamp task-instance pages to [api] maximum_page_limit.
    page = paginate(stmt.order_by(*order, TI.id), limit=limit, offset=offset, clamp=False)
    return task_instance_collection_schema.dump(TaskInstanceCollection(page.items, page.total_entries))


# -- lists -------------------------------------------------------------------------------------
@requires_access(dag_access("GET", "TASK_INSTANCE"))
def get_task_instances(
    *, dag_id, dag_run_id, limit=None, offset=None, execution_date_gte=None, execution_date_lte=None,
    start_date_gte=None, start_date_lte=None, end_date_gte=None, end_date_lte=None, updated_at_gte=None,
    updated_at_lte=None, duration_gte=None, duration_lte=None, state=None, pool=None, queue=None, executor=None,
):
    """List the task instances of a run; `~` for the DAG or the run lists across them."""
    dag_ids = current_identity().permitted_dag_ids(("GET",)) if dag_id == "~" else {dag_id}
    stmt = _filters(
        select(TI),
        dag_ids=dag_ids, run_ids=None if dag_run_id == "~" else [dag_run_id],
        duration_gte=duration_gte, duration_lte=duration_lte, state=split_csv(state) if state else None,
        execution_date_gte=execution_date_gte, execution_date_lte=execution_date_lte,
        start_date_gte=start_date_gte, start_date_lte=start_date_lte, end_date_gte=end_date_gte,
        end_date_lte=end_date_lte, updated_at_gte=updated_at_gte, updated_at_lte=updated_at_lte,
        **_arrays(pool=pool, queue=queue, executor=executor),
    )
    return _collection(stmt, limit=limit, offset=offset)


@requires_access(dag_access("GET", "TASK_INSTANCE"))
def get_task_instances_batch(*, body):
    """Search task instances of the DAGs the caller may read, with the filters in the body."""
    form = load_or_400(list_task_instance_form, body)
    identity = current_identity()
    dag_ids = form.pop("dag_ids")
    if dag_ids:
        refused = sorted({d for d in dag_ids if not identity.can_dag(CAN_READ, d)})
        if refused:
            raise PermissionDenied(detail=f"User not allowed to access some of these DAGs: {refused}")
    else:
        dag_ids = identity.permitted_dag_ids(("GET",))
    limit, offset = form.pop("page_limit"), form.pop("page_offset")
    stmt = _filters(
        select(TI), dag_ids=dag_ids, run_ids=form.pop("dag_run_ids"),
        task_ids=form.pop("task_ids"), **form,
    )
    return _collection(stmt, limit=limit, offset=offset)


@requires_access(dag_access("GET", "TASK_INSTANCE"))
def get_mapped_task_instances(
    *, dag_id, dag_run_id, task_id, limit=None, offset=None, order_by=None, execution_date_gte=None,
    execution_date_lte=None, start_date_gte=None, start_date_lte=None, end_date_gte=None, end_date_lte=None,
    updated_at_gte=None, updated_at_lte=None, duration_gte=None, duration_lte=None, state=None, pool=None,
    queue=None, executor=None,
):
    """List the expanded task instances of a mapped task in a run."""
    order = MAPPED_ORDER_BY.get(order_by or "map_index")
    if order is None:
        raise BadRequest(detail=f"Ordering with '{order_by}' is not supported")
    base = _ti_query(dag_id, dag_run_id, task_id).where(TI.map_index >= 0)
    if db.session.execute(select(func.count()).select_from(base.subquery())).scalar_one() == 0:
        _check_mapped_task(dag_id, task_id)
    stmt = _filters(
        base, duration_gte=duration_gte, duration_lte=duration_lte, state=split_csv(state) if state else None,
        execution_date_gte=execution_date_gte, execution_date_lte=execution_date_lte,
        start_date_gte=start_date_gte, start_date_lte=start_date_lte, end_date_gte=end_date_gte,
        end_date_lte=end_date_lte, updated_at_gte=updated_at_gte, updated_at_lte=updated_at_lte,
        **_arrays(pool=pool, queue=queue, executor=executor),
    )
    return _collection(stmt, limit=limit, offset=offset, order=order)


def _check_mapped_task(dag_id: str, task_id: str) -> None:
    """Without mapped instances, say why: no DAG, no task, or a task that is not mapped."""
    spec = load_dag_spec(dag_id)
    if spec is None:
        raise NotFound(f"DAG {dag_id} not found")
    task = spec.task(task_id)
    if task is None:
        raise NotFound(f"Task id {task_id} not found")
    if not task.is_mapped:
        raise NotFound(f"Task id {task_id} is not mapped")


# -- one task instance -------------------------------------------------------------------------
@requires_access(dag_access("GET", "TASK_INSTANCE"))
def get_task_instance(*, dag_id, dag_run_id, task_id):
    """Show an unmapped task instance."""
    return task_instance_schema.dump(_one_ti(dag_id, dag_run_id, task_id, -1, "Task instance not found"))


@requires_access(dag_access("GET", "TASK_INSTANCE"))
def get_mapped_task_instance(*, dag_id, dag_run_id, task_id, map_index):
    """Show one mapped task instance."""
    return task_instance_schema.dump(_one_ti(dag_id, dag_run_id, task_id, map_index, "Task instance not found"))


def _patch(dag_id, dag_run_id, task_id, map_index, body) -> dict:
    data = load_or_400(update_task_instance_body, body)
    spec = load_dag_spec(dag_id)
    if spec is None:
        raise NotFound("DAG not found", f"DAG '{dag_id}' not found")
    if spec.task(task_id) is None:
        raise NotFound("Task not found", f"Task '{task_id}' not found in DAG '{dag_id}'")
    ti = db.session.execute(_ti_query(dag_id, dag_run_id, task_id).where(TI.map_index == map_index)).scalar()
    if ti is None:
        raise NotFound(detail=f"Task instance not found for task '{task_id}' on DAG run with ID '{dag_run_id}'")
    if not data["dry_run"]:
        runs.set_task_instance_state(spec, ti.dag_run, task_id, data["new_state"], map_indexes=[map_index])
        db.session.commit()
    return task_instance_reference_schema.dump(ti)


@requires_access(dag_access("PUT", "TASK_INSTANCE"))
@action_logging()
def patch_task_instance(*, dag_id, dag_run_id, task_id, body):
    """Mark an unmapped task instance (a dry run unless `dry_run` is false)."""
    return _patch(dag_id, dag_run_id, task_id, -1, body)


@requires_access(dag_access("PUT", "TASK_INSTANCE"))
@action_logging()
def patch_mapped_task_instance(*, dag_id, dag_run_id, task_id, map_index, body=None):
    """Mark one mapped task instance (a dry run unless `dry_run` is false)."""
    return _patch(dag_id, dag_run_id, task_id, map_index, body)


def _note(dag_id, dag_run_id, task_id, map_index, body) -> dict:
    note = load_or_400(task_instance_note_body, body)["note"]
    missing = f"Task Instance not found for dag_id={dag_id}, run_id={dag_run_id}, task_id={task_id}"
    ti = _one_ti(dag_id, dag_run_id, task_id, map_index, missing)
    ti.note = note
    db.session.commit()
    return task_instance_schema.dump(ti)


@requires_access(dag_access("PUT", "TASK_INSTANCE"))
@action_logging()
def set_task_instance_note(*, dag_id, dag_run_id, task_id, body):
    """Set or clear an unmapped task instance's note."""
    return _note(dag_id, dag_run_id, task_id, -1, body)


@requires_access(dag_access("PUT", "TASK_INSTANCE"))
@action_logging()
def set_mapped_task_instance_note(*, dag_id, dag_run_id, task_id, map_index, body):
    """Set or clear a mapped task instance's note."""
    return _note(dag_id, dag_run_id, task_id, map_index, body)


def _dependencies(dag_id, dag_run_id, task_id, map_index) -> dict:
    missing = f"Task Instance not found for dag_id={dag_id}, run_id={dag_run_id}, task_id={task_id}"
    ti = _one_ti(dag_id, dag_run_id, task_id, map_index, missing)
    return {"dependencies": failed_dependencies(ti, load_dag_spec(dag_id))}


@requires_access(dag_access("GET", "TASK_INSTANCE"))
def get_task_instance_dependencies(*, dag_id, dag_run_id, task_id):
    """Explain what keeps an unmapped task instance from running."""
    return _dependencies(dag_id, dag_run_id, task_id, -1)


@requires_access(dag_access("GET", "TASK_INSTANCE"))
def get_mapped_task_instance_dependencies(*, dag_id, dag_run_id, task_id, map_index):
    """Explain what keeps a mapped task instance from running."""
    return _dependencies(dag_id, dag_run_id, task_id, map_index)


# -- tries -------------------------------------------------------------------------------------
def _tries(dag_id, dag_run_id, task_id, map_index) -> list:
    """The finished tries in the history, then the current try unless the history holds it."""
    tries = list(
        db.session.execute(
            select(TaskInstanceHistory)
            .where(
                TaskInstanceHistory.dag_id == dag_id, TaskInstanceHistory.run_id == dag_run_id,
                TaskInstanceHistory.task_id == task_id, TaskInstanceHistory.map_index == map_index,
            )
            .order_by(TaskInstanceHistory.try_number)
        ).scalars()
    )
    current = db.session.execute(_ti_query(dag_id, dag_run_id, task_id).where(TI.map_index == map_index)).scalar()
    if current is not None and current.try_number not in {t.try_number for t in tries}:
        tries.append(current)
    return tries


def _tries_body(dag_id, dag_run_id, task_id, map_index) -> dict:
    tries = _tries(dag_id, dag_run_id, task_id, map_index)
    if not tries:
        raise NotFound(
            "Task instance not found",
            f"Task Instance not found for dag_id={dag_id}, run_id={dag_run_id}, task_id={task_id}, "
            f"map_index={map_index}",
        )
    return task_instance_history_collection_schema.dump({"task_instances": tries, "total_entries": len(tries)})


def _try(dag_id, dag_run_id, task_id, map_index, try_number) -> dict:
    found = next((t for t in _tries(dag_id, dag_run_id, task_id, map_index) if t.try_number == try_number), None)
    if found is None:
        raise NotFound(
            "Task instance not found",
            f"Task Instance not found for dag_id={dag_id}, run_id={dag_run_id}, task_id={task_id}, "
            f"map_index={map_index}, try_number={try_number}.",
        )
    return task_instance_history_schema.dump(found)


@requires_access(dag_access("GET", "TASK_INSTANCE"))
def get_task_instance_tries(*, dag_id, dag_run_id, task_id, limit=None, offset=None, order_by=None):
    """List the tries of an unmapped task instance (limit, offset and order_by are ignored, as in Airflow)."""
    return _tries_body(dag_id, dag_run_id, task_id, -1)


@requires_access(dag_access("GET", "TASK_INSTANCE"))
def get_mapped_task_instance_tries(*, dag_id, dag_run_id, task_id, map_index, limit=None, offset=None, order_by=None):
    """List the tries of a mapped task instance (limit, offset and order_by are ignored, as in Airflow)."""
    return _tries_body(dag_id, dag_run_id, task_id, map_index)


@requires_access(dag_access("GET", "TASK_INSTANCE"))
def get_task_instance_try_details(*, dag_id, dag_run_id, task_id, task_try_number):
    """Show one try of an unmapped task instance."""
    return _try(dag_id, dag_run_id, task_id, -1, task_try_number)


@requires_access(dag_access("GET", "TASK_INSTANCE"))
def get_mapped_task_instance_try_details(*, dag_id, dag_run_id, task_id, map_index, task_try_number):
    """Show one try of a mapped task instance."""
    return _try(dag_id, dag_run_id, task_id, map_index, task_try_number)


# -- DAG-wide operations -----------------------------------------------------------------------
def _spec_or_404(dag_id: str, title: str) -> DagSpec:
    spec = load_dag_spec(dag_id)
    if spec is None:
        raise NotFound(title)
    return spec


def _references(tis) -> dict:
    return task_instance_reference_collection_schema.dump({"task_instances": tis})


@requires_access(dag_access("PUT", "TASK_INSTANCE"))
@action_logging()
def post_clear_task_instances(*, dag_id, body):
    """Clear chosen task instances of a DAG, or (the default) list what would be cleared."""
    data = load_or_400(clear_task_instances_body, body)
    spec = _spec_or_404(dag_id, f"Dag id {dag_id} not found")
    start, end = data["start_date"], data["end_date"]
    if data["dag_run_id"] is not None:
        run = db.session.execute(
            select(DagRun).where(DagRun.dag_id == dag_id, DagRun.run_id == data["dag_run_id"])
        ).scalar()
        if run is None:
            raise NotFound(f"Dag Run id {data['dag_run_id']} not found in dag {dag_id}")
        start = end = run.execution_date
    start = None if data["include_past"] else start
    end = None if data["include_future"] else end
    task_ids = data["task_ids"] and runs.task_relatives(
        spec, data["task_ids"], upstream=data["include_upstream"], downstream=data["include_downstream"]
    )
    states = (FAILED, UPSTREAM_FAILED) if data["only_failed"] else (RUNNING,) if data["only_running"] else None
    tis = runs.select_task_instances(dag_id, task_ids=task_ids, start_date=start, end_date=end, states=states)
    if not data["dry_run"]:
        runs.clear_task_instances(tis, run_state="queued" if data["reset_dag_runs"] else None, specs={dag_id: spec})
        db.session.commit()
    return _references(tis)


@requires_access(dag_access("PUT", "TASK_INSTANCE"))
@action_logging()
def post_set_task_instances_state(*, dag_id, body):
    """Mark a task, optionally with its relatives and other runs (a dry run unless `dry_run` is false)."""
    data = load_or_400(update_task_instances_state_body, body)
    spec = _spec_or_404(dag_id, f"Dag ID {dag_id} not found")
    task_id = data["task_id"]
    if spec.task(task_id) is None:
        raise NotFound(f"Task ID {task_id} not found")
    if data["dag_run_id"] is not None:
        run_filter = DagRun.run_id == data["dag_run_id"]
        missing = f"Task instance not found for task '{task_id}' on DAG run with ID '{data['dag_run_id']}'"
    else:
        run_filter = DagRun.execution_date == data["execution_date"]
        missing = f"Task instance not found for task '{task_id}' on execution_date {data['execution_date']}"
    run = db.session.execute(
        select(DagRun).join(TI, (TI.dag_id == DagRun.dag_id) & (TI.run_id == DagRun.run_id))
        .where(DagRun.dag_id == dag_id, run_filter, TI.task_id == task_id)
        .limit(1)
    ).scalar()
    if run is None:
        raise NotFound(detail=missing)
    tis = runs.set_task_instance_state(
        spec, run, task_id, data["new_state"], upstream=data["include_upstream"],
        downstream=data["include_downstream"], future=data["include_future"], past=data["include_past"],
        commit=not data["dry_run"],
    )
    if not data["dry_run"]:
        db.session.commit()
    return _references(tis)
