"""Find where our stored chain and the node's active chain part ways."""

from __future__ import annotations

from collections.abc import Sequence

from chaincrawler.crawler.node import NodeClient
from chaincrawler.eventstore import BlockRecord

HEIGHT_OUT_OF_RANGE = -8  # Core's RPC_INVALID_PARAMETER for getblockhash past the tip


async def find_fork_height(
    node: NodeClient, window: Sequence[BlockRecord], node_height: int
) -> int | None:
    """The highest height of ``window`` (ascending canonical blocks) the node still agrees on.

    Hashes are compared newest first in batched ``getblockhash`` calls of growing size
    (8, 16, 32, ...), so the cost is O(reorg depth). None when no block of the window
    is on the node's chain: the reorg is deeper than the window.
    """
    candidates = [b for b in reversed(window) if b.height <= node_height]
    step = 8
    while candidates:
        chunk, candidates = candidates[:step], candidates[step:]
        hashes = await node_hashes(node, [b.height for b in chunk])
        for block, node_hash in zip(chunk, hashes, strict=True):
            if block.hash == node_hash:
                return block.height
        step *= 2
    return None


async def node_hashes(node: NodeClient, heights: Sequence[int]) -> list[str | None]:
    """The node's block hash at each height; None past its tip (its chain may shrink)."""
    items = await node.batch_results([("getblockhash", [h]) for h in heights])
    hashes: list[str | None] = []
    for item in items:
        if item.error is not None and item.error.code != HEIGHT_OUT_OF_RANGE:
            raise item.error
        hashes.append(None if item.error is not None else str(item.result))
    return hashes
