"""The real providers (google-genai SDK, httpx, azure-identity) against the local emulator.

Every wire detail checked here is one the real services care about: paths, auth headers, body
fields, retry hints and the shapes of refusals and failures (PROVIDERS.md).
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from mkdocs_imagegen.emulator import Emulator, Fault
from mkdocs_imagegen.errors import (
    AuthenticationError,
    BadRequestError,
    ContentRefusedError,
    InvalidImageError,
    QuotaExhaustedError,
    RateLimitedError,
    TransientError,
)
from mkdocs_imagegen.providers.base import Provider, ProviderContext
from mkdocs_imagegen.providers.credentials import Credentials, KeyStore
from mkdocs_imagegen.providers.foundry import FoundryProvider
from mkdocs_imagegen.providers.google import GoogleProvider
from mkdocs_imagegen.providers.openai import OpenAIProvider
from mkdocs_imagegen.request import GenerationRequest, Size

CLASSES: dict[str, type[Provider]] = {"google": GoogleProvider, "openai": OpenAIProvider, "foundry": FoundryProvider}
MODELS = {"google": "gemini-3.1-flash-image", "openai": "gpt-image-2", "foundry": "gpt-image-2"}
KEY_VARIABLES = {"google": "GEMINI_API_KEY", "openai": "OPENAI_API_KEY", "foundry": "AZURE_OPENAI_API_KEY"}
BANNER = Size(1792, 1024)
WRONG_KEY = "wrong-key-0123456789-abcdefghijklmnop"
MANAGED_IDENTITY_NOISE = ("AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET", "AZURE_USERNAME",
                          "AZURE_FEDERATED_TOKEN_FILE", "AZURE_TOKEN_CREDENTIALS", "MSI_ENDPOINT", "MSI_SECRET",
                          "IMDS_ENDPOINT", "IDENTITY_SERVER_THUMBPRINT")

MakeProvider = Callable[..., Provider]


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with Emulator() as emulator:
        yield emulator


@pytest.fixture(autouse=True)
def fresh_emulator(emu: Emulator) -> None:
    emu.reset()
    emu.deployments = {m: m for m in ("gpt-image-2", "gpt-image-2.5-flare", "MAI-Image-2e")}


@pytest.fixture
def make(emu: Emulator, tmp_path: Path) -> Iterator[MakeProvider]:
    """Build a provider on the emulator's environment (plus overrides); closed after the test."""
    made: list[Provider] = []

    def build(name: str, options: dict[str, Any] | None = None, drop: tuple[str, ...] = (),
              **environ: str) -> Provider:
        env = {k: v for k, v in (emu.env() | environ).items() if k not in drop}
        credentials = Credentials(environ=env, store=KeyStore(tmp_path / "keys.json"))
        provider = CLASSES[name](ProviderContext(options or {}, credentials))
        made.append(provider)
        return provider

    yield build
    for provider in made:
        provider.close()


def generate(provider: Provider, prompt: str = "a lighthouse at dusk", model: str | None = None,
             size: Size = BANNER, timeout: float = 10.0) -> Any:
    request = GenerationRequest(prompt=prompt, model=model or MODELS[provider.name], size=size)
    return provider.generate(request, timeout=timeout)


def decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


# --- success and the wire --------------------------------------------------------------------------


def test_google_generates_with_ratio_and_tier(emu: Emulator, make: MakeProvider) -> None:
    image = generate(make("google"))
    picture = decode(image.data)
    assert picture.size == (2752, 1536)  # 16:9 at 2K
    assert image.mime_type == "image/jpeg" and picture.format == "JPEG"
    assert image.requested == {"aspect_ratio": "16:9", "image_size": "2K"}
    assert image.details["usage"]["candidatesTokenCount"] > 0
    [record] = emu.image_requests()
    assert record.path in ("/v1/models/gemini-3.1-flash-image:generateContent",
                           "/v1beta/models/gemini-3.1-flash-image:generateContent")
    assert record.headers["x-goog-api-key"] == emu.keys["google"]
    assert record.body["generationConfig"] == {"responseModalities": ["IMAGE"],
                                               "imageConfig": {"aspectRatio": "16:9", "imageSize": "2K"}}
    assert record.prompt == "a lighthouse at dusk" and record.status == 200


