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

import json
from collections.abc import Iterable, Iterator
from typing import Any, ClassVar

import pydantic
import pydantic_core

from chaincrawler.models.errors import (
    EventEncodeError,
    EventLoadError,
    ModelDefinitionError,
    describe_validation,
)

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

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
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
                return cls.model_validate_json(payload)
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


def _qualname(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"
