"""Task instances: lists, search, one, mark, notes, dependencies, tries, clear, mark many, links."""
# Fixtures come from tests.runs.helpers; test parameters of the same name use them.
# ruff: noqa: F811
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from app import runs
from app.dags.structure import load_dag_spec
from app.extensions import db
from app.models import DagModel, DagRun, EventLog, Pool, TaskInstance
from tests.conftest import basic_auth, make_app
from tests.endpoints.test_dag_run_endpoint import editor_of, reader_of
from tests.runs.helpers import (  # noqa: F401
    JAN,
    dag_folder,
    dags,
    get_ti,
    history_json,
    problem,
    queries,
    ran,
    reference,
    run_try,
    ti_json,
    trigger,
    user_with,
)

API = "/api/v1"
ADMIN = basic_auth("admin")
RUN1 = f"{API}/dags/pipeline/dagRuns/run1"
ORDER = [("extract", -1), ("load", -1), ("transform", 0), ("transform", 1), ("transform", 2)]


@pytest.fixture
def run1(app, dags):
    trigger(app)
    return dags


def keys(body) -> list:
    return [(ti["dag_run_id"], ti["task_id"], ti["map_index"]) for ti in body["task_instances"]]


def last_event(app) -> tuple:
    with app.app_context():
        row = db.session.execute(select(EventLog).order_by(EventLog.id.desc()).limit(1)).scalar_one()
        return row.event, row.dag_id, row.run_id, row.task_id, row.map_index


def ti_states(app, run_id="run1") -> dict:
    with app.app_context():
        rows = db.session.execute(
            select(TaskInstance.task_id, TaskInstance.map_index, TaskInstance.state).where(TaskInstance.run_id == run_id)
        )
        return {(t, m): s for t, m, s in rows}


class TestGetTaskInstances:
    def test_lists_the_task_instances_of_a_run(self, app, client, run1):
        run_try(app, "pipeline", "run1", "extract")
        response = client.get(f"{RUN1}/taskInstances", headers=ADMIN)
        assert response.status_code == 200
        assert response.json == {
            "task_instances": [
                ti_json("extract", **ran()), ti_json("load"), ti_json("transform", map_index=0),
                ti_json("transform", map_index=1), ti_json("transform", map_index=2),
            ],
            "total_entries": 5,
        }

    def test_tilde_lists_across_runs_and_readable_dags(self, app, client, run1):
        trigger(app, run_id="run2", logical_date=JAN[9])
        trigger(app, "other", "o1", JAN[1])
        response = client.get(f"{API}/dags/~/dagRuns/~/taskInstances", headers=ADMIN)
        assert response.json["total_entries"] == 11
        response = client.get(f"{API}/dags/pipeline/dagRuns/~/taskInstances", headers=ADMIN)
        assert response.json["total_entries"] == 10
        response = client.get(f"{API}/dags/~/dagRuns/~/taskInstances", headers=reader_of(app, "other"))
        assert keys(response.json) == [("o1", "only", -1)]

    @pytest.mark.parametrize(
        ("query", "expected"),
        [
            ("state=success", [("extract", -1)]),
            ("state=none", [("load", -1), ("transform", 0), ("transform", 2)]),
            ("state=success,failed", [("extract", -1), ("transform", 1)]),
            ("state=none&state=failed", ORDER[1:]),
            ("duration_gte=3", [("extract", -1), ("transform", 1)]),
            ("duration_lte=2.5", []),
            ("pool=small", ORDER[2:]),
            ("pool=small,default_pool", ORDER),
            ("queue=default", ORDER[:2]),
            ("executor=nope", []),
            ("start_date_gte=2024-01-06T00:00:00Z", [("extract", -1), ("transform", 1)]),
            ("end_date_lte=2024-01-06T00:00:02Z", []),
            ("execution_date_gte=2024-01-05T00:00:00Z&execution_date_lte=2024-01-05T00:00:00Z", ORDER),
            ("execution_date_gte=2024-01-06T00:00:00Z", []),
            ("updated_at_lte=2000-01-01T00:00:00Z", []),
        ],
    )
    def test_filters(self, app, client, run1, query, expected):
        run_try(app, "pipeline", "run1", "extract")
        run_try(app, "pipeline", "run1", "transform", "failed", map_index=1)
        response = client.get(f"{RUN1}/taskInstances?{query}", headers=ADMIN)
        assert response.status_code == 200, response.json
        assert [(t["task_id"], t["map_index"]) for t in response.json["task_instances"]] == expected

    def test_an_unknown_state_is_400(self, client, run1):
        response = client.get(f"{RUN1}/taskInstances?state=bogus", headers=ADMIN)
        assert response.json == problem(
            400, "Bad Request", "'bogus' is not a valid TaskInstanceState", f"{RUN1}/taskInstances"
        )

    def test_pages_are_not_clamped(self, run1):
        client = make_app(api={"maximum_page_limit": 2}).test_client()
        response = client.get(f"{RUN1}/taskInstances?limit=4&offset=1", headers=ADMIN)
        assert [(t["task_id"], t["map_index"]) for t in response.json["task_instances"]] == ORDER[1:5]
        assert response.json["total_entries"] == 5

    def test_dag_level_access(self, app, client, run1):
        assert client.get(f"{RUN1}/taskInstances", headers=reader_of(app, "other")).status_code == 403
        assert client.get(f"{RUN1}/taskInstances", headers=reader_of(app, "pipeline")).status_code == 200

    def test_query_count_does_not_grow_with_the_page(self, app, client, dags):
        def send():
            assert client.get(f"{API}/dags/~/dagRuns/~/taskInstances", headers=ADMIN).status_code == 200

        trigger(app, run_id="r0", logical_date=JAN[0])
        small = queries(app, send)
        for day in range(1, 15):
            trigger(app, run_id=f"r{day}", logical_date=JAN[day])
        assert queries(app, send) == small <= 6


