"""One crawl of the ingest benchmark, in a process of its own; prints its figures as JSON.

Run by ``benchmarks/ingest.py`` as ``python benchmarks/ingest_crawl.py URL STORE FIRST
LAST [--worker] [totals] [--prevout-cache N]`` with ``PYTHONPATH`` at the tree to measure
(this one, or an older commit's: the imports below also find the node client where older
trees kept it). STORE is ``sqlite:///path`` or ``postgresql://...#schema``. The crawl runs
the example ``AddressBalances`` model (or with ``totals`` :class:`TypeTotals`, whose state
does not grow) over blocks FIRST..LAST into a fresh store; the process's peak RSS is the
crawl's own. ``--worker`` derives addresses in a worker process (the crawler's
``address_worker`` option, off by default; this tree only); ``--prevout-cache`` bounds
the prevout cache.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time
from typing import Any

from chaincrawler.chain.networks import REGTEST
from chaincrawler.chain.types import Block
from chaincrawler.crawler import source
from chaincrawler.crawler.pipeline import Committed, Crawler, CrawlerOptions
from chaincrawler.eventstore import open_store
from chaincrawler.examples.balances import AddressBalances
from chaincrawler.models import Event, Model, on

try:
    from chaincrawler.node.client import NodeClient
except ImportError:  # trees before the node/ layer
    from chaincrawler.crawler.node import NodeClient  # type: ignore[no-redef]


class TypeTotalsChanged(Event):
    """What one block paid to and spent from each kind of address, in satoshis."""

    credited: dict[str, int]
    debited: dict[str, int]


class TypeTotals(Model):
    """Value paid to and spent from addresses by address prefix: reads every address and
    prevout as the balance model does, with state that does not grow with the chain."""

    needs_prevouts = True

    totals: dict[str, int] = {}  # noqa: RUF012 (state: each instance gets a copy)

    def process_block(self, block: Block) -> None:
        credited: dict[str, int] = {}
        debited: dict[str, int] = {}
        for tx in block.transactions:
            for out in tx.outputs:
                if out.address is not None:
                    kind = out.address[:4]
                    credited[kind] = credited.get(kind, 0) + out.value
            if not tx.is_coinbase:
                for txin in tx.inputs:
                    prev = txin.prev_txout
                    if prev is not None and prev.address is not None:
                        kind = prev.address[:4]
                        debited[kind] = debited.get(kind, 0) + prev.value
        self.apply(TypeTotalsChanged(credited=credited, debited=debited))

    @on(TypeTotalsChanged)
    def _changed(self, event: TypeTotalsChanged) -> None:
        for kind, value in event.credited.items():
            self.totals[kind] = self.totals.get(kind, 0) + value
        for kind, value in event.debited.items():
            self.totals[kind] = self.totals.get(kind, 0) - value


async def crawl(url: str, target: str, first: int, last: int, model: Model,
                **options: Any) -> dict[str, Any]:
    """Crawl ``first..last`` into the store ``target`` names; its figures."""
    dsn, _, schema = target.partition("#")
    store = open_store(dsn, schema=schema) if schema else open_store(dsn)
    await store.open(network="regtest", genesis_hash=REGTEST.genesis_hash)
    counts = {"blocks": 0, "events": 0, "txs": 0}

    def count(note: object) -> None:
        if isinstance(note, Committed):
            counts["blocks"] += len(note.blocks)
            counts["events"] += len(note.positions)

    try:
        async with NodeClient(url, rest=True, timeout=600) as rpc:
            hashes = await rpc.get_block_hashes(range(first, last + 1))
            counts["txs"] = sum([(await rpc.get_block_header(h))["nTx"] for h in hashes])
            settings = CrawlerOptions(start_height=first, snapshot_interval=1000, **options)
            crawler = Crawler(rpc, store, [model], REGTEST, settings)
            crawler.subscribe(count)
            cpu = _cpu_seconds()
            started = time.perf_counter()
            await crawler.run(follow=False, until_height=last)
            seconds = time.perf_counter() - started
            cpu = [after - before for after, before in zip(_cpu_seconds(), cpu, strict=True)]
    finally:
        await store.close()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"seconds": seconds, **counts, "peak_rss_mib": peak, "cpu_main": cpu[0],
            "cpu_workers": cpu[1]}


def _cpu_seconds() -> list[float]:
    """CPU seconds (user + system) of this process and of its ended worker processes."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    ended = resource.getrusage(resource.RUSAGE_CHILDREN)
    return [own.ru_utime + own.ru_stime, ended.ru_utime + ended.ru_stime]


def main() -> None:
    url, target, first, last = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    options = sys.argv[5:]
    settings: dict[str, Any] = {}
    if "--worker" in options:  # for every range, however short
        settings["address_worker"] = True
        source.BlockSource.__init__.__kwdefaults__["derive_min_blocks"] = 1
    model = TypeTotals() if "totals" in options else AddressBalances()
    if "--prevout-cache" in options:
        settings["prevout_cache_entries"] = int(options[options.index("--prevout-cache") + 1])
    print(json.dumps(asyncio.run(crawl(url, target, first, last, model, **settings))))


if __name__ == "__main__":
    main()
