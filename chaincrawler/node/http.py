"""HTTP to Bitcoin nodes: endpoints and credentials, retries, failover.

:class:`NodeConnection` is the one aiohttp session that JSON-RPC (:mod:`.jsonrpc`) and
REST (:mod:`.rest`) requests share. Bitcoin Core answers HTTP 401 with an empty body
for bad credentials and 503 when its work queue is full (retried, like a refused
connection or a timeout).
"""

from __future__ import annotations

import asyncio
import base64
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import aiohttp
import structlog
import yarl

from chaincrawler.node.errors import (
    CookieFileMissingError,
    NodeAuthError,
    NodeConfigError,
    NodeUnreachableError,
)

log = structlog.get_logger(__name__)

T = TypeVar("T")


# --------------------------------------------------------------------------- endpoints


@dataclass(frozen=True)
class NodeEndpoint:
    """One node: its URL without credentials plus how to authenticate.

    ``url`` is safe to log. Credentials come from the URL (``http://user:pass@host:port``)
    or from ``cookie_file`` (Bitcoin Core's ``.cookie``), read at the first request and
    re-read whenever the node answers 401, because Core rewrites it on every restart.
    """

    url: str
    user: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)
    cookie_file: Path | None = None

    @classmethod
    def parse(
        cls,
        url: str,
        cookie_file: str | Path | None = None,
        *,
        user: str | None = None,
        password: str | None = None,
    ) -> NodeEndpoint:
        """Split ``url`` into a credential-free URL and credentials.

        ``user``/``password`` or ``cookie_file`` apply when the URL carries no credentials.
        """
        parsed = yarl.URL(url if "://" in url else f"http://{url}")
        if parsed.scheme not in ("http", "https") or not parsed.host:
            safe = parsed.with_user(None) if parsed.host else "(unparsable, not shown)"
            raise NodeConfigError(
                f"invalid node URL {safe}: expected http(s)://[user:pass@]host:port"
            )
        clean = str(parsed.with_user(None).with_query(None).with_fragment(None)).rstrip("/")
        if parsed.user is not None:
            user, password, cookie_file = parsed.user, parsed.password, None
        elif user is not None and cookie_file is not None:
            raise NodeConfigError(
                f"node {clean}: give a user and password or a cookie file, not both"
            )
        return cls(
            url=clean,
            user=user,
            password=(password or "") if user is not None else None,
            cookie_file=Path(cookie_file) if cookie_file is not None else None,
        )

    @property
    def origin(self) -> str:
        """``scheme://host:port``, the base of REST paths."""
        return str(yarl.URL(self.url).origin())

    def __str__(self) -> str:
        return self.url


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to retry a request over all nodes.

    One *attempt* tries every node once (starting with the last one that worked);
    between attempts the client sleeps ``initial_delay * 2**n`` seconds, capped at
    ``max_delay``, shortened by up to ``jitter`` (a fraction) at random.
    """

    attempts: int = 6
    initial_delay: float = 0.5
    max_delay: float = 30.0
    jitter: float = 0.5

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise NodeConfigError(f"RetryPolicy.attempts must be >= 1, got {self.attempts}")
        if self.initial_delay < 0 or self.max_delay < 0:
            raise NodeConfigError("RetryPolicy delays must be >= 0")
        if not 0.0 <= self.jitter <= 1.0:
            raise NodeConfigError(f"RetryPolicy.jitter must be within [0, 1], got {self.jitter}")

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (0-based)."""
        capped: float = min(self.max_delay, self.initial_delay * 2.0**attempt)
        return capped * (1.0 - self.jitter * random.random())


class _Transient(Exception):
    """A failure worth retrying elsewhere or later (connection, timeout, HTTP 503)."""


@dataclass
class _Node:
    """An endpoint with its mutable authentication state."""

    endpoint: NodeEndpoint
    authorization: str | None = field(default=None, repr=False)

    def load_credentials(self) -> None:
        """(Re)compute the Authorization header, reading the cookie file if there is one."""
        ep = self.endpoint
        if ep.cookie_file is not None:
            try:
                text = ep.cookie_file.read_text(encoding="utf-8").strip()
            except FileNotFoundError:
                raise CookieFileMissingError(ep.url, ep.cookie_file) from None
            except OSError as exc:
                raise _Transient(
                    f"cannot read cookie file {ep.cookie_file}: {exc.strerror or exc}"
                ) from None
            user, sep, password = text.partition(":")
            if not sep:
                raise NodeAuthError(
                    ep.url, "authentication", f"cookie file {ep.cookie_file} is malformed"
                )
        elif ep.user is not None:
            user, password = ep.user, ep.password or ""
        else:
            self.authorization = None
            return
        token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
        self.authorization = f"Basic {token}"


