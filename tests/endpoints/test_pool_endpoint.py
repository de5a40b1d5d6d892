"""/pools and /pools/{pool_name}."""
from __future__ import annotations

import datetime as dt
import itertools

import pytest
from sqlalchemy import select

from app.errors import TYPE_BY_STATUS
from app.extensions import db
from app.models import DagRun, EventLog, Pool, TaskInstance
from app.schemas.pool_schema import pool_schema
from tests.conftest import basic_auth, count_queries, make_app

_RUN_DAYS = itertools.count()

DEFAULT_POOL = {
    "name": "default_pool",
    "slots": 128,
    "occupied_slots": 0,
    "running_slots": 0,
    "queued_slots": 0,
    "scheduled_slots": 0,
    "deferred_slots": 0,
    "open_slots": 128,
    "description": "Default pool",
    "include_deferred": False,
}


def pool_body(name, slots, *, description=None, include_deferred=False, **counts):
    body = {
        "name": name,
        "slots": slots,
        "occupied_slots": 0,
        "running_slots": 0,
        "queued_slots": 0,
        "scheduled_slots": 0,
        "deferred_slots": 0,
        "open_slots": slots,
        "description": description,
        "include_deferred": include_deferred,
    }
    body.update(counts)
    return body


def problem(status, detail, instance, title=None):
    titles = {400: "Bad Request", 404: "Not Found", 409: "Conflict"}
    return {
        "detail": detail,
        "instance": instance,
        "status": status,
        "title": title or titles[status],
        "type": TYPE_BY_STATUS[status],
    }


def add_pools(app, *pools):
    with app.app_context():
        db.session.add_all(pools)
        db.session.commit()


def add_task_instances(app, pool, states_and_slots):
    """One DAG run with a task instance per (state, pool_slots) in `pool`."""
    with app.app_context():
        run_id = f"run_{pool}"
        db.session.add(
            DagRun(
                dag_id="d",
                run_id=run_id,
                execution_date=dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(days=next(_RUN_DAYS)),
                run_type="manual",
                state="running",
            )
        )
        db.session.add_all(
            TaskInstance(dag_id="d", run_id=run_id, task_id=f"t{i}", pool=pool, state=state, pool_slots=slots)
            for i, (state, slots) in enumerate(states_and_slots)
        )
        db.session.commit()


def stored_pools(app):
    with app.app_context():
        rows = db.session.execute(select(Pool.pool, Pool.slots, Pool.description).order_by(Pool.id)).all()
        return [tuple(row) for row in rows]


def last_event(app):
    with app.app_context():
        entry = db.session.execute(select(EventLog).order_by(EventLog.id.desc())).scalars().first()
        return (entry.event, entry.owner, entry.extra) if entry else None


