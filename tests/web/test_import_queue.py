"""The import queue drains before the app closes its state store (a running import's
commit on a closed SQLite connection crashed the process)."""

from __future__ import annotations

import threading
import time

from levelfield.web._queue import ImportQueue


def test_wait_idle_returns_when_running_and_queued_jobs_are_done() -> None:
    q = ImportQueue(workers=1, per_org=5)
    release = threading.Event()
    done: list[int] = []

    def job(i: int) -> int:
        release.wait(5)
        done.append(i)
        return i

    try:
        for i in range(3):
            q.reserve("org")
            q.submit("org", lambda i=i: job(i))
        assert q.wait_idle(timeout=0.2) is False  # a job is blocked: not idle yet
        release.set()
        t0 = time.monotonic()
        assert q.wait_idle(timeout=5) is True
        assert done == [0, 1, 2] and time.monotonic() - t0 < 5
        assert q.pending("org") == 0
        q.reserve("org")  # the workers stay: the queue still takes jobs afterwards
        assert q.submit("org", lambda: 7).result(timeout=5) == 7
    finally:
        q.close()
