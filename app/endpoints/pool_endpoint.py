"""Pools: CRUD, with slot counts computed from task instances in one grouped query per request."""
from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Iterable

from flask import Response
from sqlalchemy import Select, bindparam, delete, func, or_, select

from app.audit import action_logging
from app.errors import BadRequest, NotFound
from app.extensions import db
from app.fast_reads import fast_read
from app.models import Pool, TaskInstance
from app.queries import (
    apply_update_mask,
    commit_or_conflict,
    load_or_400,
    order_by_clause,
    paged_statements,
    paginate,
    require_fields,
)
from app.schemas.pool_schema import UNLIMITED, pool_body_schema, pool_schema
from app.security import CAN_CREATE, CAN_DELETE, CAN_EDIT, CAN_READ, RESOURCE_POOL, perm, requires_access

DEFAULT_POOL = "default_pool"
ORDER_BY = {"id": Pool.id, "name": Pool.pool, "slots": Pool.slots}
UPDATABLE = ("name", "slots", "description", "include_deferred")
# API name -> column, where they differ.
COLUMNS = {"name": "pool"}
COUNTED_STATES = ("running", "queued", "scheduled", "deferred")
# What a pool's view is made of, in the order _view takes them.
VIEW_COLUMNS = (Pool.pool, Pool.slots, Pool.description, Pool.include_deferred)
_NO_COUNTS: dict[str, int] = {}


def _slot_counts(names: Iterable[str]) -> dict[str, dict[str, int]]:
    """pool -> state -> sum of pool_slots, for the counted states, in one grouped query."""
    names = list(names)
    if not names:
        return defaultdict(dict)
    return _counts_by_pool(db.session.execute(_SLOT_COUNTS, {"names": names}))


def _counts_by_pool(rows) -> dict[str, dict[str, int]]:
    counts: dict[str, dict[str, int]] = defaultdict(dict)
    for pool, state, slots in rows:
        counts[pool][state] = int(slots or 0)
    return counts


def _slot_counts_select(pools) -> Select:
    return (
        select(TaskInstance.pool, TaskInstance.state, func.sum(TaskInstance.pool_slots))
        # One bound value per state, not an IN list: SQLAlchemy expands an IN list's parameter
        # into the SQL text on every execution.
        .where(TaskInstance.pool.in_(pools), or_(*(TaskInstance.state == state for state in COUNTED_STATES)))
        .group_by(TaskInstance.pool, TaskInstance.state)
    )


# Built once: every pool read runs it, and building it cost about what running it does.
_SLOT_COUNTS = _slot_counts_select(bindparam("names", expanding=True))


@functools.cache
def _pool_list(order_by: str | None) -> tuple[Select, Select]:
    """The pools in one order, and their slot counts for a page of them, built once per ordering
    (order_by_clause refuses a name off the list before anything is kept). The counts select the
    page's pool names in a subquery with the same bound limit and offset: an IN list of a page's
    names was rendered into the SQL text on every request."""
    pools = select(*VIEW_COLUMNS).order_by(*order_by_clause(order_by, ORDER_BY, "id", tiebreak=Pool.id))
    page, _count = paged_statements(pools)
    return pools, _slot_counts_select(page.with_only_columns(Pool.pool))


def _view(name: str, slots: int, description: str | None, include_deferred: bool, counts: dict[str, int]) -> dict:
    """A pool as the API shows it, with its slot counts (state -> slots), in PoolSchema's fields."""
    if not counts:  # the common case on a page: no task instance holds a slot of the pool
        running = queued = scheduled = deferred = occupied = 0
        open_slots = slots  # -1 (unlimited) stays -1
    else:
        running, queued = counts.get("running", 0), counts.get("queued", 0)
        scheduled, deferred = counts.get("scheduled", 0), counts.get("deferred", 0)
        occupied = running + queued + (deferred if include_deferred else 0)
        # -1 (unlimited) has no finite number of open slots; Airflow's `inf` breaks the response.
        open_slots = UNLIMITED if slots == UNLIMITED else max(slots - occupied, 0)
    return {
        "name": name,
        "slots": slots,
        "occupied_slots": occupied,
        "running_slots": running,
        "queued_slots": queued,
        "scheduled_slots": scheduled,
        "deferred_slots": deferred,
        "open_slots": open_slots,
        "description": description,
        "include_deferred": include_deferred,
    }