class TestGetTaskInstancesBatch:
    URL = f"{API}/dags/~/dagRuns/~/taskInstances/list"

    def test_searches_with_the_body_filters(self, app, client, run1):
        trigger(app, run_id="run2", logical_date=JAN[9])
        trigger(app, "other", "o1", JAN[1])
        run_try(app, "pipeline", "run2", "load", "failed")
        body = {
            "dag_ids": ["pipeline"], "task_ids": ["load", "extract"], "state": ["failed", None],
            "execution_date_gte": "2024-01-02T00:00:00Z", "page_limit": 2, "page_offset": 1,
        }
        response = client.post(self.URL, json=body, headers=ADMIN)
        assert response.status_code == 200
        assert response.json == {
            "task_instances": [ti_json("load"), ti_json("extract", "run2", logical_date=JAN[9])],
            "total_entries": 4,
        }
        response = client.post(self.URL, json={"dag_run_ids": ["run2"], "state": ["failed"], "duration_gte": 1},
                               headers=ADMIN)
        assert keys(response.json) == [("run2", "load", -1)]

    def test_unreadable_dags_are_403(self, app, client, run1):
        headers = reader_of(app, "other")
        response = client.post(self.URL, json={"dag_ids": ["pipeline", "other", "nope"]}, headers=headers)
        assert response.json == problem(
            403, "Forbidden", "User not allowed to access some of these DAGs: ['nope', 'pipeline']", self.URL
        )
        assert client.post(self.URL, json={}, headers=headers).json == {"task_instances": [], "total_entries": 0}

    @pytest.mark.parametrize(
        ("body", "detail"),
        [
            ({"dagids": []}, "{'dagids': ['Unknown field.']}"),
            ({"state": ["bogus"]}, "'bogus' is not one of [None, 'success', 'running', 'failed', 'upstream_failed', "
                                   "'skipped', 'up_for_retry', 'up_for_reschedule', 'queued', 'none', 'scheduled', "
                                   "'deferred', 'removed', 'restarting'] - 'state.0'"),
            ({"page_offset": -1}, "-1 is less than the minimum of 0 - 'page_offset'"),
        ],
    )
    def test_bad_bodies_are_400(self, client, run1, body, detail):
        response = client.post(self.URL, json=body, headers=ADMIN)
        assert response.json == problem(400, "Bad Request", detail, self.URL)

    def test_query_count_does_not_grow_with_the_page(self, app, client, dags):
        def send():
            assert client.post(self.URL, json={"page_limit": 500}, headers=ADMIN).status_code == 200

        trigger(app, run_id="r0", logical_date=JAN[0])
        small = queries(app, send)
        for day in range(1, 15):
            trigger(app, run_id=f"r{day}", logical_date=JAN[day])
        assert queries(app, send) == small <= 6


