"""/dags/{dag_id}/tasks and /dags/{dag_id}/tasks/{task_id}."""
from __future__ import annotations

import pytest

from tests.conftest import basic_auth
from tests.dags.helpers import dag_folder, problem, user_with  # noqa: F401

PIPELINE = """\
dag_id: pipeline
start_date: 2024-01-01
params: {day: '2024-01-01'}
tasks:
  - task_id: load
    operator: BashOperator
    bash_command: echo load
    upstream: [extract]
    retries: 3
    retry_delay: 60
    execution_timeout: PT10M
    priority_weight: 5
    pool: etl
    pool_slots: 2
    queue: q
    owner: zed
    doc_md: Loads
    trigger_rule: all_done
  - task_id: extract
    operator: "@task"
    expand: {x: [1, 2]}
"""
PARAMS = {"day": {"__class": "airflow.models.param.Param", "value": "2024-01-01", "description": None, "schema": {}}}
EXTRACT = {
    "class_ref": {"module_path": "airflow.decorators.python", "class_name": "_PythonDecoratedOperator"},
    "operator_name": "@task",
    "task_id": "extract",
    "task_display_name": "extract",
    "owner": "airflow",
    "start_date": "2024-01-01T00:00:00+00:00",
    "end_date": None,
    "trigger_rule": "all_success",
    "extra_links": [],
    "depends_on_past": False,
    "wait_for_downstream": False,
    "retries": 0.0,
    "queue": "default",
    "pool": "default_pool",
    "pool_slots": 1.0,
    "execution_timeout": None,
    "retry_delay": {"__type": "TimeDelta", "days": 0, "seconds": 300, "microseconds": 0},
    "retry_exponential_backoff": False,
    "priority_weight": 1.0,
    "weight_rule": "downstream",
    "ui_color": "#ffefeb",
    "ui_fgcolor": "#000",
    "template_fields": ["templates_dict", "op_args", "op_kwargs"],
    "downstream_task_ids": ["load"],
    "params": PARAMS,
    "is_mapped": True,
    "doc_md": None,
}
LOAD = {
    "class_ref": {"module_path": "airflow.operators.bash", "class_name": "BashOperator"},
    "operator_name": "BashOperator",
    "task_id": "load",
    "task_display_name": "load",
    "owner": "zed",
    "start_date": "2024-01-01T00:00:00+00:00",
    "end_date": None,
    "trigger_rule": "all_done",
    "extra_links": [],
    "depends_on_past": False,
    "wait_for_downstream": False,
    "retries": 3.0,
    "queue": "q",
    "pool": "etl",
    "pool_slots": 2.0,
    "execution_timeout": {"__type": "TimeDelta", "days": 0, "seconds": 600, "microseconds": 0},
    "retry_delay": {"__type": "TimeDelta", "days": 0, "seconds": 60, "microseconds": 0},
    "retry_exponential_backoff": False,
    "priority_weight": 5.0,
    "weight_rule": "downstream",
    "ui_color": "#f0ede4",
    "ui_fgcolor": "#000",
    "template_fields": ["bash_command", "env", "cwd"],
    "downstream_task_ids": [],
    "params": PARAMS,
    "is_mapped": False,
    "doc_md": "Loads",
}


@pytest.fixture
def pipeline(dag_folder):  # noqa: F811
    dag_folder.process(pipeline=PIPELINE)


class TestGetTasks:
    def test_lists_tasks_by_task_id(self, client, admin_headers, pipeline):
        response = client.get("/api/v1/dags/pipeline/tasks", headers=admin_headers)
        assert response.status_code == 200
        assert response.json == {"tasks": [EXTRACT, LOAD], "total_entries": 2}

    @pytest.mark.parametrize(
        ("order_by", "ids"),
        [
            ("-task_id", ["load", "extract"]),
            ("priority_weight", ["extract", "load"]),
            ("-retries", ["load", "extract"]),
            ("owner", ["extract", "load"]),
            ("-doc_md", ["load", "extract"]),
        ],
    )
    def test_order_by(self, client, admin_headers, pipeline, order_by, ids):
        response = client.get(f"/api/v1/dags/pipeline/tasks?order_by={order_by}", headers=admin_headers)
        assert [t["task_id"] for t in response.json["tasks"]] == ids

    def test_unknown_order_by_is_400(self, client, admin_headers, pipeline):
        response = client.get("/api/v1/dags/pipeline/tasks?order_by=-bogus", headers=admin_headers)
        assert response.json == problem(
            400, "Bad Request", "'SerializedBaseOperator' object has no attribute 'bogus'",
            "/api/v1/dags/pipeline/tasks",
        )

    def test_unknown_dag_is_404(self, client, admin_headers):
        response = client.get("/api/v1/dags/nope/tasks", headers=admin_headers)
        assert response.json == problem(404, "DAG not found", None, "/api/v1/dags/nope/tasks")


class TestGetTask:
    def test_shows_the_task(self, client, admin_headers, pipeline):
        response = client.get("/api/v1/dags/pipeline/tasks/load", headers=admin_headers)
        assert response.status_code == 200
        assert response.json == LOAD

    def test_not_found(self, client, admin_headers, pipeline):
        response = client.get("/api/v1/dags/pipeline/tasks/nope", headers=admin_headers)
        assert response.json == problem(404, "Task not found", None, "/api/v1/dags/pipeline/tasks/nope")
        response = client.get("/api/v1/dags/nope/tasks/load", headers=admin_headers)
        assert response.json == problem(404, "DAG not found", None, "/api/v1/dags/nope/tasks/load")


@pytest.mark.parametrize("url", ["/api/v1/dags/pipeline/tasks", "/api/v1/dags/pipeline/tasks/load"])
def test_access(app, client, pipeline, url):
    assert client.get(url).status_code == 401
    assert client.get(url, headers=basic_auth("test_no_permissions")).status_code == 403
    assert client.get(url, headers=basic_auth("viewer")).status_code == 200
    # DAG-level: reading the DAG is not enough without Task Instances.
    assert client.get(url, headers=user_with(app, "dag_only", [("can_read", "DAG:pipeline")])).status_code == 403
    both = user_with(app, "dag_and_tasks", [("can_read", "DAG:pipeline"), ("can_read", "Task Instances")])
    assert client.get(url, headers=both).status_code == 200
    other = user_with(app, "other_dag", [("can_read", "DAG:other"), ("can_read", "Task Instances")])
    assert client.get(url, headers=other).status_code == 403