def view_of(pool: Pool, counts: dict[str, int]) -> dict:
    return _view(pool.pool, pool.slots, pool.description, pool.include_deferred, counts)


def _dump(pool: Pool) -> dict:
    return pool_schema.dump(view_of(pool, _slot_counts([pool.pool])[pool.pool]))


def _get_or_404(pool_name: str) -> Pool:
    pool = db.session.execute(select(Pool).where(Pool.pool == pool_name)).scalar()
    if pool is None:
        raise NotFound(detail=f"Pool with name:'{pool_name}' not found")
    return pool


def _assign(pool: Pool, data: dict) -> None:
    for name, value in data.items():
        setattr(pool, COLUMNS.get(name, name), value)


@requires_access(perm(CAN_READ, RESOURCE_POOL))
def get_pools(*, limit: int | None = None, offset: int | None = None, order_by: str | None = None):
    """List pools with their slot counts."""
    # Column rows read as tuples (app.fast_reads), with the count of all pools (a small table) in
    # the same statement, and views that are already what PoolSchema dumps (a view's types are
    # the columns' own): Pool objects, a count query and dumping 100 views cost 60% of the request.
    stmt, slot_counts = _pool_list(order_by)
    page = paginate(stmt, limit=limit, offset=offset, prebuilt=True, total_column=True)
    counts = _counts_by_pool(fast_read(slot_counts).rows(page.bound)) if page.items else _NO_COUNTS
    pools = [
        _view(name, slots, description, include_deferred, counts.get(name, _NO_COUNTS))
        for name, slots, description, include_deferred, _total in page.items
    ]
    return {"pools": pools, "total_entries": page.total_entries}


@requires_access(perm(CAN_READ, RESOURCE_POOL))
def get_pool(*, pool_name: str):
    """Show one pool."""
    return _dump(_get_or_404(pool_name))


@requires_access(perm(CAN_CREATE, RESOURCE_POOL))
@action_logging()
def post_pool(*, body: dict):
    """Create a pool; a taken name is 409."""
    require_fields(body, ("name", "slots"))
    data = load_or_400(pool_body_schema, body)
    pool = Pool(include_deferred=False)
    _assign(pool, data)
    db.session.add(pool)
    commit_or_conflict(f"Pool: {pool.pool} already exists")
    return _dump(pool)


@requires_access(perm(CAN_EDIT, RESOURCE_POOL))
@action_logging()
def patch_pool(*, pool_name: str, body: dict, update_mask: list[str] | None = None):
    """Update a pool: the masked fields, or without a mask the whole writable body (renames too)."""
    if not update_mask:
        require_fields(body, ("name", "slots"))
    data = load_or_400(pool_body_schema, body)
    data = apply_update_mask(data, update_mask, updatable=UPDATABLE, message="Invalid field: {field} in update mask")
    pool = _get_or_404(pool_name)
    if pool_name == DEFAULT_POOL and data.get("name", DEFAULT_POOL) != DEFAULT_POOL:
        raise BadRequest(detail="Default Pool's name can't be modified")
    _assign(pool, data)
    commit_or_conflict(f"Pool: {pool.pool} already exists")
    return _dump(pool)


@requires_access(perm(CAN_DELETE, RESOURCE_POOL))
@action_logging()
def delete_pool(*, pool_name: str):
    """Delete a pool; default_pool stays."""
    if pool_name == DEFAULT_POOL:
        raise BadRequest(detail="Default Pool can't be deleted")
    if db.session.execute(delete(Pool).where(Pool.pool == pool_name)).rowcount == 0:
        db.session.rollback()
        raise NotFound(detail=f"Pool with name:'{pool_name}' not found")
    db.session.commit()
    return Response(status=204)
