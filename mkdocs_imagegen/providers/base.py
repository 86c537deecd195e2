"""The provider interface every image backend implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ..catalogue import Catalogue, default_catalogue
from ..credentials import Credentials
from ..request import GenerationRequest


@dataclass
class ProviderImage:
    """What a provider returns: the raw bytes plus what it said about them."""

    data: bytes
    provider: str
    model: str
    mime_type: str | None = None
    requested: dict[str, Any] = field(default_factory=dict)  # what we asked the provider for (size, ratio...)
    details: dict[str, Any] = field(default_factory=dict)  # provider metadata worth keeping (usage, ids)


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

    def prepare(self, model: str) -> None:  # noqa: B027 - optional hook
        """Get ready to send: import the client library and make the client, so the first request
        does not wait for them. Called once, before the first request; must not make network calls.
        Whatever fails here is left for `generate` to report."""

    def close(self) -> None:  # noqa: B027 - optional hook; most providers hold nothing
        """Release clients and connections."""
