"""Errors raised while talking to a Bitcoin node (JSON-RPC, REST).

Every message names the node by its URL *without* credentials, the method or REST
path, and the cause. Credentials never reach an exception message.
"""

from __future__ import annotations

from collections.abc import Mapping

from chaincrawler.errors import ChaincrawlerError


class NodeError(ChaincrawlerError):
    """Base class of every error about a node (unreachable, refused, failed call)."""


class NodeConfigError(NodeError, ValueError):
    """A node URL, cookie file or client option is unusable as given."""


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

    ``code`` is Bitcoin Core's error code (e.g. -8 invalid parameter, -5 not found,
    -32601 method not found). ``index`` is the position of the call in a batch, if any.
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


class CrawlerError(ChaincrawlerError):
    """The crawler cannot go on; the store holds everything committed before this."""


class NodeNetworkMismatchError(CrawlerError):
    """The node follows another chain than the one the crawler is configured for."""

    def __init__(self, expected: str, node_chain: str, node_genesis: str) -> None:
        self.expected = expected
        self.node_chain = node_chain
        super().__init__(
            f"the node is on chain {node_chain!r} (genesis {node_genesis}), "
            f"but chaincrawler is configured for {expected!r}: point it at a {expected} node "
            f"or change the network setting (CHAINCRAWLER_NETWORK)"
        )


class DeepReorgError(CrawlerError):
    """A reorganisation goes deeper than the chain window the store keeps."""

    def __init__(self, tip_height: int, max_depth: int) -> None:
        self.tip_height = tip_height
        self.max_depth = max_depth
        super().__init__(
            f"the node's chain no longer contains any of our last {max_depth + 1} blocks "
            f"(our tip is at height {tip_height}): the reorg is deeper than max_reorg_depth="
            f"{max_depth}. The store is unchanged. Rebuild from scratch with "
            f"`chaincrawler rebuild`, or raise crawler.max_reorg_depth if the node is right"
        )


class ModelFailedError(CrawlerError):
    """A model raised while processing a block; that block was not committed."""

    def __init__(self, model: str, height: int, block_hash: str, trace: str) -> None:
        self.model = model
        self.height = height
        self.block_hash = block_hash
        self.trace = trace
        super().__init__(
            f"model {model!r} failed on block {height} ({block_hash}); nothing of that block "
            f"was committed and a restart resumes there.\n{trace}"
        )


class InconsistentNodeError(CrawlerError):
    """The node's answers contradict each other or the data it sent (a lying node)."""

    def __init__(self, nodes: list[str], problem: str) -> None:
        self.nodes = nodes
        super().__init__(
            f"node {', '.join(nodes)} sent inconsistent data: {problem}; nothing of it was "
            f"committed"
        )


class ModelNotInStoreError(CrawlerError):
    """A model would start at the store's tip without the history of the blocks below it.

    ``models`` maps each such model to why: never crawled into this store, or left out
    of a run since (its state stops at that height).
    """

    def __init__(self, models: dict[str, str], tip_height: int) -> None:
        self.models = dict(models)
        self.tip_height = tip_height
        detail = "; ".join(f"{name!r} {why}" for name, why in self.models.items())
        super().__init__(
            f"the store's tip is at height {tip_height}, but model(s) {detail}: started "
            f"here they would answer as if the blocks below had nothing for them. Nothing "
            f"was changed. Bring them up with a full rebuild of the store with every model: "
            f"`chaincrawler rebuild MODEL...`"
        )
