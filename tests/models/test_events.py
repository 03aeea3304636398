"""Events: JSON round trip, registry loading, loud failures, upcasting."""

from __future__ import annotations

from decimal import Decimal
from enum import Enum
from typing import Any

import pydantic
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chaincrawler.models import (
    Event,
    EventEncodeError,
    EventLoadError,
    EventRegistry,
    ModelDefinitionError,
)
from chaincrawler.models.events import _plain_json


class Paid(Event):
    address: str
    value: int
    memo: bytes = b""
    fee_rate: Decimal = Decimal("0")
    tags: frozenset[str] = frozenset()


class Renamed(Event):
    event_type = "OldName"
    x: int


def test_event_type_defaults_to_the_class_name_and_version_to_1():
    assert (Paid.event_type, Paid.event_version) == ("Paid", 1)
    assert Renamed.event_type == "OldName"


def test_events_are_frozen_and_reject_unknown_fields():
    event = Paid(address="a", value=1)
    with pytest.raises(pydantic.ValidationError):
        event.value = 2  # type: ignore[misc]
    with pytest.raises(pydantic.ValidationError):
        Paid(address="a", value=1, extra=3)  # type: ignore[call-arg]


def test_json_round_trip_keeps_bytes_big_ints_and_decimals():
    event = Paid(
        address="bcrt1q", value=2**80 + 1, memo=b"\xff\x00", fee_rate=Decimal("1.25"),
        tags=frozenset({"x", "y"}),
    )
    registry = EventRegistry([Paid])
    loaded = registry.load("Paid", 1, event.to_json(), model="m", position=1)
    assert loaded == event


def test_unknown_event_type_names_model_type_version_and_position():
    registry = EventRegistry([Paid])
    with pytest.raises(EventLoadError) as info:
        registry.load("Vanished", 1, "{}", model="balances", position=42)
    message = str(info.value)
    for part in ("'Vanished'", "v1", "'balances'", "position 42", "known: Paid", "renamed"):
        assert part in message
    assert (info.value.model, info.value.event_type, info.value.position) == (
        "balances", "Vanished", 42,
    )


def test_a_payload_that_no_longer_validates_fails_loudly():
    registry = EventRegistry([Paid])
    with pytest.raises(EventLoadError, match=r"'Paid' v1 of model 'm' at position 7.*value"):
        registry.load("Paid", 1, '{"address": "a", "value": "lots"}', model="m", position=7)
    with pytest.raises(EventLoadError, match="position 8"):
        registry.load("Paid", 1, "not json", model="m", position=8)


def test_a_version_newer_than_the_code_is_refused():
    registry = EventRegistry([Paid])
    with pytest.raises(EventLoadError, match="newer than"):
        registry.load("Paid", 2, '{"address": "a", "value": 1}', model="m", position=1)


def test_an_older_version_without_upcast_is_refused():
    class Grown(Event):
        event_version = 2
        a: int

    with pytest.raises(EventLoadError, match="defines no upcast"):
        EventRegistry([Grown]).load("Grown", 1, '{"a": 1}', model="m", position=3)


def test_upcast_reads_older_versions():
    class Transfer(Event):
        event_version = 3
        address: str
        value: int
        vout: int

        @classmethod
        def upcast(cls, version: int, data: dict[str, Any]) -> dict[str, Any]:
            if version == 1:  # v1 called it "amount" and had no vout
                data = {"address": data["address"], "value": data["amount"]}
            return {"vout": 0, **data} if version <= 2 else data

    registry = EventRegistry([Transfer])
    v1 = registry.load("Transfer", 1, '{"address": "a", "amount": 5}', model="m", position=1)
    v2 = registry.load("Transfer", 2, '{"address": "a", "value": 6}', model="m", position=2)
    assert v1 == Transfer(address="a", value=5, vout=0)
    assert v2 == Transfer(address="a", value=6, vout=0)


def test_an_upcast_that_fails_is_reported_with_the_position():
    class Broken(Event):
        event_version = 2
        a: int

        @classmethod
        def upcast(cls, version: int, data: dict[str, Any]) -> dict[str, Any]:
            return {"a": data["missing"]}

    with pytest.raises(EventLoadError, match=r"position 9: KeyError"):
        EventRegistry([Broken]).load("Broken", 1, "{}", model="m", position=9)


