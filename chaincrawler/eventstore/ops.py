"""The primitive operations a write or a consistent read yields, and how steps are driven.

A write (or a read needing one snapshot) is a generator of steps: it yields an
operation -- a statement, a batch of rows -- and is sent back its result. So the
same code runs on SQLite, synchronously on its worker thread, and on PostgreSQL,
awaited; a backend runs the whole generator inside one transaction.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Generator, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Value:
    """Run a statement; result: the first column of its first row, or None."""

    statement: str
    args: tuple[Any, ...] = ()


@dataclass(frozen=True, slots=True)
class Row:
    """Run a statement; result: its first row, or None."""

    statement: str
    args: tuple[Any, ...] = ()


@dataclass(frozen=True, slots=True)
class Rows:
    """Run a statement; result: all its rows."""

    statement: str
    args: tuple[Any, ...] = ()


@dataclass(frozen=True, slots=True)
class Execute:
    """Run a statement; result: the number of rows it changed (0 for DDL)."""

    statement: str
    args: tuple[Any, ...] = ()


@dataclass(frozen=True, slots=True)
class Migrate:
    """Run a statement of a migration: it may rewrite a whole table, so no time limit."""

    statement: str


@dataclass(frozen=True, slots=True)
class ExecuteMany:
    """Run a statement once per row of arguments."""

    statement: str
    rows: Sequence[tuple[Any, ...]]


@dataclass(frozen=True, slots=True)
class InsertRows:
    """Insert rows of ``columns`` into ``table`` (PostgreSQL: with COPY)."""

    table: str
    columns: Sequence[str]
    rows: Sequence[tuple[Any, ...]]


@dataclass(frozen=True, slots=True)
class LockLog:
    """Wait for every other append or rollback, never for readers.

    PostgreSQL: ``LOCK TABLE events IN EXCLUSIVE MODE``; SQLite's write
    transaction already holds the database's only write lock.
    """


@dataclass(frozen=True, slots=True)
class Notify:
    """Wake the readers following the store once the transaction commits."""


@dataclass(frozen=True, slots=True)
class Tables:
    """Result: the names of the tables at the store's location (its schema or file)."""


@dataclass(frozen=True, slots=True)
class CreateTables:
    """Create the store's schema and every table and index of ``schema``."""


Op = (
    Value | Row | Rows | Execute | Migrate | ExecuteMany | InsertRows | LockLog | Notify
    | Tables | CreateTables
)

#: A write: yields operations, is sent their results, returns the write's result.
Steps = Generator[Op, Any, T]

#: ``read``: a read-only transaction; ``write``: any store may write (checkpoints);
#: ``writer``: only the writer (PostgreSQL first checks it still holds its lock).
Mode = Literal["read", "write", "writer"]


def drive(steps: Steps[T], perform: Callable[[Op], Any]) -> T:
    """Run ``steps``, performing each operation synchronously."""
    result: Any = None
    try:
        while True:
            result = perform(steps.send(result))
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]
    finally:
        steps.close()


async def drive_async(steps: Steps[T], perform: Callable[[Op], Awaitable[Any]]) -> T:
    """Run ``steps``, awaiting each operation."""
    result: Any = None
    try:
        while True:
            result = await perform(steps.send(result))
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]
    finally:
        steps.close()
