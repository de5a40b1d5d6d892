"""Task logs: one file per try, read as text or as JSON with a signed continuation token."""
# Fixtures come from tests.runs.helpers; test parameters of the same name use them.
# ruff: noqa: F811
from __future__ import annotations

import pytest
from itsdangerous import URLSafeSerializer

from app import runs
from app.extensions import db
from app.runs.logs import format_log_line, try_log_path, write_try_log
from tests.conftest import basic_auth
from tests.endpoints.test_dag_run_endpoint import reader_of
from tests.runs.helpers import JAN, dag_folder, dags, get_ti, problem, run_try, trigger, user_with  # noqa: F401

API = "/api/v1"
ADMIN = basic_auth("admin")
LOAD = f"{API}/dags/pipeline/dagRuns/run1/taskInstances/load/logs"
SIGNER = URLSafeSerializer("test-secret-key")
LINE = "[2024-01-06T00:00:00.000+0000] {taskinstance.py:0} INFO - "


@pytest.fixture
def one_try(app, dags):
    trigger(app)
    run_try(app, "pipeline", "run1", "load", "failed", lines=["first", "second"])


def path_of(app, task_id="load", try_number=1, map_index=-1):
    return try_log_path(app.extensions["stableflow.conf"], "pipeline", "run1", task_id, map_index, try_number)


def found(app, **kwargs) -> str:
    return f"*** Found local files:\n***   * {path_of(app, **kwargs)}\n"


class TestGetLogJson:
    def test_answers_airflows_content_and_a_token(self, app, client, one_try):
        response = client.get(f"{LOAD}/1", headers=ADMIN)
        text = f"{LINE}first\n{LINE}second\n"
        assert response.json == {
            "content": str([("worker-1", found(app) + text)]),
            "continuation_token": SIGNER.dumps({"end_of_log": True, "log_pos": len(text), "download_logs": False}),
        }
        assert client.get(f"{LOAD}/1", headers={**ADMIN, "Accept": "application/json"}).json == response.json

    def test_the_token_continues_where_the_last_read_ended(self, app, client, one_try):
        token = client.get(f"{LOAD}/1", headers=ADMIN).json["continuation_token"]
        with app.app_context():
            write_try_log(app.extensions["stableflow.conf"], get_ti("pipeline", "run1", "load"), ["third"])
        response = client.get(f"{LOAD}/1?token={token}", headers=ADMIN)
        assert response.json["content"] == str([("worker-1", "third\n")])
        position = SIGNER.loads(response.json["continuation_token"])["log_pos"]
        assert position == len(f"{LINE}first\n{LINE}second\nthird\n")
        again = client.get(f"{LOAD}/1?token={response.json['continuation_token']}", headers=ADMIN)
        assert again.json["content"] == str([("worker-1", "")])

    def test_full_content_reads_from_the_start(self, app, client, one_try):
        token = client.get(f"{LOAD}/1", headers=ADMIN).json["continuation_token"]
        response = client.get(f"{LOAD}/1?token={token}&full_content=true", headers=ADMIN)
        text = f"{LINE}first\n{LINE}second\n"
        assert response.json["content"] == str([("worker-1", found(app) + text)])
        assert SIGNER.loads(response.json["continuation_token"])["download_logs"] is True

    @pytest.mark.parametrize("token", ["forged", SIGNER.dumps({"log_pos": 1})[:-2] + "xx", URLSafeSerializer("other").dumps({})])
    def test_a_forged_token_is_400(self, client, one_try, token):
        response = client.get(f"{LOAD}/1?token={token}", headers=ADMIN)
        assert response.json == problem(
            400, "Bad Signature. Please use only the tokens provided by the API.", None, f"{LOAD}/1"
        )

    def test_a_running_try_has_not_ended(self, app, client, dags):
        trigger(app)
        with app.app_context():
            ti = get_ti("pipeline", "run1", "extract")
            runs.mark_scheduled(ti)
            runs.mark_running(ti, JAN[5], hostname="w")
            db.session.commit()
        response = client.get(f"{API}/dags/pipeline/dagRuns/run1/taskInstances/extract/logs/1", headers=ADMIN)
        path = path_of(app, "extract")
        assert response.json["content"] == str([("w", f"*** Log file does not exist: {path}\n")])
        assert SIGNER.loads(response.json["continuation_token"]) == {
            "end_of_log": False, "log_pos": 0, "download_logs": False,
        }

    def test_every_try_keeps_its_own_log(self, app, client, one_try):
        client.post(f"{API}/dags/pipeline/dagRuns/run1/clear", json={"dry_run": False}, headers=ADMIN)
        run_try(app, "pipeline", "run1", "load", "success", lines=["again"])
        first = client.get(f"{LOAD}/1", headers=ADMIN).json
        second = client.get(f"{LOAD}/2", headers=ADMIN).json
        assert first["content"] == str([("worker-1", found(app) + f"{LINE}first\n{LINE}second\n")])
        assert second["content"] == str([("worker-1", found(app, try_number=2) + f"{LINE}again\n")])

    def test_mapped_task_instances_have_a_log_per_map_index(self, app, client, dags):
        trigger(app)
        run_try(app, "pipeline", "run1", "transform", map_index=2, lines=["two"])
        url = f"{API}/dags/pipeline/dagRuns/run1/taskInstances/transform/logs/1"
        response = client.get(f"{url}?map_index=2", headers=ADMIN)
        assert response.json["content"] == str([("worker-1", found(app, task_id="transform", map_index=2) + f"{LINE}two\n")])
        assert "map_index=2/attempt=1.log" in str(path_of(app, "transform", map_index=2))
        assert client.get(url, headers=ADMIN).json == problem(404, "TaskInstance not found", None, url)


