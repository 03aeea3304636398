"""The Bitcoin Core client: JSON-RPC (:mod:`.jsonrpc`), REST, ZMQ and the NodeError family.

:class:`~chaincrawler.node.client.NodeClient` is the entry point. This package knows
Bitcoin Core and nothing of models, stores or the crawler.
"""
