"""XCom entries: list with ~ and filters, one entry stringified or native."""
# Fixtures come from tests.runs.helpers; test parameters of the same name use them.
# ruff: noqa: F811
from __future__ import annotations

import pytest

from tests.conftest import basic_auth, make_app
from tests.endpoints.test_dag_run_endpoint import reader_of
from tests.runs.helpers import JAN, dag_folder, dags, problem, push_xcom, queries, trigger  # noqa: F401

API = "/api/v1"
ADMIN = basic_auth("admin")
XCOMS = f"{API}/dags/pipeline/dagRuns/run1/taskInstances/load/xcomEntries"


def item(key: str, task_id: str = "load", map_index: int = -1, dag_id: str = "pipeline", logical_date=JAN[4]) -> dict:
    return {
        "dag_id": dag_id, "execution_date": logical_date.isoformat(), "key": key, "map_index": map_index,
        "task_id": task_id, "timestamp": JAN[6].isoformat(),
    }


@pytest.fixture
def xcoms(app, dags):
    trigger(app)
    trigger(app, "other", "o1", JAN[1])
    push_xcom(app, "pipeline", "run1", "load", "return_value", {"rows": 3, "ok": True})
    push_xcom(app, "pipeline", "run1", "load", "names", ["a", "b"])
    push_xcom(app, "pipeline", "run1", "transform", "return_value", 2, map_index=1)
    push_xcom(app, "other", "o1", "only", "text", "plain")


class TestGetXcomEntries:
    def test_lists_a_task_instances_entries(self, client, xcoms):
        response = client.get(XCOMS, headers=ADMIN)
        assert response.json == {"xcom_entries": [item("names"), item("return_value")], "total_entries": 2}

    def test_tilde_lists_across_dags_runs_and_tasks(self, app, client, xcoms):
        response = client.get(f"{API}/dags/~/dagRuns/~/taskInstances/~/xcomEntries", headers=ADMIN)
        assert response.json == {
            "xcom_entries": [
                item("text", "only", dag_id="other", logical_date=JAN[1]), item("names"), item("return_value"),
                item("return_value", "transform", 1),
            ],
            "total_entries": 4,
        }
        response = client.get(f"{API}/dags/~/dagRuns/~/taskInstances/~/xcomEntries", headers=reader_of(app, "other"))
        assert response.json == {"xcom_entries": [item("text", "only", dag_id="other", logical_date=JAN[1])],
                                 "total_entries": 1}

    @pytest.mark.parametrize(
        ("query", "keys"),
        [
            ("xcom_key=names", [("load", "names")]),
            ("map_index=1", [("transform", "return_value")]),
            ("map_index=-1&limit=1", [("load", "names")]),
            ("offset=1&limit=1", [("load", "return_value")]),
        ],
    )
    def test_filters_and_pages(self, client, xcoms, query, keys):
        response = client.get(f"{API}/dags/pipeline/dagRuns/run1/taskInstances/~/xcomEntries?{query}", headers=ADMIN)
        assert [(x["task_id"], x["key"]) for x in response.json["xcom_entries"]] == keys

    def test_limit_is_clamped(self, xcoms):
        client = make_app(api={"maximum_page_limit": 1}).test_client()
        response = client.get(f"{XCOMS}?limit=10", headers=ADMIN)
        assert (len(response.json["xcom_entries"]), response.json["total_entries"]) == (1, 2)

    def test_dag_level_access(self, app, client, xcoms):
        assert client.get(XCOMS, headers=reader_of(app, "other")).status_code == 403
        assert client.get(XCOMS, headers=basic_auth("viewer")).status_code == 200

    def test_query_count_does_not_grow_with_the_page(self, app, client, dags):
        def send():
            assert client.get(XCOMS, headers=ADMIN).status_code == 200

        trigger(app)
        push_xcom(app, "pipeline", "run1", "load", "k0", 0)
        small = queries(app, send)
        for n in range(1, 30):
            push_xcom(app, "pipeline", "run1", "load", f"k{n}", n)
        assert queries(app, send) == small <= 6


class TestGetXcomEntry:
    @pytest.mark.parametrize(
        ("key", "query", "value"),
        [
            ("return_value", "", "{'rows': 3, 'ok': True}"),
            ("return_value", "?stringify=true", "{'rows': 3, 'ok': True}"),
            ("return_value", "?stringify=false", {"rows": 3, "ok": True}),
            ("names", "", "['a', 'b']"),
            ("names", "?stringify=false", ["a", "b"]),
        ],
    )
    def test_value_is_pythons_str_by_default_and_native_on_request(self, client, xcoms, key, query, value):
        response = client.get(f"{XCOMS}/{key}{query}", headers=ADMIN)
        assert response.json == {**item(key), "value": value}

    def test_map_index(self, client, xcoms):
        url = f"{API}/dags/pipeline/dagRuns/run1/taskInstances/transform/xcomEntries/return_value"
        assert client.get(f"{url}?map_index=1&stringify=false", headers=ADMIN).json == {
            **item("return_value", "transform", 1), "value": 2,
        }
        assert client.get(url, headers=ADMIN).json == problem(404, "XCom entry not found", None, url)

    def test_deserialize_needs_the_option(self, client, xcoms):
        url = f"{XCOMS}/names"
        assert client.get(f"{url}?deserialize=true", headers=ADMIN).json == problem(
            400, "Bad Request", "XCom deserialization is disabled in configuration.", url
        )
        enabled = make_app(api={"enable_xcom_deserialize_support": True}).test_client()
        response = enabled.get(f"{url}?deserialize=true&stringify=false", headers=ADMIN)
        assert response.json == {**item("names"), "value": ["a", "b"]}

    def test_pickling_forces_a_string(self, xcoms):
        client = make_app(core={"enable_xcom_pickling": True}).test_client()
        response = client.get(f"{XCOMS}/names?stringify=false", headers=ADMIN)
        assert response.json["value"] == "['a', 'b']"

    def test_a_null_value(self, app, client, dags):
        trigger(app)
        push_xcom(app, "pipeline", "run1", "load", "nothing", None)
        assert client.get(f"{XCOMS}/nothing", headers=ADMIN).json["value"] == "None"
        assert client.get(f"{XCOMS}/nothing?stringify=false", headers=ADMIN).json["value"] is None

    def test_missing_is_404(self, client, xcoms):
        url = f"{XCOMS}/nope"
        assert client.get(url, headers=ADMIN).json == problem(404, "XCom entry not found", None, url)

    def test_dag_level_access(self, app, client, xcoms):
        assert client.get(f"{XCOMS}/names", headers=reader_of(app, "other")).status_code == 403
        assert client.get(f"{XCOMS}/names", headers=reader_of(app, "pipeline")).status_code == 200


@pytest.mark.parametrize("path", [XCOMS, f"{XCOMS}/names"])
def test_without_credentials_is_401(client, xcoms, path):
    assert client.get(path).status_code == 401


@pytest.mark.parametrize("path", [XCOMS, f"{XCOMS}/names"])
def test_without_permission_is_403(client, xcoms, path):
    assert client.get(path, headers=basic_auth("test_no_permissions")).json == problem(403, "Forbidden", None, path)
