"""/dags/{dag_id}/dagRuns and everything under a run that is not a task instance."""
# Fixtures come from tests.runs.helpers; test parameters of the same name use them.
# ruff: noqa: F811
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from app import runs
from app.extensions import db
from app.models import DagModel, DagRun, Dataset, EventLog, TaskInstance, TaskInstanceHistory, XCom
from tests.conftest import basic_auth, make_app
from tests.runs.helpers import (  # noqa: F401
    JAN,
    dag_folder,
    dags,
    get_ti,
    problem,
    push_xcom,
    queries,
    reference,
    run_json,
    run_try,
    trigger,
    user_with,
)

API = "/api/v1"
ADMIN = basic_auth("admin")


def last_event(app) -> tuple:
    with app.app_context():
        row = db.session.execute(select(EventLog).order_by(EventLog.id.desc()).limit(1)).scalar_one()
        return row.event, row.dag_id, row.run_id


def reader_of(app, dag_id: str) -> dict:
    """A user who may read runs and task instances of `dag_id` only."""
    return user_with(app, f"reader_{dag_id}", [
        ("can_read", f"DAG:{dag_id}"), ("can_read", "DAG Runs"), ("can_read", "Task Instances"),
        ("can_read", "Task Logs"), ("can_read", "XComs"), ("can_read", "Datasets"),
    ])


def editor_of(app, dag_id: str) -> dict:
    """A user who may trigger and change runs and task instances of `dag_id` only."""
    return user_with(app, f"editor_{dag_id}", [
        ("can_read", f"DAG:{dag_id}"), ("can_edit", f"DAG:{dag_id}"), ("can_read", "DAG Runs"),
        ("can_create", "DAG Runs"), ("can_edit", "DAG Runs"), ("can_delete", "DAG Runs"),
        ("can_read", "Task Instances"), ("can_edit", "Task Instances"),
    ])


@pytest.fixture
def three_runs(app, dags):
    trigger(app, run_id="run1", logical_date=JAN[1])
    trigger(app, run_id="run2", logical_date=JAN[2])
    trigger(app, "other", "other1", JAN[3])
    return dags


