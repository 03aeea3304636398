"""The HTTP API (``/v1``) and the dashboard (``/``): one ASGI app over a ``StateSource``.

``create_app(source, options)`` returns a FastAPI app; serve it with uvicorn or mount
it in your own app. Read-only: every route is a GET, except queries, which also take
POST with a JSON body. Every response says which committed state it reflects
(``at``: tip, position, finalized height); every error is
``{"error": {"code", "message", "details"}}``.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Awaitable, Callable
from importlib import resources
from typing import Annotated, Any, Literal, TypeVar

import structlog
from fastapi import APIRouter, Depends, FastAPI, Query, Request, WebSocket
from fastapi import Path as FastApiPath
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from chaincrawler.eventstore import BlockRecord, EventQuery
from chaincrawler.models import Model
from chaincrawler.models.query import QuerySpec
from chaincrawler.transports.auth import TokenCheck
from chaincrawler.transports.errors import ApiError
from chaincrawler.transports.history import History
from chaincrawler.transports.live import check_query, find_model, run_query
from chaincrawler.transports.mempool_api import MAX_POSITION, mempool_router
from chaincrawler.transports.metrics import Metrics, active_event_count
from chaincrawler.transports.openapi import query_operation
from chaincrawler.transports.options import ApiOptions
from chaincrawler.transports.schemas import (
    At,
    BlockOut,
    ChainOut,
    ErrorBody,
    EventOut,
    EventsPage,
    Health,
    ModelCount,
    ModelInfo,
    ModelsOut,
    QueryInfo,
    Ready,
    ReorgDetail,
    ReorgOut,
    ReorgsOut,
    StateOut,
    StatusOut,
    Tip,
)
from chaincrawler.transports.source import StateSource, View
from chaincrawler.transports.stream import StreamHub, StreamSession

log = structlog.get_logger(__name__)

T = TypeVar("T")

MAX_PAGE = 1000
"""Most events one page may hold."""

READY_LAG = 1
"""Most blocks behind what the source follows for ``/v1/ready`` to say ready (at the tip,
the block being processed)."""


_BEARER = HTTPBearer(auto_error=False, description="One of the tokens configured.")

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "Bad request"},
    401: {"model": ErrorBody, "description": "Missing or wrong bearer token"},
    404: {"model": ErrorBody, "description": "Unknown model, query, reorg or path"},
}

_AT_HEIGHT_ERRORS: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorBody, "description": "The store lacks the snapshot that height needs"},
    503: {"model": ErrorBody, "description": "A reorg kept replacing the block: ask again"},
}


def create_app(source: StateSource, options: ApiOptions | None = None) -> FastAPI:
    """The ASGI app serving ``source``: ``/v1`` API, ``/v1/stream``, dashboard at ``/``."""
    options = options or ApiOptions()
    tokens = TokenCheck(options.tokens)
    metrics = Metrics(source)
    source.subscribe(metrics.on_notice)
    hub = StreamHub(source, buffer=options.stream_buffer,
                    on_clients=metrics.stream_clients.set)
    app = FastAPI(
        title="chaincrawler", version="1",
        description="Models' state, events and queries at the committed tip.",
        openapi_url="/v1/openapi.json", docs_url="/v1/docs", redoc_url=None,
    )
    app.state.hub = hub
    app.state.source = source
    if options.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=list(options.cors_origins),
                           allow_methods=["GET", "POST"],
                           allow_headers=["Authorization", "Content-Type"])
    _install_error_handlers(app)

    async def authorized(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_BEARER)],
    ) -> None:
        tokens.check(None if credentials is None else credentials.credentials)

    @app.get("/v1/health", response_model=Health, tags=["service"])
    async def health() -> Health:
        """The process is alive (no auth)."""
        return Health(status="ok")

    api = APIRouter(prefix="/v1", dependencies=[Depends(authorized)], responses=_ERRORS)
    _service_routes(api, source, metrics, hub)
    _event_routes(api, source)
    _chain_routes(api, source)
    history = History(source)
    _model_routes(api, source, history)
    api.include_router(mempool_router(source))
    app.include_router(api)
    components = _query_routes(app, source, history, authorized)
    _extend_openapi(app, components)

    @app.websocket("/v1/stream")
    async def stream(ws: WebSocket) -> None:
        await StreamSession(ws, hub, tokens, options.heartbeat_interval).run()

    dashboard = resources.files("chaincrawler.transports") / "dashboard"
    app.mount("/", StaticFiles(directory=str(dashboard), html=True), name="dashboard")
    return app


def _at(source: StateSource) -> At:
    return At.of(source.view())


def _service_routes(api: APIRouter, source: StateSource, metrics: Metrics,
                    hub: StreamHub) -> None:
    @api.get("/ready", response_model=Ready, tags=["service"],
             responses={503: {"model": Ready, "description": "Not ready"}})
    async def ready() -> JSONResponse:
        """Ready (200, else 503) when the store is open and the committed tip at most
        ``READY_LAG`` blocks behind what the source follows (``lag``)."""
        at = _at(source)
        upstream = await source.upstream_height()
        tip = source.view().tip
        lag = None if upstream is None else upstream - (tip.height if tip else -1)
        store_open = source.store.is_open
        caught_up = lag is not None and lag <= READY_LAG
        body = Ready(at=at, ready=store_open and caught_up, store_open=store_open,
                     following=source.following, upstream_height=upstream, lag=lag)
        return JSONResponse(body.model_dump(mode="json"), status_code=200 if body.ready else 503)

    @api.get("/metrics", tags=["service"], response_class=Response,
             responses={200: {"content": {"text/plain": {}}}})
    async def prometheus() -> Response:
        """Prometheus text exposition."""
        return Response(await metrics.render(),
                        media_type="text/plain; version=0.0.4; charset=utf-8")

    @api.get("/status", response_model=StatusOut, tags=["service"])
    async def status() -> StatusOut:
        """What the dashboard shows: tip and lag, models and their events, recent reorgs."""
        at = _at(source)
        upstream = await source.upstream_height()
        tip = source.view().tip
        counts = [ModelCount(name=m.name, events=await active_event_count(source.store, m.name))
                  for m in source.models]
        reorgs = [ReorgOut.of(r) for r in await source.store.reorgs(limit=10)]
        return StatusOut(
            at=at, following=source.following, upstream_height=upstream,
            lag=None if upstream is None else upstream - (tip.height if tip else -1),
            models=counts, reorgs=reorgs, stream_clients=len(hub.subscribers))


def _decode_cursor(cursor: str, order: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor.encode() + b"==").decode()
        direction, _, position = text.partition(":")
        if direction != order:
            raise ValueError(f"the cursor is for order={direction}")
        return int(position)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise ApiError(400, "bad_cursor", f"invalid cursor {cursor!r}: pass back a "
                       f"next_cursor with the same order ({exc})") from None


def _encode_cursor(order: str, position: int) -> str:
    return base64.urlsafe_b64encode(f"{order}:{position}".encode()).decode().rstrip("=")


NonNegative = Annotated[int | None, Query(ge=0, le=MAX_POSITION)]


def _event_routes(api: APIRouter, source: StateSource) -> None:
    async def page(
        model: str | None, from_position: int | None, to_position: int | None,
        from_height: int | None, to_height: int | None, event_type: list[str] | None,
        include_rolled_back: bool, reorg_id: int | None, limit: int,
        cursor: str | None, order: Literal["asc", "desc"],
    ) -> EventsPage:
        if model is not None:
            find_model(source, model)
        if event_type and any("\x00" in t for t in event_type):
            # No stored type holds one, and PostgreSQL refuses the character outright.
            raise ApiError(400, "invalid_request", "an event_type holds a NUL character",
                           {"event_type": event_type})
        view = source.view()
        top = view.position if to_position is None else min(to_position, view.position)
        if cursor is not None:
            last = _decode_cursor(cursor, order)
            if order == "asc":
                from_position = max(from_position or 0, last + 1)
            else:
                top = min(top, last - 1)
        query = EventQuery(
            model=model, event_types=tuple(event_type) if event_type else None,
            from_position=from_position, to_position=top, from_height=from_height,
            to_height=to_height, include_rolled_back=include_rolled_back, reorg_id=reorg_id,
            limit=limit + 1, order=order,
        )
        events = await source.store.read_events(query)
        more = len(events) > limit
        events = events[:limit]
        next_cursor = _encode_cursor(order, events[-1].position) if more and events else None
        return EventsPage(at=At.of(view), events=[EventOut.of(e) for e in events],
                          next_cursor=next_cursor)

    @api.get("/events", response_model=EventsPage, tags=["events"])
    async def events(
        model: str | None = None,
        from_position: NonNegative = None, to_position: NonNegative = None,
        from_height: NonNegative = None, to_height: NonNegative = None,
        event_type: Annotated[list[str] | None, Query()] = None,
        include_rolled_back: bool = False, reorg_id: NonNegative = None,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
        cursor: str | None = None, order: Literal["asc", "desc"] = "asc",
    ) -> EventsPage:
        """Events in position order (bounds inclusive), active only unless
        ``include_rolled_back``; ``reorg_id`` gives the events one reorg rolled back."""
        return await page(model, from_position, to_position, from_height, to_height,
                          event_type, include_rolled_back, reorg_id, limit, cursor, order)

    @api.get("/models/{model}/events", response_model=EventsPage, tags=["events"])
    async def model_events(
        model: str,
        from_position: NonNegative = None, to_position: NonNegative = None,
        from_height: NonNegative = None, to_height: NonNegative = None,
        event_type: Annotated[list[str] | None, Query()] = None,
        include_rolled_back: bool = False, reorg_id: NonNegative = None,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
        cursor: str | None = None, order: Literal["asc", "desc"] = "asc",
    ) -> EventsPage:
        """One model's events (as ``/v1/events?model=``)."""
        return await page(model, from_position, to_position, from_height, to_height,
                          event_type, include_rolled_back, reorg_id, limit, cursor, order)


