"""Errors that stop the crawler (the node client's own: :mod:`chaincrawler.node.errors`)."""

from __future__ import annotations

from chaincrawler.errors import ChaincrawlerError


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
