"""Queries: discovery with JSON schemas, parameter validation, JSON-ready results."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Annotated, Literal

import pydantic
import pytest

from chaincrawler.models import (
    Model,
    ModelDefinitionError,
    QueryError,
    QueryParamsError,
    UnknownQueryError,
    query,
)


@dataclasses.dataclass
class Entry:
    key: str
    raw: bytes


class Store(Model):
    values: dict[str, int] = {"a": 3, "b": 1, "c": 2}  # noqa: RUF012

    @query
    def get(self, key: str) -> int | None:
        """The value stored under ``key``."""
        return self.values.get(key)

    @query
    def top(
        self, n: Annotated[int, pydantic.Field(ge=1, le=100)] = 2,
        order: Literal["asc", "desc"] = "desc",
    ) -> list[str]:
        """Keys by value."""
        keys = sorted(self.values, key=self.values.__getitem__, reverse=order == "desc")
        return keys[:n]

    @query(name="everything")
    def dump(self):
        return {
            "keys": set(self.values), "entry": Entry("k", b"\xff\x00"), "amount": Decimal("1.5"),
        }

    def not_exposed(self) -> int:
        return 1


def test_queries_lists_decorated_methods_with_description_and_schemas():
    specs = Store.queries()
    assert set(specs) == {"get", "top", "everything"}
    get = specs["get"]
    assert get.description == "The value stored under ``key``."
    assert get.params_schema["properties"] == {"key": {"title": "Key", "type": "string"}}
    assert get.params_schema["required"] == ["key"]
    assert get.result_schema == {"anyOf": [{"type": "integer"}, {"type": "null"}]}
    top = specs["top"].params_schema["properties"]
    assert top["n"] == {"default": 2, "maximum": 100, "minimum": 1, "title": "N", "type": "integer"}
    assert top["order"]["enum"] == ["asc", "desc"]
    assert specs["everything"].result_schema is None


def test_run_query_validates_and_returns_results():
    store = Store()
    assert store.run_query("get", {"key": "a"}) == 3
    assert store.run_query("get", {"key": "zz"}) is None
    assert store.run_query("top") == ["a", "c"]
    assert store.run_query("top", {"n": "3", "order": "asc"}) == ["b", "c", "a"]


def test_results_are_json_ready():
    result = Store().run_query("everything", {})
    assert sorted(result["keys"]) == ["a", "b", "c"]
    assert result["entry"] == {"key": "k", "raw": "_wA="}
    assert result["amount"] == "1.5"


@pytest.mark.parametrize(
    ("name", "params", "message"),
    [
        ("get", {}, "key: Field required"),
        ("get", {"key": "a", "extra": 1}, "extra: Extra inputs are not permitted"),
        ("top", {"n": 0}, "n: Input should be greater than or equal to 1"),
        ("top", {"n": "many"}, "n: Input should be a valid integer"),
        ("top", {"order": "up"}, "order: Input should be 'asc' or 'desc'"),
    ],
)
def test_bad_parameters_raise_query_params_error_naming_the_parameter(name, params, message):
    with pytest.raises(QueryParamsError, match=f"query '{name}': invalid parameters") as info:
        Store().run_query(name, params)
    assert message in str(info.value)
    assert info.value.errors and info.value.errors[0]["loc"]


def test_parameters_must_be_an_object():
    with pytest.raises(QueryParamsError, match="must be an object"):
        Store().run_query("get", ["a"])  # type: ignore[arg-type]


def test_unknown_query_lists_the_known_ones():
    known = r"'store' has no query 'nope' \(known: everything, get, top\)"
    with pytest.raises(UnknownQueryError, match=known):
        Store().run_query("nope", {})


def test_query_signatures_that_cannot_be_called_by_name_are_rejected():
    with pytest.raises(ModelDefinitionError, match="parameter 'args'"):

        class Bad(Model):
            @query
            def q(self, *args: int) -> int:
                return 0


def test_a_subclass_inherits_queries():
    class More(Store):
        @query
        def size(self) -> int:
            return len(self.values)

    assert set(More.queries()) == {"get", "top", "everything", "size"}
    assert More().run_query("size") == 3


class Later(Model):
    values: dict[str, int] = {"a": 3}  # noqa: RUF012

    @query
    async def get(self, key: str) -> int | None:
        """An async query: what reads stored collections looks like."""
        return self.values.get(key)


async def test_an_async_query_is_awaited_by_arun_query_and_refused_by_run_query() -> None:
    later = Later()
    assert Later.queries()["get"].is_async and not Store.queries()["get"].is_async
    assert await later.arun_query("get", {"key": "a"}) == 3
    assert await Store().arun_query("get", {"key": "a"}) == 3  # a sync one too
    with pytest.raises(QueryError, match=r"is async: await model\.arun_query"):
        later.run_query("get", {"key": "a"})
    with pytest.raises(QueryParamsError):
        await later.arun_query("get", {"key": 1, "extra": 2})