class TestGetTaskInstance:
    def test_shows_one_task_instance(self, app, client, run1):
        run_try(app, "pipeline", "run1", "load", "failed")
        response = client.get(f"{RUN1}/taskInstances/load", headers=ADMIN)
        assert response.json == ti_json("load", **ran("failed"))

    def test_missing_and_mapped_are_404(self, client, run1):
        response = client.get(f"{RUN1}/taskInstances/nope", headers=ADMIN)
        assert response.json == problem(404, "Task instance not found", None, f"{RUN1}/taskInstances/nope")
        response = client.get(f"{RUN1}/taskInstances/transform", headers=ADMIN)
        assert response.json == problem(
            404, "Task instance not found", "Task instance is mapped, add the map_index value to the URL",
            f"{RUN1}/taskInstances/transform",
        )

    def test_mapped_task_instance(self, app, client, run1):
        run_try(app, "pipeline", "run1", "transform", map_index=2)
        response = client.get(f"{RUN1}/taskInstances/transform/2", headers=ADMIN)
        assert response.json == ti_json("transform", map_index=2, **ran())
        response = client.get(f"{RUN1}/taskInstances/transform/7", headers=ADMIN)
        assert response.json == problem(404, "Task instance not found", None, f"{RUN1}/taskInstances/transform/7")

    def test_dag_level_access(self, app, client, run1):
        assert client.get(f"{RUN1}/taskInstances/load", headers=reader_of(app, "other")).status_code == 403
        assert client.get(f"{RUN1}/taskInstances/load", headers=reader_of(app, "pipeline")).status_code == 200


class TestGetMappedTaskInstances:
    URL = f"{RUN1}/taskInstances/transform/listMapped"

    def test_lists_the_expansion(self, app, client, run1):
        run_try(app, "pipeline", "run1", "transform", map_index=1)
        response = client.get(self.URL, headers=ADMIN)
        assert response.json == {
            "task_instances": [
                ti_json("transform", map_index=0), ti_json("transform", map_index=1, **ran()),
                ti_json("transform", map_index=2),
            ],
            "total_entries": 3,
        }

    @pytest.mark.parametrize(
        ("query", "expected"),
        [
            ("order_by=-map_index", [2, 1, 0]),
            ("order_by=map_index", [0, 1, 2]),
            # Without a state filter NULLs sort differently on SQLite and PostgreSQL.
            ("order_by=-state&state=failed,success", [2, 1]),
            ("order_by=state&state=failed,success", [1, 2]),
            ("order_by=-duration&state=failed,success", [2, 1]),
            ("order_by=start_date&state=failed,success&offset=1", [2]),
            ("order_by=-end_date&state=failed,success&limit=1", [2]),
            ("state=failed", [1]),
            ("duration_gte=4", [2]),
            ("pool=small&queue=fast", [0, 1, 2]),
        ],
    )
    def test_orders_and_filters(self, app, client, run1, query, expected):
        run_try(app, "pipeline", "run1", "transform", "failed", map_index=1)
        with app.app_context():
            ti = get_ti("pipeline", "run1", "transform", 2)
            runs.mark_running(ti, JAN[6])
            runs.mark_ti_state(ti, "success", JAN[6] + dt.timedelta(seconds=5))
            db.session.commit()
        response = client.get(f"{self.URL}?{query}", headers=ADMIN)
        assert [t["map_index"] for t in response.json["task_instances"]] == expected

    def test_an_unsupported_ordering_is_400(self, client, run1):
        response = client.get(f"{self.URL}?order_by=pool", headers=ADMIN)
        assert response.json == problem(400, "Bad Request", "Ordering with 'pool' is not supported", self.URL)

    @pytest.mark.parametrize(
        ("path", "title"),
        [
            ("/dags/nope/dagRuns/run1/taskInstances/transform/listMapped", "DAG nope not found"),
            ("/dags/pipeline/dagRuns/run1/taskInstances/nope/listMapped", "Task id nope not found"),
            ("/dags/pipeline/dagRuns/run1/taskInstances/load/listMapped", "Task id load is not mapped"),
        ],
    )
    def test_without_mapped_instances_says_why(self, client, run1, path, title):
        response = client.get(API + path, headers=ADMIN)
        assert response.json == problem(404, title, None, API + path)

    def test_an_empty_expansion_is_an_empty_list(self, app, client, dag_folder):
        dag_folder.process(empty="dag_id: empty\ntasks: [{task_id: m, expand: {x: []}}]\n")
        trigger(app, "empty", "e1", JAN[0])
        response = client.get(f"{API}/dags/empty/dagRuns/e1/taskInstances/m/listMapped", headers=ADMIN)
        assert response.json == {"task_instances": [], "total_entries": 0}

    def test_query_count_does_not_grow_with_the_page(self, app, client, dag_folder):
        def send():
            assert client.get(f"{API}/dags/wide/dagRuns/w/taskInstances/m/listMapped", headers=ADMIN).status_code == 200

        dag_folder.process(wide="dag_id: wide\ntasks: [{task_id: m, expand: {x: [1]}}]\n")
        trigger(app, "wide", "w", JAN[0])
        small = queries(app, send)
        dag_folder.process(wide=f"dag_id: wide\ntasks: [{{task_id: m, expand: {{x: {list(range(50))}}}}}]\n")
        with app.app_context():
            run = db.session.execute(select(DagRun)).scalar_one()
            db.session.execute(TaskInstance.__table__.delete())
            runs.create_task_instances(run, load_dag_spec("wide"))
            db.session.commit()
        assert queries(app, send) == small <= 7


