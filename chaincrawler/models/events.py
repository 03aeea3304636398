"""Typed, versioned events and the per-model registry that loads them back from JSON.

An event is a frozen pydantic model::

    class Credited(Event):
        address: str
        value: int

``event_type`` (the name stored with every event) defaults to the class name and
``event_version`` to 1. Renaming a class changes its default ``event_type``, so stored
events of the old name fail to load: keep the old name with ``event_type = "OldName"``.
To change an event's fields, raise ``event_version`` and define ``upcast`` to turn an
older payload (a dict) into the current shape::

    class Credited(Event):
        event_version = 2
        address: str
        value: int
        vout: int

        @classmethod
        def upcast(cls, version: int, data: dict[str, Any]) -> dict[str, Any]:
            return {**data, "vout": 0}   # v1 had no vout
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Iterator
from typing import Any, ClassVar

import msgspec
import pydantic
import pydantic_core

from chaincrawler.models.errors import (
    EventEncodeError,
    EventLoadError,
    ModelDefinitionError,
    describe_validation,
)
from chaincrawler.models.state import exact_json_type

_UNDECIDED: Any = object()

_EVENT_CONFIG = pydantic.ConfigDict(
    frozen=True,
    extra="forbid",
    ser_json_bytes="base64",
    val_json_bytes="base64",
)


class Event(pydantic.BaseModel):
    """Base class of every event: a frozen pydantic model serialised as JSON.

    Bytes fields are stored as base64; ints of any size, Decimal, sets and nested
    models round-trip.
    """

    model_config = _EVENT_CONFIG

    event_type: ClassVar[str] = "Event"
    """The name stored with each event; the class name unless set in the class body."""
    event_version: ClassVar[int] = 1
    """The schema version of the payload; raise it when the fields change."""
    _json_codec: ClassVar[_PlainJson | None] = _UNDECIDED
    """The class's msgspec codec, None without one, ``_UNDECIDED`` until first used."""

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        cls._json_codec = _UNDECIDED  # each class decides its own (not its base's)
        if "event_type" not in cls.__dict__:
            cls.event_type = cls.__name__
        if not isinstance(cls.event_type, str) or not cls.event_type:
            raise ModelDefinitionError(
                f"{cls.__qualname__}.event_type must be a non-empty str, not {cls.event_type!r}"
            )
        version = cls.event_version
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise ModelDefinitionError(
                f"{cls.__qualname__}.event_version must be an int >= 1, not {version!r}"
            )

    def to_json(self) -> str:
        """The payload as JSON text (what the event store keeps); EventEncodeError if a
        field cannot be serialised."""
        codec = self._json_codec
        if codec is _UNDECIDED:
            codec = _plain_json(type(self))
        if codec is not None:
            try:
                return _encode(self.__dict__).decode()
            except _ENCODE_ERRORS:
                pass  # pydantic raises (or warns) as it always did
        try:
            return self.model_dump_json()
        except pydantic_core.PydanticSerializationError as exc:
            raise EventEncodeError(
                f"cannot serialise event {self.event_type!r} v{self.event_version}: {exc}"
            ) from exc

    @classmethod
    def upcast(cls, version: int, data: dict[str, Any]) -> dict[str, Any]:
        """Turn a payload of an older ``version`` into the current shape.

        Override it to read old events; the default refuses, so an old payload
        never loads silently with the wrong meaning.
        """
        raise NotImplementedError(
            f"{cls.__qualname__} (v{cls.event_version}) defines no upcast() to read v{version}"
        )

    @classmethod
    def has_upcast(cls) -> bool:
        """Whether the class overrides :meth:`upcast`."""
        return cls.upcast.__func__ is not Event.upcast.__func__  # type: ignore[attr-defined]


