"""`compare`: candidates per page x model x variant, made through a build's own pipeline.

Each candidate is the banner the page would get with `banner_model: M` and `banner_variant: V`, so
it is an ordinary cache entry (original plus provenance) under exactly that key: picking it later
(`pick`) costs nothing. Variants of one model go to a provider that takes `n` as one request.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mkdocs_imagegen.build.jobs import Job, Outcome
from mkdocs_imagegen.build.planning import PlannedBanner, estimate, plan_banners
from mkdocs_imagegen.errors import ConfigError, ImagegenError
from mkdocs_imagegen.pages.frontmatter import BannerSpec
from mkdocs_imagegen.providers.registry import Route
from mkdocs_imagegen.request import GenerationRequest, Size

if TYPE_CHECKING:
    from mkdocs_imagegen.commands.site import Site
    from mkdocs_imagegen.providers.base import Provider, ProviderImage

PROMPT_SRC = "(--prompt)"
TIMES_FILE = "candidates.json"  # in the sheet folder: request times, kept for candidates cached later


@dataclass
class Candidate:
    src: str  # the page's src_uri, or PROMPT_SRC
    page: Path | None  # the page's file (None for --prompt)
    spec: BannerSpec  # the page's spec with the candidate's model and variant
    request: GenerationRequest
    planned: PlannedBanner
    pick_extra: tuple[str, ...] = ()  # --size / --quality for `pick`, when they differ from the page's
    job: Job | None = None
    outcome: Outcome | None = None
    seconds: float | None = None  # how long the provider request took
    provider: str = ""
    error: str | None = None

    @property
    def id(self) -> str:
        return f"{self.request.model}/{self.request.variant}"

    @property
    def cost(self) -> float | None:
        return self.planned.estimate

    @property
    def image(self) -> Path | None:
        return self.outcome.rendition if self.outcome is not None else None

    def pick_command(self, prog: str) -> str | None:
        if self.page is None:
            return None
        return " ".join([prog, "pick", _shell_word(_shown(self.page)), self.id, *self.pick_extra])


def _shown(path: Path) -> str:
    """A path as the user would type it here: relative to the current directory when it is inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _shell_word(text: str) -> str:
    import shlex

    return shlex.quote(text)


@dataclass
class Comparison:
    candidates: list[Candidate]
    times: dict[str, float] = field(default_factory=dict)  # cache key -> request seconds

    @property
    def to_generate(self) -> list[Candidate]:
        return [c for c in self.candidates if c.planned.status == "generate"]

    @property
    def cached(self) -> list[Candidate]:
        return [c for c in self.candidates if c.planned.status == "cached"]

    @property
    def unusable(self) -> list[Candidate]:
        return [c for c in self.candidates if c.planned.status not in ("generate", "cached")]

    @property
    def cost(self) -> float:
        """The estimate `plan` gives for the same requests (planning.summary)."""
        from mkdocs_imagegen.build.planning import summary

        return float(summary([c.planned for c in self.candidates])["estimated_cost_usd"])


def page_specs(site: Site, pages: list[Path], prompt: str | None) -> list[tuple[str, Path | None, BannerSpec]]:
    """The pages to compare (every page with a banner_prompt by default), or the --prompt."""
    if prompt is not None:
        text = prompt.strip()
        if not text:
            raise ConfigError("--prompt must not be empty")
        return [(PROMPT_SRC, None, BannerSpec(prompt=text))]
    by_src = dict(site.specs)
    if not pages:
        return [(src, site.paths.get(src), spec) for src, spec in site.specs]
    chosen = []
    for page in pages:
        src = site.src_of(page) or (str(page) if str(page) in by_src else None)
        if src is None or src not in by_src:
            raise ConfigError(f"{page}: not a page of {site.config_file} with a banner_prompt")
        chosen.append((src, page, by_src[src]))
    return chosen


