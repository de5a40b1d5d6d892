"""/dags, /dags/{dag_id} and /dags/{dag_id}/details."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import DagCode, DagModel, DagRun, DagTag, EventLog, SerializedDag, TaskInstance, XCom
from tests.conftest import basic_auth, count_queries
from tests.dags.helpers import dag_folder, file_token, problem, user_with  # noqa: F401

UTC = dt.timezone.utc
ALPHA = """\
dag_id: alpha
description: First
schedule: "@daily"
start_date: 2024-01-01
end_date: 2024-02-01
tags: [b, a]
owners: [ann, bob]
max_active_runs: 2
dagrun_timeout: PT1H
doc_md: Alpha docs
params: {n: {default: 1, type: integer, description: How many}}
tasks: [{task_id: t}]
"""
BETA = """\
dag_id: beta
tags: [b]
is_paused_upon_creation: false
tasks: [{task_id: t, owner: carol}]
"""
ALPHA_BETA = {"alpha": ALPHA, "beta": BETA}


def stored(app, dag_id: str) -> DagModel:
    with app.app_context():
        return db.session.get(DagModel, dag_id)


def dag_json(app, dag_id: str, **changes) -> dict:
    """The expected DAG body, read from what the processor stored."""
    row = stored(app, dag_id)
    body = {
        "dag_id": dag_id,
        "dag_display_name": dag_id,
        "root_dag_id": None,
        "is_paused": row.is_paused,
        "is_active": row.is_active,
        "is_subdag": False,
        "last_parsed_time": row.last_parsed_time.isoformat(),
        "last_pickled": None,
        "last_expired": None,
        "scheduler_lock": None,
        "pickle_id": None,
        "default_view": "grid",
        "fileloc": row.fileloc,
        "file_token": file_token(row.fileloc),
        "has_task_concurrency_limits": False,
        "has_import_errors": False,
        "max_active_tasks": 16,
        "max_consecutive_failed_dag_runs": 0,
    }
    if dag_id == "alpha":
        body.update(
            owners=["ann", "bob"], description="First", tags=[{"name": "a"}, {"name": "b"}], max_active_runs=2,
            schedule_interval={"__type": "CronExpression", "value": "@daily"}, timetable_description="At 00:00",
            next_dagrun="2024-01-01T00:00:00+00:00", next_dagrun_data_interval_start="2024-01-01T00:00:00+00:00",
            next_dagrun_data_interval_end="2024-01-02T00:00:00+00:00",
            next_dagrun_create_after="2024-01-02T00:00:00+00:00",
        )
    else:
        body.update(
            owners=["carol"], description=None, tags=[{"name": "b"}], max_active_runs=16, schedule_interval=None,
            timetable_description="Never, external triggers only", next_dagrun=None,
            next_dagrun_data_interval_start=None, next_dagrun_data_interval_end=None, next_dagrun_create_after=None,
        )
    body.update(changes)
    return body


@pytest.fixture
def two_dags(dag_folder):  # noqa: F811
    dag_folder.process(**ALPHA_BETA)
    return dag_folder


def reader_of(app, *dag_ids: str, edit: bool = False) -> dict:
    """A user who may read (and edit) only the given DAGs."""
    perms = [("can_read", f"DAG:{d}") for d in dag_ids]
    if edit:
        perms += [("can_edit", f"DAG:{d}") for d in dag_ids]
    perms += [("can_read", "Task Instances"), ("can_read", "DAG Code"), ("can_read", "DAG Warnings"),
              ("can_read", "ImportError"), ("can_read", "DAG Runs")]
    name = "dagrights_" + "_".join(dag_ids) + ("_edit" if edit else "")
    return user_with(app, name, perms)


def last_event(app) -> tuple:
    with app.app_context():
        entry = db.session.execute(select(EventLog).order_by(EventLog.id.desc())).scalars().first()
        return entry.event, entry.dag_id, entry.owner


# -- GET /dags -------------------------------------------------------------------------------
class TestGetDags:
    def test_lists_every_field(self, app, client, admin_headers, two_dags):
        response = client.get("/api/v1/dags", headers=admin_headers)
        assert response.status_code == 200
        assert response.json == {
            "dags": [dag_json(app, "alpha", is_paused=True), dag_json(app, "beta", is_paused=False)],
            "total_entries": 2,
        }

    @pytest.mark.parametrize(
        ("query", "ids", "total"),
        [
            ("", ["alpha", "beta"], 2),
            ("?tags=a", ["alpha"], 1),
            ("?tags=a&tags=b", ["alpha", "beta"], 2),
            ("?tags=a,zzz", ["alpha"], 1),
            ("?paused=true", ["alpha"], 1),
            ("?paused=false", ["beta"], 1),
            ("?dag_id_pattern=ALP", ["alpha"], 1),
            ("?dag_id_pattern=b_ta", ["beta"], 1),
            ("?dag_id_pattern=nothing", [], 0),
            ("?order_by=-dag_id", ["beta", "alpha"], 2),
            ("?limit=1", ["alpha"], 2),
            ("?limit=1&offset=1", ["beta"], 2),
            ("?only_active=false", ["alpha", "beta", "gone"], 3),
        ],
    )
    def test_filters_and_paging(self, app, client, admin_headers, two_dags, query, ids, total):
        with app.app_context():
            db.session.add(DagModel(dag_id="gone", is_active=False, fileloc="/nowhere.yaml"))
            db.session.commit()
        response = client.get(f"/api/v1/dags{query}", headers=admin_headers)
        assert response.status_code == 200
        assert [d["dag_id"] for d in response.json["dags"]] == ids
        assert response.json["total_entries"] == total

    def test_fields_keep_total_entries(self, app, client, admin_headers, two_dags):
        response = client.get("/api/v1/dags?fields=dag_id,is_paused&fields=tags", headers=admin_headers)
        assert response.json == {
            "dags": [
                {"dag_id": "alpha", "is_paused": True, "tags": [{"name": "a"}, {"name": "b"}]},
                {"dag_id": "beta", "is_paused": False, "tags": [{"name": "b"}]},
            ],
            "total_entries": 2,
        }

    def test_unknown_field_is_400(self, client, admin_headers, two_dags):
        response = client.get("/api/v1/dags?fields=dag_id,bogus", headers=admin_headers)
        assert response.status_code == 400
        assert response.json == problem(
            400, "DAGCollectionSchema error", "Invalid fields for <DAGSchema(many=False)>: OrderedSet(['bogus']).",
            "/api/v1/dags",
        )

    def test_order_by_only_dag_id(self, client, admin_headers, two_dags):
        response = client.get("/api/v1/dags?order_by=description", headers=admin_headers)
        assert response.json == problem(
            400, "Bad Request",
            "Ordering with 'description' is disallowed or the attribute does not exist on the model", "/api/v1/dags",
        )

    def test_dag_level_readers_see_their_dags_only(self, app, client, two_dags):
        response = client.get("/api/v1/dags", headers=reader_of(app, "beta"))
        assert response.status_code == 200
        assert [d["dag_id"] for d in response.json["dags"]] == ["beta"]
        assert response.json["total_entries"] == 1

    def test_a_user_reading_no_dag_is_403(self, app, client, two_dags):
        headers = user_with(app, "no_dags", [("can_read", "Task Instances")])
        response = client.get("/api/v1/dags", headers=headers)
        assert response.json == problem(403, "Forbidden", None, "/api/v1/dags")

    def test_constant_queries_whatever_the_page(self, app, client, admin_headers):
        counts = []
        for size in (5, 80):
            with app.app_context():
                existing = db.session.execute(select(func.count()).select_from(DagModel)).scalar()
                for n in range(existing, size):
                    db.session.add(DagModel(dag_id=f"d{n:03d}", fileloc=f"/f{n}.yaml", owners="a,b",
                                            tags=[DagTag(name="x"), DagTag(name=f"t{n}")]))
                db.session.commit()
            client.get("/api/v1/dags", headers=admin_headers)  # warm caches
            with count_queries(app) as counter:
                response = client.get("/api/v1/dags?limit=100", headers=admin_headers)
            assert len(response.json["dags"]) == size
            counts.append(counter.count)
        assert counts[0] == counts[1]


# -- PATCH /dags -----------------------------------------------------------------------------
class TestPatchDags:
    def test_unpauses_every_matching_dag(self, app, client, admin_headers, two_dags):
        response = client.patch(
            "/api/v1/dags?dag_id_pattern=~&update_mask=is_paused", json={"is_paused": False}, headers=admin_headers
        )
        assert response.status_code == 200
        assert response.json == {
            "dags": [dag_json(app, "alpha", is_paused=False), dag_json(app, "beta", is_paused=False)],
            "total_entries": 2,
        }
        assert stored(app, "alpha").is_paused is False
        assert last_event(app) == ("api.patch_dags", None, "admin")

    def test_pattern_tags_and_paging(self, app, client, admin_headers, two_dags):
        response = client.patch("/api/v1/dags?dag_id_pattern=a&limit=1", json={"is_paused": True}, headers=admin_headers)
        assert [d["dag_id"] for d in response.json["dags"]] == ["alpha"]
        assert response.json["total_entries"] == 2
        assert (stored(app, "alpha").is_paused, stored(app, "beta").is_paused) == (True, False)
        response = client.patch("/api/v1/dags?dag_id_pattern=~&tags=b", json={"is_paused": True}, headers=admin_headers)
        assert response.json["total_entries"] == 2
        assert stored(app, "beta").is_paused is True

    def test_only_the_dags_the_caller_may_edit(self, app, client, two_dags):
        response = client.patch(
            "/api/v1/dags?dag_id_pattern=~", json={"is_paused": False}, headers=reader_of(app, "alpha", edit=True)
        )
        assert [d["dag_id"] for d in response.json["dags"]] == ["alpha"]
        assert stored(app, "alpha").is_paused is False

    @pytest.mark.parametrize(
        ("query", "body", "detail"),
        [
            ("", {"is_paused": True}, "Missing query parameter 'dag_id_pattern'"),
            ("?dag_id_pattern=~&update_mask=description", {"is_paused": True},
             "Only `is_paused` field can be updated through the REST API"),
            ("?dag_id_pattern=~", {"is_paused": True, "bogus": 1}, "{'bogus': ['Unknown field.']}"),
            ("?dag_id_pattern=~", {"dag_id": "x"}, "Property is read-only - 'dag_id'"),
        ],
    )
    def test_bad_requests(self, app, client, admin_headers, two_dags, query, body, detail):
        response = client.patch(f"/api/v1/dags{query}", json=body, headers=admin_headers)
        assert response.status_code == 400
        assert response.json["detail"] == detail
        assert stored(app, "beta").is_paused is False


# -- GET /dags/{dag_id} ----------------------------------------------------------------------
class TestGetDag:
    def test_shows_the_dag(self, app, client, admin_headers, two_dags):
        response = client.get("/api/v1/dags/alpha", headers=admin_headers)
        assert response.status_code == 200
        assert response.json == dag_json(app, "alpha")

    def test_fields(self, client, admin_headers, two_dags):
        response = client.get("/api/v1/dags/beta?fields=owners,dag_id", headers=admin_headers)
        assert response.json == {"owners": ["carol"], "dag_id": "beta"}
        response = client.get("/api/v1/dags/beta?fields=nope", headers=admin_headers)
        assert response.json == problem(
            400, "DAGSchema init error", "Invalid fields for <DAGSchema(many=False)>: OrderedSet(['nope']).",
            "/api/v1/dags/beta",
        )

    def test_not_found(self, client, admin_headers):
        response = client.get("/api/v1/dags/nope", headers=admin_headers)
        assert response.json == problem(404, "DAG not found", "The DAG with dag_id: nope was not found", "/api/v1/dags/nope")

    def test_dag_level_permission(self, app, client, two_dags):
        headers = reader_of(app, "beta")
        assert client.get("/api/v1/dags/beta", headers=headers).status_code == 200
        assert client.get("/api/v1/dags/alpha", headers=headers).json == problem(403, "Forbidden", None, "/api/v1/dags/alpha")


class TestGetDagDetails:
    def test_shows_the_details(self, app, client, admin_headers, two_dags):
        response = client.get("/api/v1/dags/alpha/details", headers=admin_headers)
        assert response.status_code == 200
        row = stored(app, "alpha")
        assert response.json == dag_json(
            app, "alpha",
            timezone="UTC", catchup=True, orientation="LR", concurrency=16, dataset_expression=None,
            start_date="2024-01-01T00:00:00+00:00", end_date="2024-02-01T00:00:00+00:00",
            dag_run_timeout={"__type": "TimeDelta", "days": 0, "seconds": 3600, "microseconds": 0},
            doc_md="Alpha docs",
            params={"n": {"__class": "airflow.models.param.Param", "value": 1, "description": "How many",
                          "schema": {"type": "integer"}}},
            is_paused_upon_creation=None, template_searchpath=None, render_template_as_native_obj=False,
            last_parsed=row.last_parsed_time.isoformat(),
        )

    def test_fields_and_errors(self, client, admin_headers, two_dags):
        response = client.get("/api/v1/dags/beta/details?fields=catchup,is_paused_upon_creation", headers=admin_headers)
        assert response.json == {"catchup": True, "is_paused_upon_creation": False}
        response = client.get("/api/v1/dags/beta/details?fields=nope", headers=admin_headers)
        assert response.json == problem(
            400, "DAGDetailSchema init error",
            "Invalid fields for <DAGDetailSchema(many=False)>: OrderedSet(['nope']).", "/api/v1/dags/beta/details",
        )
        response = client.get("/api/v1/dags/nope/details", headers=admin_headers)
        assert response.json == problem(
            404, "DAG not found", "The DAG with dag_id: nope was not found", "/api/v1/dags/nope/details"
        )


# -- PATCH /dags/{dag_id} --------------------------------------------------------------------
class TestPatchDag:
    def test_pauses_and_logs(self, app, client, admin_headers, two_dags):
        response = client.patch("/api/v1/dags/beta?update_mask=is_paused", json={"is_paused": True}, headers=admin_headers)
        assert response.status_code == 200
        assert response.json == dag_json(app, "beta", is_paused=True)
        assert stored(app, "beta").is_paused is True
        assert last_event(app) == ("api.patch_dag", "beta", "admin")

    @pytest.mark.parametrize(
        ("query", "body", "detail"),
        [
            ("?update_mask=tags", {"is_paused": True}, "Only `is_paused` field can be updated through the REST API"),
            ("", {"is_paused": True, "nope": 1}, "{'nope': ['Unknown field.']}"),
            ("", {}, "{'is_paused': ['Missing data for required field.']}"),
            ("", {"is_active": True}, "Property is read-only - 'is_active'"),
            ("", {"description": None}, "Property is read-only - 'description'"),
        ],
    )
    def test_bad_requests(self, app, client, admin_headers, two_dags, query, body, detail):
        response = client.patch(f"/api/v1/dags/beta{query}", json=body, headers=admin_headers)
        assert response.status_code == 400
        assert response.json["detail"] == detail
        assert stored(app, "beta").is_paused is False

    def test_missing_is_paused_is_400(self, client, admin_headers, two_dags):
        response = client.patch("/api/v1/dags/beta", json={"is_paused": None}, headers=admin_headers)
        assert response.json == problem(400, "Bad Request", "{'is_paused': ['Field may not be null.']}", "/api/v1/dags/beta")

    def test_not_found(self, client, admin_headers):
        response = client.patch("/api/v1/dags/nope", json={"is_paused": True}, headers=admin_headers)
        assert response.json == problem(404, "Dag with id: 'nope' not found", None, "/api/v1/dags/nope")

    def test_readers_cannot_edit(self, app, client, two_dags):
        response = client.patch("/api/v1/dags/beta", json={"is_paused": True}, headers=reader_of(app, "beta"))
        assert response.status_code == 403
        assert stored(app, "beta").is_paused is False


# -- DELETE /dags/{dag_id} -------------------------------------------------------------------
def add_run(app, dag_id: str, state: str = "success", ti_state: str = "success") -> None:
    with app.app_context():
        day = dt.datetime(2024, 1, 1, tzinfo=UTC)
        db.session.add(DagRun(dag_id=dag_id, run_id="r1", execution_date=day, run_type="manual", state=state))
        db.session.flush()
        db.session.add(TaskInstance(dag_id=dag_id, run_id="r1", task_id="t", state=ti_state))
        db.session.add(XCom(dag_id=dag_id, run_id="r1", task_id="t", key="k", value="1"))
        db.session.commit()


class TestDeleteDag:
    def test_deletes_metadata_and_runs(self, app, client, admin_headers, two_dags):
        add_run(app, "alpha")
        response = client.delete("/api/v1/dags/alpha", headers=admin_headers)
        assert response.status_code == 204
        assert response.data == b""
        with app.app_context():
            for model in (DagModel, DagRun, TaskInstance, XCom, SerializedDag, DagTag):
                assert db.session.execute(select(model).where(model.dag_id == "alpha")).first() is None
            assert db.session.get(DagModel, "beta") is not None
            # The audit log is kept, and the file is parsed again on the next pass.
            assert db.session.execute(select(EventLog).where(EventLog.event == "api.delete_dag")).scalar().dag_id == "alpha"
            assert db.session.get(DagCode, stored_fileloc(two_dags, "alpha")).source_hash is None
        two_dags.process()
        assert stored(app, "alpha").is_active is True

    def test_running_tasks_are_409(self, app, client, admin_headers, two_dags):
        add_run(app, "alpha", state="running", ti_state="running")
        response = client.delete("/api/v1/dags/alpha", headers=admin_headers)
        assert response.json == problem(
            409, "Conflict", "Task instances of dag with id: 'alpha' are still running", "/api/v1/dags/alpha"
        )
        assert stored(app, "alpha") is not None

    def test_not_found(self, client, admin_headers):
        response = client.delete("/api/v1/dags/nope", headers=admin_headers)
        assert response.json == problem(404, "Dag with id: 'nope' not found", None, "/api/v1/dags/nope")

    def test_viewer_cannot_delete(self, app, client, two_dags):
        assert client.delete("/api/v1/dags/alpha", headers=basic_auth("viewer")).status_code == 403
        assert stored(app, "alpha") is not None


def stored_fileloc(folder, dag_id: str) -> str:
    return str((folder.path / f"{dag_id}.yaml").resolve())


OPERATIONS = [
    ("get", "/api/v1/dags", None),
    ("patch", "/api/v1/dags?dag_id_pattern=~", {"is_paused": True}),
    ("get", "/api/v1/dags/alpha", None),
    ("get", "/api/v1/dags/alpha/details", None),
    ("patch", "/api/v1/dags/alpha", {"is_paused": False}),
    ("delete", "/api/v1/dags/alpha", None),
]


@pytest.mark.parametrize(("method", "url", "body"), OPERATIONS)
def test_no_credentials_is_401(client, method, url, body):
    response = client.open(url, method=method.upper(), json=body)
    assert response.status_code == 401
    assert response.json["title"] == "Unauthorized"


@pytest.mark.parametrize(("method", "url", "body"), OPERATIONS)
def test_without_permission_is_403(app, client, two_dags, method, url, body):
    response = client.open(url, method=method.upper(), json=body, headers=basic_auth("test_no_permissions"))
    assert response.status_code == 403
    assert response.json["title"] == "Forbidden"
    assert stored(app, "alpha").is_paused is True


@pytest.mark.parametrize(
    ("schedule", "wire", "description"),
    [
        ("'@once'", {"__type": "CronExpression", "value": "@once"}, "Once, as soon as possible"),
        ("PT90M", {"__type": "TimeDelta", "days": 0, "seconds": 5400, "microseconds": 0}, ""),
        (
            "P1M",
            {"__type": "RelativeDelta", "years": 0, "months": 1, "days": 0, "leapdays": 0, "hours": 0, "minutes": 0,
             "seconds": 0, "microseconds": 0, "year": None, "month": None, "day": None, "hour": None, "minute": None,
             "second": None, "microsecond": None},
            "",
        ),
        ("{datasets: ['s3://x']}", {"__type": "CronExpression", "value": "Dataset"}, "Triggered by datasets"),
    ],
)
def test_schedule_wire_forms(client, admin_headers, dag_folder, schedule, wire, description):  # noqa: F811
    dag_folder.process(s=f"dag_id: s\nschedule: {schedule}\n")
    response = client.get("/api/v1/dags/s?fields=schedule_interval,timetable_description", headers=admin_headers)
    assert response.status_code == 200
    assert response.json == {"schedule_interval": wire, "timetable_description": description}
