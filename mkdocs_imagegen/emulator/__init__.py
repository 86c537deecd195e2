"""A loopback fake of the three image APIs mkdocs-imagegen talks to.

The emulator speaks the real wire protocols of Google Gemini (``generateContent``), OpenAI
(``/v1/images/generations``) and Azure OpenAI / AI Foundry (deployment and v1 paths, api-key or
Entra ID bearer tokens from an App Service style managed-identity endpoint), so the real SDKs and
HTTP clients can be tested end to end without a network.  Faults reproduce the byte-level shapes
the real services produce when things go wrong (rate limits, overload, refusals, broken images,
dropped connections).

Only the standard library and Pillow are used here.  The server binds to 127.0.0.1 only.

Each protocol serves exactly the models the catalogue (mkdocs_imagegen/catalogue.json) says are live
for its provider, plus any added with ``Emulator(extra_models=...)``, `Emulator.add_model` or
``--serve-model``; a retired or unknown name gets the provider's real "not found" answer.

Modules: server (HTTP, `Emulator`), serve (`run`), wire (shared request/response types,
`ProtocolApi`), models (which models each protocol serves, with their catalogue rules), gemini,
openai, azure and mai (one per protocol or route), local (the OpenAI-compatible servers people run
themselves: stable-diffusion.cpp, LocalAI, a LiteLLM proxy), apis (the protocols, from the provider table),
identity (managed-identity tokens), faults (`Fault`, `parse_fault_spec` for `--fault`), images (rendering),
unknown (each protocol's own 404 for a path no route takes). Every answer carries an `x-request-id`.
"""

from mkdocs_imagegen.emulator.apis import APIS, DEFAULT_KEYS, PROVIDERS
from mkdocs_imagegen.emulator.azure import AzureApi
from mkdocs_imagegen.emulator.faults import FAULT_KINDS, Fault, parse_fault_spec
from mkdocs_imagegen.emulator.gemini import GeminiApi
from mkdocs_imagegen.emulator.images import NOT_IMAGE, bomb_png, prompt_colour, render_image
from mkdocs_imagegen.emulator.models import ServedModels, parse_model_specs
from mkdocs_imagegen.emulator.openai import OpenAIApi
from mkdocs_imagegen.emulator.serve import run
from mkdocs_imagegen.emulator.server import HOST, Emulator
from mkdocs_imagegen.emulator.wire import ProtocolApi, RecordedRequest

__all__ = [
    "APIS",
    "DEFAULT_KEYS",
    "FAULT_KINDS",
    "HOST",
    "NOT_IMAGE",
    "PROVIDERS",
    "AzureApi",
    "Emulator",
    "Fault",
    "GeminiApi",
    "OpenAIApi",
    "ProtocolApi",
    "RecordedRequest",
    "ServedModels",
    "bomb_png",
    "parse_fault_spec",
    "parse_model_specs",
    "prompt_colour",
    "render_image",
    "run",
]
