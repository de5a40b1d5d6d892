"""Roles with their (action, resource) permissions, and the list of actions."""
from __future__ import annotations

from typing import NamedTuple

from marshmallow import fields, validate

from app.schemas.wire import WireSchema


class ActionSchema(WireSchema):
    name = fields.String(required=True)


class ResourceSchema(WireSchema):
    name = fields.String(required=True)


class ActionResourceSchema(WireSchema):
    action = fields.Nested(ActionSchema, required=True)
    resource = fields.Nested(ResourceSchema, required=True)


class RoleSchema(WireSchema):
    # 64 is the column's length (as FAB's): a longer name is a 400, not a database error.
    name = fields.String(required=True, validate=validate.Length(min=1, max=64))
    # The model calls them permissions; the wire calls them actions, as Airflow does.
    actions = fields.Method("_permissions", deserialize="_load_permissions")

    @staticmethod
    def _permissions(role) -> list[dict]:
        return [
            {"action": {"name": p.action.name}, "resource": {"name": p.resource.name}}
            for p in sorted(role.permissions, key=lambda p: p.id)
        ]

    @staticmethod
    def _load_permissions(value) -> list[tuple[str, str]]:
        items = ActionResourceSchema(many=True).load(value)
        return [(item["action"]["name"], item["resource"]["name"]) for item in items]


class RoleCollection(NamedTuple):
    roles: list
    total_entries: int


class RoleCollectionSchema(WireSchema):
    roles = fields.List(fields.Nested(RoleSchema))
    total_entries = fields.Integer()


class ActionCollection(NamedTuple):
    actions: list
    total_entries: int


class ActionCollectionSchema(WireSchema):
    actions = fields.List(fields.Nested(ActionSchema))
    total_entries = fields.Integer()


role_schema = RoleSchema()
role_collection_schema = RoleCollectionSchema()
action_collection_schema = ActionCollectionSchema()
