"""Dataset events (list, create) and queued events per DAG and per dataset."""
# Fixtures come from tests.runs.helpers; test parameters of the same name use them.
# ruff: noqa: F811
from __future__ import annotations

import datetime as dt
from urllib.parse import quote, unquote

import pytest
from sqlalchemy import select

from app import runs
from app.extensions import db
from app.models import DagModel, DagRun, Dataset, DatasetDagRunQueue, DatasetEvent, EventLog
from tests.conftest import basic_auth, make_app
from tests.runs.helpers import JAN, dag_folder, get_ti, problem, queries, trigger, user_with  # noqa: F401

API = "/api/v1"
ADMIN = basic_auth("admin")
UTC = dt.timezone.utc
FILES = {
    "producer": "dag_id: producer\ntasks: [{task_id: p, outlets: ['s3://b/one', 's3://b/two']}]\n",
    "consumer": "dag_id: consumer\nschedule: {datasets: ['s3://b/one']}\ntasks: [{task_id: c}]\n",
    "both": "dag_id: both\nschedule: {datasets: ['s3://b/one', 's3://b/two']}\ntasks: [{task_id: c}]\n",
}
ONE, TWO = quote("s3://b/one", safe=""), quote("s3://b/two", safe="")


@pytest.fixture
def datasets(app, dag_folder):
    dag_folder.process(**FILES)
    with app.app_context():
        for dag in db.session.execute(select(DagModel)).scalars():
            dag.is_paused = False
        db.session.commit()
        ids = {uri: id_ for uri, id_ in db.session.execute(select(Dataset.uri, Dataset.id))}
    return ids


def event_json(event_id: int, dataset_id: int, uri: str, when: dt.datetime, extra=None, **source) -> dict:
    return {
        "created_dagruns": [], "dataset_id": dataset_id, "dataset_uri": uri, "extra": extra or {}, "id": event_id,
        "source_dag_id": source.get("dag_id"), "source_map_index": source.get("map_index", -1),
        "source_run_id": source.get("run_id"), "source_task_id": source.get("task_id"), "timestamp": when.isoformat(),
    }


@pytest.fixture
def events(app, datasets):
    """Two outlet events of the producer's task, then one from outside."""
    trigger(app, "producer", "p1", JAN[0])
    with app.app_context():
        ti = get_ti("producer", "p1", "p")
        runs.register_outlet_events(ti, ["s3://b/one", "s3://b/two"], now=JAN[1])
        db.session.add(runs.register_dataset_event(db.session.get(Dataset, datasets["s3://b/one"]), now=JAN[2]))
        db.session.commit()
    source = {"dag_id": "producer", "task_id": "p", "run_id": "p1", "map_index": -1}
    return [
        event_json(1, datasets["s3://b/one"], "s3://b/one", JAN[1], **source),
        event_json(2, datasets["s3://b/two"], "s3://b/two", JAN[1], **source),
        event_json(3, datasets["s3://b/one"], "s3://b/one", JAN[2]),
    ]


class TestGetDatasetEvents:
    def test_lists_events_by_timestamp(self, client, events):
        response = client.get(f"{API}/datasets/events", headers=ADMIN)
        assert response.json == {"dataset_events": events, "total_entries": 3}

    @pytest.mark.parametrize(
        ("query", "ids"),
        [
            ("source_dag_id=producer", [1, 2]),
            ("source_task_id=p&source_run_id=p1", [1, 2]),
            ("source_map_index=-1", [1, 2, 3]),
            ("source_map_index=0", []),
            ("order_by=-timestamp", [3, 2, 1]),
            ("order_by=-source_task_id&source_dag_id=producer&limit=1", [2]),
            ("offset=2", [3]),
        ],
    )
    def test_filters_and_orders(self, client, events, query, ids):
        response = client.get(f"{API}/datasets/events?{query}", headers=ADMIN)
        assert [e["id"] for e in response.json["dataset_events"]] == ids

    def test_filters_by_dataset(self, client, datasets, events):
        response = client.get(f"{API}/datasets/events?dataset_id={datasets['s3://b/two']}", headers=ADMIN)
        assert response.json == {"dataset_events": [events[1]], "total_entries": 1}

    def test_limit_is_clamped(self, events):
        client = make_app(api={"maximum_page_limit": 2}).test_client()
        response = client.get(f"{API}/datasets/events?limit=10", headers=ADMIN)
        assert (len(response.json["dataset_events"]), response.json["total_entries"]) == (2, 3)

    def test_unknown_order_by_is_400(self, client, events):
        response = client.get(f"{API}/datasets/events?order_by=extra", headers=ADMIN)
        assert response.json == problem(
            400, "Bad Request", "Ordering with 'extra' is disallowed or the attribute does not exist on the model",
            f"{API}/datasets/events",
        )

    def test_query_count_does_not_grow_with_the_page(self, app, client, datasets):
        def send():
            assert client.get(f"{API}/datasets/events", headers=ADMIN).status_code == 200

        def add(count):
            with app.app_context():
                dataset = db.session.get(Dataset, datasets["s3://b/one"])
                for _ in range(count):
                    runs.register_dataset_event(dataset)
                db.session.commit()

        add(1)
        small = queries(app, send)
        add(30)
        assert queries(app, send) == small <= 7  # auth 4, count, page, created runs


