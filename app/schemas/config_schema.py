"""The configuration as GET /config shows it: sections of key/value options, all values strings."""
from __future__ import annotations

from marshmallow import Schema, fields


class ConfigOptionSchema(Schema):
    key = fields.String(required=True)
    value = fields.String(required=True)


class ConfigSectionSchema(Schema):
    name = fields.String(required=True)
    options = fields.List(fields.Nested(ConfigOptionSchema))


class ConfigSchema(Schema):
    sections = fields.List(fields.Nested(ConfigSectionSchema))


config_schema = ConfigSchema()
