"""``open_store``: pick the backend from a store URL."""

from __future__ import annotations

from typing import Any

from chaincrawler.eventstore.base import EventStore
from chaincrawler.eventstore.postgres import PostgresEventStore
from chaincrawler.eventstore.sqlite import MEMORY, SQLiteEventStore

_POSTGRES_SCHEMES = ("postgresql://", "postgres://", "postgresql+asyncpg://")


def open_store(url: str, **options: Any) -> EventStore:
    """Create the store ``url`` names; call its ``open()`` before use.

    - ``sqlite:///relative/path.db``, ``sqlite:////absolute/path.db``, a bare
      file path, or ``sqlite://`` / ``sqlite:///:memory:`` for a private
      in-memory store -> SQLiteEventStore (options: ``synchronous``,
      ``busy_timeout``, ``cache_mib``).
    - ``postgresql://user@host:port/db`` -> PostgresEventStore (options:
      ``schema``, ``min_pool_size``, ``max_pool_size``, ``connect_timeout``,
      ``command_timeout``, ``statement_timeout``).
    """
    if url.startswith(_POSTGRES_SCHEMES):
        dsn = url.replace("postgresql+asyncpg://", "postgresql://", 1)
        return PostgresEventStore(dsn, **options)
    if url.startswith("sqlite://"):
        path = url.removeprefix("sqlite://")
        path = path.removeprefix("/") or MEMORY
        return SQLiteEventStore(path, **options)
    if "://" in url:
        scheme = url.split("://", 1)[0]
        raise ValueError(
            f"unsupported event store URL scheme {scheme!r}: use sqlite:///path.db "
            "or postgresql://user@host/database"
        )
    return SQLiteEventStore(url, **options)
