"""Snapshots: state to JSON and back, for every supported type, and clear failures."""

from __future__ import annotations

import dataclasses
import gc
import json
import operator
import socket
from decimal import Decimal
from enum import Enum
from typing import Any

import pydantic
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chaincrawler.examples.balances import AddressBalances
from chaincrawler.models import Event, Model, StateError, on
from chaincrawler.models.state import exact_json_type


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


def test_a_snapshot_of_another_shape_is_refused_naming_the_attributes_and_the_way_out():
    model = Rich()
    with pytest.raises(StateError) as caught:
        model.restore_state('{"unknown": 1}')
    message = str(caught.value)
    assert message.startswith("model 'rich': snapshot does not match the state attributes")
    assert "it has state attribute(s) 'unknown' the model no longer has" in message
    assert "it lacks state attribute(s) 'ints', 'by_height'," in message
    assert message.endswith("chaincrawler rebuild --model rich --from-events")


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


# What the code before snapshot fingerprints wrote for OLD_STATE (kept as written).
OLD_SNAPSHOT = (
    '{"ints":{"z":1267650600228229401496703205376,"a":-1},"by_height":{"7":["x","y"],"-3":[]},'
    '"seen":["","_wA="],"frozen":[1180591620717411303424],"pair":[5,"-_8="],'
    '"amount":"1.25000000","maybe":3,"color":"blue",'
    '"utxos":[{"txid":"AQI=","vout":1,"value":36893488147419103232}],'
    '"positions":{"p":{"height":9,"script":"_g==","tags":["t"]}}}'
)
OLD_STATE = {
    "ints": {"z": 2**100, "a": -1},
    "by_height": {7: ["x", "y"], -3: []},
    "seen": {b"\xff\x00", b""},
    "frozen": frozenset({2**70}),
    "pair": (5, b"\xfb\xff"),
    "amount": Decimal("1.25000000"),
    "maybe": 3,
    "color": Color.BLUE,
    "utxos": [Utxo(b"\x01\x02", 1, 2**65)],
    "positions": {"p": Position(height=9, script=b"\xfe", tags={"t"})},
}


def test_a_snapshot_written_before_fingerprints_still_loads():
    model = Rich()
    model.restore_state(OLD_SNAPSHOT)
    assert model.state_dict() == OLD_STATE
    assert list(model.ints) == ["z", "a"]


def test_a_snapshot_carries_the_fingerprint_of_the_state_types_first():
    text = Rich().snapshot_state()
    assert json.loads(text).keys() == {"_schema", "_format", "_keys", "_columns",
                                       *Rich().state_dict()}
    assert text.startswith('{"_schema":"')


class Balances(Model):
    balances: dict[str, int] = {}  # noqa: RUF012
    tx_counts: dict[str, int] = {}  # noqa: RUF012
    flags: dict[int, bool] = {}  # noqa: RUF012
    note: str = ""


def test_dicts_of_scalars_are_columns_with_the_keys_written_once_and_shared_on_restore():
    model = Balances()
    model.balances = {"b": 2**70, "a": -1, "₿\n\"": 0}
    model.tx_counts = {"b": 3, "a": 1, "₿\n\"": 2}
    model.flags = {7: True, -2: False}
    model.note = "n"
    snapshot = json.loads(model.snapshot_state())
    assert snapshot["_format"] == 2
    assert snapshot["_keys"] == [["b", "a", "₿\n\""], [7, -2]]
    assert snapshot["_columns"] == {"balances": 0, "tx_counts": 0, "flags": 1}
    assert snapshot["balances"] == [2**70, -1, 0]
    restored = Balances()
    restored.restore_state(model.snapshot_state())
    assert restored.state_dict() == model.state_dict()
    assert list(restored.balances) == ["b", "a", "₿\n\""]
    # One key object per address for both tables, as in the live model.
    assert all(map(operator.is_, restored.balances, restored.tx_counts))
    assert all(type(k) is int for k in restored.flags)
    assert all(type(v) is bool for v in restored.flags.values())


def test_a_dict_holding_a_value_of_another_type_is_written_plain_and_refused_as_before():
    model = Balances()
    model.balances = {"a": 1}
    model.tx_counts = {"a": "one"}  # type: ignore[dict-item]
    with pytest.raises(StateError, match=r"'balances'.*state attribute 'tx_counts'"):
        model.snapshot_state()


def test_a_dict_with_keys_in_another_order_gets_its_own_key_column():
    model = Balances()
    model.balances = {"a": 1, "b": 2}
    model.tx_counts = {"b": 1, "a": 1}
    text = model.snapshot_state()
    assert json.loads(text)["_keys"] == [["a", "b"], ["b", "a"], []]
    restored = Balances()
    restored.restore_state(text)
    assert list(restored.tx_counts) == ["b", "a"]
    assert restored.state_dict() == model.state_dict()


# What the previous release (main at 666e603) wrote for OLD_BALANCES: plain attributes
# after the fingerprint, no columns.
FINGERPRINTED_SNAPSHOT = (
    '{"_schema":"0aacfc5f5fb65f8609621a7514b544f1","balances":{"bc1qzz":'
    '1180591620717411303424,"1Aa":0,"bc1p₿":-5},"tx_counts":{"bc1qzz":3,"1Aa":1,"bc1p₿":2}}'
)