class TestGetDagRuns:
    def test_lists_the_runs_of_one_dag(self, client, three_runs):
        response = client.get(f"{API}/dags/pipeline/dagRuns", headers=ADMIN)
        assert response.status_code == 200
        assert response.json == {
            "dag_runs": [run_json("run1", JAN[1]), run_json("run2", JAN[2])],
            "total_entries": 2,
        }

    def test_an_unknown_dag_has_no_runs(self, client, three_runs):
        response = client.get(f"{API}/dags/nope/dagRuns", headers=ADMIN)
        assert response.json == {"dag_runs": [], "total_entries": 0}

    def test_tilde_lists_the_runs_of_every_readable_dag(self, app, client, three_runs):
        everything = client.get(f"{API}/dags/~/dagRuns?fields=dag_run_id", headers=ADMIN)
        assert everything.json == {
            "dag_runs": [{"dag_run_id": "run1"}, {"dag_run_id": "run2"}, {"dag_run_id": "other1"}],
            "total_entries": 3,
        }
        readable = client.get(f"{API}/dags/~/dagRuns?fields=dag_run_id", headers=reader_of(app, "other"))
        assert readable.json == {"dag_runs": [{"dag_run_id": "other1"}], "total_entries": 1}

    @pytest.mark.parametrize(
        ("query", "expected"),
        [
            ("state=queued", ["run1", "run2", "other1"]),
            ("state=failed,queued", ["run1", "run2", "other1"]),
            ("state=running", []),
            ("state=bogus", []),
            ("execution_date_gte=2024-01-03T00:00:00Z", ["run2", "other1"]),
            ("execution_date_lte=2024-01-03T00:00:00%2B00:00", ["run1", "run2"]),
            ("execution_date_gte=2024-01-03T00:00:00Z&execution_date_lte=2024-01-03T00:00:00Z", ["run2"]),
            ("start_date_gte=2024-01-01T00:00:00Z", ["run2"]),
            ("start_date_lte=2024-06-01T00:00:00Z", ["run2"]),
            ("end_date_gte=2000-01-01T00:00:00Z", ["run2"]),
            ("end_date_lte=2000-01-01T00:00:00Z", []),
            ("updated_at_gte=2000-01-01T00:00:00Z", ["run1", "run2", "other1"]),
            ("updated_at_lte=2000-01-01T00:00:00Z", []),
            ("order_by=-execution_date", ["other1", "run2", "run1"]),
            ("order_by=dag_run_id", ["other1", "run1", "run2"]),
            ("order_by=-id&limit=2", ["other1", "run2"]),
            ("order_by=state&offset=2", ["other1"]),
            ("order_by=conf", ["run1", "run2", "other1"]),
        ],
    )
    def test_filters_and_orders(self, app, client, three_runs, query, expected):
        with app.app_context():
            run = db.session.execute(select(DagRun).where(DagRun.run_id == "run2")).scalar_one()
            runs.mark_run_state(run, "running", dt.datetime(2024, 2, 1, tzinfo=dt.timezone.utc))
            runs.mark_run_state(run, "success", dt.datetime(2024, 2, 2, tzinfo=dt.timezone.utc))
            run.state = "queued"  # keeps the state filters simple; the dates stay
            db.session.commit()
        response = client.get(f"{API}/dags/~/dagRuns?fields=dag_run_id&{query}", headers=ADMIN)
        assert response.status_code == 200, response.json
        assert [r["dag_run_id"] for r in response.json["dag_runs"]] == expected

    def test_total_entries_counts_the_filtered_runs(self, client, three_runs):
        response = client.get(f"{API}/dags/~/dagRuns?limit=1&execution_date_gte=2024-01-03T00:00:00Z", headers=ADMIN)
        assert response.json["total_entries"] == 2
        assert len(response.json["dag_runs"]) == 1

    def test_limit_is_clamped_to_the_maximum_page(self, three_runs):
        client = make_app(api={"maximum_page_limit": 2}).test_client()
        response = client.get(f"{API}/dags/~/dagRuns?limit=50", headers=ADMIN)
        assert (len(response.json["dag_runs"]), response.json["total_entries"]) == (2, 3)

    def test_unknown_order_by_is_400(self, client, three_runs):
        response = client.get(f"{API}/dags/~/dagRuns?order_by=-note", headers=ADMIN)
        assert response.status_code == 400
        assert response.json == problem(
            400, "Bad Request", "Ordering with 'note' is disallowed or the attribute does not exist on the model",
            f"{API}/dags/~/dagRuns",
        )

    def test_unknown_field_is_400(self, client, three_runs):
        response = client.get(f"{API}/dags/pipeline/dagRuns?fields=state,bogus", headers=ADMIN)
        assert response.json == problem(
            400, "DAGRunCollectionSchema error", "bogus not in DAGRunSchema", f"{API}/dags/pipeline/dagRuns"
        )

    def test_naive_date_filter_is_400(self, client, three_runs):
        response = client.get(f"{API}/dags/~/dagRuns?start_date_gte=2024-01-01T00:00:00", headers=ADMIN)
        assert response.status_code == 400

    def test_a_dag_the_caller_may_not_read_is_403(self, app, client, three_runs):
        response = client.get(f"{API}/dags/pipeline/dagRuns", headers=reader_of(app, "other"))
        assert response.status_code == 403

    def test_query_count_does_not_grow_with_the_page(self, app, client, dags):
        def send():
            assert client.get(f"{API}/dags/~/dagRuns", headers=ADMIN).status_code == 200

        trigger(app, run_id="r0", logical_date=JAN[0])
        small = queries(app, send)
        for day in range(1, 30):
            trigger(app, run_id=f"r{day}", logical_date=JAN[day])
        assert queries(app, send) == small <= 6