def _chain_routes(api: APIRouter, source: StateSource) -> None:
    @api.get("/chain", response_model=ChainOut, tags=["chain"])
    async def chain(reorgs: Annotated[int, Query(ge=0, le=MAX_PAGE)] = 10) -> ChainOut:
        """The stored chain: tip, the window of the last max_reorg_depth blocks, reorgs."""
        view = source.view()
        store = source.store
        window = await store.chain_window(source.max_reorg_depth)
        if view.tip is not None:
            window = [b for b in window if b.height <= view.tip.height]
        recent = await store.reorgs(limit=reorgs) if reorgs else []
        return ChainOut(at=At.of(view), tip=BlockOut.of(window[-1]) if window else None,
                        window=[BlockOut.of(b) for b in window],
                        reorgs=[ReorgOut.of(r) for r in recent])

    @api.get("/chain/reorgs", response_model=ReorgsOut, tags=["chain"])
    async def reorgs(limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100) -> ReorgsOut:
        """The most recent reorgs, newest first."""
        return ReorgsOut(at=_at(source),
                         reorgs=[ReorgOut.of(r) for r in await source.store.reorgs(limit)])

    @api.get("/chain/reorgs/{reorg_id}", response_model=ReorgDetail, tags=["chain"])
    async def reorg(reorg_id: Annotated[int, FastApiPath(ge=0, le=MAX_POSITION)]) -> ReorgDetail:
        """One reorg and its orphaned blocks; its events: ``/v1/events?reorg_id=``."""
        at = _at(source)
        found = [r for r in await source.store.reorgs(limit=10_000) if r.id == reorg_id]
        if not found:
            raise ApiError(404, "unknown_reorg", f"no reorg {reorg_id}")
        orphans = await source.store.orphaned_blocks(reorg_id=reorg_id, limit=MAX_PAGE)
        return ReorgDetail(at=at, reorg=ReorgOut.of(found[0]),
                           orphaned_blocks=[BlockOut.of(b) for b in orphans])


