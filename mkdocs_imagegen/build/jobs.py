"""A job: one banner's request, the route it takes if it must be generated, and how it ended."""

from __future__ import annotations

import contextlib
import itertools
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path

from mkdocs_imagegen.cache.entries import Original
from mkdocs_imagegen.errors import ImagegenError
from mkdocs_imagegen.providers.registry import Route
from mkdocs_imagegen.request import GenerationRequest


class Cancelled(Exception):
    """The pipeline is shutting down."""


class StopEvent(threading.Event):
    """A pipeline's stop signal that also wakes whoever waits for something else (a request slot, a lane)
    the moment it is set, so no waiting thread has to wake now and then to look at it: a build waiting on
    a slow provider uses no CPU."""

    def __init__(self) -> None:
        super().__init__()
        self._wakers: dict[int, Callable[[], None]] = {}
        self._wakers_lock = threading.Lock()
        self._tokens = itertools.count()

    def set(self) -> None:
        super().set()
        with self._wakers_lock:
            wakers = list(self._wakers.values())
        for wake in wakers:
            wake()

    @contextlib.contextmanager
    def waking(self, wake: Callable[[], None]) -> Iterator[None]:
        """Call `wake` when the stop is set while inside this block (at once if it is set already).
        `wake` is called without any lock held: it may take the lock its waiter waits under."""
        token = next(self._tokens)
        with self._wakers_lock:
            self._wakers[token] = wake
        try:
            if self.is_set():
                wake()
            yield
        finally:
            with self._wakers_lock:
                del self._wakers[token]


@dataclass
class Outcome:
    """How a job ended: a rendition (with the original, unless it was a cache hit), or why there is none."""

    original: Original | None = None
    rendition: Path | None = None
    error: ImagegenError | None = None
    generated: bool = False  # a provider was paid for this one, in this process
    pending: bool = False  # still generating in the background (mkdocs serve)


@dataclass
class Job:
    request: GenerationRequest
    route: Route | None  # None: the cache answered, no provider was routed to
    future: Future[Outcome] | Settled
    pages: list[str] = field(default_factory=list)
    kind: str = "generate"  # generate | cached | derive | placeholder | skipped
    started: float = field(default_factory=time.monotonic)
    reported: bool = False  # its outcome was already counted in a build summary (mkdocs serve rebuilds)

    @property
    def key(self) -> str:
        return self.request.cache_key

    def done(self) -> bool:
        return self.future.done()

    def cancel_if_waiting(self) -> bool:
        """Cancel a job still in its quiet period; a request already sent is left to finish."""
        return self.future.cancel()

    def outcome(self) -> Outcome:
        """How a finished job ended; an error a user can read, whatever went wrong."""
        try:
            return self.future.result()
        except Cancelled:
            return Outcome(error=ImagegenError("cancelled"))
        except ImagegenError as error:
            return Outcome(error=error)
        except Exception as error:  # noqa: BLE001 - a bug must not take the whole build down silently
            return Outcome(error=ImagegenError(f"unexpected {type(error).__name__}: {error}"))


class Settled:
    """An outcome known when its job is made (a cache hit, a placeholder): the part of a Future's
    interface jobs use, without the lock and condition a Future carries (a warm build makes hundreds)."""

    __slots__ = ("_outcome",)

    def __init__(self, outcome: Outcome) -> None:
        self._outcome = outcome

    def done(self) -> bool:
        return True

    def cancelled(self) -> bool:
        return False

    def cancel(self) -> bool:
        return False

    def result(self, timeout: float | None = None) -> Outcome:
        return self._outcome


def queued(jobs: list[Job], concurrency: int) -> str:
    """"2 waiting for studio (1 at a time)": the banners held back by a provider that takes fewer requests at
    once than the build's `concurrency`, or "" when none is."""
    held: dict[str, list[int]] = {}
    for job in jobs:
        provider = job.route.provider if job.route is not None else None
        cap = provider.max_in_flight if provider is not None else None
        if job.kind == "generate" and not job.done() and cap and cap < concurrency:
            held.setdefault(provider.name, [cap, 0])[1] += 1  # type: ignore[union-attr]
    return "; ".join(f"{pending - cap} waiting for {name} ({cap} at a time)"
                     for name, (cap, pending) in held.items() if pending > cap)


def held_back(jobs: list[Job]) -> str:
    """" (studio takes 1 at a time)" for each routed provider that takes fewer requests at once than the build."""
    caps = {job.route.provider.name: job.route.provider.max_in_flight for job in jobs
            if job.route is not None and job.route.provider.max_in_flight}
    return "".join(f" ({name} takes {cap} at a time)" for name, cap in sorted(caps.items()))
