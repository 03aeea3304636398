"""Snapshots: state to JSON and back, for every supported type, and clear failures."""

from __future__ import annotations

import dataclasses
import socket
from decimal import Decimal
from enum import Enum

import pydantic
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chaincrawler.models import Event, Model, StateError, on


class Color(Enum):
    RED = "red"
    BLUE = "blue"


@dataclasses.dataclass
class Utxo:
    txid: bytes
    vout: int
    value: int


class Position(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(ser_json_bytes="base64", val_json_bytes="base64")

    height: int
    script: bytes
    tags: set[str]


class Rich(Model):
    ints: dict[str, int] = {}  # noqa: RUF012
    by_height: dict[int, list[str]] = {}  # noqa: RUF012
    seen: set[bytes] = set()  # noqa: RUF012
    frozen: frozenset[int] = frozenset()
    pair: tuple[int, bytes] = (0, b"")
    amount: Decimal = Decimal(0)
    maybe: int | None = None
    color: Color = Color.RED
    utxos: list[Utxo] = []  # noqa: RUF012
    positions: dict[str, Position] = {}  # noqa: RUF012


big_ints = st.integers(min_value=-(2**200), max_value=2**200)
raw = st.binary(max_size=40)
text = st.text(max_size=12)

rich_states = st.fixed_dictionaries(
    {
        "ints": st.dictionaries(text, big_ints, max_size=5),
        "by_height": st.dictionaries(st.integers(0, 10**7), st.lists(text, max_size=3), max_size=4),
        "seen": st.sets(raw, max_size=5),
        "frozen": st.frozensets(big_ints, max_size=5),
        "pair": st.tuples(big_ints, raw),
        "amount": st.decimals(allow_nan=False, allow_infinity=False, places=8),
        "maybe": st.none() | big_ints,
        "color": st.sampled_from(Color),
        "utxos": st.lists(st.builds(Utxo, raw, st.integers(0, 2**32 - 1), big_ints), max_size=3),
        "positions": st.dictionaries(
            text,
            st.builds(Position, height=big_ints, script=raw, tags=st.sets(text, max_size=3)),
            max_size=3,
        ),
    }
)


@settings(max_examples=150, deadline=None)
@given(rich_states)
def test_restore_of_a_snapshot_gives_equal_state(state):
    model = Rich()
    for name, value in state.items():
        setattr(model, name, value)
    text = model.snapshot_state()
    other = Rich()
    other.restore_state(text)
    assert other.state_dict() == state


def test_snapshot_of_the_defaults_restores_the_defaults():
    text = Rich().snapshot_state()
    model = Rich()
    model.ints["x"] = 1
    model.restore_state(text)
    assert model.state_dict() == Rich().state_dict()


def test_a_type_that_cannot_be_serialised_fails_at_class_definition_naming_it():
    with pytest.raises(StateError, match=r"'holder'.*state attribute 'conn'.*socket"):

        class Holder(Model):
            conn: socket.socket | None = None


def test_a_default_that_does_not_match_its_annotation_fails_at_class_definition():
    with pytest.raises(StateError, match="state attribute 'counts'"):

        class Wrong(Model):
            counts: dict[str, int] = {"a": "not an int"}  # type: ignore[dict-item]  # noqa: RUF012


def test_a_value_of_the_wrong_type_fails_at_snapshot_naming_the_attribute():
    model = Rich()
    model.ints["a"] = "three"  # type: ignore[assignment]
    with pytest.raises(StateError, match=r"'rich'.*state attribute 'ints'"):
        model.snapshot_state()


def test_a_snapshot_of_another_shape_is_refused():
    model = Rich()
    with pytest.raises(StateError, match=r"snapshot does not match.*ints: Field required"):
        model.restore_state('{"unknown": 1}')


class Later(Model):
    items: list[Item] = []  # noqa: RUF012


@dataclasses.dataclass
class Item:
    n: int


def test_forward_references_are_resolved_at_the_first_snapshot():
    model = Later()
    model.items.append(Item(5))
    copy = Later()
    copy.restore_state(model.snapshot_state())
    assert copy.items == [Item(5)]


def test_an_annotation_naming_nothing_fails_at_the_first_snapshot_naming_it():
    class Dangling(Model):
        items: list[Nowhere] = []  # noqa: RUF012, F821

    with pytest.raises(StateError, match=r"'dangling'.*state attribute 'items'.*Nowhere"):
        Dangling().snapshot_state()


def test_state_rebuilt_from_a_snapshot_plus_replay_equals_the_live_state():
    class Ev(Event):
        key: str

    class Tally(Model):
        counts: dict[str, int] = {}  # noqa: RUF012

        @on(Ev)
        def _ev(self, event: Ev) -> None:
            self.counts[event.key] = self.counts.get(event.key, 0) + 1

    live = Tally()
    events = [Ev(key=k) for k in "abcab"]
    for e in events[:3]:
        live.replay(e)
    snapshot = live.snapshot_state()
    for e in events[3:]:
        live.replay(e)
    rebuilt = Tally()
    rebuilt.restore_state(snapshot)
    for e in events[3:]:
        rebuilt.replay(e)
    assert rebuilt.counts == live.counts == {"a": 2, "b": 2, "c": 1}
