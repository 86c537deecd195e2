"""Model-name routing: the model decides the provider, the user never has to.

Rules (CONTRACT.md "Routing"): resolve aliases (the user's win over the catalogue's nicknames);
a forced provider is used or fails loudly; otherwise the first provider in `order` that serves
the model and is authenticated, with the other authenticated ones behind it to fall through to
when the first says the model is not there; if some provider serves it but none is
authenticated, a placeholder with each provider's hint; if nothing knows the model, an error
listing the known ones, with a "did you mean" for near misses.

Named endpoints (`providers.endpoints`) are providers like the others: the models an endpoint lists are
catalogue entries served by it (endpoint_models.py); a name nothing else knows may be served by an
endpoint whose `models` is "auto", which is asked only when a banner has to be made.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mkdocs_imagegen.catalogue.lookup import Catalogue, Resolution, default_catalogue
from mkdocs_imagegen.errors import ConfigError, UnknownModelError
from mkdocs_imagegen.provider_table import ENDPOINTS, PROVIDER_CHOICES, REAL_PROVIDERS, SPECS
from mkdocs_imagegen.providers import endpoint_models
from mkdocs_imagegen.providers.base import Provider, ProviderContext
from mkdocs_imagegen.providers.credentials import Credentials
from mkdocs_imagegen.providers.placeholder import PlaceholderProvider


@dataclass(frozen=True)
class Route:
    model: str
    provider: Provider
    # Providers that could serve the model but have no credentials (set when falling back to a placeholder).
    unauthenticated: tuple[Provider, ...] = field(default=())
    # Authenticated providers to try, in order, when `provider` answers that it has no such model.
    fallbacks: tuple[Provider, ...] = field(default=())
    # A placeholder because the banner is pending in this recorded batch job (batch_jobs.py).
    batch: str | None = None

    @property
    def is_placeholder(self) -> bool:
        return self.provider.name == "placeholder"

    def falling_through(self) -> Route | None:
        """The route to the next provider, or None when there is none."""
        if not self.fallbacks:
            return None
        return Route(self.model, self.fallbacks[0], fallbacks=self.fallbacks[1:])


def provider_class(name: str) -> type[Provider]:
    module_name, _, class_name = SPECS[name].provider.partition(":")
    return getattr(importlib.import_module(module_name), class_name)


class Registry:
    """Routes models to providers. Built from options, it makes its providers only when a route is
    asked for: a build whose banners are all cached imports no provider module and reads no credential."""

    def __init__(
        self,
        providers: Sequence[Provider] | Callable[[str], Provider],
        *,
        order: Sequence[str] | None = None,
        aliases: Mapping[str, str] | None = None,
        catalogue: Catalogue | None = None,
        endpoints: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        self.endpoints = {name: dict(options) for name, options in (endpoints or {}).items()}
        self.asking = endpoint_models.asking(self.endpoints)  # endpoints asked which models they serve
        self._make = providers if callable(providers) else None
        self._made: dict[str, Provider] = {} if callable(providers) else {p.name: p for p in providers}
        self.order = list(order) if order is not None else list(self._made)
        self.aliases = dict(aliases or {})
        self.catalogue = endpoint_models.with_endpoints(catalogue or default_catalogue(), self.endpoints)
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
        endpoints = dict(options.get(ENDPOINTS) or {})

        def make(name: str) -> Provider:  # every provider keeps its own options, in `order` or not
            context = ProviderContext(dict(endpoints.get(name) or options.get(name) or {}), credentials,
                                      registry.catalogue)  # with the endpoints' models
            return provider_class(ENDPOINTS)(context, name=name) if name in endpoints else provider_class(name)(context)

        order = list(options.get("order") or (*REAL_PROVIDERS, *endpoints))
        registry = cls(make, order=order, aliases=aliases, catalogue=catalogue, endpoints=endpoints)
        return registry

    @property
    def providers(self) -> list[Provider]:
        """The providers in routing order, made on first use (the build's main thread asks first)."""
        return [self.get(name) for name in self.order]

    def known_models(self) -> list[str]:
        """The names worth writing: aliases and catalogue models some provider still serves under their name (a
        model shut down everywhere is sent as its successor, so it is not offered)."""
        catalogue = self.catalogue
        served = [name for name in catalogue.names() if not catalogue.models[name].retires_by(catalogue.today)
                  or catalogue.models[name].shutdown_at]
        return sorted({*served, *self.aliases})

    def resolve(self, name: str) -> str:
        """Alias, nickname, retired or family name -> the model name to send."""
        return self.lookup(name).name

    def lookup(self, name: str, forced: str | None = None) -> Resolution:
        """What a written model name means; UnknownModelError (with near misses) when nothing knows it.
        A page that forces an endpoint sends any name the catalogue does not know as written."""
        seen: list[str] = []
        current = name.strip()
        while current in self.aliases and current not in seen:
            seen.append(current)
            current = str(self.aliases[current]).strip()
        found = self.catalogue.lookup(current)
        if found is None and forced in self.endpoints:
            return Resolution(endpoint_models.entry(current, (forced,)), name)
        if found is None and self.asking:  # perhaps an endpoint's: asked when a banner has to be made
            return Resolution(endpoint_models.entry(current, self.asking), name)
        if found is None:
            via = f" (alias of {current!r})" if seen else ""
            near = self.catalogue.suggestions(current, self.aliases)
            hint = f"did you mean {' or '.join(repr(n) for n in near)}? " if near else ""
            raise UnknownModelError(
                f"unknown model {name!r}{via}; {hint}known models: {', '.join(self.known_models())}; a model "
                "released since can be declared under `models:` in mkdocs.yml (see docs: troubleshooting#unknown-model)"
            )
        return found

    def get(self, name: str) -> Provider:
        if name == "placeholder":
            return self.placeholder
        if name not in self._made:
            if name not in self.choices:
                raise ConfigError(f"unknown provider {name!r}; choose one of {', '.join(self.choices)}")
            self._made[name] = self._make(name) if self._make else self._default_provider(name)
        return self._made[name]

    def label(self, name: str) -> str:
        """A provider's human name for messages, without making it: a warm build's notes (a deprecated model,
        a shutdown date) name providers it never asks, and making one imports its module and its HTTP client."""
        if name in self._made or name == "placeholder":
            return self.get(name).label
        if name in self.endpoints:
            return endpoint_models.label(name)
        return SPECS[name].label if name in SPECS else name

    @property
    def choices(self) -> tuple[str, ...]:
        """What `banner_provider` may name: the providers, the placeholder and the endpoints."""
        return (*PROVIDER_CHOICES, *self.endpoints)

    def _default_provider(self, name: str) -> Provider:
        """A provider the registry was not given, with default options and the others' credentials."""
        given = next(iter(self._made.values()), None)
        credentials = given.credentials if given is not None else Credentials()
        return provider_class(name)(ProviderContext(credentials=credentials, catalogue=self.catalogue))

    def check(self, model_name: str, forced: str | None = None) -> str:
        """The model to send, after every routing check that needs no credentials and no provider:
        the model is known, a forced provider serves it, some provider in `order` serves it.

        A banner that is already cached needs nothing more; `route` adds the credentials.
        """
        if forced and forced not in self.choices:
            raise ConfigError(f"unknown provider {forced!r}; choose one of {', '.join(self.choices)}")
        info = self.lookup(model_name, forced).info
        model = info.name
        if forced:
            if forced == "placeholder" or forced in self.endpoints:  # an endpoint is sent whatever it is told
                return model
            if forced not in info.providers:
                served = ", ".join(self.catalogue.models_for(forced)) or "none"
                raise ConfigError(f"provider {forced!r} does not serve model {model!r}; it serves: {served}")
        elif not set(info.providers).intersection(self.order):
            raise UnknownModelError(
                f"no configured provider serves {model!r} (it is served by {', '.join(info.providers)}; "
                f"providers.order is {self.order}); known models: {', '.join(self.known_models())}"
                " (see docs: troubleshooting#model-not-served)"
            )
        return model

    def route(self, model_name: str, forced: str | None = None) -> Route:
        model = self.check(model_name, forced)
        if forced:
            provider = self.get(forced)
            if not provider.is_authenticated():
                raise ConfigError(f"provider {forced!r} is forced but not authenticated: {provider.auth_hint()}"
                                  " (see docs: troubleshooting#no-credentials)")
            return Route(model, provider)
        served_by = self.lookup(model).info.providers
        candidates = [self.get(name) for name in self.order if name in served_by]
        if any(name in self.asking for name in served_by):
            candidates = self._listing(model, candidates)
        ready = [provider for provider in candidates if provider.is_authenticated()]
        if ready:
            return Route(model, ready[0], fallbacks=tuple(ready[1:]))
        return Route(model, self.placeholder, unauthenticated=tuple(candidates))

    def _listing(self, model: str, candidates: list[Provider]) -> list[Provider]:
        """The candidates, without the "auto" endpoints whose listing leaves `model` out (each asked once a
        build); one that cannot be asked stays, so a server that is down costs a placeholder, not the build."""
        kept, asked = [], []
        for provider in candidates:
            if provider.name not in self.asking:
                kept.append(provider)
                continue
            listing = provider.listing()  # type: ignore[attr-defined] - an EndpointProvider
            if model in listing.names or listing.problem:  # not answering: its own request will say why
                kept.append(provider)
            else:
                asked.append(f"{provider.name}: {listing.describe()}")
        if not kept:
            near = self.catalogue.suggestions(model, self.aliases)
            hint = f"did you mean {' or '.join(repr(n) for n in near)}? " if near else ""
            raise UnknownModelError(f"unknown model {model!r}: no catalogue entry, and no endpoint serves it "
                                    f"({'; '.join(asked)}); {hint}known models: {', '.join(self.known_models())}")
        return kept

    def close(self) -> None:
        for provider in self._made.values():
            provider.close()
