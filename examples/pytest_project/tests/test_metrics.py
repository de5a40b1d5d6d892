"""GET /metrics (turned on in pytest.ini), parsed as Prometheus parses it."""
from prometheus_client.parser import text_string_to_metric_families


def scrape(server) -> dict:
    response = server.session.get(server.url + "/metrics")
    assert response.status_code == 200
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def test_runs_pools_scheduler_and_requests_are_measured(stableflow_reset):
    stableflow_reset.session.get("/pools")
    samples = scrape(stableflow_reset)
    assert samples[("stableflow_dag_runs", (("state", "failed"),))] == 2
    assert samples[("stableflow_task_instances", (("state", "upstream_failed"),))] == 1
    assert samples[("stableflow_pool_slots", (("pool", "warehouse"),))] == 2
    assert samples[("stableflow_schedulers_running", ())] == 1
    requests_of_get_pools = [
        value for (name, labels), value in samples.items()
        if name == "stableflow_http_requests_total" and ("operation", "get_pools") in labels
    ]
    assert sum(requests_of_get_pools) >= 1
