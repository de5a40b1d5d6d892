"""The DAG file format: every field, its defaults, and every kind of import error."""
from __future__ import annotations

import datetime as dt
import textwrap

import pytest

from app.dags.parser import ParseDefaults, parse_source
from app.dags.structure import DagSpec

UTC = dt.timezone.utc
FILE = "/dags/f.yaml"


def parse(text: str, **defaults):
    return parse_source(textwrap.dedent(text), FILE, ParseDefaults(**defaults))


def only_dag(text: str, **defaults) -> DagSpec:
    result = parse(text, **defaults)
    assert result.errors == []
    assert len(result.dags) == 1
    return result.dags[0]


def error_of(text: str, **defaults) -> str:
    result = parse(text, **defaults)
    assert result.dags == []
    assert len(result.errors) == 1
    return result.errors[0]


FULL = """\
dag_id: full
description: Every field
schedule: "0 6 * * 1-5"
start_date: 2024-01-01
end_date: 2024-12-31T18:00:00+00:00
catchup: false
max_active_runs: 2
max_active_tasks: 4
max_consecutive_failed_dag_runs: 3
dagrun_timeout: PT1H
tags: [etl, daily, etl]
owners: [data-team]
is_paused_upon_creation: false
doc_md: "# Full"
render_template_as_native_obj: true
params:
  plain: 5
  typed: {default: 2, type: integer, minimum: 1, description: How many}
default_args:
  retries: 2
  retry_delay: 30
  owner: alice
  email: [nobody@example.com]
tasks:
  - task_id: extract
    operator: BashOperator
    bash_command: echo extract
    outlets: [s3://bucket/raw]
    duration: [1, 2]
    xcom: {rows: 3, day: 2024-01-01}
    log: [extracting, done]
  - task_id: transform
    operator: PythonOperator
    upstream: extract
    trigger_rule: none_failed
    retries: 5
    retry_delay: PT2M
    retry_exponential_backoff: true
    max_retry_delay: 600
    execution_timeout: 120
    pool: etl
    pool_slots: 2
    queue: fast
    priority_weight: 10
    weight_rule: absolute
    owner: bob
    doc_md: Transforms
    depends_on_past: true
    wait_for_downstream: true
    start_date: 2024-02-01T00:00:00Z
    end_date: 2024-11-30
    inlets: [s3://bucket/raw]
    outlets: [s3://bucket/clean]
    template_fields: {op_kwargs: {x: 1}, sql: select 1}
    ui_color: "#abcdef"
    ui_fgcolor: "#111"
    duration: 0.5
    outcome: flaky
    fail_tries: 1
  - task_id: fan_out
    operator: "@task"
    upstream: [transform]
    expand: {n: [1, 2, 3]}
    outcome: skipped
"""


