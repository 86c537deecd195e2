"""Unit tests of the three real providers: request building, sizes, retry hints, error mapping.

HTTP is faked with `httpx.MockTransport`; the end-to-end tests against the emulator live in
`test_providers_e2e.py`.
"""

from __future__ import annotations

import base64
import io
import json
import math
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from mkdocs_imagegen.catalogue.lookup import default_catalogue
from mkdocs_imagegen.errors import (
    AuthenticationError,
    BadRequestError,
    ContentRefusedError,
    ImagegenError,
    InvalidImageError,
    ModelNotFoundError,
    QuotaExhaustedError,
    RateLimitedError,
    TransientError,
    UnverifiedOrganizationError,
)
from mkdocs_imagegen.providers import openai_common as common
from mkdocs_imagegen.providers.base import ProviderContext
from mkdocs_imagegen.providers.credentials import Credentials, KeyStore
from mkdocs_imagegen.providers.foundry import NO_CREDENTIAL, FoundryProvider, normalise_endpoint
from mkdocs_imagegen.providers.gemini_answers import extract_image, is_zero_quota, parse_body, retry_delay
from mkdocs_imagegen.providers.google import GoogleProvider
from mkdocs_imagegen.providers.openai import OpenAIProvider
from mkdocs_imagegen.request import GenerationRequest, Size

OPENAI_KEY = "sk-unit-test-openai-key-0123456789abcdef"
AZURE_KEY = "azure-unit-test-key-0123456789abcdef"
GEMINI_KEY = "AIzaUnitTestGeminiKey0123456789abcdef"
ENDPOINT = "https://unit.openai.azure.com"
Handler = Callable[[httpx.Request], httpx.Response]


def png_bytes(width: int = 32, height: int = 16, colour: tuple[int, int, int] = (10, 20, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, "PNG")
    return out.getvalue()


PNG = png_bytes()
PNG_B64 = base64.b64encode(PNG).decode()


def credentials(tmp_path: Path, **environ: str) -> Credentials:
    return Credentials(environ=environ, store=KeyStore(tmp_path / "keys.json"))


BANNER = Size(1792, 1024)


def request(model: str = "gpt-image-2", size: Size = BANNER, quality: str = "auto") -> GenerationRequest:
    return GenerationRequest(prompt="a lighthouse at dusk", model=model, size=size, quality=quality)


class Recorder:
    """A MockTransport handler that records requests and answers with a scripted response."""

    def __init__(self, respond: Handler | None = None) -> None:
        self.requests: list[httpx.Request] = []
        self.respond = respond or (lambda _: ok_response())

    def __call__(self, req: httpx.Request) -> httpx.Response:
        self.requests.append(req)
        return self.respond(req)

    @property
    def body(self) -> dict[str, Any]:
        return json.loads(self.requests[-1].content)

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)


def ok_response(b64: str = PNG_B64, **extra: Any) -> httpx.Response:
    payload = {"created": 1, "data": [{"b64_json": b64, **extra}], "usage": {"total_tokens": 7},
               "future_field": {"tolerated": True}}
    return httpx.Response(200, json=payload, headers={"x-request-id": "req_1"})


def error_response(status: int, code: str | None, message: str = "nope", *, headers: dict[str, str] | None = None,
                   **extra: Any) -> httpx.Response:
    error = {"message": message, "type": "invalid_request_error", "param": None, "code": code, **extra}
    return httpx.Response(status, json={"error": error}, headers=headers)


def openai_provider(tmp_path: Path, recorder: Recorder, options: dict[str, Any] | None = None,
                    **environ: str) -> OpenAIProvider:
    env = {"OPENAI_API_KEY": OPENAI_KEY, **environ}
    return OpenAIProvider(ProviderContext(options or {}, credentials(tmp_path, **env)),
                          transport=recorder.transport)


def foundry_provider(tmp_path: Path, recorder: Recorder, options: dict[str, Any] | None = None,
                     credential: Any = None, key: bool = True, **environ: str) -> FoundryProvider:
    env = {"AZURE_OPENAI_ENDPOINT": ENDPOINT, **({"AZURE_OPENAI_API_KEY": AZURE_KEY} if key else {}), **environ}
    return FoundryProvider(ProviderContext(options or {}, credentials(tmp_path, **env)), credential,
                           transport=recorder.transport)


def assert_no_secret(error: BaseException, *secrets: str) -> None:
    text = f"{error} {error!r} {getattr(error, 'message', '')}"
    for secret in secrets:
        assert secret not in text


# --- sizes -----------------------------------------------------------------------------------------


GPT_IMAGE_2 = default_catalogue().get("gpt-image-2").sizes


