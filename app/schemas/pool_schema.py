"""Pools: the writable body fields, and the pool as the API shows it with its slot counts."""
from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate

from app.schemas.wire import WireSchema

UNLIMITED = -1


def _check_slots(value: int) -> None:
    if value < UNLIMITED:
        raise ValidationError("Slots must be -1 (unlimited) or a number of slots (0 or more).")


class PoolBodySchema(Schema):
    """What a client may send (API names); the slot counts are read-only."""

    name = fields.String(validate=validate.Length(min=1, max=256))
    slots = fields.Integer(strict=True, validate=_check_slots)
    description = fields.String(allow_none=True)
    include_deferred = fields.Boolean()


class PoolSchema(WireSchema):
    """A pool with its slot counts (the dicts pool_endpoint._view builds). A page of pools is sent
    as its views: dumping them gives them back unchanged (tests/endpoints/test_pool_endpoint.py)."""

    name = fields.String()
    slots = fields.Integer()
    occupied_slots = fields.Integer()
    running_slots = fields.Integer()
    queued_slots = fields.Integer()
    scheduled_slots = fields.Integer()
    deferred_slots = fields.Integer()
    open_slots = fields.Integer()
    description = fields.String(allow_none=True)
    include_deferred = fields.Boolean()


pool_body_schema = PoolBodySchema()
pool_schema = PoolSchema()