def plan(site: Site, pages: list[tuple[str, Path | None, BannerSpec]], models: list[str], variants: int,
         size: Size | None, quality: str | None) -> Comparison:
    """Every candidate, planned exactly as a build plans a banner: cached, to generate (and its cost), or not."""
    settings = site.settings
    models = _distinct_models(site, models)
    first: dict[str, tuple[str, Path | None, BannerSpec]] = {}
    for page in pages:  # a page named twice is compared once
        first.setdefault(page[0], page)
    pages = list(first.values())
    rows: list[tuple[str, Path | None, BannerSpec, tuple[str, ...]]] = []
    for src, path, spec in pages:
        extra: list[str] = []
        if site.config_file.resolve() != Path("mkdocs.yml").resolve():
            extra += ["-f", _shell_word(_shown(site.config_file))]
        if size is not None and size != (spec.size or settings.size):
            extra += ["--size", str(size)]
        if quality is not None and quality != (spec.quality or settings.quality):
            extra += ["--quality", quality]
        for model in models:
            for variant in range(spec.variant, spec.variant + variants):
                # Routed by model, as `banner_model` routes a page: a forced provider is the page's own business.
                candidate = replace(spec, model=model, variant=variant, provider=None, size=size or spec.size,
                                    quality=quality or spec.quality)
                rows.append((src, path, candidate, tuple(extra)))
    refused: dict[int, PlannedBanner] = {}
    for index, (src, _, spec, _) in enumerate(rows):
        try:
            site.session.request(spec, src)
        except ImagegenError as error:  # this model cannot make this page's banner (a quality it lacks, say)
            request = GenerationRequest(spec.prompt, spec.model or settings.model, spec.size or settings.size,
                                        spec.quality or settings.quality, spec.variant)
            refused[index] = PlannedBanner(src, request, "refused", "", reason=str(error))
    wanted = [(src, spec) for i, (src, _, spec, _) in enumerate(rows) if i not in refused]
    planned = iter(plan_banners(site.session, wanted))
    candidates = []
    for index, (src, path, spec, extra) in enumerate(rows):
        row = refused.get(index) or next(planned)
        if row.estimate is None and row.status == "cached":
            row.estimate = estimate(site.session, row.request)  # what it cost when it was made, for the sheet
        candidates.append(Candidate(src, path, spec, row.request, row, extra, provider=row.provider))
    return Comparison(candidates)


def _distinct_models(site: Site, models: list[str]) -> list[str]:
    """The models as written, each once: a repeat, or an alias of one already named, would pay twice."""
    kept: dict[str, str] = {}
    for model in models:
        try:
            key = site.session.registry.resolve(model)
        except ImagegenError:
            key = model  # reported per candidate, as a build would
        kept.setdefault(key, model)
    return list(kept.values())


class _Timed:
    """The routed provider, with each request's duration written down per cache key."""

    def __init__(self, provider: Provider, times: dict[str, float]) -> None:
        self._provider = provider
        self._times = times

    def __getattr__(self, name: str) -> Any:
        return getattr(self._provider, name)

    def generate(self, request: GenerationRequest, *, timeout: float) -> ProviderImage:
        started = time.monotonic()
        try:
            return self._provider.generate(request, timeout=timeout)
        finally:
            self._times[request.cache_key] = time.monotonic() - started

    def generate_variants(self, requests: list[GenerationRequest], *, timeout: float) -> list[ProviderImage]:
        started = time.monotonic()
        try:
            return self._provider.generate_variants(requests, timeout=timeout)
        finally:
            for request in requests:
                self._times[request.cache_key] = time.monotonic() - started


def submit(site: Site, comparison: Comparison) -> list[Job]:
    """Every candidate into the pipeline; the variants of one page and model together."""
    session, pipeline = site.session, site.session.pipeline
    groups: dict[tuple[str, str, str, str], list[Candidate]] = {}
    for candidate in comparison.candidates:
        request = candidate.request
        if candidate.planned.status == "refused":
            continue
        groups.setdefault((candidate.src, request.model, str(request.size), request.quality), []).append(candidate)
    jobs: list[Job] = []
    for group in groups.values():
        first = group[0]

        def route(first: Candidate = first) -> Route:
            found = session.route(first.spec, first.request, first.src)
            if found.is_placeholder:
                return found
            return Route(found.model, _Timed(found.provider, comparison.times), found.unauthenticated,  # type: ignore[arg-type]
                         found.fallbacks)

        made = pipeline.submit_variants([c.request for c in group], route, first.src)
        for candidate, job in zip(group, made, strict=True):
            candidate.job = job
            jobs.append(job)
    return jobs


