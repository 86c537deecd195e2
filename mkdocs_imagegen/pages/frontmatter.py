"""A page's `banner_*` front matter: checked with plain functions, in microseconds per page.

MkDocs' config_options would do, but cost a schema object per page: on a warm build of a big
site the plugin must cost next to nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from mkdocs_imagegen.errors import FrontMatterError
from mkdocs_imagegen.provider_table import PROVIDER_CHOICES
from mkdocs_imagegen.providers.endpoint_models import NAME_PATTERN
from mkdocs_imagegen.request import MAX_PROMPT_CHARS, MAX_STYLE_CHARS, QUALITIES, Size, size_value, whole_number

PREFIX = "banner_"


def text(max_length: int) -> Callable[[Any], str]:
    """A non-empty string of bounded length; numbers and lists are not silently converted."""

    def check(value: Any) -> str:
        if not isinstance(value, str):
            raise ValueError(f"expected text, got {type(value).__name__} {_short(value)}")
        if not value.strip():
            raise ValueError("must not be empty")
        if len(value) > max_length:
            raise ValueError(f"is {len(value):,} characters long; the limit is {max_length:,}")
        return value

    return check


def choice(options: tuple[str, ...]) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if not isinstance(value, str) or value not in options:
            raise ValueError(f"expected one of {', '.join(options)}, got {_short(value)}")
        return value

    return check


def provider_name(value: Any) -> str:
    """A provider's name, or an endpoint's (`providers.endpoints`): whether one has it is the routing's check."""
    if isinstance(value, str) and (value in PROVIDER_CHOICES or NAME_PATTERN.fullmatch(value)):
        return value
    raise ValueError(f"expected one of {', '.join(PROVIDER_CHOICES)} or an endpoint's name, got {_short(value)}")


MAX_REFERENCES = 16  # the most any provider takes; the model's own limit is checked with its catalogue entry


def style_text(value: Any) -> str:
    """Text of bounded length; "" is allowed and means "no style" (the house style is turned off)."""
    if not isinstance(value, str):
        raise ValueError(f"expected text, got {type(value).__name__} {_short(value)}")
    if len(value) > MAX_STYLE_CHARS:
        raise ValueError(f"is {len(value):,} characters long; the limit is {MAX_STYLE_CHARS:,}")
    return value.strip()


def paths(value: Any) -> tuple[str, ...]:
    """One image path, or a list of them; [] means "no references" (the house references are dropped)."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list):
        raise ValueError(f"expected an image path or a list of paths, got {type(value).__name__} {_short(value)}")
    if len(items) > MAX_REFERENCES:
        raise ValueError(f"names {len(items)} images; at most {MAX_REFERENCES} can be sent")
    for item in items:
        if isinstance(item, str) and not item.strip():
            raise ValueError("an empty path; [] sends no reference image")
        if not isinstance(item, str) or len(item) > 1000 or "\x00" in item:
            raise ValueError(f"expected image paths, got {_short(item)}")
    return tuple(item.strip() for item in items)


def optional(check: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """`key: null` (or `key:` with nothing after it) means unset."""
    return lambda value: None if value is None else check(value)


FIELDS: dict[str, Callable[[Any], Any]] = {  # checked in this order: the first error is reported
    "banner_prompt": optional(text(MAX_PROMPT_CHARS)),
    "banner_model": optional(text(200)),
    "banner_provider": optional(provider_name),
    "banner_size": optional(size_value),
    "banner_quality": optional(choice(QUALITIES)),
    "banner_alt": optional(text(2000)),
    "banner_variant": lambda value: whole_number(value, 0, 1_000_000),
    "banner_style": optional(style_text),
    "banner_reference": optional(paths),
}
KNOWN_KEYS = frozenset(FIELDS)


@dataclass(frozen=True)
class BannerSpec:
    """What a page asked for, before defaults from the plugin options are applied."""

    prompt: str
    model: str | None = None
    provider: str | None = None
    size: Size | None = None
    quality: str | None = None
    alt: str | None = None
    variant: int = 0
    style: str | None = None  # replaces the plugin's `style`; "" turns it off
    references: tuple[str, ...] | None = None  # replaces the plugin's `style_reference`; () drops them


def _short(value: Any) -> str:
    shown = repr(value)
    return shown if len(shown) <= 60 else shown[:57] + "..."


MAX_NESTING = 50
MAX_INT_BITS = 10_000  # about 3,000 digits; Python refuses to print an int of over 4,300


def _unprintable(value: Any) -> str | None:
    """Why an error message could not even show `value`, or None.

    repr() raises ValueError on ints over Python's digit limit (YAML reads hex and octal ints of
    any length) and RecursionError on lists nested about a thousand deep: a traceback, not a line.
    """
    if isinstance(value, str):  # the usual banner_prompt: nothing to walk
        return None
    stack: list[tuple[Any, int]] = [(value, 0)]
    seen: set[int] = set()
    while stack:
        item, depth = stack.pop()
        if isinstance(item, int) and item.bit_length() > MAX_INT_BITS:
            return "a number too large to show"
        if isinstance(item, (list, tuple, set, dict)):
            if depth >= MAX_NESTING:
                return f"a value nested more than {MAX_NESTING} levels deep"
            if id(item) in seen:
                continue
            seen.add(id(item))
            children = [*item.keys(), *item.values()] if isinstance(item, dict) else list(item)
            stack.extend((child, depth + 1) for child in children)
    return None


def parse_banner(meta: Mapping[str, Any], page_path: str) -> tuple[BannerSpec | None, list[str]]:
    """The page's BannerSpec (None if it has no banner_prompt) and warnings about unknown keys.

    Raises FrontMatterError naming the file and the key on a wrong type or value.
    """
    present = {k: v for k, v in meta.items() if isinstance(k, str) and k.startswith(PREFIX)}
    warnings = [
        f"{page_path}: unknown front matter key '{key}' ignored; known keys: {', '.join(sorted(KNOWN_KEYS))}"
        f"(see docs: troubleshooting#front-matter)"
        for key in present
        if key not in KNOWN_KEYS
    ]
    if not present:
        return None, warnings
    for key, value in present.items():
        problem = _unprintable(value) if key in KNOWN_KEYS else None
        if problem:
            raise FrontMatterError(f"{page_path}: front matter key '{key}': expected a short value, got {problem}"
                                   " (see docs: troubleshooting#front-matter)")
    values = _checked({k: v for k, v in present.items() if k in KNOWN_KEYS}, page_path)
    prompt = values.get("banner_prompt")
    if prompt is None:
        if len(present) > len(warnings):
            warnings.append(f"{page_path}: banner_* keys are set but banner_prompt is not; no banner"
                            " (see docs: troubleshooting#front-matter)")
        return None, warnings
    model = values.get("banner_model")
    spec = BannerSpec(
        prompt=prompt.strip(),
        model=model.strip() if model else None,
        provider=values.get("banner_provider"),
        size=values.get("banner_size"),
        quality=values.get("banner_quality"),
        alt=values.get("banner_alt"),
        variant=values.get("banner_variant", 0),
        style=values.get("banner_style"),
        references=values.get("banner_reference"),
    )
    return spec, warnings


def _checked(given: Mapping[str, Any], page_path: str) -> dict[str, Any]:
    """Each given key's checked value; raises FrontMatterError for the first bad one."""
    values: dict[str, Any] = {}
    for key, check in FIELDS.items():
        if key not in given:
            continue
        try:
            values[key] = check(given[key])
        except ValueError as error:
            raise FrontMatterError(f"{page_path}: front matter key '{key}': {error}"
                                   " (see docs: troubleshooting#front-matter)") from None
    return values
