"""Asking for a DAG file to be parsed again."""
from __future__ import annotations

import logging
from pathlib import Path

from flask import Response
from sqlalchemy.exc import IntegrityError

from app.audit import action_logging
from app.dags import processor
from app.dags.file_tokens import fileloc_of
from app.dags.operations import dag_ids_in_file
from app.errors import NotFound, PermissionDenied
from app.extensions import db
from app.models import DagPriorityParsingRequest
from app.queries import conf
from app.security import CAN_EDIT, current_identity, dag_access, requires_access

log = logging.getLogger(__name__)


@requires_access(dag_access("PUT"))
@action_logging()
def reparse_dag_file(*, file_token):
    """Queue a DAG file for parsing, and parse it now when this node can read it."""
    fileloc = fileloc_of(file_token)
    dag_ids = dag_ids_in_file(fileloc) if fileloc is not None else []
    if not dag_ids:
        raise NotFound("File not found")
    identity = current_identity()
    if not all(identity.can_dag(CAN_EDIT, dag_id) for dag_id in dag_ids):
        raise PermissionDenied()
    db.session.add(DagPriorityParsingRequest(fileloc=fileloc))
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        return Response("Duplicate request", status=201, mimetype="text/plain")
    # The request stays for the scheduler when the file is not on this node (or parsing fails).
    if Path(fileloc).is_file():
        try:
            processor.process_file(conf(), fileloc)
        except Exception:
            db.session.rollback()
            log.exception("Parsing %s on request failed; the scheduler will parse it", fileloc)
    return Response(status=201)