def test_google_single_tier_model_sends_no_image_size(emu: Emulator, make: MakeProvider) -> None:
    image = generate(make("google"), model="gemini-2.5-flash-image", size=Size(1000, 1500))
    assert decode(image.data).size == (832, 1248)  # 2:3 at 1K on gemini-2.5-flash-image
    assert emu.image_requests()[0].body["generationConfig"]["imageConfig"] == {"aspectRatio": "2:3"}


def test_google_api_key_wins_over_gemini_key(emu: Emulator, make: MakeProvider) -> None:
    provider = make("google", GOOGLE_API_KEY=emu.keys["google"], GEMINI_API_KEY=WRONG_KEY)
    generate(provider)
    assert emu.image_requests()[0].headers["x-goog-api-key"] == emu.keys["google"]


def test_google_skips_thought_images(emu: Emulator, make: MakeProvider) -> None:
    emu.add_fault(Fault(provider="google", kind="thought_images"))
    thoughtful = generate(make("google"), prompt="a thoughtful fox")
    plain = generate(make("google"), prompt="a thoughtful fox")
    final = decode(thoughtful.data)
    assert emu.image_requests()[0].fault == "thought_images"
    assert thoughtful.details["thought_images_skipped"] == 1
    assert final.size == (2752, 1536)  # the interim draft is half size
    assert final.convert("RGB").getpixel((3, 3)) == decode(plain.data).convert("RGB").getpixel((3, 3))


@pytest.mark.parametrize(("model", "wire_size", "pixels"), [
    ("gpt-image-2", "1792x1024", (1792, 1024)),
    ("gpt-image-2.6-sunburst", "1792x1024", (1792, 1024)),
])
def test_openai_generates_an_accepted_size(emu: Emulator, make: MakeProvider, model: str, wire_size: str,
                                           pixels: tuple[int, int]) -> None:
    image = generate(make("openai"), model=model)
    assert decode(image.data).size == pixels and image.mime_type == "image/png"
    [record] = emu.image_requests()
    assert record.path == "/v1/images/generations" and record.status == 200
    assert record.headers["authorization"] == f"Bearer {emu.keys['openai']}"
    assert "response_format" not in record.body
    assert record.body == {"model": model, "prompt": "a lighthouse at dusk", "n": 1, "size": wire_size,
                           "quality": "auto", "output_format": "png"}
    assert image.details["x-request-id"].startswith("req_")


def test_foundry_generates_with_api_key_on_the_v1_route(emu: Emulator, make: MakeProvider) -> None:
    image = generate(make("foundry"))
    assert decode(image.data).size == (1792, 1024)
    [record] = emu.image_requests()
    assert record.path == "/azure/openai/v1/images/generations" and record.query == {}
    assert record.headers["api-key"] == emu.keys["foundry"] and "authorization" not in record.headers
    assert record.body["model"] == "gpt-image-2" and "response_format" not in record.body
    assert image.requested["deployment"] == "gpt-image-2" and image.details["auth"] == "api-key"
    assert image.requested["route"] == "v1"


def test_foundry_dated_api_version_uses_the_deployments_route(emu: Emulator, make: MakeProvider) -> None:
    image = generate(make("foundry", {"api_version": "2025-04-01-preview"}))
    assert decode(image.data).size == (1792, 1024)
    [record] = emu.image_requests()
    assert record.path == "/azure/openai/deployments/gpt-image-2/images/generations"
    assert record.query == {"api-version": "2025-04-01-preview"}
    assert "model" not in record.body
    assert image.requested["route"] == "deployments"


def test_foundry_mai_model_uses_the_mai_route_with_width_and_height(emu: Emulator, make: MakeProvider) -> None:
    image = generate(make("foundry"), model="MAI-Image-2e")
    [record] = emu.image_requests()
    assert record.path == "/azure/mai/v1/images/generations"
    assert record.body == {"model": "MAI-Image-2e", "prompt": "a lighthouse at dusk", "width": 1344, "height": 768}
    assert decode(image.data).size == (1344, 768)  # at most 1,048,576 pixels, short edge at least 768
    assert image.requested == {"size": "1344x768", "deployment": "MAI-Image-2e", "route": "mai"}


