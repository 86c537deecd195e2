"""What the catalogue holds, as types: a model's entry, its size rule, a family, a retirement, and what
a written name resolves to. `catalogue.py` looks names up; `catalogue_schema.py` reads the data."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any

from mkdocs_imagegen.request import BASE_QUALITIES, Size

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
class ReferenceRule:
    """Whether a model takes reference images with its prompt, how many, and how large each may be.
    How they are sent is the provider's business (`images/edits`, Gemini's inline parts, MAI's edit route)."""

    max_images: int = 0  # 0: the model takes none
    max_bytes: int | None = None  # each image, as uploaded (None: not published; the plugin reads up to 50 MB)
    max_edge: int = 4096  # a longer edge is downscaled locally before upload
    total_bytes: int | None = None  # the whole request's limit, when the provider has one
    formats: tuple[str, ...] = ("png", "jpeg", "webp")  # what is sent as it is; others are re-encoded
    fidelity: bool = False  # takes `input_fidelity`

    @property
    def takes_references(self) -> bool:
        return self.max_images > 0


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
    deprecated: str | None = None  # the day the provider deprecated it (ISO): still sent, builds name the successor
    shutdown: str | None = None  # an announced shutdown date (ISO), if any
    shutdown_confirmed: bool = True  # False: announced vaguely; the name is still sent after the date
    shutdown_at: tuple[str, ...] = ()  # the providers whose shutdown it is (empty: every provider)
    successor: str | None = None  # the documented replacement: sent once a confirmed `shutdown` has passed
    api: str | None = None  # a provider-specific route, e.g. "mai" for Foundry's MAI image models
    references: ReferenceRule = field(default_factory=ReferenceRule)
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

    def deprecated_by(self, day: dt.date) -> bool:
        """Deprecated (announced as ending) by `day` but not yet retired: sent as written, with a note."""
        return bool(self.deprecated and dt.date.fromisoformat(self.deprecated) <= day and not self.retires_by(day))

    def shut_at(self, provider: str, day: dt.date) -> bool:
        """Shut down by `day` at `provider` only, while others still serve it under its own name."""
        return provider in self.shutdown_at and self.retires_by(day)

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
