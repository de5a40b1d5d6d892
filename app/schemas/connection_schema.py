"""Connections: the writable body, the single connection (extra masked, never the password) and
the list item (neither extra nor password), and the test result."""
from __future__ import annotations

from typing import NamedTuple

from marshmallow import Schema, fields, validate

from app.connections import extra, shown_extra
from app.queries import conf
from app.schemas.wire import WireSchema


class ConnectionBodySchema(Schema):
    """What a client sends, by API name; lengths are the columns' so no write fails in the DB."""

    connection_id = fields.String(required=True)
    conn_type = fields.String(required=True, validate=validate.Length(max=500))
    description = fields.String(allow_none=True)
    host = fields.String(allow_none=True, validate=validate.Length(max=500))
    login = fields.String(allow_none=True)
    schema = fields.String(allow_none=True, validate=validate.Length(max=500))
    port = fields.Integer(allow_none=True, strict=True)
    password = fields.String(allow_none=True, load_only=True)
    extra = fields.String(allow_none=True)


class ConnectionCollectionItemSchema(WireSchema):
    connection_id = fields.String(attribute="conn_id")
    conn_type = fields.String()
    description = fields.String(allow_none=True)
    host = fields.String(allow_none=True)
    login = fields.String(allow_none=True)
    schema = fields.String(allow_none=True)
    port = fields.Integer(allow_none=True)


class ConnectionSchema(ConnectionCollectionItemSchema):
    extra = fields.Method("_shown_extra")

    @staticmethod
    def _shown_extra(conn) -> str | None:
        config = conf()
        return shown_extra(extra(conn, config), config)


class ConnectionCollection(NamedTuple):
    connections: list
    total_entries: int


class ConnectionCollectionSchema(WireSchema):
    connections = fields.List(fields.Nested(ConnectionCollectionItemSchema))
    total_entries = fields.Integer()


class ConnectionTestSchema(WireSchema):
    status = fields.Boolean()
    message = fields.String()


connection_body_schema = ConnectionBodySchema()
connection_schema = ConnectionSchema()
connection_collection_schema = ConnectionCollectionSchema()
connection_test_schema = ConnectionTestSchema()
