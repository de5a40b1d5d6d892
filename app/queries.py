"""What list and update handlers share: paging, allow-listed ordering, filters, update masks.

No user input reaches SQL text: ordering maps API names to column objects, filters bind values.
"""
from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import SimpleNamespace

from flask import current_app
from marshmallow import Schema, ValidationError
from sqlalchemy import Select, bindparam, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.elements import ColumnElement

from app.errors import AlreadyExists, BadRequest, NotFound
from app.extensions import db
from app.fast_reads import fast_read


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
    # A prebuilt page's limit and offset, to run statements built on the same page with them.
    bound: dict = field(default_factory=dict)


def count(stmt: Select) -> int:
    """Rows the filtered statement yields, without its ordering."""
    return db.session.execute(_count_statement(stmt)).scalar_one()


def _count_statement(stmt: Select) -> Select:
    return select(func.count()).select_from(stmt.order_by(None).subquery())


def paginate(
    stmt: Select,
    *,
    limit: int | None,
    offset: int | None,
    clamp: bool = True,
    scalars: bool = True,
    prebuilt: bool = False,
    total_column: bool = False,
) -> Page:
    """One page of `stmt` and the count of all its rows: two queries whatever the page size, or one
    when the page itself tells the count (a short page that is not past the end).

    `prebuilt`: `stmt` selects columns only and is built once, then passed again on every request
    (see `paged_statements`); its rows are read as tuples through app.fast_reads (`scalars` does
    not apply).
    `total_column` (prebuilt only): every row ends with the count of all rows, so that a full page
    needs no second statement; for small tables only, as the count is then made for every page."""
    limit = check_limit(limit, clamp=clamp)
    offset = check_offset(offset)
    if prebuilt:
        bound = {PAGE_LIMIT: limit, PAGE_OFFSET: offset}
        page_stmt, count_stmt = paged_statements(stmt, total_column=total_column)
        items = fast_read(page_stmt).rows(bound)
    else:
        bound = {}
        result = db.session.execute(stmt.limit(limit).offset(offset))
        # all(), not iteration: a result iterated fetches its rows one driver call at a time.
        items = result.scalars().all() if scalars else result.all()
    # Counting reads every matching row (a whole table for an unfiltered list): skip it when avoidable.
    if len(items) < limit and (items or not offset):
        total = offset + len(items)
    elif total_column and items:
        total = items[0][-1]
    elif prebuilt:
        total = fast_read(count_stmt).scalar()
    else:
        total = db.session.execute(_count_statement(stmt)).scalar_one()
    return Page(items, total, bound)


PAGE_LIMIT, PAGE_OFFSET = "page_limit", "page_offset"
TOTAL_COLUMN = "total_entries"


@functools.lru_cache(maxsize=64)
def paged_statements(stmt: Select, *, total_column: bool = False) -> tuple[Select, Select]:
    """The page (LIMIT and OFFSET bound as PAGE_LIMIT and PAGE_OFFSET) and count statements of a
    statement built once: building and keying a statement cost about what running it does on a
    small table. Only for statements kept for the life of the process (one per ordering, say).
    With `total_column`, the page's rows end with the count (see `paginate`)."""
    count_stmt = _count_statement(stmt)
    rows = stmt.add_columns(count_stmt.scalar_subquery().label(TOTAL_COLUMN)) if total_column else stmt
    return rows.limit(bindparam(PAGE_LIMIT)).offset(bindparam(PAGE_OFFSET)), count_stmt


def plain_rows(rows: Sequence) -> list[SimpleNamespace]:
    """Database rows as plain objects with the same attributes, for pages only read: loading ORM
    objects costs several times more, and reading a Row's attributes by name about 4x a plain one's."""
    if not rows:
        return []
    # The names once per page: Row._asdict() per row cost as much as the rest of a pool page's rows.
    names = rows[0]._fields
    return [SimpleNamespace(**dict(zip(names, row, strict=True))) for row in rows]


def paginate_list(items: Sequence, *, limit: int | None, offset: int | None) -> Page:
    """Page an in-memory list (plugins) with the same limit and offset rules as `paginate`."""
    limit = check_limit(limit)
    offset = check_offset(offset)
    return Page(list(items[offset:offset + limit]), len(items))


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


def apply_date_range(stmt: Select, column: ColumnElement, gte=None, lte=None) -> Select:
    """`apply_range` for date-time query values (Connexion's strings, or datetimes from a body)."""
    return apply_range(
        stmt, column, None if gte is None else parse_datetime(gte), None if lte is None else parse_datetime(lte)
    )


def in_or_null(column: ColumnElement, values: Iterable[object | None]) -> ColumnElement:
    """`column IN (values)`, where a None among the values also matches NULL."""
    values = list(values)
    named = [value for value in values if value is not None]
    clause = column.in_(named)
    return or_(clause, column.is_(None)) if None in values else clause


def parse_datetime(value: str | dt.datetime) -> dt.datetime:
    """A `date-time` query value (Connexion passes the string) as an aware datetime; naive is 400."""
    if isinstance(value, dt.datetime):
        parsed = value
    else:
        text = value.strip()
        try:
            parsed = dt.datetime.fromisoformat(text[:-1] + "+00:00" if text[-1:] in "Zz" else text)
        except ValueError as exc:
            raise BadRequest("Incorrect datetime argument", str(exc)) from None
    if parsed.tzinfo is None:
        raise BadRequest("Incorrect datetime argument", "Naive datetime is disallowed")
    return parsed