class TestGetPools:
    def test_lists_default_pool(self, client, admin_headers):
        response = client.get("/api/v1/pools", headers=admin_headers)
        assert response.status_code == 200
        assert response.json == {"pools": [DEFAULT_POOL], "total_entries": 1}

    @pytest.mark.parametrize(
        ("query", "names"),
        [
            ("", ["default_pool", "p1", "p2", "p3"]),
            ("?limit=2", ["default_pool", "p1"]),
            ("?limit=2&offset=2", ["p2", "p3"]),
            ("?offset=10", []),
            ("?order_by=-name", ["p3", "p2", "p1", "default_pool"]),
            ("?order_by=slots", ["p2", "p1", "p3", "default_pool"]),
            ("?order_by=-id&limit=1", ["p3"]),
        ],
    )
    def test_paging_and_ordering(self, app, client, admin_headers, query, names):
        add_pools(app, Pool(pool="p1", slots=5), Pool(pool="p2", slots=2), Pool(pool="p3", slots=7))
        response = client.get(f"/api/v1/pools{query}", headers=admin_headers)
        assert response.status_code == 200
        assert [p["name"] for p in response.json["pools"]] == names
        assert response.json["total_entries"] == 4

    def test_limit_is_clamped_and_zero_means_fallback(self, app):
        add_pools(app, *[Pool(pool=f"p{i}", slots=1) for i in range(5)])
        client = make_app(api={"maximum_page_limit": 3, "fallback_page_limit": 2}).test_client()
        assert len(client.get("/api/v1/pools?limit=50", headers=basic_auth("admin")).json["pools"]) == 3
        assert len(client.get("/api/v1/pools?limit=0", headers=basic_auth("admin")).json["pools"]) == 2
        assert len(client.get("/api/v1/pools", headers=basic_auth("admin")).json["pools"]) == 3

    def test_negative_limit_is_400(self, client, admin_headers):
        response = client.get("/api/v1/pools?limit=-1", headers=admin_headers)
        assert response.status_code == 400
        assert response.json == problem(
            400, "Page limit must be a positive integer", "/api/v1/pools", "Page limit must be a positive integer"
        )

    def test_negative_offset_is_400(self, client, admin_headers):
        response = client.get("/api/v1/pools?offset=-1", headers=admin_headers)
        assert response.status_code == 400
        assert response.json["title"] == "Bad Request"
        assert response.json["detail"].startswith("-1 is less than the minimum of 0")

    def test_unknown_order_by_is_400(self, client, admin_headers):
        response = client.get("/api/v1/pools?order_by=description", headers=admin_headers)
        assert response.json == problem(
            400,
            "Ordering with 'description' is disallowed or the attribute does not exist on the model",
            "/api/v1/pools",
        )

    def test_slot_counts_come_from_task_instances(self, app, client, admin_headers):
        add_pools(app, Pool(pool="busy", slots=10, include_deferred=True), Pool(pool="lazy", slots=10))
        states = [("running", 2), ("queued", 1), ("scheduled", 3), ("deferred", 4), ("success", 5), (None, 1)]
        add_task_instances(app, "busy", states)
        add_task_instances(app, "lazy", states)
        response = client.get("/api/v1/pools?order_by=-id", headers=admin_headers)
        counts = {"running_slots": 2, "queued_slots": 1, "scheduled_slots": 3, "deferred_slots": 4}
        assert response.json["pools"][1::-1] == [
            pool_body("busy", 10, include_deferred=True, occupied_slots=7, open_slots=3, **counts),
            pool_body("lazy", 10, occupied_slots=3, open_slots=7, **counts),
        ]

    def test_listed_pools_are_what_pool_schema_dumps_and_get_pool_shows(self, app, client, admin_headers):
        # The list sends its views as they are: they must already be PoolSchema's output.
        add_pools(app, Pool(pool="busy", slots=10, include_deferred=True), Pool(pool="idle", slots=3),
                  Pool(pool="unlimited", slots=-1, description="no limit"), Pool(pool="closed", slots=0))
        add_task_instances(app, "busy", [("running", 2), ("deferred", 4), ("queued", 1)])
        add_task_instances(app, "unlimited", [("running", 5)])
        listed = client.get("/api/v1/pools", headers=admin_headers).json["pools"]
        assert [pool["name"] for pool in listed] == ["default_pool", "busy", "idle", "unlimited", "closed"]
        numbers = [name for name, field in pool_schema.fields.items() if type(field).__name__ == "Integer"]
        for pool in listed:
            assert pool_schema.dump(pool) == pool
            # JSON tells false from 0: the columns' types survive to the wire (SQLite stores 0/1).
            assert type(pool["include_deferred"]) is bool
            assert {type(pool[name]) for name in numbers} == {int}
            assert client.get(f"/api/v1/pools/{pool['name']}", headers=admin_headers).json == pool

    def test_slot_counts_follow_the_page_in_any_order(self, app, client, admin_headers):
        add_pools(app, *[Pool(pool=f"p{i}", slots=10 - i) for i in range(4)])
        for i in range(4):
            add_task_instances(app, f"p{i}", [("running", i + 1)])
        response = client.get("/api/v1/pools?order_by=slots&limit=2&offset=1", headers=admin_headers)
        assert response.json == {
            "pools": [
                pool_body("p2", 8, running_slots=3, occupied_slots=3, open_slots=5),
                pool_body("p1", 9, running_slots=2, occupied_slots=2, open_slots=7),
            ],
            "total_entries": 5,
        }

    def test_unlimited_pool_never_breaks_the_response(self, app, client, admin_headers):
        add_pools(app, Pool(pool="unlimited", slots=-1))
        add_task_instances(app, "unlimited", [("running", 3)])
        response = client.get("/api/v1/pools?order_by=-id", headers=admin_headers)
        assert response.status_code == 200
        assert response.json["pools"][0] == pool_body(
            "unlimited", -1, running_slots=3, occupied_slots=3, open_slots=-1
        )

    def test_overfull_pool_has_no_open_slots(self, app, client, admin_headers):
        add_pools(app, Pool(pool="small", slots=1))
        add_task_instances(app, "small", [("running", 2), ("queued", 1)])
        response = client.get("/api/v1/pools/small", headers=admin_headers)
        assert response.json == pool_body("small", 1, running_slots=2, queued_slots=1, occupied_slots=3, open_slots=0)

    def test_query_count_is_constant(self, app, client, admin_headers):
        client.get("/api/v1/pools", headers=admin_headers)  # first login writes last_login
        add_pools(app, Pool(pool="a", slots=1))
        add_task_instances(app, "a", [("running", 1)])
        with count_queries(app) as small:
            assert len(client.get("/api/v1/pools", headers=admin_headers).json["pools"]) == 2
        add_pools(app, *[Pool(pool=f"p{i}", slots=i) for i in range(30)])
        for i in range(5):
            add_task_instances(app, f"p{i}", [("queued", 1)])
        with count_queries(app) as large:
            assert len(client.get("/api/v1/pools", headers=admin_headers).json["pools"]) == 32
        assert small.count == large.count


