"""Text models, for drafting prompts (`brief`) and alt text (`alt`): `text_models.json`, kept apart from the
image catalogue so that nothing listing or routing image models changes with it.

Each model names the providers that serve it, whether it takes an image (`vision`), its list price per
token where one is published, and where that came from. Each provider has a default model per task.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

from mkdocs_imagegen.errors import CatalogueError

TASKS = ("brief", "alt")


@dataclass(frozen=True)
class TextModel:
    name: str
    providers: tuple[str, ...]
    vision: bool = False
    input_price: float | None = None  # USD per 1M input tokens
    output_price: float | None = None  # USD per 1M output tokens
    reasoning_effort: str | None = None  # sent to the Responses API as `reasoning.effort`
    known: bool = True  # False: a name the catalogue does not hold, sent as written
    source: str = ""
    checked: str = ""

    def estimate(self, input_tokens: int, output_tokens: int) -> float | None:
        """USD for one request of this many tokens; None when no price is published."""
        if self.input_price is None or self.output_price is None:
            return None
        return (input_tokens * self.input_price + output_tokens * self.output_price) / 1_000_000


@dataclass(frozen=True)
class TextCatalogue:
    models: dict[str, TextModel]
    defaults: dict[str, dict[str, str]]  # provider -> task -> model

    def get(self, name: str) -> TextModel | None:
        return self.models.get(name)

    def default(self, provider: str, task: str) -> str | None:
        return self.defaults.get(provider, {}).get(task)

    def names(self) -> list[str]:
        return sorted(self.models)


def _model(name: str, entry: dict[str, Any]) -> TextModel:
    price = entry.get("price") or {}
    providers = entry.get("providers")
    if not isinstance(providers, list) or not providers or not all(isinstance(p, str) for p in providers):
        raise CatalogueError(f"text model {name!r}: 'providers' must be a list of provider names")
    return TextModel(name, tuple(providers), bool(entry.get("vision", False)),
                     _price(name, price, "input_per_million"), _price(name, price, "output_per_million"),
                     entry.get("reasoning_effort"), True, str(entry.get("source", "")),
                     str(entry.get("checked", "")))


def _price(name: str, price: dict[str, Any], field: str) -> float | None:
    value = price.get(field)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise CatalogueError(f"text model {name!r}: price {field} must be a number of USD, got {value!r}")
    return float(value)


def parse(data: dict[str, Any]) -> TextCatalogue:
    models = {name: _model(name, entry) for name, entry in (data.get("models") or {}).items()}
    defaults = {provider: {task: str(model) for task, model in tasks.items()}
                for provider, tasks in (data.get("defaults") or {}).items()}
    for provider, tasks in defaults.items():
        for task, model in tasks.items():
            if task not in TASKS or model not in models or provider not in models[model].providers:
                raise CatalogueError(f"text models: default {task!r} of {provider!r} is {model!r}, "
                                     "which is no text model that provider serves")
    return TextCatalogue(models, defaults)


@lru_cache(maxsize=1)
def text_catalogue() -> TextCatalogue:
    """The packaged text models (read once)."""
    text = resources.files(__package__).joinpath("text_models.json").read_text(encoding="utf-8")
    return parse(json.loads(text))
