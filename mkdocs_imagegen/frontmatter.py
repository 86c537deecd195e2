"""A page's `banner_*` front matter, validated like Material's blog validates post metadata."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mkdocs.config import base
from mkdocs.config import config_options as c

from .config import SizeOption, StrictInt
from .providers import PROVIDER_CHOICES
from .request import MAX_PROMPT_CHARS, QUALITIES, Size

PREFIX = "banner_"


class Text(c.BaseConfigOption[str]):
    """A non-empty string of bounded length; numbers and lists are not silently converted."""

    def __init__(self, max_length: int = 1000) -> None:
        super().__init__()
        self.max_length = max_length

    def run_validation(self, value: object) -> str:
        if not isinstance(value, str):
            raise base.ValidationError(f"expected text, got {type(value).__name__} {_short(value)}")
        if not value.strip():
            raise base.ValidationError("must not be empty")
        if len(value) > self.max_length:
            raise base.ValidationError(f"is {len(value):,} characters long; the limit is {self.max_length:,}")
        return value


class BannerFrontMatter(base.Config):
    banner_prompt = c.Optional(Text(MAX_PROMPT_CHARS))
    banner_model = c.Optional(Text(200))
    banner_provider = c.Optional(c.Choice(PROVIDER_CHOICES))
    banner_size = c.Optional(SizeOption())
    banner_quality = c.Optional(c.Choice(QUALITIES))
    banner_alt = c.Optional(Text(2000))
    banner_variant = StrictInt(default=0, minimum=0, maximum=1_000_000)


KNOWN_KEYS = frozenset(key for key, _ in BannerFrontMatter._schema)


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


class FrontMatterError(Exception):
    """One line naming the page file and the key."""


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


MAX_NESTING = 50
MAX_INT_BITS = 10_000  # about 3,000 digits; Python refuses to print an int of over 4,300


def _unprintable(value: Any) -> str | None:
    """Why an error message could not even show `value`, or None.

    repr() raises ValueError on ints over Python's digit limit (YAML reads hex and octal ints of
    any length) and RecursionError on lists nested about a thousand deep: a traceback, not a line.
    """
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
        for key in present
        if key not in KNOWN_KEYS
    ]
    if not present:
        return None, warnings
    for key, value in present.items():
        problem = _unprintable(value) if key in KNOWN_KEYS else None
        if problem:
            raise FrontMatterError(f"{page_path}: front matter key '{key}': expected a short value, got {problem}")
    schema = BannerFrontMatter()
    schema.load_dict({k: v for k, v in present.items() if k in KNOWN_KEYS})
    errors, _ = schema.validate()
    if errors:
        key, error = errors[0]
        raise FrontMatterError(f"{page_path}: front matter key '{key}': {error}")
    if schema.banner_prompt is None:
        if len(present) > len(warnings):
            warnings.append(f"{page_path}: banner_* keys are set but banner_prompt is not; no banner")
        return None, warnings
    spec = BannerSpec(
        prompt=schema.banner_prompt.strip(),
        model=schema.banner_model.strip() if schema.banner_model else None,
        provider=schema.banner_provider,
        size=schema.banner_size,
        quality=schema.banner_quality,
        alt=schema.banner_alt,
        variant=schema.banner_variant,
    )
    return spec, warnings
