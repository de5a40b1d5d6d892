"""The list and update helpers every endpoint shares (app/queries.py)."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from app.errors import AlreadyExists, BadRequest
from app.extensions import db
from app.models import Pool, Variable
from app.queries import (
    apply_update_mask,
    check_limit,
    check_offset,
    commit_or_conflict,
    load_or_400,
    order_by_clause,
    paginate,
    paginate_list,
    parse_datetime,
    require_fields,
    upsert,
)
from app.schemas.variable_schema import variable_body_schema
from tests.conftest import count_queries, make_app


@pytest.fixture(scope="module")
def small_pages_app():
    return make_app(api={"maximum_page_limit": 5, "fallback_page_limit": 3})


@pytest.fixture
def small_pages(small_pages_app):
    with small_pages_app.app_context():
        yield
        db.session.remove()


def _problem(exc: pytest.ExceptionInfo) -> tuple:
    return exc.value.status, exc.value.title, exc.value.detail


@pytest.mark.parametrize(
    ("limit", "expected"),
    [(None, 5), (1, 1), (5, 5), (6, 5), (10_000, 5), (0, 3)],
    ids=["absent-is-spec-default-clamped", "one", "max", "above-max", "far-above", "zero-is-fallback"],
)
def test_check_limit(small_pages, limit, expected):
    assert check_limit(limit) == expected


def test_check_limit_without_clamp_keeps_large_values(small_pages):
    assert check_limit(500, clamp=False) == 500


def test_negative_limit_is_400_with_airflow_title(small_pages):
    with pytest.raises(BadRequest) as exc:
        check_limit(-1)
    assert _problem(exc) == (
        400,
        "Page limit must be a positive integer",
        "Page limit must be a positive integer",
    )


def test_check_offset():
    assert check_offset(None) == 0
    assert check_offset(7) == 7
    with pytest.raises(BadRequest) as exc:
        check_offset(-1)
    assert _problem(exc) == (400, "Bad Request", "-1 is less than the minimum of 0 - 'offset'")


def test_paginate_counts_the_filtered_query_before_paging(small_pages):
    db.session.add_all([Pool(pool=f"p{i}", slots=i) for i in range(8)])
    db.session.commit()
    stmt = select(Pool).where(Pool.pool.like("p%")).order_by(Pool.pool)
    page = paginate(stmt, limit=2, offset=3)
    assert [p.pool for p in page.items] == ["p3", "p4"]
    assert page.total_entries == 8
    assert [p.pool for p in paginate(stmt, limit=100, offset=None).items] == [f"p{i}" for i in range(5)]


@pytest.mark.parametrize(
    ("limit", "offset", "names", "total", "queries"),
    [
        (5, 0, ["p0", "p1", "p2", "p3", "p4"], 8, 2),  # a full page: the count is needed
        (5, 6, ["p6", "p7"], 8, 1),  # a short page ends the list: it tells the count
        (5, 8, [], 8, 2),  # past the end: only the count knows
        (5, 20, [], 8, 2),
    ],
)
def test_paginate_counts_only_when_the_page_does_not_tell(small_pages_app, limit, offset, names, total, queries):
    with small_pages_app.app_context():
        db.session.add_all([Pool(pool=f"p{i}", slots=i) for i in range(8)])
        db.session.commit()
        stmt = select(Pool).where(Pool.pool.like("p%")).order_by(Pool.pool)
        with count_queries(small_pages_app) as counter:
            page = paginate(stmt, limit=limit, offset=offset)
        assert ([p.pool for p in page.items], page.total_entries, counter.count) == (names, total, queries)
        db.session.remove()


def test_paginate_of_nothing_is_one_query(small_pages_app):
    with small_pages_app.app_context(), count_queries(small_pages_app) as counter:
        page = paginate(select(Pool).where(Pool.pool == "none"), limit=5, offset=0)
        assert (page.items, page.total_entries, counter.count) == ([], 0, 1)
        db.session.remove()


@pytest.mark.parametrize(
    ("limit", "offset", "names", "queries"),
    [
        (5, 0, ["p0", "p1", "p2", "p3", "p4"], 1),  # a full page: its rows carry the count
        (5, 6, ["p6", "p7"], 1),
        (5, 8, [], 2),  # past the end: no row to carry it
    ],
)
def test_prebuilt_paginate_with_the_total_in_the_rows(small_pages_app, limit, offset, names, queries):
    with small_pages_app.app_context():
        db.session.add_all([Pool(pool=f"p{i}", slots=i) for i in range(8)])
        db.session.commit()
        stmt = _PREBUILT_POOLS
        with count_queries(small_pages_app) as counter:
            page = paginate(stmt, limit=limit, offset=offset, prebuilt=True, total_column=True)
        assert ([row[0] for row in page.items], page.total_entries, counter.count) == (names, 8, queries)
        # Without the statement watcher the rows come through app.fast_reads: the same page.
        again = paginate(stmt, limit=limit, offset=offset, prebuilt=True, total_column=True)
        assert (again.items, again.total_entries) == (page.items, 8)
        db.session.remove()


# Prebuilt statements are kept for the life of the process (paged_statements caches on them).
_PREBUILT_POOLS = select(Pool.pool).where(Pool.pool.like("p%")).order_by(Pool.pool)


def test_paginate_list(small_pages):
    items = list("abcdefgh")
    page = paginate_list(items, limit=2, offset=1)
    assert (page.items, page.total_entries) == (["b", "c"], 8)
    assert paginate_list(items, limit=0, offset=None).items == ["a", "b", "c"]
    assert paginate_list(items, limit=None, offset=7).items == ["h"]


def test_order_by_clause_maps_names_and_descending():
    allowed = {"id": Pool.id, "name": Pool.pool}
    [clause] = order_by_clause("-name", allowed, "id")
    assert str(clause) == "slot_pool.pool DESC"
    clauses = order_by_clause(None, allowed, "name", tiebreak=Pool.id)
    assert [str(c) for c in clauses] == ["slot_pool.pool ASC", "slot_pool.id ASC"]


@pytest.mark.parametrize("value", ["nope", "-nope", "", "pool; DROP TABLE slot_pool"])
def test_order_by_outside_the_allow_list_is_400(value):
    with pytest.raises(BadRequest) as exc:
        order_by_clause(value, {"id": Pool.id}, "id")
    name = value.removeprefix("-")
    assert _problem(exc) == (
        400,
        "Bad Request",
        f"Ordering with '{name}' is disallowed or the attribute does not exist on the model",
    )


class TestApplyUpdateMask:
    DATA = {"value": "v", "description": "d", "key": "k"}

    def test_without_mask_keeps_every_updatable_field_present(self):
        assert apply_update_mask(self.DATA, None, updatable=["value", "description"]) == {
            "value": "v",
            "description": "d",
        }
        assert apply_update_mask({"value": "v"}, [], updatable=["value", "description"]) == {"value": "v"}

    @pytest.mark.parametrize("mask", [["value"], "value", [" value "], ["value,"]])
    def test_mask_selects_fields(self, mask):
        assert apply_update_mask(self.DATA, mask, updatable=["value", "description"]) == {"value": "v"}

    def test_comma_separated_mask(self):
        result = apply_update_mask(self.DATA, ["value,description"], updatable=["value", "description"])
        assert result == {"value": "v", "description": "d"}

    @pytest.mark.parametrize("name", ["key", "nope"])
    def test_unknown_or_read_only_field_is_400_naming_it(self, name):
        with pytest.raises(BadRequest) as exc:
            apply_update_mask(self.DATA, [name], updatable=["value", "description"])
        assert _problem(exc) == (400, "Bad Request", f"'{name}' is unknown or cannot be updated.")

    def test_custom_message(self):
        with pytest.raises(BadRequest) as exc:
            apply_update_mask(self.DATA, ["x"], updatable=["value"], message="Invalid field: {field} in update mask")
        assert exc.value.detail == "Invalid field: x in update mask"

    def test_masked_field_missing_from_body_is_400(self):
        with pytest.raises(BadRequest) as exc:
            apply_update_mask({"value": "v"}, ["description"], updatable=["value", "description"])
        assert _problem(exc) == (
            400,
            "Bad Request",
            "'description' is in update_mask but not in the request body.",
        )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-01-02T03:04:05Z", dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)),
        ("2024-01-02T03:04:05.5+02:00", dt.datetime(2024, 1, 2, 1, 4, 5, 500000, tzinfo=dt.timezone.utc)),
    ],
)
def test_parse_datetime(text, expected):
    assert parse_datetime(text) == expected


@pytest.mark.parametrize(
    ("text", "detail"),
    [("2024-01-02T03:04:05", "Naive datetime is disallowed"), ("garbage", "Invalid isoformat string: 'garbage'")],
)
def test_parse_datetime_rejects(text, detail):
    with pytest.raises(BadRequest) as exc:
        parse_datetime(text)
    assert _problem(exc) == (400, "Incorrect datetime argument", detail)


def test_load_or_400_reports_marshmallow_messages():
    with pytest.raises(BadRequest) as exc:
        load_or_400(variable_body_schema, {"key": "k", "nope": 1}, title="Invalid Variable schema")
    assert _problem(exc) == (
        400,
        "Invalid Variable schema",
        "{'value': ['Missing data for required field.'], 'nope': ['Unknown field.']}",
    )
    assert load_or_400(variable_body_schema, {"value": "v"}, partial=True) == {"value": "v"}


def test_require_fields_names_every_missing_property():
    require_fields({"name": 1, "slots": 2}, ("name", "slots"))
    with pytest.raises(BadRequest) as exc:
        require_fields({}, ("slots", "name"))
    assert exc.value.detail == "Missing required property(ies): ['name', 'slots']"


def test_commit_or_conflict_turns_a_duplicate_into_409_and_keeps_nothing(app_ctx):
    db.session.add(Pool(pool="dup", slots=1))
    db.session.commit()
    db.session.add(Pool(pool="dup", slots=2))
    with pytest.raises(AlreadyExists) as exc:
        commit_or_conflict("Pool: dup already exists")
    assert _problem(exc) == (409, "Conflict", "Pool: dup already exists")
    assert db.session.execute(select(Pool.slots).where(Pool.pool == "dup")).scalars().all() == [1]


def test_upsert_inserts_then_updates_in_place(app_ctx):
    upsert(Variable, {"key": "k", "val": "one", "description": "d"}, key=["key"])
    db.session.commit()
    first_id = db.session.execute(select(Variable.id).where(Variable.key == "k")).scalar_one()
    upsert(Variable, {"key": "k", "val": "two", "description": None}, key=["key"])
    db.session.commit()
    rows = db.session.execute(select(Variable.id, Variable.val, Variable.description)).all()
    assert [tuple(row) for row in rows] == [(first_id, "two", None)]