def _query_info(spec: QuerySpec) -> QueryInfo:
    return QueryInfo(name=spec.name, description=spec.description,
                     params_schema=spec.params_schema, result_schema=spec.result_schema)


def _model_routes(api: APIRouter, source: StateSource, history: History) -> None:
    @api.get("/models", response_model=ModelsOut, tags=["models"])
    async def models() -> ModelsOut:
        """Every model served, with its event count and its queries' JSON schemas."""
        at = _at(source)
        return ModelsOut(at=at, models=[
            ModelInfo(name=m.name, events=await active_event_count(source.store, m.name),
                      queries=[_query_info(s) for s in m.queries().values()])
            for m in source.models
        ])

    @api.get("/models/{model}/state", response_model=StateOut, tags=["models"],
             responses=_AT_HEIGHT_ERRORS)
    async def state(model: str, height: NonNegative = None) -> StateOut:
        """The model's plain state attributes at the committed tip, or at ``height``
        within the window (finalized height to tip; else 400 ``height_outside_window``).
        Stored collections are read with queries."""
        found = find_model(source, model)
        block, view, text = await _at_height(source, history, found, height,
                                             _state_json)
        return StateOut(at=At.of(view), block=Tip.of(block), model=model,
                        state=json.loads(text))


async def _state_json(model: Model) -> str:
    return model.state_json()


