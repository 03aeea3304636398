"""Errors raised by the model layer; all derive from ChaincrawlerError."""

from __future__ import annotations

import pydantic

from chaincrawler.errors import ChaincrawlerError


class ModelError(ChaincrawlerError):
    """Base class of the model layer's errors."""


class ModelDefinitionError(ModelError, TypeError):
    """A Model or Event subclass is declared wrongly (raised when the class is defined)."""


class UnhandledEventError(ModelError):
    """A model applied or replayed an event class it has no ``@on`` handler for."""


class ApplyOutsideBlockError(ModelError):
    """``apply()`` was called while no block is being processed."""


class EventLoadError(ModelError):
    """A stored event cannot be turned back into an event object.

    The event type is unknown to the model (renamed or removed class), its version
    is newer than the code, or its payload no longer validates.
    """

    def __init__(
        self, message: str, *, model: str, event_type: str, event_version: int,
        position: int | None,
    ) -> None:
        self.model = model
        self.event_type = event_type
        self.event_version = event_version
        self.position = position
        where = f"position {position}" if position is not None else "unknown position"
        super().__init__(
            f"cannot load event {event_type!r} v{event_version} of model {model!r} "
            f"at {where}: {message}"
        )


class EventEncodeError(ModelError):
    """An event a model applied cannot be serialised to JSON (a field pydantic cannot dump)."""


class ReplayError(ModelError):
    """A handler raised while a stored event was replayed to rebuild state."""

    def __init__(self, model: str, event_type: str, position: int, height: int,
                 cause: Exception) -> None:
        self.model = model
        self.event_type = event_type
        self.position = position
        self.height = height
        super().__init__(
            f"model {model!r}: the handler of event {event_type!r} at position {position} "
            f"(block {height}) raised while rebuilding state: {type(cause).__name__}: {cause}"
        )


class StateError(ModelError):
    """Model state cannot be serialised to, or restored from, a snapshot."""


class QueryError(ModelError):
    """A query cannot be run."""


class UnknownQueryError(QueryError, LookupError):
    """The model has no query of that name."""


class QueryParamsError(QueryError, ValueError):
    """The parameters given to a query do not validate; ``errors`` lists each problem."""

    def __init__(self, message: str, errors: list[dict[str, object]]) -> None:
        self.errors = errors
        super().__init__(message)


def describe_validation(exc: pydantic.ValidationError) -> str:
    """A one-line summary of a pydantic ValidationError: ``field: message; ...``."""
    return "; ".join(
        f"{'.'.join(map(str, e['loc'])) or '(root)'}: {e['msg']}"
        for e in exc.errors(include_url=False)
    )
