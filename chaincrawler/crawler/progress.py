"""Catch-up progress: height / tip, blocks/s, tx/s, events/s and ETA."""

from __future__ import annotations

import sys
import time
from typing import TextIO

import structlog

log = structlog.get_logger(__name__)


class Progress:
    """Reports crawl progress: a live line on a terminal, a log line every ``every`` s otherwise."""

    def __init__(self, stream: TextIO | None = None, every: float = 5.0) -> None:
        self._stream = stream if stream is not None else sys.stderr
        self._tty = self._stream.isatty()
        self._every = 0.5 if self._tty else every
        self._start = time.monotonic()
        self._last_report = 0.0
        self._target = 0
        self._height = 0
        self.blocks = 0
        self.txs = 0
        self.events = 0

    def target(self, height: int) -> None:
        """The node's tip height we are catching up to."""
        self._target = height

    def advance(self, height: int, blocks: int, txs: int, events: int) -> None:
        """Record one commit and report if it is time to."""
        self._height = height
        self.blocks += blocks
        self.txs += txs
        self.events += events
        now = time.monotonic()
        if now - self._last_report >= self._every or height >= self._target:
            self._last_report = now
            self._report(now)

    def line(self) -> str:
        """The current progress as one human-readable line."""
        elapsed = max(time.monotonic() - self._start, 1e-9)
        bps = self.blocks / elapsed
        left = max(self._target - self._height, 0)
        eta = f"{left / bps:,.0f}s" if bps > 0 and left else "-"
        return (
            f"height {self._height:,}/{self._target:,}  {bps:,.1f} blocks/s  "
            f"{self.txs / elapsed:,.0f} tx/s  {self.events / elapsed:,.0f} events/s  ETA {eta}"
        )

    def _report(self, now: float) -> None:
        if self._tty:
            end = "\n" if self._height >= self._target else ""
            self._stream.write("\r" + self.line() + end)
            self._stream.flush()
        else:
            log.info("progress", line=self.line(), height=self._height, tip=self._target)
