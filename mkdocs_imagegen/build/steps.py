"""The next step for a banner, decided in one place: the pipeline, `plan` and `compare` all ask `next_step`.

Also the stand-in that asks a provider for several variants of one prompt in one request.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from mkdocs_imagegen.cache.entries import Entry
from mkdocs_imagegen.errors import InvalidImageError
from mkdocs_imagegen.providers.base import Provider, ProviderImage
from mkdocs_imagegen.providers.registry import Route
from mkdocs_imagegen.request import GenerationRequest


@dataclass(frozen=True)
class Step:
    """What a build does for one request: the one decision the pipeline, `plan` and `compare` share."""

    kind: str  # cached | derive | fetch | generate | placeholder | skipped
    route: Route | None = None  # set unless the cache answers
    problem: str | None = None  # why a new banner could not be kept (an unwritable cache): a placeholder


def next_step(entry: Entry, route: Route | Callable[[], Route], *, new: int, max_new: int | None,
              unwritable: Callable[[], str | None] = lambda: None,
              shared: Callable[[], bool] | None = None) -> Step:
    """The step for a request whose cache entry is `entry`, after `new` generations in this build.

    A cached banner (a rendition, or an original to derive one from) is never routed: `route` may
    be a function, called only when the banner has to be made. `shared` says whether the shared
    store (`cache_url`) lists the banner: then it is fetched, not paid for again. `unwritable` is
    asked before anything is paid for (`plan` does not ask: it writes nothing).
    """
    if entry.rendition is not None:
        return Step("cached")
    if entry.original is not None:
        return Step("derive")
    if shared is not None and shared():
        return Step("fetch")
    chosen = route() if callable(route) else route
    if chosen.is_placeholder:
        return Step("placeholder", chosen)
    problem = unwritable()
    if problem is not None:
        return Step("placeholder", chosen, problem)
    if max_new is not None and new >= max_new:
        return Step("skipped", chosen)
    return Step("generate", chosen)


class VariantBatch:
    """A provider stand-in that asks the real one for several variants in one request: the pipeline's
    retries, limiters and fall-through see one request; `first` and `rest` are its images."""

    def __init__(self, provider: Provider, requests: list[GenerationRequest]) -> None:
        self.provider = provider
        self.requests = requests
        self.first: ProviderImage | None = None
        self.rest: list[ProviderImage] = []

    def __getattr__(self, name: str) -> object:
        return getattr(self.provider, name)

    def generate(self, request: GenerationRequest, *, timeout: float) -> ProviderImage:
        self.first, self.rest = None, []
        images = self.provider.generate_variants(self.requests, timeout=timeout)
        if len(images) < len(self.requests):
            raise InvalidImageError(f"returned {len(images)} image(s) for n={len(self.requests)}",
                                    provider=self.provider.name, model=request.model)
        self.first, self.rest = images[0], images[1:len(self.requests)]
        return self.first


def takes_n(route: Route, model: str) -> bool:
    return route.provider.variants_per_request(model) > 1
