"""DAGs: list, read, pause and unpause, delete; rows filtered to the DAGs the caller may see."""
from __future__ import annotations

from flask import Response
from marshmallow import Schema, fields
from sqlalchemy import Select, select

from app.audit import action_logging
from app.dags import operations
from app.dags.structure import load_dag_spec
from app.errors import AlreadyExists, BadRequest, NotFound
from app.extensions import db
from app.models import DagModel, DagTag
from app.queries import (
    contains_pattern,
    load_or_400,
    order_by_clause,
    paginate,
    plain_rows,
    project,
    select_fields,
    split_csv,
)
from app.schemas.dag_schema import (
    DAG_DETAIL_FIELDS,
    DAG_FIELDS,
    DAGCollection,
    dag_collection_schema,
    dag_detail_schema,
    dag_detail_view,
    dag_schema,
    dag_view,
)
from app.security import current_identity, dag_access, requires_access

ORDER_BY = {"dag_id": DagModel.dag_id}
# What a DAG of the list shows (the dataset expression, a JSON document, is for the details only).
LIST_COLUMNS = [column for column in DagModel.__table__.columns if column.name != "dataset_expression"]
ONLY_IS_PAUSED = "Only `is_paused` field can be updated through the REST API"


class _PatchBody(Schema):
    is_paused = fields.Boolean(required=True)


_patch_body = _PatchBody()


def _filtered(
    stmt: Select, *, methods: tuple[str, ...], only_active=True, paused=None, tags=None, dag_id_pattern=None
) -> Select:
    permitted = current_identity().permitted_dag_ids(methods)
    if permitted is not None:
        stmt = stmt.where(DagModel.dag_id.in_(sorted(permitted)))
    if only_active:
        stmt = stmt.where(DagModel.is_active)
    if paused is not None:
        stmt = stmt.where(DagModel.is_paused == paused)
    if dag_id_pattern:
        # As in Airflow, `%` and `_` in the pattern are LIKE wildcards (bound as data).
        stmt = stmt.where(contains_pattern(DagModel.dag_id, dag_id_pattern, literal=False))
    tag_names = split_csv(tags)
    if tag_names:
        stmt = stmt.where(DagModel.tags.any(DagTag.name.in_(tag_names)))
    return stmt


def _is_paused_from(body: dict, update_mask) -> bool:
    data = load_or_400(_patch_body, body)
    if update_mask and split_csv(update_mask) != ["is_paused"]:
        raise BadRequest(detail=ONLY_IS_PAUSED)
    return data["is_paused"]


def _tag_names(dag_ids: list[str]) -> dict[str, list[str]]:
    """dag_id -> its tag names in order, in one query: lighter than loading DagTag rows as objects."""
    tags: dict[str, list[str]] = {dag_id: [] for dag_id in dag_ids}
    stmt = select(DagTag.dag_id, DagTag.name).where(DagTag.dag_id.in_(dag_ids)).order_by(DagTag.dag_id, DagTag.name)
    for dag_id, name in db.session.execute(stmt):
        tags[dag_id].append(name)
    return tags


def _dump_collection(dags: list[DagModel], total: int, names, tags: dict[str, list[str]] | None = None) -> dict:
    views = [dag_view(d, tags[d.dag_id] if tags is not None else None) for d in dags]
    body = dag_collection_schema.dump(DAGCollection(views, total))
    body["dags"] = [project(d, names) for d in body["dags"]]
    return body


@requires_access(dag_access("GET"))
def get_dags(
    *, limit=None, offset=None, order_by=None, tags=None, only_active=True, paused=None, fields=None,
    dag_id_pattern=None,
):
    """List the DAGs the caller may read."""
    names = select_fields(fields, DAG_FIELDS, title="DAGCollectionSchema error", schema="DAGSchema")
    # Rows, not DagModel and DagTag objects (tag names come from _tag_names): a page is only read,
    # and loading those objects cost half of the request.
    stmt = _filtered(
        select(*LIST_COLUMNS), methods=("GET",), only_active=only_active, paused=paused, tags=tags,
        dag_id_pattern=dag_id_pattern,
    )
    page = paginate(
        stmt.order_by(*order_by_clause(order_by, ORDER_BY, "dag_id")), limit=limit, offset=offset, scalars=False
    )
    dags = plain_rows(page.items)
    return _dump_collection(dags, page.total_entries, names, _tag_names([d.dag_id for d in dags]))


@requires_access(dag_access("PUT"))
@action_logging()
def patch_dags(*, body, dag_id_pattern, limit=None, offset=None, tags=None, update_mask=None, only_active=True):
    """Pause or unpause the DAGs matching a pattern (`~` for all) that the caller may edit."""
    is_paused = _is_paused_from(body, update_mask)
    stmt = _filtered(
        select(DagModel), methods=("PUT",), only_active=only_active, tags=tags,
        dag_id_pattern=None if dag_id_pattern == "~" else dag_id_pattern,
    )
    page = paginate(stmt.order_by(DagModel.dag_id), limit=limit, offset=offset)
    operations.set_paused([d.dag_id for d in page.items], is_paused)
    db.session.commit()
    return _dump_collection(page.items, page.total_entries, None)


@requires_access(dag_access("GET"))
def get_dag(*, dag_id, fields=None):
    """Show one DAG."""
    names = select_fields(fields, DAG_FIELDS, title="DAGSchema init error", schema="DAGSchema")
    dag = db.session.get(DagModel, dag_id)
    if dag is None:
        raise NotFound("DAG not found", f"The DAG with dag_id: {dag_id} was not found")
    return project(dag_schema.dump(dag_view(dag)), names)


@requires_access(dag_access("GET"))
def get_dag_details(*, dag_id, fields=None):
    """Show one DAG with its parsed details."""
    names = select_fields(fields, DAG_DETAIL_FIELDS, title="DAGDetailSchema init error", schema="DAGDetailSchema")
    dag = db.session.get(DagModel, dag_id)
    spec = load_dag_spec(dag_id) if dag is not None else None
    if spec is None:
        raise NotFound("DAG not found", f"The DAG with dag_id: {dag_id} was not found")
    return project(dag_detail_schema.dump(dag_detail_view(dag, spec)), names)


@requires_access(dag_access("PUT"))
@action_logging()
def patch_dag(*, dag_id, body, update_mask=None):
    """Pause or unpause one DAG."""
    is_paused = _is_paused_from(body, update_mask)
    dag = db.session.get(DagModel, dag_id)
    if dag is None:
        raise NotFound(f"Dag with id: '{dag_id}' not found")
    dag.is_paused = is_paused
    db.session.commit()
    return dag_schema.dump(dag_view(dag))


@requires_access(dag_access("DELETE"))
@action_logging()
def delete_dag(*, dag_id):
    """Delete a DAG's metadata and runs; 409 while any of its tasks runs."""
    try:
        operations.delete_dag(dag_id)
    except operations.DagHasRunningTasks:
        db.session.rollback()
        raise AlreadyExists(detail=f"Task instances of dag with id: '{dag_id}' are still running") from None
    except operations.DagNotFound:
        db.session.rollback()
        raise NotFound(f"Dag with id: '{dag_id}' not found") from None
    db.session.commit()
    return Response(status=204, mimetype="application/json")
