"""Image work runs on one lane thread per core: never more decoded images than lanes, never on the
request threads."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from mkdocs_imagegen.build.jobs import Cancelled, StopEvent
from mkdocs_imagegen.build.lanes import CpuLanes


def test_work_from_many_threads_runs_on_the_lanes_only() -> None:
    lanes = CpuLanes(2)
    try:
        with ThreadPoolExecutor(8) as callers:
            names = set(callers.map(lambda _: lanes.run(lambda: threading.current_thread().name), range(32)))
        assert names and len(names) <= 2 and all(name.startswith("imagegen-cpu-") for name in names)
    finally:
        lanes.shutdown()


def test_work_on_a_lane_runs_there_at_once_and_errors_reach_the_caller() -> None:
    lanes = CpuLanes(1)  # a lane waiting for another lane would wait for itself
    try:
        outer, inner = lanes.run(lambda: (threading.current_thread().name,
                                          lanes.run(lambda: threading.current_thread().name)))
        assert outer == inner
        with pytest.raises(ZeroDivisionError):
            lanes.run(lambda: 1 / 0)
    finally:
        lanes.shutdown()


def test_a_caller_waiting_for_a_lane_is_cancelled_when_the_build_stops() -> None:
    stop, busy, release = StopEvent(), threading.Event(), threading.Event()
    lanes = CpuLanes(1, stop)

    def hold() -> None:
        busy.set()
        release.wait(10)

    try:
        holder = lanes.submit(hold)
        assert busy.wait(10)
        stop.set()
        with pytest.raises(Cancelled):
            lanes.run(lambda: None)  # queued behind `hold`: never runs
    finally:
        release.set()
        holder.result(10)
        lanes.shutdown()
