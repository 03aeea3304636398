"""The simulated node's datadir: an append-only journal of blocks and validity changes.

``<datadir>/regtest/simnode-journal.dat`` holds records ``kind (1 byte) | length
(4 bytes LE) | payload``: ``B`` a raw block as received, ``I`` / ``R`` the hash of an
``invalidateblock`` / ``reconsiderblock``. Replaying it rebuilds the block tree, the
first-seen order and the invalid marks. A torn last record (a crash mid-write) is
ignored. The mempool is saved on a clean stop, one hex transaction per line.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

BLOCK = b"B"
INVALIDATE = b"I"
RECONSIDER = b"R"
_HEAD = struct.Struct("<cI")


class Journal:
    """Append-only record file of everything that shapes the block tree."""

    def __init__(self, netdir: Path) -> None:
        self.path = netdir / "simnode-journal.dat"
        self.mempool_path = netdir / "simnode-mempool.dat"
        self._file: BinaryIO | None = None

    def records(self) -> Iterator[tuple[bytes, bytes]]:
        """Every complete record, oldest first."""
        if not self.path.exists():
            return
        data = self.path.read_bytes()
        pos = 0
        while pos + _HEAD.size <= len(data):
            kind, length = _HEAD.unpack_from(data, pos)
            start = pos + _HEAD.size
            if start + length > len(data):
                break
            yield kind, data[start : start + length]
            pos = start + length

    def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = self.path.open("ab")

    def append(self, kind: bytes, payload: bytes) -> None:
        if self._file is None:
            raise RuntimeError("journal is not open")
        self._file.write(_HEAD.pack(kind, len(payload)) + payload)
        self._file.flush()

    def size(self) -> int:
        return self.path.stat().st_size if self.path.exists() else 0

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def save_mempool(self, raw_txs: list[bytes]) -> None:
        self.mempool_path.write_text("".join(f"{raw.hex()}\n" for raw in raw_txs))

    def load_mempool(self) -> list[bytes]:
        """The saved mempool (then forgotten, as Core renames mempool.dat on load)."""
        if not self.mempool_path.exists():
            return []
        lines = self.mempool_path.read_text().split()
        self.mempool_path.unlink()
        return [bytes.fromhex(line) for line in lines]
