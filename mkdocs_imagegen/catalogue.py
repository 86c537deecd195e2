"""The model catalogue: which models exist, who serves them, what sizes they take, what they cost.

The facts live in `catalogue.json` (each with the source it came from and the day it was
checked), so models, retirements and prices change without touching code. A `models:` block
in mkdocs.yml adds or overrides entries with the same schema.

A name is looked up in this order: a catalogue model; a built-in nickname (`nano-banana-2`);
a retired name, which is sent as its documented successor; a name a model family claims by
pattern (`gpt-image-*`), which is sent as written, with the family's size rules and no price.
"""

from __future__ import annotations

import copy
import datetime as dt
import difflib
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from fnmatch import fnmatchcase
from functools import lru_cache
from importlib import resources
from typing import Any

from .errors import CatalogueError
from .providers import PROVIDERS
from .request import BASE_QUALITIES, Size

SIZE_KINDS = ("tiers", "custom", "fixed")
PRICE_KINDS = ("quality", "image_size", "flat")
# Pixels of a 1K Gemini image (1376x768 at 16:9); the other tiers scale it by area.
GEMINI_1K_PIXELS = 1376 * 768
GEMINI_TIER_SCALE = {"512": 0.25, "1K": 1.0, "2K": 4.0, "4K": 16.0}




def ratio_value(ratio: str) -> float:
    width, _, height = ratio.partition(":")
    return int(width) / int(height)


@dataclass(frozen=True)
class SizeRule:
    """What sizes a model accepts.

    tiers: an aspect ratio from `aspect_ratios` and an `image_sizes` tier (Gemini);
    custom: any WxH within the limits (gpt-image-2); fixed: one of `fixed` (gpt-image-1.5).
    """

    kind: str = "custom"
    fixed: tuple[Size, ...] = ()
    aspect_ratios: tuple[str, ...] = ()
    image_sizes: tuple[str, ...] = ()
    edge_multiple: int = 16
    min_edge: int = 1
    max_edge: int = 3840
    max_ratio: float = 3.0
    min_pixels: int = 655_360
    max_pixels: int = 8_294_400

    def nearest_ratio(self, size: Size) -> str:
        """The accepted aspect ratio closest to the target (compared in log space)."""
        target = math.log(size.aspect)
        return min(self.aspect_ratios, key=lambda ratio: abs(math.log(ratio_value(ratio)) - target))

    def tier(self, size: Size) -> str | None:
        """The smallest image_size tier whose image, cropped to the target's aspect, covers the target."""
        if not self.image_sizes:
            return None
        ratio = ratio_value(self.nearest_ratio(size))
        for tier in self.image_sizes:
            pixels = GEMINI_1K_PIXELS * GEMINI_TIER_SCALE.get(tier, 1.0)
            width, height = math.sqrt(pixels * ratio), math.sqrt(pixels / ratio)
            if min(width, height * size.aspect) >= size.width * 0.995:
                return tier
        return self.image_sizes[-1]

    def accepts(self, width: int, height: int) -> bool:
        """Whether a custom or fixed rule takes exactly WxH."""
        if self.kind == "fixed":
            return Size(width, height) in self.fixed
        return (
            width > 0 and height > 0
            and width % self.edge_multiple == 0 and height % self.edge_multiple == 0
            and min(width, height) >= self.min_edge and max(width, height) <= self.max_edge
            and max(width, height) / min(width, height) <= self.max_ratio
            and self.min_pixels <= width * height <= self.max_pixels
        )

    def describe(self) -> str:
        if self.kind == "tiers":
            return f"ratios {', '.join(self.aspect_ratios)}; tiers {', '.join(self.image_sizes)}"
        if self.kind == "fixed":
            return ", ".join(str(size) for size in self.fixed)
        short = f", short edge >= {self.min_edge}" if self.min_edge > 1 else ""
        return (f"any WxH: edges multiples of {self.edge_multiple}{short}, long edge <= {self.max_edge}, "
                f"ratio <= {self.max_ratio:g}:1, {self.min_pixels:,}-{self.max_pixels:,} pixels")


