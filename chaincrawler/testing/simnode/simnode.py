"""The :class:`SimNode` lifecycle: datadir, cookie, HTTP server, ZMQ publishers."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
from pathlib import Path

from aiohttp import web

from chaincrawler.errors import ChaincrawlerError
from chaincrawler.testing.simnode.node import Engine, Notifier
from chaincrawler.testing.simnode.rest import RestHandler
from chaincrawler.testing.simnode.rpc import Dispatcher, ServerInfo
from chaincrawler.testing.simnode.server import HttpFront
from chaincrawler.testing.simnode.zmqpub import ZmqPublisher

COOKIE_USER = "__cookie__"
BIND_ADDRESS = "127.0.0.1"


class SimNodeError(ChaincrawlerError):
    """The simulated node cannot start (bad option, port in use, datadir locked...)."""


class SimNode:
    """A simulated regtest node serving JSON-RPC, REST and ZMQ on 127.0.0.1.

    ``datadir`` holds the chain (``<datadir>/regtest/``) so a restarted node keeps it.
    Without ``rpcuser``/``rpcpassword`` a ``.cookie`` is written to
    ``<datadir>/regtest/.cookie`` (as Core does) and removed on stop.
    ``zmq`` maps topics (hashblock, hashtx, rawblock, rawtx, sequence) to
    ``tcp://127.0.0.1:PORT`` addresses; port 0 picks a free port.
    """

    def __init__(
        self,
        datadir: str | os.PathLike[str],
        rpc_port: int = 0,
        rest: bool = True,
        zmq: dict[str, str] | None = None,
        rpcuser: str | None = None,
        rpcpassword: str | None = None,
    ) -> None:
        if (rpcuser is None) != (rpcpassword is None):
            raise SimNodeError("give both rpcuser and rpcpassword, or neither (cookie auth)")
        self.datadir = Path(datadir)
        self.netdir = self.datadir / "regtest"
        self._port = rpc_port
        self._rest = rest
        self._zmq_topics = dict(zmq or {})
        self._user = rpcuser
        self._password = rpcpassword
        self._runner: web.AppRunner | None = None
        self._zmq: ZmqPublisher | None = None
        self._engine: Engine | None = None
        self._stopped = asyncio.Event()
        self._stopping = False

    # -- public properties ------------------------------------------------------------

    @property
    def engine(self) -> Engine:
        """The running engine (chain state and mempool), for white-box tests."""
        if self._engine is None:
            raise SimNodeError("the node is not running")
        return self._engine

    @property
    def rpc_port(self) -> int:
        return self._port

    @property
    def rpc_url(self) -> str:
        return f"http://{BIND_ADDRESS}:{self._port}"

    @property
    def rest_url(self) -> str:
        return f"{self.rpc_url}/rest"

    @property
    def auth(self) -> tuple[str, str]:
        """(user, password) for HTTP basic auth."""
        if self._user is None or self._password is None:
            raise SimNodeError("the node is not running")
        return self._user, self._password

    @property
    def cookie_file(self) -> Path:
        return self.netdir / ".cookie"

    @property
    def zmq_endpoints(self) -> dict[str, str]:
        """Topic -> bound address (actual ports when 0 was asked)."""
        return dict(self._zmq.endpoints) if self._zmq is not None else {}

    # -- lifecycle -------------------------------------------------------------------

    async def start(self) -> None:
        """Load the datadir, bind the servers, write the cookie."""
        self.netdir.mkdir(parents=True, exist_ok=True)
        try:
            self._zmq = ZmqPublisher(self._zmq_topics) if self._zmq_topics else None
        except ChaincrawlerError as exc:
            raise SimNodeError(str(exc)) from None
        notifier: Notifier | None = self._zmq
        self._engine = Engine(self.netdir, notifier)
        cookie = self._user is None
        if cookie:
            self._user, self._password = COOKIE_USER, secrets.token_hex(32)
        info = ServerInfo(
            zmq_notifications=self._zmq.notifications() if self._zmq else [],
            request_stop=self._request_stop,
        )
        rest = RestHandler(self._engine) if self._rest else None
        assert self._user is not None and self._password is not None
        front = HttpFront(Dispatcher(self._engine, info), self._user, self._password, rest)
        runner = web.AppRunner(front.app, access_log=None, shutdown_timeout=5)
        await runner.setup()
        site = web.TCPSite(runner, BIND_ADDRESS, self._port, reuse_address=True)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            self._close_engine()
            raise SimNodeError(f"cannot bind RPC port {self._port}: {exc}") from None
        self._runner = runner
        if self._port == 0:
            self._port = int(runner.addresses[0][1])
        if cookie:
            self._write_cookie()

    def _write_cookie(self) -> None:
        path = self.cookie_file
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(f"{self._user}:{self._password}")
        tmp.replace(path)

    def _request_stop(self) -> None:
        asyncio.get_running_loop().call_later(0.05, lambda: asyncio.ensure_future(self.stop()))

    def _close_engine(self) -> None:
        if self._engine is not None:
            self._engine.close()
        if self._zmq is not None:
            self._zmq.close()
            self._zmq = None

    async def stop(self) -> None:
        """Stop serving, save the mempool, remove the cookie."""
        if self._stopping:
            await self._stopped.wait()
            return
        self._stopping = True
        try:
            if self._runner is not None:
                await self._runner.cleanup()
                self._runner = None
            self._close_engine()
            if self._user == COOKIE_USER:
                with contextlib.suppress(FileNotFoundError):
                    self.cookie_file.unlink()
        finally:
            self._stopped.set()

    async def wait_stopped(self) -> None:
        """Return once the node has stopped (e.g. after the ``stop`` RPC)."""
        await self._stopped.wait()

    async def __aenter__(self) -> SimNode:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()
