"""The event store: an append-only, reorg-aware event log with two backends.

``open_store(url)`` gives an SQLiteEventStore (``sqlite:///file.db``) or a
PostgresEventStore (``postgresql://...``); both implement ``EventStore`` and
pass the same conformance suite (``chaincrawler.testing.storesuite``).
"""

from __future__ import annotations

from chaincrawler.eventstore.base import EventStore
from chaincrawler.eventstore.errors import (
    EventStoreError,
    HistoryPrunedError,
    NotAStoreError,
    SchemaMissingError,
    SchemaVersionError,
    StoreAccessError,
    StoreClosedError,
    StoreConflictError,
    StoreLockedError,
    StoreNetworkMismatchError,
    StoreOperationalError,
    StoreReadOnlyError,
)
from chaincrawler.eventstore.factory import open_store
from chaincrawler.eventstore.postgres import PostgresEventStore
from chaincrawler.eventstore.records import (
    AtTip,
    BlockRecord,
    BlockStatus,
    CollectionWrite,
    CommitResult,
    EventQuery,
    EventStatus,
    MempoolEventQuery,
    MempoolFailure,
    PendingEvent,
    PendingMempoolEvent,
    PendingSnapshot,
    Reorg,
    Retention,
    Snapshot,
    StoredEvent,
    StoredMempoolEvent,
)
from chaincrawler.eventstore.schema import SCHEMA_VERSION
from chaincrawler.eventstore.sqlite import SQLiteEventStore

__all__ = [
    "SCHEMA_VERSION",
    "AtTip",
    "BlockRecord",
    "BlockStatus",
    "CollectionWrite",
    "CommitResult",
    "EventQuery",
    "EventStatus",
    "EventStore",
    "EventStoreError",
    "HistoryPrunedError",
    "MempoolEventQuery",
    "MempoolFailure",
    "NotAStoreError",
    "PendingEvent",
    "PendingMempoolEvent",
    "PendingSnapshot",
    "PostgresEventStore",
    "Reorg",
    "Retention",
    "SQLiteEventStore",
    "SchemaMissingError",
    "SchemaVersionError",
    "Snapshot",
    "StoreAccessError",
    "StoreClosedError",
    "StoreConflictError",
    "StoreLockedError",
    "StoreNetworkMismatchError",
    "StoreOperationalError",
    "StoreReadOnlyError",
    "StoredEvent",
    "StoredMempoolEvent",
    "open_store",
]
