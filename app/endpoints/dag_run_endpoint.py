"""DAG runs: list (one DAG, or every readable DAG with ~), search, trigger, read, mark, clear,
annotate and delete."""
from __future__ import annotations

from flask import Response
from sqlalchemy import Select, Text, cast, select
from sqlalchemy.orm import defaultload

from app import runs
from app.audit import action_logging
from app.errors import BadRequest, NotFound
from app.extensions import db
from app.models import DagRun, DatasetEvent, dagrun_dataset_event
from app.queries import (
    apply_date_range,
    conf,
    load_or_400,
    order_by_clause,
    paginate,
    project,
    split_csv,
)
from app.schemas.dag_run_schema import (
    DAG_RUN_FIELDS,
    DAGRunCollection,
    clear_dag_run_body,
    dag_run_collection_schema,
    dag_run_schema,
    list_dag_runs_form,
    note_body,
    trigger_body,
    update_dag_run_state_body,
)
from app.schemas.dataset_event_schema import DatasetEventCollection, dataset_event_collection_schema
from app.schemas.task_instance_schema import task_instance_reference_collection_schema
from app.security import CAN_READ, RESOURCE_DATASET, current_identity, dag_access, perm, requires_access

ORDER_BY = {
    "id": DagRun.id,
    "state": DagRun.state,
    "dag_id": DagRun.dag_id,
    "execution_date": DagRun.execution_date,
    "dag_run_id": DagRun.run_id,
    "start_date": DagRun.start_date,
    "end_date": DagRun.end_date,
    "updated_at": DagRun.updated_at,
    "external_trigger": DagRun.external_trigger,
    # JSON has no ordering on PostgreSQL; its text does.
    "conf": cast(DagRun.conf, Text),
}
RANGES = {
    "execution_date": DagRun.execution_date,
    "start_date": DagRun.start_date,
    "end_date": DagRun.end_date,
    "updated_at": DagRun.updated_at,
}


def _run_or_404(dag_id: str, dag_run_id: str, title: str, detail: str | None = None) -> DagRun:
    run = db.session.execute(select(DagRun).where(DagRun.dag_id == dag_id, DagRun.run_id == dag_run_id)).scalar()
    if run is None:
        raise NotFound(title, detail)
    return run


def _existing_run(dag_id: str, dag_run_id: str) -> DagRun:
    detail = f"DAGRun with DAG ID: '{dag_id}' and DagRun ID: '{dag_run_id}' not found"
    return _run_or_404(dag_id, dag_run_id, "DAGRun not found", detail)


def _field_names(fields, title: str) -> list[str] | None:
    names = list(dict.fromkeys(split_csv(fields)))
    for name in names:
        if name not in DAG_RUN_FIELDS:
            raise BadRequest(title, f"{name} not in DAGRunSchema")
    return names or None


def _filtered(stmt: Select, dag_ids, states, bounds: dict) -> Select:
    if dag_ids is not None:
        stmt = stmt.where(DagRun.dag_id.in_(sorted(dag_ids)))
    if states:
        stmt = stmt.where(DagRun.state.in_(states))
    for name, column in RANGES.items():
        stmt = apply_date_range(stmt, column, bounds.get(f"{name}_gte"), bounds.get(f"{name}_lte"))
    return stmt


def _page(stmt: Select, order_by, *, limit, offset, clamp=True, names=None) -> dict:
    stmt = stmt.order_by(*order_by_clause(order_by, ORDER_BY, "id", tiebreak=DagRun.id))
    page = paginate(stmt, limit=limit, offset=offset, clamp=clamp)
    body = dag_run_collection_schema.dump(DAGRunCollection(page.items, page.total_entries))
    body["dag_runs"] = [project(run, names) for run in body["dag_runs"]]
    return body


@requires_access(dag_access("GET", "RUN"))
def get_dag_runs(
    *, dag_id, limit=None, offset=None, state=None, order_by=None, fields=None,
    execution_date_gte=None, execution_date_lte=None, start_date_gte=None, start_date_lte=None,
    end_date_gte=None, end_date_lte=None, updated_at_gte=None, updated_at_lte=None,
):
    """List the runs of a DAG, or with `~` the runs of every DAG the caller may read."""
    names = _field_names(fields, "DAGRunCollectionSchema error")
    dag_ids = current_identity().permitted_dag_ids(("GET",)) if dag_id == "~" else {dag_id}
    bounds = {
        "execution_date_gte": execution_date_gte, "execution_date_lte": execution_date_lte,
        "start_date_gte": start_date_gte, "start_date_lte": start_date_lte,
        "end_date_gte": end_date_gte, "end_date_lte": end_date_lte,
        "updated_at_gte": updated_at_gte, "updated_at_lte": updated_at_lte,
    }
    stmt = _filtered(select(DagRun), dag_ids, split_csv(state), bounds)
    return _page(stmt, order_by, limit=limit, offset=offset, names=names)


