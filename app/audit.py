"""The audit (event) log: who changed what through the API.

Handlers that change state carry `@action_logging()` under their `@requires_access(...)`: the
entry is made after authorization and before the handler runs (as Airflow does), and a failed
attempt is recorded too. Secrets never reach `extra`.

The entry is committed with the handler's own commit (one commit per write instead of two: on
SQLite each commit waits for the disk). A request whose handler does not commit it (it failed,
rolled back, or changed nothing) gets the entry committed on its own once the handler is done.
"""
from __future__ import annotations

import functools
import json
import logging

from flask import request
from sqlalchemy import event as sa_event
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Session

from app.extensions import db
from app.models import EventLog
from app.secrets_masker import redact

log = logging.getLogger(__name__)

# Path and query keys that have columns of their own (or are noise) and stay out of `extra`.
_SKIPPED_ARGS = {"csrf_token", "_csrf_token", "is_paused", "dag_id", "task_id", "dag_run_id", "run_id", "execution_date"}


def _owner() -> tuple[str, str]:
    from app.security import current_identity

    identity = current_identity()
    if identity is None:
        return "anonymous", "anonymous"
    user = identity.user
    display = " ".join(filter(None, [getattr(user, "first_name", ""), getattr(user, "last_name", "")]))
    return identity.username, display or identity.username


def record_event(
    event: str,
    *,
    dag_id: str | None = None,
    task_id: str | None = None,
    run_id: str | None = None,
    map_index: int | None = None,
    try_number: int | None = None,
    execution_date=None,
    extra: dict | str | None = None,
    owner: str | None = None,
    owner_display_name: str | None = None,
    commit: bool = True,
) -> EventLog:
    """Write one audit entry. `extra` is redacted before it is stored."""
    entry = _new_entry(
        event, dag_id=dag_id, task_id=task_id, run_id=run_id, map_index=map_index, try_number=try_number,
        execution_date=execution_date, extra=extra, owner=owner, owner_display_name=owner_display_name,
    )
    db.session.add(entry)
    if commit:
        db.session.commit()
    return entry


def _new_entry(event, *, dag_id, task_id, run_id, map_index, try_number, execution_date, extra, owner,
               owner_display_name) -> EventLog:
    if isinstance(extra, dict):
        extra = json.dumps(redact(extra), sort_keys=True, default=str)
    return EventLog(
        event=event,
        dag_id=_fit(dag_id, EventLog.dag_id),
        task_id=_fit(task_id, EventLog.task_id),
        run_id=_fit(run_id, EventLog.run_id),
        map_index=map_index,
        try_number=try_number,
        execution_date=execution_date,
        extra=extra,
        owner=_fit(owner, EventLog.owner),
        owner_display_name=_fit(owner_display_name or owner, EventLog.owner_display_name),
    )


def _request_extra(kwargs: dict) -> dict:
    extra = {k: v for k, v in request.args.items() if k not in _SKIPPED_ARGS}
    extra.update({k: v for k, v in kwargs.items() if k not in _SKIPPED_ARGS and k != "body" and isinstance(v, (str, int, float, bool))})
    body = request.get_json(silent=True) if request.is_json else None
    if isinstance(body, dict):
        extra.update(body)
    return extra


def action_logging(event: str | None = None, *, extra_fn=None):
    """Record `api.<function name>` (or `event`) for the request, made before the handler runs.

    `extra_fn(kwargs) -> dict` replaces the default extra (query, path and body values) when a
    handler needs a different, still secret-free, summary.
    """

    def decorator(fn):
        name = event or f"api.{fn.__name__}"

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            values = _entry_values(name, kwargs, extra_fn)
            info = db.session.info
            info[_PENDING], info[_DONE] = values, False
            try:
                return fn(*args, **kwargs)
            finally:
                info.pop(_PENDING, None)
                info.pop(_IN_FLIGHT, None)
                if values is not None and not info.pop(_DONE, False):
                    _record_alone(values)

        wrapper.__action_logging__ = name
        return wrapper

    return decorator


# session.info keys: the entry waiting for the handler's commit, the entry that commit carries,
# and whether it went through.
_PENDING, _IN_FLIGHT, _DONE = "stableflow.audit.pending", "stableflow.audit.in_flight", "stableflow.audit.done"


def _entry_values(name: str, kwargs: dict, extra_fn) -> dict | None:
    try:
        owner, display = _owner()
        return {
            "event": name,
            "dag_id": _str_or_none(kwargs.get("dag_id") or request.args.get("dag_id")),
            "task_id": _str_or_none(kwargs.get("task_id") or request.args.get("task_id")),
            "run_id": _str_or_none(kwargs.get("dag_run_id") or request.args.get("run_id")),
            "map_index": kwargs.get("map_index"),
            "extra": extra_fn(kwargs) if extra_fn else _request_extra(kwargs),
            "owner": owner,
            "owner_display_name": display,
        }
    except Exception:  # auditing must not turn a valid request into a failure
        log.exception("Could not make the audit entry %s", name)
        return None


def _record_alone(values: dict) -> None:
    """Commit the entry by itself, the handler's uncommitted work discarded (as the request's end
    would discard it)."""
    try:
        db.session.rollback()
        record_event(**values)
    except Exception:  # auditing must not turn a valid request into a failure
        db.session.rollback()
        log.exception("Could not write the audit entry %s", values["event"])


@sa_event.listens_for(Session, "before_commit")
def _add_pending_entry(session) -> None:
    values = session.info.pop(_PENDING, None)
    if values is not None:
        fields = dict(values)
        entry = _new_entry(fields.pop("event"), try_number=None, execution_date=None, **fields)
        session.add(entry)
        session.info[_IN_FLIGHT] = (values, entry)


@sa_event.listens_for(Session, "after_commit")
def _entry_committed(session) -> None:
    in_flight = session.info.pop(_IN_FLIGHT, None)
    if in_flight is None:
        return
    values, entry = in_flight
    if sa_inspect(entry).persistent:
        session.info[_DONE] = True
    else:  # rolled back with a savepoint: it waits for the next commit again
        session.info[_PENDING] = values


@sa_event.listens_for(Session, "after_rollback")
def _entry_rolled_back(session) -> None:
    # A failed commit or a rollback (of a savepoint too) that took the entry with it: the entry waits
    # for the next commit again.
    in_flight = session.info.get(_IN_FLIGHT)
    if in_flight is not None and not sa_inspect(in_flight[1]).persistent:
        del session.info[_IN_FLIGHT]
        session.info[_PENDING] = in_flight[0]


def _fit(value: str | None, column) -> str | None:
    """Clip to the column's length: an entry records what was asked, and a refused request may
    name an id longer than any stored one (PostgreSQL would refuse the whole entry)."""
    length = column.type.length
    return value[:length] if value is not None and len(value) > length else value


def _str_or_none(value):
    if value in (None, "~"):
        return None
    return str(value)