class TestGetDagRunsBatch:
    def test_searches_with_the_body_filters(self, client, three_runs):
        response = client.post(
            f"{API}/dags/~/dagRuns/list",
            json={"dag_ids": ["pipeline", "other"], "states": ["queued"], "order_by": "-execution_date",
                  "page_limit": 2, "execution_date_gte": "2024-01-02T00:00:00Z"},
            headers=ADMIN,
        )
        assert response.status_code == 200
        assert response.json == {
            "dag_runs": [run_json("other1", JAN[3], dag_id="other"), run_json("run2", JAN[2])],
            "total_entries": 3,
        }

    def test_unreadable_dags_are_dropped(self, app, client, three_runs):
        response = client.post(
            f"{API}/dags/~/dagRuns/list", json={"dag_ids": ["pipeline", "other"]}, headers=reader_of(app, "other")
        )
        assert [r["dag_run_id"] for r in response.json["dag_runs"]] == ["other1"]
        response = client.post(f"{API}/dags/~/dagRuns/list", json={}, headers=reader_of(app, "other"))
        assert [r["dag_run_id"] for r in response.json["dag_runs"]] == ["other1"]

    def test_page_limit_is_not_clamped(self, three_runs):
        client = make_app(api={"maximum_page_limit": 1}).test_client()
        response = client.post(f"{API}/dags/~/dagRuns/list", json={"page_limit": 3, "page_offset": 0}, headers=ADMIN)
        assert len(response.json["dag_runs"]) == 3

    @pytest.mark.parametrize(
        ("body", "detail"),
        [
            ({"dagids": ["a"]}, "{'dagids': ['Unknown field.']}"),
            ({"page_limit": 0}, "0 is less than the minimum of 1 - 'page_limit'"),
            ({"order_by": "nope"}, "Ordering with 'nope' is disallowed or the attribute does not exist on the model"),
        ],
    )
    def test_bad_bodies_are_400(self, client, three_runs, body, detail):
        response = client.post(f"{API}/dags/~/dagRuns/list", json=body, headers=ADMIN)
        assert response.json == problem(400, "Bad Request", detail, f"{API}/dags/~/dagRuns/list")

    def test_query_count_does_not_grow_with_the_page(self, app, client, dags):
        def send():
            assert client.post(f"{API}/dags/~/dagRuns/list", json={}, headers=ADMIN).status_code == 200

        trigger(app, run_id="r0", logical_date=JAN[0])
        small = queries(app, send)
        for day in range(1, 20):
            trigger(app, run_id=f"r{day}", logical_date=JAN[day])
        assert queries(app, send) == small <= 6