def test_foundry_custom_deployment_name(emu: Emulator, make: MakeProvider) -> None:
    emu.deployments["site-banners"] = "gpt-image-2.5-flare"
    provider = make("foundry", {"deployments": {"gpt-image-2.5-flare": "site-banners"}})
    image = generate(provider, model="gpt-image-2.5-flare")
    assert decode(image.data).size == (1792, 1024)
    [record] = emu.image_requests()
    assert record.deployment == "site-banners" and record.model == "gpt-image-2.5-flare"
    assert record.path == "/azure/openai/v1/images/generations" and record.body["model"] == "site-banners"


def test_foundry_missing_deployment_names_the_option(make: MakeProvider) -> None:
    provider = make("foundry", {"deployments": {"gpt-image-2": "not-deployed"}})
    with pytest.raises(BadRequestError) as caught:
        generate(provider)
    assert "providers.foundry.deployments" in str(caught.value) and "not-deployed" in str(caught.value)


def test_foundry_unknown_api_version_is_explained(make: MakeProvider) -> None:
    with pytest.raises(BadRequestError, match="api-version 1999-01-01"):
        generate(make("foundry", {"api_version": "1999-01-01"}))


def test_concurrent_generations_share_one_client(emu: Emulator, make: MakeProvider) -> None:
    providers = [make(name) for name in ("google", "openai", "foundry")]
    jobs = [(p, f"prompt {i}") for p in providers for i in range(4)]
    with ThreadPoolExecutor(6) as pool:
        images = list(pool.map(lambda job: generate(job[0], prompt=job[1]), jobs))
    assert len(images) == 12 and all(decode(image.data).width > 0 for image in images)
    assert {r.status for r in emu.image_requests()} == {200}


# --- Entra ID through the real DefaultAzureCredential ----------------------------------------------


def use_managed_identity(emu: Emulator, monkeypatch: pytest.MonkeyPatch, header: str | None = None) -> None:
    for name in MANAGED_IDENTITY_NOISE:
        monkeypatch.delenv(name, raising=False)
    for name, value in emu.managed_identity_env().items():
        monkeypatch.setenv(name, value)
    if header is not None:
        monkeypatch.setenv("IDENTITY_HEADER", header)


def test_foundry_entra_id_via_managed_identity(emu: Emulator, make: MakeProvider,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    use_managed_identity(emu, monkeypatch)
    provider = make("foundry", drop=("AZURE_OPENAI_API_KEY",))
    assert provider.is_authenticated() and emu.token_requests == 0  # no token until needed
    first, second = generate(provider), generate(provider, prompt="another")
    assert emu.token_requests == 1
    assert first.details["auth"] == second.details["auth"] == "entra-id"
    records = emu.image_requests()
    assert [r.status for r in records] == [200, 200]
    assert all(r.headers["authorization"].startswith("Bearer emu-token-") for r in records)
    assert all("api-key" not in r.headers for r in records)


def test_foundry_entra_failure_is_remembered(emu: Emulator, make: MakeProvider,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    use_managed_identity(emu, monkeypatch, header="not-the-identity-secret")
    provider = make("foundry", drop=("AZURE_OPENAI_API_KEY",))
    with pytest.raises(AuthenticationError, match="no Azure credential: set AZURE_OPENAI_API_KEY"):
        generate(provider)
    attempts = len(emu.requests)
    started = time.monotonic()
    with pytest.raises(AuthenticationError, match="az login"):
        generate(provider)
    assert time.monotonic() - started < 0.1 and len(emu.requests) == attempts
    assert emu.image_requests() == []


# --- refusals --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("provider", "kind", "reason"), [
    ("google", "block_reason", "blockReason PROHIBITED_CONTENT"),
    ("google", "image_safety", "finishReason IMAGE_SAFETY: Unable to show the generated image"),
    ("google", "text_only", "I can't generate that image"),
    ("openai", "moderation_blocked", "moderation_blocked: Your request was rejected by the safety system"),
    ("foundry", "content_policy_violation", "content_policy_violation (ResponsibleAIPolicyViolation)"),
])
def test_refusals(emu: Emulator, make: MakeProvider, provider: str, kind: str, reason: str) -> None:
    emu.add_fault(Fault(provider=provider, kind=kind))
    with pytest.raises(ContentRefusedError) as caught:
        generate(make(provider))
    assert reason in str(caught.value)
    assert caught.value.provider == provider and caught.value.model == MODELS[provider]


