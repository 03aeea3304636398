"""Helpers for tests against a PostgreSQL server: reachability and store clean-up."""

from __future__ import annotations

from collections.abc import Iterable

import asyncpg

from chaincrawler.eventstore import PostgresEventStore


async def unreachable_reason(dsn: str) -> str | None:
    """None when PostgreSQL answers at ``dsn``, else why it does not."""
    try:
        conn = await asyncpg.connect(dsn, timeout=5)
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        return f"{type(exc).__name__}: {exc}"
    await conn.close()
    return None


async def drop_schemas(dsn: str, schemas: Iterable[str]) -> None:
    """Destroy the event store in each schema, if there is one (``EventStore.destroy``)."""
    for schema in schemas:
        await PostgresEventStore(dsn, schema=schema).destroy()
