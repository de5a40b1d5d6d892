"""A gate that lets another process hold a SQLite database's scheduler between two loops.

The pytest plugin restores a snapshot of every table between tests while the scheduler runs. A
scheduler step reads rows and writes them back in separate statements, so a restore landing
between the two would be half overwritten. The scheduler therefore passes the gate before each
loop and keeps the loop lock while the loop runs; `hold_scheduler()` closes the gate (no new loop
starts) and then waits for the loop lock (the current loop ends). The locks are POSIX byte-range
locks on `<database>.scheduler.gate`, which the operating system releases however a process ends.

PostgreSQL deployments have no such gate: nothing restores their tables under a running scheduler.
"""
from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator

_TURNSTILE = 0  # byte held by the holder, passed through by the scheduler
_LOOP = 1  # byte held by the scheduler during a loop, and by the holder


def gate_path(database: str) -> str:
    return database + ".scheduler.gate"


def sqlite_database(engine) -> str | None:
    """The database file of a SQLite engine; None for other databases and in-memory ones."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or database in (None, "", ":memory:"):
        return None
    return database


def _lock(fd: int, byte: int, kind: int) -> None:
    fcntl.lockf(fd, kind, 1, byte, os.SEEK_SET)


class LoopGate:
    """The scheduler's side: `with gate.loop(): ...` around each loop (a no-op off SQLite)."""

    def __init__(self, engine):
        database = sqlite_database(engine)
        self._fd = os.open(gate_path(database), os.O_RDWR | os.O_CREAT, 0o600) if database else None

    @contextlib.contextmanager
    def loop(self) -> Iterator[None]:
        if self._fd is None:
            yield
            return
        # Waits while a holder keeps the turnstile; taking it shared and letting go at once means
        # a loop never starts once a holder is waiting, so a busy scheduler cannot starve it.
        _lock(self._fd, _TURNSTILE, fcntl.LOCK_SH)
        _lock(self._fd, _TURNSTILE, fcntl.LOCK_UN)
        _lock(self._fd, _LOOP, fcntl.LOCK_EX)
        try:
            yield
        finally:
            _lock(self._fd, _LOOP, fcntl.LOCK_UN)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


@contextlib.contextmanager
def hold_scheduler(database: str) -> Iterator[None]:
    """Keep the scheduler of this SQLite file between two loops for the duration of the block."""
    fd = os.open(gate_path(database), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        _lock(fd, _TURNSTILE, fcntl.LOCK_EX)
        _lock(fd, _LOOP, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases both locks