def escape_like(value: str, escape: str = "\\") -> str:
    """Make `%` and `_` literal inside a LIKE pattern."""
    return value.replace(escape, escape * 2).replace("%", escape + "%").replace("_", escape + "_")


def contains_pattern(column: ColumnElement, value: str, *, literal: bool = True) -> ColumnElement:
    """Case-insensitive substring match; `literal` escapes LIKE wildcards in the value.

    Without `literal`, `%` and `_` stay wildcards (Airflow's `dag_id_pattern`), but a backslash is
    literal either way: it is PostgreSQL's default LIKE escape, and a trailing one is an error there.
    """
    pattern = escape_like(value) if literal else value.replace("\\", "\\\\")
    return column.ilike(f"%{pattern}%", escape="\\")


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


def select_fields(fields: Sequence[str] | str | None, available: Iterable[str], *, title: str, schema: str) -> list[str] | None:
    """The `fields` a client asked for (None: all of them); an unknown name is 400 as Airflow words it."""
    names = list(dict.fromkeys(split_csv(fields)))
    if not names:
        return None
    known = set(available)
    unknown = [name for name in names if name not in known]
    if unknown:
        raise BadRequest(title, f"Invalid fields for <{schema}(many=False)>: OrderedSet({unknown!r}).")
    return names


def project(item: Mapping, names: Sequence[str] | None) -> Mapping:
    """Keep only `names` of a dumped resource (all of it when None)."""
    return item if names is None else {name: item[name] for name in names}


# -- single rows -------------------------------------------------------------------------------
def one_or_404(stmt: Select, title: str = "Not Found", detail: str | None = None):
    row = db.session.execute(stmt).scalars().first()
    if row is None:
        raise NotFound(title, detail)
    return row


# -- request bodies ----------------------------------------------------------------------------
def load_or_400(schema: Schema, data, *, partial: bool = False, title: str | None = None) -> dict:
    """Validate `data` with a marshmallow schema; errors are 400 with Airflow's detail text."""
    try:
        return schema.load(data if data is not None else {}, partial=partial)
    except ValidationError as err:
        raise BadRequest(title, str(err.messages)) from None


def require_fields(data: Mapping[str, object], names: Iterable[str]) -> None:
    """400 naming every required body property that is missing, as Airflow words it."""
    missing = sorted(name for name in names if name not in data)
    if missing:
        raise BadRequest(detail=f"Missing required property(ies): {missing}")


# -- writes ------------------------------------------------------------------------------------
def commit_or_conflict(detail: str) -> None:
    """Commit; a unique-constraint violation becomes a 409 with `detail`, and nothing is kept.

    The database decides uniqueness, so two concurrent creators cannot both succeed.
    """
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise AlreadyExists(detail=detail) from None


def upsert(model, values: Mapping[str, object], *, key: Sequence[str]) -> None:
    """Insert a row, or update it in place when one with the same `key` columns exists.

    One atomic statement (INSERT ... ON CONFLICT DO UPDATE) on SQLite and PostgreSQL alike, so
    concurrent upserts of one key never fail and never leave duplicates. Does not commit.
    """
    dialect = postgresql if db.session.get_bind().dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(model).values(**values)
    changed = {name: stmt.excluded[name] for name in values if name not in key}
    db.session.execute(stmt.on_conflict_do_update(index_elements=list(key), set_=changed))


def insert_or_ignore(model, rows: Sequence[Mapping[str, object]], *, key: Sequence[str]) -> None:
    """Insert rows, skipping those whose `key` columns exist already, in one atomic statement
    (INSERT ... ON CONFLICT DO NOTHING), so concurrent writers never fail on each other. No commit.
    """
    if not rows:
        return
    dialect = postgresql if db.session.get_bind().dialect.name == "postgresql" else sqlite
    db.session.execute(dialect.insert(model).values(list(rows)).on_conflict_do_nothing(index_elements=list(key)))


# -- update masks ------------------------------------------------------------------------------
def apply_update_mask(
    data: Mapping[str, object],
    update_mask: Iterable[str] | None,
    *,
    updatable: Iterable[str],
    message: str = "'{field}' is unknown or cannot be updated.",
    missing_message: str = "'{field}' is in update_mask but not in the request body.",
) -> dict:
    """The fields of `data` (API names) a PATCH changes.

    With a mask (names, or one comma-separated string), exactly the masked fields: a name that is
    unknown or not in `updatable` is 400 `message`, and a masked name absent from `data` is 400
    `missing_message` (as in Airflow, a mask never silently clears a field). Without a mask, every
    updatable field present in `data` replaces the stored one; the others stay as they are.
    """
    updatable = set(updatable)
    names = split_csv(update_mask)
    if not names:
        return {k: v for k, v in data.items() if k in updatable}
    selected = {}
    for name in names:
        if name not in updatable:
            raise BadRequest(detail=message.format(field=name))
        if name not in data:
            raise BadRequest(detail=missing_message.format(field=name))
        selected[name] = data[name]
    return selected
