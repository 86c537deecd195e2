"""Sending one banner's request: the limiters that bound what is in flight, backoff with the provider's
retry hints (capped), retries of what is worth retrying, and falling through to the next provider when
one has no such model."""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from typing import TypeVar

from mkdocs_imagegen.build.jobs import Cancelled, StopEvent
from mkdocs_imagegen.build.lanes import CpuLanes
from mkdocs_imagegen.errors import ImagegenError, RateLimitedError, RetryHintTooLongError
from mkdocs_imagegen.imaging import SourceImage, load_source
from mkdocs_imagegen.providers.base import ProviderImage
from mkdocs_imagegen.providers.registry import Route
from mkdocs_imagegen.request import GenerationRequest

BACKOFF_BASE = 1.0
BACKOFF_CAP = 60.0
T = TypeVar("T")


class AdaptiveLimiter:
    """How many requests may be in flight to one provider.

    On a 429 the limit drops to what is still in flight: the last rejection of a burst leaves
    exactly the requests the provider accepted, i.e. its real capacity. After twice `limit`
    successes in a row the limit grows by one, to probe whether capacity came back.
    """

    def __init__(self, ceiling: int, stop: StopEvent) -> None:
        self.ceiling = ceiling
        self.limit = ceiling
        self.in_flight = 0
        self._successes = 0
        self._stop = stop
        self._condition = threading.Condition()

    def acquire(self) -> None:
        """Take a slot, waiting (woken by a release or by the build stopping, never by a timer) while none is free."""
        with self._condition:
            if self.in_flight < self.limit:
                self.in_flight += 1
                return
        with self._stop.waking(self._wake), self._condition:
            while self.in_flight >= self.limit:
                if self._stop.is_set():
                    raise Cancelled()
                self._condition.wait()
            self.in_flight += 1

    def _wake(self) -> None:
        with self._condition:
            self._condition.notify_all()

    def release(self, *, rate_limited: bool = False) -> None:
        with self._condition:
            self.in_flight -= 1
            if rate_limited:
                self.limit = max(1, min(self.limit, self.in_flight))
                self._successes = 0
            else:
                self._successes += 1
                if self.limit < self.ceiling and self._successes >= 2 * self.limit:
                    self.limit += 1
                    self._successes = 0
            self._condition.notify_all()


# The most one banner waits, in all, on the provider's retry hints (429 `retry-after`, Gemini `RetryInfo`).
# A hint that would take it past this gives the banner up for this build instead of sleeping for hours.
RETRY_HINT_CAP = 60.0


def backoff(attempt: int, retry_after: float | None) -> float:
    """Seconds to wait before retry `attempt + 1`: never sooner than the provider asked (up to
    RETRY_HINT_CAP, see `_with_retries`), otherwise exponential with jitter so parallel workers
    do not retry in lockstep."""
    if retry_after is not None and retry_after >= 0:
        return min(retry_after * random.uniform(1.0, 1.15), max(retry_after, RETRY_HINT_CAP))
    ceiling = min(BACKOFF_CAP, BACKOFF_BASE * 2**attempt)
    return random.uniform(ceiling / 2, ceiling)


def retry_delay(error: ImagegenError, attempt: int, hinted: float, *,
                outcome: str = "no banner this build") -> tuple[float, float]:
    """(seconds to wait before retry `attempt + 1`, seconds waited on the provider's hints once that is done).
    RetryHintTooLongError, saying `outcome`, when the provider's hint would take the waits on hints past
    RETRY_HINT_CAP: a wait that long is better spent on the next build."""
    hint = getattr(error, "retry_after", None)
    if hint is not None and hinted + hint > RETRY_HINT_CAP:
        already = f", after {hinted:.0f} s of waits already" if hinted else ""
        raise RetryHintTooLongError(
            f"{error.message}; it asked to wait {hint:,.0f} s before a retry, more than the "
            f"{RETRY_HINT_CAP:g} s a request waits{already}: {outcome}"
            " (see docs: troubleshooting#provider-busy)",
            provider=error.provider, model=error.model) from None
    delay = backoff(attempt, hint)
    return delay, hinted + (delay if hint is not None else 0.0)


