"""The protocols the emulator speaks, derived from the provider table (`mkdocs_imagegen.providers.PROVIDERS`).

Each `ProviderSpec.emulator` names its protocol as "module:Class"; a new provider needs only its table
row, its provider module and its emulator module. The order is the table's: the route precedence
(see `Endpoint.claims`) and the order of `Emulator.env()`. Only the import-free table is read here,
never a provider module.
"""

from __future__ import annotations

from importlib import import_module

from mkdocs_imagegen.emulator.wire import ProtocolApi
from mkdocs_imagegen.provider_table import PROVIDERS as SPECS


def load_api(reference: str, provider: str) -> type[ProtocolApi]:
    """The class a "module:Class" reference names, checked to serve `provider`."""
    module_name, _, class_name = reference.partition(":")
    api = getattr(import_module(module_name), class_name)
    if getattr(api, "provider", None) != provider:
        raise ImportError(f"{reference} serves {getattr(api, 'provider', None)!r}, but the table row is {provider!r}")
    return api


APIS: tuple[type[ProtocolApi], ...] = tuple(load_api(spec.emulator, spec.name) for spec in SPECS)
PROVIDERS = tuple(api.provider for api in APIS)
DEFAULT_KEYS = {api.provider: api.default_key for api in APIS}
