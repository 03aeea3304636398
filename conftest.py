"""Fixtures shared by tests/ and regtest/: the PostgreSQL test server and its schemas."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Callable

import pytest

from chaincrawler.testing.postgres import drop_schemas, unreachable_reason

DEFAULT_PG_DSN = "postgresql://postgres@127.0.0.1:5432/test"


@pytest.fixture(scope="session")
def pg_dsn() -> str:
    """The test server's DSN (``CHAINCRAWLER_TEST_PG_DSN``).

    Skips the test when the server is unreachable, but fails it under ``CI=true``:
    a missing PostgreSQL in CI is an error, not a reason to skip.
    """
    dsn = os.environ.get("CHAINCRAWLER_TEST_PG_DSN", DEFAULT_PG_DSN)
    problem = asyncio.run(unreachable_reason(dsn))
    if problem is not None:
        message = f"PostgreSQL not reachable at {dsn} ({problem}); set CHAINCRAWLER_TEST_PG_DSN"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return dsn


@pytest.fixture
async def pg_schemas(pg_dsn: str) -> AsyncIterator[Callable[[], str]]:
    """Hands out fresh schema names; drops every one of them after the test."""
    names: list[str] = []

    def new_name() -> str:
        names.append(f"cc_test_{uuid.uuid4().hex[:12]}")
        return names[-1]

    yield new_name
    await drop_schemas(pg_dsn, names)
