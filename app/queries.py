"""What list and update handlers share: paging, allow-listed ordering, filters, update masks.

No user input reaches SQL text: ordering maps API names to column objects, filters bind values.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import Select, func, select
from sqlalchemy.sql.elements import ColumnElement

from app.errors import BadRequest, NotFound
from app.extensions import db


def conf():
    return current_app.extensions["stableflow.conf"]


# -- paging ------------------------------------------------------------------------------------
def check_limit(limit: int | None, *, clamp: bool = True) -> int:
    """Airflow's page limit: above the maximum clamps, 0 means the fallback, negative is 400."""
    config = conf()
    if limit is None:
        limit = 100
    if limit < 0:
        raise BadRequest("Page limit must be a positive integer", "Page limit must be a positive integer")
    if limit == 0:
        return config.getint("api", "fallback_page_limit")
    maximum = config.getint("api", "maximum_page_limit")
    if clamp and limit > maximum:
        return maximum
    return limit


def check_offset(offset: int | None) -> int:
    if offset is None:
        return 0
    if offset < 0:
        raise BadRequest(detail=f"{offset} is less than the minimum of 0 - 'offset'")
    return offset


@dataclass
class Page:
    items: list
    total_entries: int


def count(stmt: Select) -> int:
    """Rows the filtered statement yields, without its ordering."""
    counted = select(func.count()).select_from(stmt.order_by(None).subquery())
    return db.session.execute(counted).scalar_one()


def paginate(
    stmt: Select,
    *,
    limit: int | None,
    offset: int | None,
    clamp: bool = True,
    scalars: bool = True,
) -> Page:
    """Run the count and one page of `stmt`: two queries whatever the page size."""
    limit = check_limit(limit, clamp=clamp)
    offset = check_offset(offset)
    total = count(stmt)
    result = db.session.execute(stmt.limit(limit).offset(offset))
    items = list(result.scalars() if scalars else result)
    return Page(items, total)


# -- ordering ----------------------------------------------------------------------------------
def order_by_clause(
    order_by: str | None,
    allowed: Mapping[str, ColumnElement],
    default: str,
    *,
    tiebreak: ColumnElement | None = None,
    message: str = "Ordering with '{name}' is disallowed or the attribute does not exist on the model",
) -> list:
    """Map `order_by` (`name` or `-name`) through an allow-list to ORDER BY columns."""
    value = default if order_by is None else order_by
    descending = value.startswith("-")
    name = value[1:] if descending else value
    column = allowed.get(name)
    if column is None:
        raise BadRequest(detail=message.format(name=name))
    clauses = [column.desc() if descending else column.asc()]
    if tiebreak is not None and tiebreak is not column:
        # A stable secondary key keeps pages from overlapping when the primary key ties.
        clauses.append(tiebreak.desc() if descending else tiebreak.asc())
    return clauses


# -- filters -----------------------------------------------------------------------------------
def apply_range(stmt: Select, column: ColumnElement, gte=None, lte=None) -> Select:
    if gte is not None:
        stmt = stmt.where(column >= gte)
    if lte is not None:
        stmt = stmt.where(column <= lte)
    return stmt


def escape_like(value: str, escape: str = "\\") -> str:
    """Make `%` and `_` literal inside a LIKE pattern."""
    return value.replace(escape, escape * 2).replace("%", escape + "%").replace("_", escape + "_")


def contains_pattern(column: ColumnElement, value: str, *, literal: bool = True) -> ColumnElement:
    """Case-insensitive substring match; `literal` escapes LIKE wildcards in the value."""
    pattern = escape_like(value) if literal else value
    return column.ilike(f"%{pattern}%", escape="\\" if literal else None)


def split_csv(values: Sequence[str] | str | None) -> list[str]:
    """Query arrays arrive repeated (`a=1&a=2`) or comma-separated (`a=1,2`); accept both."""
    if values is None:
        return []
    if isinstance(values, str):
        values = [values]
    out: list[str] = []
    for value in values:
        out.extend(part.strip() for part in value.split(",") if part.strip())
    return out


# -- single rows -------------------------------------------------------------------------------
def one_or_404(stmt: Select, title: str = "Not Found", detail: str | None = None):
    row = db.session.execute(stmt).scalars().first()
    if row is None:
        raise NotFound(title, detail)
    return row


# -- update masks ------------------------------------------------------------------------------
def apply_update_mask(
    data: Mapping[str, object],
    update_mask: Iterable[str] | None,
    *,
    updatable: Iterable[str],
    message: str = "'{field}' is unknown or cannot be updated.",
) -> dict:
    """Keep only the masked fields of `data`; an unknown or read-only mask name is 400.

    Without a mask, every writable field present in `data` is kept.
    """
    updatable = set(updatable)
    if not update_mask:
        return {k: v for k, v in data.items() if k in updatable}
    selected = {}
    for raw in update_mask:
        name = raw.strip()
        if name not in updatable:
            raise BadRequest(detail=message.format(field=name))
        if name in data:
            selected[name] = data[name]
    return selected