@pytest.mark.parametrize(("target", "expected"), [
    (Size(1792, 1024), Size(1792, 1024)),
    (Size(1024, 1024), Size(1024, 1024)),
    (Size(800, 400), Size(1152, 576)),
    (Size(8192, 8192), Size(2880, 2880)),
    (Size(1200, 630), Size(1184, 624)),
])
def test_custom_size_is_nearest_valid(target: Size, expected: Size) -> None:
    assert common.custom_size(GPT_IMAGE_2, target) == expected


def test_custom_size_clamps_aspect_to_three_to_one() -> None:
    size = common.custom_size(GPT_IMAGE_2, Size(6000, 100))
    assert GPT_IMAGE_2.accepts(size.width, size.height)
    assert 2.9 <= size.aspect <= 3.0


@settings(max_examples=150, deadline=None)
@given(st.integers(16, 8192), st.integers(16, 8192))
def test_custom_size_is_always_accepted(width: int, height: int) -> None:
    target = Size(width, height)
    size = common.custom_size(GPT_IMAGE_2, target)
    assert GPT_IMAGE_2.accepts(size.width, size.height)
    clamped = min(max(target.aspect, 1 / 3), 3)
    assert abs(math.log(size.aspect / clamped)) < 0.05


@pytest.mark.parametrize(("target", "expected"), [
    (Size(1792, 1024), "1536x1024"),
    (Size(1024, 1792), "1024x1536"),
    (Size(1000, 1000), "1024x1024"),
    (Size(1100, 1000), "1024x1024"),
    (Size(3000, 1000), "1536x1024"),
])
def test_fixed_size_models_get_the_nearest_aspect(target: Size, expected: str) -> None:
    # gpt-image-1.5 was shut down on 2026-12-01; its entry keeps the fixed sizes it took.
    assert common.wire_size(default_catalogue().models["gpt-image-1.5"], target) == expected


def test_wire_size_uses_custom_sizes_for_gpt_image_2() -> None:
    assert common.wire_size(default_catalogue().get("gpt-image-2"), Size(1792, 1024)) == "1792x1024"


# --- retry hints and error parsing -----------------------------------------------------------------