class TestCreateDatasetEvent:
    def test_records_the_event_and_queues_the_dags_scheduled_on_it(self, app, client, datasets):
        before = dt.datetime.now(UTC)
        body = {"dataset_uri": "s3://b/one", "extra": {"password": "s3cret", "n": 1}}
        response = client.post(f"{API}/datasets/events", json=body, headers=ADMIN)
        assert response.status_code == 200
        created = response.json
        when = dt.datetime.fromisoformat(created["timestamp"])
        assert created == event_json(
            created["id"], datasets["s3://b/one"], "s3://b/one", when,
            extra={"password": "s3cret", "n": 1, "from_rest_api": True},
        )
        assert when >= before
        with app.app_context():
            queued = db.session.execute(select(DatasetDagRunQueue.target_dag_id).order_by(DatasetDagRunQueue.target_dag_id))
            assert queued.scalars().all() == ["both", "consumer"]
            entry = db.session.execute(select(EventLog).order_by(EventLog.id.desc())).scalars().first()
        assert (entry.event, entry.extra) == (
            "api.create_dataset_event", '{"dataset_uri": "s3://b/one", "extra": {"n": 1, "password": "***"}}'
        )

    @pytest.mark.parametrize(
        ("body", "status", "title", "detail"),
        [
            ({"dataset_uri": "s3://nope"}, 404, "Dataset not found", "Dataset with uri: 's3://nope' not found"),
            ({"extra": {}}, 400, "Bad Request", "'dataset_uri' is a required property"),
            ({"dataset_uri": "s3://b/one", "x": 1}, 400, "Bad Request", "{'x': ['Unknown field.']}"),
        ],
    )
    def test_errors(self, client, datasets, body, status, title, detail):
        response = client.post(f"{API}/datasets/events", json=body, headers=ADMIN)
        assert response.json == problem(status, title, detail, f"{API}/datasets/events")

    def test_needs_dataset_create(self, client, datasets):
        body = {"dataset_uri": "s3://b/one"}
        assert client.post(f"{API}/datasets/events", json=body, headers=basic_auth("viewer")).status_code == 403
        assert client.post(f"{API}/datasets/events", json=body, headers=basic_auth("user")).status_code == 200


@pytest.fixture
def queued(app, datasets):
    with app.app_context():
        for uri, dag_id, when in (("s3://b/one", "consumer", JAN[1]), ("s3://b/one", "both", JAN[2]),
                                  ("s3://b/two", "both", JAN[3])):
            db.session.add(DatasetDagRunQueue(dataset_id=datasets[uri], target_dag_id=dag_id, created_at=when))
        db.session.commit()


def queued_json(uri: str, dag_id: str, when: dt.datetime) -> dict:
    return {"created_at": when.isoformat(), "dag_id": dag_id, "uri": uri}


def remaining(app) -> list:
    with app.app_context():
        rows = db.session.execute(select(DatasetDagRunQueue.target_dag_id, Dataset.uri).join(
            Dataset, Dataset.id == DatasetDagRunQueue.dataset_id).order_by(DatasetDagRunQueue.created_at))
        return [tuple(row) for row in rows]


