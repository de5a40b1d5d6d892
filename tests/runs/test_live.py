"""The run API on a real gunicorn server: racing triggers across worker processes, and the official
Python client (apache-airflow-client 2.10) triggering a run and reading it, its task instances and
a log. On PostgreSQL (STABLEFLOW_TEST_SQL_ALCHEMY_CONN) the server gets a schema of its own inside
the test database."""
from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import textwrap
import threading
import uuid

import pytest
import requests

from tests.live import live_server
from tests.runs.helpers import PIPELINE

pytestmark = pytest.mark.timeout(300)


@contextlib.contextmanager
def live_database():
    """None (the server's own SQLite file), or a PostgreSQL URL whose search path is a fresh schema."""
    url = os.environ.get("STABLEFLOW_TEST_SQL_ALCHEMY_CONN", "")
    if not url.startswith("postgres"):
        yield None
        return
    import psycopg

    schema = f"live_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture
def server(tmp_path):
    home = tmp_path / "home"
    (home / "dags").mkdir(parents=True)
    (home / "dags" / "pipeline.yaml").write_text(PIPELINE)
    with live_database() as db_url, live_server(home, db_url=db_url, workers=4) as live:
        live.cli("dags", "reserialize")
        yield live


def play_try(server, dag_id: str, run_id: str, task_id: str, lines: list[str]) -> None:
    """Run one try of a task instance in the server's database, as the scheduler will."""
    code = textwrap.dedent(f"""
        from sqlalchemy import select
        from app import runs
        from app.cli import app_context
        from app.extensions import db
        from app.models import TaskInstance
        from app.runs.logs import format_log_line, write_try_log

        with app_context() as app:
            ti = db.session.execute(select(TaskInstance).where(
                TaskInstance.dag_id == {dag_id!r}, TaskInstance.run_id == {run_id!r},
                TaskInstance.task_id == {task_id!r})).scalar_one()
            runs.mark_scheduled(ti)
            runs.mark_running(ti, hostname="worker-1")
            write_try_log(app.extensions["stableflow.conf"], ti, [format_log_line(line) for line in {lines!r}])
            runs.mark_ti_state(ti, "success")
            db.session.commit()
    """)
    subprocess.run([sys.executable, "-c", code], env=server.env, check=True, timeout=120, capture_output=True)


def test_concurrent_triggers_of_one_run_id_create_one_run(server):
    url = f"{server.api}/dags/pipeline/dagRuns"
    barrier = threading.Barrier(20)
    statuses: list[int] = []

    def trigger():
        with server.session() as session:
            barrier.wait()
            statuses.append(session.post(url, json={"dag_run_id": "raced"}, timeout=60).status_code)

    threads = [threading.Thread(target=trigger) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200] + [409] * 19
    listed = requests.get(url, auth=server.auth, timeout=30).json()
    assert [(r["dag_run_id"], r["state"]) for r in listed["dag_runs"]] == [("raced", "queued")]
    tis = requests.get(f"{url}/raced/taskInstances", auth=server.auth, timeout=30).json()
    assert tis["total_entries"] == 5


def test_the_official_client_triggers_a_run_and_reads_it_and_a_log(server):
    from airflow_client import client
    from airflow_client.client.api import dag_run_api, task_instance_api
    from airflow_client.client.model.dag_run import DAGRun

    configuration = client.Configuration(host=server.api, username=server.username, password=server.password)
    with client.ApiClient(configuration) as api:
        runs_api = dag_run_api.DAGRunApi(api)
        created = runs_api.post_dag_run("pipeline", DAGRun(dag_run_id="from-client", conf={"n": 2}))
        assert (created.dag_run_id, created.state.value, created.run_type, created.conf) == (
            "from-client", "queued", "manual", {"n": 2}
        )
        fetched = runs_api.get_dag_run("pipeline", "from-client")
        assert (fetched.dag_run_id, fetched.logical_date, fetched.external_trigger) == (
            "from-client", created.logical_date, True
        )

        tis_api = task_instance_api.TaskInstanceApi(api)
        listed = tis_api.get_task_instances("pipeline", "from-client")
        assert listed.total_entries == 5
        assert sorted((ti.task_id, ti.map_index) for ti in listed.task_instances) == [
            ("extract", -1), ("load", -1), ("transform", 0), ("transform", 1), ("transform", 2)
        ]

        play_try(server, "pipeline", "from-client", "extract", ["extracted 3 rows"])
        extract = tis_api.get_task_instance("pipeline", "from-client", "extract")
        assert (extract.state.value, extract.try_number, extract.hostname) == ("success", 1, "worker-1")
        log = tis_api.get_log("pipeline", "from-client", "extract", 1)
        assert "INFO - extracted 3 rows" in log.content
        assert log.content.startswith("[('worker-1', '*** Found local files:")
        more = tis_api.get_log("pipeline", "from-client", "extract", 1, token=log.continuation_token)
        assert more.content == "[('worker-1', '')]"
