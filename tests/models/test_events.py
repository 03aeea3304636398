"""Events: JSON round trip, registry loading, loud failures, upcasting."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pydantic
import pytest

from chaincrawler.models import Event, EventLoadError, EventRegistry, ModelDefinitionError


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