def test_every_field():
    spec = only_dag(FULL)
    assert spec.to_dict() == {
        "dag_id": "full",
        "fileloc": FILE,
        "description": "Every field",
        "schedule": "0 6 * * 1-5",
        "schedule_interval": {"__type": "CronExpression", "value": "0 6 * * 1-5"},
        "timetable_description": "At 06:00, Monday through Friday",
        "start_date": "2024-01-01T00:00:00+00:00",
        "end_date": "2024-12-31T18:00:00+00:00",
        "catchup": False,
        "max_active_runs": 2,
        "max_active_tasks": 4,
        "max_consecutive_failed_dag_runs": 3,
        "dagrun_timeout": 3600.0,
        "tags": ["etl", "daily"],
        "owners": ["data-team"],
        "is_paused_upon_creation": False,
        "doc_md": "# Full",
        "params": {
            "plain": {"value": 5, "description": None, "schema": {}},
            "typed": {"value": 2, "description": "How many", "schema": {"type": "integer", "minimum": 1}},
        },
        "render_template_as_native_obj": True,
        "dataset_triggers": [],
        "timezone": "UTC",
        "line": 1,
        "tasks": [
            {
                "task_id": "extract",
                "operator": "BashOperator",
                "operator_module": "airflow.operators.bash",
                "operator_name": "BashOperator",
                "upstream": [],
                "downstream": ["transform"],
                "trigger_rule": "all_success",
                "retries": 2,
                "retry_delay": 30.0,
                "retry_exponential_backoff": False,
                "max_retry_delay": None,
                "execution_timeout": None,
                "pool": "default_pool",
                "pool_slots": 1,
                "queue": "default",
                "priority_weight": 1,
                "weight_rule": "downstream",
                "owner": "alice",
                "doc_md": None,
                "depends_on_past": False,
                "wait_for_downstream": False,
                "start_date": "2024-01-01T00:00:00+00:00",
                "end_date": "2024-12-31T18:00:00+00:00",
                "outlets": ["s3://bucket/raw"],
                "inlets": [],
                "expand": None,
                "template_fields": {"bash_command": "echo extract", "env": None, "cwd": None},
                "ui_color": "#f0ede4",
                "ui_fgcolor": "#000",
                "extra_links": [],
                "duration": [1.0, 2.0],
                "outcome": "success",
                "fail_tries": 0,
                "xcom": {"rows": 3, "day": "2024-01-01"},
                "log": ["extracting", "done"],
            },
            {
                "task_id": "transform",
                "operator": "PythonOperator",
                "operator_module": "airflow.operators.python",
                "operator_name": "PythonOperator",
                "upstream": ["extract"],
                "downstream": ["fan_out"],
                "trigger_rule": "none_failed",
                "retries": 5,
                "retry_delay": 120.0,
                "retry_exponential_backoff": True,
                "max_retry_delay": 600.0,
                "execution_timeout": 120.0,
                "pool": "etl",
                "pool_slots": 2,
                "queue": "fast",
                "priority_weight": 10,
                "weight_rule": "absolute",
                "owner": "bob",
                "doc_md": "Transforms",
                "depends_on_past": True,
                "wait_for_downstream": True,
                "start_date": "2024-02-01T00:00:00+00:00",
                "end_date": "2024-11-30T00:00:00+00:00",
                "outlets": ["s3://bucket/clean"],
                "inlets": ["s3://bucket/raw"],
                "expand": None,
                "template_fields": {"templates_dict": None, "op_args": None, "op_kwargs": {"x": 1}, "sql": "select 1"},
                "ui_color": "#abcdef",
                "ui_fgcolor": "#111",
                "extra_links": [],
                "duration": [0.5, 0.5],
                "outcome": "flaky",
                "fail_tries": 1,
                "xcom": {},
                "log": [],
            },
            {
                "task_id": "fan_out",
                "operator": "_PythonDecoratedOperator",
                "operator_module": "airflow.decorators.python",
                "operator_name": "@task",
                "upstream": ["transform"],
                "downstream": [],
                "trigger_rule": "all_success",
                "retries": 2,
                "retry_delay": 30.0,
                "retry_exponential_backoff": False,
                "max_retry_delay": None,
                "execution_timeout": None,
                "pool": "default_pool",
                "pool_slots": 1,
                "queue": "default",
                "priority_weight": 1,
                "weight_rule": "downstream",
                "owner": "alice",
                "doc_md": None,
                "depends_on_past": False,
                "wait_for_downstream": False,
                "start_date": "2024-01-01T00:00:00+00:00",
                "end_date": "2024-12-31T18:00:00+00:00",
                "outlets": [],
                "inlets": [],
                "expand": {"n": [1, 2, 3]},
                "template_fields": {"templates_dict": None, "op_args": None, "op_kwargs": None},
                "ui_color": "#ffefeb",
                "ui_fgcolor": "#000",
                "extra_links": [],
                "duration": [0.0, 0.0],
                "outcome": "skipped",
                "fail_tries": 0,
                "xcom": {},
                "log": [],
            },
        ],
    }
    # The stored form reads back to the same structure.
    assert DagSpec.from_dict(spec.to_dict()) == spec
    assert spec.task("fan_out").is_mapped


def test_defaults_come_from_airflow_and_the_configuration():
    spec = only_dag("dag_id: minimal\ntasks: [{task_id: only}]\n")
    assert (spec.schedule, spec.schedule_interval, spec.timetable_description) == (
        None, None, "Never, external triggers only"
    )
    assert (spec.catchup, spec.max_active_runs, spec.max_active_tasks, spec.max_consecutive_failed_dag_runs) == (
        True, 16, 16, 0
    )
    assert (spec.start_date, spec.end_date, spec.dagrun_timeout, spec.is_paused_upon_creation) == (None, None, None, None)
    assert (spec.tags, spec.params, spec.owners, spec.description, spec.doc_md) == ([], {}, ["airflow"], None, None)
    task = spec.tasks[0]
    assert (task.operator, task.operator_module, task.operator_name, task.ui_color) == (
        "EmptyOperator", "airflow.operators.empty", "EmptyOperator", "#e8f7e4"
    )
    assert (task.retries, task.retry_delay, task.pool, task.queue, task.owner, task.outcome, task.duration) == (
        0, 300.0, "default_pool", "default", "airflow", "success", (0.0, 0.0)
    )
    configured = only_dag(
        "dag_id: minimal\ntasks: [{task_id: only}]\n",
        catchup=False, max_active_runs=3, max_active_tasks=7, default_owner="ops",
    )
    assert (configured.catchup, configured.max_active_runs, configured.max_active_tasks, configured.owners) == (
        False, 3, 7, ["ops"]
    )


