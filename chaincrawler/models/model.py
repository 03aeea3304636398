"""The Model base class users subclass, and the ``@on`` handler decorator.

A model keeps typed state, turns blocks into events in ``process_block`` with
``self.apply(event)``, and changes state only in ``@on`` handlers, so replaying
its stored events rebuilds the state exactly::

    class Balances(Model):
        balances: dict[str, int] = {}

        def process_block(self, block: Block) -> None:
            for tx in block.transactions:
                for out in tx.outputs:
                    if out.address:
                        self.apply(Credited(address=out.address, value=out.value))

        @on(Credited)
        def _credited(self, event: Credited) -> None:
            self.balances[event.address] = self.balances.get(event.address, 0) + event.value

Configure a model instance with keyword arguments of a subclass ``__init__`` that
calls ``super().__init__()``; keep configuration in plain attributes set there (not
annotated in the class body, so it is not state and never snapshotted)::

    class Deposits(Model):
        seen: dict[str, int] = {}

        def __init__(self, *, addresses: Iterable[str]) -> None:
            super().__init__()
            self.addresses = frozenset(addresses)

    Deposits(addresses=["bcrt1q..."])

``self.tip`` is the newest block the model's state includes (height and hash): in
``process_block``, the block being processed; between blocks, the last one processed
(the committed tip whenever the crawler holds its models at committed state, as queries
served by transports see them); None before the first block.

Framework API (the crawler, ``chaincrawler.crawler.restore`` and readers call it; model
authors do not):

- ``await model.run_block(block) -> list[Event]``: run ``process_block`` (sync or
  async) on one block and return the events it applied, in order. If it raises, the
  state is undefined: restore it before going on.
- ``model.replay(event)``: run the handler of a stored event without recording it
  (load it with ``type(model).event_registry().load(...)``).
- ``snapshot_state()`` / ``restore_state(text)`` / ``reset()``: state as JSON, back,
  and back to the defaults; ``model.tip`` is set by whoever restores the state.
- ``kept_snapshot()`` / ``restore_kept()``: the block of the last snapshot this instance
  took, whose state it keeps in memory, and back to that state (what a reorg restores
  from instead of reading and decoding the snapshot from the store).
"""

from __future__ import annotations

import copy
import inspect
import re
import sys
import typing
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Self, TypeVar

from chaincrawler.models.collections import StoredDict
from chaincrawler.models.errors import (
    ApplyOutsideBlockError,
    ModelDefinitionError,
    QueryError,
    StateError,
    UnhandledEventError,
    UnknownQueryError,
)
from chaincrawler.models.events import Event, EventRegistry
from chaincrawler.models.query import QuerySpec, build_spec, query_name, to_json_value
from chaincrawler.models.state import Kept, StateCodec

if TYPE_CHECKING:
    from chaincrawler.chain.types import Block

F = TypeVar("F", bound=Callable[..., Any])
Handler = Callable[[Any, Any], None]

_HANDLES = "__chaincrawler_handles__"
_CLASSVAR = re.compile(r"^\s*(typing\.|t\.)?ClassVar\b")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_MISSING: Any = object()


@dataclass(frozen=True, slots=True)
class Tip:
    """A block of the chain by height and hash (display order): see ``Model.tip``."""

    height: int
    hash: str


def on(*event_classes: type[Event]) -> Callable[[F], F]:
    """Mark a model method as the handler of one or more event classes.

    Handlers are plain (sync) methods ``(self, event) -> None``; they are the only
    code that changes state. Each event class has one handler per model.
    """
    if not event_classes:
        raise ModelDefinitionError("@on needs at least one Event class")
    for cls in event_classes:
        if not (isinstance(cls, type) and issubclass(cls, Event)) or cls is Event:
            raise ModelDefinitionError(f"@on takes Event subclasses, not {cls!r}")

    def mark(func: F) -> F:
        if inspect.iscoroutinefunction(func):
            raise ModelDefinitionError(
                f"handler {func.__qualname__} must be a plain (sync) method: replay runs it "
                "for every stored event"
            )
        setattr(func, _HANDLES, (*getattr(func, _HANDLES, ()), *event_classes))
        return func

    return mark


def snake_case(name: str) -> str:
    """``AddressBalances`` -> ``address_balances``, ``HTTPStats`` -> ``http_stats``."""
    return _CAMEL.sub("_", name).lower()