class TestPostDagRun:
    def test_triggers_a_queued_manual_run_with_its_task_instances(self, app, client, dags):
        body = {
            "dag_run_id": "mine", "logical_date": "2024-01-05T00:00:00+00:00", "conf": {"n": 2}, "note": "by hand",
        }
        response = client.post(f"{API}/dags/pipeline/dagRuns", json=body, headers=ADMIN)
        assert response.status_code == 200
        assert response.json == run_json("mine", JAN[4], conf={"n": 2}, note="by hand")
        with app.app_context():
            count = db.session.execute(
                select(func.count()).select_from(TaskInstance).where(TaskInstance.run_id == "mine")
            ).scalar_one()
        assert count == 5
        assert last_event(app) == ("api.post_dag_run", "pipeline", None)

    def test_generates_the_run_id_from_the_logical_date(self, client, dags):
        response = client.post(f"{API}/dags/other/dagRuns", json={"execution_date": "2024-01-02T03:04:05Z"}, headers=ADMIN)
        assert response.json == run_json(
            "manual__2024-01-02T03:04:05+00:00", dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc),
            dag_id="other",
        )

    def test_without_dates_the_logical_date_is_now(self, client, dags):
        before = dt.datetime.now(dt.timezone.utc)
        body = client.post(f"{API}/dags/other/dagRuns", json={}, headers=ADMIN).json
        logical = dt.datetime.fromisoformat(body["logical_date"])
        assert before <= logical <= dt.datetime.now(dt.timezone.utc)
        assert body["dag_run_id"] == f"manual__{logical.isoformat()}"

    def test_a_given_data_interval_is_kept(self, client, dags):
        body = {
            "dag_run_id": "r", "logical_date": "2024-01-05T00:00:00Z",
            "data_interval_start": "2023-12-01T00:00:00Z", "data_interval_end": "2023-12-31T00:00:00Z",
        }
        response = client.post(f"{API}/dags/pipeline/dagRuns", json=body, headers=ADMIN)
        assert response.json == run_json(
            "r", JAN[4], data_interval_start="2023-12-01T00:00:00+00:00", data_interval_end="2023-12-31T00:00:00+00:00"
        )

    @pytest.mark.parametrize(
        ("body", "title", "detail"),
        [
            ({"logical_date": "2024-01-01T00:00:00Z", "execution_date": "2024-01-02T00:00:00Z"},
             "logical_date conflicts with execution_date", "'2024-01-01T00:00:00Z' != '2024-01-02T00:00:00Z'"),
            ({"data_interval_start": "2024-01-01T00:00:00Z"}, "Bad Request",
             "{'_schema': [\"Both 'data_interval_start' and 'data_interval_end' must be specified together\"]}"),
            ({"conf": {"n": -1}}, "Bad Request",
             "Invalid input for param n: -1 is less than the minimum of 1\n\nFailed validating 'minimum' in "
             "schema:\n    {'type': 'integer', 'minimum': 1}\n\nOn instance:\n    -1"),
            ({"conf": "x"}, "Bad Request", "'x' is not of type 'object' - 'conf'"),
            ({"state": "running"}, "Bad Request", "Property is read-only - 'state'"),
            ({"logical_date": "2024-01-04T00:00:00"}, "Bad Request",
             "'2024-01-04T00:00:00' is not a 'date-time' - 'logical_date'"),
            ({"dag_run_id": "a b"}, "Bad Request",
             "The provided run ID 'a b' is invalid. It must match the pattern '^[A-Za-z0-9_.~:+-]+$' and have at "
             "most 250 characters."),
            ({"notes": "x"}, "Bad Request", "{'notes': ['Unknown field.']}"),
        ],
    )
    def test_bad_bodies_are_400(self, client, dags, body, title, detail):
        response = client.post(f"{API}/dags/pipeline/dagRuns", json=body, headers=ADMIN)
        assert response.json == problem(400, title, detail, f"{API}/dags/pipeline/dagRuns")

    def test_a_missing_or_inactive_dag_is_404(self, app, client, dags):
        with app.app_context():
            db.session.get(DagModel, "other").is_active = False
            db.session.commit()
        for dag_id in ("nope", "other"):
            response = client.post(f"{API}/dags/{dag_id}/dagRuns", json={}, headers=ADMIN)
            assert response.json == problem(
                404, "DAG not found", f"DAG with dag_id: '{dag_id}' not found", f"{API}/dags/{dag_id}/dagRuns"
            )

    def test_a_dag_with_import_errors_is_400(self, app, client, dags):
        with app.app_context():
            db.session.get(DagModel, "other").has_import_errors = True
            db.session.commit()
        response = client.post(f"{API}/dags/other/dagRuns", json={}, headers=ADMIN)
        assert response.json == problem(
            400, "DAG cannot be triggered", "DAG with dag_id: 'other' has import errors", f"{API}/dags/other/dagRuns"
        )

    def test_a_taken_run_id_or_logical_date_is_409(self, client, dags):
        url = f"{API}/dags/other/dagRuns"
        first = {"dag_run_id": "r", "logical_date": "2024-01-01T00:00:00Z"}
        assert client.post(url, json=first, headers=ADMIN).status_code == 200
        same_id = client.post(url, json={"dag_run_id": "r"}, headers=ADMIN)
        assert same_id.json == problem(
            409, "Conflict", "DAGRun with DAG ID: 'other' and DAGRun ID: 'r' already exists", url
        )
        same_date = client.post(url, json={"dag_run_id": "s", "logical_date": "2024-01-01T02:00:00+02:00"}, headers=ADMIN)
        assert same_date.json == problem(
            409, "Conflict",
            "DAGRun with DAG ID: 'other' and DAGRun logical date: '2024-01-01 00:00:00+00:00' already exists", url,
        )

    def test_dag_level_access(self, app, client, dags):
        headers = editor_of(app, "other")
        assert client.post(f"{API}/dags/other/dagRuns", json={}, headers=headers).status_code == 200
        assert client.post(f"{API}/dags/pipeline/dagRuns", json={}, headers=headers).status_code == 403
        assert client.post(f"{API}/dags/other/dagRuns", json={}, headers=basic_auth("viewer")).status_code == 403


class TestGetDagRun:
    def test_shows_one_run(self, client, three_runs):
        response = client.get(f"{API}/dags/pipeline/dagRuns/run2", headers=ADMIN)
        assert response.json == run_json("run2", JAN[2])

    def test_fields(self, client, three_runs):
        response = client.get(f"{API}/dags/pipeline/dagRuns/run2?fields=state&fields=conf", headers=ADMIN)
        assert response.json == {"state": "queued", "conf": {}}
        response = client.get(f"{API}/dags/pipeline/dagRuns/run2?fields=nope", headers=ADMIN)
        assert response.json == problem(
            400, "DAGRunSchema error", "nope not in DAGRunSchema", f"{API}/dags/pipeline/dagRuns/run2"
        )

    def test_missing_is_404(self, client, three_runs):
        response = client.get(f"{API}/dags/pipeline/dagRuns/other1", headers=ADMIN)
        assert response.json == problem(
            404, "DAGRun not found", "DAGRun with DAG ID: 'pipeline' and DagRun ID: 'other1' not found",
            f"{API}/dags/pipeline/dagRuns/other1",
        )

    def test_dag_level_access(self, app, client, three_runs):
        headers = reader_of(app, "other")
        assert client.get(f"{API}/dags/other/dagRuns/other1", headers=headers).status_code == 200
        assert client.get(f"{API}/dags/pipeline/dagRuns/run1", headers=headers).status_code == 403


