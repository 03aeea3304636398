"""Summarise a py-spy raw profile of a crawl by stage: fetch, parse, prevouts, addresses,
events, store, and the model's own code.

Run (one crawl of ``benchmarks/ingest.py``'s chain, in a process of its own)::

    py-spy record --format raw -o /tmp/ingest.raw --rate 200 -- \\
        python benchmarks/ingest_crawl.py URL sqlite:////tmp/p.db FIRST LAST
    python benchmarks/profile_summary.py [LABEL=]/tmp/ingest.raw ...

A sample counts for the first category (in the order below) any frame of its stack falls
in: so an address derived when a model reads ``TxOut.address`` counts as "addresses",
and an event's pydantic validation inside ``process_block`` as "events". Imports (at
start, or the first time a module is needed) are shown apart: they are no stage. Writes
``benchmarks/results/ingest-profile.md``.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

RESULTS = Path(__file__).parent / "results" / "ingest-profile.md"

# (category, substrings of a frame "function (file:line)") in priority order
CATEGORIES = [
    ("imports (start-up, not a stage)", ("_find_and_load",)),
    ("store: SQL and commit", ("chaincrawler/eventstore/", "sqlalchemy/", "asyncpg/")),
    ("events: build (pydantic), JSON", ("pydantic", "chaincrawler/models/events.py",
                                        "PendingEvent")),
    ("addresses: derivation and cache", ("chaincrawler/chain/address_cache.py",
                                         "chaincrawler/chain/encoding.py",
                                         "chaincrawler/chain/script.py",
                                         "chaincrawler/crawler/derive.py", "preset_derived")),
    ("prevouts: cache, spenttxouts", ("chaincrawler/crawler/prevouts.py",
                                      "chaincrawler/node/rest.py")),
    ("parse: scan, txids, merkle, decode", ("chaincrawler/chain/",)),
    ("fetch: HTTP, JSON-RPC, REST", ("aiohttp/", "chaincrawler/node/", "json/")),
    ("the model's own code (process_block, handlers)", ("chaincrawler/models/",
                                                        "chaincrawler/examples/")),
    ("pipeline and event loop", ("chaincrawler/crawler/", "asyncio/", "selectors.py")),
]


def summarise(raw: Path) -> tuple[Counter[str], int]:
    """Samples per category of one py-spy raw profile, and the total counted."""
    counts: Counter[str] = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if "Crawler.run" not in stack and "chaincrawler/eventstore/" not in stack:
            continue  # start-up, chain making, node start/stop (the store has its own thread)
        samples = int(n)
        total += samples
        frames = stack.split(";")
        for name, needles in CATEGORIES:
            if any(needle in frame for frame in frames for needle in needles):
                counts[name] += samples
                break
        else:
            counts["other"] += samples
    return counts, total


def main() -> None:
    """``profile_summary.py [LABEL=]RAW ...``: one column per profile."""
    profiles = [arg.partition("=")[::2] if "=" in arg else ("share", arg) for arg in sys.argv[1:]]
    summaries = [summarise(Path(raw)) for _, raw in profiles]
    lines = [
        "# Where a crawl spends its time (`benchmarks/profile_summary.py`)",
        "",
        "py-spy samples (busy threads only) of one crawl of the ingest benchmark's chain "
        "(`benchmarks/ingest_crawl.py`, balance model, SQLite) inside `Crawler.run` and in "
        "the SQLite store's worker thread, grouped by stage (first matching category wins, "
        "in this order). Shares are of the crawl's samples without imports; imports are "
        "a share of all. A worker process's own samples are not in its crawl's column. "
        "The machine was shared with other jobs.",
        "",
        "| category | " + " | ".join(label for label, _ in profiles) + " |",
        "| --- |" + " ---: |" * len(profiles),
    ]
    imports = CATEGORIES[0][0]
    for name, _ in [*CATEGORIES[1:], ("other", ())]:
        if any(counts[name] for counts, _ in summaries):
            cells = [f"{100 * c[name] / (t - c[imports]):.0f}%" for c, t in summaries]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
    cells = [f"{100 * c[imports] / t:.0f}% of all" for c, t in summaries]
    lines.append(f"| {imports} | " + " | ".join(cells) + " |")
    text = "\n".join(lines) + "\n"
    RESULTS.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
