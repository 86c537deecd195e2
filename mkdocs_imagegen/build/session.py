"""One build's banners: page -> request -> route -> job -> published file, plus what to tell the user.

The plugin (MkDocs events) and the CLI (`plan`, `prune`) share this, so both resolve models,
sizes and routes the same way.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from mkdocs_imagegen.build.batches import BatchLedger, BatchRecord, Collected, collect, log_collected
from mkdocs_imagegen.build.jobs import Job, Outcome, Settled, held_back, queued
from mkdocs_imagegen.build.model_news import ModelNews
from mkdocs_imagegen.build.pipeline import Pipeline
from mkdocs_imagegen.build.settings import Settings
from mkdocs_imagegen.cache.store import CacheStore
from mkdocs_imagegen.catalogue.lookup import Resolution, catalogue_with
from mkdocs_imagegen.errors import ImagegenError, PageError, ReferenceProblem
from mkdocs_imagegen.imaging import FORMAT_SUFFIX, encode, placeholder_image
from mkdocs_imagegen.pages.frontmatter import BannerSpec
from mkdocs_imagegen.pages.references import ReferenceLoader
from mkdocs_imagegen.providers.base import Provider
from mkdocs_imagegen.providers.credentials import Credentials
from mkdocs_imagegen.providers.registry import Registry, Route
from mkdocs_imagegen.request import MAX_PROMPT_CHARS, GenerationRequest, Reference, Size

_Made = TypeVar("_Made", Registry, Pipeline)
PROGRESS_INTERVAL = 5.0
QUIET_PERIOD = 1.0  # seconds an edited prompt must stay unchanged under `mkdocs serve` before it is paid for


@dataclass
class Published:
    uri: str  # where the banner lands, relative to site_dir
    size: Size
    path: Path | None = None  # a cached rendition...
    content: bytes | None = None  # ...or an in-memory placeholder
    placeholder: bool = False


@dataclass
class PageBanner:
    src: str
    spec: BannerSpec
    request: GenerationRequest
    route: Route | None = None  # None while no provider was needed: the cache has the banner
    job: Job | None = None
    published: Published | None = None




class BannerSession:
    started_generating = False  # said "generating new banners" in this build (set on the instance)

    def __init__(self, settings: Settings, *, registry: Registry | None = None,
                 credentials: Credentials | None = None, pipeline: Pipeline | None = None,
                 log: logging.Logger | None = None, given_references: ReferenceLoader | None = None) -> None:
        self.settings = settings
        self.log = log or logging.getLogger("mkdocs.plugins.imagegen")
        self._owned: list[Registry | Pipeline] = []  # what this session made, so closes (a caller's own it keeps)
        self.registry = registry or self._own(make_registry(settings, credentials))
        self.pipeline = pipeline or self._own(Pipeline(CacheStore(settings.cache_dir), settings.pipeline_settings(),
                                                       log=self.log))
        self.cache = self.pipeline.cache
        self.pipeline.new_build()  # a session is one build: what is cached now, max_new counted afresh
        self.banners: list[PageBanner] = []
        # Asked once per model in a build: aliases, the catalogue and credentials do not change meanwhile.
        self._models: dict[tuple[str, str | None], Resolution] = {}  # (name, forced provider) -> checked model
        self.news = ModelNews(self.registry.catalogue, self.registry.label, self.log)
        self._routes: dict[tuple[str, str | None], Route | ImagegenError] = {}
        self._placeholders: dict[str, bytes] = {}
        self.references = ReferenceLoader(settings.docs_dir, self.log)
        self.given_references = given_references  # where a request's own references are read, if not docs_dir
        self._batch_pending: dict[str, BatchRecord] | None = None  # cache key -> its recorded batch job (batches.py)
        self._batch_waiting: dict[str, set[str]] = {}  # job name -> pages given a placeholder while it runs

    # -- planning --------------------------------------------------------------------------------

    def request(self, spec: BannerSpec, src: str, *, checked: bool = True) -> GenerationRequest:
        """The page's generation request (and so its cache key), with plugin defaults applied.

        Checks what needs no credentials (the model is known; a forced provider, or one in `order`,
        serves it) and raises PageError naming the page and the key. With `checked=False` only the
        model is resolved: routing never changes the key.
        """
        name = spec.model or self.settings.model
        found = self._models.get((name, spec.provider)) if checked else None
        if found is None:
            try:
                found = self.registry.lookup(name, spec.provider)
            except ImagegenError as error:
                raise PageError(src, f"front matter key '{_model_key(spec)}'", error) from None
            found = self.registry.catalogue.at_provider(found, spec.provider)  # shut down there: its successor
            if checked:
                try:
                    self.registry.check(found.name, spec.provider)
                except ImagegenError as error:
                    raise PageError(src, f"front matter key '{_route_key(spec)}'", error) from None
                self._models[(name, spec.provider)] = found
        quality = spec.quality or self.settings.quality
        if not found.info.takes_quality(quality):
            key = "banner_quality" if spec.quality else "quality (plugin option)"
            raise PageError(src, f"front matter key '{key}'", f"model {found.name!r} does not take quality "
                            f"{quality!r}; it takes {', '.join(found.info.qualities)}")
        if checked:
            self.news.note(found, src, spec.size or self.settings.size)
        style = self.settings.style if spec.style is None else spec.style
        if style and len(spec.prompt) + len(style) + 2 > MAX_PROMPT_CHARS:
            key = "banner_style" if spec.style is not None else "style (plugin option)"
            raise PageError(src, f"front matter key '{key}'", "banner_prompt and the style text make "
                            f"{len(spec.prompt) + len(style) + 2:,} characters; providers take at most "
                            f"{MAX_PROMPT_CHARS:,}")
        request = GenerationRequest(
            prompt=spec.prompt,
            model=found.name,
            size=spec.size or self.settings.size,
            quality=quality,
            variant=spec.variant,
            style=style,
            references=self._references(spec, src, found),
            # A page given the plugin's default keeps a banner made under a former default: no repainting.
            former_models=self.registry.catalogue.former_names_for(
                found, default=not spec.model and self.settings.model_from_default),
        )
        return request.stored_under(self.cache.key_for(request)) if request.former_models else request

    def _references(self, spec: BannerSpec, src: str, found: Resolution) -> tuple[Reference, ...]:
        """The page's own references, else the house ones, checked against the model and read (once a build)."""
        own = spec.references is not None
        written = spec.references if spec.references is not None else self.settings.style_reference
        if not written:
            return ()
        where = ("front matter key 'banner_reference'" if own
                 else "plugin option 'style_reference' (the page sets no banner_reference)")
        rule = found.info.references
        if not rule.takes_references:
            takers = [name for name in self.registry.catalogue.names() if
                      (info := self.registry.catalogue.get(name)) and info.references.takes_references]
            drop = "" if own else "; set banner_reference: [] on this page to send none"
            raise PageError(src, where, f"model {found.name!r} takes no reference images{drop}; "
                            f"models that do: {', '.join(takers[:6])} (see docs: troubleshooting#reference-refused)")
        if len(written) > rule.max_images:
            raise PageError(src, where, f"names {len(written)} images; model {found.name!r} takes at most "
                            f"{rule.max_images} (see docs: troubleshooting#reference-refused)")
        try:
            if own and self.given_references is not None:  # `generate --reference`: paths of the caller's
                return self.given_references.load(written, rule)
            return self.references.load(written, rule, page=src if own else None)
        except ReferenceProblem as problem:
            raise PageError(src, where, f"{problem} (see docs: troubleshooting#reference-refused)") from None

    def plan(self, spec: BannerSpec, src: str) -> PageBanner:
        """The request and route for one page, without submitting anything."""
        request = self.request(spec, src)
        return PageBanner(src, spec, request, self.route(spec, request, src))

    def route(self, spec: BannerSpec, request: GenerationRequest, src: str) -> Route:
        """Where `request` would be generated; PageError if the forced provider has no credentials."""
        model = request.model
        try:
            route = self._route(model, spec.provider)
        except ImagegenError as error:
            raise PageError(src, f"front matter key '{_route_key(spec)}'", error) from None
        if (self.settings.offline or self.settings.serve_mode == "cached") and not route.is_placeholder:
            route = Route(model, self.registry.placeholder)
        if self.settings.wait_for_batch and not route.is_placeholder:
            record = self.pending_batches().get(request.cache_key)
            if record is not None:  # paid for in a batch job already: never requested twice
                self._batch_waiting.setdefault(record.job, set()).add(src)
                route = Route(model, self.registry.placeholder, batch=record.job)
        return route

    def pending_batches(self) -> dict[str, BatchRecord]:
        """Cache key -> the recorded batch job it is pending in (read once per build, no request)."""
        if self._batch_pending is None:
            self._batch_pending = BatchLedger(self.cache).pending()
        return self._batch_pending

    def collect_batches(self, on_progress: Callable[[str], None] | None = None, *, log: bool = True) -> Collected:
        """Store the results of recorded batch jobs that have finished (one request per recorded job)."""
        found = collect(self.pipeline, self.registry, offline=self.settings.offline, on_progress=on_progress)
        if log:
            log_collected(found, self.log)
        self._batch_pending = None
        return found

    def _route(self, model: str, forced: str | None) -> Route:
        """The registry's route for `model`, remembered for the rest of the build."""
        known = self._routes.get((model, forced))
        if known is None:
            try:
                known = self.registry.route(model, forced)
            except ImagegenError as error:
                known = error
            self._routes[(model, forced)] = known
        if isinstance(known, ImagegenError):
            raise known
        return known

    def add(self, spec: BannerSpec, src: str, *, quiet: float = 0.0) -> PageBanner:
        """Submit the page's banner. A page is routed (and its forced provider's credentials checked)
        only if the cache cannot answer, and then always with its own route, whichever page came first."""
        request = self.request(spec, src)
        banner = PageBanner(src, spec, request)
        if self.settings.serve_mode == "placeholders":  # no provider is ever called
            banner.job = Job(request, None, Settled(Outcome()), [src], kind="placeholder")
        else:
            banner.job = self.pipeline.submit(request, lambda: self.route(spec, request, src), src, quiet=quiet)
            if banner.job.route is not None:  # not a cache hit
                banner.route = self.route(spec, request, src)
            if banner.job.kind == "generate" and not banner.job.reported and not self.started_generating:
                self._announce_start(banner.job)
        self.banners.append(banner)
        return banner

    def _announce_start(self, job: Job) -> None:
        """Said as the build's first generation is sent, so its retry lines never come first."""
        self.started_generating = True
        assert job.route is not None
        where = "in the background" if self.background else "now"
        cap = job.route.provider.max_in_flight
        at = f"{job.route.provider.name}, which takes {cap} at a time" if cap else job.route.provider.name
        self.log.info("imagegen: generating new banners %s, %d at a time, starting with %s via %s (%s); "
                      "the count follows once every page is read", where, self.settings.concurrency,
                      job.request.model, at, ", ".join(job.pages))

    @property
    def background(self) -> bool:
        """Under `mkdocs serve`, new banners are generated without holding the build up."""
        return self.settings.serve_mode == "background"

    # -- finishing -------------------------------------------------------------------------------

    def finish(self, titles: dict[str, str]) -> None:
        """Wait for every job, publish every banner, and say what happened."""
        jobs = list({banner.job.key: banner.job for banner in self.banners if banner.job}.values())
        started = time.monotonic()
        self._announce(jobs)
        waited = [job for job in jobs if not self._runs_in_background(job)]
        self.pipeline.wait(waited, self._progress_logger(started, waited), PROGRESS_INTERVAL)
        outcomes = {job.key: job.outcome() if job.done() else Outcome(pending=True) for job in jobs}
        for banner in self.banners:
            assert banner.job is not None
            outcome = outcomes[banner.job.key]
            banner.published = self._publish(banner, outcome, titles.get(banner.src, banner.src))
        self._report(jobs, outcomes, time.monotonic() - started)

    def _runs_in_background(self, job: Job) -> bool:
        """Under `serve`, a generation is not waited for, unless its original already landed and
        only the rendition is being encoded: the rebuild the cache watcher triggered must show it."""
        if not self.background or job.kind != "generate" or job.done():
            return False
        return self.cache.original(job.key) is None

    def _publish(self, banner: PageBanner, outcome: Outcome, title: str) -> Published:
        size = banner.request.size
        if outcome.rendition is not None:
            return Published(f"{self.settings.output_dir}/{outcome.rendition.name}", size, path=outcome.rendition)
        fmt = self.settings.fmt
        name = hashlib.sha256(f"{banner.request.cache_key}:{title}:{fmt}".encode()).hexdigest()[:20]
        if name not in self._placeholders:
            image = placeholder_image(banner.request.prompt, size, title)
            self._placeholders[name] = encode(image, fmt)
        uri = f"{self.settings.output_dir}/placeholder-{name}.{FORMAT_SUFFIX[fmt]}"
        return Published(uri, size, content=self._placeholders[name], placeholder=True)

    def _announce(self, jobs: list[Job]) -> None:
        # Every generation this build sent, also those already done while pages were read.
        working = [job for job in jobs if job.kind == "generate" and not job.reported]
        if not working:
            return
        routes = Counter(f"{job.request.model} via {job.route.provider.name}" for job in working)
        described = ", ".join(f"{count} × {route}" for route, count in routes.items())
        described += held_back(working)
        where = "in the background; pages reload when they land" if self.background else "now"
        self.log.info("imagegen: generating %d banner(s) %s: %s; %d at a time",
                      len(working), where, described, self.settings.concurrency)

    def _progress_logger(self, started: float, jobs: list[Job]):  # noqa: ANN202 - a callback
        def report(done: int, total: int) -> None:
            elapsed = time.monotonic() - started
            eta = f", about {elapsed / done * (total - done):.0f}s left" if done else ""
            failed = sum(1 for job in jobs if job.done() and job.outcome().error is not None)
            problems = f" ({failed} failed)" if failed else ""
            waiting = queued(jobs, self.settings.concurrency)
            self.log.info("imagegen: %d/%d banners ready%s after %.0fs%s%s", done - failed, total, problems,
                          elapsed, eta, f"; {waiting}" if waiting else "")
        return report

    def _report(self, jobs: list[Job], outcomes: dict[str, Outcome], elapsed: float) -> None:
        self.news.tell(self.log)
        self._warn_unauthenticated()
        counts: Counter[str] = Counter()
        cost = 0.0
        for job in jobs:
            outcome = outcomes[job.key]
            pages = ", ".join(job.pages)
            if outcome.pending:
                counts["pending"] += 1
            elif outcome.error is not None:
                counts["failed"] += 1
                if not job.reported:
                    self.log.warning("imagegen: %s: banner not generated: %s; using a placeholder"
                                     " (see docs: troubleshooting#strict-mode)", pages,
                                     outcome.error)
            elif outcome.generated and not job.reported:
                counts["generated"] += 1
                info = self.registry.catalogue.get(job.request.model)
                price = info.estimate(job.request.size, job.request.quality) if info else None
                cost += price or 0.0
                counts["unpriced"] += price is None
            elif outcome.rendition is not None:
                counts["cached"] += 1
            elif job.kind == "skipped":
                counts["skipped"] += 1
            else:
                counts["placeholder"] += 1
            job.reported = job.reported or not outcome.pending
        if counts["skipped"]:
            self.log.warning("imagegen: max_new (%d) reached: %d banner(s) not generated in this build, "
                             "placeholders used; the next build continues"
                             " (see docs: troubleshooting#max-new)", self.settings.max_new or 0,
                             counts["skipped"])
        if self.settings.offline and counts["placeholder"]:
            self.log.warning("imagegen: offline: %d banner(s) missing from the cache; placeholders used"
                             " (see docs: troubleshooting#offline)",
                             counts["placeholder"])
        self._tell_batch_waiting()
        if jobs:
            pending = f", {counts['pending']} generating" if counts["pending"] else ""
            self.log.info(
                "imagegen: %d banner(s): %d generated, %d cached, %d failed, %d placeholder(s)%s; "
                "estimated cost $%.2f%s; %.1fs", len(jobs), counts["generated"], counts["cached"],
                counts["failed"], counts["placeholder"] + counts["skipped"], pending, cost,
                f" (price unknown for {counts['unpriced']})" if counts["unpriced"] else "", elapsed)

    def _tell_batch_waiting(self) -> None:
        """One info line naming the batch jobs whose banners got placeholders instead of requests."""
        if not self._batch_waiting:
            return
        pages = sum(len(srcs) for srcs in self._batch_waiting.values())
        self.log.warning("imagegen: %d page(s) wait for batch job %s: placeholders used, nothing sent for them; "
                         "`mkdocs-imagegen backfill --collect` or a later build stores the results "
                         "(wait_for_batch: false generates them now; see docs: troubleshooting#batch-waiting)",
                         pages, ", ".join(sorted(self._batch_waiting)))
        self._batch_waiting = {}

    def _warn_unauthenticated(self) -> None:
        """One warning per provider that would have served a page (the first in `order` serving its model;
        each page counted once), with its fix, and the fixes of the others that serve those models."""
        by_provider: dict[str, tuple[Provider, list[PageBanner], dict[str, Provider]]] = {}
        for banner in self.banners:
            candidates = banner.route.unauthenticated if banner.route else ()
            if not candidates or banner.published is None or not banner.published.placeholder:
                continue  # served from the cache (credentials were not needed), or not for want of them
            _, banners, others = by_provider.setdefault(candidates[0].name, (candidates[0], [], {}))
            banners.append(banner)
            others.update((other.name, other) for other in candidates[1:] if other.name != candidates[0].name)
        for provider, banners, others in by_provider.values():
            models = ", ".join(sorted({b.request.model for b in banners}))
            also = "".join(f"; or authenticate {other.label}: {other.auth_hint()}" for other in others.values())
            self.log.warning(
                "imagegen: %s is not authenticated, so %d page(s) using %s got a placeholder banner: %s%s"
                " (see docs: troubleshooting#no-credentials)",
                provider.label, len(banners), models, provider.auth_hint(), also)

    def _own(self, made: _Made) -> _Made:
        self._owned.append(made)
        return made

    def close(self) -> None:
        """Close the pipeline (its workers) and the registry (its providers' clients), if this session made them."""
        while self._owned:
            self._owned.pop().close()

    def __enter__(self) -> BannerSession:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def make_registry(settings: Settings, credentials: Credentials | None = None) -> Registry:
    """The registry a build with these settings routes through: its providers, aliases and catalogue."""
    return Registry.from_options(settings.providers, aliases=settings.aliases, credentials=credentials,
                                 catalogue=catalogue_with(settings.models))


def _model_key(spec: BannerSpec) -> str:
    return "banner_model" if spec.model else "model (plugin option)"


def _route_key(spec: BannerSpec) -> str:
    return "banner_provider" if spec.provider else _model_key(spec)

