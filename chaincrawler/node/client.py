"""NodeClient: the async Bitcoin Core client the crawler uses (JSON-RPC 2.0 + REST).

Example::

    async with NodeClient("http://user:pass@127.0.0.1:18443", rest=True) as node:
        tip = await node.get_block_count()
        hashes = [h for h in await node.get_block_hashes(range(tip - 9, tip + 1)) if h]
        blocks = await node.get_raw_blocks(hashes)

Every typed method checks the shape of the node's answer (a wrong shape is a
:class:`~chaincrawler.node.errors.NodeProtocolError`) and maps the Core error codes
it expects (:class:`~chaincrawler.node.errors.RpcErrorCode`) to a return value or a
named error; ``call``/``batch`` pass anything through.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar, overload

import structlog

from chaincrawler.node.errors import NoTxIndexError, RpcErrorCode
from chaincrawler.node.http import NodeConnection, NodeEndpoint, RetryPolicy
from chaincrawler.node.jsonrpc import BatchItem, JsonRpc, Params
from chaincrawler.node.rest import RestApi, SpentOutput

__all__ = [
    "DEFAULT_TIMEOUT",
    "BatchItem",
    "MempoolSnapshot",
    "NodeClient",
    "NodeEndpoint",
    "RetryPolicy",
    "SpentOutput",
]

T = TypeVar("T")
log = structlog.get_logger(__name__)

DEFAULT_TIMEOUT = 30.0
"""Seconds to wait for one reply (``NodeSettings.timeout`` defaults to it)."""


@dataclass(frozen=True, slots=True)
class MempoolSnapshot:
    """``getrawmempool false true``: the txids and the mempool sequence they are valid at.

    ``mempool_sequence`` matches the counter of ZMQ ``sequence`` A/R events, so a
    follower can tell which events are already reflected in ``txids``.
    """

    txids: list[str]
    mempool_sequence: int


class NodeClient:
    """Async client for one or more Bitcoin Core nodes, with retries and failover.

    ``urls`` are tried in order; the client sticks to the last node that answered.
    Credentials go in the URL (``http://user:pass@host:port``), or in ``user`` and
    ``password``, or in ``cookie_file`` (re-read on HTTP 401); the last two apply to URLs
    without credentials. They never appear in logs, reprs or error messages. Failed
    requests (connection refused, timeout, HTTP 503) are retried on the next node, then
    again after a backoff, per ``retry``. With ``rest=True`` raw blocks come from
    ``/rest/block/<hash>.bin`` (the node needs ``-rest``), else from ``getblock <hash> 0``,
    and :meth:`serves_spent_txouts` asks the node whether it has ``/rest/spenttxouts/``.
    """

    def __init__(
        self,
        urls: str | NodeEndpoint | Sequence[str | NodeEndpoint],
        *,
        user: str | None = None,
        password: str | None = None,
        cookie_file: str | Path | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        rest: bool = False,
        batch_size: int = 500,
        max_connections: int = 8,
    ) -> None:
        items = [urls] if isinstance(urls, str | NodeEndpoint) else list(urls)
        endpoints = [
            item
            if isinstance(item, NodeEndpoint)
            else NodeEndpoint.parse(item, cookie_file, user=user, password=password)
            for item in items
        ]
        self._connection = NodeConnection(
            endpoints,
            timeout=timeout,
            retry=retry or RetryPolicy(),
            max_connections=max_connections,
        )
        self._rpc = JsonRpc(self._connection, batch_size=batch_size)
        self._rest = RestApi(self._connection)
        self.rest = rest
        self._spent_txouts: bool | None = None  # unknown until asked

    def __repr__(self) -> str:
        return f"NodeClient(nodes={self.nodes!r}, rest={self.rest})"

    @property
    def nodes(self) -> list[str]:
        """The node URLs, without credentials."""
        return self._connection.nodes

    async def __aenter__(self) -> NodeClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the shared HTTP session."""
        await self._connection.close()

    # ------------------------------------------------------------------ generic calls

    async def call(self, method: str, *params: Any, **named: Any) -> Any:
        """Call an RPC with positional *or* named parameters and return its result."""
        if params and named:
            raise TypeError("pass positional or named parameters, not both")
        return await self._rpc.call(method, named if named else params)

    async def batch(self, calls: Sequence[tuple[str, Params]]) -> list[Any]:
        """Run ``(method, params)`` calls in JSON-RPC batches; results in call order.

        Replies are matched by id. Raises the first failing call's :class:`RPCError`
        (``error.index`` is its position in ``calls``).
        """
        return await self._rpc.batch(calls)

    async def batch_results(self, calls: Sequence[tuple[str, Params]]) -> list[BatchItem]:
        """Like :meth:`batch` but never raises a call's error: one :class:`BatchItem` per call."""
        return await self._rpc.batch_results(calls)

    # ------------------------------------------------------------------ chain

    async def get_blockchain_info(self) -> dict[str, Any]:
        """``getblockchaininfo``."""
        return await self._rpc.call_as("getblockchaininfo", (), _dict)

    async def get_block_count(self) -> int:
        """Height of the node's active tip."""
        return await self._rpc.call_as("getblockcount", (), _int)

    async def get_best_block_hash(self) -> str:
        """Hash of the node's active tip."""
        return await self._rpc.call_as("getbestblockhash", (), _hash)

    async def get_block_hash(self, height: int) -> str:
        """Hash of the active-chain block at ``height`` (RPCError -8 when out of range)."""
        return await self._rpc.call_as("getblockhash", [height], _hash)

    async def get_block_hashes(self, heights: Iterable[int]) -> list[str | None]:
        """Hashes at ``heights``, in one batch (split only past ``batch_size``).

        None for a height above the node's tip: its chain may get shorter at any time.
        """
        calls: list[tuple[str, Params]] = []
        for height in heights:
            if height < 0:
                raise ValueError(f"height must be >= 0, got {height}")
            calls.append(("getblockhash", [height]))
        hashes: list[str | None] = []
        for item in await self._rpc.batch_results(calls, _hash):
            if item.error is not None and item.error.code != RpcErrorCode.INVALID_PARAMETER:
                raise item.error
            hashes.append(item.result if item.error is None else None)
        return hashes

    async def get_block_header(self, block_hash: str) -> dict[str, Any]:
        """``getblockheader <hash> true``."""
        return await self._rpc.call_as("getblockheader", [block_hash, True], _dict)

    async def get_block_verbose(self, block_hash: str, verbosity: int = 1) -> dict[str, Any]:
        """``getblock <hash> <verbosity>`` for verbosity 1, 2 or 3 (3 adds prevouts)."""
        if verbosity not in (1, 2, 3):
            raise ValueError(f"verbosity must be 1, 2 or 3, got {verbosity}")
        return await self._rpc.call_as("getblock", [block_hash, verbosity], _dict)

    async def get_raw_block(self, block_hash: str) -> bytes:
        """The serialized block: REST ``.bin`` when ``rest`` is on, else ``getblock <hash> 0``."""
        if self.rest:
            return await self._rest.block_bin(block_hash)
        return await self._rpc.call_as("getblock", [block_hash, 0], _hex)

    async def get_raw_blocks(self, block_hashes: Sequence[str]) -> list[bytes]:
        """Serialized blocks in order: concurrent REST GETs, or batched ``getblock <hash> 0``."""
        if self.rest:
            return list(await asyncio.gather(*(self._rest.block_bin(h) for h in block_hashes)))
        return await self._rpc.batch_as([("getblock", [h, 0]) for h in block_hashes], _hex)

    # ------------------------------------------------------------------ mempool, transactions

    @overload
    async def get_raw_mempool(
        self, verbose: Literal[False] = False, mempool_sequence: Literal[False] = False
    ) -> list[str]: ...

    @overload
    async def get_raw_mempool(
        self, verbose: Literal[True], mempool_sequence: Literal[False] = False
    ) -> dict[str, dict[str, Any]]: ...

    @overload
    async def get_raw_mempool(
        self, verbose: Literal[False] = False, *, mempool_sequence: Literal[True]
    ) -> MempoolSnapshot: ...

    async def get_raw_mempool(
        self, verbose: bool = False, mempool_sequence: bool = False
    ) -> list[str] | dict[str, dict[str, Any]] | MempoolSnapshot:
        """``getrawmempool``: txids; entries by txid (``verbose``); or a :class:`MempoolSnapshot`.

        Core refuses ``verbose`` together with ``mempool_sequence``.
        """
        if verbose and mempool_sequence:
            raise ValueError("getrawmempool cannot be verbose and report mempool_sequence")
        if mempool_sequence:
            return await self._rpc.call_as("getrawmempool", [False, True], _mempool_snapshot)
        if verbose:
            return await self._rpc.call_as("getrawmempool", [True], _dict)
        return await self._rpc.call_as("getrawmempool", [False], _hash_list)

    @overload
    async def get_raw_transaction(
        self, txid: str, verbose: Literal[0, False] = 0, blockhash: str | None = None
    ) -> bytes: ...

    @overload
    async def get_raw_transaction(
        self, txid: str, verbose: Literal[1, 2, True], blockhash: str | None = None
    ) -> dict[str, Any]: ...

    async def get_raw_transaction(
        self, txid: str, verbose: int = 0, blockhash: str | None = None
    ) -> bytes | dict[str, Any]:
        """``getrawtransaction``: raw bytes (verbose 0) or the decoded object (1, or 2 with fee
        and prevouts). Outside the mempool it needs ``-txindex`` or ``blockhash``."""
        params: list[Any] = [txid, int(verbose)]
        if blockhash is not None:
            params.append(blockhash)
        if verbose:
            return await self._rpc.call_as("getrawtransaction", params, _dict)
        return await self._rpc.call_as("getrawtransaction", params, _hex)

    async def get_raw_transactions(self, txids: Sequence[str]) -> list[bytes | None]:
        """Raw transactions in order, batched; None for a transaction the node does not know.

        Confirmed transactions need the node's ``-txindex``: without it the node can
        only answer from its mempool, and :class:`NoTxIndexError` is raised.
        """
        calls: list[tuple[str, Params]] = [("getrawtransaction", [t, 0]) for t in txids]
        raws: list[bytes | None] = []
        for item in await self._rpc.batch_results(calls, _hex):
            error = item.error
            if error is None:
                raws.append(item.result)
                continue
            if error.code != RpcErrorCode.INVALID_ADDRESS_OR_KEY:
                raise error
            if "txindex" in error.rpc_message:  # "... Use -txindex or provide a block hash"
                raise NoTxIndexError(
                    error.code, error.rpc_message, error.method, error.node, error.index
                )
            raws.append(None)
        return raws

    async def get_zmq_notifications(self) -> list[dict[str, Any]]:
        """``getzmqnotifications``: ``[{"type": "pubhashblock", "address": ..., "hwm": ...}]``."""
        return await self._rpc.call_as("getzmqnotifications", (), _dict_list)

    # ------------------------------------------------------------------ REST

    async def rest_chaininfo(self) -> dict[str, Any]:
        """REST ``/rest/chaininfo.json``."""
        return await self._rest.chaininfo()

    async def rest_spent_txouts(self, block_hash: str) -> list[list[SpentOutput]]:
        """REST ``/rest/spenttxouts/<hash>.bin`` (Core >= 30): per transaction of the block,
        coinbase first (an empty list), the outputs its inputs spend, from the node's undo
        data (no ``-txindex`` needed). :class:`RESTError` 404 for an unknown block or
        missing undo data (pruned), or when the node does not serve the endpoint."""
        return await self._rest.spent_txouts(block_hash)

    async def get_raw_spent_txouts(self, block_hashes: Sequence[str]) -> list[bytes]:
        """The ``/rest/spenttxouts/<hash>.bin`` bodies of ``block_hashes``, fetched
        concurrently (:func:`~chaincrawler.node.rest.parse_spent_txouts` reads one)."""
        return list(await asyncio.gather(*(self._rest.spent_txouts_bin(h) for h in block_hashes)))

    async def serves_spent_txouts(self) -> bool:
        """Whether to use ``/rest/spenttxouts/``: ``rest`` is on and the node serves it.

        Asked of the node once (see :meth:`RestApi.serves_spent_txouts
        <chaincrawler.node.rest.RestApi.serves_spent_txouts>`), then remembered.
        """
        if not self.rest:
            return False
        if self._spent_txouts is None:
            self._spent_txouts = await self._rest.serves_spent_txouts()
            log.info("node.spent_txouts", nodes=self.nodes, served=self._spent_txouts)
        return self._spent_txouts


# ---------------------------------------------------------------------- result checks
# Each raises TypeError/ValueError on a wrong shape; JsonRpc turns that into a
# NodeProtocolError naming the node and the method.

_HASH = re.compile(r"[0-9a-f]{64}")


def _of(kind: type[T]) -> Callable[[Any], T]:
    def check(value: Any) -> T:
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
            raise TypeError(f"expected {kind.__name__}, got {type(value).__name__}")
        return value

    return check


_int = _of(int)
_dict = _of(dict)


def _hash(value: Any) -> str:
    if not isinstance(value, str) or not _HASH.fullmatch(value):
        raise ValueError(f"expected a 64-hex-digit hash, got {value!r:.80}")
    return value


def _hash_list(value: Any) -> list[str]:
    return [_hash(v) for v in _of(list)(value)]


def _dict_list(value: Any) -> list[dict[str, Any]]:
    return [_dict(v) for v in _of(list)(value)]


def _hex(value: Any) -> bytes:
    return bytes.fromhex(_of(str)(value))


def _mempool_snapshot(value: Any) -> MempoolSnapshot:
    obj = _dict(value)
    return MempoolSnapshot(_hash_list(obj.get("txids")), _int(obj.get("mempool_sequence")))
