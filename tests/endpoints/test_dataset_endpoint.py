"""/datasets and /datasets/{uri}."""
from __future__ import annotations

from urllib.parse import quote

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Dataset
from tests.conftest import basic_auth, count_queries
from tests.dags.helpers import dag_folder, problem  # noqa: F401

FILES = {
    "producer": """\
        dag_id: producer
        tasks: [{task_id: write, outlets: ['s3://bucket/raw', 's3://bucket/clean']}]
    """,
    "consumer": """\
        dag_id: consumer
        schedule: {datasets: ['s3://bucket/clean']}
        tasks: [{task_id: read}]
    """,
}


@pytest.fixture
def datasets(app, dag_folder):  # noqa: F811
    dag_folder.process(**FILES)
    with app.app_context():
        return {d.uri: d for d in db.session.execute(select(Dataset)).scalars()}


def dataset_json(dataset: Dataset) -> dict:
    return {
        "id": dataset.id,
        "uri": dataset.uri,
        "extra": {},
        "created_at": dataset.created_at.isoformat(),
        "updated_at": dataset.updated_at.isoformat(),
        "consuming_dags": [
            {"dag_id": r.dag_id, "created_at": r.created_at.isoformat(), "updated_at": r.updated_at.isoformat()}
            for r in dataset.consuming_dags
        ],
        "producing_tasks": [
            {"dag_id": r.dag_id, "task_id": r.task_id, "created_at": r.created_at.isoformat(),
             "updated_at": r.updated_at.isoformat()}
            for r in dataset.producing_tasks
        ],
        "aliases": [],
    }


def test_lists_datasets(client, admin_headers, datasets):
    response = client.get("/api/v1/datasets", headers=admin_headers)
    assert response.status_code == 200
    clean, raw = datasets["s3://bucket/clean"], datasets["s3://bucket/raw"]
    assert response.json == {"datasets": [dataset_json(clean), dataset_json(raw)], "total_entries": 2}
    assert [r["dag_id"] for r in response.json["datasets"][0]["consuming_dags"]] == ["consumer"]
    assert [r["task_id"] for r in response.json["datasets"][1]["producing_tasks"]] == ["write"]


@pytest.mark.parametrize(
    ("query", "uris", "total"),
    [
        ("?order_by=-id", ["s3://bucket/raw", "s3://bucket/clean"], 2),
        ("?order_by=uri", ["s3://bucket/clean", "s3://bucket/raw"], 2),
        ("?uri_pattern=RAW", ["s3://bucket/raw"], 1),
        ("?dag_ids=consumer", ["s3://bucket/clean"], 1),
        ("?dag_ids=producer,nope", ["s3://bucket/clean", "s3://bucket/raw"], 2),
        ("?dag_ids=nope", [], 0),
        ("?limit=1&offset=1", ["s3://bucket/raw"], 2),
    ],
)
def test_filters(client, admin_headers, datasets, query, uris, total):
    response = client.get(f"/api/v1/datasets{query}", headers=admin_headers)
    assert [d["uri"] for d in response.json["datasets"]] == uris
    assert response.json["total_entries"] == total


def test_bad_order_by(client, admin_headers):
    response = client.get("/api/v1/datasets?order_by=extra", headers=admin_headers)
    assert response.json == problem(
        400, "Bad Request", "Ordering with 'extra' is disallowed or the attribute does not exist on the model",
        "/api/v1/datasets",
    )


def test_get_one(client, admin_headers, datasets):
    response = client.get(f"/api/v1/datasets/{quote('s3://bucket/clean', safe='')}", headers=admin_headers)
    assert response.status_code == 200
    assert response.json == dataset_json(datasets["s3://bucket/clean"])


def test_not_found(client, admin_headers):
    response = client.get(f"/api/v1/datasets/{quote('s3://nope', safe='')}", headers=admin_headers)
    assert response.status_code == 404
    assert response.json["title"] == "Dataset not found"
    assert response.json["detail"] == "The Dataset with uri: `s3://nope` was not found"


def test_constant_queries(app, client, admin_headers, datasets):
    client.get("/api/v1/datasets", headers=admin_headers)  # warm the login cache
    counts = []
    for extra in (0, 40):
        with app.app_context():
            db.session.add_all(Dataset(uri=f"s3://more/{n}", extra={}) for n in range(extra))
            db.session.commit()
        with count_queries(app) as counter:
            response = client.get("/api/v1/datasets", headers=admin_headers)
        assert response.json["total_entries"] == 2 + extra
        counts.append(counter.count)
    assert counts[0] == counts[1]


@pytest.mark.parametrize("url", ["/api/v1/datasets", f"/api/v1/datasets/{quote('s3://bucket/raw', safe='')}"])
def test_access(client, datasets, url):
    assert client.get(url).status_code == 401
    assert client.get(url, headers=basic_auth("test_no_permissions")).status_code == 403
    assert client.get(url, headers=basic_auth("viewer")).status_code == 200
