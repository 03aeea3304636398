"""Snapshot serialisation of model state: typed attributes to JSON text and back.

The state annotations of a model class become one pydantic model (built once per
class), so a snapshot handles what pydantic handles: dict, list, set, frozenset,
tuple, bytes (base64), ints of any size, Decimal, Optional, enums, nested pydantic
models and dataclasses. Nested pydantic models keep their own config: give them
``ser_json_bytes="base64", val_json_bytes="base64"`` if they hold non-UTF-8 bytes.

A snapshot is one JSON object led by ``"_schema"``, a fingerprint of the state's types.
A dict attribute whose keys are str or int and whose values are str, int or bool (the
big tables: balances, counters) is written as columns (``"_format": 2``): its values
as a JSON array under its name, its keys as an array in ``"_keys"``, shared by the
attributes whose keys are the same in the same order (``"_columns"`` names each one's
key array). The other attributes are their plain JSON. Loading a snapshot whose
fingerprint matches reads the columns and every attribute whose type msgspec reads
exactly as pydantic does (see :func:`exact_json_type`) with msgspec, in one pass when
it can, several times faster than pydantic for large dicts (the framework wrote them:
they are not re-validated), and the others with pydantic. A snapshot without the fingerprint or
the format (older code), or with another fingerprint (the state's types changed), is
validated whole by pydantic, as before; one that does not fit is a StateError naming
the model and attribute.

Decoding is bound by allocating the state's objects (shared key columns allocate each
key once; the garbage collector is paused meanwhile), so a snapshot the crawler itself
took is also kept in memory (:meth:`StateCodec.keep`): a copy of each container whose
items are immutable (a new table sharing the keys and values, ~40 MB per million
entries), plus the snapshot text when some attribute has no such copy. Restoring from
it (:meth:`StateCodec.unkeep`) copies the tables again and decodes only those
attributes.
"""

from __future__ import annotations

import enum
import gc
import hashlib
import json
import types as pytypes
import typing
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import msgspec
import pydantic
import pydantic_core

from chaincrawler.models.errors import StateError

_STATE_CONFIG = pydantic.ConfigDict(
    extra="forbid",
    ser_json_bytes="base64",
    val_json_bytes="base64",
)
_FINGERPRINT_KEY = "_schema"  # state attribute names never start with "_"
_FORMAT_KEY = "_format"
_KEYS_KEY = "_keys"
_COLUMNS_KEY = "_columns"
_HEAD = (_FINGERPRINT_KEY, _FORMAT_KEY, _KEYS_KEY, _COLUMNS_KEY)
_COLUMNAR = 2  # "_format" of snapshots with columns; without the key: plain attributes
_FORMAT = 1  # raise when the meaning of a snapshot's JSON changes
_TOP = msgspec.json.Decoder(dict[str, msgspec.Raw])
_FINGERPRINT = msgspec.json.Decoder(str)
_FORMAT_NUMBER = msgspec.json.Decoder(int)
_COLUMN_INDEX = msgspec.json.Decoder(dict[str, int])
_RAWS = msgspec.json.Decoder(list[msgspec.Raw])
_COLUMN_KEYS = frozenset({str, int})
_COLUMN_TYPES: dict[type, Any] = {str: list[str], int: list[int], bool: list[bool]}
_KEY_COLUMNS_TYPES: dict[type, Any] = {str: list[list[str]], int: list[list[int]]}
_LISTS = {tp: msgspec.json.Decoder(items) for tp, items in _COLUMN_TYPES.items()}
_SCALARS = frozenset({str, int, bool, type(None), Decimal})
_CONTAINERS = frozenset({list, set, frozenset})
_DUMP_ERRORS = (pydantic_core.PydanticSerializationError, TypeError, ValueError)
_IMMUTABLE = frozenset({str, int, bool, float, bytes, type(None), Decimal})
_NOT_STR = object()  # a key that no state dict holds


def _copy_dict(table: Any) -> dict[Any, Any]:
    # dict.copy clones the table in one copy, also one with a deleted entry (see _table).
    return table.copy() if type(table) is dict else dict(table)


_COPIES: dict[Any, Callable[[Any], Any]] = {list: list, set: set, dict: _copy_dict}