class TestUpdateDagRunState:
    def test_success_marks_every_task_instance(self, app, client, three_runs):
        run_try(app, "pipeline", "run1", "extract", "failed")
        response = client.patch(f"{API}/dags/pipeline/dagRuns/run1", json={"state": "success"}, headers=ADMIN)
        assert response.status_code == 200
        body = response.json
        assert dt.datetime.fromisoformat(body.pop("end_date")) > JAN[1]
        assert body == {k: v for k, v in run_json("run1", JAN[1], state="success").items() if k != "end_date"}
        with app.app_context():
            assert set(db.session.execute(select(TaskInstance.state).where(TaskInstance.run_id == "run1")).scalars()) == {
                "success"
            }
        assert last_event(app) == ("api.update_dag_run_state", "pipeline", "run1")

    def test_failed_skips_what_did_not_run_and_queued_keeps_the_task_instances(self, app, client, three_runs):
        client.patch(f"{API}/dags/pipeline/dagRuns/run1", json={"state": "failed"}, headers=ADMIN)
        response = client.patch(f"{API}/dags/pipeline/dagRuns/run1", json={"state": "queued"}, headers=ADMIN)
        assert response.json == run_json("run1", JAN[1])
        with app.app_context():
            assert set(db.session.execute(select(TaskInstance.state).where(TaskInstance.run_id == "run1")).scalars()) == {
                "skipped"
            }

    def test_bad_state_and_missing_run(self, client, three_runs):
        url = f"{API}/dags/pipeline/dagRuns/run1"
        response = client.patch(url, json={"state": "running"}, headers=ADMIN)
        assert response.json == problem(
            400, "Bad Request", "'running' is not one of ['success', 'failed', 'queued'] - 'state'", url
        )
        response = client.patch(url, json={}, headers=ADMIN)
        assert response.json == problem(400, "Bad Request", "{'state': ['Missing data for required field.']}", url)
        response = client.patch(f"{API}/dags/pipeline/dagRuns/nope", json={"state": "failed"}, headers=ADMIN)
        assert response.json == problem(
            404, "Dag Run id nope not found in dag pipeline", None, f"{API}/dags/pipeline/dagRuns/nope"
        )

    def test_dag_level_access(self, app, client, three_runs):
        headers = editor_of(app, "other")
        assert client.patch(f"{API}/dags/other/dagRuns/other1", json={"state": "failed"}, headers=headers).status_code == 200
        assert client.patch(f"{API}/dags/pipeline/dagRuns/run1", json={"state": "failed"}, headers=headers).status_code == 403


class TestDeleteDagRun:
    def test_deletes_the_run_and_everything_under_it(self, app, client, three_runs):
        run_try(app, "pipeline", "run1", "load", "failed")
        push_xcom(app, "pipeline", "run1", "load", "k", [1])
        client.post(f"{API}/dags/pipeline/dagRuns/run1/clear", json={"dry_run": False}, headers=ADMIN)
        conf = app.extensions["stableflow.conf"]
        log = runs.logs.try_log_path(conf, "pipeline", "run1", "load", -1, 1)
        assert log.exists()
        response = client.delete(f"{API}/dags/pipeline/dagRuns/run1", headers=ADMIN)
        assert (response.status_code, response.data, response.mimetype) == (204, b"", "application/json")
        with app.app_context():
            for model in (DagRun, TaskInstance, TaskInstanceHistory, XCom):
                assert db.session.execute(select(func.count()).where(model.run_id == "run1")).scalar_one() == 0
            assert db.session.execute(select(func.count()).where(TaskInstance.run_id == "run2")).scalar_one() == 5
        assert not log.exists()
        assert last_event(app) == ("api.delete_dag_run", "pipeline", "run1")

    def test_missing_is_404(self, client, three_runs):
        response = client.delete(f"{API}/dags/pipeline/dagRuns/nope", headers=ADMIN)
        assert response.json == problem(
            404, "Not Found", "DAGRun with DAG ID: 'pipeline' and DagRun ID: 'nope' not found",
            f"{API}/dags/pipeline/dagRuns/nope",
        )

    def test_dag_level_access(self, app, client, three_runs):
        headers = editor_of(app, "other")
        assert client.delete(f"{API}/dags/pipeline/dagRuns/run1", headers=headers).status_code == 403
        assert client.delete(f"{API}/dags/other/dagRuns/other1", headers=headers).status_code == 204


