"""The Model base: state defaults, apply, handlers, replay, async blocks, definitions."""

from __future__ import annotations

from typing import ClassVar

import pytest

from chaincrawler.chain.types import Block
from chaincrawler.models import (
    ApplyOutsideBlockError,
    Event,
    Model,
    ModelDefinitionError,
    Tip,
    UnhandledEventError,
    on,
    validate_models,
)
from chaincrawler.testing.blocks import chain


class Added(Event):
    key: str
    amount: int


class Removed(Event):
    key: str


class Stray(Event):
    pass


class Counter(Model):
    totals: dict[str, int] = {}  # noqa: RUF012
    seen: list[int] = []  # noqa: RUF012
    limit: ClassVar[int] = 3
    _scratch: int = 0

    def process_block(self, block: Block) -> None:
        assert block.height is not None
        self.apply(Added(key="h", amount=block.height))
        # the handler already ran: later code sees the new state
        self.seen.append(self.totals["h"])

    @on(Added)
    def _added(self, event: Added) -> None:
        self.totals[event.key] = self.totals.get(event.key, 0) + event.amount

    @on(Removed)
    def _removed(self, event: Removed) -> None:
        self.totals.pop(event.key, None)


async def run(model: Model, blocks: list[Block]) -> list[Event]:
    events: list[Event] = []
    for b in blocks:
        events.extend(await model.run_block(b))
    return events


def test_state_is_the_annotated_attributes_only():
    assert list(Counter().state_dict()) == ["totals", "seen"]


def test_each_instance_gets_its_own_copy_of_the_defaults():
    a, b = Counter(), Counter()
    a.totals["x"] = 1
    a.seen.append(1)
    assert b.totals == {} and b.seen == []
    assert Counter.totals == {} and Counter().totals == {}


def test_a_subclass_init_that_skips_super_still_gets_fresh_state():
    class Configured(Counter):
        def __init__(self, factor: int) -> None:
            self.factor = factor

    a, b = Configured(2), Configured(3)
    a.totals["x"] = 1
    assert b.totals == {} and a.factor == 2


def test_name_defaults_to_snake_case_and_can_be_set():
    class HTTPAddressStats(Model):
        pass

    class Custom(Model):
        name = "my_model"

    assert Counter.name == "counter"
    assert HTTPAddressStats.name == "http_address_stats"
    assert Custom().name == "my_model"


async def test_apply_runs_the_handler_at_once_and_records_the_event():
    model = Counter()
    events = await run(model, chain(3))
    assert model.seen == [0, 1, 3]
    assert model.totals == {"h": 3}
    assert events == [Added(key="h", amount=0), Added(key="h", amount=1), Added(key="h", amount=2)]
    assert await model.run_block(chain(4)[3]) == [Added(key="h", amount=3)]  # nothing left over
    assert model.current_block is None


async def test_current_block_is_the_block_being_processed():
    seen: list[int | None] = []

    class Watcher(Model):
        def process_block(self, block: Block) -> None:
            assert self.current_block is block
            seen.append(block.height)

    await run(Watcher(), chain(2))
    assert seen == [0, 1]


async def test_apply_of_an_event_the_model_does_not_handle_names_model_and_handlers():
    class Straying(Counter):
        name = "counter"
        stray = True

        def process_block(self, block: Block) -> None:
            super().process_block(block)
            if self.stray:
                self.apply(Stray())

    model = Straying()
    with pytest.raises(UnhandledEventError, match=r"'counter'.*Stray.*Added, Removed"):
        await model.run_block(chain(1)[0])
    assert model.current_block is None
    model.stray = False
    assert await model.run_block(chain(1)[0]) == [Added(key="h", amount=0)]  # none left over


async def test_the_tip_is_the_block_being_processed_then_the_last_one():
    blocks = chain(3)
    tips: list[Tip | None] = []

    class Watcher(Model):
        def process_block(self, block: Block) -> None:
            tips.append(self.tip)

    model = Watcher()
    assert model.tip is None
    await run(model, blocks)
    assert tips == [Tip(b.height or 0, b.hash) for b in blocks]
    assert model.tip == Tip(2, blocks[2].hash)
    model.reset()
    assert model.tip is None