class Model:
    """Base class of user models: typed state, ``process_block``, ``@on`` handlers.

    State is every annotated class attribute (not ``ClassVar``, not starting with
    ``_``); each needs a default, and every instance gets its own deep copy of it.
    """

    name: ClassVar[str] = "model"
    """Unique name of the model in the store (default: the class name in snake_case)."""
    snapshot_interval: ClassVar[int | None] = None
    """Snapshot every N blocks; None uses the crawler's setting."""
    version: ClassVar[str] = "1"
    """The meaning of the model's code: bump it when ``process_block`` or a handler changes
    what it produces; the crawler then refuses the store until ``chaincrawler rebuild``."""
    needs_prevouts: ClassVar[bool] = False
    """True when ``process_block`` reads ``TxIn.prev_txout``: the crawler then resolves
    every input's spent output (value, scriptPubKey, address) before calling it."""

    _state_types: ClassVar[dict[str, tuple[Any, type]]] = {}
    _collection_types: ClassVar[dict[str, tuple[Any, type]]] = {}
    _collection_values: ClassVar[dict[str, Any] | None] = None
    _state_defaults: ClassVar[dict[str, Any]] = {}
    _codec: ClassVar[StateCodec | None] = None
    _handlers: ClassVar[dict[type[Event], Handler]] = {}
    _registry: ClassVar[EventRegistry] = EventRegistry()
    _query_methods: ClassVar[dict[str, Callable[..., Any]]] = {}
    _query_specs: ClassVar[dict[str, QuerySpec] | None] = None
    _localns: ClassVar[dict[str, Any] | None] = None
    _async_process: ClassVar[bool] = False

    _pending: list[Event]
    _current_block: Block | None
    _tip: Tip | None
    _kept: tuple[Tip, Kept] | None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        frame = sys._getframe(1)
        cls._localns = dict(frame.f_locals) if frame.f_locals is not frame.f_globals else None
        _check_class_settings(cls)
        cls._state_types, cls._state_defaults = _collect_state(cls)
        cls._collection_types = {
            n: cls._state_types.pop(n)
            for n in list(cls._state_types)
            if isinstance(cls._state_defaults[n], StoredDict)
        }
        for n in cls._collection_types:
            del cls._state_defaults[n]
        cls._collection_values = None
        cls._handlers = _collect_handlers(cls)
        cls._registry = EventRegistry(cls._handlers)
        cls._query_methods = _collect_queries(cls)
        cls._query_specs = None
        cls._async_process = inspect.iscoroutinefunction(cls.process_block)
        cls._codec = None
        try:
            codec = cls._state_codec()
        except _Unresolved:
            return  # forward references: resolved at the first snapshot
        codec.dump(cls._state_defaults)

    def __new__(cls, *args: Any, **kwargs: Any) -> Self:
        # State is set up here so a subclass __init__ need not call super().__init__().
        self = super().__new__(cls)
        self._pending = []
        self._current_block = None
        self._tip = None
        self._kept = None
        self._set_defaults()
        for name, value_type in cls._collection_value_types().items():
            collection: StoredDict[str, Any] = StoredDict()
            collection.bind(cls.name, name, value_type)
            setattr(self, name, collection)
        return self

    # -- for model authors ----------------------------------------------------

    def process_block(self, block: Block) -> Awaitable[None] | None:
        """Turn one block into events with ``self.apply``; may be ``async def``."""
        return None

    def apply(self, event: Event) -> None:
        """Run the event's handler now (state changes at once) and record the event."""
        handler = self._handlers.get(type(event))
        if handler is None:
            raise UnhandledEventError(self._unhandled(event))
        if self._current_block is None:
            raise ApplyOutsideBlockError(
                f"model {self.name!r}: apply({type(event).__name__}) outside process_block; "
                "events belong to a block"
            )
        handler(self, event)
        self._pending.append(event)

    async def prefetch_events(self, events: Sequence[Event]) -> None:
        """Load the stored-collection keys the handlers of ``events`` (one block's, in
        order) read, before they run: ``await self.coll.prefetch(keys)``.

        Handlers are synchronous and read only keys in memory. A rebuild from stored
        events (``chaincrawler rebuild --model NAME --from-events``) calls this per block
        before replaying the block's events; a model whose handlers read its stored
        collections implements it (its ``process_block`` can call it too: one code
        path). The default loads nothing.
        """

    @property
    def current_block(self) -> Block | None:
        """The block being processed, or None between blocks."""
        return self._current_block

    @property
    def tip(self) -> Tip | None:
        """The newest block the state includes: the block being processed, else the last one.

        Set by the framework (``run_block``, and whoever restores the state); the
        committed tip whenever the crawler holds its models at committed state.
        """
        return self._tip

    @tip.setter
    def tip(self, tip: Tip | None) -> None:
        self._tip = tip

    def state_dict(self) -> dict[str, Any]:
        """The plain state attributes by name (the live objects, not copies)."""
        return {n: getattr(self, n) for n in self._state_types}

    def stored_collections(self) -> dict[str, StoredDict[str, Any]]:
        """The stored collections (``StoredDict`` attributes) by attribute name."""
        return {n: getattr(self, n) for n in self._collection_types}

    @classmethod
    def has_stored_collections(cls) -> bool:
        """Whether the model keeps state in stored collections.

        Such a model is never replayed (its collections are already in the store at
        every committed block): the crawler snapshots its plain attributes with every
        block, and its state is restored from the snapshot at the tip alone.
        """
        return bool(cls._collection_types)

    def take_block_writes(self) -> list[tuple[str, str, str | None]]:
        """The writes of the block just run: (collection, key, JSON or None) (framework API)."""
        return [(name, key, value)
                for name, collection in self.stored_collections().items()
                for key, value in collection.take_block_writes()]

    # -- for the framework ----------------------------------------------------

    @classmethod
    def event_registry(cls) -> EventRegistry:
        """The event classes this model handles (from its ``@on`` handlers)."""
        return cls._registry

    @classmethod
    def queries(cls) -> dict[str, QuerySpec]:
        """The model's ``@query`` methods by query name, with their JSON schemas."""
        specs = cls._query_specs
        if specs is None:
            specs = {}
            for qname, func in cls._query_methods.items():
                try:
                    hints = typing.get_type_hints(func, localns=cls._localns, include_extras=True)
                    specs[qname] = build_spec(qname, func, cls.name, hints)
                except Exception as exc:
                    raise ModelDefinitionError(
                        f"model {cls.name!r}: cannot describe query {qname!r}: {exc}"
                    ) from exc
            cls._query_specs = specs
        return specs

    def run_query(self, name: str, params: dict[str, Any] | None = None) -> Any:
        """Validate ``params``, run the query and return its JSON-ready result.

        Raises UnknownQueryError or QueryParamsError; errors raised by the query
        method itself propagate unchanged.
        """
        spec, kwargs = self._query_call(name, params)
        if spec.is_async:
            raise QueryError(f"model {self.name!r}: query {name!r} is async: "
                             "await model.arun_query(...)")
        return self._query_json(name, getattr(self, spec.method)(**kwargs))

    async def arun_query(self, name: str, params: dict[str, Any] | None = None) -> Any:
        """As ``run_query``, for every query: an ``async def`` one is awaited."""
        spec, kwargs = self._query_call(name, params)
        result = getattr(self, spec.method)(**kwargs)
        if spec.is_async:
            result = await result
        return self._query_json(name, result)

    def _query_call(self, name: str, params: dict[str, Any] | None) -> tuple[QuerySpec,
                                                                             dict[str, Any]]:
        spec = self.queries().get(name)
        if spec is None:
            known = ", ".join(sorted(self.queries())) or "none"
            raise UnknownQueryError(f"model {self.name!r} has no query {name!r} (known: {known})")
        return spec, spec.validate({} if params is None else params)

    def _query_json(self, name: str, result: Any) -> Any:
        try:
            return to_json_value(result)
        except Exception as exc:
            raise QueryError(
                f"model {self.name!r}: query {name!r} returned a value that is not "
                f"JSON-serialisable: {exc}"
            ) from exc

    def snapshot_state(self) -> str:
        """The state as snapshot JSON text (led by a fingerprint of the state's types).

        The state is also kept in memory, as the state at ``self.tip``: see
        ``kept_snapshot``.
        """
        codec = self._state_codec()
        values = self.state_dict()
        text = codec.dump(values)
        tip = self._tip
        self._kept = None if tip is None else (tip, codec.keep(values, text))
        return text

    def kept_snapshot(self) -> Tip | None:
        """The block of the last ``snapshot_state`` (None if none or without a tip).

        Framework API: the state then is kept in memory; ``restore_kept`` brings it
        back, which is right when that block is still canonical.
        """
        return None if self._kept is None else self._kept[0]

    def restore_kept(self) -> None:
        """Replace the state with the one ``kept_snapshot`` names; drops pending events."""
        if self._kept is None:
            raise StateError(f"model {self.name!r} has no snapshot kept in memory")
        tip, kept = self._kept
        for name, value in self._state_codec().unkeep(kept).items():
            setattr(self, name, value)
        self._pending = []
        self._current_block = None
        self._tip = tip

    def state_json(self) -> str:
        """The plain state attributes as JSON text (no snapshot fingerprint)."""
        return self._state_codec().dump(self.state_dict(), fingerprint=False)

    def restore_state(self, state: str | bytes) -> None:
        """Replace the state with a snapshot from ``snapshot_state``; drops pending events."""
        values = self._state_codec().load(state)
        for name, value in values.items():
            setattr(self, name, value)
        self._pending = []
        self._current_block = None

    def side_copy(self) -> Self:
        """A new instance of this model's class sharing its configuration (the attributes
        its ``__init__`` set), with default state and stored collections of its own.

        Framework API: the transports restore such a copy to answer at a past height.
        """
        cls = type(self)
        side = cls.__new__(cls)
        own = {*self.state_dict(), *self.stored_collections(), "_pending", "_current_block",
               "_tip"}
        side.__dict__.update({k: v for k, v in vars(self).items() if k not in own})
        return side

    def reset(self) -> None:
        """Put the state back to its defaults (before any block) and drop pending events.

        Stored collections forget what they hold in memory (the store keeps their data);
        the kept snapshot stays.
        """
        self._set_defaults()
        for collection in self.stored_collections().values():
            collection.discard()
        self._pending = []
        self._current_block = None
        self._tip = None

    async def run_block(self, block: Block) -> list[Event]:
        """Run ``process_block`` on ``block`` (awaited if async); the events it applied.

        Framework API. ``block.height`` must be set. If ``process_block`` raises, the
        state is undefined until restored.
        """
        if block.height is not None:
            self._tip = Tip(block.height, block.hash)
        self._current_block = block
        self._pending = []
        try:
            if self._async_process:
                await self.process_block(block)  # type: ignore[misc]
            else:
                self.process_block(block)
            return self._pending
        finally:
            self._pending = []
            self._current_block = None

    def replay(self, event: Event) -> None:
        """Run the handler of a stored event, recording nothing (framework API)."""
        handler = self._handlers.get(type(event))
        if handler is None:
            raise UnhandledEventError(self._unhandled(event))
        handler(self, event)

    # -- internals ------------------------------------------------------------

    def _set_defaults(self) -> None:
        for name, default in self._state_defaults.items():
            setattr(self, name, copy.deepcopy(default))

    def _unhandled(self, event: object) -> str:
        handled = ", ".join(sorted(c.__name__ for c in self._handlers)) or "none"
        return (
            f"model {self.name!r} has no @on handler for {type(event).__qualname__} "
            f"(it handles: {handled})"
        )

    @classmethod
    def _collection_value_types(cls) -> dict[str, Any]:
        values = cls._collection_values
        if values is None:
            values = {}
            for name, (ann, owner) in cls._collection_types.items():
                values[name] = _value_type(
                    _resolve(ann, owner, cls._localns, cls.name, name), cls.name, name)
            cls._collection_values = values
        return values

    @classmethod
    def _state_codec(cls) -> StateCodec:
        codec = cls._codec
        if codec is None:
            types = {}
            for name, (ann, owner) in cls._state_types.items():
                types[name] = _resolve(ann, owner, cls._localns, cls.name, name)
            codec = cls._codec = StateCodec(cls.name, types)
        return codec

    def __repr__(self) -> str:
        return f"<{type(self).__name__} model {self.name!r}>"


