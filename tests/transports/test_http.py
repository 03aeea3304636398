"""The HTTP API on a real server: queries, events and paging, chain, state, errors, auth."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import sys
from pathlib import Path

import httpx
import pydantic
import pytest

from chaincrawler.chain.types import Block
from chaincrawler.client import (
    ApiError,
    AsyncClient,
    CaughtUp,
    Client,
    CursorFileError,
    EventsFrame,
    RollbackFrame,
    StreamMessage,
    StreamView,
)
from chaincrawler.eventstore import EventQuery
from chaincrawler.examples.balances import AddressBalances
from chaincrawler.examples.stored_balances import StoredAddressBalances
from chaincrawler.models import Event, Model, on, query
from chaincrawler.transports.options import ApiOptions
from tests.transports.conftest import Serve


class Failing(Model):
    """A model whose query raises: the API must answer 500 naming it, not crash."""

    @query
    def boom(self, x: int = 1) -> int:
        """Always raises."""
        raise RuntimeError("secret internals")


def _top_address(served_models: list[Model]) -> str:
    balances = next(m for m in served_models if isinstance(m, AddressBalances))
    return max(balances.balances.items(), key=lambda item: item[1])[0]


async def test_queries_get_and_post_answer_the_models_state_with_the_tip(serve: Serve) -> None:
    served = await serve()
    address = _top_address(served.crawler.models)
    balances = next(m for m in served.crawler.models if isinstance(m, AddressBalances))
    tip = served.crawler.tip
    assert tip is not None
    async with AsyncClient(served.url) as api:
        posted = await api.query("address_balances", "balance", address=address)
        assert posted.result == {"address": address, "balance": balances.balances[address],
                                 "tx_count": balances.tx_counts[address]}
        assert posted.at.tip is not None and posted.at.tip.hash == tip.hash
        assert posted.at.finalized_height == tip.height - 20
        assert posted.at.position == await served.store.max_position()
        top = await api.query("address_balances", "top", n=2)
        assert top.result[0]["address"] == address
        chain_tip = await api.query("chain", "tip")
        assert chain_tip.result["hash"] == tip.hash
    async with httpx.AsyncClient(base_url=served.url) as http:
        got = (await http.get("/v1/models/address_balances/queries/top", params={"n": 2})).json()
        assert got["result"] == top.result


async def test_events_pages_follow_the_cursor_and_equal_the_store(serve: Serve) -> None:
    served = await serve()
    stored = await served.store.read_events(EventQuery(model="address_balances"))
    async with AsyncClient(served.url) as api:
        first = await api.events(model="address_balances", limit=5)
        assert len(first.events) == 5 and first.next_cursor is not None
        paged = [e async for e in api.iter_events(model="address_balances", limit=7)]
        assert [(e.position, e.payload) for e in paged] == [
            (e.position, json.loads(e.payload)) for e in stored]
        newest = await api.events(model="address_balances", order="desc", limit=3)
        assert [e.position for e in newest.events] == [e.position for e in stored[::-1][:3]]
        typed = await api.events(event_types=["BlockConnected"], from_height=100, to_height=101)
        assert [e.payload["height"] for e in typed.events] == [100, 101]
        same_model = await api._get("/v1/models/chain/events", type(first), {"limit": 3})
        assert all(e.model == "chain" for e in same_model.events)


async def test_state_chain_models_and_a_reorg_with_its_rolled_back_events(serve: Serve) -> None:
    served = await serve()
    async with AsyncClient(served.url) as api:
        models = await api.models()
        names = [m.name for m in models.models]
        assert names == ["chain", "address_balances"]
        balances_info = models.models[1]
        assert balances_info.events == (await served.store.max_position()) - models.models[0].events
        top = next(q for q in balances_info.queries if q.name == "top")
        assert top.params_schema["properties"]["n"]["maximum"] == 1000
        state = await api.state("address_balances")
        model = served.crawler.models[1]
        assert state.state == json.loads(model.state_json())

        await served.gen.reorg(2, 3)
        await served.synced()
        chain = await api.chain()
        assert chain.tip is not None and chain.tip.hash == served.crawler.tip.hash  # type: ignore[union-attr]
        assert [b.height for b in chain.window] == sorted(b.height for b in chain.window)
        (reorg,) = chain.reorgs
        assert reorg.depth == 2
        detail = await api.reorg(reorg.id)
        assert len(detail.orphaned_blocks) == 2
        rolled = [e async for e in api.iter_events(reorg_id=reorg.id, limit=2)]
        assert len(rolled) == reorg.rolled_back_events
        assert {e.status for e in rolled} == {"rolled_back"}
        with_rolled = await api.events(include_rolled_back=True, limit=1000)
        active = await api.events(limit=1000)
        assert len(with_rolled.events) == len(active.events) + reorg.rolled_back_events


@pytest.mark.parametrize(("path", "status", "code"), [
    ("/v1/models/nope/queries/top", 404, "unknown_model"),
    ("/v1/models/address_balances/queries/nope", 404, "unknown_query"),
    ("/v1/models/address_balances/queries/top?n=0", 400, "invalid_params"),
    ("/v1/models/address_balances/queries/top?n=abc", 400, "invalid_params"),
    ("/v1/models/address_balances/queries/top?n=1&n=2", 400, "invalid_params"),
    ("/v1/models/address_balances/queries/top?bogus=1", 400, "invalid_params"),
    ("/v1/models/address_balances/queries/balance", 400, "invalid_params"),
    ("/v1/events?limit=1001", 400, "invalid_request"),
    ("/v1/events?limit=0", 400, "invalid_request"),
    ("/v1/events?from_position=-1", 400, "invalid_request"),
    ("/v1/events?cursor=%%%", 400, "bad_cursor"),
    ("/v1/events?order=sideways", 400, "invalid_request"),
    ("/v1/events?model=nope", 404, "unknown_model"),
    ("/v1/models/nope/state", 404, "unknown_model"),
    ("/v1/chain/reorgs/999", 404, "unknown_reorg"),
    ("/v1/chain/reorgs/abc", 400, "invalid_request"),
    # Past a 64-bit integer: a 4xx, never the database's overflow as a 5xx.
    ("/v1/events?event_type=Block%00Connected", 400, "invalid_request"),
    (f"/v1/events?from_position={2**64}", 400, "invalid_request"),
    (f"/v1/events?to_height={2**64}", 400, "invalid_request"),
    (f"/v1/events?reorg_id={2**64}", 400, "invalid_request"),
    (f"/v1/models/address_balances/events?from_height={2**64}", 400, "invalid_request"),
    (f"/v1/chain/reorgs/{2**64}", 400, "invalid_request"),
    (f"/v1/models/address_balances/state?height={2**64}", 400, "invalid_request"),
    ("/v1/no/such/path", 404, "not_found"),
])
async def test_bad_requests_get_a_4xx_with_the_error_shape(serve: Serve, path: str, status: int,
                                                          code: str) -> None:
    served = await serve(blocks=1)
    async with httpx.AsyncClient(base_url=served.url) as http:
        response = await http.get(path)
    assert response.status_code == status
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code and body["error"]["message"]


async def test_bad_post_bodies_and_methods_are_4xx(serve: Serve) -> None:
    served = await serve(blocks=1)
    path = "/v1/models/address_balances/queries/top"
    async with httpx.AsyncClient(base_url=served.url) as http:
        for content in (b"not json", b"[1, 2]", b'{"n": "many"}', b'{"n": 5, "x": 1}'):
            response = await http.post(path, content=content)
            assert response.status_code == 400, content
            assert response.json()["error"]["code"] in ("invalid_json", "invalid_params")
        assert (await http.post(path, content=b"")).status_code == 200  # defaults apply
        deleted = await http.delete("/v1/events")
        assert deleted.status_code == 405
        assert deleted.json()["error"]["code"] == "method_not_allowed"


async def test_a_query_that_raises_is_a_500_naming_model_and_query(
        serve: Serve, caplog: pytest.LogCaptureFixture) -> None:
    served = await serve(blocks=1, models=[AddressBalances(), Failing()])
    async with AsyncClient(served.url) as api:
        with pytest.raises(ApiError) as raised:
            await api.query("failing", "boom")
    error = raised.value
    assert (error.status, error.code) == (500, "query_failed")
    assert "'boom'" in error.message and "'failing'" in error.message
    assert error.details == {"model": "failing", "query": "boom"}
    assert "secret internals" not in error.message  # the traceback stays in the log


async def test_bearer_tokens_guard_everything_but_health(serve: Serve) -> None:
    served = await serve(blocks=1, options=ApiOptions(tokens=["s3cret", "other"]))
    async with httpx.AsyncClient(base_url=served.url) as http:
        assert (await http.get("/v1/health")).status_code == 200
        for path in ("/v1/models", "/v1/events", "/v1/metrics",
                     "/v1/models/chain/queries/tip"):
            response = await http.get(path)
            assert response.status_code == 401, path
            assert response.json()["error"]["code"] == "unauthorized"
            wrong = await http.get(path, headers={"Authorization": "Bearer s3cre"})
            assert wrong.status_code == 401
        for token in ("s3cret", "other"):
            ok = await http.get("/v1/models", headers={"Authorization": f"Bearer {token}"})
            assert ok.status_code == 200
    async with AsyncClient(served.url, token="s3cret") as api:
        assert (await api.query("chain", "tip")).result is not None
    async with AsyncClient(served.url) as api:
        with pytest.raises(ApiError, match="bearer token"):
            await api.models()


async def test_cors_origins_are_allowed_only_when_configured(serve: Serve) -> None:
    served = await serve(blocks=1, options=ApiOptions(cors_origins=["http://app.example"]))
    async with httpx.AsyncClient(base_url=served.url) as http:
        preflight = await http.options("/v1/models", headers={
            "Origin": "http://app.example", "Access-Control-Request-Method": "GET"})
        assert preflight.headers["access-control-allow-origin"] == "http://app.example"
        other = await http.get("/v1/models", headers={"Origin": "http://evil.example"})
        assert "access-control-allow-origin" not in other.headers


async def test_ready_metrics_and_openapi(serve: Serve) -> None:
    served = await serve(blocks=2)
    await served.gen.reorg(1, 2)
    await served.synced()
    tip = served.crawler.tip
    assert tip is not None
    async with AsyncClient(served.url) as api:
        ready = await api.ready()
        assert ready.ready and ready.store_open and ready.lag == 0
        assert ready.upstream_height == tip.height
        text = await api.metrics()
    values = {line.split(" ")[0]: float(line.split(" ")[1]) for line in text.splitlines()
              if line and not line.startswith("#")}
    assert values["chaincrawler_tip_height"] == tip.height
    assert values["chaincrawler_node_height"] == tip.height
    assert values["chaincrawler_lag_blocks"] == 0
    assert values["chaincrawler_reorgs_total"] == 1
    assert values["chaincrawler_reorg_depth_count"] == 1
    assert values["chaincrawler_blocks_committed_total"] >= 2
    assert values["chaincrawler_transactions_committed_total"] >= 2 * 4
    assert values["chaincrawler_commit_seconds_count"] >= 1
    assert values["chaincrawler_rollback_seconds_count"] == 1
    assert values["chaincrawler_stream_clients"] == 0
    counted = sum(v for k, v in values.items() if k.startswith("chaincrawler_model_events{"))
    assert counted == len(await served.store.read_events(EventQuery()))
    async with httpx.AsyncClient(base_url=served.url) as http:
        schema = (await http.get("/v1/openapi.json")).json()
    top = schema["paths"]["/v1/models/address_balances/queries/top"]
    assert top["get"]["parameters"][0]["name"] == "n"
    result = top["post"]["responses"]["200"]["content"]["application/json"]["schema"]
    item_ref = result["properties"]["result"]["items"]["$ref"]
    assert item_ref.rsplit("/", 1)[1] in schema["components"]["schemas"]


async def test_the_sync_client_reads_queries_and_streams(serve: Serve) -> None:
    served = await serve(blocks=1)
    tip = served.crawler.tip
    assert tip is not None
    active = len(await served.store.read_events(EventQuery()))

    def use() -> None:
        with Client(served.url) as api:
            assert api.health().status == "ok"
            assert api.ready().ready
            assert "chaincrawler_tip_height" in api.metrics()
            assert api.query("chain", "tip").result["hash"] == tip.hash
            assert api.state("chain").state["tip_hash"] == tip.hash
            assert len(list(api.iter_events(limit=50))) == active
            assert api.chain().tip is not None and api.reorgs().reorgs == []
            assert [m.name for m in api.models().models] == ["chain", "address_balances"]
            view = StreamView()
            for message in api.stream(after=0):
                view.apply(message)
                if isinstance(message, CaughtUp):
                    break
            assert len(view.events) == active
            with pytest.raises(ApiError) as raised:
                api.reorg(42)
            assert raised.value.status == 404

    await asyncio.to_thread(use)


class Heights(Event):
    height: int


class Counter(Model):
    """Counts blocks, yielding to the event loop in every block (queries may run then)."""

    highest: int = -1

    async def process_block(self, block: Block) -> None:
        await asyncio.sleep(0)
        self.apply(Heights(height=block.height or 0))

    @on(Heights)
    def _seen(self, event: Heights) -> None:
        self.highest = event.height

    @query
    def highest_height(self) -> int:
        """The highest block processed."""
        return self.highest


async def test_queries_during_catch_up_see_only_committed_state(serve: Serve) -> None:
    served = await serve(blocks=1, models=[AddressBalances(), Counter()])
    crawler = served.crawler
    crawler.options = dataclasses.replace(crawler.options, catchup_batch_blocks=7)
    seen: list[tuple[int, int]] = []

    async def hammer(api: AsyncClient, stop: asyncio.Event) -> None:
        while not stop.is_set():
            answer = await api.query("counter", "highest_height")
            assert answer.at.tip is not None
            seen.append((answer.result, answer.at.tip.height))

    async with AsyncClient(served.url) as api:
        stop = asyncio.Event()
        task = asyncio.create_task(hammer(api, stop))
        await served.gen.mine(40)  # one catch-up of several batches
        await served.synced()
        stop.set()
        await task
    assert seen
    assert all(result == tip for result, tip in seen)  # never a block beyond the tip


async def test_a_client_killed_and_restarted_with_its_cursor_file_loses_nothing(
        serve: Serve, tmp_path: Path) -> None:
    served = await serve()
    cursor, out = tmp_path / "cursor.json", tmp_path / "messages.jsonl"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}

    async def start() -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.transports.cursor_client", served.url, str(cursor),
            str(out), env=env, stderr=asyncio.subprocess.PIPE)

    parse: pydantic.TypeAdapter[StreamMessage] = pydantic.TypeAdapter(StreamMessage)

    def messages() -> list[StreamMessage]:
        lines = out.read_text().splitlines() if out.exists() else []
        return [parse.validate_json(line) for line in lines]

    async def caught_up_with_store(after: int) -> None:
        """Until the client wrote, after its first ``after`` messages, that it caught up
        with everything the store holds."""
        last = await served.store.max_position()
        async with asyncio.timeout(30):
            while not any(isinstance(m, CaughtUp) and m.upto >= last
                          for m in messages()[after:]):
                await asyncio.sleep(0.05)

    first = await start()
    await caught_up_with_store(0)
    before = await served.store.max_position()
    await served.gen.fill(1, 2)
    await served.synced()
    async with asyncio.timeout(30):  # killed once live events arrived
        while not any(isinstance(m, EventsFrame) and m.upto > before for m in messages()):
            await asyncio.sleep(0.01)
    first.kill()
    await first.wait()
    assert json.loads(cursor.read_text())["position"] >= before
    seen = len(messages())
    await served.gen.fill(1, 2)
    await served.synced()
    await served.gen.reorg(2, 3)  # rolls back events the dead client had seen
    await served.synced()
    second = await start()
    try:
        await caught_up_with_store(seen)
    finally:
        second.kill()
        await second.wait()
    resumed = messages()[seen:]
    assert any(isinstance(m, RollbackFrame) for m in resumed)
    first_event = min(e.position for m in resumed if isinstance(m, EventsFrame)
                      for e in m.events)
    assert first_event > 1  # it resumed from the file, not from the start
    view = StreamView()
    for message in messages():
        view.apply(message)
    stored = await served.store.read_events(EventQuery())
    assert {p: (e.model, e.payload) for p, e in view.events.items()} == {
        e.position: (e.model, json.loads(e.payload)) for e in stored}


async def test_a_cursor_file_of_other_models_is_refused_before_connecting(
        tmp_path: Path) -> None:
    cursor = tmp_path / "cursor.json"
    cursor.write_text(json.dumps({"position": 7, "reorg": 0, "models": ["chain"]}))
    async with AsyncClient("http://127.0.0.1:9") as api:
        with pytest.raises(CursorFileError, match="is for models \\['chain'\\]"):
            await anext(api.stream(["address_balances"], cursor_file=cursor))
        cursor.write_text("{")
        with pytest.raises(CursorFileError, match="unreadable"):
            await anext(api.stream(["chain"], cursor_file=cursor))


async def test_a_stored_query_for_a_key_no_store_can_hold_answers_it_is_absent(
        serve: Serve) -> None:
    served = await serve(blocks=1, models=[AddressBalances(), StoredAddressBalances()])
    async with AsyncClient(served.url) as api:
        result = await api.query("stored_address_balances", "balance", address="bc\x00rt1")
    assert result.result == {"address": "bc\x00rt1", "balance": 0, "tx_count": 0}
