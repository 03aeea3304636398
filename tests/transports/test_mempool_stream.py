"""Stored mempool events over HTTP (``/v1/mempool/events``) and the WebSocket stream
(``"mempool"`` in the subscribe request): their own positions, replay then live."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect

from chaincrawler.client import AsyncClient, MempoolCaughtUp, MempoolEventsFrame
from chaincrawler.eventstore import PendingMempoolEvent
from tests.transports.conftest import Serve, Served

TXIDS = [f"{i:02x}" * 32 for i in range(1, 6)]


async def append(served: Served, model: str, *txids: str) -> None:
    await served.store.append_mempool_events([
        PendingMempoolEvent(model, "Seen", 1, json.dumps({"txid": t, "b": 1, "a": 2}), t)
        for t in txids
    ])


async def frames_until(ws: ClientConnection, kind: str) -> list[dict[str, Any]]:
    """Frames up to and including the first of type ``kind`` (heartbeats left out)."""
    seen: list[dict[str, Any]] = []
    async with asyncio.timeout(20):
        while True:
            frame = json.loads(await ws.recv())
            if frame["type"] != "heartbeat":
                seen.append(frame)
            if frame["type"] == kind:
                return seen


def positions(frames: list[dict[str, Any]]) -> list[int]:
    return [e["position"] for f in frames if f["type"] == "mempool_events" for e in f["events"]]


async def test_mempool_events_are_listed_by_position_and_paged(serve: Serve) -> None:
    served = await serve(blocks=1)
    await append(served, "address_balances", *TXIDS[:2])
    await append(served, "chain", TXIDS[2])
    async with httpx.AsyncClient(base_url=served.url) as http:
        page = (await http.get("/v1/mempool/events", params={"limit": 2})).json()
        assert [e["position"] for e in page["events"]] == [1, 2]
        assert (page["next_after"], page["last_position"]) == (2, 3)
        assert page["events"][0]["payload"] == {"txid": TXIDS[0], "b": 1, "a": 2}
        assert page["events"][0]["block_height"] is None
        rest = (await http.get("/v1/mempool/events", params={"after": 2})).json()
        assert [e["txid"] for e in rest["events"]] == [TXIDS[2]]
        assert rest["next_after"] is None
        one = (await http.get("/v1/mempool/events", params={"model": "chain"})).json()
        assert [e["model"] for e in one["events"]] == ["chain"]
        by_tx = (await http.get("/v1/mempool/events", params={"txid": TXIDS[1]})).json()
        assert [e["position"] for e in by_tx["events"]] == [2]
        unknown = await http.get("/v1/mempool/events", params={"model": "nope"})
        assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "unknown_model"
        for bad in ({"txid": "xyz"}, {"after": -1}, {"limit": 0}, {"after": 2**64}):
            refused = await http.get("/v1/mempool/events", params=bad)
            assert refused.status_code == 400, bad
            assert refused.json()["error"]["code"] == "invalid_request", bad


async def test_the_stream_replays_then_follows_mempool_events(serve: Serve) -> None:
    served = await serve(blocks=1)
    await append(served, "address_balances", *TXIDS[:2])
    await append(served, "chain", TXIDS[2])
    ws_url = served.url.replace("http://", "ws://") + "/v1/stream"
    async with connect(ws_url) as ws, connect(ws_url) as only_chain:
        await ws.send(json.dumps({"op": "subscribe", "after": "now", "mempool": {"after": 1}}))
        replayed = await frames_until(ws, "mempool_caught_up")
        assert [f["type"] for f in replayed][:2] == ["hello", "caught_up"]
        assert positions(replayed) == [2, 3]
        assert replayed[-1]["upto"] == 3 and "tip" in replayed[-1]["at"]
        await only_chain.send(json.dumps({"op": "subscribe", "after": "now",
                                          "mempool": {"after": "now", "models": ["chain"]}}))
        assert positions(await frames_until(only_chain, "mempool_caught_up")) == []
        await append(served, "address_balances", TXIDS[3])
        await append(served, "chain", TXIDS[4])
        live = await frames_until(ws, "mempool_events")
        while positions(live)[-1:] != [5]:
            live += await frames_until(ws, "mempool_events")
        assert positions(live) == [4, 5]
        assert live[-1]["upto"] == 5
        filtered = await frames_until(only_chain, "mempool_events")
        while filtered[-1]["upto"] < 5:
            filtered += await frames_until(only_chain, "mempool_events")
        assert [e["txid"] for f in filtered for e in f.get("events", [])
                if f["type"] == "mempool_events"] == [TXIDS[4]]


async def test_a_bad_mempool_request_is_refused(serve: Serve) -> None:
    served = await serve(blocks=1)
    ws_url = served.url.replace("http://", "ws://") + "/v1/stream"
    async with connect(ws_url) as ws:
        assert json.loads(await ws.recv())["type"] == "hello"
        for bad, code in (({"after": -1}, "bad_message"), ("yes", "bad_message"),
                          ({"models": ["nope"]}, "unknown_model")):
            await ws.send(json.dumps({"op": "subscribe", "mempool": bad}))
            frame = json.loads(await ws.recv())
            assert frame["type"] == "error" and frame["error"]["code"] == code, bad


async def test_the_client_streams_mempool_events_and_keeps_their_position(
    serve: Serve, tmp_path: Path
) -> None:
    served = await serve(blocks=1)
    await append(served, "address_balances", *TXIDS[:2])
    cursor_file = tmp_path / "cursor.json"
    async with AsyncClient(served.url) as api:
        page = await api.mempool_events(after=1)
        assert [e.txid for e in page.events] == [TXIDS[1]]

        async def mempool_until(upto: int) -> list[str | None]:
            seen: list[str | None] = []
            async with asyncio.timeout(20):
                async for message in api.stream(["address_balances"], after=0, mempool=0,
                                                cursor_file=cursor_file):
                    if isinstance(message, MempoolEventsFrame):
                        seen += [e.txid for e in message.events]
                    # A message's position is saved once the next one is asked for.
                    if isinstance(message, MempoolCaughtUp) and message.upto >= upto:
                        return seen
            raise AssertionError("unreachable")

        assert await mempool_until(2) == TXIDS[:2]
        await append(served, "address_balances", TXIDS[2])
        await append(served, "chain", TXIDS[3])
        # Started again with its cursor file, the stream resumes after position 2.
        assert await mempool_until(4) == [TXIDS[2]]
    # The file holds a position past the last event handled: it is not sent again.
    assert json.loads(cursor_file.read_text())["mempool"] >= 3
