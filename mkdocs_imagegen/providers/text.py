"""Text requests (drafting a banner prompt or alt text): what is asked, what came back, and which provider
answers. Routing works as for image models: the first provider in `providers.order` that serves the text
model and has credentials; with no model named, the first ready provider's default for the task.

Each provider's wire format lives beside its image module (google_text, openai_text, foundry_text), named
by its provider table row (`ProviderSpec.text`).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from mkdocs_imagegen.catalogue.text import TextCatalogue, TextModel, text_catalogue
from mkdocs_imagegen.errors import (
    AuthenticationError,
    ConfigError,
    ImagegenError,
    ModelNotFoundError,
    UnknownModelError,
)
from mkdocs_imagegen.provider_table import SPECS

if TYPE_CHECKING:
    from mkdocs_imagegen.providers.base import Provider
    from mkdocs_imagegen.providers.registry import Registry


@dataclass(frozen=True)
class TextRequest:
    task: str  # brief | alt
    model: str
    instructions: str  # the system part: what to write
    text: str  # the user part: what the page says
    image: bytes | None = field(default=None, repr=False)  # alt: the banner, downscaled
    image_mime: str = "image/png"
    reasoning_effort: str | None = None  # Responses API models that take it


@dataclass(frozen=True)
class TextAnswer:
    text: str | None  # None: no text came back (see refusal)
    refusal: str | None = None  # the provider's reason for answering nothing (never shown whole)
    input_tokens: int | None = None
    output_tokens: int | None = None


@dataclass(frozen=True)
class TextRoute:
    model: TextModel
    provider: Provider

    def check_ready(self) -> None:
        """AuthenticationError, saying what to set, when the provider has no credentials."""
        if not self.provider.is_authenticated():
            raise AuthenticationError(f"{self.provider.label} is not set up: {self.provider.auth_hint()}",
                                      provider=self.provider.name, model=self.model.name)


def resolve(name: str, registry: Registry, catalogue: TextCatalogue | None = None) -> TextModel:
    """A written text-model name (or one of the site's aliases) -> its catalogue entry."""
    catalogue = catalogue or text_catalogue()
    current, seen = name.strip(), set()
    while current in registry.aliases and current not in seen:
        seen.add(current)
        current = str(registry.aliases[current]).strip()
    found = catalogue.get(current)
    if found is None:
        image = " (an image model: this needs a text model)" if registry.catalogue.get(current) else ""
        raise UnknownModelError(f"unknown text model {name!r}{image}; known text models: "
                                f"{', '.join(catalogue.names())}")
    return found


def route(registry: Registry, task: str, model: str | None, catalogue: TextCatalogue | None = None, *,
          planning: bool = False) -> TextRoute:
    """The text model and provider for `task`; ConfigError / AuthenticationError say what to set. With
    `planning`, a provider without credentials is routed to as well (to list and price; `ready` says)."""
    catalogue = catalogue or text_catalogue()
    if model:
        info = resolve(model, registry, catalogue)
        candidates = [registry.get(name) for name in registry.order if name in info.providers]
        if not candidates:
            raise ConfigError(f"no provider in providers.order ({', '.join(registry.order)}) serves text model "
                              f"{info.name!r}; it is served by {', '.join(info.providers)}")
    else:
        candidates = [registry.get(name) for name in registry.order if catalogue.default(name, task)]
        info = None
    ready = [provider for provider in candidates if provider.is_authenticated()] or (
        candidates[:1] if planning else [])
    if not ready:
        hints = "; ".join(f"{provider.name}: {provider.auth_hint()}" for provider in candidates)
        raise AuthenticationError(f"no provider for the text model is set up ({hints})")
    provider = ready[0]
    if info is None:
        info = catalogue.models[catalogue.default(provider.name, task) or ""]
    if task == "alt" and not info.vision:
        raise ConfigError(f"text model {info.name!r} takes no image, so it cannot describe a banner; "
                          "choose one that does (`alt_model`, or --model)")
    return TextRoute(info, provider)


def _caller(provider: str) -> Callable[..., TextAnswer]:
    module_name, _, function = SPECS[provider].text.partition(":")
    return getattr(importlib.import_module(module_name), function)


def ask(text_route: TextRoute, request: TextRequest, *, timeout: float) -> TextAnswer:
    """One text request; an ImagegenError (provider and model stamped on it) when it fails."""
    provider = text_route.provider
    try:
        return _caller(provider.name)(provider, request, timeout=timeout)
    except ModelNotFoundError:
        raise ConfigError(f"{provider.label} has no text model {request.model!r}: check the name, or, on Azure, "
                          "the deployment (providers.foundry.deployments)", provider=provider.name,
                          model=request.model) from None
    except ImagegenError as error:
        error.provider, error.model = error.provider or provider.name, error.model or request.model
        raise
