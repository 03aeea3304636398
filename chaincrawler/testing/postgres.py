"""Helpers for tests against a PostgreSQL server: reachability and schema clean-up."""

from __future__ import annotations

from collections.abc import Iterable

import asyncpg


async def unreachable_reason(dsn: str) -> str | None:
    """None when PostgreSQL answers at ``dsn``, else why it does not."""
    try:
        conn = await asyncpg.connect(dsn, timeout=5)
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        return f"{type(exc).__name__}: {exc}"
    await conn.close()
    return None


async def drop_schemas(dsn: str, schemas: Iterable[str]) -> None:
    """Drop each schema (and everything in it) if it exists."""
    conn = await asyncpg.connect(dsn)
    try:
        for schema in schemas:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()
