"""Every operation of openapi.yaml, its handler, and a request that passes request validation.

The access tests use these to send each operation a well-formed request, so that what answers is
authentication and authorization, not Connexion's validation.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field

import yaml

from app.paths import spec_path

METHODS = ("get", "put", "post", "patch", "delete")
SPEC = yaml.safe_load(spec_path().read_text())


def resolve(node: dict) -> dict:
    while "$ref" in node:
        target = SPEC
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def example(schema: dict):
    """A small value that satisfies `schema`: required properties only, first enum/oneOf choice."""
    schema = resolve(schema)
    if "allOf" in schema:
        merged: dict = {}
        for part in schema["allOf"]:
            value = example(part)
            if isinstance(value, dict):
                merged.update(value)
        return merged
    for key in ("oneOf", "anyOf"):
        if key in schema:
            return example(schema[key][0])
    if "enum" in schema:
        return next(value for value in schema["enum"] if value is not None)
    kind = schema.get("type", "object")
    if kind == "object":
        properties = schema.get("properties", {})
        return {name: example(properties[name]) for name in schema.get("required", [])}
    if kind == "array":
        return [example(schema.get("items", {})) for _ in range(schema.get("minItems", 0))]
    if kind in ("integer", "number"):
        return max(schema.get("minimum", 1), 1)
    if kind == "boolean":
        return False
    if schema.get("format") == "date-time":
        return "2024-01-01T00:00:00+00:00"
    return "x" * max(schema.get("minLength", 1), 1)


@dataclass
class Operation:
    path: str
    method: str
    operation_id: str
    controller: str
    parameters: list[dict] = field(default_factory=list)
    body_schema: dict | None = None

    @property
    def id(self) -> str:
        return f"{self.operation_id} ({self.method.upper()} {self.path})"

    def handler(self):
        """The handler function, or None while its module or function is not written yet."""
        try:
            module = importlib.import_module(self.controller)
        except ModuleNotFoundError as exc:
            if exc.name and self.controller.startswith(exc.name):
                return None
            raise
        return getattr(module, self.operation_id, None)

    def url(self) -> str:
        path = self.path
        query = []
        for param in self.parameters:
            value = example(param.get("schema", {}))
            if param["in"] == "path":
                path = path.replace("{" + param["name"] + "}", str(value))
            elif param["in"] == "query" and param.get("required"):
                query.append(f"{param['name']}={value}")
        return "/api/v1" + path + ("?" + "&".join(query) if query else "")

    def request_kwargs(self) -> dict:
        kwargs: dict = {"method": self.method.upper(), "headers": {"Accept": "application/json"}}
        if self.body_schema is not None:
            kwargs["json"] = example(self.body_schema)
        return kwargs


def operations() -> list[Operation]:
    found = []
    for path, item in SPEC["paths"].items():
        for method, op in item.items():
            if method not in METHODS:
                continue
            body = op.get("requestBody")
            found.append(
                Operation(
                    path=path,
                    method=method,
                    operation_id=op["operationId"],
                    controller=op["x-openapi-router-controller"],
                    parameters=[resolve(p) for p in item.get("parameters", []) + op.get("parameters", [])],
                    body_schema=resolve(body)["content"]["application/json"]["schema"] if body else None,
                )
            )
    return found


OPERATIONS = operations()
PUBLIC_OPERATIONS = {"get_health", "get_version"}