class TestGetLogText:
    @pytest.mark.parametrize("accept", ["text/plain", "*/*", "application/json, text/plain", "text/*"])
    def test_text_is_streamed(self, app, client, one_try, accept):
        response = client.get(f"{LOAD}/1", headers={**ADMIN, "Accept": accept})
        assert response.mimetype == "text/plain"
        assert response.get_data(as_text=True) == f"worker-1\n{found(app)}{LINE}first\n{LINE}second\n\n"

    def test_a_token_works_for_text_too(self, app, client, one_try):
        token = client.get(f"{LOAD}/1", headers=ADMIN).json["continuation_token"]
        response = client.get(f"{LOAD}/1?token={token}", headers={**ADMIN, "Accept": "text/plain"})
        assert response.get_data(as_text=True) == "worker-1\n\n"


class TestMissingLogs:
    def test_a_try_that_never_ran_is_404(self, app, client, one_try):
        for url, detail in (
            (f"{LOAD}/2", "Try 2 of task 'load' (map index -1) in run 'run1' has not run"),
            (f"{LOAD}/0", "Try 0 of task 'load' (map index -1) in run 'run1' has not run"),
            (f"{API}/dags/pipeline/dagRuns/run1/taskInstances/extract/logs/1",
             "Try 1 of task 'extract' (map index -1) in run 'run1' has not run"),
        ):
            assert client.get(url, headers=ADMIN).json == problem(404, "Log not found", detail, url)

    def test_a_missing_task_instance_is_404(self, client, one_try):
        url = f"{API}/dags/pipeline/dagRuns/nope/taskInstances/load/logs/1"
        assert client.get(url, headers=ADMIN).json == problem(404, "TaskInstance not found", None, url)


class TestAccess:
    def test_needs_task_log_read_on_the_dag(self, app, client, one_try):
        assert client.get(f"{LOAD}/1").status_code == 401
        assert client.get(f"{LOAD}/1", headers=basic_auth("test_no_permissions")).json == problem(
            403, "Forbidden", None, f"{LOAD}/1"
        )
        assert client.get(f"{LOAD}/1", headers=reader_of(app, "other")).status_code == 403
        assert client.get(f"{LOAD}/1", headers=reader_of(app, "pipeline")).status_code == 200
        no_logs = user_with(app, "no_logs", [("can_read", "DAGs"), ("can_read", "Task Instances")])
        assert client.get(f"{LOAD}/1", headers=no_logs).status_code == 403


def test_log_lines_use_airflows_format():
    assert format_log_line("x", when=JAN[5]) == f"{LINE}x"
