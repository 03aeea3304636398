"""Find where our stored chain and the node's active chain part ways."""

from __future__ import annotations

from collections.abc import Sequence

from chaincrawler.eventstore import BlockRecord
from chaincrawler.node.client import NodeClient


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
        hashes = await node.get_block_hashes([b.height for b in chunk])
        for block, node_hash in zip(chunk, hashes, strict=True):
            if block.hash == node_hash:
                return block.height
        step *= 2
    return None

