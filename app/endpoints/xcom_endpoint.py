"""XCom entries of task instances: list (with ~ for DAG, run and task) and read one."""
from __future__ import annotations

import json

from sqlalchemy import and_, select

from app.errors import BadRequest, NotFound
from app.extensions import db
from app.models import DagRun, XCom
from app.queries import conf, paginate
from app.schemas.xcom_schema import XComCollection, xcom_collection_schema, xcom_schema
from app.security import current_identity, dag_access, requires_access


def _entries():
    """XComs with their run's logical date, in one joined query."""
    run = and_(DagRun.dag_id == XCom.dag_id, DagRun.run_id == XCom.run_id)
    return select(XCom, DagRun.execution_date).join(DagRun, run)


def _view(xcom: XCom, execution_date) -> dict:
    return {
        "key": xcom.key, "timestamp": xcom.timestamp, "execution_date": execution_date,
        "map_index": xcom.map_index, "task_id": xcom.task_id, "dag_id": xcom.dag_id,
    }


@requires_access(dag_access("GET", "XCOM"))
def get_xcom_entries(*, dag_id, dag_run_id, task_id, map_index=None, xcom_key=None, limit=None, offset=None):
    """List XCom entries; `~` for the DAG, the run or the task lists across them."""
    stmt = _entries()
    if dag_id == "~":
        permitted = current_identity().permitted_dag_ids(("GET",))
        if permitted is not None:
            stmt = stmt.where(XCom.dag_id.in_(sorted(permitted)))
    else:
        stmt = stmt.where(XCom.dag_id == dag_id)
    if dag_run_id != "~":
        stmt = stmt.where(XCom.run_id == dag_run_id)
    if task_id != "~":
        stmt = stmt.where(XCom.task_id == task_id)
    if map_index is not None:
        stmt = stmt.where(XCom.map_index == map_index)
    if xcom_key is not None:
        stmt = stmt.where(XCom.key == xcom_key)
    stmt = stmt.order_by(XCom.dag_id, XCom.task_id, XCom.run_id, XCom.map_index, XCom.key)
    page = paginate(stmt, limit=limit, offset=offset, scalars=False)
    items = [_view(xcom, execution_date) for xcom, execution_date in page.items]
    return xcom_collection_schema.dump(XComCollection(items, page.total_entries))


@requires_access(dag_access("GET", "XCOM"))
def get_xcom_entry(*, dag_id, dag_run_id, task_id, xcom_key, map_index=-1, deserialize=False, stringify=True):
    """Show one XCom value: by default as Python's str() of it, as Airflow shows it; natively with
    stringify=false."""
    config = conf()
    if deserialize and not config.getboolean("api", "enable_xcom_deserialize_support"):
        raise BadRequest(detail="XCom deserialization is disabled in configuration.")
    row = db.session.execute(
        _entries().where(
            XCom.dag_id == dag_id, XCom.run_id == dag_run_id, XCom.task_id == task_id,
            XCom.map_index == map_index, XCom.key == xcom_key,
        )
    ).first()
    if row is None:
        raise NotFound("XCom entry not found")
    xcom, execution_date = row
    value = json.loads(xcom.value) if xcom.value is not None else None
    if stringify or config.getboolean("core", "enable_xcom_pickling"):
        value = str(value)
    return xcom_schema.dump({**_view(xcom, execution_date), "value": value})
