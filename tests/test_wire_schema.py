"""WireSchema dumps exactly what marshmallow's own Schema.dump does."""
from __future__ import annotations

import datetime as dt
from collections import OrderedDict
from typing import NamedTuple

import pytest
from marshmallow import Schema, fields, post_dump
from sqlalchemy import create_engine, text

from app.schemas.wire import WireSchema, dump

WHEN = dt.datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=dt.timezone.utc)


def _fields():
    """One of every kind of field the API's schemas use, and some they might."""
    return {
        "text": fields.String(),
        "renamed": fields.String(attribute="source_name", data_key="shown_as"),
        "number": fields.Integer(allow_none=True),
        "number_text": fields.Integer(as_string=True),
        "ratio": fields.Float(),
        "flag": fields.Boolean(),
        "raw": fields.Raw(allow_none=True),
        "when": fields.DateTime(),
        "day": fields.DateTime(format="%Y-%m-%d"),
        "mapping": fields.Dict(),
        "typed_mapping": fields.Dict(keys=fields.String(), values=fields.Integer()),
        "names": fields.List(fields.String()),
        "whens": fields.List(fields.DateTime()),
        "with_default": fields.String(dump_default="fallback"),
        "with_callable_default": fields.Integer(dump_default=lambda: 7),
        "method": fields.Method("_shout"),
        "function": fields.Function(lambda obj: "f"),
        "dotted": fields.String(attribute="inner.name"),
        "secret": fields.String(load_only=True),
    }


class _Child(NamedTuple):
    name: str
    when: dt.datetime | None


def _schemas(base):
    class Child(base):
        name = fields.String()
        when = fields.DateTime(allow_none=True)

    attrs = dict(_fields())
    attrs["child"] = fields.Nested(Child, allow_none=True)
    attrs["children"] = fields.List(fields.Nested(Child))
    attrs["many_children"] = fields.Nested(Child, many=True)
    attrs["only_names"] = fields.Nested(Child, many=True, only=("name",))
    attrs["_shout"] = lambda self, obj: str(_get(obj, "text")).upper()
    return type("Everything", (base,), attrs)


def _get(obj, name):
    return obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)


class _Row:
    """An ORM-like object: attributes only."""

    def __init__(self, **values):
        self.__dict__.update(values)


FULL = {
    "text": "hello",
    "source_name": "src",
    "number": 3.0,
    "number_text": 12,
    "ratio": 2,
    "flag": 1,
    "raw": {"a": [1, 2]},
    "when": WHEN,
    "day": WHEN,
    "mapping": OrderedDict(b=1, a=2),
    "typed_mapping": {"x": "4"},
    "names": ["a", b"b", 3],
    "whens": [WHEN, None],
    "inner": {"name": "nested value"},
    "secret": "never shown",
    "child": _Child("c", WHEN),
    "children": [_Child("d", None), {"name": "e", "when": WHEN}],
    "many_children": [_Child("f", WHEN)],
    "only_names": [_Child("g", WHEN)],
}
SPARSE = {"text": None, "number": None, "raw": None, "names": None, "child": None, "when": None}


@pytest.mark.parametrize("data", [FULL, SPARSE, {}], ids=["full", "nulls", "empty"])
@pytest.mark.parametrize("wrap", [dict, lambda d: _Row(**d), OrderedDict], ids=["dict", "object", "mapping"])
def test_dump_matches_marshmallow(data, wrap):
    expected = _schemas(Schema)().dump(wrap(data))
    assert _schemas(WireSchema)().dump(wrap(data)) == expected
    assert list(_schemas(WireSchema)().dump(wrap(data))) == list(expected)


def test_many_and_collections_match_marshmallow():
    class Collection(NamedTuple):
        items: list
        total_entries: int

    def collection_schema(base):
        item = _schemas(base)
        return type("Collection", (base,), {"items": fields.List(fields.Nested(item)),
                                              "total_entries": fields.Integer()})

    value = Collection([FULL, _Row(**SPARSE)], 2)
    assert collection_schema(WireSchema)().dump(value) == collection_schema(Schema)().dump(value)
    assert _schemas(WireSchema)(many=True).dump([FULL, SPARSE]) == _schemas(Schema)(many=True).dump([FULL, SPARSE])
    assert _schemas(WireSchema)().dump([FULL], many=True) == _schemas(Schema)().dump([FULL], many=True)


def test_only_and_exclude_are_kept():
    wire = _schemas(WireSchema)(only=("text", "number"))
    assert wire.dump(FULL) == {"text": "hello", "number": 3}
    assert "text" not in _schemas(WireSchema)(exclude=("text",)).dump(FULL)


def test_schema_with_dump_hooks_is_dumped_by_marshmallow():
    class Hooked(WireSchema):
        name = fields.String()

        @post_dump
        def _mark(self, data, **_kwargs):
            data["hooked"] = True
            return data

    assert Hooked().dump({"name": "x"}) == {"name": "x", "hooked": True}
    assert dump(Hooked(), {"name": "y"}) == {"name": "y", "hooked": True}


def test_database_rows_dump_like_marshmallow():
    engine = create_engine("sqlite://")
    with engine.connect() as conn:
        row = conn.execute(text("SELECT 'hello' AS text, 3 AS number, NULL AS raw, 'src' AS source_name")).first()
    engine.dispose()
    assert _schemas(WireSchema)().dump(row) == _schemas(Schema)().dump(row)


def test_fields_named_like_dict_attributes_read_like_marshmallow():
    # marshmallow falls back to the attribute when a dict lacks the key: dict's own methods here.
    def named(base):
        return type("Named", (base,), {"items": fields.Raw(), "keys": fields.String(), "count": fields.Integer()})

    for data in ({"items": [1], "keys": "k", "count": 2}, {}):
        assert named(WireSchema)().dump(data) == named(Schema)().dump(data)


def test_a_schema_nested_in_itself_dumps_like_marshmallow():
    def tree(base):
        class Tree(base):
            name = fields.String()
            children = fields.List(fields.Nested(lambda: Tree()))

        return Tree

    data = {"name": "a", "children": [{"name": "b", "children": [_Row(name="c", children=[])]}]}
    assert tree(WireSchema)().dump(data) == tree(Schema)().dump(data)