class TestGetPool:
    def test_success(self, client, admin_headers):
        response = client.get("/api/v1/pools/default_pool", headers=admin_headers)
        assert response.status_code == 200
        assert response.json == DEFAULT_POOL

    def test_not_found(self, client, admin_headers):
        response = client.get("/api/v1/pools/nope", headers=admin_headers)
        assert response.status_code == 404
        assert response.json == problem(404, "Pool with name:'nope' not found", "/api/v1/pools/nope")


class TestPostPool:
    def test_creates(self, app, client, admin_headers):
        body = {"name": "new", "slots": 3, "description": "d", "include_deferred": True}
        response = client.post("/api/v1/pools", json=body, headers=admin_headers)
        assert response.status_code == 200
        assert response.json == pool_body("new", 3, description="d", include_deferred=True)
        assert stored_pools(app)[-1] == ("new", 3, "d")
        assert last_event(app) == (
            "api.post_pool",
            "admin",
            '{"description": "d", "include_deferred": true, "name": "new", "slots": 3}',
        )

    def test_unlimited_slots(self, client, admin_headers):
        response = client.post("/api/v1/pools", json={"name": "u", "slots": -1}, headers=admin_headers)
        assert response.status_code == 200
        assert response.json == pool_body("u", -1)

    def test_duplicate_is_409(self, app, client, admin_headers):
        response = client.post("/api/v1/pools", json={"name": "default_pool", "slots": 1}, headers=admin_headers)
        assert response.status_code == 409
        assert response.json == problem(409, "Pool: default_pool already exists", "/api/v1/pools")
        assert stored_pools(app) == [("default_pool", 128, "Default pool")]

    @pytest.mark.parametrize(
        ("body", "detail"),
        [
            ({}, "Missing required property(ies): ['name', 'slots']"),
            ({"name": "x"}, "Missing required property(ies): ['slots']"),
            ({"name": "x", "slots": -2}, "{'slots': ['Slots must be -1 (unlimited) or a number of slots (0 or more).']}"),
            ({"name": "x", "slots": 1, "nope": 1}, "{'nope': ['Unknown field.']}"),
            ({"name": "", "slots": 1}, "{'name': ['Length must be between 1 and 256.']}"),
            ({"name": "x", "slots": "1"}, "'1' is not of type 'integer' - 'slots'"),
            ({"name": "x", "slots": 1, "open_slots": 1}, "Property is read-only - 'open_slots'"),
        ],
    )
    def test_bad_body_is_400_and_changes_nothing(self, app, client, admin_headers, body, detail):
        response = client.post("/api/v1/pools", json=body, headers=admin_headers)
        assert response.status_code == 400
        assert response.json == problem(400, detail, "/api/v1/pools")
        assert stored_pools(app) == [("default_pool", 128, "Default pool")]


