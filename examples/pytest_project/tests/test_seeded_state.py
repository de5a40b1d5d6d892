"""What seed.yaml created, read back through the API: one test per kind of entity."""
import requests


def test_users_exist_with_their_roles_and_passwords(stableflow_reset):
    alice = stableflow_reset.session.get("/users/alice").json()
    assert (alice["email"], alice["first_name"], alice["roles"]) == (
        "alice@example.com", "Alice", [{"name": "etl_operator"}],
    )
    own_login = requests.get(f"{stableflow_reset.api_url}/dags/etl", auth=("alice", "alice-password"), timeout=10)
    assert own_login.status_code == 200


def test_custom_role_has_its_permissions(stableflow_reset):
    role = stableflow_reset.session.get("/roles/etl_operator").json()
    assert sorted((p["action"]["name"], p["resource"]["name"]) for p in role["actions"]) == [
        ("can_create", "DAG Run:etl"), ("can_edit", "DAG:etl"), ("can_read", "DAG Runs"), ("can_read", "DAGs"),
    ]


def test_pool(stableflow_reset):
    pool = stableflow_reset.session.get("/pools/warehouse").json()
    assert (pool["slots"], pool["description"], pool["open_slots"]) == (2, "Warehouse loads", 2)


def test_variables(stableflow_reset):
    assert stableflow_reset.session.get("/variables/environment").json()["value"] == "test"
    assert stableflow_reset.session.get("/variables/thresholds").json()["value"] == '{"warn": 10, "fail": 100}'


def test_connection(stableflow_reset):
    conn = stableflow_reset.session.get("/connections/warehouse_db").json()
    assert {k: conn[k] for k in ("conn_type", "host", "port", "login", "schema", "extra")} == {
        "conn_type": "postgres", "host": "db.example.com", "port": 5432, "login": "etl", "schema": "analytics",
        "extra": '{"sslmode": "require"}',
    }


def test_dags_pause_state(stableflow_reset):
    dags = stableflow_reset.session.get("/dags").json()["dags"]
    assert {dag["dag_id"]: dag["is_paused"] for dag in dags} == {"etl": False, "reporting": True}


def test_run_that_failed_at_load(stableflow_reset):
    run = stableflow_reset.session.get("/dags/etl/dagRuns/failed_at_load").json()
    assert (run["state"], run["logical_date"]) == ("failed", "2024-01-02T00:00:00+00:00")
    tis = stableflow_reset.session.get("/dags/etl/dagRuns/failed_at_load/taskInstances").json()["task_instances"]
    assert sorted((ti["task_id"], ti["map_index"], ti["state"]) for ti in tis) == [
        ("extract", -1, "success"), ("load", -1, "failed"),
        ("transform", 0, "success"), ("transform", 1, "success"), ("transform", 2, "success"),
    ]
    log = stableflow_reset.session.get(
        "/dags/etl/dagRuns/failed_at_load/taskInstances/load/logs/1", headers={"Accept": "text/plain"}
    )
    assert "Seeded by stableflow seed: failed" in log.text


def test_run_with_one_mapped_part_failed(stableflow_reset):
    run = stableflow_reset.session.get("/dags/etl/dagRuns/part_b_failed").json()
    assert (run["state"], run["note"]) == ("failed", "part b is broken")
    tis = stableflow_reset.session.get("/dags/etl/dagRuns/part_b_failed/taskInstances").json()["task_instances"]
    assert sorted((ti["task_id"], ti["map_index"], ti["state"]) for ti in tis) == [
        ("extract", -1, "success"), ("load", -1, "upstream_failed"),
        ("transform", 0, "success"), ("transform", 1, "failed"), ("transform", 2, "success"),
    ]
