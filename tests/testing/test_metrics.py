"""GET /metrics: off by default, protected like the API unless public, figures from the database,
request counts by operation across gunicorn workers, and the scheduler's loop figures."""
from __future__ import annotations

import datetime as dt
import os

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from app.extensions import db
from app.models import Job, Pool, utcnow
from app.scheduler.job import SchedulerJob
from tests.conftest import basic_auth, count_queries, make_app
from tests.live import live_server
from tests.runs.helpers import dags, run_try, trigger  # noqa: F401


@pytest.fixture(scope="module")
def metrics_app():
    return make_app(metrics={"enabled": True})


@pytest.fixture
def metrics(metrics_app):
    return metrics_app.test_client()


def samples(text: str) -> dict:
    """{(name, ((label, value), ...)): value} of every sample, as Prometheus parses them."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def scrape(client, user="viewer") -> dict:
    response = client.get("/metrics", headers=basic_auth(user))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.headers["Content-Type"] == "text/plain; version=1.0.0; charset=utf-8"
    return samples(response.get_data(as_text=True))


def named(found: dict, name: str) -> dict:
    return {labels: value for (sample, labels), value in found.items() if sample == name}


# -- access ------------------------------------------------------------------------------------
def test_off_by_default(client, admin_headers):
    assert client.get("/metrics", headers=admin_headers).status_code == 404


def test_needs_credentials(metrics):
    response = metrics.get("/metrics")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Basic realm="stableflow"'
    assert response.json == {
        "detail": "Unauthorized", "instance": "/metrics", "status": 401, "title": "Unauthorized",
        "type": "https://airflow.apache.org/docs/apache-airflow/2.11.2/stable-rest-api-ref.html#section/Errors/Unauthenticated",
    }


def test_needs_can_read_on_cluster_activity(metrics):
    response = metrics.get("/metrics", headers=basic_auth("test_no_permissions"))
    assert response.status_code == 403
    assert response.json == {
        "detail": "Forbidden", "instance": "/metrics", "status": 403, "title": "Forbidden",
        "type": "https://airflow.apache.org/docs/apache-airflow/2.11.2/stable-rest-api-ref.html#section/Errors/PermissionDenied",
    }
    for user in ("viewer", "user", "op", "admin"):
        assert metrics.get("/metrics", headers=basic_auth(user)).status_code == 200


@pytest.fixture(scope="module")
def public_app():
    return make_app(metrics={"enabled": True, "public": True})


def test_public(public_app):
    assert public_app.test_client().get("/metrics").status_code == 200


# -- figures -----------------------------------------------------------------------------------
def test_runs_task_instances_and_pools(app, metrics, dags):  # noqa: F811
    trigger(app, run_id="run1")
    trigger(app, run_id="run2", logical_date=dt.datetime(2024, 1, 9, tzinfo=dt.timezone.utc))
    run_try(app, "pipeline", "run1", "extract", "success")
    run_try(app, "pipeline", "run2", "extract", "failed")
    with app.app_context():
        db.session.add(Pool(pool="small", slots=3, description="small"))
        db.session.commit()
        db.session.remove()
    found = scrape(metrics)
    assert named(found, "stableflow_dag_runs") == {
        (("state", "queued"),): 2, (("state", "running"),): 0, (("state", "success"),): 0, (("state", "failed"),): 0,
    }
    task_instances = named(found, "stableflow_task_instances")
    assert {labels[0][1]: value for labels, value in task_instances.items() if value} == {
        "success": 1, "failed": 1, "none": 8,
    }
    assert len(task_instances) == 13  # every state, 0 when none has it
    assert named(found, "stableflow_pool_slots") == {(("pool", "default_pool"),): 128, (("pool", "small"),): 3}
    assert named(found, "stableflow_pool_open_slots") == {(("pool", "default_pool"),): 128, (("pool", "small"),): 3}
    assert named(found, "stableflow_pool_used_slots")[(("pool", "small"), ("state", "running"))] == 0


def test_schedulers_heartbeat_age_and_loops(app, metrics):
    now = utcnow()
    with app.app_context():
        db.session.add_all([
            Job(job_type="SchedulerJob", state="running", hostname="h1", latest_heartbeat=now - dt.timedelta(seconds=5),
                loop_count=10, loop_seconds_total=0.5, last_loop_seconds=0.04),
            Job(job_type="SchedulerJob", state="success", hostname="h0", latest_heartbeat=now - dt.timedelta(hours=1)),
        ])
        db.session.commit()
        job_id = db.session.execute(db.select(Job.id).where(Job.hostname == "h1")).scalar_one()
        db.session.remove()
    found = scrape(metrics)
    key = (("hostname", "h1"), ("job_id", str(job_id)))
    assert 5 <= named(found, "stableflow_scheduler_heartbeat_age_seconds")[key] < 15
    assert named(found, "stableflow_scheduler_loop_duration_seconds_count") == {key: 10}
    assert named(found, "stableflow_scheduler_loop_duration_seconds_sum") == {key: 0.5}
    assert named(found, "stableflow_scheduler_last_loop_duration_seconds") == {key: 0.04}
    assert named(found, "stableflow_schedulers_running") == {(): 1}


def test_a_scheduler_writes_its_loop_figures_with_its_heartbeat(app):
    job = SchedulerJob(make_app(scheduler={"scheduler_heartbeat_sec": "0.01"}))
    job.run(num_runs=3)
    with app.app_context():
        row = db.session.get(Job, job.job_id)
        # The first heartbeat comes before any loop; each later one records the loop before it.
        assert row.loop_count == 2
        assert 0 < row.last_loop_seconds <= row.loop_seconds_total
        db.session.remove()


def test_requests_are_counted_by_operation_method_and_status(metrics, admin_headers):
    def counts():
        found = scrape(metrics)
        return named(found, "stableflow_http_requests_total"), named(found, "stableflow_http_request_duration_seconds_count")

    before, _ = counts()
    for _ in range(3):
        metrics.get("/api/v1/pools", headers=admin_headers)
    metrics.get("/api/v1/pools/nope", headers=admin_headers)
    metrics.get("/api/v1/nowhere", headers=admin_headers)
    after, durations = counts()
    pools = (("method", "GET"), ("operation", "get_pools"), ("status", "200"))
    missing = (("method", "GET"), ("operation", "get_pool"), ("status", "404"))
    unmatched = (("method", "GET"), ("operation", "unmatched"), ("status", "404"))
    assert after[pools] - before.get(pools, 0) == 3
    assert after[missing] - before.get(missing, 0) == 1
    assert after[unmatched] - before.get(unmatched, 0) == 1
    assert durations[pools] == after[pools]


def test_a_scrape_runs_the_same_queries_whatever_the_data(app, public_app, dags):  # noqa: F811
    client = public_app.test_client()

    def queries() -> int:
        with count_queries(public_app) as counter:
            assert client.get("/metrics").status_code == 200
        return counter.count

    small = queries()
    for day in range(10, 15):
        trigger(app, run_id=f"r{day}", logical_date=dt.datetime(2024, 1, day, tzinfo=dt.timezone.utc))
    with app.app_context():
        db.session.add_all(Pool(pool=f"p{i}", slots=i) for i in range(5))
        db.session.commit()
        db.session.remove()
    assert queries() == small


# -- several workers ---------------------------------------------------------------------------
@pytest.mark.skipif(
    bool(os.environ.get("STABLEFLOW_TEST_SQL_ALCHEMY_CONN")), reason="counting across workers is the same on any database"
)
def test_every_gunicorn_worker_reports_the_requests_of_all(tmp_path):
    with live_server(tmp_path, workers=2, METRICS__ENABLED="True") as server:
        session = server.session()
        for _ in range(20):
            assert requests.get(server.api + "/version", timeout=10).status_code == 200
        version = (("method", "GET"), ("operation", "get_version"), ("status", "200"))
        seen = set()
        for _ in range(6):  # several scrapes land on both workers
            response = session.get(server.url + "/metrics", timeout=10)
            assert response.status_code == 200
            seen.add(named(samples(response.text), "stableflow_http_requests_total")[version])
        assert seen == {20}