class TestQueuedEventsOfADag:
    def test_lists_and_reads_a_dags_queued_events(self, client, queued):
        response = client.get(f"{API}/dags/both/datasets/queuedEvent", headers=ADMIN)
        assert response.json == {
            "queued_events": [queued_json("s3://b/one", "both", JAN[2]), queued_json("s3://b/two", "both", JAN[3])],
            "total_entries": 2,
        }
        response = client.get(f"{API}/dags/both/datasets/queuedEvent?before=2024-01-04T00:00:00Z", headers=ADMIN)
        assert response.json["total_entries"] == 1
        response = client.get(f"{API}/dags/both/datasets/queuedEvent/{TWO}", headers=ADMIN)
        assert response.json == queued_json("s3://b/two", "both", JAN[3])

    def test_missing_is_404(self, client, queued):
        url = f"{API}/dags/producer/datasets/queuedEvent"
        assert client.get(url, headers=ADMIN).json == problem(
            404, "Queue event not found", "Queue event with dag_id: `producer` was not found", url
        )
        url = f"{API}/dags/consumer/datasets/queuedEvent/{TWO}"
        assert client.get(url, headers=ADMIN).json == problem(
            404, "Queue event not found", "Queue event with dag_id: `consumer` and dataset uri: `s3://b/two` was not found",
            unquote(url),
        )
        url = f"{API}/dags/both/datasets/queuedEvent/{TWO}?before=2024-01-04T00:00:00Z"
        assert client.get(url, headers=ADMIN).status_code == 404

    def test_deletes_one_or_all(self, app, client, queued):
        response = client.delete(f"{API}/dags/both/datasets/queuedEvent/{ONE}", headers=ADMIN)
        assert (response.status_code, response.data) == (204, b"")
        assert remaining(app) == [("consumer", "s3://b/one"), ("both", "s3://b/two")]
        url = f"{API}/dags/both/datasets/queuedEvent/{ONE}"
        assert client.delete(url, headers=ADMIN).json == problem(
            404, "Queue event not found", "Queue event with dag_id: `both` and dataset uri: `s3://b/one` was not found",
            unquote(url),
        )
        assert client.delete(f"{API}/dags/both/datasets/queuedEvent?before=2024-01-03T00:00:00Z",
                             headers=ADMIN).status_code == 404
        assert client.delete(f"{API}/dags/both/datasets/queuedEvent", headers=ADMIN).status_code == 204
        assert remaining(app) == [("consumer", "s3://b/one")]
        with app.app_context():
            assert db.session.execute(select(EventLog.event).order_by(EventLog.id.desc())).scalars().first() == (
                "api.delete_dag_dataset_queued_events"
            )

    def test_dag_level_access(self, app, client, queued):
        headers = user_with(app, "consumer_only", [
            ("can_read", "DAG:consumer"), ("can_read", "Datasets"), ("can_delete", "Datasets"),
        ])
        assert client.get(f"{API}/dags/consumer/datasets/queuedEvent", headers=headers).status_code == 200
        assert client.get(f"{API}/dags/both/datasets/queuedEvent", headers=headers).status_code == 403
        assert client.delete(f"{API}/dags/both/datasets/queuedEvent", headers=headers).status_code == 403
        viewer = basic_auth("viewer")
        assert client.delete(f"{API}/dags/consumer/datasets/queuedEvent", headers=viewer).status_code == 403


class TestQueuedEventsOfADataset:
    def test_lists_the_readable_dags_waiting_for_a_dataset(self, app, client, queued):
        response = client.get(f"{API}/datasets/queuedEvent/{ONE}", headers=ADMIN)
        assert response.json == {
            "queued_events": [queued_json("s3://b/one", "consumer", JAN[1]), queued_json("s3://b/one", "both", JAN[2])],
            "total_entries": 2,
        }
        headers = user_with(app, "both_reader", [("can_read", "DAG:both"), ("can_read", "Datasets")])
        response = client.get(f"{API}/datasets/queuedEvent/{ONE}", headers=headers)
        assert response.json == {"queued_events": [queued_json("s3://b/one", "both", JAN[2])], "total_entries": 1}
        response = client.get(f"{API}/datasets/queuedEvent/{ONE}?before=2024-01-02T00:00:00Z", headers=headers)
        assert response.status_code == 404

    def test_deletes_for_the_readable_dags(self, app, client, queued):
        headers = user_with(app, "both_deleter", [
            ("can_read", "DAG:both"), ("can_read", "Datasets"), ("can_delete", "Datasets"),
        ])
        assert client.delete(f"{API}/datasets/queuedEvent/{ONE}", headers=headers).status_code == 204
        assert remaining(app) == [("consumer", "s3://b/one"), ("both", "s3://b/two")]
        url = f"{API}/datasets/queuedEvent/{quote('s3://nope', safe='')}"
        assert client.delete(url, headers=ADMIN).json == problem(
            404, "Queue event not found", "Queue event with dataset uri: `s3://nope` was not found", unquote(url)
        )


