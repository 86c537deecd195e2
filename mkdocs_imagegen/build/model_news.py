"""What a build says about the models its pages use: news, never a problem (INFO lines, once per name a build).

Retired names sent as their successor, models shut down at some providers only, names no catalogue entry knows,
and deprecated models: still sent as written, with their successor and what switching would cost.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from mkdocs_imagegen.catalogue.lookup import Catalogue, Resolution
from mkdocs_imagegen.request import Size


class ModelNews:
    """The pages of one build that used a renamed, partly shut down, uncatalogued or deprecated model."""

    def __init__(self, catalogue: Catalogue, label: Callable[[str], str], log: logging.Logger | None = None) -> None:
        self.catalogue = catalogue
        self.label = label  # provider name -> its human name
        self.log = log or logging.getLogger("mkdocs.plugins.imagegen")
        self.renamed: dict[str, tuple[Resolution, list[str]]] = {}  # written name -> (meaning, pages)
        self.deprecated: dict[str, list[str]] = {}  # model sent -> pages
        self.oversize: set[str] = set()  # models already said to make smaller images than a page asks for

    def note(self, found: Resolution, src: str, size: Size | None = None) -> None:
        """Remember that page `src` used `found` (a page is counted once per name); say at once, before anything
        is sent, when the page asks for more pixels than the model makes."""
        if found.retired or not found.info.known or self.shut_somewhere(found):
            _add(self.renamed.setdefault(found.written, (found, []))[1], src)
        if self.catalogue.deprecated(found.name) is not None:
            _add(self.deprecated.setdefault(found.name, []), src)
        if size is not None and found.name not in self.oversize and over_limit(found, size):
            self.oversize.add(found.name)
            rule = found.info.sizes
            self.log.info("imagegen: model %r makes at most %s pixels, each edge %d-%d: %s asks for %s, so it is "
                          "made at the nearest size the model takes and enlarged (so are later pages that ask for "
                          "more)", found.name, f"{rule.max_pixels:,}", rule.min_edge, rule.max_edge, src, size)

    def shut_somewhere(self, found: Resolution) -> bool:
        """Shut down at some providers (OpenAI's gpt-image-1), still served by others under its name."""
        return bool(found.info.shutdown_at) and found.info.retires_by(self.catalogue.today)

    def tell(self, log: logging.Logger) -> None:
        """One info line per name a page used that changed, then one per deprecated model."""
        for written, (found, pages) in self.renamed.items():
            info = found.info
            if found.retired is None and self.shut_somewhere(found):
                labels = ", ".join(self.label(name) for name in info.shutdown_at)
                log.info("imagegen: model %r was shut down at %s on %s (its successor there is %r); it is sent "
                         "to %s only (%s) (see docs: troubleshooting#retired-model)", written, labels, info.shutdown,
                         info.successor, " or ".join(info.providers), pages_text(pages))
            elif found.retired is not None:
                log.info("imagegen: model %r was retired on %s, so its successor %r is sent instead (%s)"
                         " (see docs: troubleshooting#retired-model)",
                         written, found.retired.shutdown, found.name, pages_text(pages))
            else:
                log.info("imagegen: model %r is not in the catalogue, so it is sent as written to %s (the %s "
                         "family), price unknown; a `models:` entry in mkdocs.yml adds its sizes and price (%s)",
                         written, " or ".join(found.info.providers), found.info.family, pages_text(pages))
        for model, pages in self.deprecated.items():
            log.info("imagegen: %s", deprecation_text(self.catalogue, model, self.label, pages))
        self.renamed, self.deprecated = {}, {}


def over_limit(found: Resolution, size: Size) -> bool:
    """A WxH a custom-size model cannot make (more pixels, or a longer edge, than it takes)."""
    rule = found.info.sizes
    return found.info.known and rule.kind == "custom" and (
        size.width * size.height > rule.max_pixels or max(size.width, size.height) > rule.max_edge)


def deprecation_text(catalogue: Catalogue, model: str, label: Callable[[str], str], pages: list[str]) -> str:
    """The build's line about a deprecated model: when, its successor, and what switching costs."""
    info = catalogue.models[model]
    provider = label(info.providers[0]) if info.providers else "its provider"
    ending = f"shutdown announced for {info.shutdown}" if info.shutdown else "no shutdown date yet"
    successor = info.successor or "none named"
    return (f"model {model!r} was deprecated by {provider} on {info.deprecated} ({ending}); it is still sent as "
            f"written for {len(pages)} page(s) ({pages_text(pages)}). Its successor is {successor!r}: writing that "
            "name makes each of these pages a new banner (a new model is a new cache key), so pages that keep this "
            "name keep their banners, and on the shutdown day only pages with no banner yet get the successor")


def pages_text(pages: list[str], shown: int = 3) -> str:
    more = f" and {len(pages) - shown} more" if len(pages) > shown else ""
    return f"{', '.join(pages[:shown])}{more}"


def _add(pages: list[str], src: str) -> None:
    if src not in pages:
        pages.append(src)
