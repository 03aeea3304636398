"""Testing tools shipped for users: a simulated regtest node and a chain generator.

- :mod:`chaincrawler.testing.simnode`: ``SimNode``, a Bitcoin Core-like regtest node
  (JSON-RPC, REST, ZMQ) to run in-process or as ``chaincrawler simnode``.
- :mod:`chaincrawler.testing.chaingen`: ``ChainGenerator``, mines and sends standard
  transactions (and reorganises) on a simnode or a real ``bitcoind``.
- :mod:`chaincrawler.testing.postgres`: helpers for tests against a PostgreSQL server.
"""
