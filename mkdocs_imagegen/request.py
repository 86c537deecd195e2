"""The generation request and its cache key.

The key hashes only what decides the image: prompt, canonical model, size, quality and
variant, and, when a page has them, its style text and its reference images' content hashes.
Provider, paths (of the page, of the reference files), concurrency and output format are
deliberately left out, so moving a site, a reference file or a provider never pays for the same
banner twice. A request without style or references has the key it had before either existed.
A provider that can return the published format at the published size is asked for it (`deliver`),
and its file is published as it is; the original is whatever the provider returned, and another
`format` later is encoded from it locally.

The model in the key is the name that is sent. When the catalogue changes what a name means
(a retired preview name now sent as its successor, an entry renamed), the request also carries
the model's former names: a banner cached under one of those keys is still this page's banner,
so a catalogue update never pays for an image twice. New banners are stored under the current key.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field, replace

QUALITIES = ("low", "medium", "high", "xhigh", "max", "auto")
"""Every quality a page or `generate` may ask for; each model takes the ones its catalogue entry lists."""
# Every model takes these (a model with no quality setting ignores them); the others only where the catalogue says.
BASE_QUALITIES = ("low", "medium", "high", "auto")
MAX_PROMPT_CHARS = 32000
MAX_STYLE_CHARS = 4000
MIN_EDGE = 16
MAX_EDGE = 8192
CACHE_KEY_VERSION = 1

# What json.dumps(..., sort_keys=True, ensure_ascii=False, separators=(",", ":")) writes, made once:
# json.dumps with options builds a new encoder on every call.
_CANONICAL_JSON = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":"))
_SIZE_PATTERN = re.compile(r"^\s*(\d{1,5})\s*[xX×]\s*(\d{1,5})\s*$")


@dataclass(frozen=True)
class Size:
    width: int
    height: int

    @classmethod
    def parse(cls, text: str) -> Size:
        """Parse "WxH"; raise ValueError with a message fit for the user."""
        match = _SIZE_PATTERN.match(str(text))
        if not match:
            raise ValueError(f"expected a size like 1792x1024, got {text!r}")
        size = cls(int(match.group(1)), int(match.group(2)))
        for edge in (size.width, size.height):
            if not MIN_EDGE <= edge <= MAX_EDGE:
                raise ValueError(f"each edge must be between {MIN_EDGE} and {MAX_EDGE} pixels, got {text!r}")
        return size

    @property
    def aspect(self) -> float:
        return self.width / self.height

    @property
    def pixels(self) -> int:
        return self.width * self.height

    def __str__(self) -> str:
        return f"{self.width}x{self.height}"


@dataclass(frozen=True)
class Reference:
    """One reference image, as it is sent: the bytes (already downscaled to the model's limit), their
    type and sha256. `path` (docs-relative) is for provenance and messages only: never in the key."""

    data: bytes = field(repr=False, compare=False)
    mime_type: str
    digest: str
    path: str = field(default="", compare=False)
    width: int = field(default=0, compare=False)
    height: int = field(default=0, compare=False)


@dataclass(frozen=True)
class GenerationRequest:
    prompt: str
    model: str
    size: Size
    quality: str = "auto"
    variant: int = 0
    style: str = ""  # the house (or page) style text, appended to the prompt that is sent
    references: tuple[Reference, ...] = ()  # images sent with the prompt ("in the style of this")
    former_models: tuple[str, ...] = field(default=(), compare=False)  # earlier names of `model`
    stored_key: str | None = field(default=None, compare=False)  # the former key its banner is cached under
    # The format the banner is published in, for a provider that can return that file ready to publish.
    # Not in the key: a changed `format` is encoded locally from the cached original, never asked for again.
    deliver: str | None = field(default=None, compare=False)
    cache_key: str = field(init=False, repr=False, compare=False)  # every request is looked up: made at once

    def __post_init__(self) -> None:
        object.__setattr__(self, "cache_key", self.stored_key or self._key(self.model))

    def _key(self, model: str) -> str:
        return hashlib.sha256(_CANONICAL_JSON.encode(self.canonical(model)).encode("utf-8")).hexdigest()

    def canonical(self, model: str | None = None) -> dict[str, object]:
        canonical: dict[str, object] = {
            "v": CACHE_KEY_VERSION,
            "prompt": self.prompt,
            "model": model or self.model,
            "size": str(self.size),
            "quality": self.quality,
            "variant": self.variant,
        }
        if self.style:
            canonical["style"] = self.style
        if self.references:
            canonical["references"] = [reference.digest for reference in self.references]
        return canonical

    @property
    def sent_prompt(self) -> str:
        """The prompt providers are sent: the page's prompt, then the style text."""
        return f"{self.prompt}\n\n{self.style}" if self.style else self.prompt

    def stored_under(self, key: str) -> GenerationRequest:
        """This request, known by the former key its banner is cached under (so two pages whose names led to
        one model keep their own banners, and every job, lookup and prune uses that key)."""
        return self if key == self.cache_key else replace(self, stored_key=key)

    def former_keys(self) -> list[str]:
        """The keys this banner had under the model's former names (made only when the current key misses)."""
        return [self._key(model) for model in self.former_models]


def size_value(value: object) -> Size:
    """A "WxH" string (or a Size) as a Size; ValueError says what is wrong."""
    if isinstance(value, Size):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        # `0x0`, `0x10` or `1_0` unquoted: YAML reads a number (hexadecimal 0x...), not the text written.
        raise ValueError(f"expected a size like 1792x1024, but YAML read the value as the number {value!r}; "
                         'put the size in quotes, e.g. "1792x1024"')
    if not isinstance(value, str):
        raise ValueError(f"expected a size like 1792x1024, got {value!r}")
    return Size.parse(value)


def whole_number(value: object, minimum: int = 0, maximum: int | None = None) -> int:
    """An int within bounds (YAML booleans are not numbers here); ValueError says what is wrong."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"expected a whole number, got {value!r}")
    if value < minimum or (maximum is not None and value > maximum):
        upper = f" and at most {maximum}" if maximum is not None else ""
        raise ValueError(f"expected a number of at least {minimum}{upper}, got {value}")
    return value
