"""Single-writer locks: an OS file lock for SQLite, advisory-lock keys for PostgreSQL."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import struct

from chaincrawler.eventstore.errors import StoreAccessError, StoreLockedError

#: First key of PostgreSQL's two-key advisory lock held by the writer ("cc" + 1).
PG_WRITER_LOCK = 0x6363_0001


def pg_lock_key(database: str, schema: str) -> int:
    """The second (int4) advisory-lock key of the store in ``database``.``schema``."""
    digest = hashlib.sha256(f"{database}\0{schema}".encode()).digest()
    key: int = struct.unpack(">i", digest[:4])[0]
    return key


class FileLock:
    """An exclusive, non-blocking ``flock`` on a sidecar file, held until ``release()``.

    ``flock`` locks belong to the open file, so a second lock attempt fails
    even from the same process; the OS drops the lock when the process dies,
    so a crash never leaves a stale lock behind. The holder's pid is written
    into the file for the error message.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._fd: int | None = None
        self._created = False

    def acquire(self, what: str) -> None:
        """Take the lock or raise StoreLockedError naming ``what`` is locked.

        Raises StoreAccessError if the lock file cannot be created or opened.
        """
        self._created = not os.path.exists(self.path)
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except FileNotFoundError:
            raise StoreAccessError(
                f"cannot use the store {what}: its directory "
                f"{os.path.dirname(os.path.abspath(self.path))} does not exist; create it first"
            ) from None
        except OSError as exc:
            raise StoreAccessError(
                f"cannot use the store {what} as the writer: cannot open its lock file "
                f"{self.path} ({exc.strerror}); the writer needs write access to the "
                "store's directory"
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise StoreLockedError(
                f"another chaincrawler process is writing to this store ({what}, "
                f"lock file {self.path} held by pid {holder}); stop it first, or "
                "open the store with writer=False to read"
            ) from None
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._fd = fd

    def release(self, *, remove_if_created: bool = False) -> None:
        """Drop the lock (idempotent); ``remove_if_created``: delete a lock file it made."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            if remove_if_created and self._created:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self.path)
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
