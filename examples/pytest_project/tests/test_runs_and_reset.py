"""The scheduler runs what the tests trigger; stableflow_reset puts the seeded state back."""
from pipeline_client import PipelineClient


def test_a_triggered_run_succeeds(stableflow_reset):
    client = PipelineClient(stableflow_reset.api_url, stableflow_reset.auth)
    run = client.trigger("etl", "from_test")
    assert run["state"] == "queued"
    finished = stableflow_reset.wait_for_dag_run("etl", "from_test", timeout=30)
    assert finished["state"] == "success"
    assert client.failed_tasks("etl", "failed_at_load") == ["load"]


def test_a_user_limited_to_one_dag(stableflow_reset):
    alice = PipelineClient(stableflow_reset.api_url, ("alice", "alice-password"))
    assert alice.trigger("etl", "by_alice")["dag_run_id"] == "by_alice"
    viewer = PipelineClient(stableflow_reset.api_url, ("viewer", "viewer-password"))
    response = viewer._request("POST", "/dags/etl/dagRuns", json={})
    assert response.status_code == 403


def test_changes_made_by_one_test(stableflow_reset):
    assert stableflow_reset.session.delete("/pools/warehouse").status_code == 204
    assert stableflow_reset.session.delete("/dags/etl/dagRuns/failed_at_load").status_code == 204
    assert stableflow_reset.session.get("/pools/warehouse").status_code == 404


def test_are_gone_in_the_next(stableflow_reset):
    assert stableflow_reset.session.get("/pools/warehouse").status_code == 200
    runs = stableflow_reset.session.get("/dags/etl/dagRuns").json()["dag_runs"]
    assert sorted(run["dag_run_id"] for run in runs) == ["failed_at_load", "part_b_failed"]
