"""The models' queries in the OpenAPI schema: parameters and results from their specs."""

from __future__ import annotations

import copy
from typing import Any

from chaincrawler.models.query import QuerySpec

_REF = "#/$defs/"
_COMPONENTS = "#/components/schemas/"


def lift_defs(schema: dict[str, Any], prefix: str,
              components: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with its ``$defs`` moved into ``components`` (names get ``prefix``)."""
    schema = copy.deepcopy(schema)
    defs = schema.pop("$defs", {})

    def rewrite(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith(_REF):
                node["$ref"] = _COMPONENTS + prefix + ref[len(_REF):]
            for value in node.values():
                rewrite(value)
        elif isinstance(node, list):
            for value in node:
                rewrite(value)
        return node

    for name, definition in defs.items():
        components[prefix + name] = rewrite(definition)
    return rewrite(schema)  # type: ignore[no-any-return]


def query_operation(model: str, spec: QuerySpec, method: str,
                    components: dict[str, Any]) -> dict[str, Any]:
    """The ``openapi_extra`` of one query route: its parameters and its result."""
    prefix = f"{model}__{spec.name}__"
    params = lift_defs(spec.params_schema, prefix, components)
    result = (lift_defs(spec.result_schema, prefix, components)
              if spec.result_schema is not None else {})
    envelope = {
        "type": "object",
        "required": ["at", "model", "query", "result"],
        "properties": {
            "at": {"$ref": _COMPONENTS + "At"},
            "model": {"type": "string"},
            "query": {"type": "string"},
            "result": result,
        },
    }
    operation: dict[str, Any] = {
        "responses": {"200": {"description": "The query's result at the committed tip.",
                              "content": {"application/json": {"schema": envelope}}}},
    }
    if method == "GET":
        required = set(params.get("required", []))
        operation["parameters"] = [
            {"name": name, "in": "query", "required": name in required, "schema": prop}
            for name, prop in params.get("properties", {}).items()
        ]
    else:
        operation["requestBody"] = {
            "required": False,
            "content": {"application/json": {"schema": params}},
        }
    return operation
