"""The plugin's `mkdocs.yml` schema, validated by MkDocs' own config_options."""

from __future__ import annotations

from typing import Any

from mkdocs.config import base
from mkdocs.config import config_options as c

from .imaging import PUBLISH_FORMATS
from .providers import REAL_PROVIDERS
from .request import QUALITIES, Size

SERVE_MODES = ("background", "placeholders", "cached")


def size_value(value: object) -> Size:
    """A "WxH" string (or a Size) as a Size; ValueError says what is wrong."""
    if isinstance(value, Size):
        return value
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


class SizeOption(c.BaseConfigOption[Size]):
    """A "WxH" string, parsed into a Size."""

    def __init__(self, default: str | None = None) -> None:
        super().__init__()
        self.default = default

    def run_validation(self, value: object) -> Size:
        try:
            return size_value(value)
        except ValueError as exc:
            raise base.ValidationError(str(exc)) from None


class StrictInt(c.BaseConfigOption[int]):
    """An int within bounds; YAML booleans are not numbers here."""

    def __init__(self, default: int | None = None, minimum: int = 0, maximum: int | None = None) -> None:
        super().__init__()
        self.default = default
        self.minimum = minimum
        self.maximum = maximum

    def run_validation(self, value: object) -> int:
        try:
            return whole_number(value, self.minimum, self.maximum)
        except ValueError as exc:
            raise base.ValidationError(str(exc)) from None


class GoogleOptions(base.Config):
    base_url = c.Optional(c.Type(str))


class FoundryOptions(base.Config):
    endpoint = c.Optional(c.Type(str))
    api_version = c.Optional(c.Type(str))
    deployments = c.Type(dict, default={})


class OpenAIOptions(base.Config):
    base_url = c.Optional(c.Type(str))


class ProvidersOptions(base.Config):
    order = c.ListOfItems(c.Choice(REAL_PROVIDERS), default=list(REAL_PROVIDERS))
    google = c.SubConfig(GoogleOptions)
    foundry = c.SubConfig(FoundryOptions)
    openai = c.SubConfig(OpenAIOptions)


class ImagegenConfig(base.Config):
    enabled = c.Type(bool, default=True)
    model = c.Type(str, default="gemini-3.1-flash-image-preview")
    size = SizeOption(default="1792x1024")
    quality = c.Choice(QUALITIES, default="auto")
    format = c.Choice(PUBLISH_FORMATS, default="webp")
    cache_dir = c.Type(str, default=".banners")
    concurrency = StrictInt(default=4, minimum=1, maximum=64)
    timeout = c.Type((int, float), default=300)
    retries = StrictInt(default=4, minimum=0, maximum=20)
    offline = c.Type(bool, default=False)
    max_new = c.Optional(StrictInt(minimum=0))
    insert = c.Type(bool, default=True)
    social_meta = c.Type(bool, default=True)
    aliases = c.Type(dict, default={})
    providers = c.SubConfig(ProvidersOptions)
    serve = c.Choice(SERVE_MODES, default="background")
    output_dir = c.Type(str, default="assets/banners")


def providers_dict(options: ProvidersOptions) -> dict[str, Any]:
    """Plain dicts for the registry, so providers never depend on MkDocs config classes."""
    return {
        "order": list(options.order),
        "google": dict(options.google),
        "foundry": dict(options.foundry),
        "openai": dict(options.openai),
    }