class TestPatchTaskInstance:
    def test_a_dry_run_is_the_default(self, app, client, run1):
        response = client.patch(f"{RUN1}/taskInstances/load", json={"new_state": "success"}, headers=ADMIN)
        assert response.json == reference("load")
        assert ti_states(app)[("load", -1)] is None
        assert last_event(app) == ("api.patch_task_instance", "pipeline", "run1", "load", None)

    def test_marks_the_task_instance(self, app, client, run1):
        body = {"new_state": "failed", "dry_run": False}
        response = client.patch(f"{RUN1}/taskInstances/extract", json=body, headers=ADMIN)
        assert response.json == reference("extract")
        assert ti_states(app)[("extract", -1)] == "failed"
        response = client.patch(f"{RUN1}/taskInstances/transform/1", json=body, headers=ADMIN)
        assert response.json == reference("transform")
        assert ti_states(app)[("transform", 1)] == "failed"
        assert ti_states(app)[("transform", 0)] is None

    @pytest.mark.parametrize(
        ("path", "body", "status", "title", "detail"),
        [
            ("/dags/nope/dagRuns/run1/taskInstances/load", {"new_state": "success"}, 404, "DAG not found",
             "DAG 'nope' not found"),
            ("/dags/pipeline/dagRuns/run1/taskInstances/nope", {"new_state": "success"}, 404, "Task not found",
             "Task 'nope' not found in DAG 'pipeline'"),
            ("/dags/pipeline/dagRuns/nope/taskInstances/load", {"new_state": "success"}, 404, "Not Found",
             "Task instance not found for task 'load' on DAG run with ID 'nope'"),
            ("/dags/pipeline/dagRuns/run1/taskInstances/transform/9", {"new_state": "success"}, 404, "Not Found",
             "Task instance not found for task 'transform' on DAG run with ID 'run1'"),
            ("/dags/pipeline/dagRuns/run1/taskInstances/load", {"new_state": "running"}, 400, "Bad Request",
             "'running' is not one of ['success', 'failed', 'skipped'] - 'new_state'"),
            ("/dags/pipeline/dagRuns/run1/taskInstances/load", {}, 400, "Bad Request",
             "{'new_state': ['Missing data for required field.']}"),
            ("/dags/pipeline/dagRuns/run1/taskInstances/load", {"new_state": "success", "x": 1}, 400, "Bad Request",
             "{'x': ['Unknown field.']}"),
        ],
    )
    def test_errors(self, client, run1, path, body, status, title, detail):
        response = client.patch(API + path, json=body, headers=ADMIN)
        assert response.json == problem(status, title, detail, API + path)

    def test_dag_level_access(self, app, client, run1):
        body = {"new_state": "success"}
        assert client.patch(f"{RUN1}/taskInstances/load", json=body, headers=editor_of(app, "other")).status_code == 403
        assert client.patch(f"{RUN1}/taskInstances/load", json=body, headers=reader_of(app, "pipeline")).status_code == 403
        assert client.patch(f"{RUN1}/taskInstances/load", json=body, headers=editor_of(app, "pipeline")).status_code == 200


