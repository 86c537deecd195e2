"""Live discovery: ask each authenticated provider what it serves now, next to what the catalogue says.

`mkdocs-imagegen models --live` and `doctor --live` print this; neither generates an image or
costs anything (one listing call per provider).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from mkdocs_imagegen.providers.base import LiveCheck, Provider
from mkdocs_imagegen.providers.registry import Registry


@dataclass(frozen=True)
class LiveProvider:
    provider: Provider
    check: LiveCheck
    known: list[str] = field(default_factory=list)  # served and in the catalogue
    uncatalogued: list[str] = field(default_factory=list)  # served, not in the catalogue: usable by name
    not_served: list[str] = field(default_factory=list)  # in the catalogue for this provider, not served here
    missing_deployments: list[str] = field(default_factory=list)  # Foundry: `deployments` entries not found

    @property
    def name(self) -> str:
        return self.provider.name


def discover(registry: Registry, *, timeout: float = 20.0) -> list[LiveProvider]:
    """One live check per authenticated provider in routing order (asked at once); others are left out."""
    providers = [provider for provider in registry.providers if provider.is_authenticated()]
    with ThreadPoolExecutor(max_workers=max(1, len(providers))) as pool:
        checks = list(pool.map(lambda provider: provider.live(timeout=timeout), providers))
    return [_compare(registry, provider, check) for provider, check in zip(providers, checks, strict=True)]


def _compare(registry: Registry, provider: Provider, check: LiveCheck) -> LiveProvider:
    if not check.ok:
        return LiveProvider(provider, check)
    catalogue = registry.catalogue
    served = set(check.served)
    ours = set(catalogue.models_for(provider.name))
    missing = getattr(provider, "missing_deployments", None)
    return LiveProvider(
        provider, check,
        known=sorted(served & ours),
        uncatalogued=sorted(name for name in served if name not in catalogue.models),
        not_served=sorted(ours - served),
        missing_deployments=missing(check) if callable(missing) else [],
    )


def retired_note(registry: Registry, model: str) -> str:
    """"retired 2026-06-25" for a catalogue entry whose shutdown has passed, else ""."""
    retirement = registry.catalogue.retired.get(model)
    return f"retired {retirement.shutdown}" if retirement else ""