async def _at_height(source: StateSource, history: History, model: Model,
                     height: int | None, answer: Callable[[Model], Awaitable[T]],
                     ) -> tuple[BlockRecord | None, View, T]:
    """``answer`` on ``model`` at the committed tip (``height`` None or the tip's), else on
    its state at ``height``: the block it reflects, the view answered at, the answer."""
    async with source.committed() as view:
        tip = view.tip
        if height is None or (tip is not None and tip.height == height):
            return tip, view, await answer(model)
    block, result = await history.run(model, height, answer)
    return block, source.view(), result


def _query_routes(app: FastAPI, source: StateSource, history: History,
                  authorized: Any) -> dict[str, Any]:
    """A GET and a POST route per query, with its schemas, at the tip and at a height;
    returns their components."""
    components: dict[str, Any] = {}

    async def execute(model_name: str, query: str, params: dict[str, Any],
                      height: int | None = None) -> JSONResponse:
        model = find_model(source, model_name)
        if height is not None:
            check_query(model, query, params)  # before restoring a state at the height

        async def answer(at: Model) -> Any:
            return await run_query(at, query, params)

        block, view, result = await _at_height(source, history, model, height, answer)
        return JSONResponse({"at": At.of(view).model_dump(), "block": _tip_json(block),
                             "model": model_name, "query": query, "result": result})

    def routes(model_name: str, spec: QuerySpec) -> None:
        path = f"/v1/models/{model_name}/queries/{spec.name}"

        async def get(request: Request) -> JSONResponse:
            return await execute(model_name, spec.name, _query_string(spec, request))

        async def post(request: Request) -> JSONResponse:
            return await execute(model_name, spec.name, await _json_body(request))

        async def get_at(request: Request) -> JSONResponse:
            return await execute(model_name, spec.name, _query_string(spec, request),
                                 _height(request))

        async def post_at(request: Request) -> JSONResponse:
            return await execute(model_name, spec.name, await _json_body(request),
                                 _height(request))

        for method, handler, at_height in (("GET", get, False), ("POST", post, False),
                                           ("GET", get_at, True), ("POST", post_at, True)):
            where = "_at" if at_height else ""
            app.add_api_route(
                f"/v1/models/{model_name}/at/{{height}}/queries/{spec.name}" if at_height
                else path, handler, methods=[method], tags=["queries"],
                summary=f"{model_name}.{spec.name}" + (" at a height" if at_height else ""),
                description=spec.description,
                operation_id=f"{model_name}_{spec.name}{where}_{method.lower()}",
                dependencies=[Depends(authorized)],
                responses={**_ERRORS, **_AT_HEIGHT_ERRORS,
                           500: {"model": ErrorBody, "description": "The query raised"}},
                openapi_extra=query_operation(model_name, spec, method, components,
                                              at_height),
            )

    for model in source.models:
        for spec in model.queries().values():
            routes(model.name, spec)

    async def unknown(model: str, query: str) -> JSONResponse:
        await run_query(find_model(source, model), query, {})  # raises the 404
        raise ApiError(404, "unknown_query", f"no query {query!r}")  # pragma: no cover

    async def unknown_at(model: str, height: str, query: str) -> JSONResponse:
        return await unknown(model, query)

    for path, handler in (("/v1/models/{model}/queries/{query}", unknown),
                          ("/v1/models/{model}/at/{height}/queries/{query}", unknown_at)):
        app.add_api_route(path, handler, methods=["GET", "POST"], include_in_schema=False,
                          dependencies=[Depends(authorized)])
    return components


