"""Testing tools shipped for users: what you need to test your own models.

- :mod:`chaincrawler.testing.pytest_plugin`: pytest fixtures (registered on install):
  ``simnode``, ``simnode_client``, ``chaingen``, ``chaincrawler_store``, ``crawl``.
- :mod:`chaincrawler.testing.blocks`: build valid regtest blocks and transactions in
  memory, for unit tests without a node.
- :mod:`chaincrawler.testing.simnode`: ``SimNode``, a Bitcoin Core-like regtest node
  (JSON-RPC, REST, ZMQ) to run in-process or as ``chaincrawler simnode``.
- :mod:`chaincrawler.testing.chaingen`: ``ChainGenerator``, mines and sends standard
  transactions (and reorganises) on a simnode or a real ``bitcoind``.
- :mod:`chaincrawler.testing.nodeproc`: start a regtest ``bitcoind`` (``BITCOIND`` set)
  or simnode as a subprocess.
- :mod:`chaincrawler.testing.rawrpc`: ``RawRpc``, JSON-RPC and REST with exact statuses
  and replies, to test a node's answers.
- :mod:`chaincrawler.testing.recorded`: replies recorded from a real Bitcoin Core.
- :mod:`chaincrawler.testing.postgres`: helpers for tests against a PostgreSQL server.
"""