async def test_a_model_configured_by_keyword_arguments_snapshots_and_replays():
    class Threshold(Model):
        totals: dict[str, int] = {}  # noqa: RUF012

        def __init__(self, *, at_least: int) -> None:
            super().__init__()
            self.at_least = at_least

        def process_block(self, block: Block) -> None:
            self.apply(Added(key="h", amount=block.height or 0))

        @on(Added)
        def _added(self, event: Added) -> None:
            if event.amount >= self.at_least:
                self.totals[event.key] = self.totals.get(event.key, 0) + event.amount

    model = Threshold(at_least=2)
    events = await run(model, chain(4))
    assert model.totals == {"h": 5} and model.at_least == 2
    assert "at_least" not in model.snapshot_state()
    restored = Threshold(at_least=2)
    restored.restore_state(model.snapshot_state())
    replayed = Threshold(at_least=2)
    for event in events:
        replayed.replay(event)
    assert restored.state_dict() == replayed.state_dict() == model.state_dict()


def test_apply_outside_a_block_is_refused():
    with pytest.raises(ApplyOutsideBlockError, match="outside process_block"):
        Counter().apply(Added(key="a", amount=1))


async def test_async_process_block_is_awaited():
    class Slow(Model):
        total: int = 0

        async def process_block(self, block: Block) -> None:
            import asyncio

            await asyncio.sleep(0)
            self.apply(Added(key="k", amount=10))

        @on(Added)
        def _added(self, event: Added) -> None:
            self.total += event.amount

    model = Slow()
    events = await run(model, chain(2))
    assert model.total == 20 and len(events) == 2


async def test_replaying_the_events_on_a_fresh_instance_rebuilds_the_state():
    model = Counter()
    events = await run(model, chain(5))
    fresh = Counter()
    for event in events:
        fresh.replay(event)
    assert fresh.totals == model.totals
    assert await fresh.run_block(chain(6)[5]) == [Added(key="h", amount=5)]  # none recorded


def test_replay_of_an_unhandled_event_fails():
    with pytest.raises(UnhandledEventError):
        Counter().replay(Stray())


async def test_reset_restores_the_defaults_and_drops_pending_events():
    class Resetting(Counter):
        def process_block(self, block: Block) -> None:
            self.apply(Added(key="z", amount=1))
            self.reset()

    model = Resetting()
    await run(Counter(), chain(2))
    assert await model.run_block(chain(1)[0]) == []
    assert model.state_dict() == {"totals": {}, "seen": []}
    assert model.tip is None


def test_event_registry_lists_the_handled_event_classes():
    registry = Counter.event_registry()
    assert set(registry) == {Added, Removed}
    assert "Added" in registry and "Stray" not in registry


def test_a_subclass_inherits_handlers_and_may_add_more():
    class More(Counter):
        @on(Stray)
        def _stray(self, event: Stray) -> None:
            self.totals["stray"] = 1

    assert set(More.event_registry()) == {Added, Removed, Stray}
    assert set(Counter.event_registry()) == {Added, Removed}


def test_one_handler_may_take_several_event_classes():
    class Both(Model):
        count: int = 0

        @on(Added, Removed)
        def _any(self, event: Event) -> None:
            self.count += 1

    model = Both()
    model.replay(Added(key="a", amount=1))
    model.replay(Removed(key="a"))
    assert model.count == 2


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("x: int\n", "'x' needs a default"),
        ("apply: int = 0\n", "clashes with Model.apply"),
        ("name = 'not valid'\n", "must be an ASCII identifier"),
        ("snapshot_interval = 0\n", "snapshot_interval must be None or an int >= 1"),
        (
            "@on(Added)\ndef a(self, e): pass\n@on(Added)\ndef b(self, e): pass\n",
            "Added has two handlers",
        ),
        ("@on(Added)\nasync def a(self, e): pass\n", "must be a plain"),
    ],
)
def test_bad_model_definitions_fail_when_the_class_is_defined(body: str, message: str):
    source = "class Bad(Model):\n" + "".join(f"    {line}\n" for line in body.splitlines())
    with pytest.raises(ModelDefinitionError, match=message):
        exec(source, {"Model": Model, "on": on, "Added": Added})


def test_two_event_classes_with_one_event_type_in_a_model_fail():
    class Other(Event):
        event_type = "Added"

    with pytest.raises(ModelDefinitionError, match="declared by both"):

        class Clash(Model):
            @on(Added)
            def _a(self, event: Added) -> None: ...

            @on(Other)
            def _o(self, event: Other) -> None: ...


def test_on_rejects_things_that_are_not_event_classes():
    with pytest.raises(ModelDefinitionError, match="Event subclasses"):
        on(dict)  # type: ignore[arg-type]


def test_models_run_together_need_distinct_names():
    class Twin(Model):
        name = "counter"

    class Other(Model):
        pass

    validate_models([Counter(), Other()])
    with pytest.raises(ModelDefinitionError, match="two models are named 'counter'"):
        validate_models([Counter(), Twin()])
