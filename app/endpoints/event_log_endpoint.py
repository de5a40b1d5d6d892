"""The audit (event) log: list with Airflow's filters, and one entry; audit-log permission only."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from app.models import EventLog
from app.queries import one_or_404, order_by_clause, paginate, parse_datetime, plain_rows, split_csv
from app.schemas.event_log_schema import EventLogCollection, event_log_collection_schema, event_log_schema
from app.security import dag_access, requires_access

ORDER_BY = {
    "event_log_id": EventLog.id,
    "when": EventLog.dttm,
    "dag_id": EventLog.dag_id,
    "task_id": EventLog.task_id,
    "run_id": EventLog.run_id,
    "event": EventLog.event,
    "execution_date": EventLog.execution_date,
    "owner": EventLog.owner,
    "extra": EventLog.extra,
}


@requires_access(dag_access("GET", "AUDIT_LOG"))
def get_event_logs(
    *,
    limit: int | None = None,
    offset: int | None = None,
    order_by: str | None = None,
    dag_id: str | None = None,
    task_id: str | None = None,
    run_id: str | None = None,
    map_index: int | None = None,
    try_number: int | None = None,
    event: str | None = None,
    owner: str | None = None,
    before: dt.datetime | str | None = None,
    after: dt.datetime | str | None = None,
    included_events: str | None = None,
    excluded_events: str | None = None,
):
    """List audit entries, filtered exactly on the given fields."""
    # Rows, not EventLog objects: a page is only read, and the objects cost a third of the request.
    stmt = select(EventLog.__table__)
    exact = {
        EventLog.dag_id: dag_id,
        EventLog.task_id: task_id,
        EventLog.run_id: run_id,
        EventLog.map_index: map_index,
        EventLog.try_number: try_number,
        EventLog.event: event,
        EventLog.owner: owner,
    }
    for column, value in exact.items():
        if value is not None:
            stmt = stmt.where(column == value)
    if before is not None:
        stmt = stmt.where(EventLog.dttm < parse_datetime(before))
    if after is not None:
        stmt = stmt.where(EventLog.dttm > parse_datetime(after))
    if included_events:
        stmt = stmt.where(EventLog.event.in_(split_csv(included_events)))
    if excluded_events:
        stmt = stmt.where(EventLog.event.not_in(split_csv(excluded_events)))
    stmt = stmt.order_by(*order_by_clause(order_by, ORDER_BY, "event_log_id", tiebreak=EventLog.id))
    page = paginate(stmt, limit=limit, offset=offset, scalars=False)
    return event_log_collection_schema.dump(EventLogCollection(plain_rows(page.items), page.total_entries))


@requires_access(dag_access("GET", "AUDIT_LOG"))
def get_event_log(*, event_log_id: int):
    """Show one audit entry."""
    entry = one_or_404(select(EventLog).where(EventLog.id == event_log_id), "Event Log not found")
    return event_log_schema.dump(entry)