def validate_models(models: Iterable[Model]) -> None:
    """Check that models run together have distinct names."""
    seen: dict[str, Model] = {}
    for model in models:
        other = seen.setdefault(model.name, model)
        if other is not model:
            raise ModelDefinitionError(
                f"two models are named {model.name!r} ({type(other).__qualname__} and "
                f"{type(model).__qualname__}); set a distinct `name` on one of them"
            )


class _Unresolved(StateError):
    """A state annotation names something not defined (yet: retried at first snapshot)."""


def _resolve(ann: Any, owner: type, localns: dict[str, Any] | None, model: str, attr: str) -> Any:
    if not isinstance(ann, str):
        return ann
    module = sys.modules.get(owner.__module__)
    try:
        return eval(ann, vars(module) if module else {}, localns)
    except NameError as exc:
        raise _Unresolved(
            f"model {model!r}: the annotation {ann!r} of state attribute {attr!r} "
            f"names something undefined: {exc}"
        ) from exc
    except Exception as exc:
        raise StateError(
            f"model {model!r}: the annotation {ann!r} of state attribute {attr!r} "
            f"cannot be evaluated: {exc}"
        ) from exc


def _value_type(ann: Any, model: str, attr: str) -> Any:
    """The value type of a ``StoredDict[str, V]`` annotation."""
    args = typing.get_args(ann)
    if typing.get_origin(ann) is not StoredDict or len(args) != 2 or args[0] is not str:
        raise ModelDefinitionError(
            f"model {model!r}: stored collection {attr!r} must be annotated "
            f"StoredDict[str, ValueType], not {ann!r}"
        )
    return args[1]