@dataclass(frozen=True)
class ModelInfo:
    name: str
    family: str
    providers: tuple[str, ...]
    sizes: SizeRule = field(default_factory=SizeRule)
    qualities: tuple[str, ...] = ("low", "medium", "high", "auto")
    price: dict[str, Any] = field(default_factory=dict)
    nicknames: tuple[str, ...] = ()
    formerly: tuple[str, ...] = ()  # names this entry had before (their cached banners are its own)
    shutdown: str | None = None  # an announced shutdown date (ISO), if any
    shutdown_confirmed: bool = True  # False: announced vaguely; the name is still sent after the date
    shutdown_at: tuple[str, ...] = ()  # the providers whose shutdown it is (empty: every provider)
    successor: str | None = None  # the documented replacement: sent once a confirmed `shutdown` has passed
    api: str | None = None  # a provider-specific route, e.g. "mai" for Foundry's MAI image models
    note: str = ""
    source: str = ""
    checked: str = ""
    known: bool = True  # False: a family claimed a name no entry has

    @property
    def image_sizes(self) -> tuple[str, ...]:
        return self.sizes.image_sizes

    def takes_quality(self, quality: str) -> bool:
        """Every model takes the base qualities (one without a quality setting ignores them); xhigh and max
        only where the catalogue says. A model no entry knows is given the benefit of the doubt."""
        return quality in BASE_QUALITIES or quality in self.qualities or not self.known

    def retires_by(self, day: dt.date) -> bool:
        """Whether a confirmed shutdown has passed by `day`, so the name is sent as its successor."""
        return bool(self.shutdown and self.successor and self.shutdown_confirmed
                    and dt.date.fromisoformat(self.shutdown) <= day)

    def estimate(self, size: Size, quality: str) -> float | None:
        """Approximate USD price of one image, or None when unknown."""
        price = self.price
        by = price.get("by")
        if by == "flat":
            return float(price["price"])
        if by == "image_size":
            tier = self.sizes.tier(size)
            return float(price[tier]) if tier in price else None
        if by == "quality":
            table = price.get("square" if size.width == size.height else "landscape") or price.get("square") or {}
            billed = str(price.get("auto", "medium")) if quality == "auto" else quality
            value = table.get(billed)
            return float(value) if value is not None else None
        return None


@dataclass(frozen=True)
class Retirement:
    name: str
    successor: str
    shutdown: str
    source: str = ""
    checked: str = ""


@dataclass(frozen=True)
class Resolution:
    """What a written model name means: the model to send, and how it got there."""

    info: ModelInfo
    written: str
    retired: Retirement | None = None  # set when `written` is a retired name sent as its successor

    @property
    def name(self) -> str:
        return self.info.name


@dataclass(frozen=True)
class Family:
    name: str
    patterns: tuple[str, ...]
    providers: tuple[str, ...]
    defaults: dict[str, Any]  # entry fields a model of this family inherits


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
        families = {name: _family(name, raw) for name, raw in _mapping(data, "families", "catalogue").items()}
        models = {name: _model(name, raw, families) for name, raw in _mapping(data, "models", "catalogue").items()}
        retired = {name: _retirement(name, raw) for name, raw in _mapping(data, "retired", "catalogue").items()}
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
        if family is not None:
            return Resolution(_model(name, {"family": family.name}, self.families, known=False), name)
        return None

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

    def former_names_for(self, found: Resolution) -> tuple[str, ...]:
        """The former names a page's banner may be cached under. A page that wrote a retired name looks only
        along its own chain of successors (two retired names that lead to one model are two images); one that
        wrote the current name, a nickname or nothing (the default) looks under every former name."""
        if found.retired is None:
            return self.former_names(found.name)
        chain, name = [], found.retired.name
        while name in self.retired and name not in chain:
            chain.append(name)
            name = self.retired[name].successor
        return tuple(chain)

    def models_for(self, provider: str) -> list[str]:
        return [name for name, info in self.models.items() if provider in info.providers]

    def live(self, provider: str) -> list[ModelInfo]:
        """The entries `provider` serves today: not retired, not past an announced shutdown."""
        return [info for info in self.models.values() if provider in info.providers and info.name not in self.retired]

    def names(self) -> list[str]:
        return sorted(self.models)

    def suggestions(self, name: str, extra: Iterable[str] = ()) -> list[str]:
        """Near misses for an unknown name: a different case first, then close spellings."""
        known = sorted({*self.models, *self._nicknames, *extra})
        folded = [known_name for known_name in known if known_name.lower() == name.strip().lower()]
        close = difflib.get_close_matches(name.strip().lower(), [k.lower() for k in known], n=3, cutoff=0.75)
        by_lower = {k.lower(): k for k in known}
        return list(dict.fromkeys([*folded, *(by_lower[c] for c in close)]))

    # -- overriding ------------------------------------------------------------------------------

    def with_entries(self, data: Mapping[str, Any], raw: Mapping[str, Any]) -> Catalogue:
        """A catalogue whose models are this one's raw data with `data` entries declared or merged on top."""
        merged = copy.deepcopy(dict(raw))
        models = merged.setdefault("models", {})
        for name, entry in data.items():
            if not isinstance(entry, Mapping):
                raise CatalogueError(f"models.{name}: expected a mapping of catalogue fields, got {entry!r}")
            models[name] = _merged_entry(dict(models.get(name) or {}), dict(entry), self.family_of(name))
            merged.get("retired", {}).pop(name, None)  # a declared model is live, whatever the packaged data says
        try:
            return Catalogue.from_data(merged, today=self.today)
        except CatalogueError as error:
            raise CatalogueError(f"plugin option 'models': {error.message}") from None


