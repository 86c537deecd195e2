"""The protocols the emulator speaks.  A new one is a module implementing `ProtocolApi` plus a line here.

The order is the route precedence (see `Endpoint.claims`) and the order of `Emulator.env()`.
"""

from __future__ import annotations

from .azure import AzureApi
from .gemini import GeminiApi
from .openai import OpenAIApi

APIS = (
    GeminiApi,
    OpenAIApi,
    AzureApi,
)
PROVIDERS = tuple(api.provider for api in APIS)
DEFAULT_KEYS = {api.provider: api.default_key for api in APIS}
