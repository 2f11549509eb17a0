"""The supervisor's job dispatcher with real worker threads: jobs on different components
run at once, jobs sharing a component run in order (issue 12, item 3)."""

from __future__ import annotations

import queue
import threading
import time

from gatemesh.runner.jobs import Dispatcher, Done, Job, Worker


def run_jobs(jobs: list[Job], workers: int) -> None:
    inbox: queue.Queue = queue.Queue()
    dispatcher = Dispatcher([Worker(n, inbox, lambda: None) for n in range(workers)])
    for job in jobs:
        dispatcher.add(job)
    deadline = time.monotonic() + 10
    while not all(j.done.is_set() for j in jobs) and time.monotonic() < deadline:
        try:
            item = inbox.get(timeout=0.1)
        except queue.Empty:
            continue
        assert isinstance(item, Done)
        dispatcher.finished(item)
    assert all(j.done.is_set() for j in jobs)


def test_a_restart_does_not_wait_behind_a_job_waiting_on_what_it_restarts():
    controlplane_up = threading.Event()
    order: list[str] = []

    def scale():  # waits for the control plane, as runner.scale does
        assert controlplane_up.wait(5), "the restart never ran: it queued behind the scale"
        order.append("scale")

    def restart():
        controlplane_up.set()
        order.append("restart")

    run_jobs([Job(scale, frozenset({"scale:catalog", "catalog-1"})), Job(restart, frozenset({"controlplane"}))], 4)
    assert order == ["restart", "scale"]


def test_jobs_sharing_a_component_run_one_after_the_other_in_order():
    running, seen, order = [0], [0], []
    lock = threading.Lock()

    def job(n):
        def fn():
            with lock:
                running[0] += 1
                seen[0] = max(seen[0], running[0])
            time.sleep(0.05)
            with lock:
                running[0] -= 1
                order.append(n)

        return fn

    run_jobs([Job(job(n), frozenset({"catalog-1"})) for n in range(4)], 4)
    assert seen[0] == 1 and order == [0, 1, 2, 3]


def test_a_later_job_does_not_overtake_an_earlier_pending_one_on_the_same_component():
    order: list[str] = []
    gate = threading.Event()
    jobs = [
        Job(lambda: (gate.wait(5), order.append("a")), frozenset({"x"})),
        Job(lambda: order.append("b"), frozenset({"x", "y"})),
        Job(lambda: order.append("c"), frozenset({"y"})),  # shares y with the pending b
        Job(lambda: (order.append("d"), gate.set()), frozenset({"z"})),
    ]
    run_jobs(jobs, 4)
    assert order.index("b") < order.index("c") and order[0] == "d"


def test_an_error_is_handed_back_to_the_caller():
    job = Job(lambda: 1 / 0, frozenset({"x"}))
    run_jobs([job], 1)
    assert isinstance(job.error, ZeroDivisionError)
