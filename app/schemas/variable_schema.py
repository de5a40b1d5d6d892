"""Variables: key, value (stored as given, in the `val` column) and an optional description."""
from __future__ import annotations

from typing import NamedTuple

from marshmallow import Schema, fields, validate

from app.schemas.wire import WireSchema


class VariableBodySchema(Schema):
    """What a client sends (API names); key and value are required, as in Airflow."""

    key = fields.String(required=True, validate=validate.Length(min=1, max=250))
    value = fields.String(required=True)
    description = fields.String(allow_none=True)


class VariableSchema(WireSchema):
    key = fields.String()
    value = fields.String(attribute="val", allow_none=True)
    description = fields.String(allow_none=True)


class VariableCollection(NamedTuple):
    variables: list
    total_entries: int


class VariableCollectionSchema(WireSchema):
    # Airflow's list items carry the value too, although the spec's item schema leaves it out.
    variables = fields.List(fields.Nested(VariableSchema))
    total_entries = fields.Integer()


variable_body_schema = VariableBodySchema()
variable_schema = VariableSchema()
variable_collection_schema = VariableCollectionSchema()
