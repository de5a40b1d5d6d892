"""`WireSchema`: a marshmallow Schema whose `dump` runs a plan compiled once per schema instance.

marshmallow serializes field by field through several generic calls (accessor, default, field
hooks); for a page of 100 DAGs, runs or task instances that was a third of the request. The plan
does the same work for the field types the API's schemas use (String, Integer, Float, Boolean,
Raw, DateTime, Dict, List, Nested), and hands any other field (Method, Function, custom classes,
`as_string` numbers, dotted attributes) to marshmallow's own `field.serialize`. Schemas with
pre/post-dump hooks, or that override how values are read, are dumped by marshmallow unchanged.
`tests/test_wire_schema.py` compares the two on every kind of field.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from marshmallow import Schema, fields, missing
from marshmallow.decorators import POST_DUMP, PRE_DUMP
from sqlalchemy.engine import Row

_PLAN = "_wire_plan"
_NOT_COMPILED = object()
# Schema classes whose plan is being compiled (nested plans are compiled with their parent's).
_COMPILING: set[type] = set()
# Field types whose `_serialize` is the plain conversion below (exact types: a subclass may change it).
_NUMBERS = {fields.Integer: lambda value: None if value is None else int(value),
            fields.Float: lambda value: None if value is None else float(value)}
_IDENTITY = (fields.Raw, fields.Boolean)


def _read(obj, name: str):
    """marshmallow.utils.get_value for an undotted name: the key, else the attribute, else missing."""
    if type(obj) is dict:
        value = obj.get(name, missing)
        return value if value is not missing else getattr(obj, name, missing)
    if _by_attribute(type(obj)):
        return getattr(obj, name, missing)
    try:
        return obj[name]
    except (KeyError, IndexError, TypeError, AttributeError):
        return getattr(obj, name, missing)


_BY_ATTRIBUTE: dict[type, bool] = {}


def _by_attribute(kind: type) -> bool:
    """Whether marshmallow would end at the attribute for objects of this type: they have no
    `__getitem__`, or they are database rows, which refuse string keys (TypeError)."""
    known = _BY_ATTRIBUTE.get(kind)
    if known is None:
        known = _BY_ATTRIBUTE[kind] = issubclass(kind, Row) or not hasattr(kind, "__getitem__")
    return known


def _text(value):
    if value is None or type(value) is str:
        return value
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _converter(field: fields.Field) -> Callable | None:
    """A function of the value doing what `field._serialize` does, or None if there is none."""
    kind = type(field)
    if kind in _IDENTITY:
        return _identity
    if kind is fields.String:
        return _text
    if kind in _NUMBERS and not field.as_string:
        return _NUMBERS[kind]
    if kind is fields.DateTime:
        fmt = field.format or field.DEFAULT_FORMAT
        func = field.SERIALIZATION_FUNCS.get(fmt)
        if func is dt.datetime.isoformat:
            return _iso
        if func is None:
            return lambda value: None if value is None else value.strftime(fmt)
        return lambda value: None if value is None else func(value)
    if kind is fields.Dict and field.key_field is None and field.value_field is None:
        mapping = field.mapping_type
        return lambda value: None if value is None else mapping(value)
    if kind is fields.List:
        inner = _converter(field.inner)
        if inner is None:
            return None
        return lambda value: None if value is None else [inner(each) for each in value]
    if kind is fields.Nested:
        schema = field.schema
        if type(schema).dump not in (Schema.dump, WireSchema.dump):
            return None
        many = schema.many or field.many
        # A schema nested in itself (at any depth) is dumped through dump() when reached.
        plan = None if type(schema) in _COMPILING else _plan_of(schema)
        if plan is None:
            return lambda value: None if value is None else dump(schema, value, many=many)
        # The nested plan called directly: dispatching through dump() per item cost a tenth of a page.
        if many:
            return lambda value: None if value is None else [plan(item) for item in value]
        return lambda value: None if value is None else plan(value)
    return None


def _identity(value):
    return value


def _iso(value):
    return None if value is None else value.isoformat()


# The commonest conversions, written into the plan instead of called (a call per field was half of it).
_INLINE = {
    _identity: "v",
    _text: "v if v is None or v.__class__ is str else _text(v)",
    _iso: "None if v is None else v.isoformat()",
    _NUMBERS[fields.Integer]: "None if v is None else int(v)",
    _NUMBERS[fields.Float]: "None if v is None else float(v)",
}


def _compile(schema: Schema):
    """The dump plan of `schema`, or None when marshmallow must dump it itself.

    The plan is a function generated from the schema's own field names (never from data): one
    read, one conversion and one store per field, without marshmallow's per-field calls. It has a
    body for each way of reading an object: dicts, objects read by attribute, other mappings.
    """
    if schema._hooks[PRE_DUMP] or schema._hooks[POST_DUMP] or type(schema).get_attribute is not Schema.get_attribute:
        return None
    names = {"dict_class": schema.dict_class, "missing": missing, "_read": _read, "_text": _text,
             "_by_attribute": _by_attribute, "accessor": schema.get_attribute}
    bodies = {"dict": [], "attribute": [], "other": []}
    for i, (attr_name, field) in enumerate(schema.dump_fields.items()):
        key = field.data_key if field.data_key is not None else attr_name
        source = field.attribute if field.attribute is not None else attr_name
        convert = _converter(field)
        plain = (
            convert is not None
            and "." not in source
            and type(field).serialize is fields.Field.serialize
            and type(field).get_value is fields.Field.get_value
            and field._CHECK_ATTRIBUTE
        )
        if not plain:
            names[f"f{i}"] = field
            for body in bodies.values():
                body += [f"    v = f{i}.serialize({attr_name!r}, obj, accessor=accessor)",
                         f"    if v is not missing: out[{key!r}] = v"]
            continue
        names[f"c{i}"], names[f"d{i}"] = convert, field.dump_default
        bodies["dict"].append(f"    v = obj.get({source!r}, missing)")
        if hasattr(dict, source):
            # A dict without the key falls back to its attribute, as marshmallow's get_value does;
            # only dict's own attribute names (items, keys...) can be found that way.
            bodies["dict"] += ["    if v is missing:", f"        v = getattr(obj, {source!r}, missing)"]
        bodies["attribute"].append(f"    v = getattr(obj, {source!r}, missing)")
        bodies["other"].append(f"    v = _read(obj, {source!r})")
        store = []
        if field.dump_default is not missing:
            store += ["    if v is missing:", f"        v = d{i}() if callable(d{i}) else d{i}"]
        store += ["    if v is not missing:", f"        out[{key!r}] = {_INLINE.get(convert, f'c{i}(v)')}"]
        for body in bodies.values():
            body += store
    lines = []
    for way, body in bodies.items():
        lines += [f"def plan_{way}(obj):", "    out = dict_class()", *body, "    return out"]
    lines += ["def plan(obj):",
              "    kind = type(obj)",
              "    if kind is dict:",
              "        return plan_dict(obj)",
              "    return plan_attribute(obj) if _by_attribute(kind) else plan_other(obj)"]
    exec(compile("\n".join(lines), f"<wire plan of {type(schema).__name__}>", "exec"), names)  # noqa: S102
    return names["plan"]


def _plan_of(schema: Schema):
    """The schema's plan, compiled on first use (None: marshmallow dumps it)."""
    plan = schema.__dict__.get(_PLAN, _NOT_COMPILED)
    if plan is _NOT_COMPILED:
        _COMPILING.add(type(schema))
        try:
            plan = schema.__dict__[_PLAN] = _compile(schema)
        finally:
            _COMPILING.discard(type(schema))
    return plan


def dump(schema: Schema, obj, *, many: bool | None = None):
    """`schema.dump(obj, many=many)`, through the compiled plan when the schema has one."""
    plan = _plan_of(schema)
    if plan is None:
        return Schema.dump(schema, obj, many=many)
    many = schema.many if many is None else bool(many)
    if many and obj is not None:
        return [plan(item) for item in obj]
    return plan(obj)


class WireSchema(Schema):
    """A Schema dumped through its compiled plan (see the module docstring)."""

    def dump(self, obj, *, many: bool | None = None):
        return dump(self, obj, many=many)
