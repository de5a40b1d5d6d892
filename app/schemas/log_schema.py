"""A task log read as JSON."""
from __future__ import annotations

from typing import NamedTuple

from marshmallow import fields

from app.schemas.wire import WireSchema


class LogResponse(NamedTuple):
    content: str
    continuation_token: str


class LogSchema(WireSchema):
    content = fields.String()
    continuation_token = fields.String()


log_schema = LogSchema()