# -- parsing ------------------------------------------------------------------------------------------


RETIREMENT_FIELDS = ("shutdown", "shutdown_confirmed", "shutdown_at", "successor")


def _merged_entry(base: dict[str, Any], entry: dict[str, Any], family: Family | None) -> dict[str, Any]:
    """A `models:` entry over the packaged one: `sizes` and `price` merge field by field (a price with another
    `by` replaces the old one), the rest replaces; an entry that names no shutdown is live again."""
    if not base and "family" not in entry and family is not None:
        base["family"] = family.name
    if "shutdown" not in entry:
        for key in RETIREMENT_FIELDS:
            base.pop(key, None)
    for key in ("sizes", "price"):
        given, packaged = entry.get(key), base.get(key)
        if isinstance(given, Mapping) and isinstance(packaged, Mapping):
            same_kind = key == "sizes" or given.get("by", packaged.get("by")) == packaged.get("by")
            entry[key] = _deep_merge(packaged, given) if same_kind else given
    base.update(entry)
    return base


def _deep_merge(under: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(under)
    for key, value in over.items():
        below = merged.get(key)
        merged[key] = _deep_merge(below, value) if isinstance(below, Mapping) and isinstance(value, Mapping) else value
    return merged


def _mapping(data: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, Mapping):
        raise CatalogueError(f"{where}.{key}: expected a mapping, got {value!r}")
    return value


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str) or not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise CatalogueError(f"{where}: expected a list of names, got {value!r}")
    return tuple(value)


def _family(name: str, raw: Any) -> Family:
    if not isinstance(raw, Mapping):
        raise CatalogueError(f"families.{name}: expected a mapping, got {raw!r}")
    providers = tuple(spec.name for spec in PROVIDERS if name in spec.families)
    defaults = {key: value for key, value in raw.items() if key not in ("patterns", "source", "checked", "note")}
    return Family(name, _strings(raw.get("patterns"), f"families.{name}.patterns"), providers, defaults)


def _model(name: str, raw: Any, families: Mapping[str, Family], *, known: bool = True) -> ModelInfo:
    where = f"models.{name}"
    if not isinstance(raw, Mapping):
        raise CatalogueError(f"{where}: expected a mapping, got {raw!r}")
    family_name = raw.get("family")
    family = families.get(family_name) if isinstance(family_name, str) else None
    if family is None:
        raise CatalogueError(f"{where}.family: expected one of {', '.join(families)}, got {family_name!r}")
    fields = {**family.defaults, **raw}
    inherited = family.defaults.get("sizes")
    if isinstance(inherited, Mapping) and isinstance(raw.get("sizes"), Mapping):  # a partial rule keeps the rest
        fields["sizes"] = _deep_merge(inherited, raw["sizes"])
    providers = _strings(fields.get("providers"), f"{where}.providers") or family.providers
    unknown = [p for p in providers if p not in {spec.name for spec in PROVIDERS}]
    if unknown:
        raise CatalogueError(f"{where}.providers: unknown provider {unknown[0]!r}")
    return ModelInfo(
        name=name, family=family.name, providers=providers,
        sizes=_size_rule(fields.get("sizes") or {}, f"{where}.sizes"),
        qualities=_strings(fields.get("qualities"), f"{where}.qualities") or ("low", "medium", "high", "auto"),
        price=_price(fields.get("price") if known else None, f"{where}.price"),
        nicknames=_strings(raw.get("nicknames"), f"{where}.nicknames"),
        formerly=_strings(raw.get("formerly"), f"{where}.formerly"),
        shutdown=_date(raw.get("shutdown"), f"{where}.shutdown"),
        shutdown_confirmed=raw.get("shutdown_confirmed") is not False,
        shutdown_at=_strings(raw.get("shutdown_at"), f"{where}.shutdown_at"),
        successor=raw.get("successor") if isinstance(raw.get("successor"), str) else None,
        api=fields.get("api") if isinstance(fields.get("api"), str) else None,
        note=str(raw.get("note", "")), source=str(raw.get("source", "")), checked=str(raw.get("checked", "")),
        known=known,
    )


