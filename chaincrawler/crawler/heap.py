"""Keeping the garbage collector's full passes off the tip's critical path.

CPython's cyclic collector now and then runs a full pass over every object of the process
(the models' state, caches...): at a few hundred thousand objects that is 50-150 ms of
CPU, and it runs at whatever allocation happens to trigger it -- often while a new tip
block is being processed. :class:`IdleCollector` moves that work to the moments the
crawler is caught up and waiting: it collects what is new, then freezes the survivors
(``gc.freeze``) so the automatic passes during the next block scan only the objects
allocated since. A frozen object is still freed when its reference count drops to zero;
only a reference cycle that dies after being frozen waits, for the next full pass, which
the collector makes (also when idle) once the frozen objects doubled since the
last one, or after a restore replaced the models' state.

While a crawl runs (:meth:`IdleCollector.hold`), the collector's own full passes wait
much longer than CPython's default: catching up, every pass would scan all the objects
the batch so far has made (at 30 blocks of 2,000 transactions, 12 passes and a third of
the crawl's CPU), and the batch's commit is followed by a collection anyway. Within a
catch-up (:meth:`IdleCollector.catching_up`) the automatic passes stop altogether: the
collection after each batch (:meth:`IdleCollector.settle`) scans the batch's objects
once, where the young-generation passes would scan each of them about twice, and the
garbage cycles a batch leaves wait at most for the end of that batch.
"""

from __future__ import annotations

import contextlib
import gc

from chaincrawler.models.state import collector_paused

FULL_PASS_GROWTH = 1.0
"""Growth of the frozen objects since the last full pass that calls for another one."""

HELD_FULL_PASS_THRESHOLD = 1000
"""While held, the young-generation passes between two automatic full passes (CPython's
default is 10): one every few million allocations, a bound should the crawler never be
idle, instead of several per catch-up batch."""


class IdleCollector:
    """Collects garbage when the crawler is idle, so blocks seldom meet a full pass."""

    def __init__(self) -> None:
        self._frozen_after_full: int | None = None  # None: a full pass is due
        self._frozen_since = 0  # objects frozen since (an upper bound: some died since)
        self.full_passes = 0
        """Full passes made (each scans every object of the process)."""
        self._thresholds: tuple[int, int, int] | None = None  # as before hold()

    def hold(self) -> None:
        """Make the automatic full passes rare until :meth:`release` (a crawl starts)."""
        if self._thresholds is None:
            young, middle, full = self._thresholds = gc.get_threshold()
            gc.set_threshold(young, middle, max(full, HELD_FULL_PASS_THRESHOLD))

    def catching_up(self) -> contextlib.AbstractContextManager[None]:
        """No automatic passes inside: the caller settles after each batch it commits."""
        return collector_paused()

    def settle(self) -> None:
        """Collect now (the crawler is idle), then freeze what survived."""
        baseline = self._frozen_after_full
        if baseline is None or self._frozen_since > baseline * FULL_PASS_GROWTH:
            gc.unfreeze()
            gc.collect()
            gc.freeze()
            # Counting walks every frozen object: done only here, after a full pass.
            self._frozen_after_full = gc.get_freeze_count()
            self._frozen_since = 0
            self.full_passes += 1
        else:
            gc.collect()
            self._frozen_since += len(gc.get_objects(generation=2))  # the new survivors
            gc.freeze()

    def replaced_state(self) -> None:
        """The models' state was rebuilt: the old one may be cycles only a full pass frees."""
        self._frozen_after_full = None

    def release(self) -> None:
        """Hand the frozen objects back to the collector, with its thresholds as they were
        before :meth:`hold` (the crawl is over)."""
        gc.unfreeze()
        self._frozen_after_full = None
        if self._thresholds is not None:
            gc.set_threshold(*self._thresholds)
            self._thresholds = None
