"""DAG warnings, filtered to the DAGs the caller may read."""
from __future__ import annotations

from sqlalchemy import select

from app.models import DagWarning
from app.queries import order_by_clause, paginate
from app.schemas.dag_warning_schema import DagWarningCollection, dag_warning_collection_schema
from app.security import current_identity, dag_access, requires_access

ORDER_BY = {
    "dag_id": DagWarning.dag_id,
    "warning_type": DagWarning.warning_type,
    "message": DagWarning.message,
    "timestamp": DagWarning.timestamp,
}


@requires_access(dag_access("GET", "WARNING"))
def get_dag_warnings(*, dag_id=None, warning_type=None, limit=None, offset=None, order_by=None):
    """List DAG warnings."""
    stmt = select(DagWarning)
    if dag_id is not None:
        stmt = stmt.where(DagWarning.dag_id == dag_id)
    else:
        permitted = current_identity().permitted_dag_ids(("GET",))
        if permitted is not None:
            stmt = stmt.where(DagWarning.dag_id.in_(sorted(permitted)))
    if warning_type is not None:
        stmt = stmt.where(DagWarning.warning_type == warning_type)
    stmt = stmt.order_by(*order_by_clause(order_by, ORDER_BY, "timestamp", tiebreak=DagWarning.dag_id))
    page = paginate(stmt, limit=limit, offset=offset)
    return dag_warning_collection_schema.dump(DagWarningCollection(page.items, page.total_entries))
