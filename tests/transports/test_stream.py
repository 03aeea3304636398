"""The WebSocket stream on a real server: replay then live, reorgs, resume, slow clients."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import struct
from collections.abc import AsyncIterator
from typing import Any

import pytest
from websockets.asyncio.client import connect

from chaincrawler.chain.types import Block
from chaincrawler.client import (
    AsyncClient,
    CaughtUp,
    Cursor,
    EventsFrame,
    RollbackFrame,
    StreamClosed,
    StreamMessage,
    StreamView,
)
from chaincrawler.eventstore import EventQuery
from chaincrawler.examples.balances import AddressBalances
from chaincrawler.models import Event, Model, on
from chaincrawler.transports.options import ApiOptions
from chaincrawler.transports.stream import CLOSE_TOO_SLOW, CLOSE_UNAUTHORIZED
from tests.transports.conftest import Serve, Served


class Watcher:
    """Applies a stream to a view in the background; tracks the cursor it has seen."""

    def __init__(self, messages: AsyncIterator[StreamMessage]) -> None:
        self.view = StreamView()
        self.position = 0
        self.reorg = 0
        self.caught_up = asyncio.Event()
        self.rollbacks: list[RollbackFrame] = []
        self.order: list[str] = []
        self._messages = messages
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        async for message in self._messages:
            self.view.apply(message)
            if isinstance(message, EventsFrame):
                self.position = max(self.position, message.upto)
                self.order.extend(f"event:{e.block_height}" for e in message.events
                                  if e.event_type == "BlockConnected")
            elif isinstance(message, RollbackFrame):
                self.reorg = max(self.reorg, message.reorg.id)
                self.rollbacks.append(message)
                self.order.append(f"rollback:{message.reorg.fork_height}")
            elif isinstance(message, CaughtUp):
                self.position = max(self.position, message.upto)
                self.reorg = max(self.reorg, message.reorg)
                self.caught_up.set()

    async def reach(self, served: Served, timeout: float = 30.0) -> None:
        """Wait until the stream has delivered everything the store holds."""
        async with asyncio.timeout(timeout):
            await self.caught_up.wait()
            while True:
                if self.task.done():
                    self.task.result()
                reorgs = await served.store.reorgs(limit=1)
                if (self.position >= await served.store.max_position()
                        and self.reorg >= (reorgs[0].id if reorgs else 0)):
                    return
                await asyncio.sleep(0.02)

    async def stop(self) -> None:
        self.task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await self.task


def view_log(view: StreamView) -> dict[int, tuple[str, str, Any]]:
    return {p: (e.model, e.event_type, e.payload) for p, e in sorted(view.events.items())}


async def store_log(served: Served, after: int = 0) -> dict[int, tuple[str, str, Any]]:
    events = await served.store.read_events(EventQuery(from_position=after + 1))
    return {e.position: (e.model, e.event_type, json.loads(e.payload)) for e in events}


async def test_a_client_applying_the_stream_across_reorgs_holds_the_active_log(
        serve: Serve) -> None:
    served = await serve()
    async with AsyncClient(served.url) as api:
        watcher = Watcher(api.stream(after=0))
        await watcher.reach(served)
        assert view_log(watcher.view) == await store_log(served)
        await served.gen.fill(2, 3)
        await served.synced()  # the crawler holds the blocks the reorg orphans
        await served.gen.reorg(2, 3, double_spend=True)
        await served.synced()
        await served.gen.reorg(1, 2)
        await served.gen.fill(1, 2)
        await served.synced()
        await watcher.reach(served)
        await watcher.stop()
    assert len(watcher.rollbacks) == 2
    assert view_log(watcher.view) == await store_log(served)
    # each rollback notice came before the new branch's blocks
    first = watcher.rollbacks[0].reorg.fork_height
    at = watcher.order.index(f"rollback:{first}")
    assert f"event:{first + 1}" in watcher.order[at:]
    assert watcher.rollbacks[0].at.tip is not None
    assert watcher.rollbacks[0].at.tip.height == first


async def test_a_client_killed_and_resumed_from_its_cursor_loses_nothing(serve: Serve) -> None:
    served = await serve()
    async with AsyncClient(served.url) as api:
        first = Watcher(api.stream(after=0))
        await first.reach(served)
        await served.gen.fill(1, 2)
        await served.synced()
        await first.reach(served)
        await first.stop()  # killed: the server finds out on its next send
        cursor = Cursor(first.position, first.reorg)
        await served.gen.fill(1, 2)
        await served.synced()
        await served.gen.reorg(2, 3)  # rolls back events the dead client had seen
        await served.synced()
        second = Watcher(api.stream(after=cursor))
        second.view.events = dict(first.view.events)  # the client's persisted view
        await second.reach(served)
        await second.stop()
    assert second.rollbacks and second.rollbacks[0].reorg.depth == 2
    assert view_log(second.view) == await store_log(served)


async def test_one_hundred_clients_at_once_each_get_every_event(serve: Serve) -> None:
    served = await serve(blocks=1)
    start = await served.store.max_position()
    async with AsyncClient(served.url) as api:
        watchers = [Watcher(api.stream(after="now")) for _ in range(100)]
        async with asyncio.timeout(60):
            await asyncio.gather(*(w.caught_up.wait() for w in watchers))
        status = await api.status()
        assert status.stream_clients == 100
        await served.gen.fill(2, 3)
        await served.gen.reorg(1, 2)
        await served.synced()
        await asyncio.gather(*(w.reach(served) for w in watchers))
        expected = await store_log(served, after=start)
        for watcher in watchers:
            assert view_log(watcher.view) == expected
        for watcher in watchers:
            await watcher.stop()


async def test_a_subscription_to_one_model_gets_only_its_events(serve: Serve) -> None:
    served = await serve(blocks=1)
    async with AsyncClient(served.url) as api:
        watcher = Watcher(api.stream(models=["address_balances"], after=0))
        await served.gen.fill(1, 2)
        await served.gen.reorg(1, 2)
        await served.synced()
        await watcher.reach(served)
        await watcher.stop()
    expected = {p: e for p, e in (await store_log(served)).items() if e[0] == "address_balances"}
    assert view_log(watcher.view) == expected
    assert all(not r.positions or r.positions for r in watcher.rollbacks)


class Blob(Event):
    data: str


class Bulky(Model):
    """One big event per block: frames large enough to fill the socket buffers."""

    blocks: int = 0

    def process_block(self, block: Block) -> None:
        self.apply(Blob(data="x" * 1_000_000))

    @on(Blob)
    def _blob(self, event: Blob) -> None:
        self.blocks += 1


class RawWebSocket:
    """A WebSocket client that reads only when told (no background reading, tiny buffers)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def connect(cls, port: int, path: str) -> RawWebSocket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
        reader, writer = await asyncio.open_connection(sock=sock, limit=1024)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                     f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                     "Sec-WebSocket-Version: 13\r\n\r\n".encode())
        response = await reader.readuntil(b"\r\n\r\n")
        assert response.startswith(b"HTTP/1.1 101")
        return cls(reader, writer)

    def send_text(self, text: str) -> None:
        data = text.encode()
        mask = os.urandom(4)
        header = bytes([0x81, 0x80 | len(data)]) if len(data) < 126 else \
            bytes([0x81, 0x80 | 126]) + struct.pack("!H", len(data))
        self.writer.write(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

    async def recv(self) -> tuple[int, bytes]:
        """(opcode, payload) of the next frame."""
        first, second = await self.reader.readexactly(2)
        length = second & 0x7F
        if length == 126:
            (length,) = struct.unpack("!H", await self.reader.readexactly(2))
        elif length == 127:
            (length,) = struct.unpack("!Q", await self.reader.readexactly(8))
        return first & 0x0F, await self.reader.readexactly(length)

    def close(self) -> None:
        self.writer.close()


async def test_a_slow_client_is_closed_with_its_resume_cursor_and_resumes(serve: Serve) -> None:
    served = await serve(blocks=1, options=ApiOptions(stream_buffer=2),
                         models=[AddressBalances(), Bulky()])
    ws = await RawWebSocket.connect(served.server.port, "/v1/stream")
    frames: list[dict[str, Any]] = []
    try:
        ws.send_text(json.dumps({"op": "subscribe", "models": None, "after": "now"}))
        while not frames or frames[-1]["type"] != "caught_up":
            frames.append(json.loads((await ws.recv())[1]))
        for _ in range(12):  # one commit (and a 1 MB frame) per block; the client reads nothing
            await served.gen.mine(1)
            await served.synced()
        async with asyncio.timeout(30):
            while True:
                opcode, payload = await ws.recv()
                if opcode == 8:  # close
                    break
                frames.append(json.loads(payload))
    finally:
        ws.close()
    (code,) = struct.unpack("!H", payload[:2])
    assert code == CLOSE_TOO_SLOW
    resume = json.loads(payload[2:])
    received = [f for f in frames if f["type"] == "events"]
    start = next(f for f in frames if f["type"] == "caught_up")["upto"]
    assert 0 < len(received) < 12  # some frames were dropped with the client...
    assert resume["position"] == received[-1]["upto"]  # ...which resumes after the last it got
    view = StreamView()
    for frame in received:
        view.apply(EventsFrame.model_validate(frame))
    async with AsyncClient(served.url) as api:
        watcher = Watcher(api.stream(after=Cursor(resume["position"], resume["reorg"])))
        watcher.view = view
        await watcher.reach(served)
        await watcher.stop()
    assert view_log(watcher.view) == await store_log(served, after=start)


async def test_live_queries_push_changed_results_only(serve: Serve) -> None:
    served = await serve(blocks=1, options=ApiOptions(heartbeat_interval=0.3))
    ws_url = served.url.replace("http://", "ws://") + "/v1/stream"
    async with connect(ws_url) as ws:
        await ws.send(json.dumps({"op": "live", "id": "tip", "model": "chain", "query": "tip"}))
        await ws.send(json.dumps({"op": "live", "id": "nobody", "model": "address_balances",
                                  "query": "balance", "params": {"address": "bcrt1qnobody"}}))
        await ws.send(json.dumps({"op": "live", "id": "bad", "model": "address_balances",
                                  "query": "top", "params": {"n": 0}}))

        async def until(predicate: Any) -> list[dict[str, Any]]:
            seen = []
            async with asyncio.timeout(20):
                while True:
                    frame = json.loads(await ws.recv())
                    seen.append(frame)
                    if predicate(frame):
                        return seen

        first = await until(lambda f: f.get("id") == "bad")
        results = {f["id"]: f for f in first if f["type"] in ("live", "error")}
        assert results["tip"]["result"]["hash"] == served.crawler.tip.hash  # type: ignore[union-attr]
        assert results["nobody"]["result"]["balance"] == 0
        assert results["bad"]["type"] == "error"
        assert results["bad"]["error"]["code"] == "invalid_params"
        await served.gen.mine(1)
        await served.synced()
        pushed = await until(lambda f: f["type"] == "live" and f["id"] == "tip")
        assert pushed[-1]["result"]["hash"] == served.crawler.tip.hash  # type: ignore[union-attr]
        after = await until(lambda f: f["type"] == "heartbeat")
        # the unchanged balance was not pushed again
        assert not [f for f in pushed + after if f.get("id") == "nobody"]
        assert after[-1]["at"]["tip"]["height"] == served.crawler.tip.height  # type: ignore[union-attr]
    async with AsyncClient(served.url) as api:
        results = api.live("chain", "tip")
        now = await anext(results)
        assert now["hash"] == served.crawler.tip.hash  # type: ignore[union-attr]
        await served.gen.reorg(1, 2)
        await served.synced()
        async with asyncio.timeout(20):
            while now["hash"] != served.crawler.tip.hash:  # type: ignore[union-attr]
                now = await anext(results)
        await results.aclose()


async def test_stream_refuses_a_missing_token_and_bad_messages(serve: Serve) -> None:
    served = await serve(blocks=1, options=ApiOptions(tokens=["t0ken"]))
    async with AsyncClient(served.url) as api:
        with pytest.raises(StreamClosed) as refused:
            await anext(api.stream())
        assert refused.value.code == CLOSE_UNAUTHORIZED
    ws_url = served.url.replace("http://", "ws://") + "/v1/stream?token=t0ken"
    async with connect(ws_url) as ws:
        assert json.loads(await ws.recv())["type"] == "hello"
        for bad, code in (("nope", "bad_message"), ('{"op": "jump"}', "bad_message"),
                          ('{"op": "subscribe", "models": ["nope"]}', "unknown_model"),
                          ('{"op": "subscribe", "after": -3}', "bad_message"),
                          ('{"op": "unlive", "id": "x"}', "unknown_live_query")):
            await ws.send(bad)
            frame = json.loads(await ws.recv())
            assert frame["type"] == "error" and frame["error"]["code"] == code, bad
    async with AsyncClient(served.url, token="t0ken") as api:
        stream = api.stream(after=0)
        assert isinstance(await anext(stream), EventsFrame)
        await stream.aclose()
