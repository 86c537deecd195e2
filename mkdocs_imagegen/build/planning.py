"""What a build (or `compare`) would do for each banner, and what it would cost, without sending anything.

Each row comes from `pipeline.next_step`, the decision the pipeline itself makes for a job, so
`plan`, `compare` and a build never disagree about what is cached, what is generated and what
becomes a placeholder.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mkdocs_imagegen.build.batches import batch_estimate
from mkdocs_imagegen.build.steps import next_step

if TYPE_CHECKING:
    from mkdocs_imagegen.build.session import BannerSession
    from mkdocs_imagegen.build.settings import Settings
    from mkdocs_imagegen.cache.entries import Entry
    from mkdocs_imagegen.pages.frontmatter import BannerSpec
    from mkdocs_imagegen.providers.registry import Route
    from mkdocs_imagegen.request import GenerationRequest


@dataclass
class PlannedBanner:
    """What a build would do for one page: `plan` gives one per page with a banner, in page order."""

    src: str
    request: GenerationRequest
    status: str  # generate | cached | placeholder | skipped
    provider: str
    estimate: float | None = None
    reason: str | None = None
    batch_estimate: float | None = None  # the same image through the provider's batch API (`backfill --batch`)

    def as_json(self) -> dict[str, Any]:
        request = self.request
        return {"page": self.src, "status": self.status, "model": request.model, "provider": self.provider,
                "size": str(request.size), "quality": request.quality, "variant": request.variant,
                "cache_key": request.cache_key, "estimated_cost_usd": self.estimate, "reason": self.reason,
                "style": request.style or None,
                "references": [{"path": reference.path, "sha256": reference.digest}
                               for reference in request.references],
                "batch_estimated_cost_usd": self.batch_estimate}


def placeholder_reason(route: Route, settings: Settings) -> str:
    if route.batch:
        return f"pending in batch job {route.batch}: not sent again; `backfill --collect` stores it when done"
    if route.unauthenticated:
        hints = "; ".join(f"{p.name}: {p.auth_hint()}" for p in route.unauthenticated)
        return (f"no provider serving {route.model} is authenticated ({hints})"
                " (see docs: troubleshooting#no-credentials)")
    if settings.offline:
        return "offline: true in mkdocs.yml, so no provider is called"
    return "banner_provider: placeholder"


def plan_banners(session: BannerSession, specs: Iterable[tuple[str, BannerSpec]]) -> list[PlannedBanner]:
    """What a build would do for each (page, spec), in order; nothing is sent, nothing written."""
    settings = session.settings
    planned: list[PlannedBanner] = []
    first_for_key: dict[str, PlannedBanner] = {}
    new = 0
    for src, spec in specs:
        request = session.request(spec, src)
        entry = session.cache.lookup(request, settings.fmt)  # what a build finds, the way it finds it
        first = first_for_key.get(request.cache_key)
        if first is not None and first.status == "generate":  # the pipeline's one job per key
            row = PlannedBanner(src, request, "generate", first.provider,
                                0.0 if first.estimate is not None else None, f"same banner as {first.src}, made once")
        else:
            row = _planned(session, src, spec, request, entry, new)
            new += row.status == "generate"
        if entry.problem is not None and not entry.cached:  # a build warns about it, then treats it as missing
            row.reason = entry.problem if row.reason is None else f"{entry.problem}; {row.reason}"
        first_for_key.setdefault(request.cache_key, row)
        planned.append(row)
    return planned


def _planned(session: BannerSession, src: str, spec: BannerSpec, request: GenerationRequest, entry: Entry,
             new: int) -> PlannedBanner:
    """The row for the first page of a banner: the step a build would take (`next_step`), shown."""
    shared = session.pipeline.shared  # a build fetches what the fleet's store has: never planned as new
    step = next_step(entry, lambda: session.route(spec, request, src), new=new, max_new=session.settings.max_new,
                     shared=(lambda: shared.listed(request.cache_key)) if shared is not None else None)
    if step.kind in ("cached", "derive"):  # as in a build: a cached banner is not routed, needs no credentials
        original = entry.original or session.cache.original(entry.key)  # only to name its provider
        return PlannedBanner(src, request, "cached", str(original.provenance.get("provider", "")) if original else "")
    if step.kind == "fetch":
        return PlannedBanner(src, request, "cached", "shared store",
                             reason="in the shared store (cache_url): fetched, not generated")
    return _row(session, src, request, step.kind, step.route)


def _row(session: BannerSession, src: str, request: GenerationRequest, kind: str, route: Route | None) -> PlannedBanner:
    assert route is not None
    if kind == "placeholder":
        return PlannedBanner(src, request, "placeholder", "placeholder",
                             reason=placeholder_reason(route, session.settings))
    if kind == "skipped":
        return PlannedBanner(src, request, "skipped", route.provider.name,
                             reason=f"max_new ({session.settings.max_new}) reached: a placeholder this build, "
                                    "made by a later one")
    return PlannedBanner(src, request, "generate", route.provider.name, estimate(session, request),
                         batch_estimate=batch_estimate(session.registry.catalogue, request, route.provider))


def estimate(session: BannerSession, request: GenerationRequest) -> float | None:
    """The catalogue's list price of one image for `request`; None when unknown."""
    info = session.registry.catalogue.get(request.model)
    return info.estimate(request.size, request.quality) if info else None


def summary(planned: list[PlannedBanner]) -> dict[str, Any]:
    counts = {status: sum(1 for row in planned if row.status == status)
              for status in ("generate", "cached", "placeholder", "skipped")}
    cost = sum(row.estimate or 0.0 for row in planned if row.status == "generate")
    # Through `backfill --batch`: the batch price where the provider has a batch API, else the same price.
    batch = sum((row.estimate or 0.0) if row.batch_estimate is None else row.batch_estimate
                for row in planned if row.status == "generate")
    return {"pages": len(planned), **counts, "estimated_cost_usd": round(cost, 4),
            "batch_estimated_cost_usd": round(batch, 4)}