# --- credentials -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("provider", "variable", "reason"), [
    ("google", "GEMINI_API_KEY", "API_KEY_INVALID"),
    ("google", "GOOGLE_API_KEY", "API_KEY_INVALID"),
    ("openai", "OPENAI_API_KEY", "invalid_api_key"),
    ("foundry", "AZURE_OPENAI_API_KEY", "401"),
])
def test_wrong_key_names_the_variable_not_the_key(make: MakeProvider, provider: str, variable: str,
                                                  reason: str) -> None:
    with pytest.raises(AuthenticationError) as caught:
        generate(make(provider, **{variable: WRONG_KEY}))
    text = f"{caught.value} {caught.value!r}"
    assert variable in text and reason in text
    assert WRONG_KEY not in text and WRONG_KEY[-8:] not in text


def test_missing_google_key_is_an_authentication_error(make: MakeProvider) -> None:
    provider = make("google", drop=("GEMINI_API_KEY",))
    assert not provider.is_authenticated()
    with pytest.raises(AuthenticationError, match="GEMINI_API_KEY"):
        generate(provider)


# --- failures --------------------------------------------------------------------------------------


@pytest.mark.parametrize("provider", ["google", "openai", "foundry"])
def test_rate_limit_carries_the_retry_hint(emu: Emulator, make: MakeProvider, provider: str) -> None:
    emu.add_fault(Fault(provider=provider, kind="rate_limit", retry_after=2.5))
    with pytest.raises(RateLimitedError) as caught:
        generate(make(provider))
    assert caught.value.retry_after == pytest.approx(2.5)
    assert len(emu.image_requests()) == 1  # one attempt: the pipeline owns retries


def test_gemini_zero_quota_is_exhausted(emu: Emulator, make: MakeProvider) -> None:
    emu.add_fault(Fault(provider="google", kind="quota_zero"))
    with pytest.raises(QuotaExhaustedError, match="quota for this model is 0"):
        generate(make("google"))


@pytest.mark.parametrize("provider", ["google", "openai", "foundry"])
@pytest.mark.parametrize("kind", ["overloaded", "server_error", "reset"])
def test_server_trouble_is_transient(emu: Emulator, make: MakeProvider, provider: str, kind: str) -> None:
    emu.add_fault(Fault(provider=provider, kind=kind))
    with pytest.raises(TransientError) as caught:
        generate(make(provider))
    assert type(caught.value) is TransientError
    assert len(emu.image_requests()) == 1


@pytest.mark.parametrize("provider", ["google", "openai", "foundry"])
def test_truncated_base64_is_an_invalid_image(emu: Emulator, make: MakeProvider, provider: str) -> None:
    emu.add_fault(Fault(provider=provider, kind="truncated_b64"))
    with pytest.raises(InvalidImageError):
        generate(make(provider))


@pytest.mark.parametrize("provider", ["google", "openai", "foundry"])
def test_not_image_bytes_are_returned_as_is(emu: Emulator, make: MakeProvider, provider: str) -> None:
    """Checking that bytes are a usable image is the core's job (imaging.load_source)."""
    emu.add_fault(Fault(provider=provider, kind="not_image"))
    image = generate(make(provider))
    assert image.data.startswith(b"<html>")


@pytest.mark.parametrize("provider", ["google", "openai", "foundry"])
def test_slow_answers_time_out_quickly(emu: Emulator, make: MakeProvider, provider: str) -> None:
    built = make(provider)
    generate(built, prompt="warm up")  # client creation and SDK import are not part of the timeout
    emu.add_fault(Fault(provider=provider, kind="slow", delay=5.0))
    started = time.monotonic()
    with pytest.raises(TransientError, match="timed out"):
        generate(built, timeout=0.5)
    assert time.monotonic() - started < 2.0
