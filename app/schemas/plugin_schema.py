"""Plugins as GET /plugins lists them (see app/plugins.py for what each attribute holds)."""
from __future__ import annotations

from typing import NamedTuple

from marshmallow import fields

from app.schemas.wire import WireSchema


class PluginSchema(WireSchema):
    name = fields.String()
    source = fields.String(allow_none=True)
    hooks = fields.List(fields.String())
    executors = fields.List(fields.String())
    macros = fields.List(fields.String())
    flask_blueprints = fields.List(fields.String())
    appbuilder_views = fields.List(fields.Dict())
    appbuilder_menu_items = fields.List(fields.Dict())
    global_operator_extra_links = fields.List(fields.String())
    operator_extra_links = fields.List(fields.String())
    ti_deps = fields.List(fields.String())
    listeners = fields.List(fields.String())
    timetables = fields.List(fields.String())


class PluginCollection(NamedTuple):
    plugins: list
    total_entries: int


class PluginCollectionSchema(WireSchema):
    plugins = fields.List(fields.Nested(PluginSchema))
    total_entries = fields.Integer()


plugin_collection_schema = PluginCollectionSchema()