@requires_access(dag_access("GET", "RUN"))
def get_dag_runs_batch(*, body):
    """Search runs across the DAGs the caller may read, with the filters in the body."""
    form = load_or_400(list_dag_runs_form, body)
    permitted = current_identity().permitted_dag_ids(("GET",))
    dag_ids = form.pop("dag_ids")
    if dag_ids is None:
        dag_ids = permitted
    elif permitted is not None:
        # As in Airflow, DAGs the caller may not read are dropped, not refused.
        dag_ids = [d for d in dag_ids if d in permitted]
    stmt = _filtered(select(DagRun), dag_ids, form.pop("states"), form)
    return _page(stmt, form["order_by"], limit=form["page_limit"], offset=form["page_offset"], clamp=False)


@requires_access(dag_access("POST", "RUN"))
@action_logging()
def post_dag_run(*, dag_id, body):
    """Trigger a run of a DAG."""
    body = dict(body or {})
    execution_date = body.pop("execution_date", None)
    if execution_date is not None:
        logical_date = body.setdefault("logical_date", execution_date)
        if logical_date != execution_date:
            raise BadRequest("logical_date conflicts with execution_date", f"{logical_date!r} != {execution_date!r}")
    data = load_or_400(trigger_body, body)
    start, end = data.get("data_interval_start"), data.get("data_interval_end")
    run = runs.trigger_dag_run(
        dag_id,
        run_id=data.get("dag_run_id"),
        logical_date=data.get("logical_date"),
        data_interval=(start, end) if start is not None else None,
        conf=data.get("conf"),
        note=data.get("note"),
    )
    db.session.commit()
    return dag_run_schema.dump(run)


@requires_access(dag_access("GET", "RUN"))
def get_dag_run(*, dag_id, dag_run_id, fields=None):
    """Show one run."""
    names = _field_names(fields, "DAGRunSchema error")
    run = _existing_run(dag_id, dag_run_id)
    return project(dag_run_schema.dump(run), names)


@requires_access(dag_access("PUT", "RUN"))
@action_logging()
def update_dag_run_state(*, dag_id, dag_run_id, body):
    """Mark a run success, failed or queued, with its task instances."""
    state = load_or_400(update_dag_run_state_body, body)["state"]
    run = _run_or_404(dag_id, dag_run_id, f"Dag Run id {dag_run_id} not found in dag {dag_id}")
    runs.set_dag_run_state(run, state)
    db.session.commit()
    return dag_run_schema.dump(run)


@requires_access(dag_access("DELETE", "RUN"))
@action_logging()
def delete_dag_run(*, dag_id, dag_run_id):
    """Delete a run with its task instances, tries, XComs, notes and logs."""
    run = _run_or_404(
        dag_id, dag_run_id, "Not Found", f"DAGRun with DAG ID: '{dag_id}' and DagRun ID: '{dag_run_id}' not found"
    )
    runs.delete_dag_run(run, conf())
    db.session.commit()
    return Response(status=204, mimetype="application/json")


@requires_access(dag_access("PUT", "RUN"))
@action_logging()
def clear_dag_run(*, dag_id, dag_run_id, body):
    """Clear a run's task instances and queue it again, or (the default) list what would be cleared."""
    dry_run = load_or_400(clear_dag_run_body, body)["dry_run"]
    run = _run_or_404(dag_id, dag_run_id, f"Dag Run id {dag_run_id} not found in dag {dag_id}")
    tis = runs.select_task_instances(dag_id, run_ids=[run.run_id])
    if dry_run:
        return task_instance_reference_collection_schema.dump({"task_instances": tis})
    runs.clear_task_instances(tis)
    db.session.commit()
    return dag_run_schema.dump(run)


@requires_access(dag_access("PUT", "RUN"))
@action_logging()
def set_dag_run_note(*, dag_id, dag_run_id, body):
    """Set or clear a run's note."""
    note = load_or_400(note_body, body)["note"]
    run = _run_or_404(dag_id, dag_run_id, f"Dag Run id {dag_run_id} not found in dag {dag_id}")
    run.note = note
    db.session.commit()
    return dag_run_schema.dump(run)


@requires_access(dag_access("GET", "RUN"), perm(CAN_READ, RESOURCE_DATASET))
def get_upstream_dataset_events(*, dag_id, dag_run_id):
    """List the dataset events that triggered a run."""
    run = _existing_run(dag_id, dag_run_id)
    events = db.session.execute(
        select(DatasetEvent)
        .join(dagrun_dataset_event, dagrun_dataset_event.c.event_id == DatasetEvent.id)
        .where(dagrun_dataset_event.c.dag_run_id == run.id)
        .options(defaultload(DatasetEvent.dataset).lazyload("*"))
        .order_by(DatasetEvent.timestamp, DatasetEvent.id)
    ).scalars().all()
    return dataset_event_collection_schema.dump(DatasetEventCollection(events, len(events)))
