"""The app over another StateSource: what a reader process will plug in (readiness, lag)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path

import httpx

from chaincrawler.chain.networks import REGTEST
from chaincrawler.eventstore import BlockRecord, EventStore, open_store
from chaincrawler.models import ChainModel, Model
from chaincrawler.transports.api import create_app
from chaincrawler.transports.server import ApiServer
from chaincrawler.transports.source import Notification, View


class StoreFollower:
    """A StateSource following a store whose upstream is ``ahead`` blocks further."""

    following = "store"

    def __init__(self, store: EventStore, ahead: int | None) -> None:
        self._store = store
        self._models: list[Model] = [ChainModel()]
        self._tip = BlockRecord(5, "ab" * 32, "cd" * 32, 0)
        self.ahead = ahead

    @property
    def store(self) -> EventStore:
        return self._store

    @property
    def models(self) -> Sequence[Model]:
        return self._models

    @property
    def max_reorg_depth(self) -> int:
        return 3

    def view(self) -> View:
        return View(self._tip, 0, 3)

    @contextlib.asynccontextmanager
    async def committed(self) -> AsyncIterator[View]:
        yield self.view()

    def subscribe(self, listener: Callable[[Notification], None]) -> Callable[[], None]:
        return lambda: None

    async def upstream_height(self) -> int | None:
        return None if self.ahead is None else self._tip.height + self.ahead


async def test_ready_is_503_while_behind_or_blind_and_200_when_caught_up(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'e.db'}")
    await store.open(network=REGTEST.name, genesis_hash=REGTEST.genesis_hash)
    source = StoreFollower(store, ahead=10)
    server = ApiServer(create_app(source))
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=server.url) as http:
            behind = await http.get("/v1/ready")
            assert behind.status_code == 503
            body = behind.json()
            assert (body["ready"], body["lag"], body["following"]) == (False, 10, "store")
            assert body["at"]["finalized_height"] == 2
            source.ahead = None
            blind = (await http.get("/v1/ready")).json()
            assert blind["ready"] is False and blind["upstream_height"] is None
            source.ahead = 0
            ready = await http.get("/v1/ready")
            assert ready.status_code == 200 and ready.json()["lag"] == 0
    finally:
        await server.stop()
        await store.close()