def test_owners_default_to_the_task_owners_in_order():
    spec = only_dag(
        """\
        dag_id: owned
        tasks:
          - {task_id: a, owner: zed}
          - {task_id: b, owner: amy}
          - {task_id: c, owner: zed}
        """
    )
    assert spec.owners == ["zed", "amy"]


def test_naive_dates_are_in_the_default_timezone():
    spec = only_dag("dag_id: tz\nstart_date: 2024-01-01\nend_date: '2024-07-01T12:00:00'\n", timezone="Europe/Amsterdam")
    assert spec.start_date == dt.datetime(2023, 12, 31, 23, tzinfo=UTC)
    assert spec.end_date == dt.datetime(2024, 7, 1, 10, tzinfo=UTC)
    assert spec.timezone == "Europe/Amsterdam"


def test_dataset_schedule():
    spec = only_dag("dag_id: consumer\nschedule: {datasets: ['s3://a', 's3://b']}\n")
    assert spec.dataset_triggers == ["s3://a", "s3://b"]
    assert spec.schedule_interval == {"__type": "CronExpression", "value": "Dataset"}
    assert spec.timetable_description == "Triggered by datasets"


def test_unknown_default_args_are_ignored_and_template_fields_can_be_defaulted():
    spec = only_dag(
        """\
        dag_id: d
        default_args: {email_on_failure: true, bash_command: echo default, queue: q}
        tasks:
          - {task_id: a, operator: BashOperator}
          - {task_id: b, operator: BashOperator, bash_command: echo mine, queue: own}
          - {task_id: c}
        """
    )
    assert [t.template_fields for t in spec.tasks] == [
        {"bash_command": "echo default", "env": None, "cwd": None},
        {"bash_command": "echo mine", "env": None, "cwd": None},
        {},
    ]
    assert [t.queue for t in spec.tasks] == ["q", "own", "q"]


def test_dotted_operator_paths_and_deprecated_trigger_rules():
    spec = only_dag(
        """\
        dag_id: d
        tasks:
          - {task_id: a, operator: my_company.operators.LoadOperator, trigger_rule: dummy}
          - {task_id: b, trigger_rule: none_failed_or_skipped}
        """
    )
    a, b = spec.tasks
    assert (a.operator, a.operator_module, a.operator_name, a.trigger_rule) == (
        "LoadOperator", "my_company.operators", "LoadOperator", "always"
    )
    assert b.trigger_rule == "none_failed_min_one_success"


def test_log_may_be_one_string_and_durations_iso():
    task = only_dag("dag_id: d\ntasks: [{task_id: a, log: \"one\\ntwo\", duration: PT1M, execution_timeout: PT30S}]\n").tasks[0]
    assert (task.log, task.duration, task.execution_timeout) == (["one", "two"], (60.0, 60.0), 30.0)


def test_params_without_default_need_a_null_schedule():
    spec = only_dag("dag_id: d\nparams: {who: {type: string}}\n")
    assert spec.params["who"].value is None
    assert error_of("dag_id: d\nschedule: '@daily'\nparams:\n  who: {type: string}\n") == (
        f"{FILE}:3: DAG 'd': param 'who' has no default, so the schedule must be null (only manual runs can pass it)"
    )


def test_multi_dag_file_keeps_the_good_dags():
    result = parse(
        """\
        dags:
          - dag_id: one
          - dag_id: two
            tasks: [{task_id: a, upstream: [ghost]}]
          - dag_id: three
          - dag_id: one
        """
    )
    assert [d.dag_id for d in result.dags] == ["one", "three"]
    assert [d.line for d in result.dags] == [2, 5]
    assert result.errors == [
        f"{FILE}:4: DAG 'two': task 'a' names unknown upstream task 'ghost'",
        f"{FILE}:6: DAG id 'one' is already defined on line 2 of this file",
    ]
    assert result.stack_trace == "\n".join(result.errors)


