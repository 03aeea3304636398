"""Errors raised by event stores.

Every driver error (sqlite3, SQLAlchemy, asyncpg) is translated into one of these,
so callers never catch a driver's exception type.
"""

from __future__ import annotations

from chaincrawler.errors import ChaincrawlerError


class EventStoreError(ChaincrawlerError):
    """Base class of every event store error."""


class StoreOperationalError(EventStoreError):
    """A transient failure: connection lost, timeout, database busy.

    Retryable. Nothing of the failed operation was stored; after a failed
    ``commit`` re-read ``tip()`` before committing again (the commit may have
    reached the database just before the connection dropped).
    """


class StoreConflictError(EventStoreError):
    """A write does not fit the stored data.

    Raised when a commit does not extend the stored canonical tip, when its
    blocks or events are not linked consistently, or when the database rejects
    a row as a duplicate. Nothing of the operation was written.
    """


class HistoryPrunedError(EventStoreError):
    """The state asked for is older than the history the store keeps (the reorg window).

    Raised by a read of stored collections "at height" outside the window, and by a
    rollback deeper than the blocks whose collection writes are kept apart; a rollback
    raising it wrote nothing.
    """


class StoreLockedError(EventStoreError):
    """Another process holds the store's single-writer lock."""


class StoreReadOnlyError(EventStoreError):
    """A write was attempted on a store opened with ``writer=False``."""


class StoreClosedError(EventStoreError):
    """The store is not open (``open()`` was not called, or ``close()`` was)."""


class StoreNetworkMismatchError(EventStoreError):
    """The store was created for another network or genesis block."""


class SchemaVersionError(EventStoreError):
    """The store's schema version cannot be used by this version of chaincrawler."""


class SchemaMissingError(EventStoreError):
    """No store exists at the location, and this open creates none.

    Only a writer with automatic schema management (``create_schema=True``)
    creates a store; a reader never creates anything.
    """


class NotAStoreError(EventStoreError):
    """The location holds data of something else: never written to, migrated or removed."""


class StoreAccessError(EventStoreError):
    """The store's location cannot be used: a missing directory, no permission."""
