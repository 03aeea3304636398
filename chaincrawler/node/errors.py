"""The NodeError family: everything that can go wrong talking to a Bitcoin node.

Every message names the node by its URL *without* credentials, the method or REST
path, and the cause. Credentials never reach an exception message. This module is
also the one place that knows Bitcoin Core's RPC error codes (:class:`RpcErrorCode`).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import IntEnum
from pathlib import Path

from chaincrawler.errors import ChaincrawlerError


class RpcErrorCode(IntEnum):
    """The Bitcoin Core JSON-RPC error codes the client interprets (Core's rpc/protocol.h)."""

    MISC_ERROR = -1
    """E.g. ``getblock`` of a block whose data is gone: ``Block not available (pruned data)``."""
    INVALID_ADDRESS_OR_KEY = -5
    """Unknown block or transaction (also: a confirmed transaction without ``-txindex``)."""
    INVALID_PARAMETER = -8
    """A parameter out of range, e.g. ``getblockhash`` above the tip."""
    IN_WARMUP = -28
    """The node is starting (loading its block index): it answers soon."""


class NodeError(ChaincrawlerError):
    """Base class of every error about a node (unreachable, refused, failed call)."""


class NodeConfigError(NodeError, ValueError):
    """A node URL, cookie file or client option is unusable as given."""


class CookieFileMissingError(NodeConfigError):
    """The configured cookie file does not exist (wrong path, or the node never started).

    Not retried: a missing file is a setting to fix, not an outage to wait out.
    """

    def __init__(self, node: str, path: Path) -> None:
        self.node = node
        self.path = path
        super().__init__(
            f"cookie file {path} not found (node {node}): check the node.cookie_file "
            f"setting and that the node runs with that data directory"
        )


class NodeUnreachableError(NodeError):
    """No configured node answered, after every retry.

    ``causes`` maps each node (URL without credentials) to the last failure seen on it.
    """

    def __init__(self, what: str, causes: Mapping[str, str], attempts: int) -> None:
        self.what = what
        self.causes = dict(causes)
        self.attempts = attempts
        detail = "; ".join(f"{node}: {cause}" for node, cause in self.causes.items())
        super().__init__(
            f"{what}: no node reachable after {attempts} attempt(s) per node ({detail})"
        )


class NodeAuthError(NodeError):
    """The node refused our credentials (HTTP 401/403)."""

    def __init__(self, node: str, what: str, cause: str) -> None:
        self.node = node
        self.what = what
        super().__init__(f"{what} on {node}: {cause}")


class RPCError(NodeError):
    """The node answered a JSON-RPC call with an error object.

    ``code`` is Bitcoin Core's error code (see :class:`RpcErrorCode`; e.g. -8 invalid
    parameter, -5 not found, -32601 method not found). ``index`` is the position of the
    call in a batch, if any.
    """

    def __init__(
        self, code: int, message: str, method: str, node: str, index: int | None = None
    ) -> None:
        self.code = code
        self.rpc_message = message
        self.method = method
        self.node = node
        self.index = index
        where = f" (batch item {index})" if index is not None else ""
        super().__init__(f"{method}{where} on {node} failed: {message} (code {code})")


class NodeProtocolError(NodeError):
    """The node sent something that is not a valid reply (bad JSON, wrong id, wrong shape)."""

    def __init__(self, node: str, what: str, cause: str) -> None:
        self.node = node
        self.what = what
        super().__init__(f"{what} on {node}: invalid reply: {cause}")


class RESTError(NodeError):
    """A REST request was refused: HTTP 400 (bad request) or 404 (not found / REST off)."""

    def __init__(self, node: str, path: str, status: int, body: str) -> None:
        self.node = node
        self.path = path
        self.status = status
        self.body = body
        hint = ""
        if status == 404:
            hint = " (if every REST path answers 404, start the node with -rest)"
        reason = body.strip() or "no detail"
        super().__init__(f"GET {path} on {node}: HTTP {status}: {reason}{hint}")


class NoTxIndexError(RPCError):
    """``getrawtransaction`` of a confirmed transaction on a node without ``-txindex``."""


class MalformedZmqMessage(NodeError, ValueError):
    """A multipart message that is not a valid Core notification (logged and skipped)."""