def generate_with_retries(
    request: GenerationRequest,
    route: Route,
    *,
    retries: int,
    timeout: float,
    limiter: AdaptiveLimiter | None = None,
    limiter_for: Callable[[str], AdaptiveLimiter] | None = None,
    slots: AdaptiveLimiter | None = None,
    cpu: CpuLanes | None = None,
    stop: StopEvent | None = None,
    log: logging.Logger | None = None,
    accept: Callable[[ProviderImage, SourceImage], T] = lambda image, source: (image, source),
    unserved: dict[tuple[str, str], ImagegenError] | None = None,
) -> T:
    """Ask the routed provider for one image, retrying what is worth retrying.

    `limiter` bounds the requests in flight to this provider, `slots` those of the whole build.
    When the provider answers that it has no such model (or may not serve it to this account),
    the route's next authenticated provider is tried, with its own limiter from `limiter_for`;
    `unserved` remembers that answer for the build, so later banners skip that provider at once.
    Both are held only while the request is on the wire. The answer is then decoded (which
    validates it) and handed to `accept` on one of the `cpu` lanes, so the decoded image is used up
    before that lane decodes another: there are never more decoded images than lanes.
    Returns what `accept` returns (by default the answer and the validated image); raises the
    last ImagegenError, or Cancelled when `stop` is set.
    """
    stop = stop or StopEvent()
    unserved = {} if unserved is None else unserved
    first = route
    while (known := unserved.get((route.provider.name, request.model))) is not None:
        following = route.falling_through()
        if following is None:
            raise known
        route = following
    limiter = limiter or AdaptiveLimiter(1, stop)
    if route is not first:
        limiter = limiter_for(route.provider.name) if limiter_for else AdaptiveLimiter(1, stop)
    while True:
        try:
            return _with_retries(request, route, retries=retries, timeout=timeout, limiter=limiter, slots=slots,
                                 cpu=cpu, stop=stop, log=log, accept=accept, unserved=unserved)
        except ImagegenError as error:
            following = route.falling_through() if error.falls_through else None
            if following is None:
                raise
            told = (route.provider.name, request.model) in unserved
            unserved.setdefault((route.provider.name, request.model), error)
            if log and not told:
                log.info("imagegen: %s; trying %s instead, for every banner of %s in this build", error,
                         following.provider.label, request.model)
            route = following
            limiter = limiter_for(route.provider.name) if limiter_for else AdaptiveLimiter(1, stop)


def _with_retries(request: GenerationRequest, route: Route, *, retries: int, timeout: float,
                  limiter: AdaptiveLimiter, slots: AdaptiveLimiter | None, cpu: CpuLanes | None,
                  stop: StopEvent, log: logging.Logger | None,
                  accept: Callable[[ProviderImage, SourceImage], T],
                  unserved: dict[tuple[str, str], ImagegenError] | None = None) -> T:
    """One provider, retried on what is worth retrying; retry hints honoured up to RETRY_HINT_CAP in all."""
    provider = route.provider
    hinted = 0.0  # seconds already waited on the provider's hints for this banner
    for attempt in range(retries + 1):
        if stop.is_set():
            raise Cancelled()
        try:
            image = _send(request, route, timeout, limiter, slots, unserved)

            def checked(image: ProviderImage = image) -> T:
                return accept(image, load_source(image.data, provider=provider.name, model=request.model,
                                                 fit_to=request.size))

            return cpu.run(checked) if cpu is not None else checked()
        except ImagegenError as error:
            if not error.retryable or attempt >= retries:
                raise
            delay, hinted = retry_delay(error, attempt, hinted)
            if log:
                log.info("imagegen: %s; retry %d/%d in %.1fs", error, attempt + 1, retries, delay)
        if stop.wait(delay):
            raise Cancelled()
    raise AssertionError("unreachable")


def _send(request: GenerationRequest, route: Route, timeout: float, limiter: AdaptiveLimiter,
          slots: AdaptiveLimiter | None,
          unserved: dict[tuple[str, str], ImagegenError] | None = None) -> ProviderImage:
    """One provider call, holding a slot of the provider's limiter, then one of the build's. A provider that
    said, while this banner waited for its slot, that it has no such model is not asked again."""
    limiter.acquire()
    rate_limited = False
    try:
        if slots is not None:
            slots.acquire()
        try:
            known = unserved.get((route.provider.name, request.model)) if unserved else None
            if known is not None:
                raise known
            try:
                return route.provider.generate(request, timeout=timeout)
            except ImagegenError as error:  # every message names who failed at what
                error.provider = error.provider or route.provider.name
                error.model = error.model or request.model
                raise
        finally:
            if slots is not None:
                slots.release()
    except RateLimitedError:
        rate_limited = True
        raise
    finally:
        limiter.release(rate_limited=rate_limited)
