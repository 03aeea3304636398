"""Queries: model methods exposed to transports with ``@query``.

Parameters are described by a JSON schema built from the method's annotations and
validated by pydantic before the method runs; the result is dumped to JSON-ready
Python (dicts, lists, str, int...) by pydantic, so sets, bytes (base64), Decimal,
dataclasses and pydantic models are fine to return. A query reads state and must not
change it: a plain method reads in-memory state; an ``async def`` one may also await
``StoredDict.fetch`` to read stored collections (run it with ``Model.arun_query``).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar, overload

import pydantic
import pydantic_core

from chaincrawler.models.errors import ModelDefinitionError, QueryParamsError, describe_validation

F = TypeVar("F", bound=Callable[..., Any])

_MARK = "__chaincrawler_query__"


@overload
def query(func: F, /) -> F: ...
@overload
def query(*, name: str | None = None) -> Callable[[F], F]: ...


def query(func: F | None = None, /, *, name: str | None = None) -> F | Callable[[F], F]:
    """Expose a model method to transports, as ``@query`` or ``@query(name="...")``.

    The method's docstring becomes the query's description; its annotated
    parameters (no ``*args``/``**kwargs``) become the query's parameters.
    """

    def mark(f: F) -> F:
        params = list(inspect.signature(f).parameters.values())[1:]
        for p in params:
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD, p.POSITIONAL_ONLY):
                raise ModelDefinitionError(
                    f"query {f.__qualname__}: parameter {p.name!r} must be a plain or "
                    "keyword-only parameter (queries are called with named parameters)"
                )
        qname = name or f.__name__
        if not qname.isidentifier():
            raise ModelDefinitionError(f"query name {qname!r} is not a valid identifier")
        setattr(f, _MARK, qname)
        return f

    return mark(func) if func is not None else mark


def query_name(obj: object) -> str | None:
    """The query name ``obj`` was marked with, or None if it is not a query."""
    value = getattr(obj, _MARK, None)
    return value if isinstance(value, str) else None


@dataclass(frozen=True)
class QuerySpec:
    """A query as transports see it: name, description and JSON schemas.

    ``params_schema`` is a JSON schema object for the parameters;
    ``result_schema`` describes the result (None when the method has no
    return annotation); ``is_async`` says the method is ``async def``.
    """

    name: str
    method: str
    description: str
    params_schema: dict[str, Any]
    result_schema: dict[str, Any] | None
    is_async: bool
    _params: type[pydantic.BaseModel] = field(repr=False, compare=False)
    _names: tuple[tuple[str, str], ...] = field(repr=False, compare=False)

    def validate(self, params: dict[str, Any]) -> dict[str, Any]:
        """Validated keyword arguments for the method; QueryParamsError otherwise."""
        if not isinstance(params, dict):
            raise QueryParamsError(
                f"query {self.name!r}: parameters must be an object, not {type(params).__name__}",
                [],
            )
        try:
            obj = self._params.model_validate(params)
        except pydantic.ValidationError as exc:
            raw = exc.errors(include_url=False)
            errors: list[dict[str, object]] = [
                {"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in raw
            ]
            raise QueryParamsError(
                f"query {self.name!r}: invalid parameters: {describe_validation(exc)}", errors
            ) from None
        return {arg: getattr(obj, f) for f, arg in self._names}


def build_spec(
    qname: str, func: Callable[..., Any], model: str, hints: dict[str, Any]
) -> QuerySpec:
    """Describe ``func`` (a model method) as the query ``qname`` of ``model``.

    ``hints`` are its resolved annotations (``typing.get_type_hints``).
    """
    fields: dict[str, Any] = {}
    names: list[tuple[str, str]] = []
    params = list(inspect.signature(func).parameters.values())[1:]
    for i, p in enumerate(params):
        tp = hints.get(p.name, Any)
        default = ... if p.default is p.empty else p.default
        fields[f"p{i}"] = (tp, pydantic.Field(default, alias=p.name))
        names.append((f"p{i}", p.name))
    params_model = pydantic.create_model(
        f"{model}.{qname}", __config__=pydantic.ConfigDict(extra="forbid"), **fields
    )
    ret = hints.get("return")
    result_schema = None
    if ret is not None and ret is not type(None):
        result_schema = pydantic.TypeAdapter(ret).json_schema()
    return QuerySpec(
        name=qname,
        method=func.__name__,
        description=inspect.cleandoc(func.__doc__ or ""),
        params_schema=params_model.model_json_schema(),
        result_schema=result_schema,
        is_async=inspect.iscoroutinefunction(func),
        _params=params_model,
        _names=tuple(names),
    )


def to_json_value(value: Any) -> Any:
    """``value`` as JSON-ready Python (pydantic's rules; bytes as base64)."""
    return pydantic_core.to_jsonable_python(value, bytes_mode="base64")