@dataclass(frozen=True, slots=True)
class Kept:
    """A snapshot kept in memory: ``copies`` of the attributes that have a cheap copy,
    and the snapshot ``text`` the others are decoded from (None when there are none)."""

    copies: dict[str, Any]
    text: str | None


def exact_json_type(tp: Any) -> bool:
    """Whether msgspec encodes and decodes JSON of type ``tp`` exactly as pydantic does.

    str, int (any size), bool, None, Decimal, enums of str or int values, and list,
    set, frozenset, tuple, ``X | None`` and dict with str or int keys of those. Not
    bytes (pydantic writes URL-safe base64), float, other unions, models, dataclasses
    or annotated types (they may carry constraints).
    """
    if tp in _SCALARS:
        return True
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        values = [m.value for m in tp]
        return not issubclass(tp, enum.Flag) and (
            all(type(v) is str for v in values) or all(type(v) is int for v in values)
        )
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in _CONTAINERS:
        return len(args) == 1 and exact_json_type(args[0])
    if origin is tuple:
        items = args[:1] if len(args) == 2 and args[1] is Ellipsis else args
        return bool(items) and all(exact_json_type(a) for a in items)
    if origin is dict:
        return len(args) == 2 and args[0] in (str, int) and exact_json_type(args[1])
    if origin in (typing.Union, pytypes.UnionType):
        return len(args) == 2 and type(None) in args and all(exact_json_type(a) for a in args)
    return False


