"""baseline schema

Revision ID: 0001
Revises:
Create Date: (baseline)
"""
import sqlalchemy as sa
from alembic import op

import app.models.base

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('actions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('actions_pkey')),
    sa.UniqueConstraint('name', name=op.f('actions_name_uq'))
    )
    op.create_table('connection',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('conn_id', sa.String(length=250), nullable=False),
    sa.Column('conn_type', sa.String(length=500), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('host', sa.String(length=500), nullable=True),
    sa.Column('schema', sa.String(length=500), nullable=True),
    sa.Column('login', sa.Text(), nullable=True),
    sa.Column('password', sa.Text(), nullable=True),
    sa.Column('port', sa.Integer(), nullable=True),
    sa.Column('extra', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('connection_pkey')),
    sa.UniqueConstraint('conn_id', name=op.f('connection_conn_id_uq'))
    )
    op.create_table('dag',
    sa.Column('dag_id', sa.String(length=250), nullable=False),
    sa.Column('dag_display_name', sa.String(length=2000), nullable=True),
    sa.Column('is_paused', sa.Boolean(), nullable=False),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('last_parsed_time', app.models.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('last_pickled', app.models.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('last_expired', app.models.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('fileloc', sa.String(length=2000), nullable=True),
    sa.Column('owners', sa.String(length=2000), nullable=True),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('default_view', sa.String(length=25), nullable=True),
    sa.Column('schedule_interval', sa.JSON(), nullable=True),
    sa.Column('timetable_description', sa.String(length=1000), nullable=True),
    sa.Column('dataset_expression', sa.JSON(), nullable=True),
    sa.Column('max_active_tasks', sa.Integer(), nullable=False),
    sa.Column('max_active_runs', sa.Integer(), nullable=True),
    sa.Column('max_consecutive_failed_dag_runs', sa.Integer(), nullable=False),
    sa.Column('has_task_concurrency_limits', sa.Boolean(), nullable=False),
    sa.Column('has_import_errors', sa.Boolean(), nullable=False),
    sa.Column('next_dagrun', app.models.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('next_dagrun_data_interval_start', app.models.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('next_dagrun_data_interval_end', app.models.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('next_dagrun_create_after', app.models.base.UtcDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('dag_id', name=op.f('dag_pkey'))
    )
    with op.batch_alter_table('dag', schema=None) as batch_op:
        batch_op.create_index('idx_dag_next_dagrun_create_after', ['next_dagrun_create_after'], unique=False)

    op.create_table('dag_code',
    sa.Column('fileloc', sa.String(length=2000), nullable=False),
    sa.Column('source_code', sa.Text(), nullable=False),
    sa.Column('source_hash', sa.String(length=64), nullable=True),
    sa.Column('last_updated', app.models.base.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('fileloc', name=op.f('dag_code_pkey'))
    )
    op.create_table('dag_priority_parsing_request',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('fileloc', sa.String(length=2000), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('dag_priority_parsing_request_pkey')),
    sa.UniqueConstraint('fileloc', name=op.f('dag_priority_parsing_request_fileloc_uq'))
    )
    op.create_table('dag_run',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('dag_id', sa.String(length=250), nullable=False),
    sa.Column('run_id', sa.String(length=250), nullable=False),
    sa.Column('queued_at', app.models.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('execution_date', app.models.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('start_date', app.models.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('end_date', app.models.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('state', sa.String(length=50), nullable=False),
    sa.Column('run_type', sa.String(length=50), nullable=False),
    sa.Column('external_trigger', sa.Boolean(), nullable=False),
    sa.Column('conf', sa.JSON(), nullable=True),
    sa.Column('data_interval_start', app.models.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('data_interval_end', app.models.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('last_scheduling_decision', app.models.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('dag_hash', sa.String(length=32), nullable=True),
    sa.Column('clear_number', sa.Integer(), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('updated_at', app.models.base.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('dag_run_pkey')),
    sa.UniqueConstraint('dag_id', 'execution_date', name=op.f('dag_run_dag_id_execution_date_uq')),
    sa.UniqueConstraint('dag_id', 'run_id', name=op.f('dag_run_dag_id_run_id_uq'))
    )
    with op.batch_alter_table('dag_run', schema=None) as batch_op:
        batch_op.create_index('idx_dag_run_dag_id_execution_date', ['dag_id', 'execution_date'], unique=False)
        batch_op.create_index('idx_dag_run_dag_id_id', ['dag_id', 'id'], unique=False)
        batch_op.create_index('idx_dag_run_execution_date', ['execution_date'], unique=False)
        batch_op.create_index('idx_dag_run_state', ['state'], unique=False)
        batch_op.create_index('idx_dag_run_updated_at', ['updated_at'], unique=False)

    op.create_table('dataset',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uri', sa.String(length=3000), nullable=False),
    sa.Column('extra', sa.JSON(), nullable=False),
    sa.Column('created_at', app.models.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', app.models.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('is_orphaned', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('dataset_pkey')),
    sa.UniqueConstraint('uri', name=op.f('dataset_uri_uq'))
    )
    op.create_table('dataset_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('dataset_id', sa.Integer(), nullable=False),
    sa.Column('extra', sa.JSON(), nullable=False),
    sa.Column('source_task_id', sa.String(length=250), nullable=True),
    sa.Column('source_dag_id', sa.String(length=250), nullable=True),
    sa.Column('source_run_id', sa.String(length=250), nullable=True),
    sa.Column('source_map_index', sa.Integer(), nullable=True),
    sa.Column('timestamp', app.models.base.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('dataset_event_pkey'))
    )
    with op.batch_alter_table('dataset_event', schema=None) as batch_op:
        batch_op.create_index('idx_dataset_event_timestamp', ['timestamp'], unique=False)
        batch_op.create_index('idx_dataset_id_timestamp', ['dataset_id', 'timestamp'], unique=False)

    op.create_table('import_error',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('timestamp', app.models.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('filename', sa.String(length=1024), nullable=False),
    sa.Column('stack_trace', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('import_error_pkey')),
    sa.UniqueConstraint('filename', name=op.f('import_error_filename_uq'))
    )
    op.create_table('job',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('dag_id', sa.String(length=250), nullable=True),
    sa.Column('state', sa.String(length=20), nullable=True),
    sa.Column('job_type', sa.String(length=30), nullable=False),
    sa.Column('start_date', app.models.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('end_date', app.models.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('latest_heartbeat', app.models.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('executor_class', sa.String(length=500), nullable=True),
    sa.Column('hostname', sa.String(length=500), nullable=True),
    sa.Column('unixname', sa.String(length=1000), nullable=True),
    sa.Column('loop_count', sa.Integer(), nullable=False),
    sa.Column('loop_seconds_total', sa.Float(), nullable=False),
    sa.Column('last_loop_seconds', sa.Float(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('job_pkey'))
    )
    with op.batch_alter_table('job', schema=None) as batch_op:
        batch_op.create_index('idx_job_type_heartbeat', ['job_type', 'latest_heartbeat'], unique=False)

    op.create_table('log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('dttm', app.models.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('dag_id', sa.String(length=250), nullable=True),
    sa.Column('task_id', sa.String(length=250), nullable=True),
    sa.Column('map_index', sa.Integer(), nullable=True),
    sa.Column('event', sa.String(length=60), nullable=False),
    sa.Column('execution_date', app.models.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('run_id', sa.String(length=250), nullable=True),
    sa.Column('try_number', sa.Integer(), nullable=True),
    sa.Column('owner', sa.String(length=500), nullable=True),
    sa.Column('owner_display_name', sa.String(length=500), nullable=True),
    sa.Column('extra', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('log_pkey'))
    )
    with op.batch_alter_table('log', schema=None) as batch_op:
        batch_op.create_index('idx_log_dag_id', ['dag_id'], unique=False)
        batch_op.create_index('idx_log_dttm', ['dttm'], unique=False)
        batch_op.create_index('idx_log_event', ['event'], unique=False)

    op.create_table('resources',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=250), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('resources_pkey')),
    sa.UniqueConstraint('name', name=op.f('resources_name_uq'))
    )
    op.create_table('rbac_revision',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('revision', sa.String(length=32), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('rbac_revision_pkey'))
    )
    op.create_table('roles',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('roles_pkey')),
    sa.UniqueConstraint('name', name=op.f('roles_name_uq'))
    )
    op.create_table('serialized_dag',
    sa.Column('dag_id', sa.String(length=250), nullable=False),
    sa.Column('fileloc', sa.String(length=2000), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('dag_hash', sa.String(length=32), nullable=False),
    sa.Column('last_updated', app.models.base.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('dag_id', name=op.f('serialized_dag_pkey'))
    )
    op.create_table('slot_pool',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('pool', sa.String(length=256), nullable=False),
    sa.Column('slots', sa.Integer(), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('include_deferred', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('slot_pool_pkey')),
    sa.UniqueConstraint('pool', name=op.f('slot_pool_pool_uq'))
    )
    op.create_table('users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('first_name', sa.String(length=256), nullable=False),
    sa.Column('last_name', sa.String(length=256), nullable=False),
    sa.Column('username', sa.String(length=512), nullable=False),
    sa.Column('email', sa.String(length=512), nullable=False),
    sa.Column('password', sa.String(length=512), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('last_login', app.models.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('login_count', sa.Integer(), nullable=True),
    sa.Column('fail_login_count', sa.Integer(), nullable=True),
    sa.Column('first_failed_login', app.models.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('created_on', app.models.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('changed_on', app.models.base.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('users_pkey')),
    sa.UniqueConstraint('email', name=op.f('users_email_uq')),
    sa.UniqueConstraint('username', name=op.f('users_username_uq'))
    )
    op.create_table('variable',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=250), nullable=False),
    sa.Column('val', sa.Text(), nullable=True),
    sa.Column('description', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('variable_pkey')),
    sa.UniqueConstraint('key', name=op.f('variable_key_uq'))
    )
    op.create_table('dag_schedule_dataset_reference',
    sa.Column('dataset_id', sa.Integer(), nullable=False),
    sa.Column('dag_id', sa.String(length=250), nullable=False),
    sa.Column('created_at', app.models.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', app.models.base.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['dag_id'], ['dag.dag_id'], name=op.f('dag_schedule_dataset_reference_dag_id_fkey'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['dataset_id'], ['dataset.id'], name=op.f('dag_schedule_dataset_reference_dataset_id_fkey'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('dataset_id', 'dag_id', name=op.f('dag_schedule_dataset_reference_pkey'))
    )
    op.create_table('dag_tag',
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('dag_id', sa.String(length=250), nullable=False),
    sa.ForeignKeyConstraint(['dag_id'], ['dag.dag_id'], name=op.f('dag_tag_dag_id_fkey'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('name', 'dag_id', name=op.f('dag_tag_pkey'))
    )
    op.create_table('dag_warning',
    sa.Column('dag_id', sa.String(length=250), nullable=False),
    sa.Column('warning_type', sa.String(length=50), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('timestamp', app.models.base.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['dag_id'], ['dag.dag_id'], name=op.f('dag_warning_dag_id_fkey'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('dag_id', 'warning_type', name=op.f('dag_warning_pkey'))
    )
    op.create_table('dagrun_dataset_event',
    sa.Column('dag_run_id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['dag_run_id'], ['dag_run.id'], name=op.f('dagrun_dataset_event_dag_run_id_fkey'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['event_id'], ['dataset_event.id'], name=op.f('dagrun_dataset_event_event_id_fkey'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('dag_run_id', 'event_id', name=op.f('dagrun_dataset_event_pkey'))
    )
    op.create_table('dataset_dag_run_queue',
    sa.Column('dataset_id', sa.Integer(), nullable=False),
    sa.Column('target_dag_id', sa.String(length=250), nullable=False),
    sa.Column('created_at', app.models.base.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['dataset_id'], ['dataset.id'], name=op.f('dataset_dag_run_queue_dataset_id_fkey'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['target_dag_id'], ['dag.dag_id'], name=op.f('dataset_dag_run_queue_target_dag_id_fkey'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('dataset_id', 'target_dag_id', name=op.f('dataset_dag_run_queue_pkey'))
    )
    with op.batch_alter_table('dataset_dag_run_queue', schema=None) as batch_op:
        batch_op.create_index('idx_dataset_dag_run_queue_target_dag_id', ['target_dag_id'], unique=False)

    op.create_table('permissions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('action_id', sa.Integer(), nullable=False),
    sa.Column('resource_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['action_id'], ['actions.id'], name=op.f('permissions_action_id_fkey'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['resource_id'], ['resources.id'], name=op.f('permissions_resource_id_fkey'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('permissions_pkey')),
    sa.UniqueConstraint('action_id', 'resource_id', name=op.f('permissions_action_id_resource_id_uq'))
    )
    op.create_table('task_instance',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('rendered_fields', sa.JSON(), nullable=True),
    sa.Column('next_event_at', app.models.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('dag_id', sa.String(length=250), nullable=False),
    sa.Column('task_id', sa.String(length=250), nullable=False),
    sa.Column('run_id', sa.String(length=250), nullable=False),
    sa.Column('map_index', sa.Integer(), nullable=False),
    sa.Column('task_display_name', sa.String(length=2000), nullable=True),
    sa.Column('start_date', app.models.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('end_date', app.models.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('duration', sa.Float(), nullable=True),
    sa.Column('state', sa.String(length=20), nullable=True),
    sa.Column('try_number', sa.Integer(), nullable=False),
    sa.Column('max_tries', sa.Integer(), nullable=False),
    sa.Column('hostname', sa.String(length=1000), nullable=False),
    sa.Column('unixname', sa.String(length=1000), nullable=False),
    sa.Column('job_id', sa.Integer(), nullable=True),
    sa.Column('pool', sa.String(length=256), nullable=False),
    sa.Column('pool_slots', sa.Integer(), nullable=False),
    sa.Column('queue', sa.String(length=256), nullable=False),
    sa.Column('priority_weight', sa.Integer(), nullable=False),
    sa.Column('operator', sa.String(length=1000), nullable=True),
    sa.Column('queued_dttm', app.models.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('queued_by_job_id', sa.Integer(), nullable=True),
    sa.Column('pid', sa.Integer(), nullable=True),
    sa.Column('executor', sa.String(length=1000), nullable=True),
    sa.Column('executor_config', sa.Text(), nullable=True),
    sa.Column('rendered_map_index', sa.String(length=250), nullable=True),
    sa.Column('updated_at', app.models.base.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['dag_id', 'run_id'], ['dag_run.dag_id', 'dag_run.run_id'], name=op.f('task_instance_dag_id_fkey'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('task_instance_pkey')),
    sa.UniqueConstraint('dag_id', 'run_id', 'task_id', 'map_index', name=op.f('task_instance_dag_id_run_id_task_id_map_index_uq'))
    )
    with op.batch_alter_table('task_instance', schema=None) as batch_op:
        batch_op.create_index('idx_ti_dag_run', ['dag_id', 'run_id'], unique=False)
        batch_op.create_index('idx_ti_job_id', ['job_id'], unique=False)
        batch_op.create_index('idx_ti_map_index_id', ['map_index', 'id'], unique=False)
        batch_op.create_index('idx_ti_pool', ['pool', 'state'], unique=False)
        batch_op.create_index('idx_ti_state', ['state'], unique=False)

    op.create_table('task_instance_history',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('dag_id', sa.String(length=250), nullable=False),
    sa.Column('task_id', sa.String(length=250), nullable=False),
    sa.Column('run_id', sa.String(length=250), nullable=False),
    sa.Column('map_index', sa.Integer(), nullable=False),
    sa.Column('task_display_name', sa.String(length=2000), nullable=True),
    sa.Column('start_date', app.models.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('end_date', app.models.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('duration', sa.Float(), nullable=True),
    sa.Column('state', sa.String(length=20), nullable=True),
    sa.Column('try_number', sa.Integer(), nullable=False),
    sa.Column('max_tries', sa.Integer(), nullable=False),
    sa.Column('hostname', sa.String(length=1000), nullable=False),
    sa.Column('unixname', sa.String(length=1000), nullable=False),
    sa.Column('job_id', sa.Integer(), nullable=True),
    sa.Column('pool', sa.String(length=256), nullable=False),
    sa.Column('pool_slots', sa.Integer(), nullable=False),
    sa.Column('queue', sa.String(length=256), nullable=False),
    sa.Column('priority_weight', sa.Integer(), nullable=False),
    sa.Column('operator', sa.String(length=1000), nullable=True),
    sa.Column('queued_dttm', app.models.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('queued_by_job_id', sa.Integer(), nullable=True),
    sa.Column('pid', sa.Integer(), nullable=True),
    sa.Column('executor', sa.String(length=1000), nullable=True),
    sa.Column('executor_config', sa.Text(), nullable=True),
    sa.Column('rendered_map_index', sa.String(length=250), nullable=True),
    sa.Column('updated_at', app.models.base.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['dag_id', 'run_id'], ['dag_run.dag_id', 'dag_run.run_id'], name=op.f('task_instance_history_dag_id_fkey'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('task_instance_history_pkey')),
    sa.UniqueConstraint('dag_id', 'run_id', 'task_id', 'map_index', 'try_number', name=op.f('task_instance_history_dag_id_run_id_task_id_map_index_try_number_uq'))
    )
    op.create_table('task_outlet_dataset_reference',
    sa.Column('dataset_id', sa.Integer(), nullable=False),
    sa.Column('dag_id', sa.String(length=250), nullable=False),
    sa.Column('task_id', sa.String(length=250), nullable=False),
    sa.Column('created_at', app.models.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', app.models.base.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['dag_id'], ['dag.dag_id'], name=op.f('task_outlet_dataset_reference_dag_id_fkey'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['dataset_id'], ['dataset.id'], name=op.f('task_outlet_dataset_reference_dataset_id_fkey'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('dataset_id', 'dag_id', 'task_id', name=op.f('task_outlet_dataset_reference_pkey'))
    )
    op.create_table('user_roles',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('role_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['role_id'], ['roles.id'], name=op.f('user_roles_role_id_fkey'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('user_roles_user_id_fkey'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'role_id', name=op.f('user_roles_pkey'))
    )
    op.create_table('xcom',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('dag_id', sa.String(length=250), nullable=False),
    sa.Column('run_id', sa.String(length=250), nullable=False),
    sa.Column('task_id', sa.String(length=250), nullable=False),
    sa.Column('map_index', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=512), nullable=False),
    sa.Column('value', sa.Text(), nullable=True),
    sa.Column('timestamp', app.models.base.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['dag_id', 'run_id'], ['dag_run.dag_id', 'dag_run.run_id'], name=op.f('xcom_dag_id_fkey'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('xcom_pkey')),
    sa.UniqueConstraint('dag_id', 'run_id', 'task_id', 'map_index', 'key', name=op.f('xcom_dag_id_run_id_task_id_map_index_key_uq'))
    )
    op.create_table('role_permissions',
    sa.Column('role_id', sa.Integer(), nullable=False),
    sa.Column('permission_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['permission_id'], ['permissions.id'], name=op.f('role_permissions_permission_id_fkey'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['role_id'], ['roles.id'], name=op.f('role_permissions_role_id_fkey'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('role_id', 'permission_id', name=op.f('role_permissions_pkey'))
    )
    create_rbac_revision_triggers()


# The tables whose rows decide what a role may do (see app.models.security.RbacRevision).
RBAC_TABLES = ('actions', 'resources', 'permissions', 'roles', 'role_permissions')
SQLITE_RANDOM = 'lower(hex(randomblob(16)))'
POSTGRESQL_RANDOM = 'md5(random()::text || clock_timestamp()::text)'


def create_rbac_revision_triggers() -> None:
    """One rbac_revision row, rewritten with a new random value by any change to RBAC_TABLES, in
    the changing transaction."""
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(f'INSERT INTO rbac_revision (id, revision) VALUES (1, {POSTGRESQL_RANDOM})')
        op.execute(
            'CREATE OR REPLACE FUNCTION rbac_revision_bump() RETURNS trigger LANGUAGE plpgsql AS $$ '
            f'BEGIN UPDATE rbac_revision SET revision = {POSTGRESQL_RANDOM}; RETURN NULL; END $$'
        )
        for table in RBAC_TABLES:
            # BEFORE, once per statement: every RBAC writer locks the revision row before any RBAC
            # row, so concurrent RBAC transactions queue on it instead of deadlocking.
            op.execute(
                f'CREATE TRIGGER rbac_revision_bump BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} '
                'FOR EACH STATEMENT EXECUTE FUNCTION rbac_revision_bump()'
            )
        return
    op.execute(f'INSERT INTO rbac_revision (id, revision) VALUES (1, {SQLITE_RANDOM})')
    for table in RBAC_TABLES:
        for event in ('INSERT', 'UPDATE', 'DELETE'):
            op.execute(
                f'CREATE TRIGGER rbac_revision_{table}_{event.lower()} AFTER {event} ON {table} '
                f'BEGIN UPDATE rbac_revision SET revision = {SQLITE_RANDOM}; END'
            )


def downgrade() -> None:
    op.drop_table('role_permissions')
    op.drop_table('xcom')
    op.drop_table('user_roles')
    op.drop_table('task_outlet_dataset_reference')
    op.drop_table('task_instance_history')
    with op.batch_alter_table('task_instance', schema=None) as batch_op:
        batch_op.drop_index('idx_ti_state')
        batch_op.drop_index('idx_ti_pool')
        batch_op.drop_index('idx_ti_map_index_id')
        batch_op.drop_index('idx_ti_job_id')
        batch_op.drop_index('idx_ti_dag_run')

    op.drop_table('task_instance')
    op.drop_table('permissions')
    with op.batch_alter_table('dataset_dag_run_queue', schema=None) as batch_op:
        batch_op.drop_index('idx_dataset_dag_run_queue_target_dag_id')

    op.drop_table('dataset_dag_run_queue')
    op.drop_table('dagrun_dataset_event')
    op.drop_table('dag_warning')
    op.drop_table('dag_tag')
    op.drop_table('dag_schedule_dataset_reference')
    op.drop_table('variable')
    op.drop_table('users')
    op.drop_table('slot_pool')
    op.drop_table('serialized_dag')
    op.drop_table('roles')
    op.drop_table('rbac_revision')
    op.drop_table('resources')
    with op.batch_alter_table('log', schema=None) as batch_op:
        batch_op.drop_index('idx_log_event')
        batch_op.drop_index('idx_log_dttm')
        batch_op.drop_index('idx_log_dag_id')

    op.drop_table('log')
    with op.batch_alter_table('job', schema=None) as batch_op:
        batch_op.drop_index('idx_job_type_heartbeat')

    op.drop_table('job')
    op.drop_table('import_error')
    with op.batch_alter_table('dataset_event', schema=None) as batch_op:
        batch_op.drop_index('idx_dataset_id_timestamp')
        batch_op.drop_index('idx_dataset_event_timestamp')

    op.drop_table('dataset_event')
    op.drop_table('dataset')
    with op.batch_alter_table('dag_run', schema=None) as batch_op:
        batch_op.drop_index('idx_dag_run_updated_at')
        batch_op.drop_index('idx_dag_run_state')
        batch_op.drop_index('idx_dag_run_execution_date')
        batch_op.drop_index('idx_dag_run_dag_id_id')
        batch_op.drop_index('idx_dag_run_dag_id_execution_date')

    op.drop_table('dag_run')
    op.drop_table('dag_priority_parsing_request')
    op.drop_table('dag_code')
    with op.batch_alter_table('dag', schema=None) as batch_op:
        batch_op.drop_index('idx_dag_next_dagrun_create_after')

    op.drop_table('dag')
    op.drop_table('connection')
    op.drop_table('actions')
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('DROP FUNCTION IF EXISTS rbac_revision_bump()')