class TestSetTaskInstanceNote:
    def test_sets_the_note_of_unmapped_and_mapped_task_instances(self, app, client, run1):
        response = client.patch(f"{RUN1}/taskInstances/load/setNote", json={"note": "checked"}, headers=ADMIN)
        assert response.json == ti_json("load", note="checked")
        response = client.patch(f"{RUN1}/taskInstances/transform/2/setNote", json={"note": "two"}, headers=ADMIN)
        assert response.json == ti_json("transform", map_index=2, note="two")
        assert last_event(app) == ("api.set_mapped_task_instance_note", "pipeline", "run1", "transform", 2)

    def test_errors(self, client, run1):
        url = f"{RUN1}/taskInstances/load/setNote"
        assert client.patch(url, json={"note": "x" * 1001}, headers=ADMIN).json == problem(
            400, "Bad Request", "{'note': ['Longer than maximum length 1000.']}", url
        )
        assert client.patch(url, json={}, headers=ADMIN).json == problem(
            400, "Bad Request", "'note' is a required property", url
        )
        url = f"{RUN1}/taskInstances/nope/setNote"
        assert client.patch(url, json={"note": "x"}, headers=ADMIN).json == problem(
            404, "Task Instance not found for dag_id=pipeline, run_id=run1, task_id=nope", None, url
        )
        url = f"{RUN1}/taskInstances/transform/setNote"
        assert client.patch(url, json={"note": "x"}, headers=ADMIN).json == problem(
            404, "Task instance not found", "Task instance is mapped, add the map_index value to the URL", url
        )


class TestDependencies:
    def test_explains_what_holds_a_task_instance_back(self, app, client, run1):
        with app.app_context():
            db.session.execute(Pool.__table__.delete().where(Pool.pool == "small"))
            db.session.get(DagModel, "pipeline").is_paused = True
            db.session.commit()
        response = client.get(f"{RUN1}/taskInstances/transform/0/dependencies", headers=ADMIN)
        assert response.json == {
            "dependencies": [
                {"name": "Dag Not Paused", "reason": "Task's DAG 'pipeline' is paused."},
                {"name": "Dagrun Running",
                 "reason": "Task instance's dagrun was not in the 'running' state but in the state 'queued'."},
                {"name": "Pool Slots Available", "reason": "Tasks using non-existent pool 'small' will not be scheduled"},
                {"name": "Task Instance State",
                 "reason": "Task is in the 'None' state which is not a valid state for execution. "
                           "The task must be cleared in order to be run."},
                {"name": "Trigger Rule",
                 "reason": "Task's trigger rule 'all_success' cannot be evaluated yet: 1 of its upstream tasks have "
                           "not finished. upstream_task_ids=['extract']"},
            ]
        }

    def test_a_scheduled_task_instance_in_a_running_run_waits_for_pool_slots(self, app, client, run1):
        with app.app_context():
            db.session.add(Pool(pool="small", slots=1, include_deferred=False))
            db.session.get(DagModel, "pipeline").is_paused = False
            runs.mark_run_state(db.session.execute(select(DagRun)).scalar_one(), "running")
            busy, waiting = get_ti("pipeline", "run1", "transform", 0), get_ti("pipeline", "run1", "transform", 1)
            runs.mark_scheduled(busy)
            runs.mark_running(busy)
            runs.mark_scheduled(waiting)
            db.session.commit()
        response = client.get(f"{RUN1}/taskInstances/transform/1/dependencies", headers=ADMIN)
        assert response.json == {"dependencies": [{
            "name": "Pool Slots Available",
            "reason": "Not scheduling since there are 0 open slots in pool small and require 1 pool slots",
        }]}
        # A running task instance is not held back by anything.
        response = client.get(f"{RUN1}/taskInstances/transform/0/dependencies", headers=ADMIN)
        assert response.json == {"dependencies": []}

    def test_missing_is_404(self, client, run1):
        url = f"{RUN1}/taskInstances/nope/dependencies"
        assert client.get(url, headers=ADMIN).json == problem(
            404, "Task Instance not found for dag_id=pipeline, run_id=run1, task_id=nope", None, url
        )


