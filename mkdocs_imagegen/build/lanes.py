"""The threads that decode, resize and encode images: one per core, and nothing else does that work.

Whoever needs an image decoded (a request's answer, a cached original) hands the work to a lane and
waits for it, so there are never more full-size images in memory than lanes, each released before
its lane takes the next. Keeping the work on these few threads also keeps its memory with them:
glibc's allocator keeps what a thread freed in that thread's own arena, so images decoded across
the 2C + cores request threads left each of them holding a few images' worth (a 64-banner Gemini
build peaked at 420 MiB; on two lanes it needs a third of that).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

from mkdocs_imagegen.build.jobs import Cancelled, StopEvent
from mkdocs_imagegen.build.workers import WorkerPool

T = TypeVar("T")


class CpuLanes:
    def __init__(self, lanes: int, stop: StopEvent | None = None) -> None:
        self.lanes = max(1, lanes)
        self._stop = stop or StopEvent()
        self._pool: WorkerPool | None = None
        self._lock = threading.Lock()
        self._local = threading.local()

    def submit(self, work: Callable[[], Any]) -> Future[Any]:
        """Queue `work` on a lane; its future."""
        with self._lock:
            if self._pool is None:
                self._pool = WorkerPool(self.lanes, name="imagegen-cpu")
            pool = self._pool
        return pool.submit(lambda: self._on_lane(work))

    def run(self, work: Callable[[], T]) -> T:
        """Run `work` on a lane and wait for it; what it raises is raised here. Work already on a lane
        runs at once (a lane never waits for another). Cancelled once the stop event is set."""
        if getattr(self._local, "lane", False):
            return work()
        future = self.submit(work)
        woken = threading.Event()  # by the work ending or the build stopping, never by a timer
        future.add_done_callback(lambda _: woken.set())
        with self._stop.waking(woken.set):
            woken.wait()
        if not future.done():
            future.cancel()
            raise Cancelled()
        return future.result()

    def _on_lane(self, work: Callable[[], T]) -> T:
        self._local.lane = True
        return work()

    def shutdown(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown()
