from marshmallow import fields

from app.schemas.wire import WireSchema


class _MetadatabaseSchema(WireSchema):
    status = fields.String()


class _SchedulerSchema(WireSchema):
    status = fields.String()
    latest_scheduler_heartbeat = fields.DateTime(allow_none=True)


class _TriggererSchema(WireSchema):
    status = fields.String(allow_none=True)
    latest_triggerer_heartbeat = fields.DateTime(allow_none=True)


class _DagProcessorSchema(WireSchema):
    status = fields.String(allow_none=True)
    latest_dag_processor_heartbeat = fields.DateTime(allow_none=True)


class HealthInfoSchema(WireSchema):
    metadatabase = fields.Nested(_MetadatabaseSchema)
    scheduler = fields.Nested(_SchedulerSchema)
    triggerer = fields.Nested(_TriggererSchema)
    dag_processor = fields.Nested(_DagProcessorSchema)


health_schema = HealthInfoSchema()
