"""Import errors: one per DAG file that failed to parse, or had a DAG that did."""
from __future__ import annotations

from typing import NamedTuple

from marshmallow import fields

from app.schemas.wire import WireSchema


class ImportErrorSchema(WireSchema):
    import_error_id = fields.Integer(attribute="id")
    timestamp = fields.DateTime()
    filename = fields.String()
    stack_trace = fields.String()


class ImportErrorCollection(NamedTuple):
    import_errors: list
    total_entries: int


class ImportErrorCollectionSchema(WireSchema):
    import_errors = fields.List(fields.Nested(ImportErrorSchema))
    total_entries = fields.Integer()


import_error_schema = ImportErrorSchema()
import_error_collection_schema = ImportErrorCollectionSchema()
