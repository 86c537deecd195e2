"""Which models each protocol serves: the catalogue's live models, plus extras a test or `--serve-model` adds.

The emulator lives in the catalogue's world: a name the catalogue retired, or one it never heard of,
gets the provider's real "not found" answer, so a test notices when the plugin sends a shut-down
model. Sizes, ratios, tiers and qualities are the catalogue entry's (`ModelInfo`). An extra model
the catalogue lacks takes its family's rules when a family pattern claims it, else permissive ones.
Only `mkdocs_imagegen.catalogue.lookup` and the import-free provider table are used here.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import replace

from mkdocs_imagegen.catalogue.lookup import Catalogue, ModelInfo, default_catalogue
from mkdocs_imagegen.emulator.apis import APIS
from mkdocs_imagegen.provider_table import PROVIDERS as SPECS

PROVIDER_NAMES = tuple(spec.name for spec in SPECS)
ALL_QUALITIES = ("low", "medium", "high", "xhigh", "max", "auto")

ExtraModels = Mapping[str, Iterable[str]] | Iterable[str]


def parse_model_specs(specs: ExtraModels | None) -> dict[str, list[str]]:
    """{provider: [names]} from a mapping, or from "PROVIDER:NAME" strings (`--serve-model`).

    Raises ValueError naming the bad entry.
    """
    found: dict[str, list[str]] = {}
    if specs is None:
        return found
    if isinstance(specs, Mapping):
        pairs = [(provider, name) for provider, names in specs.items()
                 for name in ([names] if isinstance(names, str) else names)]
    else:
        pairs = []
        for spec in specs:
            provider, colon, name = str(spec).partition(":")
            if not colon or not name.strip():
                raise ValueError(f"expected PROVIDER:NAME (PROVIDER one of {', '.join(PROVIDER_NAMES)}), got {spec!r}")
            pairs.append((provider.strip(), name))
    for provider, name in pairs:
        if provider not in PROVIDER_NAMES:
            raise ValueError(f"unknown provider {provider!r} for model {name!r}; known: {', '.join(PROVIDER_NAMES)}")
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"expected a model name for provider {provider!r}, got {name!r}")
        found.setdefault(provider, []).append(name.strip())
    return found


class ServedModels:
    """The models each provider's protocol serves, with the rules each is validated by. Thread-safe."""

    def __init__(self, catalogue: Catalogue | None = None, extra: ExtraModels | None = None) -> None:
        self.catalogue = catalogue or default_catalogue()
        self._lock = threading.Lock()
        self._extra: dict[str, dict[str, ModelInfo]] = {name: {} for name in PROVIDER_NAMES}
        for provider, names in parse_model_specs(extra).items():
            for name in names:
                self.add(provider, name)

    def add(self, provider: str, name: str, info: ModelInfo | None = None) -> ModelInfo:
        """Serve `name` on `provider`'s protocol too (with `info`'s rules, else as `rules_for` finds)."""
        if provider not in PROVIDER_NAMES:
            raise ValueError(f"unknown provider {provider!r}; known: {', '.join(PROVIDER_NAMES)}")
        info = info or self.rules_for(provider, name)
        with self._lock:
            self._extra[provider][name] = info
        return info

    def rules_for(self, provider: str, name: str) -> ModelInfo:
        """The entry for an extra model: the catalogue's own (even a retired one), its family's, or permissive."""
        info = self.catalogue.models.get(name)
        if info is None and self.catalogue.family_of(name) is not None:
            # A catalogue without models or retirements resolves the name through its family only.
            bare = Catalogue(self.catalogue.families, {}, {}, today=self.catalogue.today)
            found = bare.lookup(name)
            info = found.info if found is not None else None
        if info is None:
            info = ModelInfo(name=name, family="", providers=(provider,), qualities=ALL_QUALITIES, known=False)
        api = next(api for api in APIS if api.provider == provider)
        if info.sizes.kind not in api.size_kinds:  # e.g. a Gemini name served by OpenAI
            info = replace(info, sizes=api.permissive_sizes)
        if provider not in info.providers:
            info = replace(info, providers=(*info.providers, provider))
        return info

    def served(self, provider: str) -> dict[str, ModelInfo]:
        """name -> entry, for every model `provider` serves: the catalogue's live ones first, then extras."""
        models = {info.name: info for info in self.catalogue.live(provider)}
        with self._lock:
            models.update(self._extra.get(provider, {}))
        return models

    def get(self, provider: str, name: str) -> ModelInfo | None:
        """The entry if `provider` serves `name` today, else None (retired, or never heard of)."""
        with self._lock:
            extra = self._extra.get(provider, {}).get(name)
        if extra is not None:
            return extra
        if name in self.catalogue.retired:
            return None
        info = self.catalogue.models.get(name)
        return info if info is not None and provider in info.providers else None

    def names(self, provider: str) -> list[str]:
        return list(self.served(provider))

    def extras(self, provider: str) -> list[str]:
        with self._lock:
            return list(self._extra.get(provider, {}))

    def is_retired(self, name: str, provider: str | None = None) -> bool:
        """Retired everywhere, or (given a provider) shut down at that provider though others still serve it."""
        if name in self.catalogue.retired:
            return True
        entry = self.catalogue.models.get(name)
        return (provider is not None and entry is not None and provider in entry.shutdown_at
                and entry.retires_by(self.catalogue.today))