def test_a_snapshot_of_the_previous_release_still_loads():
    model = AddressBalances()
    model.restore_state(FINGERPRINTED_SNAPSHOT)
    assert list(model.balances.items()) == [("bc1qzz", 2**70), ("1Aa", 0), ("bc1p₿", -5)]
    assert list(model.tx_counts.items()) == [("bc1qzz", 3), ("1Aa", 1), ("bc1p₿", 2)]
    again = AddressBalances()
    again.restore_state(model.snapshot_state())
    assert again.state_dict() == model.state_dict()


def test_a_columns_snapshot_with_a_broken_column_is_refused_naming_the_attribute():
    model = Balances()
    model.balances = {"a": 1, "b": 2}
    model.tx_counts = {"a": 1, "b": 2}
    text = model.snapshot_state().replace('"tx_counts":[1,2]', '"tx_counts":[1]')
    with pytest.raises(StateError, match=r"state attribute 'tx_counts': Input should be an object"):
        Balances().restore_state(text)
    assert gc.isenabled()


def _retyped(counts_type: Any) -> tuple[type[Model], type[Model]]:
    class Before(Model):
        name = "same"
        counts: dict[str, int] = {}  # noqa: RUF012

    class After(Model):
        name = "same"
        counts: counts_type = {}  # noqa: RUF012

    return Before, After


def test_a_snapshot_of_other_state_types_is_validated_and_used_if_it_fits():
    before, after = _retyped(dict[str, float])
    old = before()
    old.counts = {"a": 1}
    new = after()
    new.restore_state(old.snapshot_state())
    assert new.counts == {"a": 1.0}
    assert type(new.counts["a"]) is float


def test_a_snapshot_of_other_state_types_that_does_not_fit_is_refused():
    before, after = _retyped(dict[str, list[int]])
    old = before()
    old.counts = {"a": 1}
    with pytest.raises(StateError, match=r"'same'.*snapshot does not match.*counts"):
        after().restore_state(old.snapshot_state())


def test_a_snapshot_with_the_fingerprint_but_wrong_values_is_refused():
    model = Rich()
    text = model.snapshot_state().replace('"maybe":null', '"maybe":"many"')
    with pytest.raises(StateError, match=r"snapshot does not match.*maybe"):
        Rich().restore_state(text)


class Plain(Model):
    """Only types the fast path decodes with msgspec."""

    counts: dict[str, int] = {}  # noqa: RUF012
    by_id: dict[int, list[str]] = {}  # noqa: RUF012
    tags: set[str] = set()  # noqa: RUF012
    frozen: frozenset[int] = frozenset()
    pair: tuple[int, str] = (0, "")
    rows: tuple[int, ...] = ()
    amount: Decimal = Decimal(0)
    maybe: bool | None = None
    color: Color = Color.RED


plain_states = st.fixed_dictionaries(
    {
        "counts": st.dictionaries(text, big_ints, max_size=6),
        "by_id": st.dictionaries(big_ints, st.lists(text, max_size=3), max_size=4),
        "tags": st.sets(text, max_size=5),
        "frozen": st.frozensets(big_ints, max_size=5),
        "pair": st.tuples(big_ints, text),
        "rows": st.lists(big_ints, max_size=4).map(tuple),
        "amount": st.decimals(allow_nan=False, allow_infinity=False),
        "maybe": st.none() | st.booleans(),
        "color": st.sampled_from(Color),
    }
)


@settings(max_examples=200, deadline=None)
@given(plain_states)
def test_the_fast_path_restores_values_types_and_key_order_exactly(state):
    model = Plain()
    for name, value in state.items():
        setattr(model, name, value)
    restored = Plain()
    restored.restore_state(model.snapshot_state())
    assert restored.state_dict() == state
    for name, value in state.items():
        assert type(getattr(restored, name)) is type(value)
    assert list(restored.counts) == list(state["counts"])
    assert list(restored.by_id) == list(state["by_id"])
    assert all(type(k) is int for k in restored.by_id)


@pytest.mark.parametrize(
    ("tp", "exact"),
    [
        (dict[str, int], True),
        (dict[int, list[str]], True),
        (set[str] | None, True),
        (tuple[int, ...], True),
        (Color, True),
        (bytes, False),
        (float, False),
        (dict[bytes, int], False),
        (int | str, False),
        (Utxo, False),
        (Position, False),
    ],
)
def test_exact_json_types(tp, exact):
    assert exact_json_type(tp) is exact


def test_state_json_is_the_plain_state_of_the_snapshot():
    model = Rich()
    model.ints = {"b": 2, "a": 1}
    model.seen = {b"\x01"}
    snapshot = json.loads(model.snapshot_state())
    plain = json.loads(model.state_json())
    assert "_schema" in snapshot and "_schema" not in plain
    assert plain["ints"] == {"b": 2, "a": 1} and list(plain["ints"]) == ["b", "a"]
    assert plain == {k: v for k, v in snapshot.items()
                     if not k.startswith("_")} | {"ints": plain["ints"]}


def test_a_dict_written_plain_beside_columns_restores_as_pydantic_wrote_it():
    model = AddressBalances()
    model.balances = {"a": True, "b": 2}  # a bool is no int: this dict is written plain
    model.tx_counts = {"a": 1, "b": 1}
    text = model.snapshot_state()
    assert json.loads(text)["_columns"] == {"tx_counts": 0}
    restored = AddressBalances()
    restored.restore_state(text)
    assert restored.state_dict() == {"balances": {"a": 1, "b": 2}, "tx_counts": {"a": 1, "b": 1}}
    assert type(restored.balances["a"]) is int
