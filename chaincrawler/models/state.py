"""Snapshot serialisation of model state: typed attributes to JSON text and back.

The state annotations of a model class become one pydantic ``TypedDict`` adapter
(built once per class), so a snapshot handles what pydantic handles: dict, list,
set, frozenset, tuple, bytes (base64), ints of any size, Decimal, Optional, enums,
nested pydantic models and dataclasses. Nested pydantic models keep their own
config: give them ``ser_json_bytes="base64", val_json_bytes="base64"`` if they hold
non-UTF-8 bytes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pydantic
import pydantic_core

from chaincrawler.models.errors import StateError, describe_validation

_STATE_CONFIG = pydantic.ConfigDict(
    extra="forbid",
    ser_json_bytes="base64",
    val_json_bytes="base64",
)


class StateCodec:
    """Serialises one model class's state attributes to JSON and back."""

    __slots__ = ("_fields", "_schema", "model", "types")

    def __init__(self, model: str, types: Mapping[str, Any]) -> None:
        self.model = model
        self.types = dict(types)
        for name, tp in self.types.items():
            try:
                _schema(f"{model}_{name}", {name: tp})
            except Exception as exc:
                raise StateError(
                    f"model {model!r}: state attribute {name!r} has type {_show(tp)} that "
                    f"cannot be serialised in a snapshot: {exc}"
                ) from exc
        self._schema = _schema(f"{model}_state", self.types)
        # Field names are f0, f1...; the attribute names are their aliases, so any
        # attribute name works (even one that shadows a BaseModel method).
        self._fields = [(f"f{i}", name) for i, name in enumerate(self.types)]

    def dump(self, values: Mapping[str, Any]) -> str:
        """The state as JSON text; a value that does not match its annotation is an error."""
        try:
            obj = self._schema.model_construct(**{f: values[n] for f, n in self._fields})
            return obj.model_dump_json(by_alias=True, warnings="error")
        except (pydantic_core.PydanticSerializationError, TypeError, ValueError) as exc:
            raise StateError(
                f"model {self.model!r}: cannot snapshot state "
                f"({self._culprit(values) or 'see cause'}): {exc}"
            ) from exc

    def load(self, text: str | bytes) -> dict[str, Any]:
        """Validate a snapshot; missing, extra or mistyped attributes are an error."""
        try:
            obj = self._schema.model_validate_json(text)
        except pydantic.ValidationError as exc:
            raise StateError(
                f"model {self.model!r}: snapshot does not match the state attributes "
                f"(was the model changed since it was written?): {describe_validation(exc)}"
            ) from exc
        return {n: getattr(obj, f) for f, n in self._fields}

    def _culprit(self, values: Mapping[str, Any]) -> str | None:
        """Name the first attribute whose value alone fails to serialise."""
        for name, tp in self.types.items():
            try:
                StateCodec(self.model, {name: tp}).dump(values)
            except StateError:
                return f"state attribute {name!r} does not hold a valid {_show(tp)}"
        return None


def _schema(title: str, types: Mapping[str, Any]) -> type[pydantic.BaseModel]:
    fields: dict[str, Any] = {
        f"f{i}": (tp, pydantic.Field(alias=name)) for i, (name, tp) in enumerate(types.items())
    }
    return pydantic.create_model(title, __config__=_STATE_CONFIG, **fields)


def _show(tp: Any) -> str:
    return tp.__name__ if isinstance(tp, type) else repr(tp)