class EventRegistry:
    """The event classes one model handles, by ``event_type``; loads stored events."""

    __slots__ = ("_classes",)

    def __init__(self, events: Iterable[type[Event]] = ()) -> None:
        self._classes: dict[str, type[Event]] = {}
        for cls in events:
            self.register(cls)

    def register(self, cls: type[Event]) -> None:
        """Add ``cls``; two different classes with one ``event_type`` are an error."""
        if not (isinstance(cls, type) and issubclass(cls, Event)) or cls is Event:
            raise ModelDefinitionError(f"{cls!r} is not an Event subclass")
        known = self._classes.get(cls.event_type)
        if known is not None and known is not cls:
            raise ModelDefinitionError(
                f"event type {cls.event_type!r} is declared by both {_qualname(known)} and "
                f"{_qualname(cls)}; set a distinct event_type on one of them"
            )
        self._classes[cls.event_type] = cls

    def get(self, event_type: str) -> type[Event] | None:
        """The class registered for ``event_type``, if any."""
        return self._classes.get(event_type)

    def __contains__(self, event_type: object) -> bool:
        return event_type in self._classes

    def __iter__(self) -> Iterator[type[Event]]:
        return iter(self._classes.values())

    def __len__(self) -> int:
        return len(self._classes)

    def load(
        self,
        event_type: str,
        event_version: int,
        payload: str | bytes,
        *,
        model: str,
        position: int | None = None,
    ) -> Event:
        """Rebuild a stored event; raises EventLoadError naming model, type, version, position."""

        def fail(message: str) -> EventLoadError:
            return EventLoadError(
                message, model=model, event_type=event_type, event_version=event_version,
                position=position,
            )

        cls = self._classes.get(event_type)
        if cls is None:
            known = ", ".join(sorted(self._classes)) or "none"
            raise fail(
                f"the model has no handler for this event type (known: {known}); "
                "if the event class was renamed, set event_type to the old name"
            )
        try:
            if event_version == cls.event_version:
                plain = _plain_json(cls)
                return cls.model_validate_json(payload) if plain is None else plain.decode(payload)
            if event_version > cls.event_version:
                raise fail(
                    f"the stored version is newer than {_qualname(cls)} "
                    f"(v{cls.event_version}); run the code that wrote it"
                )
            if not cls.has_upcast():
                raise fail(
                    f"{_qualname(cls)} is at v{cls.event_version} and defines no upcast() "
                    f"to read v{event_version}"
                )
            data = json.loads(payload)
            return cls.model_validate(cls.upcast(event_version, data))
        except EventLoadError:
            raise
        except pydantic.ValidationError as exc:
            raise fail(
                f"payload does not validate as {_qualname(cls)}: {describe_validation(exc)}"
            ) from exc
        except Exception as exc:
            raise fail(f"{type(exc).__name__}: {exc}") from exc


_ENCODE_ERRORS = (msgspec.EncodeError, TypeError, ValueError, OverflowError)
_encode = msgspec.json.Encoder().encode
_EVENT_METHODS = ("model_post_init", "__init__", "__setattr__")


class _PlainJson:
    """Payload JSON of an event class by msgspec, where it is exactly pydantic's.

    That holds for a class with the base config, no validators, serializers or private
    attributes, and only required fields of :func:`exact_json_type` types without
    constraints or aliases. msgspec then writes the same text as ``model_dump_json``
    and reads a payload strictly (a wrong type, a missing or an unknown field is an
    error): such a payload goes to pydantic, which accepts what it always did (``"5"``
    for an int) or raises the error it always raised.
    """

    __slots__ = ("_cls", "_decoder", "_names")

    def __init__(self, cls: type[Event]) -> None:
        fields = cls.model_fields
        struct = msgspec.defstruct(
            cls.__name__, [(n, f.annotation) for n, f in fields.items()],
            forbid_unknown_fields=True,
        )
        self._cls = cls
        self._decoder = msgspec.json.Decoder(struct)
        self._names = frozenset(fields)

    def decode(self, payload: str | bytes) -> Event:
        """The event of a payload; what msgspec refuses, pydantic validates."""
        cls = self._cls
        try:
            values = msgspec.structs.asdict(self._decoder.decode(payload))
        except msgspec.MsgspecError:
            return cls.model_validate_json(payload)
        event = cls.__new__(cls)
        setattr_ = object.__setattr__  # events are frozen
        setattr_(event, "__dict__", values)
        setattr_(event, "__pydantic_fields_set__", set(self._names))
        setattr_(event, "__pydantic_extra__", None)
        setattr_(event, "__pydantic_private__", None)
        return event


def _plain_json(cls: type[Event]) -> _PlainJson | None:
    """The msgspec codec of ``cls`` if it is plain (decided at first use, once complete)."""
    known = cls._json_codec
    if known is not _UNDECIDED:
        return known
    if not cls.__pydantic_complete__:
        return None  # forward references: pydantic validates until they resolve
    codec = None
    if _plain_class(cls) and all(_plain_field(f) for f in cls.model_fields.values()):
        try:
            codec = _PlainJson(cls)
        except TypeError:  # a type msgspec does not take (a set of lists...)
            codec = None
    cls._json_codec = codec
    return codec


def _plain_class(cls: type[Event]) -> bool:
    decorators = cls.__pydantic_decorators__
    return (
        dict(cls.model_config) == dict(_EVENT_CONFIG)
        and not cls.__private_attributes__
        and not any(getattr(decorators, f.name) for f in dataclasses.fields(decorators))
        and all(getattr(cls, m) is getattr(Event, m) for m in _EVENT_METHODS)
    )


def _plain_field(field: pydantic.fields.FieldInfo) -> bool:
    return (
        field.is_required()
        and not field.metadata
        and field.alias is None
        and field.serialization_alias is None
        and field.validation_alias is None
        and not field.exclude
        and exact_json_type(field.annotation)
    )


def _qualname(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"