class TestTries:
    def test_lists_finished_tries_then_the_current_one(self, app, client, run1):
        run_try(app, "pipeline", "run1", "load", "failed")
        client.post(f"{RUN1}/clear", json={"dry_run": False}, headers=ADMIN)
        run_try(app, "pipeline", "run1", "load", "success")
        response = client.get(f"{RUN1}/taskInstances/load/tries", headers=ADMIN)
        first = history_json(ti_json("load", **ran("failed")))
        second = history_json(ti_json("load", max_tries=3, **ran("success", try_number=2)))
        assert response.json == {"task_instances": [first, second], "total_entries": 2}
        assert client.get(f"{RUN1}/taskInstances/load/tries/1", headers=ADMIN).json == first
        assert client.get(f"{RUN1}/taskInstances/load/tries/2", headers=ADMIN).json == second

    def test_a_current_try_already_in_the_history_is_listed_once(self, app, client, run1):
        run_try(app, "pipeline", "run1", "transform", "failed", map_index=0)
        client.post(f"{RUN1}/clear", json={"dry_run": False}, headers=ADMIN)
        response = client.get(f"{RUN1}/taskInstances/transform/0/tries?limit=1&order_by=x", headers=ADMIN)
        expected = history_json(ti_json("transform", map_index=0, **ran("failed")))
        assert response.json == {"task_instances": [expected], "total_entries": 1}
        assert client.get(f"{RUN1}/taskInstances/transform/0/tries/1", headers=ADMIN).json == expected

    def test_query_count_does_not_grow_with_the_tries(self, app, client, run1):
        def send():
            assert client.get(f"{RUN1}/taskInstances/load/tries", headers=ADMIN).status_code == 200

        run_try(app, "pipeline", "run1", "load", "failed")
        small = queries(app, send)
        for _ in range(4):
            client.post(f"{RUN1}/clear", json={"dry_run": False}, headers=ADMIN)
            run_try(app, "pipeline", "run1", "load", "failed")
        assert queries(app, send) == small
        assert client.get(f"{RUN1}/taskInstances/load/tries", headers=ADMIN).json["total_entries"] == 5

    def test_missing_is_404(self, client, run1):
        url = f"{RUN1}/taskInstances/load/tries/3"
        assert client.get(url, headers=ADMIN).json == problem(
            404, "Task instance not found",
            "Task Instance not found for dag_id=pipeline, run_id=run1, task_id=load, map_index=-1, try_number=3.", url,
        )
        url = f"{RUN1}/taskInstances/nope/tries"
        assert client.get(url, headers=ADMIN).json == problem(
            404, "Task instance not found",
            "Task Instance not found for dag_id=pipeline, run_id=run1, task_id=nope, map_index=-1", url,
        )


class TestPostClearTaskInstances:
    URL = f"{API}/dags/pipeline/clearTaskInstances"

    @pytest.fixture
    def failed_runs(self, app, run1):
        trigger(app, run_id="run2", logical_date=JAN[9])
        run_try(app, "pipeline", "run1", "extract", "failed")
        run_try(app, "pipeline", "run2", "load", "failed")
        run_try(app, "pipeline", "run2", "extract", "success")

    def test_a_dry_run_of_failed_task_instances_is_the_default(self, app, client, failed_runs):
        response = client.post(self.URL, json={}, headers=ADMIN)
        assert response.json == {"task_instances": [reference("extract"), reference("load", "run2", JAN[9])]}
        assert ti_states(app)[("extract", -1)] == "failed"

    @pytest.mark.parametrize(
        ("body", "expected"),
        [
            ({"dag_run_id": "run2", "only_failed": False}, [("run2", "extract"), ("run2", "load")]
             + [("run2", "transform")] * 3),
            ({"task_ids": ["extract"], "only_failed": False}, [("run1", "extract"), ("run2", "extract")]),
            ({"task_ids": ["transform"], "include_upstream": True}, [("run1", "extract")]),
            ({"task_ids": ["extract"], "include_downstream": True, "dag_run_id": "run2"}, [("run2", "load")]),
            ({"dag_run_id": "run1", "include_future": True}, [("run1", "extract"), ("run2", "load")]),
            ({"dag_run_id": "run2", "include_past": True}, [("run1", "extract"), ("run2", "load")]),
            ({"start_date": "2024-01-06T00:00:00Z"}, [("run2", "load")]),
            ({"end_date": "2024-01-06T00:00:00Z"}, [("run1", "extract")]),
            ({"only_failed": False, "only_running": True}, []),
        ],
    )
    def test_selects_like_airflow(self, client, failed_runs, body, expected):
        response = client.post(self.URL, json=body, headers=ADMIN)
        assert [(t["dag_run_id"], t["task_id"]) for t in response.json["task_instances"]] == expected

    def test_clears_and_optionally_queues_the_runs(self, app, client, failed_runs):
        client.patch(f"{API}/dags/pipeline/dagRuns/run2", json={"state": "failed"}, headers=ADMIN)
        response = client.post(self.URL, json={"dry_run": False, "dag_run_id": "run2"}, headers=ADMIN)
        assert response.json == {"task_instances": [reference("load", "run2", JAN[9])]}
        assert ti_states(app, "run2")[("load", -1)] is None
        assert client.get(f"{API}/dags/pipeline/dagRuns/run2?fields=state", headers=ADMIN).json == {"state": "failed"}
        body = {"dry_run": False, "dag_run_id": "run2", "only_failed": False, "task_ids": ["extract"],
                "reset_dag_runs": True}
        client.post(self.URL, json=body, headers=ADMIN)
        assert ti_states(app, "run2")[("extract", -1)] is None
        assert client.get(f"{API}/dags/pipeline/dagRuns/run2?fields=state", headers=ADMIN).json == {"state": "queued"}
        assert last_event(app) == ("api.post_clear_task_instances", "pipeline", None, None, None)

    @pytest.mark.parametrize(
        ("body", "status", "title", "detail"),
        [
            ({"only_failed": True, "only_running": True}, 400, "Bad Request",
             "{'_schema': ['only_failed and only_running both are set to True']}"),
            ({"start_date": "2024-01-02T00:00:00Z", "end_date": "2024-01-01T00:00:00Z"}, 400, "Bad Request",
             "{'_schema': ['end_date is sooner than start_date']}"),
            ({"dag_run_id": "run1", "start_date": "2024-01-02T00:00:00Z"}, 400, "Bad Request",
             "{'_schema': ['Exactly one of dag_run_id or (start_date and end_date) must be provided']}"),
            ({"task_ids": []}, 400, "Bad Request", "[] should be non-empty - 'task_ids'"),
            ({"dag_run_id": "nope"}, 404, "Dag Run id nope not found in dag pipeline", None),
        ],
    )
    def test_errors(self, client, run1, body, status, title, detail):
        response = client.post(self.URL, json=body, headers=ADMIN)
        assert response.json == problem(status, title, detail, self.URL)

    def test_a_missing_dag_is_404(self, client, run1):
        url = f"{API}/dags/nope/clearTaskInstances"
        assert client.post(url, json={}, headers=ADMIN).json == problem(404, "Dag id nope not found", None, url)


