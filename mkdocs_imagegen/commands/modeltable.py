"""The catalogue as rows and as a Markdown table: what `mkdocs-imagegen models` prints, and the
README's "Models" section (`models --markdown`; a test keeps the README equal to it)."""

from __future__ import annotations

from typing import Any

from mkdocs_imagegen.catalogue.lookup import ModelInfo
from mkdocs_imagegen.defaults import DEFAULT_MODEL, DEFAULT_SIZE
from mkdocs_imagegen.providers.registry import Registry
from mkdocs_imagegen.request import Size


def usd(value: float | None, digits: int = 3) -> str:
    return "price unknown" if value is None else f"~${value:.{digits}f}"


def price_summary(info: ModelInfo) -> dict[str, Any]:
    """An estimate at the default size and quality, and the range the model's prices span."""
    size = Size.parse(DEFAULT_SIZE)
    by = info.price.get("by")
    if by == "quality":
        values = [info.estimate(size, quality) for quality in info.qualities]
    elif by == "image_size":
        values = [float(info.price[tier]) for tier in info.image_sizes if tier in info.price]
    else:
        values = [info.estimate(size, "auto")]
    known = [value for value in values if value is not None]
    return {"by": by, "at": DEFAULT_SIZE, "quality": "auto", "estimate_usd": info.estimate(size, "auto"),
            "min_usd": min(known) if known else None, "max_usd": max(known) if known else None}


def price_hint(price: dict[str, Any]) -> str:
    at = f"{price['at']} auto" if price["by"] == "quality" else price["at"]
    hint = f"{usd(price['estimate_usd'])} at {at}"
    if price["min_usd"] is not None and price["min_usd"] != price["max_usd"]:
        span = "quality" if price["by"] == "quality" else "resolution"
        hint += f" (${price['min_usd']:.3f}-${price['max_usd']:.3f} by {span})"
    return hint


def model_rows(registry: Registry) -> list[dict[str, Any]]:
    """Every catalogue entry with its providers (and whether each has credentials), sizes and price."""
    rows = []
    for info in registry.catalogue.models.values():
        providers = [registry.get(name) for name in info.providers]
        serving = [{"name": p.name, "label": p.label, "authenticated": p.is_authenticated()} for p in providers]
        retired = registry.catalogue.retired.get(info.name)
        deprecated = registry.catalogue.deprecated(info.name)
        rows.append({"model": info.name, "nicknames": list(info.nicknames), "default": info.name == DEFAULT_MODEL,
                     "providers": serving, "usable": any(p["authenticated"] for p in serving),
                     "price": price_summary(info), "qualities": list(info.qualities), "sizes": info.sizes.describe(),
                     "reference_images": info.references.max_images,
                     "retired": retired.shutdown if retired else None,
                     "deprecated": deprecated.deprecated if deprecated else None,
                     "successor": retired.successor if retired else deprecated.successor if deprecated else None,
                     "source": info.source, "checked": info.checked})
    return rows


def price_table(info: ModelInfo) -> str:
    """Every catalogue price of a model, in one cell."""
    price = info.price
    by = price.get("by")
    if by == "flat":
        return f"${float(price['price']):.3f}"
    if by == "image_size":
        return " · ".join(f"{tier} ${float(price[tier]):.3f}" for tier in info.image_sizes if tier in price)
    if by == "quality":
        cells = []
        for shape in ("square", "landscape"):
            table = price.get(shape)
            if table:
                listed = " / ".join(f"{quality} ${float(value):.3f}" for quality, value in table.items())
                cells.append(f"{shape}: {listed}")
        return "; ".join(cells) + f"; auto ≈ {price.get('auto', 'medium')}"
    return "unknown"


def reference_cell(info: ModelInfo) -> str:
    """How many reference images the model takes with a prompt, and each one's size limit."""
    rule = info.references
    if not rule.takes_references:
        return "none"
    each = f", {rule.max_bytes // (1024 * 1024)} MB each" if rule.max_bytes else ""
    return f"up to {rule.max_images}{each}"


def markdown(registry: Registry) -> str:
    """The README's model tables, generated from the catalogue."""
    catalogue = registry.catalogue
    lines = [f"Checked against the providers' documentation on {catalogue_date(registry)}. "
             "Prices are approximate USD per image, for estimates only.", "",
             "| model | also called | providers | sizes | qualities | reference images | price per image | source |",
             "|---|---|---|---|---|---|---|---|"]
    for info in catalogue.models.values():
        if info.name in catalogue.retired:
            continue
        default = " (default)" if info.name == DEFAULT_MODEL else ""
        if catalogue.deprecated(info.name) is not None:
            default += f" (deprecated {info.deprecated}; successor `{info.successor}`)"
        nicknames = ", ".join(f"`{nick}`" for nick in info.nicknames)
        sources = " ".join(f"[{n}]({url.strip()})" for n, url in enumerate(info.source.split(" ; "), start=1))
        lines.append(f"| `{info.name}`{default} | {nicknames} | {', '.join(info.providers)} | "
                     f"{info.sizes.describe()} | {', '.join(info.qualities)} | {reference_cell(info)} | "
                     f"{price_table(info)} | {sources} |")
    lines += ["", "Retired names still work: each is sent as its documented successor, with one info line per build.",
              "", "| name | shut down | sent as |", "|---|---|---|"]
    for name, retirement in sorted(catalogue.retired.items(), key=lambda item: (item[1].shutdown, item[0])):
        lines.append(f"| `{name}` | {retirement.shutdown} | `{catalogue.lookup(name).name}` |")  # type: ignore[union-attr]
    return "\n".join(lines) + "\n"


def catalogue_date(registry: Registry) -> str:
    return max((info.checked for info in registry.catalogue.models.values() if info.checked), default="unknown")
