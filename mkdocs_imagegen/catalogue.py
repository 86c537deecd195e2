"""The model catalogue: which models exist, who serves them, what sizes they take, what they cost.

The facts live in `catalogue.json` so prices and models can be updated without touching code.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

from .request import Size

GEMINI_RATIOS: dict[str, float] = {
    ratio: int(ratio.split(":")[0]) / int(ratio.split(":")[1])
    for ratio in ("1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9")
}
# Long edge of each Gemini image_size tier at 16:9 (1K is 1376x768); used to pick a tier.
GEMINI_TIER_LONG_EDGE = {"512": 688, "1K": 1376, "2K": 2752, "4K": 5504}


@dataclass(frozen=True)
class ModelInfo:
    name: str
    providers: tuple[str, ...]
    spellings: tuple[str, ...] = ()
    sizes: str | tuple[Size, ...] = "custom"
    image_sizes: tuple[str, ...] = ()
    price: dict[str, Any] = field(default_factory=dict)

    def gemini_tier(self, size: Size) -> str | None:
        """The smallest Gemini image_size tier whose long edge covers the target's long edge."""
        if not self.image_sizes:
            return None
        long_edge = max(size.width, size.height)
        for tier in self.image_sizes:
            if GEMINI_TIER_LONG_EDGE[tier] >= long_edge:
                return tier
        return self.image_sizes[-1]

    def estimate(self, size: Size, quality: str) -> float | None:
        """Approximate USD price of one image, or None when unknown."""
        price = self.price
        by = price.get("by")
        if by == "flat":
            return float(price["price"])
        if by == "image_size":
            tier = self.gemini_tier(size)
            return float(price[tier]) if tier in price else None
        if by == "quality":
            base = float(price.get(quality, price.get("auto", 0.0)))
            if size.width != size.height:
                base *= float(price.get("landscape_factor", 1.0))
            return base
        return None


def nearest_gemini_ratio(size: Size) -> str:
    """The supported Gemini aspect ratio closest to the target (compared in log space)."""
    target = math.log(size.aspect)
    return min(GEMINI_RATIOS, key=lambda ratio: abs(math.log(GEMINI_RATIOS[ratio]) - target))


class Catalogue:
    def __init__(self, models: dict[str, ModelInfo]) -> None:
        self.models = models
        self._by_spelling = {name: name for name in models}
        for info in models.values():
            for spelling in info.spellings:
                self._by_spelling[spelling] = info.name

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Catalogue:
        models = {}
        for name, raw in data["models"].items():
            sizes = raw.get("sizes", "custom")
            models[name] = ModelInfo(
                name=name,
                providers=tuple(raw["providers"]),
                spellings=tuple(raw.get("spellings", ())),
                sizes=sizes if isinstance(sizes, str) else tuple(Size.parse(s) for s in sizes),
                image_sizes=tuple(raw.get("image_sizes", ())),
                price=dict(raw.get("price", {})),
            )
        return cls(models)

    def canonical(self, name: str) -> str | None:
        """The catalogue's own name for a model spelling, or None if unknown."""
        return self._by_spelling.get(name.strip())

    def get(self, name: str) -> ModelInfo | None:
        canonical = self.canonical(name)
        return self.models.get(canonical) if canonical else None

    def models_for(self, provider: str) -> list[str]:
        return [name for name, info in self.models.items() if provider in info.providers]

    def names(self) -> list[str]:
        return sorted(self.models)


@lru_cache(maxsize=1)
def default_catalogue() -> Catalogue:
    text = resources.files(__package__).joinpath("catalogue.json").read_text(encoding="utf-8")
    return Catalogue.from_data(json.loads(text))