class TestClearDagRun:
    def test_a_dry_run_is_the_default(self, app, client, three_runs):
        run_try(app, "pipeline", "run1", "extract", "success")
        response = client.post(f"{API}/dags/pipeline/dagRuns/run1/clear", json={}, headers=ADMIN)
        assert response.json == {
            "task_instances": [
                reference(task_id, "run1", JAN[1]) for task_id in ("extract", "load", "transform", "transform", "transform")
            ]
        }
        with app.app_context():
            assert get_ti("pipeline", "run1", "extract").state == "success"

    def test_clearing_resets_the_task_instances_and_queues_the_run(self, app, client, three_runs):
        run_try(app, "pipeline", "run1", "extract", "success")
        client.patch(f"{API}/dags/pipeline/dagRuns/run1", json={"state": "failed"}, headers=ADMIN)
        response = client.post(f"{API}/dags/pipeline/dagRuns/run1/clear", json={"dry_run": False}, headers=ADMIN)
        assert response.json == run_json("run1", JAN[1])
        with app.app_context():
            assert set(db.session.execute(select(TaskInstance.state).where(TaskInstance.run_id == "run1")).scalars()) == {
                None
            }
            history = db.session.execute(select(TaskInstanceHistory)).scalar_one()
            assert (history.task_id, history.try_number, history.state) == ("extract", 1, "success")
        assert last_event(app) == ("api.clear_dag_run", "pipeline", "run1")

    def test_errors(self, client, three_runs):
        url = f"{API}/dags/pipeline/dagRuns/run1/clear"
        response = client.post(url, json={"dryrun": False}, headers=ADMIN)
        assert response.json == problem(400, "Bad Request", "{'dryrun': ['Unknown field.']}", url)
        response = client.post(f"{API}/dags/pipeline/dagRuns/nope/clear", json={}, headers=ADMIN)
        assert response.json == problem(
            404, "Dag Run id nope not found in dag pipeline", None, f"{API}/dags/pipeline/dagRuns/nope/clear"
        )

    def test_dag_level_access(self, app, client, three_runs):
        headers = reader_of(app, "pipeline")
        assert client.post(f"{API}/dags/pipeline/dagRuns/run1/clear", json={}, headers=headers).status_code == 403
        headers = editor_of(app, "pipeline")
        assert client.post(f"{API}/dags/pipeline/dagRuns/run1/clear", json={}, headers=headers).status_code == 200


class TestSetDagRunNote:
    def test_sets_and_clears_the_note(self, app, client, three_runs):
        url = f"{API}/dags/pipeline/dagRuns/run1/setNote"
        response = client.patch(url, json={"note": "looked at it"}, headers=ADMIN)
        assert response.json == run_json("run1", JAN[1], note="looked at it")
        assert last_event(app) == ("api.set_dag_run_note", "pipeline", "run1")
        assert client.get(f"{API}/dags/pipeline/dagRuns/run1?fields=note", headers=ADMIN).json == {"note": "looked at it"}

    def test_errors(self, client, three_runs):
        url = f"{API}/dags/pipeline/dagRuns/run1/setNote"
        response = client.patch(url, json={"note": "x" * 1001}, headers=ADMIN)
        assert response.json == problem(400, "Bad Request", "{'note': ['Longer than maximum length 1000.']}", url)
        response = client.patch(url, json={}, headers=ADMIN)
        assert response.json == problem(400, "Bad Request", "{'note': ['Missing data for required field.']}", url)
        response = client.patch(f"{API}/dags/pipeline/dagRuns/nope/setNote", json={"note": "x"}, headers=ADMIN)
        assert response.json == problem(
            404, "Dag Run id nope not found in dag pipeline", None, f"{API}/dags/pipeline/dagRuns/nope/setNote"
        )

    def test_dag_level_access(self, app, client, three_runs):
        headers = editor_of(app, "other")
        url = f"{API}/dags/pipeline/dagRuns/run1/setNote"
        assert client.patch(url, json={"note": "x"}, headers=headers).status_code == 403


