"""The stream's frames, encoded once per fan-out, decode to exactly the store's events."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from chaincrawler.client import EventsFrame, StreamView
from chaincrawler.eventstore import EventStatus, StoredEvent
from chaincrawler.transports.schemas import EventOut
from chaincrawler.transports.stream import event_json, events_frame

PAYLOADS = [
    '{"txid":"ab","credited":{"bcrt1q\\u00e9":5},"debited":{}}',
    '{"text": "quote \\" backslash \\\\ newline \\n", "nested": [1, {"a": null}], "f": 1.5}',
    '{"emoji":"\u20bf \U0001f680","big":123456789012345678901234567890}',
    "{}",
]


def stored(position: int, payload: str, *, status: EventStatus = EventStatus.ACTIVE,
           reorg_id: int | None = None) -> StoredEvent:
    return StoredEvent(position=position, model="address_balances", version=position,
                       event_type="BalancesChanged", event_version=1, payload=payload,
                       block_height=100 + position, block_hash="00" * 32, status=status,
                       reorg_id=reorg_id, created_at=datetime.now(UTC))


def test_an_event_encoded_for_the_stream_is_the_api_s_event() -> None:
    events = [stored(i + 1, p) for i, p in enumerate(PAYLOADS)]
    events.append(stored(9, "{}", status=EventStatus.ROLLED_BACK, reorg_id=3))
    for event in events:
        assert json.loads(event_json(event)) == EventOut.of(event).model_dump()
        assert EventOut.model_validate_json(event_json(event)) == EventOut.of(event)


def test_an_events_frame_applied_by_the_client_holds_the_active_events() -> None:
    events = [stored(i + 1, p) for i, p in enumerate(PAYLOADS)]
    events.append(stored(5, "{}", status=EventStatus.ROLLED_BACK, reorg_id=1))
    at = {"tip": {"height": 104, "hash": "00" * 32}, "position": 5, "finalized_height": None}
    frame = EventsFrame.model_validate_json(events_frame(at, 5, [event_json(e) for e in events]))
    assert frame.upto == 5
    assert frame.at.position == 5
    view = StreamView()
    view.apply(frame)
    assert view.events == {e.position: EventOut.of(e) for e in events[:4]}
    empty = EventsFrame.model_validate_json(events_frame(at, 7, []))
    assert empty.events == [] and empty.upto == 7
