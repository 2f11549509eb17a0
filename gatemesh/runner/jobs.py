"""The supervisor's jobs: a few long-lived worker threads and the dispatcher that hands
them work, so jobs on different components run at once and jobs on one component run in
order (see ``supervisor.py`` for why).

The workers live as long as the supervisor, so a child process a job starts lives as
long too (``process.py``: a child dies with the thread that started it).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any


class Job:
    def __init__(self, fn: Callable[[], Any], keys: frozenset[str], what: str = "") -> None:
        self.fn = fn
        self.keys = keys  # the components (and "scale:<service>") it touches
        self.what = what
        self.done = threading.Event()
        self.result: Any = None
        self.error: BaseException | None = None


class Done:
    """A worker finished ``job`` (posted back to the dispatcher's queue)."""

    def __init__(self, job: Job, worker: Worker) -> None:
        self.job = job
        self.worker = worker


class Worker:
    """A long-lived thread that runs the jobs it is handed, one at a time."""

    def __init__(self, n: int, done: queue.Queue[Any], after: Callable[[], None]) -> None:
        self.inbox: queue.Queue[Job] = queue.Queue()
        self._done = done
        self._after = after
        self.thread = threading.Thread(target=self._run, name=f"supervisor-job-{n}", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while True:
            job = self.inbox.get()
            try:
                job.result = job.fn()
            except BaseException as e:  # reported to the HTTP caller
                job.error = e
            try:
                self._after()
            finally:
                job.done.set()
                self._done.put(Done(job, self))


class Dispatcher:
    """Hands pending jobs to idle workers: a job starts once no running job shares one of
    its keys and no job asked for earlier that shares one is still pending (so jobs on one
    component keep their order and none is overtaken forever)."""

    def __init__(self, workers: list[Worker]) -> None:
        self.idle = list(workers)
        self.pending: list[Job] = []
        self.busy: set[str] = set()

    def add(self, job: Job) -> None:
        self.pending.append(job)
        self._dispatch()

    def finished(self, done: Done) -> None:
        self.busy -= done.job.keys
        self.idle.append(done.worker)
        self._dispatch()

    def _dispatch(self) -> None:
        blocked: set[str] = set()
        for job in list(self.pending):
            if not self.idle:
                return
            if job.keys & (self.busy | blocked):
                blocked |= job.keys
                continue
            self.pending.remove(job)
            self.busy |= job.keys
            self.idle.pop().inbox.put(job)
