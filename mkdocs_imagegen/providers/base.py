"""The provider interface every image backend implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from mkdocs_imagegen.catalogue.lookup import Catalogue, default_catalogue
from mkdocs_imagegen.errors import ModelNotFoundError
from mkdocs_imagegen.provider_table import SPECS, ProviderSpec
from mkdocs_imagegen.providers.credentials import Credentials
from mkdocs_imagegen.request import GenerationRequest


@dataclass
class ProviderImage:
    """What a provider returns: the raw bytes plus what it said about them."""

    data: bytes
    provider: str
    model: str
    mime_type: str | None = None
    requested: dict[str, Any] = field(default_factory=dict)  # what we asked the provider for (size, ratio...)
    details: dict[str, Any] = field(default_factory=dict)  # provider metadata worth keeping (usage, ids)


@dataclass(frozen=True)
class ProviderStatus:
    """What `mkdocs-imagegen doctor` says of a provider: ready or not, and where from or how to fix it."""

    name: str
    label: str
    ready: bool
    detail: str  # where the credential comes from (never the credential), or the exact fix


@dataclass(frozen=True)
class LiveCheck:
    """One cheap authenticated call's answer: does the provider take our credential, and which image
    models (for Foundry: deployments) does it serve right now. Never generates, never costs anything."""

    ok: bool
    detail: str  # one line, never the credential
    served: tuple[str, ...] = ()  # the image models it serves, by our model names
    listed: tuple[str, ...] = ()  # everything the listing named (for Foundry: deployment names)


@dataclass
class ProviderContext:
    """Everything a provider may read: its own options block, credentials, the catalogue."""

    options: Mapping[str, Any] = field(default_factory=dict)
    credentials: Credentials = field(default_factory=Credentials)
    catalogue: Catalogue = field(default_factory=default_catalogue)


class Provider(ABC):
    name: ClassVar[str]
    label: ClassVar[str]  # human name for messages, e.g. "Azure AI Foundry"

    def __init__(self, context: ProviderContext | None = None) -> None:
        self.context = context or ProviderContext()

    @property
    def options(self) -> Mapping[str, Any]:
        return self.context.options

    @property
    def credentials(self) -> Credentials:
        return self.context.credentials

    @property
    def spec(self) -> ProviderSpec:
        return SPECS[self.name]

    def _key(self) -> tuple[str, str] | None:
        """(secret, where it came from): the provider table's key variables, then the key store."""
        return self.credentials.secret(self.name, *self.spec.key_variables)

    @property
    def endpoint_url(self) -> str | None:
        """The URL requests go to, when it is not the SDK's own default."""
        return None

    def status(self) -> ProviderStatus:
        """Ready or not, from configuration alone: no network call."""
        if not self.is_authenticated():
            return ProviderStatus(self.name, self.label, False, self.auth_hint())
        return ProviderStatus(self.name, self.label, True, "; ".join(self._status_parts()))

    def _status_parts(self) -> list[str]:
        key = self._key()
        parts = [(f"key from {key[1]}" if key[1] in self.spec.key_variables else key[1]) if key else "no key"]
        if self.endpoint_url:
            parts.append(f"endpoint {safe_url(self.endpoint_url)}")
        return parts

    def serves(self, model: str) -> bool:
        info = self.context.catalogue.get(model)
        return info is not None and self.name in info.providers

    def models(self) -> list[str]:
        return self.context.catalogue.models_for(self.name)

    @abstractmethod
    def is_authenticated(self) -> bool:
        """Cheap check: is a credential configured? Must not make network calls."""

    @abstractmethod
    def auth_hint(self) -> str:
        """One sentence telling the user exactly what to set to enable this provider."""

    @abstractmethod
    def generate(self, request: GenerationRequest, *, timeout: float) -> ProviderImage:
        """Make one image. Raise an `errors.ImagegenError` subclass on failure."""

    @property
    def max_in_flight(self) -> int | None:
        """The most requests it takes at once, when fewer than the build's `concurrency` (a local GPU: 1)."""
        return None

    def variants_per_request(self, model: str) -> int:
        """How many images of `model` one request may ask for (the `n` of OpenAI's API); 1: no `n`."""
        return 1

    def generate_variants(self, requests: list[GenerationRequest], *, timeout: float) -> list[ProviderImage]:
        """One image per request, for requests that differ only in `variant` (`compare`): providers that
        take `n` make them in one request; the others make one request each."""
        return [self.generate(request, timeout=timeout) for request in requests]

    def model_not_found(self, model: str, detail: str) -> ModelNotFoundError:
        """The error for "this provider has no such model", with what to use instead."""
        info = self.context.catalogue.get(model)
        if info is not None and info.successor:
            instead = f"its announced successor is {info.successor!r}"
        else:
            served = [name for name in self.models() if name != model]
            instead = f"the catalogue's {self.label} models are: {', '.join(served) or 'none'}"
        return ModelNotFoundError(
            f"{self.label} has no model {model!r} ({detail}); {instead}; "
            "`mkdocs-imagegen models --live` lists what it serves now"
            " (see docs: troubleshooting#model-not-served)", provider=self.name, model=model)

    def live(self, *, timeout: float = 20.0) -> LiveCheck:
        """Ask the provider which image models it serves now (one listing call); say what is wrong if it fails."""
        return LiveCheck(False, f"{self.label} cannot be asked which models it serves")

    def image_models(self, names: Iterable[str]) -> tuple[str, ...]:
        """The names among `names` that one of this provider's model families claims (image models)."""
        catalogue = self.context.catalogue
        kept = []
        for name in names:
            known = catalogue.get(name)
            family = known.family if known is not None else getattr(catalogue.family_of(name), "name", None)
            if family in self.spec.families:
                kept.append(name)
        return tuple(sorted(set(kept)))

    def batches(self) -> Any:
        """Its batch API (submit/poll, as providers/google_batch.py), or None where none is covered."""
        return None

    def prepare(self, model: str) -> None:  # noqa: B027 - optional hook
        """Get ready to send: import the client library and make the client, so the first request
        does not wait for them. Called once, before the first request; must not make network calls.
        Whatever fails here is left for `generate` to report."""

    def close(self) -> None:  # noqa: B027 - optional hook; most providers hold nothing
        """Release clients and connections."""


def safe_url(url: str) -> str:
    """An endpoint fit to print: no user:password, no query string (which may hold a key)."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        port = parts.port
    except ValueError:  # out of range: the URL is printed without it
        port = None
    netloc = f"{host}:{port}" if port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))
