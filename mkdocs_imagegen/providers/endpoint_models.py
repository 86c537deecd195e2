"""Named OpenAI-compatible endpoints before any of them is asked anything: what an endpoint's name and
its `models` option may be, and the catalogue entries its models add, so that routing by model name
reads them like any other entry.

No network here and no provider module: a warm build reads this and sends nothing. An endpoint whose
`models` is "auto" is asked (`GET {base_url}/models`) only when a banner has to be made.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from mkdocs_imagegen.catalogue.lookup import Catalogue, ModelInfo, SizeRule
from mkdocs_imagegen.request import Size

AUTO = "auto"
NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")
FAMILY = "openai-compatible"  # what the build's info lines call a model only an endpoint knows
# What is asked of a model only an endpoint knows: diffusion models take edges in multiples of 64 and
# do badly far from their training sizes; the answer is fitted to the published size here anyway.
SIZES = SizeRule(kind="custom", edge_multiple=64, min_edge=256, max_edge=2048, max_ratio=4.0,
                 min_pixels=256 * 256, max_pixels=2048 * 2048)


def label(name: str) -> str:
    """How messages name the endpoint called `name`."""
    return f"endpoint {name!r}"


@dataclass(frozen=True)
class EndpointModel:
    """One entry of an endpoint's `models`: a name, and what the user knows of it."""

    name: str
    price: float | None = None  # USD per image, for `plan`; None: "price unknown"
    size: Size | None = None  # the one size to ask for (a model trained at 512x512, say)


def check_name(name: object, taken: tuple[str, ...]) -> str:
    """An endpoint's name, or ValueError: a short lower-case word that is no other provider's name."""
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise ValueError(f"endpoint name {name!r}: use lower-case letters, digits, '-' and '_' (up to 40)")
    if name in taken:
        raise ValueError(f"endpoint name {name!r} is already a provider's name; choose another")
    return name


def parse_models(value: Any) -> str | dict[str, EndpointModel]:
    """`models:` as written: "auto", a list of names, or names to {price, size} (or to nothing)."""
    if value is None or value == AUTO:
        return AUTO
    if isinstance(value, str):
        raise ValueError(f"expected 'auto', a list of model names or a mapping, got {value!r}")
    if isinstance(value, (list, tuple)):
        value = {name: None for name in value}
    if not isinstance(value, Mapping) or not value:
        raise ValueError(f"expected 'auto', a list of model names or a mapping, got {value!r}")
    return {_model_name(name): _model(_model_name(name), entry) for name, entry in value.items()}


def _model_name(name: object) -> str:
    if not isinstance(name, str) or not name.strip() or len(name) > 200 or any(ch.isspace() for ch in name):
        raise ValueError(f"expected model names, got {name!r}")
    return name


def _model(name: str, entry: Any) -> EndpointModel:
    if entry is None:
        return EndpointModel(name)
    if not isinstance(entry, Mapping) or set(entry) - {"price", "size"}:
        raise ValueError(f"model {name!r}: expected {{price: 0.0, size: 512x512}} (both optional), got {entry!r}")
    price = entry.get("price")
    if price is not None and (isinstance(price, bool) or not isinstance(price, (int, float)) or not 0 <= price < 1e6):
        raise ValueError(f"model {name!r}: price: expected USD per image like 0.002, got {price!r}")
    try:
        size = Size.parse(entry["size"]) if entry.get("size") is not None else None
    except ValueError as error:
        raise ValueError(f"model {name!r}: size: {error}") from None
    return EndpointModel(name, None if price is None else float(price), size)


def listed(endpoints: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, EndpointModel]]:
    """Endpoint -> its models, for the endpoints that list theirs."""
    found = {}
    for name, options in endpoints.items():
        models = parse_models(options.get("models"))
        if isinstance(models, dict):
            found[name] = models
    return found


def asking(endpoints: Mapping[str, Mapping[str, Any]]) -> tuple[str, ...]:
    """The endpoints whose `models` is "auto": they are asked which models they serve."""
    return tuple(name for name, options in endpoints.items() if parse_models(options.get("models")) == AUTO)


def with_endpoints(catalogue: Catalogue, endpoints: Mapping[str, Mapping[str, Any]]) -> Catalogue:
    """`catalogue` with each listed model served by its endpoints too: a model the catalogue knows keeps its
    entry (sizes, price) and gains the endpoint; any other gets an entry of its own."""
    by_model: dict[str, list[tuple[str, EndpointModel]]] = {}
    for endpoint, models in listed(endpoints).items():
        for model in models.values():
            by_model.setdefault(model.name, []).append((endpoint, model))
    if not by_model:
        return catalogue
    models = dict(catalogue.models)
    for name, serving in by_model.items():
        info = models.get(name) or entry(name, ())
        extra = tuple(endpoint for endpoint, _ in serving if endpoint not in info.providers)
        info = replace(info, providers=(*info.providers, *extra))
        if name not in catalogue.models:  # only an endpoint knows it: what the user wrote is all there is
            info = _as_written(info, [model for _, model in serving])
        models[name] = info
    return Catalogue(catalogue.families, models, catalogue.retired, today=catalogue.today)


def entry(name: str, providers: tuple[str, ...]) -> ModelInfo:
    """The entry of a model no catalogue family claims, served by `providers` (endpoints)."""
    return ModelInfo(name=name, family=FAMILY, providers=providers, sizes=SIZES,
                     note="served by an OpenAI-compatible endpoint")


def _as_written(info: ModelInfo, models: list[EndpointModel]) -> ModelInfo:
    price = next((model.price for model in models if model.price is not None), None)
    size = next((model.size for model in models if model.size is not None), None)
    if price is not None:
        info = replace(info, price={"by": "flat", "price": price})
    if size is not None:
        info = replace(info, sizes=SizeRule(kind="fixed", fixed=(size,)))
    return info
