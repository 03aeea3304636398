"""Summarise a py-spy raw profile of a crawl by where the time goes.

Run::

    pip install py-spy
    py-spy record --format raw -o /tmp/ingest.raw --rate 200 -- \\
        python benchmarks/ingest.py --store sqlite --skip-reorg
    python benchmarks/profile_summary.py /tmp/ingest.raw

A sample counts for the first category (in the order below) any frame of its stack falls
in, so "chain layer" is parsing, ids, input/output decoding and address derivation,
wherever it is called from. Writes ``benchmarks/results/ingest-profile.md``.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

RESULTS = Path(__file__).parent / "results" / "ingest-profile.md"

# (category, substrings of a frame "function (file:line)") in priority order
CATEGORIES = [
    ("event store (SQL, commit)", ("chaincrawler/eventstore/", "sqlalchemy/", "asyncpg/")),
    ("event serialisation (JSON)", ("Event.to_json", "model_dump_json")),
    ("chain layer: parse, txids, decode, addresses",
     ("chaincrawler/chain/",)),
    ("prevout resolution (cache)", ("chaincrawler/crawler/prevouts.py",)),
    ("models: process_block, apply, handlers", ("chaincrawler/models/", "chaincrawler/examples/")),
    ("node I/O (aiohttp, JSON-RPC, REST)", ("aiohttp/", "chaincrawler/node/", "json/")),
    ("pipeline and event loop", ("chaincrawler/crawler/", "asyncio/", "selectors.py")),
]


def main() -> None:
    counts: Counter[str] = Counter()
    total = 0
    for line in Path(sys.argv[1]).read_text().splitlines():
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
    lines = [
        "# Where a crawl spends its time (`benchmarks/profile_summary.py`)",
        "",
        "py-spy samples (busy threads only) of `benchmarks/ingest.py --store sqlite "
        "--skip-reorg` inside `Crawler.run` and in the SQLite store's worker thread, "
        "grouped (first matching category wins, in this order):",
        "",
        "| category | share |",
        "| --- | ---: |",
    ]
    for name, _ in [*CATEGORIES, ("other", ())]:
        if counts[name]:
            lines.append(f"| {name} | {100 * counts[name] / total:.0f}% |")
    text = "\n".join(lines) + "\n"
    RESULTS.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
