"""DAG-level access (`DAG:<dag_id>`, `DAG Run:<dag_id>`), decided as Airflow's FAB auth manager does."""
from __future__ import annotations

import pytest

from app.security import Identity, current_identity, dag_access
from tests.conftest import basic_auth


def who(*permissions: str) -> Identity:
    """An identity from 'action resource' strings, e.g. who('can_read DAG:a')."""
    return Identity(username="u", permissions=frozenset(tuple(p.split(" ", 1)) for p in permissions))


# -- no entity: the DAG itself -----------------------------------------------------------------
@pytest.mark.parametrize(
    ("perms", "method", "dag_id", "allowed"),
    [
        (["can_read DAGs"], "GET", "a", True),
        (["can_read DAG:a"], "GET", "a", True),
        (["can_read DAG:a"], "GET", "b", False),
        (["can_read DAG:a"], "PATCH", "a", False),
        (["can_edit DAG:a"], "PATCH", "a", True),
        (["can_edit DAGs"], "PATCH", "b", True),
        (["can_delete DAG:a"], "DELETE", "a", True),
        (["can_read DAG:a", "can_edit DAG:a"], "DELETE", "a", False),
    ],
)
def test_dag_itself(perms, method, dag_id, allowed):
    assert who(*perms).is_authorized_dag(method, None, dag_id) is allowed


# -- no id, no entity: GET /dags, PATCH /dags --------------------------------------------------
@pytest.mark.parametrize(
    ("perms", "method", "allowed"),
    [
        (["can_read DAGs"], "GET", True),
        (["can_read DAG:a"], "GET", True),  # may read one DAG: the list is filtered to it
        ([], "GET", False),
        (["can_read DAG Runs"], "GET", False),
        (["can_edit DAG:a"], "PATCH", True),
        (["can_edit DAG:a"], "PUT", True),
        (["can_read DAG:a"], "PATCH", False),
        (["can_delete DAG:a"], "DELETE", False),
        (["can_delete DAGs"], "DELETE", True),
    ],
)
def test_without_a_dag_id(perms, method, allowed):
    assert who(*perms).is_authorized_dag(method, None, None) is allowed


# -- with an entity: DAG-level check (read for GET, edit otherwise), then every sub-resource ---
@pytest.mark.parametrize(
    ("perms", "method", "entity", "allowed"),
    [
        (["can_read DAG:a", "can_read DAG Runs"], "GET", "RUN", True),
        (["can_read DAG:a", "can_read DAG Run:a"], "GET", "RUN", True),
        (["can_read DAG:a", "can_read DAG Run:b"], "GET", "RUN", False),
        (["can_read DAG Runs"], "GET", "RUN", False),
        (["can_read DAGs", "can_read DAG Runs"], "GET", "RUN", True),
        (["can_read DAG:a", "can_create DAG Runs"], "POST", "RUN", False),  # creating needs can_edit on the DAG
        (["can_edit DAG:a", "can_create DAG Run:a"], "POST", "RUN", True),
        (["can_edit DAG:a", "can_delete DAG Runs"], "DELETE", "RUN", True),
        (["can_edit DAG:a", "can_read DAG Runs"], "DELETE", "RUN", False),
        (["can_read DAG:a", "can_read DAG Runs", "can_read Task Instances"], "GET", "TASK_INSTANCE", True),
        (["can_read DAG:a", "can_read DAG Run:a", "can_read Task Instances"], "GET", "TASK_INSTANCE", True),
        (["can_read DAG:a", "can_read Task Instances"], "GET", "TASK_INSTANCE", False),
        (["can_read DAG:a", "can_read DAG Runs"], "GET", "TASK_INSTANCE", False),
        (["can_edit DAG:a", "can_edit DAG Runs", "can_edit Task Instances"], "PATCH", "TASK_INSTANCE", True),
        (["can_read DAG:a", "can_read Task Logs"], "GET", "TASK_LOGS", True),
        (["can_read DAG:a", "can_read XComs"], "GET", "XCOM", True),
        (["can_edit DAG:a", "can_delete XComs"], "DELETE", "XCOM", True),
        (["can_read DAG:a", "can_read DAG Code"], "GET", "CODE", True),
        (["can_read DAG:a", "can_read Audit Logs"], "GET", "AUDIT_LOG", True),
        (["can_read DAG:b", "can_read Audit Logs"], "GET", "AUDIT_LOG", False),
    ],
)
def test_sub_resources_of_dag_a(perms, method, entity, allowed):
    assert who(*perms).is_authorized_dag(method, entity, "a") is allowed