class TestDatasetTriggeredRuns:
    def test_upstream_events_of_a_dataset_triggered_run(self, app, client, events):
        with app.app_context():
            run = runs.trigger_dag_run("consumer", run_id="c1", logical_date=JAN[3], run_type="dataset_triggered",
                                       external_trigger=False)
            run.consumed_dataset_events.extend(
                db.session.execute(select(DatasetEvent).where(DatasetEvent.id != 2)).scalars()
            )
            db.session.commit()
        response = client.get(f"{API}/datasets/events?order_by=timestamp", headers=ADMIN)
        created = [{
            "dag_id": "consumer", "dag_run_id": "c1", "data_interval_end": JAN[3].isoformat(),
            "data_interval_start": JAN[3].isoformat(), "end_date": None, "logical_date": JAN[3].isoformat(),
            "start_date": None, "state": "queued",
        }]
        assert response.json["dataset_events"] == [
            {**events[0], "created_dagruns": created}, events[1], {**events[2], "created_dagruns": created}
        ]
        with app.app_context():
            assert db.session.execute(select(DagRun.run_type)).scalars().all() == ["manual", "dataset_triggered"]


OPERATIONS = [
    ("get", "/datasets/events", None),
    ("post", "/datasets/events", {"dataset_uri": "s3://b/one"}),
    ("get", f"/dags/both/datasets/queuedEvent/{ONE}", None),
    ("delete", f"/dags/both/datasets/queuedEvent/{ONE}", None),
    ("get", "/dags/both/datasets/queuedEvent", None),
    ("delete", "/dags/both/datasets/queuedEvent", None),
    ("get", f"/datasets/queuedEvent/{ONE}", None),
    ("delete", f"/datasets/queuedEvent/{ONE}", None),
]


@pytest.mark.parametrize(("method", "path", "body"), OPERATIONS)
def test_without_credentials_is_401(client, queued, method, path, body):
    assert client.open(API + path, method=method.upper(), json=body).status_code == 401


@pytest.mark.parametrize(("method", "path", "body"), OPERATIONS)
def test_without_permission_is_403(client, queued, method, path, body):
    response = client.open(API + path, method=method.upper(), json=body, headers=basic_auth("test_no_permissions"))
    assert response.json == problem(403, "Forbidden", None, unquote(API + path))


def test_queued_event_lists_run_constant_queries(app, client, datasets):
    def add(dag_ids):
        with app.app_context():
            for dag_id in dag_ids:
                db.session.add(DagModel(dag_id=dag_id, is_paused=False, is_active=True))
                db.session.add(DatasetDagRunQueue(dataset_id=datasets["s3://b/one"], target_dag_id=dag_id))
            db.session.commit()

    by_dataset = f"{API}/datasets/queuedEvent/{ONE}"
    by_dag = f"{API}/dags/q0/datasets/queuedEvent"
    add(["q0"])
    small = [queries(app, lambda url=url: client.get(url, headers=ADMIN)) for url in (by_dataset, by_dag)]
    add([f"q{n}" for n in range(1, 25)])
    assert [queries(app, lambda url=url: client.get(url, headers=ADMIN)) for url in (by_dataset, by_dag)] == small
    assert client.get(by_dataset, headers=ADMIN).json["total_entries"] == 25


def test_upstream_events_run_constant_queries(app, client, events):
    url = f"{API}/dags/consumer/dagRuns/c1/upstreamDatasetEvents"

    def link(count):
        with app.app_context():
            run = db.session.execute(select(DagRun).where(DagRun.run_id == "c1")).scalar_one()
            dataset = db.session.get(Dataset, 1)
            run.consumed_dataset_events.extend(runs.register_dataset_event(dataset) for _ in range(count))
            db.session.commit()

    trigger(app, "consumer", "c1", JAN[5], run_type="dataset_triggered", external_trigger=False)
    link(1)
    small = queries(app, lambda: client.get(url, headers=ADMIN))
    link(20)
    assert queries(app, lambda: client.get(url, headers=ADMIN)) == small
    assert client.get(url, headers=ADMIN).json["total_entries"] == 21
