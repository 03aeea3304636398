"""chaincrawler: index Bitcoin with reorg-aware event sourcing.

Write a :class:`Model` with typed state, ``process_block`` that calls ``self.apply(...)``
with :class:`Event` instances, and ``@on`` handlers; run it with ``chaincrawler run``
or a :class:`Crawler`. Names are imported lazily, so ``import chaincrawler.chain``
stays light.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from chaincrawler.errors import ChaincrawlerError, ChainDataError

if TYPE_CHECKING:
    from chaincrawler.chain.networks import Network, get_network
    from chaincrawler.chain.script import ScriptType
    from chaincrawler.chain.types import Block, BlockHeader, OutPoint, Transaction, TxIn, TxOut
    from chaincrawler.config import ConfigError, Settings, load_settings
    from chaincrawler.crawler.errors import DeepReorgError, ModelFailedError
    from chaincrawler.crawler.pipeline import Committed, Crawler, CrawlerOptions, RolledBack
    from chaincrawler.eventstore import EventQuery, EventStore, EventStoreError, open_store
    from chaincrawler.models import ChainModel, Event, Model, on, query
    from chaincrawler.node.client import NodeClient
    from chaincrawler.node.errors import NodeError, NodeUnreachableError, RPCError

__version__ = "0.1.0"

_LAZY = {
    "Network": "chaincrawler.chain.networks",
    "get_network": "chaincrawler.chain.networks",
    "ScriptType": "chaincrawler.chain.script",
    "Block": "chaincrawler.chain.types",
    "BlockHeader": "chaincrawler.chain.types",
    "OutPoint": "chaincrawler.chain.types",
    "Transaction": "chaincrawler.chain.types",
    "TxIn": "chaincrawler.chain.types",
    "TxOut": "chaincrawler.chain.types",
    "ConfigError": "chaincrawler.config",
    "Settings": "chaincrawler.config",
    "load_settings": "chaincrawler.config",
    "DeepReorgError": "chaincrawler.crawler.errors",
    "ModelFailedError": "chaincrawler.crawler.errors",
    "NodeError": "chaincrawler.node.errors",
    "NodeUnreachableError": "chaincrawler.node.errors",
    "RPCError": "chaincrawler.node.errors",
    "NodeClient": "chaincrawler.node.client",
    "Committed": "chaincrawler.crawler.pipeline",
    "Crawler": "chaincrawler.crawler.pipeline",
    "CrawlerOptions": "chaincrawler.crawler.pipeline",
    "RolledBack": "chaincrawler.crawler.pipeline",
    "EventQuery": "chaincrawler.eventstore",
    "EventStore": "chaincrawler.eventstore",
    "EventStoreError": "chaincrawler.eventstore",
    "open_store": "chaincrawler.eventstore",
    "ChainModel": "chaincrawler.models",
    "Event": "chaincrawler.models",
    "Model": "chaincrawler.models",
    "on": "chaincrawler.models",
    "query": "chaincrawler.models",
}

__all__ = [
    "Block",
    "BlockHeader",
    "ChainDataError",
    "ChainModel",
    "ChaincrawlerError",
    "Committed",
    "ConfigError",
    "Crawler",
    "CrawlerOptions",
    "DeepReorgError",
    "Event",
    "EventQuery",
    "EventStore",
    "EventStoreError",
    "Model",
    "ModelFailedError",
    "Network",
    "NodeClient",
    "NodeError",
    "NodeUnreachableError",
    "OutPoint",
    "RPCError",
    "RolledBack",
    "ScriptType",
    "Settings",
    "Transaction",
    "TxIn",
    "TxOut",
    "__version__",
    "get_network",
    "load_settings",
    "on",
    "open_store",
    "query",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'chaincrawler' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
