from marshmallow import Schema, fields


class _MetadatabaseSchema(Schema):
    status = fields.String()


class _SchedulerSchema(Schema):
    status = fields.String()
    latest_scheduler_heartbeat = fields.DateTime(allow_none=True)


class _TriggererSchema(Schema):
    status = fields.String(allow_none=True)
    latest_triggerer_heartbeat = fields.DateTime(allow_none=True)


class _DagProcessorSchema(Schema):
    status = fields.String(allow_none=True)
    latest_dag_processor_heartbeat = fields.DateTime(allow_none=True)


class HealthInfoSchema(Schema):
    metadatabase = fields.Nested(_MetadatabaseSchema)
    scheduler = fields.Nested(_SchedulerSchema)
    triggerer = fields.Nested(_TriggererSchema)
    dag_processor = fields.Nested(_DagProcessorSchema)


health_schema = HealthInfoSchema()
