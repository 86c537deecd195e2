"""Daemon worker threads: a stuck provider never keeps the process alive after Ctrl-C."""

from __future__ import annotations

import functools
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future

from mkdocs_imagegen.build.jobs import Cancelled, Outcome


class WorkerPool:
    """A fixed number of daemon threads; unlike ThreadPoolExecutor it never blocks interpreter exit."""

    def __init__(self, workers: int, name: str = "imagegen") -> None:
        self._tasks: queue.Queue[tuple[Future[Outcome], Callable[[], Outcome]] | None] = queue.Queue()
        self._threads = [
            threading.Thread(target=self._run, name=f"{name}-{i}", daemon=True) for i in range(workers)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, work: Callable[[], Outcome], delay: float = 0.0) -> Future[Outcome]:
        """Queue `work`; with a delay it is queued only after `delay` seconds, unless cancelled by then."""
        future: Future[Outcome] = Future()
        if delay > 0:
            timer = threading.Timer(delay, self._tasks.put, args=((future, work),))
            timer.daemon = True
            timer.start()
        else:
            self._tasks.put((future, work))
        return future

    def _run(self) -> None:
        while True:
            task = self._tasks.get()
            if task is None:
                return
            future, work = task
            if not future.set_running_or_notify_cancel():
                continue
            try:
                result = work()
            except BaseException as exc:  # noqa: BLE001 - handed to whoever waits on the future
                future.set_exception(exc)
                continue
            if isinstance(result, Future):  # the work handed its last step to another pool
                result.add_done_callback(functools.partial(_settle, future))
            else:
                future.set_result(result)

    def shutdown(self) -> None:
        for _ in self._threads:
            self._tasks.put(None)


def _settle(outer: Future[Outcome], inner: Future[Outcome]) -> None:
    """Copy a finished future's result (or exception) into another."""
    if inner.cancelled():
        outer.set_exception(Cancelled())
    elif inner.exception() is not None:
        outer.set_exception(inner.exception())
    else:
        outer.set_result(inner.result())