def test_empty_file_has_no_dags_and_no_errors():
    result = parse("# nothing here\n")
    assert (result.dags, result.errors, result.stack_trace) == ([], [], None)


@pytest.mark.parametrize(
    ("text", "error"),
    [
        # YAML itself
        ("dag_id: [\n", "2: YAML syntax error: while parsing a flow node expected the node content, but found '<stream end>'"),
        ("dag_id: a\n  bad: indent\n", "2: YAML syntax error: mapping values are not allowed here"),
        ("dag_id: a\ndag_id: b\n", "2: YAML syntax error: found duplicate key 'dag_id'"),
        ("- just\n- a list\n", "1: a DAG file holds one DAG (a mapping) or several (a mapping with a 'dags' list)"),
        ("dags: {dag_id: a}\n", "1: 'dags' must be a list of DAG mappings"),
        ("dags: []\nextra: 1\n", "2: unknown top-level field 'extra' beside 'dags'"),
        ("dags: [5]\n", "1: DAG entry 1 must be a mapping"),
        # ids
        ("description: no id\n", "1: DAG entry 1: 'dag_id' is required"),
        (
            "dag_id: 'bad id'\n",
            "1: DAG entry 1: the DAG id 'bad id' must be made of alphanumeric characters, dashes, dots and "
            "underscores exclusively, at most 250 of them",
        ),
        ("dag_id: d\ntasks: [{operator: BashOperator}]\n", "2: DAG 'd', task entry 1: 'task_id' is required"),
        # structure
        ("dag_id: d\ntasks:\n  - {task_id: a}\n  - {task_id: a}\n", "4: DAG 'd': task id 'a' has already been added to the DAG"),
        ("dag_id: d\ntasks:\n  - {task_id: a, upstream: [b]}\n", "3: DAG 'd': task 'a' names unknown upstream task 'b'"),
        ("dag_id: d\ntasks:\n  - {task_id: a, upstream: a}\n", "3: DAG 'd', task 'a': task 'a' cannot be its own upstream"),
        (
            "dag_id: d\ntasks:\n  - {task_id: a, upstream: [c]}\n  - {task_id: b, upstream: [a]}\n  - {task_id: c, upstream: [b]}\n",
            "3: DAG 'd': cycle detected: a -> b -> c -> a",
        ),
        ("dag_id: d\ntasks: {task_id: a}\n", "2: DAG 'd': 'tasks' must be a list of task mappings"),
        ("dag_id: d\ntasks: [a]\n", "2: DAG 'd': task entry 1 must be a mapping"),
        # schedules
        ("dag_id: d\nschedule: '61 * * * *'\n", "2: DAG 'd': bad schedule: Invalid cron expression: '61 * * * *'"),
        ("dag_id: d\nschedule: '@sometimes'\n", "2: DAG 'd': bad schedule: Unknown schedule preset '@sometimes'"),
        ("dag_id: d\nschedule: P1X\n", "2: DAG 'd': bad schedule: Invalid ISO 8601 duration: 'P1X'"),
        ("dag_id: d\nschedule: {datasets: 'x'}\n", "2: DAG 'd': bad schedule: 'datasets' must be a non-empty list of dataset URIs"),
        ("dag_id: d\nschedule: {datasets: ['airflow://x']}\n", "2: DAG 'd': bad schedule: uses the reserved dataset scheme 'airflow': 'airflow://x'"),
        ("dag_id: d\nschedule: '@continuous'\n", "2: DAG 'd': a @continuous schedule requires max_active_runs: 1"),
        ("dag_id: d\nstart_date: 2024-02-01\nend_date: 2024-01-01\n", "3: DAG 'd': end_date is before start_date"),
        # wrong types and values
        ("dag_id: d\nfoo: 1\n", "2: DAG 'd': unknown field 'foo'"),
        ("dag_id: d\ncatchup: 'yes'\n", "2: DAG 'd': 'catchup' must be true or false, not 'yes'"),
        ("dag_id: d\nmax_active_runs: 0\n", "2: DAG 'd': 'max_active_runs' must be an integer of at least 1, not 0"),
        ("dag_id: d\nstart_date: soon\n", "2: DAG 'd': 'start_date' must be an ISO 8601 date or datetime, not 'soon'"),
        ("dag_id: d\ndagrun_timeout: P1M\n", "2: DAG 'd': 'dagrun_timeout' must be seconds or an ISO 8601 duration without months or years, not 'P1M'"),
        ("dag_id: d\ntags: [{a: 1}]\n", "2: DAG 'd': 'tags' must be a string or a list of strings, not a list"),
        ("dag_id: d\ntags: ['" + "x" * 101 + "']\n", "2: DAG 'd': tag '" + "x" * 101 + "' must have between 1 and 100 characters"),
        ("dag_id: d\nparams: {n: {default: x, type: integer}}\n", "2: DAG 'd': invalid default for param 'n': 'x' is not of type 'integer'"),
        ("dag_id: d\nparams: {n: {default: 1, type: nonsense}}\n", "2: DAG 'd': param 'n' has an invalid JSON schema: 'nonsense' is not valid under any of the given schemas"),
        ("dag_id: d\ndefault_args: {retries: many}\ntasks: [{task_id: a}]\n", "2: DAG 'd', task 'a': 'retries' must be an integer of at least 0, not 'many'"),
        ("dag_id: d\ntasks: [{task_id: a, operator: NopeOperator}]\n", "2: DAG 'd', task 'a': unknown operator 'NopeOperator'; use one of"),
        ("dag_id: d\ntasks: [{task_id: a, bash_command: x}]\n", "2: DAG 'd', task 'a': unknown field 'bash_command'"),
        ("dag_id: d\ntasks: [{task_id: a, trigger_rule: sometimes}]\n", "2: DAG 'd', task 'a': 'trigger_rule' must be one of all_success"),
        ("dag_id: d\ntasks: [{task_id: a, weight_rule: heavy}]\n", "2: DAG 'd', task 'a': 'weight_rule' must be one of downstream, upstream, absolute; got 'heavy'"),
        ("dag_id: d\ntasks: [{task_id: a, pool_slots: 0}]\n", "2: DAG 'd', task 'a': 'pool_slots' must be an integer of at least 1, not 0"),
        ("dag_id: d\ntasks: [{task_id: a, duration: [3, 1]}]\n", "2: DAG 'd', task 'a': 'duration' has its maximum (1) below its minimum (3)"),
        ("dag_id: d\ntasks: [{task_id: a, duration: -1}]\n", "2: DAG 'd', task 'a': 'duration' must be a number of seconds (at least 0) or an ISO 8601 duration, not -1"),
        ("dag_id: d\ntasks: [{task_id: a, outcome: maybe}]\n", "2: DAG 'd', task 'a': 'outcome' must be one of success, failed, skipped, flaky; got 'maybe'"),
        ("dag_id: d\ntasks: [{task_id: a, outcome: flaky}]\n", "2: DAG 'd', task 'a': a flaky task needs 'fail_tries' of at least 1"),
        ("dag_id: d\ntasks: [{task_id: a, expand: {n: 3}}]\n", "2: DAG 'd', task 'a': 'expand' argument 'n' must be a list (one mapped task instance per element)"),
        ("dag_id: d\ntasks: [{task_id: a, xcom: [1]}]\n", "2: DAG 'd', task 'a': 'xcom' must be a mapping, not a list"),
        ("dag_id: d\ntasks: [{task_id: a, outlets: ['s3://\u00e9']}]\n", "2: DAG 'd', task 'a': 'outlets' has a dataset URI with non-ASCII characters: 's3://\u00e9'"),
        ("dag_id: d\ntasks: [{task_id: a, ui_color: red}]\n", "2: DAG 'd', task 'a': 'ui_color' must be a colour like #e8f7e4, not 'red'"),
    ],
)
def test_import_errors_name_the_file_and_line(text, error):
    assert error_of(text).startswith(f"{FILE}:{error}")


def test_the_line_of_a_nested_key_is_reported():
    text = """\
    dags:
      - dag_id: fine
      - dag_id: broken
        tasks:
          - task_id: a
          - task_id: b
            retries: -1
    """
    result = parse(text)
    assert [d.dag_id for d in result.dags] == ["fine"]
    assert result.errors == [f"{FILE}:7: DAG 'broken', task 'b': 'retries' must be an integer of at least 0, not -1"]
