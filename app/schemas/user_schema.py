"""User accounts, in the shape Airflow's FAB user endpoints send and accept.

`password` is load-only: no dump ever carries it. Timestamps are naive UTC, as Airflow's FAB
user columns are naive.
"""
from __future__ import annotations

import datetime as dt
from typing import NamedTuple

from marshmallow import fields, validate

from app.schemas.wire import WireSchema

UTC = dt.timezone.utc


class NaiveUtcDateTime(fields.DateTime):
    """An aware datetime dumped as naive UTC ISO 8601, e.g. `2024-01-01T10:00:00.123456`."""

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        return value.astimezone(UTC).replace(tzinfo=None).isoformat()


class RoleNameSchema(WireSchema):
    name = fields.String(required=True)


class UserCollectionItemSchema(WireSchema):
    # Lengths are the columns' (as FAB's): longer values are a 400, not a database error.
    first_name = fields.String(required=True, validate=validate.Length(max=256))
    last_name = fields.String(required=True, validate=validate.Length(max=256))
    username = fields.String(required=True, validate=validate.Length(min=1, max=512))
    email = fields.String(required=True, validate=validate.Length(min=1, max=512))
    active = fields.Boolean(dump_only=True)
    last_login = NaiveUtcDateTime(dump_only=True)
    login_count = fields.Integer(dump_only=True)
    # Airflow sends `fail_login_count` (its model's name), not the spec's `failed_login_count`.
    fail_login_count = fields.Integer(dump_only=True)
    roles = fields.Method("_role_names", deserialize="_load_roles")
    created_on = NaiveUtcDateTime(dump_only=True)
    changed_on = NaiveUtcDateTime(dump_only=True)

    @staticmethod
    def _role_names(user) -> list[dict]:
        return [{"name": role.name} for role in sorted(user.roles, key=lambda r: r.id)]

    @staticmethod
    def _load_roles(value) -> list[str]:
        return [item["name"] for item in RoleNameSchema(many=True).load(value)]


class UserSchema(UserCollectionItemSchema):
    password = fields.String(load_only=True)


class UserCollection(NamedTuple):
    users: list
    total_entries: int


class UserCollectionSchema(WireSchema):
    users = fields.List(fields.Nested(UserCollectionItemSchema))
    total_entries = fields.Integer()


user_collection_item_schema = UserCollectionItemSchema()
user_schema = UserSchema()
user_collection_schema = UserCollectionSchema()
