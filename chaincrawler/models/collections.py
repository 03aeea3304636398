"""Stored collections: dict-like model state that lives in the event store.

Declare one on a model like a plain attribute::

    class Balances(Model):
        balances: StoredDict[str, int] = StoredDict()

        async def process_block(self, block: Block) -> None:
            await self.balances.prefetch(addresses_of(block))   # one batched read
            ...                                                  # then self.apply(...)

        @on(Credited)
        def _credited(self, event: Credited) -> None:
            self.balances[event.address] = self.balances.get(event.address, 0) + event.value

Handlers stay synchronous, so a handler can only read keys already in memory: those
``process_block`` prefetched for the block (``await collection.prefetch(keys)``, one
``get_many`` of the keys not in memory), those the current batch wrote, and those still
in the bounded cache of clean values. Reading any other key raises
:class:`StoredKeyNotLoadedError`; the fix is to prefetch it.

The framework buffers each block's writes (the last value per key) and the crawler
commits them with the block's events in one transaction; values are validated with
pydantic when read from the store. Treat values as immutable: assign a new value,
never change one in place (an in-place change is not written).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Sequence
from typing import Any, Generic, Protocol, TypeVar, overload

import pydantic
import pydantic_core

from chaincrawler.models.errors import ModelError, describe_validation

V = TypeVar("V")
K = TypeVar("K", bound=str)
D = TypeVar("D")

DEFAULT_CACHE_ENTRIES = 100_000
_ABSENT: Any = object()  # a key known to be absent from the store


class StoredKeyNotLoadedError(ModelError, LookupError):
    """A handler read a key of a stored collection that is not in memory: prefetch it."""


class StoredValueError(ModelError):
    """A stored value does not validate as the collection's value type (or cannot be
    written as JSON); the way out is a rebuild of the model."""


class CollectionReader(Protocol):
    """What a collection reads the store with (an ``EventStore``)."""

    async def get_many(
        self, model: str, collection: str, keys: Sequence[str], *, at_height: int | None = None
    ) -> Any: ...


class StoredDict(Generic[K, V]):
    """A dict-like state attribute whose data lives in the event store (see the module).

    ``StoredDict()`` in the class body declares it; each model instance gets its own,
    bound by the framework to the model, the attribute name and the value type.
    """

    def __init__(self) -> None:
        self.model = ""
        self.collection = ""
        self._adapter: pydantic.TypeAdapter[Any] | None = None
        self._reader: CollectionReader | None = None
        self._cache_entries = DEFAULT_CACHE_ENTRIES
        self._clean: OrderedDict[str, Any] = OrderedDict()  # LRU of committed values
        self._loaded: dict[str, Any] = {}  # prefetched for the block being processed
        self._pending: dict[str, Any] = {}  # written by processed, uncommitted blocks
        self._block: dict[str, Any] = {}  # written by the block being processed

    # -- for handlers ---------------------------------------------------------------

    def __getitem__(self, key: K) -> V:
        value = self._lookup(key)
        if value is _ABSENT:
            raise KeyError(key)
        return value  # type: ignore[no-any-return]

    @overload
    def get(self, key: K) -> V | None: ...

    @overload
    def get(self, key: K, default: D) -> V | D: ...

    def get(self, key: K, default: Any = None) -> Any:
        """The value of ``key``, or ``default`` when the store has none."""
        value = self._lookup(key)
        return default if value is _ABSENT else value

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self._lookup(key) is not _ABSENT

    def __setitem__(self, key: K, value: V) -> None:
        self._write(key, value)

    def __delitem__(self, key: K) -> None:
        if self._lookup(key) is _ABSENT:
            raise KeyError(key)
        self._write(key, _ABSENT)

    async def prefetch(self, keys: Iterable[str]) -> None:
        """Load ``keys`` for the block being processed, in one batched read of those not
        in memory; handlers of this block may then read them."""
        missing: list[str] = []
        for key in dict.fromkeys(keys):
            if key in self._pending or key in self._loaded:
                continue
            if key in self._clean:
                self._loaded[key] = self._clean[key]
            else:
                missing.append(key)
        if not missing:
            return
        found = (await self._store().get_many(self.model, self.collection, missing)).result
        for key in missing:
            text = found.get(key)
            self._loaded[key] = _ABSENT if text is None else self.decode(key, text)

    async def fetch(self, keys: Sequence[str]) -> dict[str, V]:
        """The committed values of those ``keys`` the store holds, read from the store
        (for queries: consistent with the store's committed tip, not the batch)."""
        found = (await self._store().get_many(self.model, self.collection, keys)).result
        return {key: self.decode(key, text) for key, text in found.items()}

    # -- for the framework ----------------------------------------------------------

    def bind(self, model: str, collection: str, value_type: Any) -> None:
        """Name the collection and its value type (done once per model instance)."""
        self.model = model
        self.collection = collection
        self._adapter = pydantic.TypeAdapter(value_type)

    def attach(self, reader: CollectionReader, cache_entries: int) -> None:
        """Read from ``reader`` and keep up to ``cache_entries`` clean values in memory."""
        self._reader = reader
        self._cache_entries = cache_entries
        self._evict()

    def take_block_writes(self) -> list[tuple[str, str | None]]:
        """End the block: its writes as (key, JSON text or None for deleted), in order."""
        writes = [(key, None if v is _ABSENT else self.encode(key, v))
                  for key, v in self._block.items()]
        self._pending.update(self._block)
        self._block = {}
        self._end_block()
        return writes

    def committed(self) -> None:
        """Every processed block was committed: its values are clean now."""
        self._end_block()
        for key, value in self._pending.items():
            self._remember(key, value)
        self._pending = {}
        self._evict()

    def discard(self) -> None:
        """Forget everything in memory (after a rollback, a failure, a restore)."""
        self._clean.clear()
        self._loaded = {}
        self._pending = {}
        self._block = {}

    def encode(self, key: str, value: Any) -> str:
        """``value`` as JSON text."""
        try:
            return self._type().dump_json(value, warnings="error").decode()
        except (pydantic_core.PydanticSerializationError, TypeError, ValueError) as exc:
            raise StoredValueError(
                f"model {self.model!r}: collection {self.collection!r}: the value of key "
                f"{key!r} cannot be written as JSON: {exc}"
            ) from exc

    def decode(self, key: str, text: str) -> Any:
        """A stored value, validated as the collection's value type."""
        try:
            return self._type().validate_json(text)
        except pydantic.ValidationError as exc:
            raise StoredValueError(
                f"model {self.model!r}: collection {self.collection!r}: the stored value of "
                f"key {key!r} does not validate ({describe_validation(exc)}); was the model "
                "changed since it was written? Rebuild the model"
            ) from exc

    # -- internals ------------------------------------------------------------------

    def _lookup(self, key: str) -> Any:
        for layer in (self._block, self._pending, self._loaded):
            if key in layer:
                return layer[key]
        if key in self._clean:
            self._clean.move_to_end(key)
            return self._clean[key]
        raise StoredKeyNotLoadedError(
            f"model {self.model!r}: key {key!r} of stored collection {self.collection!r} is "
            f"not in memory; prefetch it in process_block "
            f"(await self.{self.collection}.prefetch(keys)) before a handler reads it"
        )

    def _write(self, key: str, value: Any) -> None:
        if "\x00" in key:  # PostgreSQL text cannot hold it: refused on both backends
            raise StoredValueError(
                f"model {self.model!r}: collection {self.collection!r}: key {key!r} holds a "
                "NUL character, which no store can keep")
        self._block[key] = value

    def _end_block(self) -> None:
        for key, value in self._loaded.items():
            self._remember(key, value)
        self._loaded = {}
        self._evict()

    def _remember(self, key: str, value: Any) -> None:
        self._clean[key] = value
        self._clean.move_to_end(key)

    def _evict(self) -> None:
        clean = self._clean
        while len(clean) > self._cache_entries:
            clean.popitem(last=False)

    def _store(self) -> CollectionReader:
        if self._reader is None:
            raise ModelError(
                f"model {self.model!r}: stored collection {self.collection!r} is not attached "
                "to a store (the crawler attaches it)"
            )
        return self._reader

    def _type(self) -> pydantic.TypeAdapter[Any]:
        if self._adapter is None:
            raise ModelError(f"stored collection {self.collection!r} is not bound to a model")
        return self._adapter

    def __repr__(self) -> str:
        return f"<StoredDict {self.model}.{self.collection}>"