def settle(comparison: Comparison, previous: dict[str, float]) -> None:
    """Each candidate's outcome, provider, request time and, if it failed, why."""
    for candidate in comparison.candidates:
        job = candidate.job
        if job is None:
            outcome = Outcome()
        else:
            outcome = job.outcome() if job.done() else Outcome(error=ImagegenError("not finished"))
        candidate.outcome = outcome
        key = candidate.request.cache_key
        candidate.seconds = comparison.times.get(key, previous.get(key))
        if outcome.original is not None:
            candidate.provider = str(outcome.original.provenance.get("provider", candidate.provider))
        if outcome.rendition is None:
            planned = candidate.planned
            if outcome.error is not None:
                candidate.error = str(outcome.error)
            elif planned.status in ("placeholder", "skipped", "refused"):
                candidate.error = planned.reason or planned.status
            else:
                candidate.error = "no image"



def read_times(folder: Path) -> dict[str, float]:
    """Request times of candidates made by an earlier compare into this folder."""
    try:
        records = json.loads((folder / TIMES_FILE).read_text(encoding="utf-8"))
        return {str(r["cache_key"]): float(r["seconds"]) for r in records.get("candidates", [])
                if isinstance(r, dict) and isinstance(r.get("seconds"), (int, float))}
    except (OSError, ValueError, AttributeError, KeyError, TypeError):
        return {}


def as_json(comparison: Comparison, prog: str) -> dict[str, Any]:
    return {"candidates": [{
        "page": c.src, "id": c.id, "model": c.request.model, "variant": c.request.variant, "provider": c.provider,
        "size": str(c.request.size), "quality": c.request.quality, "cache_key": c.request.cache_key,
        "status": c.planned.status, "seconds": c.seconds, "estimated_cost_usd": c.cost, "error": c.error,
        "image": c.image.name if c.image is not None else None, "pick": c.pick_command(prog),
    } for c in comparison.candidates]}


def progress_printer(echo: Callable[[str], None], total: int, started: float) -> Callable[[int, int], None]:
    def report(done: int, count: int) -> None:
        elapsed = time.monotonic() - started
        eta = f", about {elapsed / done * (count - done):.0f}s left" if done else ""
        echo(f"compare: {done}/{count} candidate(s) ready after {elapsed:.0f}s{eta}")
    return report


class Interrupted(Exception):
    """Ctrl-C during a compare: `kept` of `total` candidates are in the cache."""

    def __init__(self, kept: int, total: int) -> None:
        super().__init__(f"{kept} of {total}")
        self.kept, self.total = kept, total


def run(site: Site, comparison: Comparison, echo: Callable[[str], None], interval: float = 5.0) -> None:
    """Every candidate through the pipeline, with progress lines. On Ctrl-C nothing new is sent, the
    requests in flight finish and are kept (a second Ctrl-C stops at once), no temp file of ours is
    left, and Interrupted says how many candidates are in the cache."""
    import contextlib

    pipeline = site.session.pipeline
    jobs = submit(site, comparison)
    try:
        pipeline.wait(jobs, progress_printer(echo, len(jobs), time.monotonic()), interval)
    except KeyboardInterrupt:
        pipeline.stop_event.set()
        echo("interrupted: sending nothing more; keeping the candidates in flight (Ctrl-C again to stop now)")
        with contextlib.suppress(KeyboardInterrupt):
            pipeline.wait(jobs)
        for path in site.cache.own_temp_files():
            path.unlink(missing_ok=True)
        kept = sum(1 for job in jobs if job.done() and job.outcome().rendition is not None)
        raise Interrupted(kept, len(jobs)) from None