@pytest.mark.parametrize(("headers", "expected"), [
    ({"retry-after-ms": "1500", "retry-after": "2"}, 1.5),
    ({"retry-after": "7"}, 7.0),
    ({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, None),
    ({"retry-after-ms": "junk", "retry-after": "3"}, 3.0),
    ({}, None),
])
def test_retry_after_prefers_milliseconds(headers: dict[str, str], expected: float | None) -> None:
    assert common.retry_after(httpx.Headers(headers)) == expected


def test_parse_error_reads_azure_inner_error_spellings() -> None:
    for inner_name in ("inner_error", "innererror"):
        response = httpx.Response(400, json={"error": {
            "code": "content_policy_violation", "message": "blocked",
            inner_name: {"code": "ResponsibleAIPolicyViolation",
                         "content_filter_results": {"violence": {"filtered": True}, "hate": {"filtered": False}}},
        }})
        error = common.parse_error(response)
        assert error.inner_code == "ResponsibleAIPolicyViolation"
        assert error.filtered == ("violence",)


def test_parse_error_tolerates_non_json() -> None:
    error = common.parse_error(httpx.Response(502, text="<html>Bad gateway</html>"))
    assert error.status == 502 and "Bad gateway" in error.message


def test_scrub_removes_the_secret_and_shortens() -> None:
    assert common.scrub(f"bad key {OPENAI_KEY} here", OPENAI_KEY) == "bad key [redacted] here"
    assert len(common.scrub("x" * 1000, None)) == common.MAX_QUOTED_CHARS


# --- OpenAI ----------------------------------------------------------------------------------------


def test_openai_request_and_response(tmp_path: Path) -> None:
    recorder = Recorder()
    provider = openai_provider(tmp_path, recorder)
    image = provider.generate(request(quality="high"), timeout=30)
    sent = recorder.requests[-1]
    assert str(sent.url) == "https://api.openai.com/v1/images/generations"
    assert sent.headers["authorization"] == f"Bearer {OPENAI_KEY}"
    assert recorder.body == {"model": "gpt-image-2", "prompt": "a lighthouse at dusk", "n": 1,
                             "size": "1792x1024", "quality": "high", "output_format": "png"}
    assert "response_format" not in recorder.body
    assert image.data == PNG and image.mime_type == "image/png"
    assert image.provider == "openai" and image.model == "gpt-image-2"
    assert image.requested == {"size": "1792x1024", "quality": "high", "output_format": "png"}
    assert image.details["usage"] == {"total_tokens": 7} and image.details["x-request-id"] == "req_1"
    assert_no_secret(AssertionError(repr(image.details)), OPENAI_KEY)


def test_openai_base_url_option_wins_over_environment(tmp_path: Path) -> None:
    recorder = Recorder()
    provider = openai_provider(tmp_path, recorder, {"base_url": "http://proxy.local/v1/"},
                               OPENAI_BASE_URL="http://env.local/v1")
    provider.generate(request("gpt-image-2.5-flare"), timeout=30)
    assert str(recorder.requests[-1].url) == "http://proxy.local/v1/images/generations"
    assert recorder.body["size"] == "1792x1024"
    provider = openai_provider(tmp_path, recorder, OPENAI_BASE_URL="http://env.local/v1")
    provider.generate(request(), timeout=30)
    assert str(recorder.requests[-1].url) == "http://env.local/v1/images/generations"


def test_openai_authentication_state(tmp_path: Path) -> None:
    provider = OpenAIProvider(ProviderContext({}, credentials(tmp_path)))
    assert not provider.is_authenticated()
    assert "OPENAI_API_KEY" in provider.auth_hint() and "keys set openai" in provider.auth_hint()
    with pytest.raises(AuthenticationError, match="OPENAI_API_KEY"):
        provider.generate(request(), timeout=1)
    assert openai_provider(tmp_path, Recorder()).is_authenticated()


@pytest.mark.parametrize(("response", "error_type", "text"), [
    (error_response(401, "invalid_api_key", f"Incorrect API key provided: {OPENAI_KEY}"),
     AuthenticationError, "OPENAI_API_KEY (invalid_api_key)"),
    (error_response(400, "moderation_blocked", "Your request was rejected by the safety system."),
     ContentRefusedError, "moderation_blocked: Your request was rejected"),
    (error_response(429, "insufficient_quota", "You exceeded your current quota"),
     QuotaExhaustedError, "insufficient_quota"),
    (error_response(400, "invalid_value", "Invalid size", param="size"), BadRequestError, "param size"),
    (error_response(400, "unknown_parameter", "Unknown parameter: 'response_format'."),
     BadRequestError, "unknown_parameter"),
    (error_response(404, "model_not_found", "The model does not exist"), ModelNotFoundError,
     "OpenAI has no model 'gpt-image-2' (model_not_found at https://api.openai.com/v1)"),
    (error_response(403, None, "Your organization must be verified to use the model `gpt-image-2`. Please go to: "
                    "https://platform.openai.com/settings/organization/general and click on Verify Organization."),
     UnverifiedOrganizationError, "verify yours at https://platform.openai.com/settings/organization/general"),
    (error_response(500, None, "The server had an error"), TransientError, "server error 500"),
    (httpx.Response(502, text="<html>bad gateway</html>"), TransientError, "502"),
])
def test_openai_error_mapping(tmp_path: Path, response: httpx.Response, error_type: type[ImagegenError],
                              text: str) -> None:
    provider = openai_provider(tmp_path, Recorder(lambda _: response))
    with pytest.raises(error_type) as caught:
        provider.generate(request(), timeout=30)
    assert type(caught.value) is error_type
    assert text in str(caught.value)
    assert caught.value.provider == "openai" and caught.value.model == "gpt-image-2"
    assert_no_secret(caught.value, OPENAI_KEY)


def test_openai_rate_limit_carries_the_hint(tmp_path: Path) -> None:
    response = error_response(429, "rate_limit_exceeded", "slow down",
                              headers={"retry-after-ms": "2500", "retry-after": "3"})
    provider = openai_provider(tmp_path, Recorder(lambda _: response))
    with pytest.raises(RateLimitedError) as caught:
        provider.generate(request(), timeout=30)
    assert caught.value.retry_after == 2.5


def test_openai_auth_error_names_the_key_store(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "keys.json")
    store.set("openai", OPENAI_KEY)
    provider = OpenAIProvider(ProviderContext({}, Credentials(environ={}, store=store)),
                              transport=Recorder(lambda _: error_response(401, "invalid_api_key")).transport)
    with pytest.raises(AuthenticationError) as caught:
        provider.generate(request(), timeout=30)
    assert "mkdocs-imagegen keys set openai" in str(caught.value)
    assert_no_secret(caught.value, OPENAI_KEY)


def test_provider_text_is_scrubbed_of_the_key(tmp_path: Path) -> None:
    response = error_response(400, "invalid_value", f"bad request from {OPENAI_KEY}")
    provider = openai_provider(tmp_path, Recorder(lambda _: response))
    with pytest.raises(BadRequestError) as caught:
        provider.generate(request(), timeout=30)
    assert "[redacted]" in str(caught.value)
    assert_no_secret(caught.value, OPENAI_KEY)


@pytest.mark.parametrize(("response", "text"), [
    (ok_response(PNG_B64[:-3]), "invalid base64"),
    (ok_response("@@@@" + PNG_B64), "invalid base64"),
    (ok_response(base64.b64encode(PNG[: len(PNG) // 2 // 3 * 3]).decode()), "truncated PNG"),
    (ok_response(""), "no image data"),
    (httpx.Response(200, json={"data": []}), "empty `data` list"),
    (httpx.Response(200, content=b'{"data": [{"b64_json": "iVBOR'), "not valid JSON"),
])
def test_openai_broken_images(tmp_path: Path, response: httpx.Response, text: str) -> None:
    provider = openai_provider(tmp_path, Recorder(lambda _: response))
    with pytest.raises(InvalidImageError, match=text):
        provider.generate(request(), timeout=30)


@pytest.mark.parametrize(("exception", "text"), [
    (httpx.ReadTimeout("read timed out"), "timed out after 0.5 s"),
    (httpx.ConnectError("connection refused"), "connection failed (ConnectError"),
    (httpx.RemoteProtocolError("peer closed connection"), "connection failed"),
])
def test_openai_network_failures_are_transient(tmp_path: Path, exception: Exception, text: str) -> None:
    def fail(_: httpx.Request) -> httpx.Response:
        raise exception

    provider = openai_provider(tmp_path, Recorder(fail))
    with pytest.raises(TransientError, match=text.replace("(", r"\(")):
        provider.generate(request(), timeout=0.5)


def test_openai_client_is_created_once_and_closed(tmp_path: Path) -> None:
    provider = openai_provider(tmp_path, Recorder())
    with ThreadPoolExecutor(4) as pool:
        clients = set(pool.map(lambda _: id(provider._http.get()), range(16)))
    assert len(clients) == 1
    provider.close()
    assert provider._http._client is None


# --- Azure AI Foundry ------------------------------------------------------------------------------


def test_foundry_request_with_api_key_and_deployment_map(tmp_path: Path) -> None:
    recorder = Recorder()
    provider = foundry_provider(tmp_path, recorder, {"deployments": {"gpt-image-2.5-flare": "my banners"},
                                                     "api_version": "2025-04-01-preview"})
    image = provider.generate(request("gpt-image-2.5-flare"), timeout=30)
    sent = recorder.requests[-1]
    assert sent.url.raw_path.startswith(b"/openai/deployments/my%20banners/images/generations?")
    assert sent.url.params["api-version"] == "2025-04-01-preview"
    assert sent.headers["api-key"] == AZURE_KEY and "authorization" not in sent.headers
    assert "model" not in recorder.body and "response_format" not in recorder.body
    assert recorder.body["size"] == "1792x1024" and recorder.body["n"] == 1
    assert image.requested["deployment"] == "my banners" and image.details["auth"] == "api-key"
    assert image.data == PNG


def test_foundry_options_win_and_endpoint_is_normalised(tmp_path: Path) -> None:
    recorder = Recorder()
    provider = foundry_provider(tmp_path, recorder, {"endpoint": "https://opt.openai.azure.com/openai/",
                                                     "api_version": "2024-10-21"},
                                AZURE_OPENAI_API_VERSION="2025-03-01-preview")
    provider.generate(request(), timeout=30)
    sent = recorder.requests[-1]
    assert sent.url.host == "opt.openai.azure.com"
    assert sent.url.path == "/openai/deployments/gpt-image-2/images/generations"
    assert sent.url.params["api-version"] == "2024-10-21"
    provider = foundry_provider(tmp_path, recorder, AZURE_OPENAI_API_VERSION="2025-03-01-preview")
    provider.generate(request(), timeout=30)
    assert recorder.requests[-1].url.params["api-version"] == "2025-03-01-preview"


@pytest.mark.parametrize(("given_endpoint", "expected"), [
    ("https://x.openai.azure.com", "https://x.openai.azure.com"),
    ("https://x.openai.azure.com/", "https://x.openai.azure.com"),
    ("https://x.openai.azure.com/openai/v1/", "https://x.openai.azure.com"),
    ("https://x.services.ai.azure.com/openai", "https://x.services.ai.azure.com"),
])
def test_normalise_endpoint(given_endpoint: str, expected: str) -> None:
    assert normalise_endpoint(given_endpoint) == expected


def test_foundry_authentication_state(tmp_path: Path) -> None:
    no_endpoint = FoundryProvider(ProviderContext({}, credentials(tmp_path, AZURE_OPENAI_API_KEY=AZURE_KEY)))
    assert not no_endpoint.is_authenticated()
    hint = no_endpoint.auth_hint()
    assert "AZURE_OPENAI_ENDPOINT" in hint and "AZURE_OPENAI_API_KEY" in hint and "az login" in hint

    class Exploding:
        def get_token(self, *scopes: str, **kwargs: Any) -> Any:
            raise AssertionError("is_authenticated must not ask for a token")

    entra = FoundryProvider(ProviderContext({}, credentials(tmp_path, AZURE_OPENAI_ENDPOINT=ENDPOINT)),
                            Exploding())
    assert entra.is_authenticated()
    assert FoundryProvider(ProviderContext({"endpoint": ENDPOINT}, credentials(tmp_path))).is_authenticated()


class FakeCredential:
    def __init__(self, lifetime: float = 3600, fail: Exception | None = None, delay: float = 0.0) -> None:
        self.calls: list[tuple[str, ...]] = []
        self.lifetime = lifetime
        self.fail = fail
        self.delay = delay
        self._lock = threading.Lock()

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        with self._lock:
            self.calls.append(scopes)
            number = len(self.calls)
        time.sleep(self.delay)
        if self.fail is not None:
            raise self.fail
        return type("AccessToken", (), {"token": f"entra-token-{number}",
                                        "expires_on": int(time.time() + self.lifetime)})()


def test_foundry_entra_token_is_lazy_cached_and_shared(tmp_path: Path) -> None:
    recorder = Recorder()
    credential = FakeCredential(delay=0.05)
    provider = foundry_provider(tmp_path, recorder, credential=credential, key=False)
    assert credential.calls == []
    with ThreadPoolExecutor(6) as pool:
        images = list(pool.map(lambda _: provider.generate(request(), timeout=30), range(6)))
    assert len(images) == 6 and images[0].details["auth"] == "entra-id"
    assert credential.calls == [("https://cognitiveservices.azure.com/.default",)]
    assert {r.headers["authorization"] for r in recorder.requests} == {"Bearer entra-token-1"}
    assert all("api-key" not in r.headers for r in recorder.requests)


def test_foundry_entra_token_is_renewed_near_expiry(tmp_path: Path) -> None:
    recorder = Recorder()
    credential = FakeCredential(lifetime=200)  # inside the five-minute margin: never reused
    provider = foundry_provider(tmp_path, recorder, credential=credential, key=False)
    provider.generate(request(), timeout=30)
    provider.generate(request(), timeout=30)
    assert len(credential.calls) == 2
    assert recorder.requests[-1].headers["authorization"] == "Bearer entra-token-2"


def test_foundry_entra_failure_is_remembered(tmp_path: Path) -> None:
    from azure.identity import CredentialUnavailableError

    recorder = Recorder()
    credential = FakeCredential(fail=CredentialUnavailableError("nothing configured"))
    provider = foundry_provider(tmp_path, recorder, credential=credential, key=False)
    for _ in range(3):
        with pytest.raises(AuthenticationError) as caught:
            provider.generate(request(), timeout=30)
        assert caught.value.message == NO_CREDENTIAL
    assert len(credential.calls) == 1 and recorder.requests == []


def test_foundry_entra_401_names_the_identity_and_drops_the_token(tmp_path: Path) -> None:
    recorder = Recorder(lambda _: httpx.Response(401, json={"error": {"code": "PermissionDenied",
                                                                      "message": "lacks data action"}}))
    credential = FakeCredential()
    provider = foundry_provider(tmp_path, recorder, credential=credential, key=False)
    for number in (1, 2):
        with pytest.raises(AuthenticationError, match="Entra ID token from DefaultAzureCredential") as caught:
            provider.generate(request(), timeout=30)
        assert_no_secret(caught.value, f"entra-token-{number}")
    assert len(credential.calls) == 2  # a rejected token is not reused


@pytest.mark.parametrize(("response", "error_type", "text"), [
    (httpx.Response(401, json={"error": {"code": "401", "message": f"Access denied {AZURE_KEY}"}}),
     AuthenticationError, "the API key from AZURE_OPENAI_API_KEY (401)"),
    (httpx.Response(404, json={"error": {"code": "DeploymentNotFound", "message": "does not exist"}}),
     ModelNotFoundError, "providers.foundry.deployments: {gpt-image-2: <your deployment name>}"),
    (httpx.Response(404, json={"error": {"code": "404", "message": "Resource not found"}}),
     BadRequestError, "api-version v1"),
    (httpx.Response(403, json={"error": {"code": "Forbidden", "message": "temporarily blocked"}}),
     BadRequestError, "temporarily blocked"),
    (httpx.Response(400, json={"error": {"code": "content_policy_violation", "message": "rejected",
                                         "innererror": {"code": "ResponsibleAIPolicyViolation"}}}),
     ContentRefusedError, "content_policy_violation (ResponsibleAIPolicyViolation)"),
    (httpx.Response(400, json={"error": {"code": "contentFilter", "message": "filtered"}}),
     ContentRefusedError, "contentFilter: filtered"),
    (httpx.Response(400, json={"error": {"code": "BadRequest", "message": "The model 'x' does not exist."}}),
     BadRequestError, "The model 'x' does not exist."),
    (httpx.Response(503, json={"error": {"code": "ServiceUnavailable", "message": "busy"}}),
     TransientError, "server error 503"),
])
def test_foundry_error_mapping(tmp_path: Path, response: httpx.Response, error_type: type[ImagegenError],
                               text: str) -> None:
    provider = foundry_provider(tmp_path, Recorder(lambda _: response))
    with pytest.raises(error_type) as caught:
        provider.generate(request(), timeout=30)
    assert type(caught.value) is error_type
    assert text in str(caught.value)
    assert caught.value.provider == "foundry" and caught.value.model == "gpt-image-2"
    assert_no_secret(caught.value, AZURE_KEY)


def test_foundry_rate_limit_uses_seconds_header(tmp_path: Path) -> None:
    response = httpx.Response(429, json={"error": {"code": "429", "message": "retry after 4 seconds"}},
                              headers={"retry-after": "4"})
    provider = foundry_provider(tmp_path, Recorder(lambda _: response))
    with pytest.raises(RateLimitedError) as caught:
        provider.generate(request(), timeout=30)
    assert caught.value.retry_after == 4.0


# --- Google Gemini ---------------------------------------------------------------------------------


def gemini_part(data: bytes = PNG, mime: str = "image/png", **extra: Any) -> dict[str, Any]:
    return {"inlineData": {"mimeType": mime, "data": base64.b64encode(data).decode()}, **extra}


def gemini_payload(*parts: dict[str, Any], finish: str = "STOP", **extra: Any) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": list(parts)}, "finishReason": finish}
    return {"candidates": [candidate], "responseId": "resp-1", "modelVersion": "m", **extra}


def extract(payload: dict[str, Any]) -> Any:
    return extract_image(payload, provider="google", model="gemini-3.1-flash-image")


def test_gemini_takes_the_last_non_thought_image() -> None:
    final = png_bytes(64, 36, (200, 10, 10))
    payload = gemini_payload(gemini_part(png_bytes(32, 18), thought=True),
                             {"text": "**Thinking**", "thought": True},
                             gemini_part(final, thoughtSignature="c2ln"),
                             usageMetadata={"totalTokenCount": 9})
    image = extract(payload)
    assert image.data == final and image.mime_type == "image/png"
    assert image.details["thought_images_skipped"] == 1
    assert image.details["usage"] == {"totalTokenCount": 9} and image.details["response_id"] == "resp-1"


def test_gemini_accepts_snake_case_and_skips_non_image_blobs() -> None:
    payload = {"candidates": [{"content": {"parts": [
        {"inline_data": {"mime_type": "image/png", "data": PNG_B64}},
        {"inlineData": {"mimeType": "application/pdf", "data": "JVBERi0="}},
    ]}}]}
    assert extract(payload).data == PNG


@pytest.mark.parametrize(("payload", "text"), [
    ({"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"}},
     "refused the prompt: blockReason PROHIBITED_CONTENT"),
    ({"candidates": [{"finishReason": "IMAGE_SAFETY", "finishMessage": "filtered out"}]},
     "finishReason IMAGE_SAFETY: filtered out"),
    ({"candidates": [{"finishReason": "NO_IMAGE"}]}, "finishReason NO_IMAGE"),
    ({"candidates": [{"finishReason": "IMAGE_PROHIBITED_CONTENT", "content": {"parts": [{"text": "no"}]}}]},
     "finishReason IMAGE_PROHIBITED_CONTENT"),
    (gemini_payload({"text": "I can't draw that."}), "answered with text instead of an image"),
])
def test_gemini_refusals(payload: dict[str, Any], text: str) -> None:
    with pytest.raises(ContentRefusedError, match=text):
        extract(payload)


def test_gemini_text_refusal_is_quoted_and_shortened() -> None:
    with pytest.raises(ContentRefusedError) as caught:
        extract(gemini_payload({"text": "word " * 200}))
    assert len(caught.value.message) < 300


@pytest.mark.parametrize(("payload", "text"), [
    (gemini_payload(), "no image and no reason"),
    ({"candidates": [{"content": {"parts": [{"inlineData": {"mimeType": "image/png", "data": PNG_B64[:-5]}}]}}]},
     "invalid base64"),
    (gemini_payload(gemini_part(PNG[: len(PNG) // 2 // 3 * 3])), "truncated PNG"),
    (gemini_payload({"inlineData": {"mimeType": "image/png", "data": ""}}), "no bytes"),
])
def test_gemini_broken_answers_are_invalid_images(payload: dict[str, Any], text: str) -> None:
    with pytest.raises(InvalidImageError, match=text):
        extract(payload)


def test_gemini_parse_body_rejects_truncated_json() -> None:
    with pytest.raises(InvalidImageError, match="not valid JSON"):
        parse_body('{"candidates": [', provider="google", model="m")


@pytest.mark.parametrize(("model", "size", "expected"), [
    ("gemini-3.1-flash-image", Size(1792, 1024), {"aspect_ratio": "16:9", "image_size": "2K"}),
    ("gemini-3.1-flash-image", Size(500, 500), {"aspect_ratio": "1:1", "image_size": "512"}),
    ("gemini-3.1-flash-image", Size(600, 600), {"aspect_ratio": "1:1", "image_size": "1K"}),
    ("gemini-3-pro-image", Size(1200, 630), {"aspect_ratio": "16:9", "image_size": "1K"}),
    ("gemini-2.5-flash-image", Size(1792, 1024), {"aspect_ratio": "16:9"}),
    ("gemini-2.5-flash-image", Size(1000, 1500), {"aspect_ratio": "2:3"}),
])
def test_gemini_requested_ratio_and_tier(tmp_path: Path, model: str, size: Size, expected: dict[str, str]) -> None:
    provider = GoogleProvider(ProviderContext({}, credentials(tmp_path, GEMINI_API_KEY=GEMINI_KEY)))
    assert provider.requested(request(model, size)) == expected


def test_gemini_authentication_state(tmp_path: Path) -> None:
    assert not GoogleProvider(ProviderContext({}, credentials(tmp_path))).is_authenticated()
    both = GoogleProvider(ProviderContext({}, credentials(tmp_path, GEMINI_API_KEY="g", GOOGLE_API_KEY="o")))
    assert both.is_authenticated() and both._key() == ("o", "GOOGLE_API_KEY")
    vertex = GoogleProvider(ProviderContext({}, credentials(
        tmp_path, GOOGLE_GENAI_USE_VERTEXAI="True", GOOGLE_CLOUD_PROJECT="proj")))
    assert vertex.is_authenticated() and vertex.vertex() == ("proj", "global")
    not_vertex = GoogleProvider(ProviderContext({}, credentials(tmp_path, GOOGLE_GENAI_USE_VERTEXAI="1")))
    assert not not_vertex.is_authenticated()
    hint = not_vertex.auth_hint()
    assert "GEMINI_API_KEY" in hint and "GOOGLE_API_KEY" in hint and "keys set google" in hint


def gemini_error(code: int, status: str, message: str, details: list[Any] | None = None) -> httpx.Response:
    return httpx.Response(code, json={"error": {"code": code, "status": status, "message": message,
                                                "details": details or []}})


QUOTA = "type.googleapis.com/google.rpc.QuotaFailure"
RETRY = "type.googleapis.com/google.rpc.RetryInfo"


@pytest.mark.parametrize(("response", "error_type", "text"), [
    (gemini_error(400, "INVALID_ARGUMENT", f"API key not valid {GEMINI_KEY}", [{"reason": "API_KEY_INVALID"}]),
     AuthenticationError, "the API key from GEMINI_API_KEY (400 API_KEY_INVALID)"),
    (gemini_error(403, "PERMISSION_DENIED", "denied"), AuthenticationError, "GEMINI_API_KEY (403 PERMISSION_DENIED)"),
    (gemini_error(429, "RESOURCE_EXHAUSTED", "quota, limit: 0, model: x",
                  [{"@type": QUOTA, "violations": [{"quotaValue": "0"}]}, {"@type": RETRY, "retryDelay": "9s"}]),
     QuotaExhaustedError, "quota for this model is 0"),
    (gemini_error(404, "NOT_FOUND", "models/x is not found"), ModelNotFoundError,
     "Google Gemini has no model 'gemini-3.1-flash-image' (404 NOT_FOUND); "
     "its announced successor is 'gemini-nano-banana-2.1'"),
    (gemini_error(400, "INVALID_ARGUMENT", "Unsupported aspect ratio"), BadRequestError, "Unsupported aspect"),
    (gemini_error(503, "UNAVAILABLE", "The model is overloaded."), TransientError, "503 UNAVAILABLE"),
    (gemini_error(500, "INTERNAL", "oops"), TransientError, "500 INTERNAL"),
])
def test_gemini_error_mapping(tmp_path: Path, response: httpx.Response, error_type: type[ImagegenError],
                              text: str) -> None:
    recorder = Recorder(lambda _: response)
    provider = GoogleProvider(ProviderContext({"base_url": "http://gemini.test"},
                                              credentials(tmp_path, GEMINI_API_KEY=GEMINI_KEY)),
                              transport=recorder.transport)
    with pytest.raises(error_type) as caught:
        provider.generate(request("gemini-3.1-flash-image"), timeout=5)
    assert type(caught.value) is error_type
    assert text in str(caught.value)
    assert_no_secret(caught.value, GEMINI_KEY)
    assert len(recorder.requests) == 1  # one attempt: the SDK must not retry
    assert recorder.requests[0].headers["x-goog-api-key"] == GEMINI_KEY


def test_gemini_rate_limit_reads_retry_info(tmp_path: Path) -> None:
    response = gemini_error(429, "RESOURCE_EXHAUSTED", "limit: 10, please retry in 29.7s",
                            [{"@type": QUOTA, "violations": [{"quotaValue": "10"}]},
                             {"@type": RETRY, "retryDelay": "29.7s"}])
    recorder = Recorder(lambda _: response)
    provider = GoogleProvider(ProviderContext({"base_url": "http://gemini.test"},
                                              credentials(tmp_path, GEMINI_API_KEY=GEMINI_KEY)),
                              transport=recorder.transport)
    with pytest.raises(RateLimitedError) as caught:
        provider.generate(request("gemini-2.5-flash-image"), timeout=5)
    assert caught.value.retry_after == pytest.approx(29.7)
    assert len(recorder.requests) == 1


def test_gemini_retry_hint_helpers() -> None:
    class Fake:
        def __init__(self, message: str, details: list[dict[str, Any]]) -> None:
            self.message = message
            self.details = {"error": {"message": message, "details": details}}
            self.response = None

    assert retry_delay(Fake("x", [{"retryDelay": "2s"}])) == 2.0
    assert retry_delay(Fake("x", [])) is None
    assert is_zero_quota(Fake("limit: 0, model: m", []))
    assert is_zero_quota(Fake("x", [{"violations": [{"quotaValue": "0"}]}]))
    assert not is_zero_quota(Fake("limit: 10", [{"violations": [{"quotaValue": "10"}]}]))


def test_gemini_sends_ratio_tier_and_timeout(tmp_path: Path) -> None:
    body = {"candidates": [{"content": {"parts": [gemini_part()]}, "finishReason": "STOP"}]}
    recorder = Recorder(lambda _: httpx.Response(200, json=body))
    provider = GoogleProvider(ProviderContext({"base_url": "http://gemini.test"},
                                              credentials(tmp_path, GEMINI_API_KEY=GEMINI_KEY)),
                              transport=recorder.transport)
    image = provider.generate(request("gemini-3.1-flash-image"), timeout=42)
    sent = recorder.requests[0]
    assert sent.url.path.endswith("/models/gemini-3.1-flash-image:generateContent")
    config = json.loads(sent.content)["generationConfig"]
    assert config == {"responseModalities": ["IMAGE"], "imageConfig": {"aspectRatio": "16:9", "imageSize": "2K"}}
    assert sent.headers["x-server-timeout"] == "42"
    assert sent.extensions["timeout"]["read"] == pytest.approx(42)
    assert image.data == PNG and image.requested == {"aspect_ratio": "16:9", "image_size": "2K"}
    provider.close()


def test_gemini_network_failures_are_transient(tmp_path: Path) -> None:
    def fail(_: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused")

    provider = GoogleProvider(ProviderContext({"base_url": "http://gemini.test"},
                                              credentials(tmp_path, GEMINI_API_KEY=GEMINI_KEY)),
                              transport=Recorder(fail).transport)
    with pytest.raises(TransientError, match="connection failed"):
        provider.generate(request("gemini-2.5-flash-image"), timeout=5)


# --- import cost -----------------------------------------------------------------------------------


def test_heavy_sdks_are_imported_lazily() -> None:
    code = ("import sys, mkdocs_imagegen.providers.google, mkdocs_imagegen.providers.foundry, "
            "mkdocs_imagegen.providers.openai, mkdocs_imagegen.providers.registry; "
            "print([m for m in ('google.genai', 'azure.identity') if m in sys.modules])")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                            cwd=Path(__file__).resolve().parents[1])
    assert result.stdout.strip() == "[]"


def test_gemini_vertex_without_credentials_is_an_authentication_error(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GCE_METADATA_IP", "127.0.0.1:9")  # no metadata-server probing off this machine
    monkeypatch.setenv("NO_GCE_CHECK", "true")
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "gcloud"))  # no user ADC either
    recorder = Recorder(lambda _: httpx.Response(500))
    provider = GoogleProvider(ProviderContext({}, credentials(
        tmp_path, GOOGLE_GENAI_USE_VERTEXAI="true", GOOGLE_CLOUD_PROJECT="proj")), transport=recorder.transport)
    with pytest.raises(AuthenticationError, match="gcloud auth application-default login"):
        provider.generate(request("gemini-2.5-flash-image"), timeout=5)
    assert recorder.requests == []


def test_bad_base_url_is_a_bad_request(tmp_path: Path) -> None:
    provider = OpenAIProvider(ProviderContext({"base_url": "api.openai.com/v1"},
                                              credentials(tmp_path, OPENAI_API_KEY=OPENAI_KEY)))
    with pytest.raises(BadRequestError, match="check the configured base URL"):
        provider.generate(request(), timeout=5)
    provider.close()