def test_entity_without_a_dag_id_needs_only_the_sub_resource():
    assert who("can_read DAG Runs").is_authorized_dag("GET", "RUN", None) is True
    assert who("can_read DAG Run:a").is_authorized_dag("GET", "RUN", None) is False


# -- permitted DAG ids (what list endpoints filter on) -----------------------------------------
def test_permitted_dag_ids():
    identity = who("can_read DAG:a", "can_edit DAG:b", "can_read DAG Run:c", "can_delete DAG:d")
    assert identity.permitted_dag_ids(("GET",)) == {"a"}
    assert identity.permitted_dag_ids(("PUT",)) == {"b"}
    assert identity.permitted_dag_ids(("GET", "PUT")) == {"a", "b"}
    assert identity.permitted_dag_ids(()) == {"a", "b"}  # no method: read or edit, as in Airflow
    assert identity.permitted_dag_ids(("DELETE",)) == {"d"}
    assert who("can_read DAGs", "can_read DAG:a").permitted_dag_ids(("GET",)) is None  # every DAG
    assert who().permitted_dag_ids(("GET",)) == set()


# -- the rule handlers declare -----------------------------------------------------------------
def test_dag_access_rule_reads_the_dag_id_argument():
    rule = dag_access("GET", "RUN")
    identity = who("can_read DAG Runs", "can_read DAG:a")
    assert rule.allows(identity, {"dag_id": "a"}) is True
    assert rule.allows(identity, {"dag_id": "b"}) is False
    # `~` names no DAG: only the sub-resource is checked (the handler filters rows).
    assert rule.allows(who("can_read DAG Runs"), {"dag_id": "~"}) is True
    assert rule.allows(who("can_read DAG Runs"), {}) is True


def test_a_dag_id_query_parameter_triggers_the_dag_level_check():
    rule = dag_access("GET", "AUDIT_LOG")
    assert rule.allows(who("can_read Audit Logs"), {"dag_id": "a"}) is False
    assert rule.allows(who("can_read Audit Logs", "can_read DAG:a"), {"dag_id": "a"}) is True


def test_dag_access_rule_with_another_argument_name():
    rule = dag_access("GET", dag_id_arg="dag_name")
    assert rule.allows(who("can_read DAG:x"), {"dag_name": "x"}) is True
    assert rule.allows(who("can_read DAG:x"), {"dag_name": "y"}) is False


# -- custom roles made through the API ---------------------------------------------------------
def test_custom_role_with_dag_level_permissions_from_the_api(app, client, admin_headers):
    role = {
        "name": "etl-operators",
        "actions": [
            {"action": {"name": "can_read"}, "resource": {"name": "DAG:etl"}},
            {"action": {"name": "can_edit"}, "resource": {"name": "DAG:etl"}},
            {"action": {"name": "can_read"}, "resource": {"name": "DAG Runs"}},
            {"action": {"name": "can_create"}, "resource": {"name": "DAG Run:etl"}},
        ],
    }
    assert client.post("/api/v1/roles", json=role, headers=admin_headers).status_code == 200
    user = {"username": "ed", "email": "ed@example.com", "first_name": "Ed", "last_name": "L",
            "password": "pw", "roles": [{"name": "etl-operators"}]}
    assert client.post("/api/v1/users", json=user, headers=admin_headers).status_code == 200

    with app.test_request_context("/api/v1/dags", headers=basic_auth("ed", "pw")):
        identity = current_identity()
        assert identity.roles == ("etl-operators",)
        assert identity.permitted_dag_ids(("GET",)) == {"etl"}
        assert identity.is_authorized_dag("GET", None, None) is True  # GET /dags, filtered to etl
        assert identity.is_authorized_dag("GET", None, "etl") is True
        assert identity.is_authorized_dag("GET", None, "billing") is False
        assert identity.is_authorized_dag("GET", "RUN", "etl") is True
        assert identity.is_authorized_dag("POST", "RUN", "etl") is True
        assert identity.is_authorized_dag("POST", "RUN", "billing") is False
        assert identity.is_authorized_dag("DELETE", "RUN", "etl") is False
        assert identity.is_authorized_dag("GET", "TASK_INSTANCE", "etl") is False
