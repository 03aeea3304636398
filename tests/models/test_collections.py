"""StoredDict in a model: declaration, prefetch, reads and buffered writes, the cache."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pytest

from chaincrawler.eventstore import AtTip
from chaincrawler.models import (
    Model,
    ModelDefinitionError,
    StoredDict,
    StoredKeyNotLoadedError,
    StoredValueError,
)


class Reader:
    """A store holding ``values`` (JSON text by key); counts the batched reads."""

    def __init__(self, values: dict[str, str]) -> None:
        self.values = values
        self.reads: list[list[str]] = []

    async def get_many(self, model: str, collection: str, keys: Sequence[str], *,
                       at_height: int | None = None) -> AtTip[dict[str, str]]:
        assert (model, collection) == ("counters", "counts")
        self.reads.append(list(keys))
        return AtTip(None, {k: self.values[k] for k in keys if k in self.values})


class Counters(Model):
    counts: StoredDict[str, int] = StoredDict()
    total: int = 0


def counters(values: dict[str, Any], cache: int = 100) -> tuple[Counters, Reader]:
    model = Counters()
    reader = Reader({k: json.dumps(v) for k, v in values.items()})
    model.counts.attach(reader, cache)
    return model, reader


def test_a_stored_collection_is_not_plain_state() -> None:
    model = Counters()
    assert model.state_dict() == {"total": 0}
    assert json.loads(model.state_json()) == {"total": 0}
    assert "counts" not in json.loads(model.snapshot_state())
    assert model.has_stored_collections() and list(model.stored_collections()) == ["counts"]
    assert Counters().counts is not model.counts  # each instance its own


def test_a_stored_collection_needs_str_keys() -> None:
    with pytest.raises(ModelDefinitionError, match=r"StoredDict\[str, ValueType\]"):

        class Bad(Model):
            counts: StoredDict[int, int] = StoredDict()  # type: ignore[type-var]

        Bad()


async def test_prefetch_reads_missing_keys_in_one_batch_then_reads_are_synchronous() -> None:
    model, reader = counters({"a": 1, "b": 2})
    await model.counts.prefetch(["a", "b", "c", "a"])
    assert reader.reads == [["a", "b", "c"]]
    assert (model.counts["a"], model.counts.get("b"), model.counts.get("c", 0)) == (1, 2, 0)
    assert "c" not in model.counts
    with pytest.raises(KeyError):
        model.counts["c"]
    await model.counts.prefetch(["a", "b"])  # in memory: no read
    assert reader.reads == [["a", "b", "c"]]


async def test_a_key_not_loaded_names_model_collection_and_key() -> None:
    model, _ = counters({"a": 1})
    with pytest.raises(StoredKeyNotLoadedError, match=r"'counters'.*'zz'.*'counts'.*prefetch"):
        model.counts.get("zz")


async def test_a_value_that_does_not_validate_names_model_collection_and_key() -> None:
    model, _ = counters({"a": "not a number"})
    with pytest.raises(StoredValueError, match=r"'counters'.*'counts'.*key 'a'.*Rebuild"):
        await model.counts.prefetch(["a"])


async def test_writes_are_buffered_per_block_and_visible_to_later_reads() -> None:
    model, reader = counters({"a": 1, "b": 2})
    await model.counts.prefetch(["a", "b"])
    model.counts["a"] = 5
    model.counts["a"] = 6  # the last value per key per block
    del model.counts["b"]
    model.counts["n"] = 1
    assert model.take_block_writes() == [("counts", "a", "6"), ("counts", "b", None),
                                         ("counts", "n", "1")]
    # the next block of the batch sees them without reading the store
    await model.counts.prefetch(["a", "b", "n"])
    assert reader.reads == [["a", "b"]]
    assert (model.counts["a"], model.counts.get("b"), model.counts["n"]) == (6, None, 1)
    assert model.take_block_writes() == []


async def test_the_clean_cache_is_bounded_and_reset_forgets_everything() -> None:
    model, reader = counters({str(i): i for i in range(10)}, cache=3)
    await model.counts.prefetch([str(i) for i in range(10)])  # a block may load more
    assert [model.counts[str(i)] for i in range(10)] == list(range(10))
    model.take_block_writes()
    model.counts.committed()
    assert model.counts.get("9") == 9  # the newest stay
    with pytest.raises(StoredKeyNotLoadedError):
        model.counts.get("0")
    model.reset()
    with pytest.raises(StoredKeyNotLoadedError):
        model.counts.get("9")
    assert len(reader.reads) == 1


async def test_a_value_that_cannot_be_json_is_an_error_naming_the_key() -> None:
    model, _ = counters({})
    model.counts["k"] = object()  # type: ignore[assignment]
    with pytest.raises(StoredValueError, match=r"key 'k'"):
        model.take_block_writes()


async def test_a_key_holding_nul_is_refused_on_write_naming_model_and_collection() -> None:
    model, _ = counters({})
    with pytest.raises(StoredValueError, match=r"'counters'.*'counts'.*NUL"):
        model.counts["a\x00b"] = 1