class TestPatchPool:
    def test_without_mask_replaces_the_writable_fields_and_can_rename(self, app, client, admin_headers):
        add_pools(app, Pool(pool="old", slots=1, description="keep"))
        body = {"name": "renamed", "slots": 4, "include_deferred": True}
        response = client.patch("/api/v1/pools/old", json=body, headers=admin_headers)
        assert response.status_code == 200
        assert response.json == pool_body("renamed", 4, description="keep", include_deferred=True)
        assert stored_pools(app)[-1] == ("renamed", 4, "keep")
        assert last_event(app)[0] == "api.patch_pool"

    def test_mask_changes_only_masked_fields(self, app, client, admin_headers):
        add_pools(app, Pool(pool="p", slots=1, description="before"))
        body = {"name": "ignored", "slots": 9, "description": "after"}
        response = client.patch("/api/v1/pools/p?update_mask=description", json=body, headers=admin_headers)
        assert response.status_code == 200
        assert response.json == pool_body("p", 1, description="after")

    def test_default_pool_slots_can_change(self, client, admin_headers):
        response = client.patch(
            "/api/v1/pools/default_pool?update_mask=slots", json={"slots": 5}, headers=admin_headers
        )
        assert response.status_code == 200
        assert response.json == {**DEFAULT_POOL, "slots": 5, "open_slots": 5}

    def test_default_pool_cannot_be_renamed(self, app, client, admin_headers):
        response = client.patch("/api/v1/pools/default_pool", json={"name": "x", "slots": 5}, headers=admin_headers)
        assert response.status_code == 400
        assert response.json == problem(400, "Default Pool's name can't be modified", "/api/v1/pools/default_pool")
        assert stored_pools(app) == [("default_pool", 128, "Default pool")]

    def test_rename_onto_existing_is_409(self, app, client, admin_headers):
        add_pools(app, Pool(pool="a", slots=1))
        response = client.patch("/api/v1/pools/a", json={"name": "default_pool", "slots": 2}, headers=admin_headers)
        assert response.status_code == 409
        assert response.json == problem(409, "Pool: default_pool already exists", "/api/v1/pools/a")
        assert stored_pools(app)[-1] == ("a", 1, None)

    @pytest.mark.parametrize(
        ("query", "body", "detail"),
        [
            ("", {"slots": 2}, "Missing required property(ies): ['name']"),
            ("?update_mask=nope", {"slots": 2}, "Invalid field: nope in update mask"),
            ("?update_mask=open_slots", {"slots": 2}, "Invalid field: open_slots in update mask"),
            ("?update_mask=description", {"slots": 2}, "'description' is in update_mask but not in the request body."),
            ("?update_mask=slots", {"slots": -5}, "{'slots': ['Slots must be -1 (unlimited) or a number of slots (0 or more).']}"),
        ],
    )
    def test_bad_request(self, app, client, admin_headers, query, body, detail):
        add_pools(app, Pool(pool="p", slots=1))
        response = client.patch(f"/api/v1/pools/p{query}", json=body, headers=admin_headers)
        assert response.status_code == 400
        assert response.json == problem(400, detail, "/api/v1/pools/p")
        assert stored_pools(app)[-1] == ("p", 1, None)

    def test_not_found(self, client, admin_headers):
        response = client.patch("/api/v1/pools/nope", json={"name": "nope", "slots": 1}, headers=admin_headers)
        assert response.status_code == 404
        assert response.json == problem(404, "Pool with name:'nope' not found", "/api/v1/pools/nope")


class TestDeletePool:
    def test_deletes(self, app, client, admin_headers):
        add_pools(app, Pool(pool="gone", slots=1))
        response = client.delete("/api/v1/pools/gone", headers=admin_headers)
        assert response.status_code == 204
        assert response.data == b""
        assert stored_pools(app) == [("default_pool", 128, "Default pool")]
        assert last_event(app) == ("api.delete_pool", "admin", '{"pool_name": "gone"}')

    def test_default_pool_is_400(self, app, client, admin_headers):
        response = client.delete("/api/v1/pools/default_pool", headers=admin_headers)
        assert response.status_code == 400
        assert response.json == problem(400, "Default Pool can't be deleted", "/api/v1/pools/default_pool")
        assert stored_pools(app) == [("default_pool", 128, "Default pool")]

    def test_not_found(self, client, admin_headers):
        response = client.delete("/api/v1/pools/nope", headers=admin_headers)
        assert response.status_code == 404
        assert response.json == problem(404, "Pool with name:'nope' not found", "/api/v1/pools/nope")


OPERATIONS = [
    ("get", "/api/v1/pools", None),
    ("get", "/api/v1/pools/default_pool", None),
    ("post", "/api/v1/pools", {"name": "x", "slots": 1}),
    ("patch", "/api/v1/pools/default_pool", {"name": "default_pool", "slots": 1}),
    ("delete", "/api/v1/pools/p", None),
]


@pytest.mark.parametrize(("method", "url", "body"), OPERATIONS)
def test_no_credentials_is_401(client, method, url, body):
    response = client.open(url, method=method.upper(), json=body)
    assert response.status_code == 401
    assert response.json["title"] == "Unauthorized"


@pytest.mark.parametrize(("method", "url", "body"), OPERATIONS)
def test_without_permission_is_403(app, client, method, url, body):
    add_pools(app, Pool(pool="p", slots=1))
    response = client.open(url, method=method.upper(), json=body, headers=basic_auth("test_no_permissions"))
    assert response.status_code == 403
    assert response.json["title"] == "Forbidden"
    assert len(stored_pools(app)) == 2


@pytest.mark.parametrize(
    ("method", "url", "body", "status"),
    [
        ("get", "/api/v1/pools", None, 200),
        ("post", "/api/v1/pools", {"name": "x", "slots": 1}, 403),
        ("delete", "/api/v1/pools/p", None, 403),
    ],
)
def test_viewer_reads_but_cannot_write(app, client, method, url, body, status):
    add_pools(app, Pool(pool="p", slots=1))
    assert client.open(url, method=method.upper(), json=body, headers=basic_auth("viewer")).status_code == status
