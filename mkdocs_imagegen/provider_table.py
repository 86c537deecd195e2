"""The image providers, as data: the one table to extend when a provider is added.

Kept import-free (no provider module, no SDK, no MkDocs), so `--help`, the config schema and a
warm build read it without loading any provider. Everything else derives from `PROVIDERS`: the
routing order, the `providers:` options in mkdocs.yml, the key store's provider names, the
CLI's choices, the emulator's protocols and the variables tests clear.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ProviderSpec:
    name: str  # what users write in `banner_provider`, `--provider`, `providers.order`
    label: str  # the human name in messages
    provider: str  # "module:Class" of its Provider, imported on first use
    emulator: str  # "module:Class" of the emulator's protocol for it
    families: tuple[str, ...]  # the catalogue's model families it serves (catalogue.json "families")
    key_variables: tuple[str, ...]  # credentials, in precedence order
    environment: tuple[str, ...] = ()  # every other variable it reads (endpoints, modes)
    # Its block under `providers:` in mkdocs.yml: option name -> "text" (a string or null), "url" (one with a
    # scheme, or null), "mapping" (names to names), "models" ("auto", a list of names, or names to
    # {price, size}), "count" (a whole number from 1, or null), "seconds" (or null), "answer" (b64_json, url or null).
    options: dict[str, str] = field(default_factory=dict)
    text: str = ""  # "module:function" that sends its text requests (drafting prompts and alt text)
    text_emulator: str = ""  # "module:Class" of the emulator's text endpoint for it
    # True: a kind of provider the user names, any number of times (`providers.endpoints.NAME`): its block holds
    # one options block per name, and each name is a provider of its own in `order` and `banner_provider`.
    named: bool = False


PROVIDERS: tuple[ProviderSpec, ...] = (
    ProviderSpec(
        name="google", label="Google Gemini",
        provider="mkdocs_imagegen.providers.google:GoogleProvider",
        emulator="mkdocs_imagegen.emulator.gemini:GeminiApi",
        families=("gemini",),
        key_variables=("GOOGLE_API_KEY", "GEMINI_API_KEY"),  # GOOGLE_API_KEY wins, as in the SDK
        environment=("GOOGLE_GEMINI_BASE_URL", "GOOGLE_GENAI_USE_VERTEXAI", "GOOGLE_CLOUD_PROJECT",
                     "GOOGLE_CLOUD_LOCATION"),
        options={"base_url": "url"},
        text="mkdocs_imagegen.providers.google_text:ask",
        text_emulator="mkdocs_imagegen.emulator.gemini_text:GeminiText",
    ),
    ProviderSpec(
        name="foundry", label="Azure AI Foundry",
        provider="mkdocs_imagegen.providers.foundry:FoundryProvider",
        emulator="mkdocs_imagegen.emulator.azure:AzureApi",
        families=("gpt-image", "mai-image"),
        key_variables=("AZURE_OPENAI_API_KEY",),
        environment=("AZURE_OPENAI_ENDPOINT", "AZURE_OPENAI_API_VERSION", "IDENTITY_ENDPOINT", "IDENTITY_HEADER",
                     "MSI_ENDPOINT", "MSI_SECRET"),
        options={"endpoint": "url", "api_version": "text", "deployments": "mapping"},
        text="mkdocs_imagegen.providers.foundry_text:ask",
        text_emulator="mkdocs_imagegen.emulator.azure_text:AzureText",
    ),
    ProviderSpec(
        name="openai", label="OpenAI",
        provider="mkdocs_imagegen.providers.openai:OpenAIProvider",
        emulator="mkdocs_imagegen.emulator.openai:OpenAIApi",
        families=("gpt-image", "chatgpt-image"),
        key_variables=("OPENAI_API_KEY",),
        environment=("OPENAI_BASE_URL",),
        options={"base_url": "url"},
        text="mkdocs_imagegen.providers.openai_text:ask",
        text_emulator="mkdocs_imagegen.emulator.openai_text:OpenAIText",
    ),
    ProviderSpec(
        name="endpoints", label="OpenAI-compatible endpoint",
        provider="mkdocs_imagegen.providers.endpoint:EndpointProvider",
        emulator="mkdocs_imagegen.emulator.local:LocalApi",
        families=(),  # it serves what its `models` option (or its own listing) names, not a catalogue family
        key_variables=(),  # its key's variable is its `key_env` option
        options={"base_url": "url", "key_env": "text", "models": "models", "concurrency": "count",
                 "timeout": "seconds", "response_format": "answer"},
        named=True,
    ),
)

SPECS = {spec.name: spec for spec in PROVIDERS}
REAL_PROVIDERS = tuple(spec.name for spec in PROVIDERS if not spec.named)  # also the default routing order
ENDPOINTS = next(spec.name for spec in PROVIDERS if spec.named)  # the `providers:` block of named endpoints
PROVIDER_CHOICES = (*REAL_PROVIDERS, "placeholder")
