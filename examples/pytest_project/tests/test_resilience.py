"""The client against a misbehaving server: injected latency, error statuses and dropped connections."""
import time

import pytest
import requests
from pipeline_client import PipelineClient


def test_latency_is_added_and_named_in_a_header(stableflow_reset):
    with stableflow_reset.faults("GET /api/v1/pools latency=300ms"):
        started = time.monotonic()
        response = stableflow_reset.session.get("/pools")
        elapsed = time.monotonic() - started
    assert response.status_code == 200
    assert response.headers["X-Stableflow-Fault"] == "rule=1 latency=0.300"
    assert elapsed >= 0.3


def test_client_times_out_on_a_slow_server(stableflow_reset):
    stableflow_reset.set_faults("GET /api/v1/dags/*/dagRuns/*/taskInstances latency=2")
    client = PipelineClient(stableflow_reset.api_url, stableflow_reset.auth, retries=1, timeout=0.5)
    with pytest.raises(requests.Timeout):
        client.failed_tasks("etl", "failed_at_load")
    assert client.attempts == 2


def test_client_gives_up_after_its_retries_on_503(stableflow_reset):
    stableflow_reset.set_faults("GET /api/v1/dags/*/dagRuns/*/taskInstances status=503 retry_after=1")
    client = PipelineClient(stableflow_reset.api_url, stableflow_reset.auth, retries=2)
    response = client._request("GET", "/dags/etl/dagRuns/failed_at_load/taskInstances")
    assert (response.status_code, client.attempts) == (503, 3)
    assert response.headers["Retry-After"] == "1"
    assert response.headers["X-Stableflow-Fault"] == "rule=1 status=503"
    assert response.json()["title"] == "Service Unavailable"


def test_client_rides_out_a_flaky_server(stableflow_reset):
    # p=0.5 with the seed of pytest.ini: the first try on a worker fails, its next ones pass.
    stableflow_reset.set_faults("GET /api/v1/dags/*/dagRuns/*/taskInstances status=503 p=0.5")
    client = PipelineClient(stableflow_reset.api_url, stableflow_reset.auth, retries=3)
    assert client.failed_tasks("etl", "failed_at_load") == ["load"]
    assert 2 <= client.attempts <= 3


def test_dropped_connection_is_a_connection_error(stableflow_reset):
    stableflow_reset.set_faults("GET /api/v1/dags/*/dagRuns/*/taskInstances drop")
    client = PipelineClient(stableflow_reset.api_url, stableflow_reset.auth, retries=1)
    with pytest.raises(requests.ConnectionError):
        client.failed_tasks("etl", "failed_at_load")
    assert client.attempts == 2


def test_trigger_survives_a_lost_answer(stableflow_reset):
    # The first POST on each worker is carried out, but its answer never arrives.
    stableflow_reset.set_faults("POST /api/v1/dags/etl/dagRuns drop=after p=0.5")
    client = PipelineClient(stableflow_reset.api_url, stableflow_reset.auth)
    run = client.trigger("etl", "retried")
    assert run["dag_run_id"] == "retried"
    assert client.attempts >= 2
    runs = stableflow_reset.session.get("/dags/etl/dagRuns").json()["dag_runs"]
    assert [r["dag_run_id"] for r in runs].count("retried") == 1
