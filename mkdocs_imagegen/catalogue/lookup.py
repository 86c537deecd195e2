"""The model catalogue: which models exist, who serves them, what sizes they take, what they cost.

The facts live in `catalogue.json` (each with the source it came from and the day it was
checked), so models, retirements and prices change without touching code. A `models:` block
in mkdocs.yml adds or overrides entries with the same schema.

A name is looked up in this order: a catalogue model; a built-in nickname (`nano-banana-2`);
a retired name, which is sent as its documented successor; a name a model family claims by
pattern (`gpt-image-*`), which is sent as written, with the family's size rules and no price, unless
it is a typo of a known name (`near_misses`), which is refused with "did you mean".

A model's life: live; deprecated (the provider announced its end, no date: still sent as written,
builds name its successor); retired on its shutdown day (sent as its successor, its banners kept);
or shut down at one provider only (sent there as its successor, elsewhere as written).
"""

from __future__ import annotations

import copy
import datetime as dt
import difflib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import replace
from fnmatch import fnmatchcase
from functools import lru_cache
from importlib import resources
from typing import Any

from mkdocs_imagegen.catalogue.entries import (  # noqa: F401 - the catalogue's types are used from here too
    GEMINI_1K_PIXELS,
    GEMINI_TIER_SCALE,
    PRICE_KINDS,
    SIZE_KINDS,
    Family,
    ModelInfo,
    Resolution,
    Retirement,
    SizeRule,
    ratio_value,
)
from mkdocs_imagegen.catalogue.schema import mapping_at, merged_entry, parse_family, parse_model, parse_retirement
from mkdocs_imagegen.defaults import FORMER_DEFAULTS
from mkdocs_imagegen.errors import CatalogueError


