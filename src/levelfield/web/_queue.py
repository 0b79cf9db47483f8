"""A fair import queue: a few import threads shared by all organizations, one job per
organization at a time, and a cap on each organization's waiting jobs.

Requests never wait on an organization's lock in the app's shared thread pool: an
upload reserves a place (or gets 429 at once), hands its file to the queue and awaits
the result as an asyncio future (no thread held), or returns 202 with the upload id.
Organizations take turns (round robin), so 90 uploads into one organization delay only
that organization's own imports.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from levelfield.web._auth import RateLimitError

__all__ = ["ImportQueue", "QueueFullError"]

log = logging.getLogger(__name__)


class QueueFullError(RateLimitError):
    """The organization has as many uploads waiting or importing as it may have."""


class ImportQueue:
    """Run jobs on ``workers`` threads; per organization one at a time, ``per_org`` at most."""

    def __init__(self, workers: int, per_org: int) -> None:
        self.per_org = per_org
        self._cond = threading.Condition()
        self._held: dict[str, int] = {}
        self._jobs: dict[str, deque[tuple[Callable[[], Any], Future[Any]]]] = {}
        self._ready: deque[str] = deque()
        self._busy: set[str] = set()
        self._stopping = False
        self._threads = [
            threading.Thread(target=self._work, name=f"lf-import-{i}", daemon=True)
            for i in range(workers)
        ]
        for t in self._threads:
            t.start()

    def reserve(self, org_id: str) -> None:
        """Take one of the organization's places; :class:`QueueFullError` when none is free."""
        with self._cond:
            if self._held.get(org_id, 0) >= self.per_org:
                raise QueueFullError(
                    f"{self.per_org} uploads of this business are already waiting or importing; "
                    "wait for them to finish and try again"
                )
            self._held[org_id] = self._held.get(org_id, 0) + 1

    def release(self, org_id: str) -> None:
        """Give a place back (done, or the upload failed before it was queued)."""
        with self._cond:
            left = self._held.get(org_id, 0) - 1
            if left > 0:
                self._held[org_id] = left
            else:
                self._held.pop(org_id, None)

    def pending(self, org_id: str) -> int:
        with self._cond:
            return self._held.get(org_id, 0)

    def submit(self, org_id: str, job: Callable[[], Any]) -> Future[Any]:
        """Queue ``job`` for ``org_id`` (a place must be reserved; it is released after)."""
        fut: Future[Any] = Future()
        with self._cond:
            queue = self._jobs.setdefault(org_id, deque())
            queue.append((job, fut))
            if org_id not in self._busy and org_id not in self._ready:
                self._ready.append(org_id)
            self._cond.notify()
        return fut

    def _next(self) -> tuple[str, Callable[[], Any], Future[Any]] | None:
        with self._cond:
            while not self._ready and not self._stopping:
                self._cond.wait()
            if self._stopping:
                return None
            org_id = self._ready.popleft()
            job, fut = self._jobs[org_id].popleft()
            self._busy.add(org_id)
            return org_id, job, fut

    def _work(self) -> None:
        while (item := self._next()) is not None:
            org_id, job, fut = item
            if fut.set_running_or_notify_cancel():
                try:
                    fut.set_result(job())
                except BaseException as exc:  # the thread's boundary: hand it to the waiter
                    fut.set_exception(exc)
            self.release(org_id)
            with self._cond:
                self._busy.discard(org_id)
                if self._jobs[org_id]:
                    self._ready.append(org_id)  # back of the line: others take their turn
                else:
                    del self._jobs[org_id]
                self._cond.notify_all()  # a waiting worker, or wait_idle

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Wait until no job runs or waits (the workers stay); False after ``timeout``.

        The app's shutdown waits here before it closes the state store, whose
        connections a running import is still writing to.
        """
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._busy or self._ready:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def close(self, timeout: float = 30.0) -> None:
        """Stop after the running jobs; queued ones are cancelled."""
        with self._cond:
            self._stopping = True
            for queue in self._jobs.values():
                for _job, fut in queue:
                    fut.cancel()
            self._cond.notify_all()
        for t in self._threads:
            t.join(timeout=timeout)