def test_registry_refuses_two_classes_with_one_event_type():
    class A(Event):
        event_type = "Same"

    class B(Event):
        event_type = "Same"

    with pytest.raises(ModelDefinitionError, match="declared by both"):
        EventRegistry([A, B])


def test_bad_event_versions_fail_at_class_definition():
    with pytest.raises(ModelDefinitionError, match="event_version"):

        class Bad(Event):
            event_version = 0


class Moved(Event):
    """A plain event: its JSON goes through msgspec."""

    txid: str
    credited: dict[str, int]
    outputs: list[int]
    spent: bool
    note: str | None


def test_a_plain_event_class_is_encoded_and_loaded_by_msgspec_and_others_by_pydantic():
    assert _plain_json(Moved) is not None
    assert _plain_json(Paid) is None  # bytes, Decimal, defaults


moved = st.builds(
    Moved,
    txid=st.text(),
    credited=st.dictionaries(st.text(), st.integers(-(2**200), 2**200), max_size=4),
    outputs=st.lists(st.integers(-(2**70), 2**70), max_size=4),
    spent=st.booleans(),
    note=st.none() | st.text(),
)


@settings(max_examples=200, deadline=None)
@given(moved)
def test_a_plain_event_has_the_json_pydantic_writes_and_loads_as_pydantic_reads_it(event):
    text = event.to_json()
    assert text == event.model_dump_json()
    loaded = EventRegistry([Moved]).load("Moved", 1, text, model="m", position=1)
    expected = Moved.model_validate_json(text)
    assert loaded == expected == event
    assert list(loaded.credited) == list(event.credited)
    assert loaded.model_fields_set == expected.model_fields_set
    assert loaded.model_dump() == expected.model_dump()


def test_a_plain_payload_pydantic_accepts_loosely_still_loads_as_before():
    payload = '{"txid":"t","credited":{"a":"5"},"outputs":[1.0],"spent":1,"note":null}'
    loaded = EventRegistry([Moved]).load("Moved", 1, payload, model="m", position=1)
    assert loaded == Moved(txid="t", credited={"a": 5}, outputs=[1], spent=True, note=None)


@pytest.mark.parametrize(
    "payload",
    [
        '{"txid":"t","credited":{"a":"lots"},"outputs":[],"spent":true,"note":null}',
        '{"txid":"t","credited":{},"outputs":[],"spent":true}',
        '{"txid":"t","credited":{},"outputs":[],"spent":true,"note":null,"extra":1}',
        "not json",
    ],
)
def test_a_plain_payload_that_no_longer_validates_fails_loudly(payload):
    with pytest.raises(EventLoadError, match=r"'Moved' v1 of model 'm' at position 5"):
        EventRegistry([Moved]).load("Moved", 1, payload, model="m", position=5)


def test_a_plain_event_that_cannot_be_encoded_is_an_encode_error():
    with pytest.raises(EventEncodeError, match="'Moved'"):
        Moved(txid="\ud800", credited={}, outputs=[], spent=False, note=None).to_json()


class Side(Enum):
    BUY = "buy"
    SELL = "sell"


class Wide(Event):
    """A plain event of every other type msgspec writes and reads as pydantic does."""

    amount: Decimal
    tags: set[str]
    frozen: frozenset[int]
    pair: tuple[int, str]
    rows: tuple[int, ...]
    by_id: dict[int, list[str]]
    side: Side


wide = st.builds(
    Wide,
    amount=st.decimals(allow_nan=False, allow_infinity=False),
    tags=st.sets(st.text(), max_size=4),
    frozen=st.frozensets(st.integers(-(2**70), 2**70), max_size=4),
    pair=st.tuples(st.integers(), st.text()),
    rows=st.lists(st.integers(), max_size=3).map(tuple),
    by_id=st.dictionaries(st.integers(-(2**63), 2**63 - 1), st.lists(st.text(), max_size=2)),
    side=st.sampled_from(Side),
)


@settings(max_examples=200, deadline=None)
@given(wide)
def test_every_plain_type_round_trips_as_with_pydantic(event):
    assert _plain_json(Wide) is not None
    text = event.to_json()
    assert text == event.model_dump_json()
    loaded = EventRegistry([Wide]).load("Wide", 1, text, model="m", position=1)
    assert loaded == Wide.model_validate_json(text) == event
    assert {n: type(v) for n, v in loaded.__dict__.items()} == {
        n: type(v) for n, v in event.__dict__.items()
    }