class StateCodec:
    """Serialises one model class's state attributes to JSON and back."""

    __slots__ = ("_columns", "_copiers", "_decoders", "_field_of", "_fields", "_fingerprint",
                 "_schema", "_singles", "_whole", "model", "types")

    def __init__(self, model: str, types: Mapping[str, Any]) -> None:
        self.model = model
        self.types = dict(types)
        self._singles: dict[str, type[pydantic.BaseModel]] = {}  # one attribute each
        for name, tp in self.types.items():
            try:
                self._singles[name] = _schema(f"{model}_{name}", {name: tp})
            except Exception as exc:
                raise StateError(
                    f"model {model!r}: state attribute {name!r} has type {_show(tp)} that "
                    f"cannot be serialised in a snapshot: {exc}"
                ) from exc
        self._schema = _schema(f"{model}_state", self.types, fingerprinted=True)
        # Field names are f0, f1...; the attribute names are their aliases, so any
        # attribute name works (even one that shadows a BaseModel method).
        self._fields = [(f"f{i}", name) for i, name in enumerate(self.types)]
        self._field_of = {name: field for field, name in self._fields}
        self._decoders = {
            name: _msgspec_decoder(tp) or self._singles[name] for name, tp in self.types.items()
        }
        self._columns = {
            name: kv for name, tp in self.types.items() if (kv := _column_types(tp)) is not None
        }
        self._whole = self._whole_decoder()
        self._fingerprint = _fingerprint(self._schema, self.types)
        self._copiers = {
            name: copier for name, tp in self.types.items()
            if (copier := _copier(tp)) is not None
        }

    def dump(self, values: Mapping[str, Any], *, fingerprint: bool = True) -> str:
        """The state as JSON text; a value that does not match its annotation is an error.

        ``fingerprint``: a snapshot, led by the ``"_schema"`` key (with columns for the
        dicts of scalars); without it the text is the plain state attributes (what
        transports serve).
        """
        if fingerprint and self._columns:
            try:
                return self._dump_columns(values)
            except (TypeError, ValueError):
                pass  # e.g. a str with a lone surrogate: the plain dump says what is wrong
        return self._dump_plain(values, fingerprint=fingerprint)

    def load(self, text: str | bytes) -> dict[str, Any]:
        """The state of a snapshot; missing, extra or mistyped attributes are an error."""
        with collector_paused():
            values = self._load_whole(text)
            if values is None:  # some dict written plain, or written by older code
                values = self._load_fingerprinted(text, self.types.keys())
            # Written before snapshots carried the fingerprint, or for other state types.
            return self._validate(text) if values is None else values

    def keep(self, values: Mapping[str, Any], text: str) -> Kept:
        """Keep in memory the state ``values`` that the snapshot ``text`` was dumped from."""
        copies = {name: copy(values[name]) for name, copy in self._copiers.items()}
        return Kept(copies, None if len(copies) == len(self.types) else text)

    def unkeep(self, kept: Kept) -> dict[str, Any]:
        """The state of a kept snapshot, sharing nothing mutable with it (keep it again)."""
        values = {name: self._copiers[name](value) for name, value in kept.copies.items()}
        if kept.text is not None:
            with collector_paused():
                rest = self._load_fingerprinted(kept.text, self.types.keys() - values.keys())
                values.update(self._validate(kept.text) if rest is None else rest)
        return {name: values[name] for name in self.types}

    def _dump_plain(self, values: Mapping[str, Any], *, fingerprint: bool,
                    exclude: Iterable[str] = ()) -> str:
        """The attributes but ``exclude`` as one JSON object, by pydantic."""
        skip = {self._field_of[name] for name in exclude}
        if not fingerprint:
            skip.add("fingerprint")
        try:
            obj = self._schema.model_construct(
                fingerprint=self._fingerprint, **{f: values[n] for f, n in self._fields}
            )
            return obj.model_dump_json(by_alias=True, warnings="error", exclude=skip or None)
        except _DUMP_ERRORS as exc:
            raise StateError(
                f"model {self.model!r}: cannot snapshot state "
                f"({self._culprit(values) or 'see cause'}): {exc}"
            ) from exc

    def _dump_columns(self, values: Mapping[str, Any]) -> str:
        """A snapshot with the dicts of scalars as columns (those whose keys and values all
        are of their annotated types; the others plain)."""
        keys: list[list[Any]] = []
        columns: dict[str, int] = {}
        arrays: dict[str, list[Any]] = {}
        for name, (key_type, value_type) in self._columns.items():
            table = values[name]
            if not isinstance(table, dict):
                continue
            items = list(table.values())
            if not _all_of(value_type, items):
                continue
            own = list(table)
            index = next((i for i, known in enumerate(keys) if known == own), None)
            if index is None:
                if not _all_of(key_type, own):
                    continue
                index = len(keys)
                keys.append(own)
            columns[name], arrays[name] = index, items
        out: dict[str, Any] = {_FINGERPRINT_KEY: self._fingerprint, _FORMAT_KEY: _COLUMNAR,
                               _KEYS_KEY: keys, _COLUMNS_KEY: columns}
        plain = {}
        if len(columns) < len(self.types):
            plain = _TOP.decode(self._dump_plain(values, fingerprint=False, exclude=columns))
        for name in self.types:
            out[name] = arrays[name] if name in columns else plain[name]
        return msgspec.json.encode(out).decode()

    def _whole_decoder(self) -> msgspec.json.Decoder[Any] | None:
        """A decoder reading, in one pass, a snapshot whose dicts of scalars all are
        columns (as ``dump`` writes them), when they have keys of one type."""
        key_types = {key_type for key_type, _ in self._columns.values()}
        if len(key_types) != 1:
            return None
        (key_type,) = key_types
        fields: list[tuple[str, Any]] = [
            ("schema", str), ("format", int), ("keys", _KEY_COLUMNS_TYPES[key_type]),
            ("columns", dict[str, int]),
        ]
        rename = dict(zip(("schema", "format", "keys", "columns"), _HEAD, strict=True))
        for field, name in self._fields:
            column = self._columns.get(name)
            if column is not None:
                fields.append((field, _COLUMN_TYPES[column[1]]))
            elif isinstance(self._decoders[name], msgspec.json.Decoder):
                fields.append((field, self.types[name]))
            else:
                fields.append((field, msgspec.Raw))  # decoded by pydantic
            rename[field] = name
        struct = msgspec.defstruct(f"{self.model}_snapshot", fields, rename=rename,
                                   forbid_unknown_fields=True)
        return msgspec.json.Decoder(struct)

    def _load_whole(self, text: str | bytes) -> dict[str, Any] | None:
        """The state of a snapshot ``_whole`` reads with this state's fingerprint; else None."""
        if self._whole is None:
            return None
        try:
            snapshot = self._whole.decode(text)
            if (snapshot.schema != self._fingerprint or snapshot.format != _COLUMNAR
                    or snapshot.columns.keys() != self._columns.keys()):
                return None
            values = {}
            for field, name in self._fields:
                value = getattr(snapshot, field)
                if name in self._columns:
                    value = _table(snapshot.keys[snapshot.columns[name]], value)
                elif isinstance(value, msgspec.Raw):
                    value = self._decode(name, value)
                values[name] = value
            return values
        except (msgspec.MsgspecError, pydantic.ValidationError, IndexError, ValueError):
            return None

    def _load_fingerprinted(self, text: str | bytes, names: Iterable[str]) -> dict[str, Any] | None:
        """Attributes ``names`` of a snapshot with this state's fingerprint; else None."""
        try:
            parts = _TOP.decode(text)
            mark = parts.pop(_FINGERPRINT_KEY, None)
            if mark is None or _FINGERPRINT.decode(mark) != self._fingerprint:
                return None
            form = parts.pop(_FORMAT_KEY, None)
            if form is None:  # before columns
                if parts.keys() != self.types.keys():
                    return None
                return {name: self._decode(name, parts[name]) for name in names}
            if _FORMAT_NUMBER.decode(form) != _COLUMNAR:
                return None
            columns = _COLUMN_INDEX.decode(parts.pop(_COLUMNS_KEY))
            key_arrays = _RAWS.decode(parts.pop(_KEYS_KEY))
            if parts.keys() != self.types.keys() or not columns.keys() <= self._columns.keys():
                return None
            decoded: dict[tuple[int, type], list[Any]] = {}
            values = {}
            for name in names:
                index = columns.get(name)
                if index is None:
                    values[name] = self._decode(name, parts[name])
                    continue
                key_type, value_type = self._columns[name]
                own = decoded.get((index, key_type))
                if own is None:
                    own = decoded[index, key_type] = _LISTS[key_type].decode(key_arrays[index])
                values[name] = _table(own, _LISTS[value_type].decode(parts[name]))
            return values
        except (msgspec.MsgspecError, pydantic.ValidationError, KeyError, IndexError, ValueError):
            return None  # pydantic says what is wrong

    def _decode(self, name: str, raw: msgspec.Raw) -> Any:
        decoder = self._decoders[name]
        if isinstance(decoder, msgspec.json.Decoder):
            return decoder.decode(raw)
        member = b"{" + msgspec.json.encode(name) + b":" + bytes(raw) + b"}"
        return getattr(decoder.model_validate_json(member), "f0")  # noqa: B009 (mypy)

    def _validate(self, text: str | bytes) -> dict[str, Any]:
        try:
            obj = self._schema.model_validate_json(_plain_snapshot(text))
        except pydantic.ValidationError as exc:
            raise StateError(
                f"model {self.model!r}: snapshot does not match the state attributes "
                f"(was the model changed since it was written?): {_mismatches(exc)}"
            ) from exc
        return {n: getattr(obj, f) for f, n in self._fields}

    def _culprit(self, values: Mapping[str, Any]) -> str | None:
        """Name the first attribute whose value alone fails to serialise."""
        for name, tp in self.types.items():
            try:
                single = self._singles[name].model_construct(f0=values[name])
                single.model_dump_json(warnings="error")
            except _DUMP_ERRORS:
                return f"state attribute {name!r} does not hold a valid {_show(tp)}"
        return None