def _size_rule(raw: Any, where: str) -> SizeRule:
    if not isinstance(raw, Mapping):
        raise CatalogueError(f"{where}: expected a mapping with 'kind' ({', '.join(SIZE_KINDS)}), got {raw!r}")
    kind = raw.get("kind", "custom")
    if kind not in SIZE_KINDS:
        raise CatalogueError(f"{where}.kind: expected one of {', '.join(SIZE_KINDS)}, got {kind!r}")
    names = ("edge_multiple", "min_edge", "max_edge", "min_pixels", "max_pixels", "max_ratio")
    limits = {key: raw[key] for key in names if key in raw}
    for key, value in limits.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            raise CatalogueError(f"{where}.{key}: expected a positive number, got {value!r}")
    try:
        fixed = tuple(Size.parse(text) for text in _strings(raw.get("fixed"), f"{where}.fixed"))
        ratios = _strings(raw.get("aspect_ratios"), f"{where}.aspect_ratios")
        for ratio in ratios:
            ratio_value(ratio)
    except (ValueError, ZeroDivisionError) as error:
        raise CatalogueError(f"{where}: {error}") from None
    if kind == "fixed" and not fixed:
        raise CatalogueError(f"{where}.fixed: a 'fixed' size rule needs its list of WxH sizes")
    if kind == "tiers" and not (ratios and raw.get("image_sizes")):
        raise CatalogueError(f"{where}: a 'tiers' size rule needs aspect_ratios and image_sizes")
    return SizeRule(kind=kind, fixed=fixed, aspect_ratios=ratios,
                    image_sizes=_strings(raw.get("image_sizes"), f"{where}.image_sizes"),
                    **{key: (float(v) if key == "max_ratio" else int(v)) for key, v in limits.items()})


def _price(raw: Any, where: str) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping) or raw.get("by") not in PRICE_KINDS:
        raise CatalogueError(f"{where}: expected a mapping with 'by' ({', '.join(PRICE_KINDS)}), got {raw!r}")
    by = raw["by"]
    if by == "flat":
        _usd_value(raw.get("price"), f"{where}.price")
    elif by == "image_size":
        for tier, value in raw.items():
            if tier != "by":
                _usd_value(value, f"{where}.{tier}")
    else:
        for shape in ("square", "landscape"):
            table = raw.get(shape)
            if table is None:
                continue
            if not isinstance(table, Mapping):
                raise CatalogueError(f"{where}.{shape}: expected quality: price pairs, got {table!r}")
            for quality, value in table.items():
                _usd_value(value, f"{where}.{shape}.{quality}")
        if not isinstance(raw.get("square") or raw.get("landscape"), Mapping):
            raise CatalogueError(f"{where}: a price by quality needs a 'square' or 'landscape' table")
    return dict(raw)


def _usd_value(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0 or not math.isfinite(value):
        raise CatalogueError(f"{where}: expected a price in USD like 0.04, got {value!r}")
    return float(value)


def _date(value: Any, where: str) -> str | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(str(value)).isoformat()
    except ValueError:
        raise CatalogueError(f"{where}: expected a date like 2027-03-15, got {value!r}") from None


def _retirement(name: str, raw: Any) -> Retirement:
    where = f"retired.{name}"
    if not isinstance(raw, Mapping) or not isinstance(raw.get("successor"), str):
        raise CatalogueError(f"{where}: expected a mapping with 'successor' and 'shutdown', got {raw!r}")
    return Retirement(name, raw["successor"], _date(raw.get("shutdown"), f"{where}.shutdown") or "",
                      str(raw.get("source", "")), str(raw.get("checked", "")))


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
