"""Live queries: a ``@query`` with parameters, re-run after each commit and rollback.

Identical subscriptions (same model, query and parameters) share one run; each
subscriber is pushed the result only when it differs from the last one it got.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import structlog

from chaincrawler.eventstore.errors import HistoryPrunedError
from chaincrawler.models import Model
from chaincrawler.models.errors import QueryParamsError
from chaincrawler.transports.errors import ApiError
from chaincrawler.transports.schemas import At
from chaincrawler.transports.source import StateSource, View

log = structlog.get_logger(__name__)

Push = Callable[[dict[str, Any]], None]


def find_model(source: StateSource, name: str) -> Model:
    """The served model ``name``; ApiError 404 otherwise."""
    for model in source.models:
        if model.name == name:
            return model
    known = ", ".join(m.name for m in source.models)
    raise ApiError(404, "unknown_model", f"no model {name!r} (served: {known})")


def check_query(model: Model, name: str, params: dict[str, Any]) -> dict[str, Any]:
    """The query's validated arguments; ApiError 404 (unknown query) or 400 otherwise."""
    spec = model.queries().get(name)
    if spec is None:
        known = ", ".join(sorted(model.queries())) or "none"
        raise ApiError(404, "unknown_query",
                       f"model {model.name!r} has no query {name!r} (known: {known})")
    try:
        return spec.validate(params)
    except QueryParamsError as exc:
        raise ApiError(400, "invalid_params", str(exc), exc.errors) from None


async def run_query(model: Model, name: str, params: dict[str, Any]) -> Any:
    """Run a query at the state the caller holds (awaited if ``async def``); 4xx for bad
    input or a stored read outside the reorg window, 500 if it raises."""
    kwargs = check_query(model, name, params)
    try:
        return await model.arun_query(name, kwargs)
    except HistoryPrunedError as exc:
        raise ApiError(400, "height_outside_window", str(exc)) from None
    except ApiError:
        raise  # a source refusing the read (a reader's tip replaced by a reorg)
    except Exception:
        log.exception("query failed", model=model.name, query=name)
        raise ApiError(500, "query_failed",
                       f"query {name!r} of model {model.name!r} raised an error "
                       "(see the server log)", {"model": model.name, "query": name}) from None


@dataclass
class _Shared:
    model: Model
    query: str
    params: dict[str, Any]
    # subscriber key -> (push, subscription id, last result text sent)
    subscribers: dict[tuple[int, str], tuple[Push, str, str | None]] = field(default_factory=dict)


class LiveQueries:
    """Every live query of every stream client of one source."""

    def __init__(self, source: StateSource) -> None:
        self._source = source
        self._shared: dict[tuple[str, str, str], _Shared] = {}

    def __len__(self) -> int:
        return sum(len(s.subscribers) for s in self._shared.values())

    async def add(self, client: int, push: Push, sub_id: str, model_name: str, query: str,
                  params: dict[str, Any]) -> None:
        """Subscribe and push the current result; ApiError for a bad query or parameters."""
        model = find_model(self._source, model_name)
        if not isinstance(params, dict):
            raise ApiError(400, "invalid_params", "live query parameters must be an object")
        key = (model_name, query, json.dumps(params, sort_keys=True))
        async with self._source.committed() as view:
            result = await run_query(model, query, params)
        shared = self._shared.setdefault(key, _Shared(model, query, params))
        text = _text(result)
        shared.subscribers[(client, sub_id)] = (push, sub_id, text)
        push(_frame(sub_id, view, result))

    def remove(self, client: int, sub_id: str) -> bool:
        """Drop one subscription; False if there was none."""
        found = False
        for key, shared in list(self._shared.items()):
            if shared.subscribers.pop((client, sub_id), None) is not None:
                found = True
            if not shared.subscribers:
                del self._shared[key]
        return found

    def drop_client(self, client: int) -> None:
        """Drop every subscription of a disconnected client."""
        for key, shared in list(self._shared.items()):
            for sub in [s for s in shared.subscribers if s[0] == client]:
                del shared.subscribers[sub]
            if not shared.subscribers:
                del self._shared[key]

    async def refresh(self) -> None:
        """Re-run every live query at the committed state; push what changed."""
        if not self._shared:
            return
        async with self._source.committed() as view:
            results: list[tuple[_Shared, Any, ApiError | None]] = []
            for shared in list(self._shared.values()):
                try:
                    results.append((shared, await run_query(shared.model, shared.query,
                                                            shared.params), None))
                except ApiError as exc:
                    results.append((shared, None, exc))
        for shared, result, error in results:
            text = "" if error else _text(result)
            for sub, (push, sub_id, last) in list(shared.subscribers.items()):
                if text == last:
                    continue
                shared.subscribers[sub] = (push, sub_id, text)
                if error is not None:
                    push({"type": "error", "id": sub_id, **error.body()})
                else:
                    push(_frame(sub_id, view, result))


def _text(result: Any) -> str:
    return json.dumps(result, sort_keys=True, separators=(",", ":"))


def _frame(sub_id: str, view: View, result: Any) -> dict[str, Any]:
    return {"type": "live", "id": sub_id, "at": At.of(view).model_dump(), "result": result}
