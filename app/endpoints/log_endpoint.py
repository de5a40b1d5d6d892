"""The log of one try of a task instance, as text or as JSON with a continuation token."""
from __future__ import annotations

from flask import Response, current_app, request
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import select

from app.errors import BadRequest, NotFound
from app.extensions import db
from app.jsonutil import dumps
from app.models import TaskInstance, TaskInstanceHistory
from app.queries import conf
from app.runs.logs import read_try_log, try_log_path
from app.runs.states import DEFERRED, RUNNING
from app.schemas.log_schema import LogResponse, log_schema
from app.security import dag_access, requires_access

MEDIA_TYPES = ["text/plain", "application/json"]
BAD_TOKEN = "Bad Signature. Please use only the tokens provided by the API."
CHUNK = 64 * 1024


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"])


def _metadata(token: str | None) -> dict:
    if not token:
        return {}
    try:
        metadata = _serializer().loads(token)
    except BadSignature:
        raise BadRequest(BAD_TOKEN) from None
    if not isinstance(metadata, dict):
        raise BadRequest(BAD_TOKEN)
    return metadata


def _the_try(dag_id, dag_run_id, task_id, map_index, try_number):
    """(try row, is it the current try) for a try that started; 404 otherwise."""
    def where(model):
        return (model.dag_id == dag_id, model.run_id == dag_run_id, model.task_id == task_id,
                model.map_index == map_index)

    ti = db.session.execute(select(TaskInstance).where(*where(TaskInstance))).scalar()
    if ti is None:
        raise NotFound("TaskInstance not found")
    past = db.session.execute(
        select(TaskInstanceHistory).where(*where(TaskInstanceHistory), TaskInstanceHistory.try_number == try_number)
    ).scalar()
    found, current = (past, False) if past is not None else (ti, True)
    if found.try_number != try_number or found.start_date is None:
        raise NotFound(
            "Log not found",
            f"Try {try_number} of task '{task_id}' (map index {map_index}) in run '{dag_run_id}' has not run",
        )
    return found, current


@requires_access(dag_access("GET", "TASK_LOGS"))
def get_log(*, dag_id, dag_run_id, task_id, task_try_number, full_content=False, map_index=-1, token=None):
    """Read one try's log: text/plain streams it; JSON (the default) answers Airflow's `content`
    and a signed token that continues where this read ended."""
    metadata = _metadata(token)
    row, current = _the_try(dag_id, dag_run_id, task_id, map_index, task_try_number)
    path = try_log_path(conf(), dag_id, dag_run_id, task_id, map_index, task_try_number)
    text = read_try_log(path)
    if text is None:
        header, text = f"*** Log file does not exist: {path}\n", ""
    else:
        header = f"*** Found local files:\n***   * {path}\n"
    full_content = bool(full_content or metadata.get("download_logs"))
    position = metadata.get("log_pos")
    out = text[position:] if isinstance(position, int) and not full_content else header + text
    host = row.hostname or ""
    if request.accept_mimetypes.best_match(MEDIA_TYPES) == "text/plain":
        body = f"{host}\n{out}\n"
        return Response((body[i:i + CHUNK] for i in range(0, len(body), CHUNK)), mimetype="text/plain")
    finished = not current or row.state not in (RUNNING, DEFERRED)
    token = _serializer().dumps({"end_of_log": finished, "log_pos": len(text), "download_logs": full_content})
    body = log_schema.dump(LogResponse(content=str([(host, out)]), continuation_token=token))
    return Response(dumps(body) + "\n", mimetype="application/json")
