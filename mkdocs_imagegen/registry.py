"""Model-name routing: the model decides the provider, the user never has to.

Rules (CONTRACT.md "Routing"): resolve aliases; a forced provider is used or fails loudly;
otherwise the first provider in `order` that serves the model and is authenticated; if some
provider serves it but none is authenticated, a placeholder with each provider's hint; if no
provider knows the model, an error listing the known ones.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .catalogue import Catalogue, default_catalogue
from .credentials import Credentials
from .errors import ConfigError, UnknownModelError
from .providers import PROVIDER_CHOICES, REAL_PROVIDERS
from .providers.base import Provider, ProviderContext
from .providers.placeholder import PlaceholderProvider

_PROVIDER_CLASSES = {
    "google": "mkdocs_imagegen.providers.google:GoogleProvider",
    "foundry": "mkdocs_imagegen.providers.foundry:FoundryProvider",
    "openai": "mkdocs_imagegen.providers.openai:OpenAIProvider",
}


@dataclass(frozen=True)
class Route:
    model: str
    provider: Provider
    # Providers that could serve the model but have no credentials (set when falling back to a placeholder).
    unauthenticated: tuple[Provider, ...] = field(default=())

    @property
    def is_placeholder(self) -> bool:
        return self.provider.name == "placeholder"


def provider_class(name: str) -> type[Provider]:
    module_name, _, class_name = _PROVIDER_CLASSES[name].partition(":")
    return getattr(importlib.import_module(module_name), class_name)


class Registry:
    """Routes models to providers. Built from options, it makes its providers only when a route is
    asked for: a build whose banners are all cached imports no provider module and reads no credential."""

    def __init__(
        self,
        providers: Sequence[Provider] | Callable[[], Sequence[Provider]],
        *,
        order: Sequence[str] | None = None,
        aliases: Mapping[str, str] | None = None,
        catalogue: Catalogue | None = None,
    ) -> None:
        self._make_providers = providers if callable(providers) else None
        self._providers = None if callable(providers) else list(providers)
        self.order = list(order) if order is not None else [p.name for p in self._providers or []]
        self.aliases = dict(aliases or {})
        self.catalogue = catalogue or default_catalogue()
        self.placeholder = PlaceholderProvider(ProviderContext(catalogue=self.catalogue))

    @classmethod
    def from_options(
        cls,
        providers_options: Mapping[str, Any] | None = None,
        *,
        aliases: Mapping[str, str] | None = None,
        credentials: Credentials | None = None,
        catalogue: Catalogue | None = None,
    ) -> Registry:
        options = dict(providers_options or {})
        credentials = credentials or Credentials()
        catalogue = catalogue or default_catalogue()
        order = list(options.get("order") or REAL_PROVIDERS)

        def make() -> list[Provider]:
            return [provider_class(name)(ProviderContext(dict(options.get(name) or {}), credentials, catalogue))
                    for name in order]

        return cls(make, order=order, aliases=aliases, catalogue=catalogue)

    @property
    def providers(self) -> list[Provider]:
        """The providers in routing order, made on first use (the build's main thread asks first)."""
        if self._providers is None:
            assert self._make_providers is not None
            self._providers = list(self._make_providers())
        return self._providers

    def known_models(self) -> list[str]:
        return sorted({*self.catalogue.names(), *self.aliases})

    def resolve(self, name: str) -> str:
        """Alias or spelling -> the catalogue's canonical model name."""
        seen: list[str] = []
        current = name.strip()
        while current in self.aliases and current not in seen:
            seen.append(current)
            current = str(self.aliases[current]).strip()
        canonical = self.catalogue.canonical(current)
        if canonical is None:
            via = f" (alias of {current!r})" if seen else ""
            raise UnknownModelError(
                f"unknown model {name!r}{via}; known models: {', '.join(self.known_models())}"
            )
        return canonical

    def get(self, name: str) -> Provider:
        if name == "placeholder":
            return self.placeholder
        for provider in self.providers:
            if provider.name == name:
                return provider
        if name in REAL_PROVIDERS:
            # A provider left out of `order` can still be forced.
            provider = provider_class(name)(
                ProviderContext(credentials=self._credentials(), catalogue=self.catalogue))
            self.providers.append(provider)
            return provider
        raise ConfigError(f"unknown provider {name!r}; choose one of {', '.join(PROVIDER_CHOICES)}")

    def check(self, model_name: str, forced: str | None = None) -> str:
        """The canonical model, after every routing check that needs no credentials and no provider:
        the model is known, a forced provider serves it, some provider in `order` serves it.

        A banner that is already cached needs nothing more; `route` adds the credentials.
        """
        model = self.resolve(model_name)
        info = self.catalogue.get(model)
        served_by = set(info.providers) if info is not None else set()
        if forced:
            if forced == "placeholder":
                return model
            if forced not in REAL_PROVIDERS:
                raise ConfigError(f"unknown provider {forced!r}; choose one of {', '.join(PROVIDER_CHOICES)}")
            if forced not in served_by:
                served = ", ".join(self.catalogue.models_for(forced)) or "none"
                raise ConfigError(f"provider {forced!r} does not serve model {model!r}; it serves: {served}")
        elif not served_by.intersection(self.order):
            raise UnknownModelError(
                f"no configured provider serves {model!r} (providers.order is "
                f"{self.order}); known models: {', '.join(self.known_models())}"
            )
        return model

    def route(self, model_name: str, forced: str | None = None) -> Route:
        model = self.check(model_name, forced)
        if forced:
            provider = self.get(forced)
            if not provider.is_authenticated():
                raise ConfigError(f"provider {forced!r} is forced but not authenticated: {provider.auth_hint()}")
            return Route(model, provider)
        candidates = [p for p in self.providers if p.serves(model)]
        for provider in candidates:
            if provider.is_authenticated():
                return Route(model, provider)
        return Route(model, self.placeholder, unauthenticated=tuple(candidates))

    def _credentials(self) -> Credentials:
        return self.providers[0].credentials if self.providers else Credentials()

    def close(self) -> None:
        for provider in self._providers or []:
            provider.close()