class TestPostSetTaskInstancesState:
    URL = f"{API}/dags/pipeline/updateTaskInstancesState"
    BODY = {"task_id": "extract", "new_state": "success", "include_upstream": False, "include_downstream": True,
            "include_future": False, "include_past": False, "dag_run_id": "run1"}

    def test_a_dry_run_is_the_default(self, app, client, run1):
        response = client.post(self.URL, json=self.BODY, headers=ADMIN)
        assert response.json == {"task_instances": [reference(t) for t in ("extract", "load", "transform", "transform",
                                                                           "transform")]}
        assert set(ti_states(app).values()) == {None}

    def test_marks_the_task_and_its_relatives(self, app, client, run1):
        trigger(app, run_id="run2", logical_date=JAN[9])
        body = {**self.BODY, "dry_run": False, "include_downstream": False, "include_future": True,
                "execution_date": "2024-01-05T00:00:00Z", "new_state": "skipped"}
        del body["dag_run_id"]
        response = client.post(self.URL, json=body, headers=ADMIN)
        assert response.json == {"task_instances": [reference("extract"), reference("extract", "run2", JAN[9])]}
        assert ti_states(app)[("extract", -1)] == ti_states(app, "run2")[("extract", -1)] == "skipped"
        assert last_event(app) == ("api.post_set_task_instances_state", "pipeline", None, None, None)

    @pytest.mark.parametrize(
        ("changes", "status", "title", "detail"),
        [
            ({"execution_date": "2024-01-05T00:00:00Z"}, 400, "Bad Request",
             "{'_schema': ['Exactly one of execution_date or dag_run_id must be provided']}"),
            ({"include_past": None}, 400, "Bad Request", "None is not of type 'boolean' - 'include_past'"),
            ({"task_id": "nope"}, 404, "Task ID nope not found", None),
            ({"dag_run_id": "nope"}, 404, "Not Found",
             "Task instance not found for task 'extract' on DAG run with ID 'nope'"),
            ({"dag_run_id": None, "execution_date": "2024-01-06T00:00:00Z"}, 404, "Not Found",
             "Task instance not found for task 'extract' on execution_date 2024-01-06 00:00:00+00:00"),
        ],
    )
    def test_errors(self, client, run1, changes, status, title, detail):
        body = {**self.BODY, **changes}
        body = {k: v for k, v in body.items() if v is not None or k == "include_past"}
        response = client.post(self.URL, json=body, headers=ADMIN)
        assert response.json == problem(status, title, detail, self.URL)

    def test_missing_fields_and_dag(self, client, run1):
        response = client.post(self.URL, json={"task_id": "extract"}, headers=ADMIN)
        assert response.json == problem(
            400, "Bad Request",
            "{'include_upstream': ['Missing data for required field.'], 'include_downstream': ['Missing data for "
            "required field.'], 'include_future': ['Missing data for required field.'], 'include_past': ['Missing "
            "data for required field.'], 'new_state': ['Missing data for required field.']}",
            self.URL,
        )
        url = f"{API}/dags/nope/updateTaskInstancesState"
        assert client.post(url, json=self.BODY, headers=ADMIN).json == problem(404, "Dag ID nope not found", None, url)


