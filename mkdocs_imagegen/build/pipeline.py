"""The generation pipeline: request -> provider -> validated image -> cache -> rendition.

Jobs are keyed by cache key, so identical requests in a build (or across `mkdocs serve`
rebuilds) are generated once. Work runs on a bounded pool of daemon threads: a stuck
provider never keeps the process alive after Ctrl-C. Each finished image is committed to the
cache the moment it arrives, so one failure never loses the others.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import threading
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import wait as futures_wait
from dataclasses import replace

from mkdocs_imagegen.build.jobs import Job, Outcome, Settled, StopEvent
from mkdocs_imagegen.build.lanes import CpuLanes
from mkdocs_imagegen.build.sending import AdaptiveLimiter, generate_with_retries
from mkdocs_imagegen.build.settings import PipelineSettings
from mkdocs_imagegen.build.steps import Step, VariantBatch, next_step, takes_n
from mkdocs_imagegen.build.workers import WorkerPool
from mkdocs_imagegen.cache.entries import Entry, Original
from mkdocs_imagegen.cache.leases import Waiting
from mkdocs_imagegen.cache.shared import Claim, SharedCache
from mkdocs_imagegen.cache.store import CacheStore
from mkdocs_imagegen.errors import CacheEntryError, ImagegenError
from mkdocs_imagegen.imaging import SourceImage, load_source
from mkdocs_imagegen.providers.base import ProviderImage
from mkdocs_imagegen.providers.registry import Route
from mkdocs_imagegen.request import GenerationRequest

CORES = os.cpu_count() or 1


class Pipeline:
    def __init__(
        self,
        cache: CacheStore,
        settings: PipelineSettings,
        *,
        log: logging.Logger | None = None,
    ) -> None:
        self.cache = cache
        self.settings = settings
        self.log = log or logging.getLogger("mkdocs.plugins.imagegen")
        self.stop_event = StopEvent()  # setting it wakes every waiting thread: none polls it
        self.jobs: dict[str, Job] = {}
        self.new_submitted = 0  # generations sent in this build, for `max_new`
        self._told: set[str] = set()  # cache problems already warned about in this build
        self._limiters: dict[str, AdaptiveLimiter] = {}
        self._limiters_lock = threading.Lock()  # workers take this one, never `_lock` (held while preparing)
        self._prepared: set[str] = set()  # providers whose client is made
        self._caps: dict[str, int] = {}  # provider -> the fewer requests it takes at once than `concurrency`
        # (provider, model) -> its "no such model" answer in this build: later banners skip that provider.
        self._unserved: dict[tuple[str, str], ImagegenError] = {}
        # `concurrency` requests in flight over all providers; it is never told of a 429, so never shrinks.
        self._slots = AdaptiveLimiter(settings.concurrency, self.stop_event)
        self._lock = threading.Lock()
        self._pool: WorkerPool | None = None  # provider requests (and committing what they return)
        self._renderer: WorkerPool | None = None  # renditions of cached originals
        self._cpu = CpuLanes(CORES, self.stop_event)  # decoding, resizing, encoding: one image per core
        self.shared = SharedCache.open(settings.cache_url, lease_seconds=settings.cache_lease,
                                       wait_seconds=settings.timeout + settings.cache_lease, stop=self.stop_event,
                                       log=self.log, read_seconds=settings.timeout) if settings.cache_url else None

    # -- submitting ------------------------------------------------------------------------------

    def new_build(self) -> None:
        """A build starts (a pipeline lives across `mkdocs serve` rebuilds): read what is cached now, warn
        about cache problems again, and count `max_new` afresh, from the generations still running."""
        self.cache.rescan()
        self._unserved.clear()
        if self.shared is not None:
            self.shared.new_build()
        with self._lock:
            self._told = set()
            self.new_submitted = sum(1 for job in self.jobs.values() if job.kind == "generate" and not job.done())

    def _tell(self, problem: str | None) -> None:
        """One warning per cache problem (it names the file or folder) in a build."""
        if problem is None or problem in self._told:
            return
        self._told.add(problem)
        self.log.warning("imagegen: %s (see docs: troubleshooting#cache-entry-refused)", problem)

    def submit(self, request: GenerationRequest, route: Route | Callable[[], Route], page: str, *,
               quiet: float = 0.0) -> Job:
        """The job for `request`: an existing one with the same key, a cache hit, or new work.

        `route` may be a function: it is called only if the banner has to be generated, so a cached
        banner needs no provider and no credentials (and a routing error surfaces only then).
        `quiet` delays a new generation by that many seconds, so a prompt saved several times in
        quick succession (`mkdocs serve`) can be retired before it costs anything.
        """
        with self._lock:
            job = self.jobs.get(request.cache_key)
            if job is None or self._stale(job, request, route):
                job = self._new_job(request, route, quiet)
                self.jobs[request.cache_key] = job
            if page not in job.pages:
                job.pages.append(page)
            return job

    def _stale(self, job: Job, request: GenerationRequest, route: Route | Callable[[], Route]) -> bool:
        """A job that should not be reused: a cancelled one, or a placeholder whose banner has since
        reached the cache (another build, a `git pull`) or that is now routable."""
        if job.future.cancelled():
            return True
        if job.kind not in ("placeholder", "skipped"):
            return False
        if self.cache.lookup(request, self.settings.fmt).cached:
            return True
        return not (route() if callable(route) else route).is_placeholder

    def retire(self, live_keys: set[str]) -> int:
        """Forget jobs no page asks for any more; cancel those still waiting. Returns how many were cancelled."""
        cancelled = 0
        with self._lock:
            for key in [key for key in self.jobs if key not in live_keys]:
                job = self.jobs[key]
                if job.done() or job.cancel_if_waiting():
                    cancelled += job.future.cancelled()
                    del self.jobs[key]
        return cancelled

    def _new_job(self, request: GenerationRequest, route: Route | Callable[[], Route], quiet: float = 0.0) -> Job:
        entry = self.cache.lookup(request, self.settings.fmt)
        if entry.rendition is None:
            self._tell(entry.problem)  # an unusable entry counts as missing
        return self._job(request, entry, self._step(entry, route, fetch=request.cache_key), route, quiet)

    def _generation_job(self, request: GenerationRequest, route: Route | Callable[[], Route],
                        quiet: float = 0.0) -> Job:
        """A job that pays for the banner, unless no provider is routed, the cache could not keep it,
        or this build's `max_new` is reached. Called holding `_lock`."""
        entry = Entry(request.cache_key)
        return self._job(request, entry, self._step(entry, route), route, quiet)

    def _step(self, entry: Entry, route: Route | Callable[[], Route], *, fetch: str | None = None) -> Step:
        """`fetch`: the key the shared store may answer for (None when it was just asked and could not)."""
        shared = self.shared
        listed = (lambda: shared.listed(fetch)) if fetch is not None and shared is not None else None
        return next_step(entry, route, new=self.new_submitted, max_new=self.settings.max_new,
                         unwritable=self.cache.unwritable, shared=listed)

    def _job(self, request: GenerationRequest, entry: Entry, step: Step, route: Route | Callable[[], Route],
             quiet: float = 0.0) -> Job:
        """The job that carries out `step` for `request`. Called holding `_lock`."""
        if step.kind == "cached":
            return Job(request, None, Settled(Outcome(entry.original, entry.rendition)), kind="cached")
        if step.kind == "fetch":
            return Job(request, None, self._render_submit(lambda: self._from_shared(request, route)), kind="derive")
        original = entry.original
        if step.kind == "derive" and original is not None:
            return Job(request, None, self._render_submit(lambda: self._derive(request, original, route)),
                       kind="derive")
        chosen = step.route
        assert chosen is not None
        self._tell(step.problem)
        if step.kind != "generate":
            return Job(request, chosen, Settled(Outcome()), kind=step.kind)
        self.new_submitted += 1
        self._prepare(chosen)
        return Job(request, chosen, self._pool_submit(lambda: self._generate(request, chosen), delay=quiet))

    def submit_variants(self, requests: list[GenerationRequest], route: Route | Callable[[], Route],
                        page: str) -> list[Job]:
        """Jobs for requests that differ only in `variant` (`compare`). Those to generate go to the
        routed provider together, as one request for n images where it takes `n`
        (`Provider.variants_per_request`), each image committed under its own variant's key; the
        others are the jobs `submit` makes. Cache, limiter, retries and `max_new` as for any job."""
        jobs: dict[str, Job] = {}
        batch: list[GenerationRequest] = []
        chosen: Route | None = None
        with self._lock:
            for request in requests:
                job = self.jobs.get(request.cache_key)
                if job is None or self._stale(job, request, route):
                    entry = self.cache.lookup(request, self.settings.fmt)
                    if entry.rendition is None:
                        self._tell(entry.problem)
                    step = self._step(entry, route, fetch=request.cache_key)
                    if step.kind == "generate" and step.route is not None and takes_n(step.route, request.model):
                        chosen = step.route
                        batch.append(request)
                        self.new_submitted += 1
                        continue
                    job = self._job(request, entry, step, route)
                    self.jobs[request.cache_key] = job
                jobs[request.cache_key] = job
            if chosen is not None:
                per_request = chosen.provider.variants_per_request(chosen.model)
                for start in range(0, len(batch), per_request):
                    for job in self._batch_jobs(batch[start:start + per_request], chosen):
                        self.jobs[job.key] = jobs[job.key] = job
            for job in jobs.values():
                if page not in job.pages:
                    job.pages.append(page)
        return [jobs[request.cache_key] for request in requests]

    def _batch_jobs(self, requests: list[GenerationRequest], route: Route) -> list[Job]:
        """One pool task asking for every request of `requests` at once; a job (a future) per request."""
        self._prepare(route)
        futures: list[Future[Outcome]] = [Future() for _ in requests[1:]]
        for future in futures:
            future.set_running_or_notify_cancel()

        def work() -> Outcome:
            try:
                outcomes = self._generate_variants(requests, route)
            except BaseException as error:
                for future in futures:
                    future.set_exception(error)
                raise
            for request, future in zip(requests[1:], futures, strict=True):
                future.set_result(outcomes[request.cache_key])
            return outcomes[requests[0].cache_key]

        first = self._pool_submit(work)
        return [Job(request, route, future) for request, future in zip(requests, [first, *futures], strict=True)]

    def _generate_variants(self, requests: list[GenerationRequest], route: Route) -> dict[str, Outcome]:
        """Pay for several variants in one request, under every key's lock; commit each as it is checked."""
        outcomes: dict[str, Outcome] = {}
        with contextlib.ExitStack() as locks:
            for key in sorted({request.cache_key for request in requests}):
                locks.enter_context(self.cache.lock(key))
            todo = []
            for request in requests:
                original = self.cache.original(request.cache_key)
                if original is None:
                    todo.append(request)
                    continue
                derived = self._derive(request, original, route)  # another build paid for it meanwhile
                outcomes[request.cache_key] = derived.result() if isinstance(derived, Future) else derived
            if not todo:
                return outcomes
            todo = [replace(request, deliver=self.settings.fmt) for request in todo]
            batch = VariantBatch(route.provider, todo)
            try:
                generate_with_retries(
                    todo[0], Route(route.model, batch, route.unauthenticated, route.fallbacks),  # type: ignore[arg-type]
                    retries=self.settings.retries, timeout=self.settings.timeout,
                    limiter=self._limiter(route.provider.name), limiter_for=self._limiter, slots=self._slots,
                    cpu=self._cpu, stop=self.stop_event, log=self.log,
                    accept=functools.partial(self._commit_variants, todo, batch, outcomes))
            except ImagegenError as error:
                for request in todo:
                    outcomes.setdefault(request.cache_key, Outcome(error=error))
            for request in todo:  # not answered by the batch (it fell through to a provider without `n`)
                if request.cache_key not in outcomes:
                    try:
                        outcomes[request.cache_key] = generate_with_retries(
                            request, route, retries=self.settings.retries, timeout=self.settings.timeout,
                            limiter=self._limiter(route.provider.name), limiter_for=self._limiter,
                            slots=self._slots, cpu=self._cpu, stop=self.stop_event, log=self.log,
                            accept=functools.partial(self._commit, request))
                    except ImagegenError as error:
                        outcomes[request.cache_key] = Outcome(error=error)
        return outcomes

    def _commit_variants(self, requests: list[GenerationRequest], batch: VariantBatch, outcomes: dict[str, Outcome],
                         image: ProviderImage, source: SourceImage) -> Outcome:
        """The first image is checked already; each other one is checked, then committed under its own key."""
        outcomes[requests[0].cache_key] = self._commit(requests[0], image, source)
        if image is not batch.first:  # a fallback provider answered for the first request only
            return outcomes[requests[0].cache_key]
        for request, extra in zip(requests[1:], batch.rest, strict=False):
            try:
                checked = load_source(extra.data, provider=extra.provider, model=request.model)
            except ImagegenError as error:
                outcomes[request.cache_key] = Outcome(error=error)
                continue
            outcomes[request.cache_key] = self._commit(request, extra, checked)
        return outcomes[requests[0].cache_key]

    def _prepare(self, route: Route) -> None:
        """Let the provider import its client library here, on the thread that reads the pages.

        On a worker thread the import competes with page reading for the GIL and takes about twice
        as long, and the first requests cannot go out before it is done.
        """
        provider = route.provider
        for candidate in (provider, *route.fallbacks):  # its limiter is made later, on a worker
            if candidate.max_in_flight:
                self._caps.setdefault(candidate.name, candidate.max_in_flight)
        if provider.name in self._prepared:
            return
        self._prepared.add(provider.name)
        try:
            provider.prepare(route.model)
        except Exception as error:  # noqa: BLE001 - the first request meets it again and reports it per page
            # The type only: a library's own message may quote a credential.
            self.log.debug("imagegen: preparing %s failed (%s)", provider.label, type(error).__name__)

    def _pool_submit(self, work: Callable[[], Outcome], delay: float = 0.0) -> Future[Outcome]:
        if self._pool is None:
            # A thread per request slot, as many again to decode and commit answers while the next
            # requests are already on the wire (self._slots keeps `concurrency` in flight, self._cpu
            # bounds the decoding), and one per core so CPU work never waits for a thread.
            self._pool = WorkerPool(2 * self.settings.concurrency + CORES)
        return self._pool.submit(work, delay=delay)

    def _render_submit(self, work: Callable[[], Outcome]) -> Future[Outcome]:
        if self._renderer is None:
            self._renderer = WorkerPool(min(self.settings.concurrency, CORES), name="imagegen-render")
        return self._renderer.submit(work)

    # -- working (on pool threads) ---------------------------------------------------------------

    def _derive(self, request: GenerationRequest, original: Original,
                route: Route | Callable[[], Route]) -> Outcome | Future[Outcome]:
        try:
            rendition = self._cpu.run(lambda: self.cache.rendition(original, request.size, self.settings.fmt))
        except CacheEntryError as error:
            # A corrupt original (a git-lfs pointer, a bad merge): named once, then it counts as missing
            # for the rest of the build and is generated again, once.
            self.cache.condemn(original)
            with self._lock:
                self._tell(f"{error.message}: generating the banner again")
                job = self._generation_job(request, route)
            return job.future if isinstance(job.future, Future) else job.future.result()
        return Outcome(original, rendition)

    def _from_shared(self, request: GenerationRequest, route: Route | Callable[[], Route]) -> Outcome | Future[Outcome]:
        """A banner the shared cache listed: fetched and checked, else (unusable, gone) generated."""
        assert self.shared is not None
        with self.cache.lock(request.cache_key):
            original = self.cache.original(request.cache_key) or self.shared.fetch(self.cache, request.cache_key)
        if original is not None:
            return self._derive(request, original, route)
        with self._lock:
            job = self._generation_job(request, route)
        return job.future if isinstance(job.future, Future) else job.future.result()

    def _generate(self, request: GenerationRequest, route: Route,
                  waiting: Waiting | None = None) -> Outcome | Future[Outcome]:
        """Pay for the image, commit it and derive its rendition from the image already decoded."""
        request = replace(request, deliver=self.settings.fmt)  # the provider may return the published file
        with self.cache.lock(request.cache_key):
            original = self.cache.original(request.cache_key)
            claim = Claim()
            try:
                if original is None and self.shared is not None:  # another machine may have it, or be on it
                    claim = self.shared.claim(self.cache, request.cache_key, waiting)
                    original = claim.original
            except ImagegenError as error:
                return Outcome(error=error)
            if claim.waiting is not None:  # another machine is paying for it: look again soon, on no thread
                later = claim.waiting
                return self._pool_submit(lambda: self._generate(request, route, later), delay=later.delay)
            if original is not None:  # another build paid for it while we waited on the lock
                return self._render_submit(lambda: self._derive(request, original, route))
            try:
                outcome = generate_with_retries(
                    request, route, retries=self.settings.retries, timeout=self.settings.timeout,
                    limiter=self._limiter(route.provider.name), limiter_for=self._limiter, slots=self._slots,
                    cpu=self._cpu, unserved=self._unserved,
                    stop=self.stop_event, log=self.log,
                    accept=functools.partial(self._commit, request))
                self._share(outcome)
                return outcome
            except ImagegenError as error:
                return Outcome(error=error)
            finally:
                if self.shared is not None:
                    self.shared.release(claim)

    def _commit(self, request: GenerationRequest, image: ProviderImage, source: SourceImage) -> Outcome:
        """The original first (paid for: it must survive whatever happens next), then its rendition."""
        original = self.cache.store_original(request, image, source)
        rendition = self.cache.rendition(original, request.size, self.settings.fmt, source=source)
        return Outcome(original, rendition, generated=True)

    def _share(self, outcome: Outcome) -> None:
        """A banner just paid for and kept locally: now for the fleet too."""
        if self.shared is not None and outcome.original is not None:
            self.shared.publish(self.cache, outcome.original)

    def commit_result(self, request: GenerationRequest, image: ProviderImage) -> Outcome:
        """An image paid for outside this pipeline (a batch job's result): checked, committed and shared as one
        of its own. A banner cached meanwhile is kept; ImagegenError if the image is not usable."""
        source = load_source(image.data, provider=image.provider, model=request.model)
        with self.cache.lock(request.cache_key):
            original = self.cache.original(request.cache_key)
            if original is not None:  # made meanwhile (wait_for_batch: false)
                return Outcome(original)
            outcome = self._commit(request, image, source)
        self._share(outcome)
        return outcome

    def _limiter(self, provider: str) -> AdaptiveLimiter:
        with self._limiters_lock:
            if provider not in self._limiters:
                ceiling = min(self.settings.concurrency, self._caps.get(provider, self.settings.concurrency))
                self._limiters[provider] = AdaptiveLimiter(ceiling, self.stop_event)
            return self._limiters[provider]

    # -- waiting ---------------------------------------------------------------------------------

    def wait(self, jobs: list[Job], on_progress: Callable[[int, int], None] | None = None,
             interval: float = 5.0) -> None:
        """Block until every job is done, calling on_progress(done, total) every `interval` seconds."""
        total = len(jobs)
        pending = {job.future for job in jobs if isinstance(job.future, Future)}
        while pending:
            _, pending = futures_wait(pending, timeout=interval)
            if pending and on_progress:
                on_progress(total - len(pending), total)

    def close(self) -> None:
        self.stop_event.set()
        for pool in (self._pool, self._renderer):
            if pool is not None:
                pool.shutdown()
        self._cpu.shutdown()