class TestGetUpstreamDatasetEvents:
    def test_lists_the_events_that_triggered_the_run(self, app, client, dag_folder):
        dag_folder.process(
            consumer="dag_id: consumer\nschedule: {datasets: ['s3://b/k']}\ntasks: [{task_id: c}]\n"
        )
        trigger(app, "consumer", "c1", JAN[1], run_type="dataset_triggered", external_trigger=False)
        when = dt.datetime(2024, 1, 1, 12, tzinfo=dt.timezone.utc)
        with app.app_context():
            dataset = db.session.execute(select(Dataset)).scalar_one()
            event = runs.register_dataset_event(dataset, extra={"k": "v"}, now=when)
            run = db.session.execute(select(DagRun)).scalar_one()
            run.consumed_dataset_events.append(event)
            db.session.commit()
            event_id, dataset_id = event.id, dataset.id
        response = client.get(f"{API}/dags/consumer/dagRuns/c1/upstreamDatasetEvents", headers=ADMIN)
        assert response.json == {
            "dataset_events": [
                {
                    "created_dagruns": [
                        {
                            "dag_id": "consumer", "dag_run_id": "c1", "data_interval_end": JAN[1].isoformat(),
                            "data_interval_start": JAN[1].isoformat(), "end_date": None,
                            "logical_date": JAN[1].isoformat(), "start_date": None, "state": "queued",
                        }
                    ],
                    "dataset_id": dataset_id, "dataset_uri": "s3://b/k", "extra": {"k": "v"}, "id": event_id,
                    "source_dag_id": None, "source_map_index": -1, "source_run_id": None, "source_task_id": None,
                    "timestamp": when.isoformat(),
                }
            ],
            "total_entries": 1,
        }

    def test_missing_run_is_404(self, client, three_runs):
        response = client.get(f"{API}/dags/pipeline/dagRuns/nope/upstreamDatasetEvents", headers=ADMIN)
        assert response.json == problem(
            404, "DAGRun not found", "DAGRun with DAG ID: 'pipeline' and DagRun ID: 'nope' not found",
            f"{API}/dags/pipeline/dagRuns/nope/upstreamDatasetEvents",
        )
        assert client.get(f"{API}/dags/pipeline/dagRuns/run1/upstreamDatasetEvents", headers=ADMIN).json == {
            "dataset_events": [], "total_entries": 0,
        }

    def test_needs_dataset_read(self, app, client, three_runs):
        headers = user_with(app, "runs_only", [("can_read", "DAGs"), ("can_read", "DAG Runs")])
        response = client.get(f"{API}/dags/pipeline/dagRuns/run1/upstreamDatasetEvents", headers=headers)
        assert response.status_code == 403


OPERATIONS = [
    ("get", "/dags/pipeline/dagRuns", None),
    ("post", "/dags/pipeline/dagRuns", {}),
    ("post", "/dags/~/dagRuns/list", {}),
    ("get", "/dags/pipeline/dagRuns/run1", None),
    ("patch", "/dags/pipeline/dagRuns/run1", {"state": "failed"}),
    ("delete", "/dags/pipeline/dagRuns/run1", None),
    ("post", "/dags/pipeline/dagRuns/run1/clear", {}),
    ("patch", "/dags/pipeline/dagRuns/run1/setNote", {"note": "x"}),
    ("get", "/dags/pipeline/dagRuns/run1/upstreamDatasetEvents", None),
]


@pytest.mark.parametrize(("method", "path", "body"), OPERATIONS)
def test_without_credentials_is_401(client, three_runs, method, path, body):
    response = client.open(API + path, method=method.upper(), json=body)
    assert response.status_code == 401


@pytest.mark.parametrize(("method", "path", "body"), OPERATIONS)
def test_without_permission_is_403(client, three_runs, method, path, body):
    response = client.open(API + path, method=method.upper(), json=body, headers=basic_auth("test_no_permissions"))
    assert response.json == problem(403, "Forbidden", None, API + path)
