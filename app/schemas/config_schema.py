"""The configuration as GET /config shows it: sections of key/value options, all values strings."""
from __future__ import annotations

from marshmallow import fields

from app.schemas.wire import WireSchema


class ConfigOptionSchema(WireSchema):
    key = fields.String(required=True)
    value = fields.String(required=True)


class ConfigSectionSchema(WireSchema):
    name = fields.String(required=True)
    options = fields.List(fields.Nested(ConfigOptionSchema))


class ConfigSchema(WireSchema):
    sections = fields.List(fields.Nested(ConfigSectionSchema))


config_schema = ConfigSchema()