def _tip_json(block: BlockRecord | None) -> dict[str, Any] | None:
    tip = Tip.of(block)
    return None if tip is None else tip.model_dump()


def _height(request: Request) -> int:
    text = request.path_params["height"]
    if not text.isdigit():
        raise ApiError(400, "invalid_request", f"height must be a non-negative integer, "
                       f"not {text!r}", [{"loc": ["path", "height"]}])
    return int(text)


def _query_string(spec: QuerySpec, request: Request) -> dict[str, Any]:
    """Query parameters from a query string: lists repeat the key; objects are JSON."""
    props: dict[str, Any] = spec.params_schema.get("properties", {})
    params: dict[str, Any] = {}
    for name in request.query_params:
        values = request.query_params.getlist(name)
        kind = props.get(name, {}).get("type")
        if kind == "array":
            params[name] = values
            continue
        if len(values) > 1:
            raise ApiError(400, "invalid_params", f"parameter {name!r} given more than once")
        value: Any = values[0]
        if kind == "object":
            try:
                value = json.loads(value)
            except ValueError:
                raise ApiError(400, "invalid_params",
                               f"parameter {name!r} must be a JSON object") from None
        params[name] = value
    return params


async def _json_body(request: Request) -> dict[str, Any]:
    body = await request.body()
    if not body.strip():
        return {}
    try:
        params = json.loads(body)
    except ValueError:
        raise ApiError(400, "invalid_json", "the request body is not JSON") from None
    if not isinstance(params, dict):
        raise ApiError(400, "invalid_params", "the request body must be a JSON object "
                       "of the query's parameters")
    return params


def _install_error_handlers(app: FastAPI) -> None:
    async def api_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiError)
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return JSONResponse(exc.body(), status_code=exc.status, headers=headers)

    async def invalid(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        details = [{"loc": list(e.get("loc", ())), "msg": e.get("msg"), "type": e.get("type")}
                   for e in exc.errors()]
        message = "; ".join(f"{'.'.join(map(str, d['loc']))}: {d['msg']}" for d in details)
        return JSONResponse(ApiError(400, "invalid_request", message, details).body(), 400)

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return JSONResponse(ApiError(exc.status_code, code, str(exc.detail)).body(),
                            exc.status_code, headers=exc.headers)

    async def crashed(request: Request, exc: Exception) -> JSONResponse:
        log.error("request failed", path=request.url.path, exc_info=exc)
        return JSONResponse(ApiError(500, "internal_error", "internal error (see the server "
                                     "log)").body(), 500)

    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, crashed)


def _extend_openapi(app: FastAPI, components: dict[str, Any]) -> None:
    """Add the queries' parameter and result schemas to the generated OpenAPI schema."""
    default = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = default()
            schema.setdefault("components", {}).setdefault("schemas", {}).update(components)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
