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


def query_operation(model: str, spec: QuerySpec, method: str, components: dict[str, Any],
                    at_height: bool = False) -> dict[str, Any]:
    """The ``openapi_extra`` of one query route: its parameters and its result (and the
    ``height`` path parameter of the route at a height)."""
    prefix = f"{model}__{spec.name}__"
    params = lift_defs(spec.params_schema, prefix, components)
    result = (lift_defs(spec.result_schema, prefix, components)
              if spec.result_schema is not None else {})
    envelope = {
        "type": "object",
        "required": ["at", "block", "model", "query", "result"],
        "properties": {
            "at": {"$ref": _COMPONENTS + "At"},
            "block": {"anyOf": [{"$ref": _COMPONENTS + "Tip"}, {"type": "null"}]},
            "model": {"type": "string"},
            "query": {"type": "string"},
            "result": result,
        },
    }
    where = "at the block at ``height``" if at_height else "at the committed tip"
    operation: dict[str, Any] = {
        "responses": {"200": {"description": f"The query's result {where}.",
                              "content": {"application/json": {"schema": envelope}}}},
    }
    parameters: list[dict[str, Any]] = []
    if at_height:
        parameters.append({"name": "height", "in": "path", "required": True,
                           "schema": {"type": "integer", "minimum": 0}})
    if method == "GET":
        required = set(params.get("required", []))
        parameters += [
            {"name": name, "in": "query", "required": name in required, "schema": prop}
            for name, prop in params.get("properties", {}).items()
        ]
    else:
        operation["requestBody"] = {
            "required": False,
            "content": {"application/json": {"schema": params}},
        }
    if parameters:
        operation["parameters"] = parameters
    return operation