@contextmanager
def collector_paused() -> Iterator[None]:
    """The cyclic garbage collector off while a snapshot's objects are allocated (millions
    of containers would trigger pass after pass over them, finding nothing to free).
    Process-wide: other threads meanwhile allocate without collections too."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _plain_snapshot(text: str | bytes) -> str | bytes:
    """A snapshot as plain attributes (its columns turned back into JSON objects), for
    pydantic to validate whole; ``text`` itself if it has no columns or is not JSON."""
    try:
        parts = msgspec.json.decode(text)
        if not isinstance(parts, dict) or _FORMAT_KEY not in parts:
            return text
        keys, columns = parts.pop(_KEYS_KEY, []), parts.pop(_COLUMNS_KEY, {})
        del parts[_FORMAT_KEY]
        for name, index in columns.items():
            items = parts.get(name)
            if isinstance(items, list) and len(keys[index]) == len(items):
                parts[name] = dict(zip(keys[index], items, strict=True))
        return msgspec.json.encode(parts)
    except (msgspec.MsgspecError, TypeError, LookupError):
        return text


def _mismatches(exc: pydantic.ValidationError) -> str:
    """What does not fit: attributes the snapshot lacks, attributes the model no longer
    has, and per attribute the values that do not validate."""
    missing, extra, wrong = [], [], []
    for error in exc.errors(include_url=False):
        name, *inner = error["loc"] or ("(root)",)
        if error["type"] == "missing" and not inner:
            missing.append(repr(name))
        elif error["type"] == "extra_forbidden" and not inner:
            extra.append(repr(name))
        else:
            where = f" at {'.'.join(map(str, inner))}" if inner else ""
            wrong.append(f"state attribute {name!r}{where}: {error['msg']}")
    if missing:
        wrong.insert(0, f"it lacks state attribute(s) {', '.join(missing)}")
    if extra:
        wrong.insert(0, f"it has state attribute(s) {', '.join(extra)} the model no longer has")
    return "; ".join(wrong)


def _column_types(tp: Any) -> tuple[type, type] | None:
    """(key type, value type) of a dict of str or int keys to str, int or bool values,
    which a snapshot writes as columns; else None."""
    if typing.get_origin(tp) is dict:
        args = typing.get_args(tp)
        if len(args) == 2 and args[0] in _COLUMN_KEYS and args[1] in _LISTS:
            return args[0], args[1]
    return None


def _table(keys: list[Any], values: list[Any]) -> dict[Any, Any]:
    """``dict(zip(keys, values, strict=True))``, built about twice as fast at a million
    str keys: CPython gives a dict that once held a non-str key a table that stores each
    key's hash, so growing it never reads the key objects again (their hashes are
    scattered over memory). The dict is the same (items, order, behaviour); the table
    takes 8 bytes more per entry."""
    table: dict[Any, Any] = {_NOT_STR: None}
    table.update(zip(keys, values, strict=True))
    del table[_NOT_STR]
    return table


def _all_of(tp: type, items: list[Any]) -> bool:
    """Whether every item is exactly of type ``tp`` (not a subclass: bool is no int)."""
    return not items or {*map(type, items)} == {tp}


def _schema(
    title: str, types: Mapping[str, Any], *, fingerprinted: bool = False
) -> type[pydantic.BaseModel]:
    """The pydantic model of the state attributes, led (in a snapshot) by the fingerprint,
    which snapshots of older code lack."""
    fields: dict[str, Any] = {
        f"f{i}": (tp, pydantic.Field(alias=name)) for i, (name, tp) in enumerate(types.items())
    }
    if fingerprinted:
        fingerprint = (str | None, pydantic.Field(None, alias=_FINGERPRINT_KEY))
        fields = {"fingerprint": fingerprint, **fields}
    return pydantic.create_model(title, __config__=_STATE_CONFIG, **fields)


def _immutable(tp: Any) -> bool:
    """Whether every value of ``tp`` is immutable (so copies may share it)."""
    if tp in _IMMUTABLE or (isinstance(tp, type) and issubclass(tp, enum.Enum)):
        return True
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is tuple or origin is frozenset:
        return all(a is Ellipsis or _immutable(a) for a in args) and bool(args)
    if origin in (typing.Union, pytypes.UnionType):
        return all(_immutable(a) for a in args)
    return False


def _copier(tp: Any) -> Callable[[Any], Any] | None:
    """A copy of a ``tp`` value that shares nothing mutable with it, in one C call
    (immutable values are their own copy); None when only a deep copy would do."""
    if _immutable(tp):
        return _same
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    copy = _COPIES.get(origin)
    if copy is None or not args or not all(_immutable(a) for a in args):
        return None
    return copy


def _same(value: Any) -> Any:
    return value


def _msgspec_decoder(tp: Any) -> msgspec.json.Decoder[Any] | None:
    """A msgspec decoder of ``tp`` if msgspec reads it exactly as pydantic does."""
    if exact_json_type(tp):
        try:
            return msgspec.json.Decoder(tp)
        except TypeError:  # e.g. a set of lists: not hashable
            pass
    return None


def _fingerprint(schema: type[pydantic.BaseModel], types: Mapping[str, Any]) -> str:
    """A digest of the state's types: their JSON schema (or, if they have none, repr)."""
    try:
        described = json.dumps(schema.model_json_schema(by_alias=True), sort_keys=True)
    except pydantic.errors.PydanticInvalidForJsonSchema:
        described = repr(dict(types))
    return hashlib.sha256(f"{_FORMAT}:{described}".encode()).hexdigest()[:32]


def _show(tp: Any) -> str:
    return tp.__name__ if isinstance(tp, type) else repr(tp)
