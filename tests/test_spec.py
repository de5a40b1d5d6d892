"""The contract file itself: every operation routed, summarised, and erroring with problem documents."""
from __future__ import annotations

import re
from collections import Counter

import pytest
import yaml

from app.paths import spec_path

METHODS = ("get", "put", "post", "patch", "delete")
ERROR_REF = "#/components/schemas/Error"


def _load_spec() -> dict:
    with spec_path().open() as f:
        return yaml.safe_load(f)


SPEC = _load_spec()
OPERATIONS = [
    (path, method, op)
    for path, item in SPEC["paths"].items()
    for method, op in item.items()
    if method in METHODS
]
OPERATION_IDS = [f"{method.upper()} {path}" for path, method, _ in OPERATIONS]


def _resolve(node: dict) -> dict:
    while "$ref" in node:
        target = SPEC
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def _parameters(path: str, method: str) -> dict[str, dict]:
    item = SPEC["paths"][path]
    merged = item.get("parameters", []) + item[method].get("parameters", [])
    return {p["name"]: p for p in map(_resolve, merged)}


def test_counts_match_airflow_v1():
    assert len(SPEC["paths"]) == 62
    assert len(OPERATIONS) == 89


def test_operation_ids_are_unique():
    counts = Counter(op["operationId"] for _, _, op in OPERATIONS)
    assert [name for name, n in counts.items() if n > 1] == []


def test_auth_is_not_connexions_business():
    assert SPEC["security"] == []


@pytest.mark.parametrize(("path", "method", "op"), OPERATIONS, ids=OPERATION_IDS)
def test_operation_is_routed_tagged_and_summarised(path, method, op):
    assert re.fullmatch(r"[a-z_]+", op["operationId"])
    assert re.fullmatch(r"app\.endpoints\.[a-z_]+_endpoint", op["x-openapi-router-controller"])
    assert op["tags"]
    assert op["summary"].strip()
    assert "\n" not in op["summary"]


@pytest.mark.parametrize(("path", "method", "op"), OPERATIONS, ids=OPERATION_IDS)
def test_error_responses_are_problem_documents(path, method, op):
    for code, response in op["responses"].items():
        if int(code) < 400:
            continue
        content = _resolve(response)["content"]
        assert content == {"application/json": {"schema": {"$ref": ERROR_REF}}}, code


@pytest.mark.parametrize(("path", "method", "op"), OPERATIONS, ids=OPERATION_IDS)
def test_every_path_template_has_a_path_parameter(path, method, op):
    declared = {name for name, p in _parameters(path, method).items() if p["in"] == "path"}
    assert declared == set(re.findall(r"{(\w+)}", path))


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("/variables/{variable_key}", "variable_key"),
        ("/datasets/{uri}", "uri"),
        ("/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/xcomEntries/{xcom_key}", "xcom_key"),
    ],
)
def test_slash_carrying_path_parameters_use_the_path_format(path, name):
    assert _parameters(path, "get")[name]["schema"] == {"type": "string", "format": "path"}


def test_update_mask_is_comma_separated():
    mask = SPEC["components"]["parameters"]["UpdateMask"]
    assert (mask["style"], mask["explode"], mask["schema"]["type"]) == ("form", False, "array")


@pytest.mark.parametrize(
    "path",
    ["/config", "/config/section/{section}/option/{option}", "/dagSources/{file_token}",
     "/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/logs/{task_try_number}"],
)
def test_text_endpoints_offer_json_and_plain_text(path):
    content = SPEC["paths"][path]["get"]["responses"]["200"]["content"]
    assert set(content) == {"application/json", "text/plain"}