class TestGetExtraLinks:
    def test_a_task_without_extra_links_has_none(self, client, run1):
        assert client.get(f"{RUN1}/taskInstances/load/links", headers=ADMIN).json == {}
        assert client.get(f"{RUN1}/taskInstances/transform/links?map_index=1", headers=ADMIN).json == {}

    @pytest.mark.parametrize(
        ("path", "title", "detail"),
        [
            ("/dags/nope/dagRuns/run1/taskInstances/load/links", "DAG not found", 'DAG with ID = "nope" not found'),
            ("/dags/pipeline/dagRuns/run1/taskInstances/nope/links", "Task not found", 'Task with ID = "nope" not found'),
            ("/dags/pipeline/dagRuns/nope/taskInstances/load/links", "DAG Run not found",
             'DAG Run with ID = "nope" not found'),
        ],
    )
    def test_missing_is_404(self, client, run1, path, title, detail):
        assert client.get(API + path, headers=ADMIN).json == problem(404, title, detail, API + path)


OPERATIONS = [
    ("get", "/dags/pipeline/dagRuns/run1/taskInstances", None),
    ("post", "/dags/~/dagRuns/~/taskInstances/list", {}),
    ("get", "/dags/pipeline/dagRuns/run1/taskInstances/load", None),
    ("patch", "/dags/pipeline/dagRuns/run1/taskInstances/load", {"new_state": "success"}),
    ("get", "/dags/pipeline/dagRuns/run1/taskInstances/transform/1", None),
    ("patch", "/dags/pipeline/dagRuns/run1/taskInstances/transform/1", {"new_state": "success"}),
    ("get", "/dags/pipeline/dagRuns/run1/taskInstances/transform/listMapped", None),
    ("patch", "/dags/pipeline/dagRuns/run1/taskInstances/load/setNote", {"note": "x"}),
    ("patch", "/dags/pipeline/dagRuns/run1/taskInstances/transform/1/setNote", {"note": "x"}),
    ("get", "/dags/pipeline/dagRuns/run1/taskInstances/load/dependencies", None),
    ("get", "/dags/pipeline/dagRuns/run1/taskInstances/transform/1/dependencies", None),
    ("get", "/dags/pipeline/dagRuns/run1/taskInstances/load/tries", None),
    ("get", "/dags/pipeline/dagRuns/run1/taskInstances/load/tries/1", None),
    ("get", "/dags/pipeline/dagRuns/run1/taskInstances/transform/1/tries", None),
    ("get", "/dags/pipeline/dagRuns/run1/taskInstances/transform/1/tries/1", None),
    ("get", "/dags/pipeline/dagRuns/run1/taskInstances/load/links", None),
    ("post", "/dags/pipeline/clearTaskInstances", {}),
    ("post", "/dags/pipeline/updateTaskInstancesState", TestPostSetTaskInstancesState.BODY),
]


@pytest.mark.parametrize(("method", "path", "body"), OPERATIONS)
def test_without_credentials_is_401(client, run1, method, path, body):
    assert client.open(API + path, method=method.upper(), json=body).status_code == 401


@pytest.mark.parametrize(("method", "path", "body"), OPERATIONS)
def test_without_permission_is_403(client, run1, method, path, body):
    response = client.open(API + path, method=method.upper(), json=body, headers=basic_auth("test_no_permissions"))
    assert response.json == problem(403, "Forbidden", None, API + path)


@pytest.mark.parametrize(("method", "path", "body"), OPERATIONS)
def test_a_user_of_another_dag_is_403(app, client, run1, method, path, body):
    if "~" in path:
        pytest.skip("no DAG in the path")
    headers = editor_of(app, "other")
    assert client.open(API + path, method=method.upper(), json=body, headers=headers).status_code == 403
