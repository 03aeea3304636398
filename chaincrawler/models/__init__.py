"""Models: the user-facing layer of chaincrawler.

Write a :class:`Model` with typed state, a ``process_block`` that applies
:class:`Event` objects, ``@on`` handlers that change state, and ``@query``
methods that transports expose.
"""

from __future__ import annotations

from chaincrawler.models.chain import (
    BlockConnected,
    ChainBlock,
    ChainModel,
    ChainReorganized,
)
from chaincrawler.models.errors import (
    ApplyOutsideBlockError,
    EventEncodeError,
    EventLoadError,
    ModelDefinitionError,
    ModelError,
    QueryError,
    QueryParamsError,
    ReplayError,
    StateError,
    UnhandledEventError,
    UnknownQueryError,
)
from chaincrawler.models.events import Event, EventRegistry
from chaincrawler.models.model import Model, Tip, on, validate_models
from chaincrawler.models.query import QuerySpec, query

__all__ = [
    "ApplyOutsideBlockError",
    "BlockConnected",
    "ChainBlock",
    "ChainModel",
    "ChainReorganized",
    "Event",
    "EventEncodeError",
    "EventLoadError",
    "EventRegistry",
    "Model",
    "ModelDefinitionError",
    "ModelError",
    "QueryError",
    "QueryParamsError",
    "QuerySpec",
    "ReplayError",
    "StateError",
    "Tip",
    "UnhandledEventError",
    "UnknownQueryError",
    "on",
    "query",
    "validate_models",
]
