"""The reads both SQL backends share: one query text each, rows turned into records."""

from __future__ import annotations

import abc
import asyncio
from collections.abc import AsyncGenerator, Sequence
from datetime import datetime
from typing import Any, ClassVar

from chaincrawler.eventstore import mempool, sql, stored
from chaincrawler.eventstore.base import EventStore
from chaincrawler.eventstore.ops import Mode, Steps, T
from chaincrawler.eventstore.records import (
    AtTip,
    BlockRecord,
    EventQuery,
    MempoolEventQuery,
    MempoolFailure,
    Reorg,
    Snapshot,
    StoredEvent,
    StoredMempoolEvent,
)


class SqlReads(EventStore):
    """``EventStore``'s reads on top of a backend's ``_fetch`` and ``_transact``.

    A backend names its placeholder ``_style``, its ``_dialect`` ("sqlite" or
    "postgresql": the schema's DDL, migrations, batch statements) and how it decodes
    a stored timestamp (``_parse_time``); statements are written once, with ``?``
    placeholders, in ``sql`` and ``stored``.
    """

    _style: ClassVar[sql.Style]
    _dialect: ClassVar[str]

    @abc.abstractmethod
    async def _transact(self, steps: Steps[T], mode: Mode) -> T:
        """Run ``steps`` in one transaction (``read``: one consistent snapshot)."""

    @abc.abstractmethod
    async def _fetch(self, statement: str, *args: Any) -> Sequence[Sequence[Any]]:
        """The rows ``statement`` (in this backend's placeholder style) returns."""

    @staticmethod
    @abc.abstractmethod
    def _parse_time(value: Any) -> datetime:
        """A stored timestamp as an aware datetime."""

    @abc.abstractmethod
    async def _change_marker(self) -> object:
        """A value that differs after another connection's commit or rollback."""

    async def changes(self, poll_interval: float = 0.5) -> AsyncGenerator[None, None]:
        async for _ in self._poll_changes(poll_interval):
            yield

    async def _poll_changes(self, poll_interval: float) -> AsyncGenerator[None, None]:
        """``changes()`` by comparing ``_change_marker()`` every ``poll_interval`` seconds."""
        if poll_interval <= 0:
            raise ValueError(f"poll_interval must be > 0, not {poll_interval}")
        self._check_open()
        marker = await self._change_marker()
        yield
        while True:
            await asyncio.sleep(poll_interval)
            latest = await self._change_marker()
            if latest != marker:
                marker = latest
                yield

    async def _rows(self, statement: str, *args: Any) -> Sequence[Sequence[Any]]:
        """Rows of a ``?``-style statement from ``sql``."""
        if self._style == "numeric":
            statement = sql.numbered(statement)
        return await self._fetch(statement, *args)

    async def tip(self) -> BlockRecord | None:
        rows = await self._rows(sql.TIP)
        return sql.block_from_row(rows[0]) if rows else None

    async def canonical_block(self, height: int) -> BlockRecord | None:
        rows = await self._rows(sql.CANONICAL_AT, height)
        return sql.block_from_row(rows[0]) if rows else None

    async def chain_window(self, depth: int) -> list[BlockRecord]:
        rows = await self._rows(sql.CHAIN_WINDOW, depth)
        return [sql.block_from_row(row) for row in reversed(rows)]

    async def orphaned_blocks(
        self, *, reorg_id: int | None = None, limit: int = 100
    ) -> list[BlockRecord]:
        statement, args = sql.select_orphaned_blocks(self._style, reorg_id=reorg_id, limit=limit)
        return [sql.block_from_row(row) for row in await self._fetch(statement, *args)]

    async def reorgs(self, limit: int = 100) -> list[Reorg]:
        rows = await self._rows(sql.REORGS, limit)
        return [sql.reorg_from_row(row, self._parse_time) for row in rows]

    async def read_events(self, query: EventQuery | None = None) -> list[StoredEvent]:
        statement, args = sql.select_events(query or EventQuery(), self._style)
        rows = await self._fetch(statement, *args)
        return [sql.event_from_row(row, self._parse_time) for row in rows]

    async def max_position(self) -> int:
        rows = await self._rows(sql.MAX_POSITION)
        return int(rows[0][0])

    async def read_mempool_events(
        self, query: MempoolEventQuery | None = None
    ) -> list[StoredMempoolEvent]:
        statement, args = mempool.select(query or MempoolEventQuery(), self._style)
        rows = await self._fetch(statement, *args)
        return [mempool.event_from_row(row, self._parse_time) for row in rows]

    async def max_mempool_position(self) -> int:
        rows = await self._rows(mempool.MAX_POSITION)
        return int(rows[0][0])

    async def mempool_failures(self) -> list[MempoolFailure]:
        rows = await self._rows(mempool.FAILURES)
        return [mempool.failure_from_row(row, self._parse_time) for row in rows]

    async def latest_snapshot(self, model: str, max_height: int | None = None) -> Snapshot | None:
        height = sql.MAX_HEIGHT if max_height is None else max_height
        rows = await self._rows(sql.LATEST_SNAPSHOT, model, height)
        return sql.snapshot_from_row(rows[0], self._parse_time) if rows else None

    async def get_checkpoint(self, subscriber: str) -> int | None:
        rows = await self._rows(sql.GET_CHECKPOINT, subscriber)
        return int(rows[0][0]) if rows else None

    async def known_models(self) -> set[str]:
        return {row[0] for row in await self._rows(sql.KNOWN_MODELS)}

    async def model_versions(self) -> dict[str, str | None]:
        return {row[0]: row[1] for row in await self._rows(sql.MODEL_VERSIONS)}

    async def get_many(
        self, model: str, collection: str, keys: Sequence[str], *, at_height: int | None = None
    ) -> AtTip[dict[str, str]]:
        self._check_open()
        steps = stored.get_many_steps(self._dialect, model, collection, keys, at_height)
        return await self._transact(steps, "read")

    async def scan(
        self, model: str, collection: str, *, after: str | None = None, limit: int = 1000
    ) -> AtTip[list[tuple[str, str]]]:
        self._check_open()
        if limit < 1:
            raise ValueError(f"limit must be >= 1, not {limit}")
        return await self._transact(stored.scan_steps(model, collection, after, limit), "read")

    async def count(self, model: str, collection: str) -> AtTip[int]:
        self._check_open()
        return await self._transact(stored.count_steps(model, collection), "read")

    async def meta(self) -> dict[str, str]:
        return {row[0]: row[1] for row in await self._rows(sql.META)}