@dataclass(frozen=True)
class HttpReply:
    """A raw HTTP reply and the node (URL without credentials) that sent it."""

    node: str
    status: int
    body: bytes


# --------------------------------------------------------------------------- connection


class NodeConnection:
    """A shared aiohttp session over one or more nodes, with retries and failover."""

    def __init__(
        self,
        endpoints: Sequence[NodeEndpoint],
        *,
        timeout: float,
        retry: RetryPolicy,
        max_connections: int,
    ) -> None:
        if not endpoints:
            raise NodeConfigError("at least one node URL is required")
        if timeout <= 0 or max_connections < 1:
            raise NodeConfigError("timeout must be > 0 and max_connections >= 1")
        self._nodes = [_Node(ep) for ep in endpoints]
        self._timeout = timeout
        self._retry = retry
        self._max_connections = max_connections
        self._preferred = 0
        self._session: aiohttp.ClientSession | None = None

    @property
    def nodes(self) -> list[str]:
        """The node URLs, without credentials."""
        return [n.endpoint.url for n in self._nodes]

    async def close(self) -> None:
        """Close the HTTP session (a later request opens a new one)."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._max_connections),
                timeout=aiohttp.ClientTimeout(total=self._timeout),
            )
        return self._session

    async def post(self, what: str, body: bytes) -> HttpReply:
        """POST a JSON-RPC body, authenticated, to the first node that takes it."""
        return await self._with_failover(what, lambda node: self._post_once(node, what, body))

    async def get(self, what: str, path: str) -> HttpReply:
        """GET an unauthenticated REST ``path`` from the first node that answers."""
        return await self._with_failover(what, lambda node: self._get_once(node, path))

    async def _with_failover(self, what: str, attempt: Callable[[_Node], Awaitable[T]]) -> T:
        causes: dict[str, str] = {}
        count = len(self._nodes)
        for round_ in range(self._retry.attempts):
            start = self._preferred
            for offset in range(count):
                index = (start + offset) % count
                node = self._nodes[index]
                try:
                    result = await attempt(node)
                except _Transient as exc:
                    cause = str(exc)
                except TimeoutError:
                    cause = f"timed out after {self._timeout:g}s"
                except aiohttp.ClientError as exc:
                    cause = f"{type(exc).__name__}: {exc}"
                else:
                    if index != self._preferred:
                        log.info("node.failover", node=node.endpoint.url, what=what)
                        self._preferred = index
                    return result
                causes[node.endpoint.url] = cause
                log.warning(
                    "node.request_failed",
                    node=node.endpoint.url,
                    what=what,
                    cause=cause,
                    attempt=round_ + 1,
                )
            if round_ + 1 < self._retry.attempts:
                await asyncio.sleep(self._retry.delay(round_))
        raise NodeUnreachableError(what, causes, self._retry.attempts)

    async def _post_once(self, node: _Node, what: str, body: bytes) -> HttpReply:
        if node.authorization is None:
            node.load_credentials()
        status, data = await self._send_post(node, body)
        if status == 401 and node.endpoint.cookie_file is not None:
            log.info(
                "node.cookie_reload",
                node=node.endpoint.url,
                cookie_file=str(node.endpoint.cookie_file),
            )
            node.load_credentials()
            status, data = await self._send_post(node, body)
        if status in (401, 403):
            source = (
                f"cookie file {node.endpoint.cookie_file}"
                if node.endpoint.cookie_file is not None
                else "the configured user and password"
                if node.endpoint.user is not None
                else "no credentials (add user:pass to the URL or a cookie file)"
            )
            verb = "unauthorized" if status == 401 else "forbidden (check -rpcallowip)"
            raise NodeAuthError(node.endpoint.url, what, f"HTTP {status} {verb}, using {source}")
        if status == 503:
            raise _Transient(f"HTTP 503 {body_excerpt(data) or 'service unavailable'}")
        return HttpReply(node.endpoint.url, status, data)

    async def _send_post(self, node: _Node, body: bytes) -> tuple[int, bytes]:
        headers = {"Content-Type": "application/json"}
        if node.authorization is not None:
            headers["Authorization"] = node.authorization
        session = self._get_session()
        async with session.post(node.endpoint.url, data=body, headers=headers) as resp:
            return resp.status, await resp.read()

    async def _get_once(self, node: _Node, path: str) -> HttpReply:
        session = self._get_session()
        async with session.get(node.endpoint.origin + path) as resp:
            data = await resp.read()
        if resp.status == 503:
            raise _Transient(f"HTTP 503 {body_excerpt(data) or 'service unavailable'}")
        return HttpReply(node.endpoint.url, resp.status, data)


def body_excerpt(data: bytes, limit: int = 120) -> str:
    """A short printable excerpt of a reply body, for error messages."""
    text = data[:limit].decode("utf-8", errors="replace").strip()
    return text + ("..." if len(data) > limit else "")
