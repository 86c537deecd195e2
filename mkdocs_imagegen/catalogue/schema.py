"""Reading catalogue data (`catalogue.json`, or a `models:` block in mkdocs.yml) into entries: every field
checked, with a message that names the entry and the field."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from typing import Any

from mkdocs_imagegen.catalogue.entries import (
    PRICE_KINDS,
    SIZE_KINDS,
    Family,
    ModelInfo,
    ReferenceRule,
    Retirement,
    SizeRule,
    ratio_value,
)
from mkdocs_imagegen.errors import CatalogueError
from mkdocs_imagegen.provider_table import PROVIDERS
from mkdocs_imagegen.request import Size

RETIREMENT_FIELDS = ("shutdown", "shutdown_confirmed", "shutdown_at", "successor")


def merged_entry(base: dict[str, Any], entry: dict[str, Any], family: Family | None) -> dict[str, Any]:
    """A `models:` entry over the packaged one: `sizes` and `price` merge field by field (a price with another
    `by` replaces the old one), the rest replaces; an entry that names no shutdown is live again (a deprecated
    one keeps its successor; `deprecated: null` ends the deprecation)."""
    if not base and "family" not in entry and family is not None:
        base["family"] = family.name
    if "shutdown" not in entry:
        deprecated = entry.get("deprecated", base.get("deprecated"))
        for key in RETIREMENT_FIELDS:
            if key != "successor" or not deprecated:  # a deprecated entry keeps the successor builds name
                base.pop(key, None)
    for key in ("sizes", "price", "references"):
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


def mapping_at(data: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
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


def parse_family(name: str, raw: Any) -> Family:
    if not isinstance(raw, Mapping):
        raise CatalogueError(f"families.{name}: expected a mapping, got {raw!r}")
    providers = tuple(spec.name for spec in PROVIDERS if name in spec.families)
    defaults = {key: value for key, value in raw.items() if key not in ("patterns", "source", "checked", "note")}
    return Family(name, _strings(raw.get("patterns"), f"families.{name}.patterns"), providers, defaults)


def parse_model(name: str, raw: Any, families: Mapping[str, Family], *, known: bool = True) -> ModelInfo:
    where = f"models.{name}"
    if not isinstance(raw, Mapping):
        raise CatalogueError(f"{where}: expected a mapping, got {raw!r}")
    family_name = raw.get("family")
    family = families.get(family_name) if isinstance(family_name, str) else None
    if family is None:
        raise CatalogueError(f"{where}.family: expected one of {', '.join(families)}, got {family_name!r}")
    fields = {**family.defaults, **raw}
    for rule in ("sizes", "references"):  # a partial rule keeps the rest of the family's
        inherited = family.defaults.get(rule)
        if isinstance(inherited, Mapping) and isinstance(raw.get(rule), Mapping):
            fields[rule] = _deep_merge(inherited, raw[rule])
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
        deprecated=_date(raw.get("deprecated"), f"{where}.deprecated"),
        shutdown=_date(raw.get("shutdown"), f"{where}.shutdown"),
        shutdown_confirmed=raw.get("shutdown_confirmed") is not False,
        shutdown_at=_strings(raw.get("shutdown_at"), f"{where}.shutdown_at"),
        successor=raw.get("successor") if isinstance(raw.get("successor"), str) else None,
        api=fields.get("api") if isinstance(fields.get("api"), str) else None,
        references=_reference_rule(fields.get("references"), f"{where}.references"),
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


REFERENCE_FORMATS = ("png", "jpeg", "webp")


def _reference_rule(raw: Any, where: str) -> ReferenceRule:
    """`references: {max_images: 16, max_bytes: ..., max_edge: ..., total_bytes: ..., formats: [...]}`."""
    if raw is None:
        return ReferenceRule()
    if not isinstance(raw, Mapping):
        raise CatalogueError(f"{where}: expected a mapping like {{max_images: 16}}, got {raw!r}")
    values: dict[str, Any] = {}
    for key in ("max_images", "max_bytes", "max_edge", "total_bytes"):
        if key in raw:
            value = raw[key]
            if isinstance(value, bool) or not isinstance(value, int) or value < (0 if key == "max_images" else 1):
                raise CatalogueError(f"{where}.{key}: expected a whole number, got {value!r}")
            values[key] = value
    formats = _strings(raw.get("formats"), f"{where}.formats")
    if any(fmt not in REFERENCE_FORMATS for fmt in formats):
        raise CatalogueError(f"{where}.formats: expected some of {', '.join(REFERENCE_FORMATS)}, got {formats!r}")
    if formats:
        values["formats"] = formats
    if "fidelity" in raw:
        values["fidelity"] = raw["fidelity"] is True
    unknown = sorted(set(raw) - {*values, "formats", "fidelity", "source", "checked", "note"})
    if unknown:
        raise CatalogueError(f"{where}: unknown field {unknown[0]!r}")
    return ReferenceRule(**values)


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


def parse_retirement(name: str, raw: Any) -> Retirement:
    where = f"retired.{name}"
    if not isinstance(raw, Mapping) or not isinstance(raw.get("successor"), str):
        raise CatalogueError(f"{where}: expected a mapping with 'successor' and 'shutdown', got {raw!r}")
    return Retirement(name, raw["successor"], _date(raw.get("shutdown"), f"{where}.shutdown") or "",
                      str(raw.get("source", "")), str(raw.get("checked", "")))
