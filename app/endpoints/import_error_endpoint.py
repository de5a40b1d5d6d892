"""Import errors; a caller without read access to every DAG sees only the files of its DAGs."""
from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select

from app.errors import NotFound, PermissionDenied
from app.extensions import db
from app.models import DagModel, ImportErrorRecord
from app.queries import order_by_clause, paginate
from app.schemas.import_error_schema import (
    ImportErrorCollection,
    import_error_collection_schema,
    import_error_schema,
)
from app.security import CAN_READ, RESOURCE_IMPORT_ERROR, current_identity, perm, requires_access

ORDER_BY = {
    "import_error_id": ImportErrorRecord.id,
    "timestamp": ImportErrorRecord.timestamp,
    "filename": ImportErrorRecord.filename,
}
REDACTED = "REDACTED - you do not have read permission on all DAGs in the file"


def _dag_ids_by_file(filenames) -> dict[str, set[str]]:
    out: dict[str, set[str]] = defaultdict(set)
    stmt = select(DagModel.fileloc, DagModel.dag_id).where(DagModel.fileloc.in_(list(filenames)))
    for fileloc, dag_id in db.session.execute(stmt):
        out[fileloc].add(dag_id)
    return out


def _view(error: ImportErrorRecord, file_dag_ids: set[str], readable: set[str] | None) -> dict:
    stack_trace = error.stack_trace
    if readable is not None and not file_dag_ids <= readable:
        stack_trace = REDACTED
    return {"id": error.id, "timestamp": error.timestamp, "filename": error.filename, "stack_trace": stack_trace}


@requires_access(perm(CAN_READ, RESOURCE_IMPORT_ERROR))
def get_import_errors(*, limit=None, offset=None, order_by=None):
    """List import errors."""
    readable = current_identity().permitted_dag_ids(("GET",))
    stmt = select(ImportErrorRecord)
    if readable is not None:
        files = select(DagModel.fileloc).where(DagModel.dag_id.in_(sorted(readable))).distinct()
        stmt = stmt.where(ImportErrorRecord.filename.in_(files))
    stmt = stmt.order_by(*order_by_clause(order_by, ORDER_BY, "import_error_id", tiebreak=ImportErrorRecord.id))
    page = paginate(stmt, limit=limit, offset=offset)
    by_file = _dag_ids_by_file(e.filename for e in page.items) if readable is not None else {}
    views = [_view(e, by_file.get(e.filename, set()), readable) for e in page.items]
    return import_error_collection_schema.dump(ImportErrorCollection(views, page.total_entries))


@requires_access(perm(CAN_READ, RESOURCE_IMPORT_ERROR))
def get_import_error(*, import_error_id):
    """Show one import error."""
    error = db.session.get(ImportErrorRecord, import_error_id)
    if error is None:
        raise NotFound(
            "Import error not found", f"The ImportError with import_error_id: `{import_error_id}` was not found"
        )
    readable = current_identity().permitted_dag_ids(("GET",))
    file_dag_ids = _dag_ids_by_file([error.filename])[error.filename] if readable is not None else set()
    if readable is not None and not file_dag_ids & readable:
        raise PermissionDenied(detail="You do not have read permission on any of the DAGs in the file")
    return import_error_schema.dump(_view(error, file_dag_ids, readable))
