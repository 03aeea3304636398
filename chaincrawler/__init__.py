"""chaincrawler: index Bitcoin with reorg-aware event sourcing.

Write a :class:`Model` with typed state, ``process_block`` that calls ``self.apply(...)``
with :class:`Event` instances, and ``@on`` handlers; run it with ``chaincrawler run``
or a :class:`Crawler`. Names are imported lazily, so ``import chaincrawler.chain``
stays light.
"""

from __future__ import annotations

import ast
import functools
import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    # The public API, listed once: type checkers read these imports, and at run time
    # ``__getattr__`` imports each name from the module named here on first use.
    from chaincrawler.chain.networks import Network as Network
    from chaincrawler.chain.networks import get_network as get_network
    from chaincrawler.chain.script import ScriptType as ScriptType
    from chaincrawler.chain.types import Block as Block
    from chaincrawler.chain.types import BlockHeader as BlockHeader
    from chaincrawler.chain.types import OutPoint as OutPoint
    from chaincrawler.chain.types import Transaction as Transaction
    from chaincrawler.chain.types import TxIn as TxIn
    from chaincrawler.chain.types import TxOut as TxOut
    from chaincrawler.config import ConfigError as ConfigError
    from chaincrawler.config import Settings as Settings
    from chaincrawler.config import load_settings as load_settings
    from chaincrawler.crawler.errors import CrawlerError as CrawlerError
    from chaincrawler.crawler.errors import DeepReorgError as DeepReorgError
    from chaincrawler.crawler.errors import ModelFailedError as ModelFailedError
    from chaincrawler.crawler.errors import ModelNotInStoreError as ModelNotInStoreError
    from chaincrawler.crawler.pipeline import Committed as Committed
    from chaincrawler.crawler.pipeline import Crawler as Crawler
    from chaincrawler.crawler.pipeline import CrawlerOptions as CrawlerOptions
    from chaincrawler.crawler.pipeline import RolledBack as RolledBack
    from chaincrawler.errors import ChaincrawlerError as ChaincrawlerError
    from chaincrawler.errors import ChainDataError as ChainDataError
    from chaincrawler.eventstore import EventQuery as EventQuery
    from chaincrawler.eventstore import EventStore as EventStore
    from chaincrawler.eventstore import EventStoreError as EventStoreError
    from chaincrawler.eventstore import NotAStoreError as NotAStoreError
    from chaincrawler.eventstore import StoreAccessError as StoreAccessError
    from chaincrawler.eventstore import open_store as open_store
    from chaincrawler.models import ChainModel as ChainModel
    from chaincrawler.models import Event as Event
    from chaincrawler.models import Model as Model
    from chaincrawler.models import Tip as Tip
    from chaincrawler.models import on as on
    from chaincrawler.models import query as query
    from chaincrawler.node.client import NodeClient as NodeClient
    from chaincrawler.node.errors import NodeError as NodeError
    from chaincrawler.node.errors import NodeUnreachableError as NodeUnreachableError
    from chaincrawler.node.errors import RPCError as RPCError


@functools.cache
def _lazy_names() -> dict[str, str]:
    """Public name -> its module, read from the ``TYPE_CHECKING`` imports above."""
    tree = ast.parse(Path(__file__).read_text(encoding="utf-8"))
    block = next(n for n in tree.body if isinstance(n, ast.If)
                 and isinstance(n.test, ast.Name) and n.test.id == "TYPE_CHECKING")
    return {alias.asname or alias.name: str(imp.module)
            for imp in block.body if isinstance(imp, ast.ImportFrom) for alias in imp.names}


def __getattr__(name: str) -> Any:
    if name == "__all__":
        return ["__version__", *_lazy_names()]
    module = _lazy_names().get(name)
    if module is None:
        raise AttributeError(f"module 'chaincrawler' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_lazy_names()})
