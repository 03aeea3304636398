"""open_store picks the backend from the URL; store errors belong to chaincrawler's family."""

from __future__ import annotations

import pytest

from chaincrawler.errors import ChaincrawlerError
from chaincrawler.eventstore import (
    EventStoreError,
    PostgresEventStore,
    SchemaMissingError,
    SchemaVersionError,
    SQLiteEventStore,
    StoreConflictError,
    StoreLockedError,
    StoreNetworkMismatchError,
    StoreOperationalError,
    open_store,
)


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("sqlite:///chain.db", "chain.db"),
        ("sqlite:////var/lib/chaincrawler/chain.db", "/var/lib/chaincrawler/chain.db"),
        ("data/chain.db", "data/chain.db"),
        ("sqlite://", ":memory:"),
        ("sqlite:///:memory:", ":memory:"),
    ],
)
def test_sqlite_urls(url: str, path: str) -> None:
    store = open_store(url, synchronous="NORMAL")
    assert isinstance(store, SQLiteEventStore)
    assert store.path == path


@pytest.mark.parametrize(
    "url",
    ["postgresql://u@db:5432/chain", "postgres://u@db/chain", "postgresql+asyncpg://u@db/chain"],
)
def test_postgres_urls(url: str) -> None:
    store = open_store(url, schema="crawler_two", max_pool_size=3)
    assert isinstance(store, PostgresEventStore)
    assert store.schema == "crawler_two"
    assert store.dsn.startswith("postgres")
    assert "+asyncpg" not in store.dsn


def test_password_never_shown() -> None:
    store = open_store("postgresql://user:hunter2@db/chain")
    assert "hunter2" not in repr(store)


@pytest.mark.parametrize(
    ("url", "options", "message"),
    [
        ("mysql://db/chain", {}, "unsupported event store URL scheme 'mysql'"),
        ("postgresql://db/chain", {"schema": "bad name; drop"}, "plain SQL identifier"),
        ("postgresql://db/chain", {"min_pool_size": 5, "max_pool_size": 2}, "min_pool_size"),
        ("sqlite:///x.db", {"synchronous": "OFF"}, "synchronous"),
    ],
)
def test_bad_urls_and_options(url: str, options: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        open_store(url, **options)


def test_errors_are_chaincrawler_errors() -> None:
    for error in (
        StoreOperationalError, StoreConflictError, StoreLockedError,
        StoreNetworkMismatchError, SchemaVersionError, SchemaMissingError,
    ):
        assert issubclass(error, EventStoreError)
    assert issubclass(EventStoreError, ChaincrawlerError)
