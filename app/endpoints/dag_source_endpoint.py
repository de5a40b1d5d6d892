"""The source of a DAG file, by its signed file token."""
from __future__ import annotations

from flask import Response, request

from app.dags.file_tokens import fileloc_of
from app.dags.operations import dag_ids_in_file
from app.errors import NotAcceptable, NotFound, PermissionDenied
from app.extensions import db
from app.jsonutil import dumps
from app.models import DagCode
from app.security import CAN_READ, current_identity, dag_access, requires_access

MEDIA_TYPES = ["text/plain", "application/json"]


@requires_access(dag_access("GET", "CODE"))
def get_dag_source(*, file_token):
    """Show a DAG file's source as text or JSON; every DAG in the file must be readable."""
    fileloc = fileloc_of(file_token)
    source = db.session.get(DagCode, fileloc) if fileloc is not None else None
    if source is None:
        raise NotFound("Dag source not found")
    identity = current_identity()
    if not all(identity.can_dag(CAN_READ, dag_id) for dag_id in dag_ids_in_file(fileloc)):
        raise PermissionDenied()
    media_type = request.accept_mimetypes.best_match(MEDIA_TYPES)
    if media_type is None:
        raise NotAcceptable(detail="Not Allowed Accept Header")
    if media_type == "text/plain":
        return Response(source.source_code, mimetype="text/plain")
    return Response(dumps({"content": source.source_code}), mimetype="application/json")