class Catalogue:
    def __init__(self, families: dict[str, Family], models: dict[str, ModelInfo],
                 retired: dict[str, Retirement], *, today: dt.date | None = None) -> None:
        self.families = families
        self.models = dict(models)
        self.retired = dict(retired)
        self.today = today or dt.date.today()
        self._nicknames = {nick: info.name for info in models.values() for nick in info.nicknames}
        for info in models.values():  # an announced shutdown that has passed is a retirement like any other
            if not info.retires_by(self.today):
                continue
            still = tuple(p for p in info.providers if info.shutdown_at and p not in info.shutdown_at)
            if still:  # shut down at some providers only: the others keep serving it under its own name
                self.models[info.name] = replace(info, providers=still)
            else:
                self.retired.setdefault(info.name, Retirement(info.name, info.successor or "", info.shutdown or "",
                                                              info.source, info.checked))
        self._former: dict[str, list[str]] = {}
        for info in models.values():
            self._former.setdefault(info.name, []).extend(info.formerly)
        for name in self.retired:
            final = self._follow(name)
            if final is not None:
                self._former.setdefault(final.name, []).append(name)

    # -- building --------------------------------------------------------------------------------

    @classmethod
    def from_data(cls, data: Mapping[str, Any], *, today: dt.date | None = None) -> Catalogue:
        def section(key: str) -> Mapping[str, Any]:
            return mapping_at(data, key, "catalogue")

        families = {name: parse_family(name, raw) for name, raw in section("families").items()}
        models = {name: parse_model(name, raw, families) for name, raw in section("models").items()}
        retired = {name: parse_retirement(name, raw) for name, raw in section("retired").items()}
        return cls(families, models, retired, today=today)

    # -- looking up ------------------------------------------------------------------------------

    def lookup(self, name: str) -> Resolution | None:
        """What `name` means, or None when nothing knows it."""
        name = name.strip()
        canonical = self._nicknames.get(name, name)
        if canonical in self.retired:
            successor = self._follow(canonical)
            return Resolution(successor, name, self.retired[canonical]) if successor else None
        if canonical in self.models:
            return Resolution(self.models[canonical], name)
        family = self.family_of(name)
        if family is not None and not self.near_misses(name):
            return Resolution(parse_model(name, {"family": family.name}, self.families, known=False), name)
        return None

    def near_misses(self, name: str) -> list[str]:
        """Known names `name` is a typo of: at most NEAR_EDITS letters apart, with the same version numbers
        (`gpt-image-3` is a new model, not a typo of `gpt-image-2`)."""
        numbers = _NUMBERS.findall(name)
        return [known for known in sorted({*self.models, *self._nicknames, *self.retired})
                if _NUMBERS.findall(known) == numbers and edit_distance(name, known, NEAR_EDITS) <= NEAR_EDITS]

    def _follow(self, name: str) -> ModelInfo | None:
        """The live entry a retired name leads to, through successors of successors."""
        seen: set[str] = set()
        while name in self.retired and name not in seen:
            seen.add(name)
            name = self.retired[name].successor
        info = self.models.get(name)
        return info if info is not None and name not in self.retired else None

    def family_of(self, name: str) -> Family | None:
        for family in self.families.values():
            if any(fnmatchcase(name, pattern) for pattern in family.patterns):
                return family
        return None

    def canonical(self, name: str) -> str | None:
        """The name to send for a model name (retired names give their successor), or None if unknown."""
        found = self.lookup(name)
        return found.name if found else None

    def get(self, name: str) -> ModelInfo | None:
        found = self.lookup(name)
        return found.info if found else None

    def former_names(self, model: str) -> tuple[str, ...]:
        """Names whose cached banners are this model's: retired names it succeeds, and its old names."""
        return tuple(self._former.get(model, ()))

    def former_names_for(self, found: Resolution, *, default: bool = False) -> tuple[str, ...]:
        """The former names a page's banner may be cached under. A page that wrote a retired name looks only
        along its own chain of successors (two retired names that lead to one model are two images); one that
        wrote the current name or a nickname looks under every former name. A page that got the plugin's
        default (`default`: no `banner_model`, no `model:` option) also looks under every former default and
        their former names, newest first: a new default never repaints a site."""
        if found.retired is not None:
            chain, name = [found.retired.name], found.retired.name
            while name in self.retired:
                name = self.retired[name].successor
                if name in chain or name not in self.retired:
                    break
                chain.append(name)
            return tuple(chain)
        names = list(self.former_names(found.name))
        if default:
            for model, _release in FORMER_DEFAULTS:
                names += [model, *self.former_names(model)]
        return tuple(dict.fromkeys(name for name in names if name != found.name))

    def at_provider(self, found: Resolution, provider: str | None) -> Resolution:
        """What is sent when `provider` is forced: a model shut down there only (gpt-image-1 at OpenAI) is sent
        as its successor, like a retired name; anything else as `found` says."""
        info = found.info
        if not provider or not info.successor or not info.shut_at(provider, self.today):
            return found
        successor = self.lookup(info.successor)
        if successor is None:
            return found
        retired = found.retired or Retirement(info.name, info.successor, info.shutdown or "", info.source, info.checked)
        return Resolution(successor.info, found.written, retired)

    def deprecated(self, name: str) -> ModelInfo | None:
        """The entry of `name` if it is deprecated today (still sent as written, with a note), else None."""
        info = self.models.get(name)
        return info if info is not None and info.deprecated_by(self.today) else None

    def models_for(self, provider: str) -> list[str]:
        return [name for name, info in self.models.items() if provider in info.providers]

    def live(self, provider: str) -> list[ModelInfo]:
        """The entries `provider` serves today: not retired, not past an announced shutdown."""
        return [info for info in self.models.values() if provider in info.providers and info.name not in self.retired]

    def names(self) -> list[str]:
        return sorted(self.models)

    def suggestions(self, name: str, extra: Iterable[str] = ()) -> list[str]:
        """Near misses for an unknown name: a different case first, then typos, then close spellings."""
        known = sorted({*self.models, *self._nicknames, *extra})
        folded = [known_name for known_name in known if known_name.lower() == name.strip().lower()]
        typos = [near for near in self.near_misses(name.strip()) if near in known]
        close = difflib.get_close_matches(name.strip().lower(), [k.lower() for k in known], n=3, cutoff=0.75)
        by_lower = {k.lower(): k for k in known}
        return list(dict.fromkeys([*folded, *typos, *(by_lower[c] for c in close)]))[:3]

    # -- overriding ------------------------------------------------------------------------------

    def with_entries(self, data: Mapping[str, Any], raw: Mapping[str, Any]) -> Catalogue:
        """A catalogue whose models are this one's raw data with `data` entries declared or merged on top."""
        merged = copy.deepcopy(dict(raw))
        models = merged.setdefault("models", {})
        for name, entry in data.items():
            if not isinstance(entry, Mapping):
                raise CatalogueError(f"models.{name}: expected a mapping of catalogue fields, got {entry!r}")
            models[name] = merged_entry(dict(models.get(name) or {}), dict(entry), self.family_of(name))
            merged.get("retired", {}).pop(name, None)  # a declared model is live, whatever the packaged data says
        try:
            return Catalogue.from_data(merged, today=self.today)
        except CatalogueError as error:
            raise CatalogueError(f"plugin option 'models': {error.message}") from None


NEAR_EDITS = 2  # letters added, dropped, changed or swapped that still make a typo of a known name
_NUMBERS = re.compile(r"\d+")


def edit_distance(a: str, b: str, cap: int) -> int:
    """Letters added, dropped, changed or swapped (optimal string alignment) between `a` and `b`, counted up
    to `cap` + 1 (a bigger distance is not needed, and is not worked out)."""
    if abs(len(a) - len(b)) > cap:
        return cap + 1
    before: list[int] | None = None
    previous = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        row = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = a[i - 1] != b[j - 1]
            row[j] = min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + cost)
            if before is not None and i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                row[j] = min(row[j], before[j - 2] + 1)
        if min(row) > cap:
            return cap + 1
        before, previous = previous, row
    return min(previous[-1], cap + 1)


@lru_cache(maxsize=1)
def packaged_data() -> dict[str, Any]:
    text = resources.files(__package__).joinpath("catalogue.json").read_text(encoding="utf-8")
    return json.loads(text)


@lru_cache(maxsize=1)
def default_catalogue() -> Catalogue:
    return Catalogue.from_data(packaged_data())


def catalogue_with(models: Mapping[str, Any] | None) -> Catalogue:
    """The packaged catalogue, with a `models:` block from mkdocs.yml on top (if any)."""
    if not models:
        return default_catalogue()
    return default_catalogue().with_entries(models, packaged_data())
