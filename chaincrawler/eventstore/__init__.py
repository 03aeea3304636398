"""The event store: an append-only, reorg-aware event log with two backends.

``open_store(url)`` gives an SQLiteEventStore (``sqlite:///file.db``) or a
PostgresEventStore (``postgresql://...``); both implement ``EventStore`` and
pass the same conformance suite (``chaincrawler.testing.storesuite``).
"""

from __future__ import annotations

from chaincrawler.eventstore.base import EventStore
from chaincrawler.eventstore.errors import (
    EventStoreError,
    NetworkMismatchError,
    NotAStoreError,
    SchemaMissingError,
    SchemaVersionError,
    StoreAccessError,
    StoreClosedError,
    StoreConflictError,
    StoreLockedError,
    StoreOperationalError,
    StoreReadOnlyError,
)
from chaincrawler.eventstore.factory import open_store
from chaincrawler.eventstore.postgres import PostgresEventStore
from chaincrawler.eventstore.records import (
    BlockRecord,
    BlockStatus,
    CommitResult,
    EventQuery,
    EventStatus,
    PendingEvent,
    PendingSnapshot,
    Reorg,
    Snapshot,
    StoredEvent,
)
from chaincrawler.eventstore.schema import SCHEMA_VERSION
from chaincrawler.eventstore.sqlite import SQLiteEventStore

__all__ = [
    "SCHEMA_VERSION",
    "BlockRecord",
    "BlockStatus",
    "CommitResult",
    "EventQuery",
    "EventStatus",
    "EventStore",
    "EventStoreError",
    "NetworkMismatchError",
    "NotAStoreError",
    "PendingEvent",
    "PendingSnapshot",
    "PostgresEventStore",
    "Reorg",
    "SQLiteEventStore",
    "SchemaMissingError",
    "SchemaVersionError",
    "Snapshot",
    "StoreAccessError",
    "StoreClosedError",
    "StoreConflictError",
    "StoreLockedError",
    "StoreOperationalError",
    "StoreReadOnlyError",
    "StoredEvent",
    "open_store",
]
