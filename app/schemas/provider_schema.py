"""Providers: the connection types this server knows, grouped as Airflow groups them in packages."""
from __future__ import annotations

from typing import NamedTuple

from marshmallow import fields

from app.schemas.wire import WireSchema


class ProviderSchema(WireSchema):
    package_name = fields.String(required=True)
    description = fields.String(required=True)
    version = fields.String(required=True)


class ProviderCollection(NamedTuple):
    providers: list
    total_entries: int


class ProviderCollectionSchema(WireSchema):
    providers = fields.List(fields.Nested(ProviderSchema))
    total_entries = fields.Integer()


provider_collection_schema = ProviderCollectionSchema()