def _check_class_settings(cls: type[Model]) -> None:
    if "name" not in cls.__dict__:
        cls.name = snake_case(cls.__name__)
    name = cls.name
    if not isinstance(name, str) or not name.isidentifier() or not name.isascii():
        raise ModelDefinitionError(
            f"{cls.__qualname__}.name must be an ASCII identifier, not {name!r}"
        )
    interval = cls.snapshot_interval
    if interval is not None and (
        not isinstance(interval, int) or isinstance(interval, bool) or interval < 1
    ):
        raise ModelDefinitionError(
            f"{cls.__qualname__}.snapshot_interval must be None or an int >= 1, not {interval!r}"
        )


def _is_classvar(ann: Any) -> bool:
    if isinstance(ann, str):
        return bool(_CLASSVAR.match(ann))
    return ann is ClassVar or typing.get_origin(ann) is ClassVar


def _collect_state(cls: type[Model]) -> tuple[dict[str, tuple[Any, type]], dict[str, Any]]:
    types: dict[str, tuple[Any, type]] = {}
    for klass in reversed(cls.__mro__):
        if not (issubclass(klass, Model) and klass is not Model):
            continue
        for name, ann in inspect.get_annotations(klass).items():
            if not name.startswith("_") and not _is_classvar(ann):
                types[name] = (ann, klass)
    defaults: dict[str, Any] = {}
    for name in types:
        if hasattr(Model, name):
            raise ModelDefinitionError(
                f"{cls.__qualname__}: state attribute {name!r} clashes with Model.{name}; "
                "rename it"
            )
        default = getattr(cls, name, _MISSING)
        if default is _MISSING:
            raise ModelDefinitionError(
                f"{cls.__qualname__}: state attribute {name!r} needs a default value"
            )
        defaults[name] = default
    return types, defaults


def _members(cls: type) -> dict[str, Any]:
    """Class attributes by name as the most derived class defines them."""
    members: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        members.update(vars(klass))
    return members


def _collect_handlers(cls: type[Model]) -> dict[type[Event], Handler]:
    handlers: dict[type[Event], Handler] = {}
    for attr, func in _members(cls).items():
        for event_cls in getattr(func, _HANDLES, ()):
            other = handlers.get(event_cls)
            if other is not None:
                raise ModelDefinitionError(
                    f"{cls.__qualname__}: {event_cls.__qualname__} has two handlers "
                    f"({other.__name__} and {attr}); keep one"
                )
            handlers[event_cls] = func
    EventRegistry(handlers)  # two classes sharing one event_type fail here
    return handlers


def _collect_queries(cls: type[Model]) -> dict[str, Callable[..., Any]]:
    queries: dict[str, Callable[..., Any]] = {}
    for attr, func in _members(cls).items():
        qname = query_name(func)
        if qname is None:
            continue
        if qname in queries:
            raise ModelDefinitionError(
                f"{cls.__qualname__}: two methods are exposed as query {qname!r} "
                f"({queries[qname].__name__} and {attr})"
            )
        queries[qname] = func
    return queries
