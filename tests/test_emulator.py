"""The emulator must be faithful to the three real image APIs.

Raw httpx checks pin the wire shapes (status, JSON body, headers) of each endpoint and fault; the
real google-genai SDK and the real azure-identity credentials are then driven against it.
Nothing here sleeps to guess timing: tests wait on the emulator's own conditions.
"""

from __future__ import annotations

import base64
import io
import os
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from azure.core.exceptions import ClientAuthenticationError
from azure.identity import DefaultAzureCredential, ManagedIdentityCredential
from google import genai
from google.genai import errors as genai_errors
from google.genai import types
from PIL import Image, UnidentifiedImageError

from mkdocs_imagegen.catalogue.lookup import Catalogue, default_catalogue, packaged_data
from mkdocs_imagegen.emulator import APIS, PROVIDERS, Emulator, Fault, ProtocolApi, parse_model_specs
from mkdocs_imagegen.provider_table import PROVIDERS as SPECS

from sitekit import free_port

FLASH = "gemini-3.1-flash-image"
PRO = "gemini-3-pro-image"
SCOPE = "https://cognitiveservices.azure.com/.default"
AZURE_VERSION = "2025-04-01-preview"
CATALOGUE = default_catalogue()
GEMINI_TEXT_MODELS = {"gemini-3-flash", "text-embedding-005"}
OPENAI_TEXT_MODELS = {"gpt-5", "text-embedding-3-large"}


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator() as emulator:
        yield emulator


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    """One client for the module: building its TLS context costs ~50 ms."""
    with httpx.Client(timeout=20) as client:
        yield client


@pytest.fixture
def clean_azure_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No ambient Azure configuration may leak into credential tests."""
    for name in list(os.environ):
        if name.startswith(("AZURE_", "IDENTITY_", "MSI_", "IMDS_")):
            monkeypatch.delenv(name)
    return monkeypatch


# -- helpers -----------------------------------------------------------------------------------


def gemini(
    emu: Emulator, http: httpx.Client, body: dict[str, Any] | None = None, model: str = FLASH,
    key: str | None = None, version: str = "v1",
) -> httpx.Response:
    body = body if body is not None else {"contents": [{"role": "user", "parts": [{"text": "a fox"}]}]}
    headers = {"x-goog-api-key": emu.keys["google"] if key is None else key}
    return http.post(f"{emu.url}/{version}/models/{model}:generateContent", json=body, headers=headers)


def gemini_body(prompt: str = "a fox", ratio: str | None = None, size: str | None = None) -> dict[str, Any]:
    image_config = {k: v for k, v in (("aspectRatio", ratio), ("imageSize", size)) if v}
    config: dict[str, Any] = {"responseModalities": ["IMAGE"]}
    if image_config:
        config["imageConfig"] = image_config
    return {"contents": [{"role": "user", "parts": [{"text": prompt}]}], "generationConfig": config}


def openai(emu: Emulator, http: httpx.Client, key: str | None = None, **body: Any) -> httpx.Response:
    body = {"model": "gpt-image-2", "prompt": "a fox", **body}
    headers = {"authorization": f"Bearer {emu.keys['openai'] if key is None else key}"}
    return http.post(f"{emu.url}/v1/images/generations", json=body, headers=headers)


def azure(
    emu: Emulator, http: httpx.Client, deployment: str = "gpt-image-2", version: str | None = AZURE_VERSION,
    headers: dict[str, str] | None = None, **body: Any,
) -> httpx.Response:
    body = {"prompt": "a fox", **body}
    params = {"api-version": version} if version else {}
    headers = headers if headers is not None else {"api-key": emu.keys["foundry"]}
    url = f"{emu.url}/azure/openai/deployments/{deployment}/images/generations"
    return http.post(url, json=body, params=params, headers=headers)


def azure_v1(emu: Emulator, http: httpx.Client, headers: dict[str, str] | None = None,
             params: dict[str, str] | None = None, **body: Any) -> httpx.Response:
    body = {"prompt": "a fox", **body}
    url = f"{emu.url}/azure/openai/v1/images/generations"
    return http.post(url, json=body, params=params, headers=headers or {"api-key": emu.keys["foundry"]})


def mai(emu: Emulator, http: httpx.Client, headers: dict[str, str] | None = None, **body: Any) -> httpx.Response:
    body = {"model": "MAI-Image-2.5", "prompt": "a fox", "width": 1024, "height": 768, **body}
    url = f"{emu.url}/azure/mai/v1/images/generations"
    return http.post(url, json=body, headers=headers if headers is not None else {"api-key": emu.keys["foundry"]})


def live(provider: str) -> set[str]:
    return {info.name for info in CATALOGUE.live(provider)}


def gemini_listed(emu: Emulator, http: httpx.Client) -> list[str]:
    response = http.get(f"{emu.url}/v1beta/models", headers={"x-goog-api-key": emu.keys["google"]},
                        params={"pageSize": "1000"})
    return [m["name"].removeprefix("models/") for m in response.json()["models"]]


def openai_listed(emu: Emulator, http: httpx.Client) -> list[str]:
    response = http.get(f"{emu.url}/v1/models", headers={"authorization": f"Bearer {emu.keys['openai']}"})
    return [m["id"] for m in response.json()["data"]]


def azure_listed(emu: Emulator, http: httpx.Client) -> list[str]:
    response = http.get(f"{emu.url}/azure/openai/v1/models", headers={"api-key": emu.keys["foundry"]})
    return [m["id"] for m in response.json()["data"]]


def post_image(provider: str, emu: Emulator, http: httpx.Client, prompt: str = "a fox") -> httpx.Response:
    if provider == "google":
        return gemini(emu, http, gemini_body(prompt))
    if provider == "openai":
        return openai(emu, http, prompt=prompt)
    if provider == "mai":
        return mai(emu, http, prompt=prompt)
    return azure(emu, http, prompt=prompt)


def image_b64(provider: str, response: httpx.Response) -> str:
    """The base64 of the final image of a successful response, per provider shape."""
    data = response.json()
    if provider != "google":
        return data["data"][0]["b64_json"]
    parts = data["candidates"][0]["content"]["parts"]
    return [p for p in parts if "inlineData" in p and not p.get("thought")][-1]["inlineData"]["data"]


def decode(b64: str) -> Image.Image:
    image = Image.open(io.BytesIO(base64.b64decode(b64)))
    image.load()
    return image


def error_details(response: httpx.Response) -> dict[str, dict[str, Any]]:
    return {d["@type"].rsplit(".", 1)[-1]: d for d in response.json()["error"]["details"]}


# -- Gemini, raw -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "ratio", "size", "expected", "fmt"),
    [
        (FLASH, "16:9", "2K", (2752, 1536), "JPEG"),
        (FLASH, "9:16", "512", (384, 688), "JPEG"),
        (FLASH, "8:1", "1K", (2816, 352), "JPEG"),
        (PRO, "21:9", "1K", (1584, 672), "PNG"),
        (PRO, "4:5", "4K", (3712, 4608), "PNG"),
        ("gemini-2.5-flash-image", "16:9", None, (1344, 768), "PNG"),  # its own pixel table
        ("gemini-3.1-flash-lite-image", "4:3", "1K", (1200, 896), "JPEG"),
        ("gemini-nano-banana-2.1", "1:4", "2K", (1024, 4096), "JPEG"),
        (FLASH, None, None, (1024, 1024), "JPEG"),  # no imageConfig: a square
        (FLASH, "3:2", None, (1264, 848), "JPEG"),
    ],
)
def test_gemini_image_size_and_format(emu, http, model, ratio, size, expected, fmt):
    response = gemini(emu, http, gemini_body(ratio=ratio, size=size), model=model)
    assert response.status_code == 200
    data = response.json()
    candidate = data["candidates"][0]
    assert candidate["finishReason"] == "STOP"
    part = candidate["content"]["parts"][-1]
    assert part["inlineData"]["mimeType"] == f"image/{fmt.lower()}"
    image = decode(part["inlineData"]["data"])
    assert (image.size, image.format) == (expected, fmt)
    assert data["modelVersion"] == model
    assert data["usageMetadata"]["totalTokenCount"] > 0


def test_gemini_accepts_v1beta_query_key_and_default_modalities(emu, http):
    body = {"contents": [{"parts": [{"text": "a fox"}]}], "safetySettings": [], "extra": {"x": 1}}
    url = f"{emu.url}/v1beta/models/{FLASH}:generateContent"
    response = http.post(url, params={"key": emu.keys["google"]}, json=body)
    assert response.status_code == 200
    parts = response.json()["candidates"][0]["content"]["parts"]
    assert [next(iter(p)) for p in parts] == ["text", "inlineData"]  # TEXT+IMAGE by default
    assert emu.image_requests()[0].prompt == "a fox"


def test_gemini_bad_and_missing_key(emu, http):
    bad = gemini(emu, http, key="AIzaWRONG")
    assert bad.status_code == 400
    error = bad.json()["error"]
    assert (error["code"], error["status"]) == (400, "INVALID_ARGUMENT")
    assert error["message"] == "API key not valid. Please pass a valid API key."
    assert error_details(bad)["ErrorInfo"]["reason"] == "API_KEY_INVALID"
    missing = http.post(f"{emu.url}/v1/models/{FLASH}:generateContent", json=gemini_body())
    assert (missing.status_code, missing.json()["error"]["status"]) == (403, "PERMISSION_DENIED")


def test_gemini_unknown_model_and_bad_image_config(emu, http):
    missing = gemini(emu, http, model="gemini-9-ultra")
    assert missing.status_code == 404
    assert missing.json()["error"]["status"] == "NOT_FOUND"
    assert missing.json()["error"]["message"].startswith(
        "models/gemini-9-ultra is not found for API version v1"
    )
    # Each model's ratios and tiers are the catalogue's size rule.
    for model, ratio, size in [(FLASH, "7:3", None), (PRO, "1:1", "512"), (FLASH, "1:1", "8K"),
                               (PRO, "1:4", None), ("gemini-2.5-flash-image", "16:9", "2K"),
                               ("gemini-3.1-flash-lite-image", "8:1", None),
                               ("gemini-3.1-flash-lite-image", "1:1", "4K"), ("gemini-nano-banana-2.1", "1:1", "512")]:
        response = gemini(emu, http, gemini_body(ratio=ratio, size=size), model=model)
        assert (response.status_code, response.json()["error"]["status"]) == (400, "INVALID_ARGUMENT"), model
    ratio = gemini(emu, http, gemini_body(ratio="1:4"), model=PRO).json()["error"]
    assert ratio == {"code": 400, "status": "INVALID_ARGUMENT", "message": (
        "* GenerateContentRequest.generation_config.image_config.aspect_ratio: aspect_ratio must be one of"
        " '1:1', '2:3', '3:2', '3:4', '4:3', '4:5', '5:4', '9:16', '16:9', or '21:9'.\n")}
    tier = gemini(emu, http, gemini_body(size="512"), model="gemini-nano-banana-2.1").json()["error"]["message"]
    assert tier.endswith("image_size: image_size must be one of '1K', '2K', or '4K'.\n")


def test_gemini_list_models(emu, http):
    for version in ("v1", "v1beta"):
        response = http.get(f"{emu.url}/{version}/models", headers={"x-goog-api-key": emu.keys["google"]})
        assert response.status_code == 200
        models = {m["name"]: m for m in response.json()["models"]}
        assert "models/gemini-3.1-flash-image" in models and "models/gemini-3.1-flash-image-preview" not in models
        assert "generateContent" in models["models/gemini-2.5-flash-image"]["supportedGenerationMethods"]
        assert models["models/text-embedding-005"]["supportedGenerationMethods"] == ["embedContent"]
        assert "nextPageToken" not in response.json()
    assert http.get(f"{emu.url}/v1beta/models", headers={"x-goog-api-key": "nope"}).status_code == 400
    model = http.get(f"{emu.url}/v1beta/models/{PRO}", headers={"x-goog-api-key": emu.keys["google"]})
    assert (model.status_code, model.json()["name"]) == (200, f"models/{PRO}")
    gone = http.get(f"{emu.url}/v1beta/models/{PRO}-preview", headers={"x-goog-api-key": emu.keys["google"]})
    assert (gone.status_code, gone.json()["error"]["status"]) == (404, "NOT_FOUND")
    assert emu.image_requests() == []


def test_gemini_list_pagination(emu, http):
    headers = {"x-goog-api-key": emu.keys["google"]}
    names, token, pages = [], None, 0
    while True:
        params = {"pageSize": "2", **({"pageToken": token} if token else {})}
        page = http.get(f"{emu.url}/v1beta/models", headers=headers, params=params).json()
        assert len(page["models"]) <= 2
        names += [m["name"] for m in page["models"]]
        pages += 1
        token = page.get("nextPageToken")
        if not token:
            break
    everything = http.get(f"{emu.url}/v1beta/models", headers=headers, params={"pageSize": "1000"}).json()
    assert names == [m["name"] for m in everything["models"]] and len(set(names)) == len(names)
    assert pages == -(-len(names) // 2)
    for params in ({"pageToken": "garbage"}, {"pageSize": "many"}):
        bad = http.get(f"{emu.url}/v1beta/models", headers=headers, params=params)
        assert (bad.status_code, bad.json()["error"]["status"]) == (400, "INVALID_ARGUMENT"), params
    assert "'page_size' (TYPE_INT32)" in bad.json()["error"]["message"]


def test_gemini_text_models_are_listed_but_make_no_images(emu, http):
    text = gemini(emu, http, gemini_body(), model="gemini-3-flash")
    assert text.json() == {"error": {"code": 400, "status": "INVALID_ARGUMENT",
                                     "message": "Model does not support the requested response modalities: image"}}
    plain = {"contents": [{"parts": [{"text": "hi"}]}], "generationConfig": {"responseModalities": ["TEXT"]}}
    answer = gemini(emu, http, plain, model="gemini-3-flash").json()
    assert [list(p) for p in answer["candidates"][0]["content"]["parts"]] == [["text"]]
    embedding = gemini(emu, http, model="text-embedding-005", version="v1beta")
    assert embedding.status_code == 404 and "not supported for generateContent" in embedding.text


def test_gemini_rate_limit_shape(emu, http):
    emu.add_fault(Fault(provider="google", kind="rate_limit", retry_after=29.7))
    response = gemini(emu, http)
    assert response.status_code == 429
    error = response.json()["error"]
    assert (error["code"], error["status"]) == (429, "RESOURCE_EXHAUSTED")
    details = error_details(response)
    assert details["RetryInfo"]["retryDelay"] == "29.7s"
    violation = details["QuotaFailure"]["violations"][0]
    assert violation["quotaMetric"] == "generativelanguage.googleapis.com/generate_content_free_tier_requests"
    assert violation["quotaValue"] == "10"
    assert "Please retry in 29.7s." in error["message"]
    assert gemini(emu, http).status_code == 200  # times=1


def test_gemini_quota_zero_never_succeeds(emu, http):
    emu.add_fault(Fault(provider="google", kind="quota_zero", times=-1, retry_after=2))
    for _ in range(2):
        response = gemini(emu, http)
        assert response.status_code == 429
        assert "limit: 0" in response.json()["error"]["message"]
        assert error_details(response)["QuotaFailure"]["violations"][0]["quotaValue"] == "0"
        assert error_details(response)["RetryInfo"]["retryDelay"] == "2s"


@pytest.mark.parametrize(
    ("kind", "status", "state"), [("server_error", 500, "INTERNAL"), ("overloaded", 503, "UNAVAILABLE")]
)
def test_gemini_server_faults(emu, http, kind, status, state):
    emu.add_fault(Fault(provider="google", kind=kind))
    response = gemini(emu, http)
    assert response.status_code == status
    assert (response.json()["error"]["code"], response.json()["error"]["status"]) == (status, state)
    if kind == "overloaded":
        assert response.json()["error"]["message"] == "The model is overloaded. Please try again later."


def test_gemini_refusals_are_http_200(emu, http):
    for kind in ("block_reason", "image_safety", "text_only"):
        emu.add_fault(Fault(provider="google", kind=kind))
    blocked, safety, text = (gemini(emu, http).json() for _ in range(3))
    assert blocked["promptFeedback"] == {"blockReason": "PROHIBITED_CONTENT"}
    assert "candidates" not in blocked and "usageMetadata" in blocked
    assert safety["candidates"][0]["finishReason"] == "IMAGE_SAFETY"
    assert safety["candidates"][0]["finishMessage"]
    assert "inlineData" not in str(safety)
    assert text["candidates"][0]["finishReason"] == "STOP"
    assert [list(p) for p in text["candidates"][0]["content"]["parts"]] == [["text"]]
    assert text["candidates"][0]["content"]["parts"][0]["text"].startswith("I can't generate that image")
    assert [r.fault for r in emu.image_requests()] == ["block_reason", "image_safety", "text_only"]


def test_gemini_thought_images_come_first(emu, http):
    emu.add_fault(Fault(provider="google", kind="thought_images"))
    response = gemini(emu, http, gemini_body(ratio="16:9"))
    parts = response.json()["candidates"][0]["content"]["parts"]
    assert parts[0]["thought"] is True and "inlineData" in parts[0]
    assert parts[1] == {"text": parts[1]["text"], "thought": True}
    assert "thought" not in parts[-1]
    draft, final = decode(parts[0]["inlineData"]["data"]), decode(parts[-1]["inlineData"]["data"])
    assert final.size == (1376, 768) and draft.size != final.size
    assert draft.convert("RGB").getpixel((1, 1)) != final.convert("RGB").getpixel((1, 1))


# -- faults common to all providers ------------------------------------------------------------


@pytest.mark.parametrize("provider", ["google", "openai", "foundry", "mai"])
def test_broken_payloads(emu, http, provider):
    owner = "foundry" if provider == "mai" else provider
    emu.add_fault(Fault(provider=owner, kind="truncated_b64"))
    emu.add_fault(Fault(provider=owner, kind="not_image"))
    emu.add_fault(Fault(provider=owner, kind="bomb"))
    truncated, not_image, bomb = (post_image(provider, emu, http) for _ in range(3))
    assert {truncated.status_code, not_image.status_code, bomb.status_code} == {200}
    full = image_b64(provider, post_image(provider, emu, http))
    assert image_b64(provider, truncated) == full[: len(full) // 2]
    with pytest.raises((OSError, ValueError)):  # binascii.Error is a ValueError
        decode(image_b64(provider, truncated))
    assert base64.b64decode(image_b64(provider, not_image)) == b"<html><body>not an image</body></html>"
    with pytest.raises(UnidentifiedImageError):
        decode(image_b64(provider, not_image))
    raw = base64.b64decode(image_b64(provider, bomb))
    assert len(raw) < 200 and struct.unpack(">II", raw[16:24]) == (30000, 30000)
    with pytest.raises(Image.DecompressionBombError):
        Image.open(io.BytesIO(raw))


@pytest.mark.parametrize("provider", ["google", "openai", "foundry", "mai"])
def test_reset_drops_the_connection(emu, http, provider):
    emu.add_fault(Fault(provider="foundry" if provider == "mai" else provider, kind="reset"))
    with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)):
        post_image(provider, emu, http)
    assert post_image(provider, emu, http).status_code == 200
    first, second = emu.image_requests()
    assert (first.status, first.fault, second.status, second.fault) == (0, "reset", 200, None)


def test_fault_matching_counting_and_recording(emu, http):
    emu.add_fault(Fault(provider="openai", kind="server_error", times=2, match="storm"))
    emu.add_fault(Fault(kind="overloaded", times=-1, match="forever"))
    assert openai(emu, http, prompt="calm sea").status_code == 200
    assert gemini(emu, http, gemini_body("a storm")).status_code == 200  # other provider
    assert [openai(emu, http, prompt="storm").status_code for _ in range(3)] == [500, 500, 200]
    assert [azure(emu, http, prompt="forever").status_code for _ in range(3)] == [503] * 3
    assert gemini(emu, http, gemini_body("forever")).status_code == 503
    records = emu.image_requests()
    assert [r.fault for r in records] == [None, None, "server_error", "server_error", None] + ["overloaded"] * 4
    assert records[0].provider == "openai" and records[1].provider == "google"
    assert records[0].prompt == "calm sea" and records[0].model == "gpt-image-2"
    emu.clear_faults()
    assert gemini(emu, http, gemini_body("forever")).status_code == 200


def test_fault_validation():
    with pytest.raises(ValueError):
        Fault(kind="explode")
    with pytest.raises(ValueError):
        Fault(provider="openai", kind="thought_images")
    with pytest.raises(ValueError):
        Fault(provider="azure", kind="rate_limit")
    with pytest.raises(ValueError):
        Fault(provider="foundry", kind="unverified_org")
    with pytest.raises(ValueError):
        Fault(kind="rate_limit", times=0)


def test_provider_specific_fault_without_provider_only_hits_its_provider(emu, http):
    emu.add_fault(Fault(kind="moderation_blocked", times=-1))
    assert gemini(emu, http).status_code == 200
    assert azure(emu, http).status_code == 200
    assert openai(emu, http).status_code == 400


# -- OpenAI, raw -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "size", "fmt", "expected"),
    [
        ("gpt-image-2", "1792x1024", None, (1792, 1024)),
        ("gpt-image-2", "auto", "webp", (1024, 1024)),
        ("gpt-image-2.6-sunburst", "1536x1024", "jpeg", (1536, 1024)),
        ("gpt-image-2.5-flare", None, "png", (1024, 1024)),
    ],
)
def test_openai_success(emu, http, model, size, fmt, expected):
    body = {k: v for k, v in (("size", size), ("output_format", fmt)) if v}
    response = openai(emu, http, model=model, quality="low", **body)
    assert response.status_code == 200
    data = response.json()
    image = decode(data["data"][0]["b64_json"])
    assert image.size == expected
    assert image.format == (fmt or "png").upper()
    assert data["size"] == f"{expected[0]}x{expected[1]}"
    assert (data["output_format"], data["quality"], data["background"]) == (fmt or "png", "low", "opaque")
    assert set(data["usage"]) >= {"input_tokens", "output_tokens", "total_tokens"}
    assert isinstance(data["created"], int)


def test_openai_n_and_transparent_background(emu, http):
    data = openai(emu, http, n=2, background="transparent", model="gpt-image-2.6-flare").json()
    assert len(data["data"]) == 2 and data["background"] == "transparent"
    assert decode(data["data"][0]["b64_json"]).mode == "RGBA"
    response = openai(emu, http, background="transparent", output_format="jpeg")
    assert (response.status_code, response.json()["error"]["param"]) == (400, "background")


def test_openai_keys(emu, http):
    wrong = "sk-proj-abcdefghijklmnopqrstuvwxyz1234"
    response = openai(emu, http, key=wrong)
    assert response.status_code == 401
    error = response.json()["error"]
    assert (error["type"], error["param"], error["code"]) == ("invalid_request_error", None, "invalid_api_key")
    assert error["message"].startswith("Incorrect API key provided: sk-")
    assert "1234." in error["message"] and wrong not in error["message"] and "abcdef" not in error["message"]
    missing = http.post(f"{emu.url}/v1/images/generations", json={"model": "gpt-image-2", "prompt": "x"})
    assert missing.status_code == 401
    assert missing.json()["error"]["message"].startswith("You didn't provide an API key.")


def test_openai_rejects_response_format_and_unknown_model(emu, http):
    response = openai(emu, http, response_format="b64_json")
    assert response.status_code == 400
    assert response.json() == {"error": {
        "message": "Unknown parameter: 'response_format'.", "type": "invalid_request_error",
        "param": "response_format", "code": "unknown_parameter",
    }}
    unknown = openai(emu, http, model="dall-e-3")
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "model_not_found")
    long = openai(emu, http, prompt="x" * 32001)
    assert (long.status_code, long.json()["error"]["param"]) == (400, "prompt")
    assert openai(emu, http, quality="ultra").json()["error"]["param"] == "quality"
    # xhigh and max only where the catalogue lists them: gpt-image-2 stops at high.
    xhigh = openai(emu, http, quality="xhigh").json()["error"]
    assert (xhigh["code"], xhigh["param"]) == ("invalid_value", "quality")
    assert xhigh["message"] == ("Invalid value: 'xhigh'. Supported values are: 'low', 'medium', 'high',"
                                " and 'auto'.")
    for quality in ("xhigh", "max"):
        answer = openai(emu, http, model="gpt-image-2.5-flare", quality=quality, size="1024x1024")
        assert (answer.status_code, answer.json()["quality"]) == (200, quality)


@pytest.mark.parametrize(
    ("model", "size"),
    [
        ("gpt-image-2", "1000x1000"),  # not multiples of 16
        ("gpt-image-2", "4096x2048"),  # long edge > 3840
        ("gpt-image-2", "3072x960"),  # ratio > 3:1
        ("gpt-image-2", "768x768"),  # < 655,360 pixels
        ("gpt-image-2", "big"),
        ("gpt-image-2.6-flare", "4000x2000"),
        ("chatgpt-image-next", "1792x1024"),  # an extra of a fixed-size family
        ("chatgpt-image-next", "512x512"),
    ],
)
def test_openai_invalid_sizes(emu, http, model, size):
    emu.add_model("openai", "chatgpt-image-next")
    response = openai(emu, http, model=model, size=size)
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], error["param"], error["type"]) == ("invalid_value", "size", "invalid_request_error")


def test_openai_gpt_image_2_edge_sizes_accepted(emu, http):
    for size in ("3840x1280", "1024x640"):  # 3:1 exactly; 655,360 pixels exactly
        assert openai(emu, http, size=size, output_format="jpeg").status_code == 200
    emu.add_model("openai", "chatgpt-image-next")  # the chatgpt-image family: fixed sizes
    assert openai(emu, http, model="chatgpt-image-next", size="1024x1536").status_code == 200
    message = openai(emu, http, model="chatgpt-image-next", size="1000x1000").json()["error"]["message"]
    assert message == ("Invalid value: '1000x1000'. Supported values are: '1024x1024', '1536x1024', '1024x1536',"
                       " and 'auto'.")


def test_openai_error_faults(emu, http):
    emu.add_fault(Fault(provider="openai", kind="rate_limit", retry_after=1.5))
    limited = openai(emu, http)
    assert limited.status_code == 429
    assert (limited.headers["retry-after"], limited.headers["retry-after-ms"]) == ("2", "1500")
    error = limited.json()["error"]
    assert (error["type"], error["param"], error["code"]) == ("requests", None, "rate_limit_exceeded")
    emu.add_fault(Fault(provider="openai", kind="moderation_blocked"))
    blocked = openai(emu, http).json()["error"]
    assert (blocked["code"], blocked["type"]) == ("moderation_blocked", "image_generation_user_error")
    assert blocked["message"].startswith("Your request was rejected by the safety system.")
    emu.add_fault(Fault(provider="openai", kind="server_error"))
    emu.add_fault(Fault(provider="openai", kind="overloaded"))
    assert [openai(emu, http).status_code for _ in range(3)] == [500, 503, 200]


def test_openai_list_models(emu, http):
    response = http.get(f"{emu.url}/v1/models", headers={"authorization": f"Bearer {emu.keys['openai']}"})
    assert response.json()["object"] == "list"
    ids = [m["id"] for m in response.json()["data"]]
    assert "gpt-5" in ids and "gpt-image-1.5" not in ids and "gpt-image-2.6-sunburst" in ids
    assert all(set(m) == {"id", "object", "created", "owned_by"} and m["object"] == "model"
               for m in response.json()["data"])
    assert emu.requests[-1].provider == "openai" and emu.requests[-1].kind == "models"
    one = http.get(f"{emu.url}/v1/models/gpt-image-2", headers={"authorization": f"Bearer {emu.keys['openai']}"})
    assert one.json() == {"id": "gpt-image-2", "object": "model", "created": 1767225600, "owned_by": "system"}
    gone = http.get(f"{emu.url}/v1/models/gpt-image-1.5", headers={"authorization": f"Bearer {emu.keys['openai']}"})
    assert (gone.status_code, gone.json()["error"]["code"]) == (404, "model_not_found")
    wrong = http.get(f"{emu.url}/v1/models", headers={"authorization": "Bearer sk-wrong-000000000000"})
    assert (wrong.status_code, wrong.json()["error"]["code"]) == (401, "invalid_api_key")


def test_openai_unverified_organization_fault(emu, http):
    emu.add_fault(Fault(provider="openai", kind="unverified_org"))
    response = openai(emu, http, model="gpt-image-2.6-sunburst")
    assert response.status_code == 403
    assert response.json() == {"error": {
        "message": "Your organization must be verified to use the model `gpt-image-2.6-sunburst`. Please go to:"
        " https://platform.openai.com/settings/organization/general and click on Verify Organization. If you"
        " just verified, it can take up to 15 minutes for access to propagate.",
        "type": "invalid_request_error", "param": None, "code": None,
    }}
    assert emu.image_requests()[-1].fault == "unverified_org"
    assert openai(emu, http).status_code == 200
    emu.add_fault(Fault(kind="unverified_org", times=-1))  # OpenAI's only, even without a provider
    assert gemini(emu, http).status_code == azure(emu, http).status_code == 200


# -- Azure, raw --------------------------------------------------------------------------------


def test_azure_deployment_path(emu, http):
    emu.deployments["banner-prod"] = "gpt-image-2"
    response = azure(emu, http, deployment="banner-prod", size="1792x1024", quality="high")
    assert response.status_code == 200
    data = response.json()
    assert decode(data["data"][0]["b64_json"]).size == (1792, 1024)
    assert "content_filter_results" in data["data"][0]  # extra Azure field clients must tolerate
    record = emu.image_requests()[-1]
    assert (record.provider, record.model, record.deployment) == ("foundry", "gpt-image-2", "banner-prod")
    same_model = azure(emu, http, deployment="banner-prod", model="gpt-image-2", output_format="jpeg")
    assert decode(same_model.json()["data"][0]["b64_json"]).format == "JPEG"
    for version in ("2025-03-01-preview", "2024-10-21", "2024-02-01"):
        assert azure(emu, http, version=version, model="gpt-image-2").status_code == 200


def test_azure_v1_path(emu, http):
    emu.deployments["banner-prod"] = "gpt-image-2.5-sunburst"
    response = azure_v1(emu, http, model="banner-prod", size="1024x1536")
    assert response.status_code == 200
    assert decode(response.json()["data"][0]["b64_json"]).size == (1024, 1536)
    assert azure_v1(emu, http, model="nope").json()["error"]["code"] == "DeploymentNotFound"
    assert azure_v1(emu, http).status_code == 400


def test_azure_errors(emu, http):
    not_found = azure(emu, http, deployment="dall-e-2")
    assert not_found.status_code == 404
    assert not_found.json()["error"]["code"] == "DeploymentNotFound"
    assert not_found.json()["error"]["message"].startswith("The API deployment for this resource does not exist.")
    for version in ("2023-06-01-preview", None):
        wrong = azure(emu, http, version=version)
        assert (wrong.status_code, wrong.json()) == (404, {"error": {"code": "404", "message": "Resource not found"}})
    mismatch = azure(emu, http, deployment="gpt-image-2", model="gpt-image-1.5")
    assert mismatch.status_code == 400
    assert mismatch.json()["error"]["message"] == "The model 'gpt-image-1.5' does not exist."
    webp = azure(emu, http, output_format="webp")
    assert (webp.status_code, webp.json()["error"]["param"]) == (400, "output_format")
    assert azure(emu, http, response_format="b64_json").json()["error"]["code"] == "unknown_parameter"
    assert azure(emu, http, size="1000x1000").json()["error"]["code"] == "invalid_value"
    assert azure(emu, http, quality="max").json()["error"]["param"] == "quality"  # gpt-image-2 stops at high


def test_azure_auth(emu, http):
    for headers in ({"api-key": "wrong"}, {}):
        response = azure(emu, http, headers=headers)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "401"
        assert response.json()["error"]["message"].startswith("Access denied due to invalid subscription key")
    bogus = azure(emu, http, headers={"authorization": "Bearer emu-token-999"})
    assert bogus.status_code == 401 and "audience" in bogus.json()["error"]["message"]


def test_azure_error_faults(emu, http):
    emu.add_fault(Fault(provider="foundry", kind="rate_limit", retry_after=1.5))
    limited = azure(emu, http)
    assert limited.status_code == 429
    assert (limited.headers["retry-after"], limited.headers["retry-after-ms"]) == ("2", "1500")
    error = limited.json()["error"]
    assert error["code"] == "429"
    assert error["message"].startswith("Requests to the Images_Generations Operation under Azure OpenAI API")
    assert "Please retry after 2 seconds." in error["message"]
    emu.add_fault(Fault(provider="foundry", kind="content_policy_violation"))
    refused = azure(emu, http)
    assert refused.status_code == 400
    error = refused.json()["error"]
    assert error["code"] == "content_policy_violation"
    assert error["message"].startswith("Your request was rejected as a result of our safety system")
    assert error["inner_error"]["code"] == "ResponsibleAIPolicyViolation"
    assert error["inner_error"]["content_filter_results"]["violence"] == {"filtered": True, "severity": "high"}
    emu.add_fault(Fault(provider="foundry", kind="server_error"))
    emu.add_fault(Fault(provider="foundry", kind="overloaded"))
    assert [azure(emu, http).status_code for _ in range(3)] == [500, 503, 200]


# -- the catalogue's world: what is served, what is gone -----------------------------------------


def test_each_protocol_serves_exactly_the_live_catalogue(emu, http):
    assert set(gemini_listed(emu, http)) - GEMINI_TEXT_MODELS == live("google")
    assert set(openai_listed(emu, http)) - OPENAI_TEXT_MODELS == live("openai")
    assert set(azure_listed(emu, http)) == live("foundry") == set(emu.deployments)
    base = http.get(f"{emu.url}/azure/openai/models", params={"api-version": AZURE_VERSION},
                    headers={"api-key": emu.keys["foundry"]})
    assert base.status_code == 200 and base.json()["object"] == "list"
    non_mai = {info.name for info in CATALOGUE.live("foundry") if info.api != "mai"}
    assert {m["id"] for m in base.json()["data"]} == non_mai
    for provider in ("google", "openai", "foundry"):
        assert set(emu.served_models(provider)) == live(provider)
    # ... and every one of them generates, each on its own route.
    for name in live("google"):
        assert gemini(emu, http, gemini_body(ratio="1:1"), model=name).status_code == 200, name
    for name in live("openai"):
        assert openai(emu, http, model=name, size="1024x1024", quality="low").status_code == 200, name
    for info in CATALOGUE.live("foundry"):
        if info.api == "mai":
            response = mai(emu, http, model=info.name, width=768, height=768)
        else:
            response = azure_v1(emu, http, model=info.name, size="1024x1024", quality="low")
        assert response.status_code == 200, info.name
    assert emu.retired_requests() == []


def test_retired_names_get_each_providers_not_found(emu, http):
    retired = set(CATALOGUE.retired)
    assert {"gemini-3-pro-image-preview", "chatgpt-image-latest", "dall-e-2", "dall-e-3"} <= retired
    # OpenAI shut gpt-image-1.5 and gpt-image-1-mini down on 2026-12-01, gpt-image-1 on 2026-10-23; Foundry still
    # serves them.
    for name in ("gpt-image-1.5", "gpt-image-1"):
        assert name not in retired and CATALOGUE.get(name).providers == ("foundry",)
    for version in ("v1beta", "v1"):
        response = gemini(emu, http, gemini_body(), model="gemini-3-pro-image-preview", version=version)
        assert response.status_code == 404
        assert response.json() == {"error": {
            "code": 404, "status": "NOT_FOUND",
            "message": f"models/gemini-3-pro-image-preview is not found for API version {version}, or is not"
            " supported for generateContent. Call ListModels to see the list of available models and their"
            " supported methods.",
        }}
    for name in ("gpt-image-1.5", "gpt-image-1-mini", "chatgpt-image-latest", "dall-e-2", "gpt-image-1"):
        response = openai(emu, http, model=name, size="1024x1024")
        assert response.status_code == 404
        assert response.json() == {"error": {
            "message": f"The model `{name}` does not exist or you do not have access to it.",
            "type": "invalid_request_error", "param": None, "code": "model_not_found",
        }}
    deployment_not_found = {"error": {
        "code": "DeploymentNotFound",
        "message": "The API deployment for this resource does not exist. If you created the deployment within"
        " the last 5 minutes, please wait a moment and try again.",
    }}
    emu.deployments["old-banners"] = "dall-e-2"  # a deployment whose model was shut down
    emu.deployments["old-mai"] = "MAI-Image-1"  # a model no catalogue knows
    answers = [
        azure(emu, http, deployment="old-banners"),
        azure_v1(emu, http, model="old-banners"),
        azure_v1(emu, http, model="dall-e-3"),  # not deployed at all
        azure(emu, http, deployment="no-such-deployment"),
        mai(emu, http, model="old-mai"),
        mai(emu, http, model="MAI-Image-1"),
    ]
    for response in answers:
        assert (response.status_code, response.json()) == (404, deployment_not_found), response.request.url
    assert "old-banners" not in azure_listed(emu, http)
    found = {(r.provider, r.model) for r in emu.retired_requests()}
    assert found == {("google", "gemini-3-pro-image-preview"), ("openai", "gpt-image-1.5"),
                     ("openai", "gpt-image-1-mini"), ("openai", "chatgpt-image-latest"), ("openai", "dall-e-2"),
                     ("openai", "gpt-image-1"), ("foundry", "dall-e-2"), ("foundry", "dall-e-3")}
    by_deployment = {r.deployment: r.model for r in emu.image_requests() if r.provider == "foundry"}
    assert by_deployment["old-banners"] == "dall-e-2" and by_deployment["old-mai"] == "MAI-Image-1"


def test_extra_models_are_served_with_their_familys_rules(http):
    extra = {"google": ["gemini-4-flash-image", "imagen-9"], "openai": ["gpt-image-3"],
             "foundry": ["MAI-Image-3", "gpt-image-3"]}
    with Emulator(extra_models=extra) as emu:
        assert set(gemini_listed(emu, http)) - GEMINI_TEXT_MODELS == live("google") | set(extra["google"])
        assert set(openai_listed(emu, http)) - OPENAI_TEXT_MODELS == live("openai") | {"gpt-image-3"}
        assert set(azure_listed(emu, http)) == live("foundry") | {"MAI-Image-3", "gpt-image-3"}
        # The gemini family takes 1K only; a name no family claims gets every ratio and 1K/2K/4K.
        assert gemini(emu, http, gemini_body(ratio="16:9"), model="gemini-4-flash-image").status_code == 200
        assert gemini(emu, http, gemini_body(size="2K"), model="gemini-4-flash-image").status_code == 400
        wide = gemini(emu, http, gemini_body(ratio="8:1", size="4K"), model="imagen-9")
        assert decode(image_b64("google", wide)).size == (11264, 1408)
        assert wide.json()["candidates"][0]["content"]["parts"][-1]["inlineData"]["mimeType"] == "image/png"
        assert openai(emu, http, model="gpt-image-3", size="2048x1152").status_code == 200
        assert openai(emu, http, model="gpt-image-3", size="1000x1000").status_code == 400
        assert mai(emu, http, model="MAI-Image-3").status_code == 200
        assert azure_v1(emu, http, model="gpt-image-3").status_code == 200
        # Added while running: served at once, and a Foundry model is deployed under its name.
        assert openai(emu, http, model="gpt-image-1.5").status_code == 404
        emu.add_model("openai", "gpt-image-1.5")  # a retired entry keeps its own rules (fixed sizes)
        emu.add_model("foundry", "gpt-image-4")
        assert openai(emu, http, model="gpt-image-1.5", size="1536x1024").status_code == 200
        assert openai(emu, http, model="gpt-image-1.5", size="1792x1024").status_code == 400
        assert emu.deployments["gpt-image-4"] == "gpt-image-4" and "gpt-image-4" in azure_listed(emu, http)
        assert azure_v1(emu, http, model="gpt-image-4", size="1792x1024").status_code == 200
        with pytest.raises(ValueError):
            emu.add_model("azure", "gpt-image-4")


def test_the_served_models_follow_the_catalogues_day(http):
    """The day before OpenAI shut gpt-image-1.5 down, an emulator on that day's catalogue still serves it."""
    import datetime as dt

    yesterday = Catalogue.from_data(packaged_data(), today=dt.date(2026, 11, 30))
    with Emulator(catalogue=yesterday) as emu:
        assert "gpt-image-1.5" in openai_listed(emu, http)
        assert openai(emu, http, model="gpt-image-1.5", size="1536x1024").status_code == 200
        assert openai(emu, http, model="gpt-image-1.5", size="1792x1024").status_code == 400  # fixed sizes
        assert openai(emu, http, model="gpt-image-1").status_code == 404  # gone since 2026-10-23
        assert "gpt-image-1.5" in azure_listed(emu, http)


def test_model_specs_parse_mappings_and_cli_strings():
    assert parse_model_specs(["google:gemini-4-flash-image", "foundry:MAI-Image-3", "google:x"]) == {
        "google": ["gemini-4-flash-image", "x"], "foundry": ["MAI-Image-3"]}
    assert parse_model_specs({"openai": "gpt-image-3"}) == {"openai": ["gpt-image-3"]}
    assert parse_model_specs(None) == {}
    for bad in (["gpt-image-3"], ["azure:gpt-image-3"], ["openai:"], {"vertex": ["x"]}):
        with pytest.raises(ValueError):
            parse_model_specs(bad)


def test_apis_come_from_the_provider_table_and_no_provider_module_is_imported():
    assert [f"{api.__module__}:{api.__name__}" for api in APIS] == [spec.emulator for spec in SPECS]
    assert tuple(spec.name for spec in SPECS) == PROVIDERS
    code = ("import sys, mkdocs_imagegen.emulator as e; e.Emulator();"
            " print(sorted(m for m in sys.modules if m.startswith('mkdocs_imagegen.providers.')))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == "[]"


# -- Azure: the v1 credentials, the model lists, the MAI route ------------------------------------


def test_azure_v1_takes_the_api_key_as_a_bearer(emu, http):
    key_bearer = {"authorization": f"Bearer {emu.keys['foundry']}"}
    assert azure_v1(emu, http, headers=key_bearer, model="gpt-image-2").status_code == 200
    assert azure_v1(emu, http, headers=key_bearer, params={"api-version": "preview"},
                    model="gpt-image-2").status_code == 200
    version = azure_v1(emu, http, params={"api-version": AZURE_VERSION}, model="gpt-image-2")
    assert (version.status_code, version.json()["error"]["code"]) == (400, "BadRequest")
    wrong = azure_v1(emu, http, headers={"authorization": "Bearer 0123456789abcdef"}, model="gpt-image-2")
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "401"
    listed = http.get(f"{emu.url}/azure/openai/v1/models", headers=key_bearer)
    assert listed.status_code == 200 and listed.json()["object"] == "list"
    assert all(m["object"] == "model" and m["owned_by"] == "system" and isinstance(m["created"], int)
               for m in listed.json()["data"])
    # The dated route takes an api-key header or an Entra token, not the key as a bearer.
    assert azure(emu, http, headers=key_bearer).status_code == 401


def test_azure_model_lists_answer_bad_keys_and_unknown_versions(emu, http):
    for url, params in ((f"{emu.url}/azure/openai/v1/models", {}),
                        (f"{emu.url}/azure/openai/models", {"api-version": "2024-10-21"})):
        for headers in ({"api-key": "wrong"}, {}):
            response = http.get(url, params=params, headers=headers)
            assert (response.status_code, response.json()["error"]["code"]) == (401, "401"), url
    unknown = http.get(f"{emu.url}/azure/openai/models", params={"api-version": "2023-01-01-nope"},
                       headers={"api-key": emu.keys["foundry"]})
    assert (unknown.status_code, unknown.json()) == (404, {"error": {"code": "404", "message": "Resource not found"}})
    assert {r.kind for r in emu.requests} == {"models"} and emu.image_requests() == []


def test_mai_route_answers_at_exactly_the_requested_size(emu, http, clean_azure_env):
    response = mai(emu, http, model="MAI-Image-2.6", width=1360, height=768, auto_aspect_ratio=False)
    assert response.status_code == 200
    data = response.json()
    assert set(data) == {"created", "data"} and isinstance(data["created"], int)
    image = decode(data["data"][0]["b64_json"])
    assert (image.size, image.format) == ((1360, 768), "PNG")
    (record,) = emu.image_requests()
    assert (record.kind, record.provider, record.model, record.deployment, record.path) == (
        "image", "foundry", "MAI-Image-2.6", "MAI-Image-2.6", "/azure/mai/v1/images/generations")
    emu.deployments["hero-images"] = "MAI-Image-2.5-Flash"
    assert decode(mai(emu, http, model="hero-images", width=768, height=1365).json()["data"][0]["b64_json"]).size == (
        768, 1365)
    assert emu.image_requests()[-1].model == "MAI-Image-2.5-Flash"
    for name, value in emu.managed_identity_env().items():
        clean_azure_env.setenv(name, value)
    token = ManagedIdentityCredential().get_token(SCOPE).token
    assert mai(emu, http, headers={"authorization": f"Bearer {token}"}).status_code == 200
    assert mai(emu, http, headers={"api-key": "wrong"}).status_code == 401


@pytest.mark.parametrize(("width", "height", "limit"), [
    (700, 1024, "at least 768 pixels"),
    (1024, 767, "at least 768 pixels"),
    (1024, 1025, "must not exceed 1,048,576 pixels"),
    (1536, 1536, "must not exceed 1,048,576 pixels"),
])
def test_mai_route_rejects_sizes_out_of_bounds(emu, http, width, height, limit):
    response = mai(emu, http, width=width, height=height)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "BadRequest" and limit in error["message"] and f"{width}x{height}" in error["message"]


def test_mai_route_rejects_unknown_fields_and_wrong_deployments(emu, http):
    unknown = mai(emu, http, seed=7, size="1024x1024")
    assert (unknown.status_code, unknown.json()) == (
        400, {"error": {"code": "BadRequest", "message": "Invalid parameters: seed, size"}})
    # auto_aspect_ratio and web_grounding are MAI-Image-2.6 (and 2.6-Flash) parameters only.
    assert mai(emu, http, model="MAI-Image-2.6-Flash", web_grounding=True).status_code == 200
    older = mai(emu, http, model="MAI-Image-2.5", web_grounding=True)
    assert older.json()["error"]["message"] == "Invalid parameters: web_grounding"
    missing = mai(emu, http, width=None)
    assert missing.status_code == 400 and "width" in missing.json()["error"]["message"]
    for model in ("gpt-image-2", "gpt-image-2.5-flare"):
        wrong = mai(emu, http, model=model)
        assert wrong.status_code == 400
        assert wrong.json()["error"] == {
            "code": "OperationNotSupported", "message": "The imagesGenerate operation does not work with the"
            f" specified model, {model}. Please choose different model and try again."}
    # ... and the other way round: a MAI deployment on the OpenAI routes.
    assert azure_v1(emu, http, model="MAI-Image-2.5").json()["error"]["code"] == "OperationNotSupported"
    assert azure(emu, http, deployment="MAI-Image-2.5").json()["error"]["code"] == "OperationNotSupported"
    assert mai(emu, http, model="banners").json()["error"]["code"] == "DeploymentNotFound"


def test_mai_route_faults(emu, http):
    emu.add_fault(Fault(provider="foundry", kind="rate_limit", retry_after=2))
    limited = mai(emu, http)
    assert (limited.status_code, limited.headers["retry-after"]) == (429, "2")
    assert limited.json()["error"] == {"code": "429", "message": "Rate limit is exceeded. Try again in 2 seconds."}
    emu.add_fault(Fault(provider="foundry", kind="content_policy_violation"))
    assert mai(emu, http).json()["error"]["code"] == "content_policy_violation"
    emu.add_fault(Fault(provider="foundry", kind="server_error"))
    emu.add_fault(Fault(provider="foundry", kind="overloaded"))
    assert [mai(emu, http).status_code for _ in range(3)] == [500, 503, 200]
    with Emulator(latency=0.0) as slow_emu:
        slow_emu.add_fault(Fault(provider="foundry", kind="slow", delay=0.2))
        assert mai(slow_emu, http).status_code == 200
        (record,) = slow_emu.image_requests()
        assert record.fault == "slow" and record.finished - record.started >= 0.2


# -- the real google-genai SDK -----------------------------------------------------------------


def sdk_client(emu: Emulator, key: str | None = None) -> genai.Client:
    return genai.Client(api_key=key or emu.keys["google"], http_options=types.HttpOptions(base_url=emu.url))


def sdk_generate(client: genai.Client, prompt: str = "a fox") -> types.GenerateContentResponse:
    config = types.GenerateContentConfig(
        response_modalities=["IMAGE"],
        image_config=types.ImageConfig(aspect_ratio="16:9", image_size="2K"),
    )
    return client.models.generate_content(model=FLASH, contents=prompt, config=config)


def test_sdk_generates_image_and_wire_shape(emu):
    response = sdk_generate(sdk_client(emu))
    part = response.candidates[0].content.parts[-1]
    image = Image.open(io.BytesIO(part.inline_data.data))
    assert image.size == (2752, 1536) and part.inline_data.mime_type == "image/jpeg"
    (record,) = emu.image_requests()
    # What google-genai 3.4 actually sends:
    assert record.path == f"/v1/models/{FLASH}:generateContent"
    assert record.headers["x-goog-api-key"] == emu.keys["google"]
    assert record.body == {
        "contents": [{"parts": [{"text": "a fox"}], "role": "user"}],
        "generationConfig": {"responseModalities": ["IMAGE"],
                             "imageConfig": {"aspectRatio": "16:9", "imageSize": "2K"}},
    }


def test_sdk_reads_base_url_from_environment(emu, monkeypatch):
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", emu.url)
    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
    monkeypatch.setenv("GEMINI_API_KEY", emu.keys["google"])
    response = sdk_generate(genai.Client())
    assert response.candidates[0].content.parts[-1].inline_data.data
    assert emu.image_requests()[0].status == 200


def test_sdk_rate_limit_error(emu):
    emu.add_fault(Fault(provider="google", kind="rate_limit", retry_after=1.5))
    with pytest.raises(genai_errors.ClientError) as caught:
        sdk_generate(sdk_client(emu))
    assert (caught.value.code, caught.value.status) == (429, "RESOURCE_EXHAUSTED")
    details = caught.value.details["error"]["details"]
    assert {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "1.5s"} in details
    assert len(emu.image_requests()) == 1  # the SDK does not retry by itself


def test_sdk_bad_key_and_overload(emu):
    with pytest.raises(genai_errors.ClientError) as caught:
        sdk_generate(sdk_client(emu, key="AIzaNotTheKey"))
    assert (caught.value.code, caught.value.status) == (400, "INVALID_ARGUMENT")
    assert "API_KEY_INVALID" in str(caught.value.details)
    emu.add_fault(Fault(provider="google", kind="overloaded"))
    with pytest.raises(genai_errors.ServerError) as server:
        sdk_generate(sdk_client(emu))
    assert (server.value.code, server.value.status) == (503, "UNAVAILABLE")


def test_sdk_lists_every_page(emu):
    client = sdk_client(emu)  # held: the pager fetches later pages through it
    names = [m.name for m in client.models.list(config={"page_size": 2})]
    assert {name.removeprefix("models/") for name in names} == live("google") | GEMINI_TEXT_MODELS
    listing = [r for r in emu.requests if r.kind == "models"]
    assert len(listing) > 1 and listing[0].path in ("/v1/models", "/v1beta/models")  # SDK 3.x: v1; 2.x: v1beta
    assert listing[0].query["pageSize"] == "2"
    assert "pageToken" in listing[1].query


def test_sdk_sees_thoughts_and_refusals(emu):
    client = sdk_client(emu)
    emu.add_fault(Fault(provider="google", kind="thought_images"))
    parts = sdk_generate(client).candidates[0].content.parts
    assert [bool(p.thought) for p in parts] == [True, True, False]
    assert Image.open(io.BytesIO(parts[-1].inline_data.data)).size == (2752, 1536)
    emu.add_fault(Fault(provider="google", kind="block_reason"))
    blocked = sdk_generate(client)
    assert not blocked.candidates
    assert blocked.prompt_feedback.block_reason == types.BlockedReason.PROHIBITED_CONTENT
    emu.add_fault(Fault(provider="google", kind="image_safety"))
    assert sdk_generate(client).candidates[0].finish_reason == types.FinishReason.IMAGE_SAFETY


# -- the real azure-identity -------------------------------------------------------------------


@pytest.mark.parametrize("credential_class", [ManagedIdentityCredential, DefaultAzureCredential])
def test_managed_identity_token_authorizes_azure(emu, http, clean_azure_env, credential_class):
    for name, value in emu.managed_identity_env().items():
        clean_azure_env.setenv(name, value)
    # App Service managed identity talks plain http to IDENTITY_ENDPOINT: azure-identity (through
    # msal's _obtain_token_on_app_service) has no https check on that path (only Service Fabric
    # requires https), so no workaround is needed for the loopback endpoint.
    credential = credential_class()
    token = credential.get_token(SCOPE)
    assert token.token == "emu-token-1" and token.expires_on > time.time() + 3000
    assert credential.get_token(SCOPE).token == token.token  # cached by azure-identity
    assert emu.token_requests == 1
    (token_call,) = [r for r in emu.requests if r.kind == "token"]
    assert token_call.path == "/msi/token"
    assert token_call.query == {"api-version": "2019-08-01", "resource": "https://cognitiveservices.azure.com"}
    assert token_call.headers["x-identity-header"] == emu.identity_secret
    assert azure(emu, http, headers={"authorization": f"Bearer {token.token}"}).status_code == 200


def test_managed_identity_wrong_header_and_wrong_audience(emu, http, clean_azure_env):
    clean_azure_env.setenv("IDENTITY_ENDPOINT", f"{emu.url}/msi/token")
    clean_azure_env.setenv("IDENTITY_HEADER", "not-the-secret")
    with pytest.raises(ClientAuthenticationError):
        ManagedIdentityCredential().get_token(SCOPE)
    clean_azure_env.setenv("IDENTITY_HEADER", emu.identity_secret)
    storage = ManagedIdentityCredential().get_token("https://storage.azure.com/.default")
    response = azure(emu, http, headers={"authorization": f"Bearer {storage.token}"})
    assert response.status_code == 401


# -- concurrency, latency, lifecycle -----------------------------------------------------------


def test_max_in_flight_refuses_extras_with_retry_hints(http):
    # Measured: max_concurrent == 2 exactly; every extra request gets an immediate 429.
    with Emulator(latency=1.0, max_in_flight=2) as emu, ThreadPoolExecutor(2) as pool:
        held = [pool.submit(openai, emu, http, prompt=f"held {i}") for i in range(2)]
        assert emu.wait_for_in_flight(2)
        extra_openai = openai(emu, http, prompt="extra")
        extra_azure = azure(emu, http, prompt="extra")
        extra_google = gemini(emu, http, gemini_body("extra"))
        assert [f.result().status_code for f in held] == [200, 200]
        assert emu.max_concurrent == 2 and emu.in_flight == 0
    assert extra_openai.status_code == extra_azure.status_code == extra_google.status_code == 429
    assert extra_openai.headers["retry-after"] == "1" and extra_openai.headers["retry-after-ms"] == "1000"
    assert extra_openai.json()["error"]["code"] == "rate_limit_exceeded"
    assert extra_azure.headers["retry-after"] == "1" and extra_azure.json()["error"]["code"] == "429"
    assert error_details(extra_google)["RetryInfo"]["retryDelay"] == "1s"
    assert sorted(r.fault or "" for r in emu.image_requests()) == ["", "", "max_in_flight", "max_in_flight",
                                                                   "max_in_flight"]


def test_max_in_flight_under_a_burst(http):
    with Emulator(latency=0.3, max_in_flight=2) as emu, ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda i: openai(emu, http, prompt=f"burst {i}").status_code, range(8)))
        assert emu.max_concurrent <= 2
    assert statuses.count(200) >= 2 and statuses.count(200) + statuses.count(429) == 8


def test_latency_and_slow_fault(http):
    with Emulator(latency=0.2) as emu:
        emu.add_fault(Fault(provider="openai", kind="slow", delay=0.2))
        assert openai(emu, http).status_code == 200
        emu.latency = 0.0
        assert openai(emu, http).status_code == 200
        slow, fast = emu.image_requests()
    assert slow.fault == "slow" and slow.finished - slow.started >= 0.4
    assert fast.finished - fast.started < 0.4


def test_stop_is_prompt_while_a_handler_waits(http):
    emu = Emulator(latency=60).start()
    failures: list[BaseException] = []

    def call() -> None:
        try:
            openai(emu, http)
        except httpx.HTTPError as exc:
            failures.append(exc)

    worker = threading.Thread(target=call)
    worker.start()
    assert emu.wait_for_in_flight(1)
    started = time.monotonic()
    emu.stop()
    assert time.monotonic() - started < 2
    worker.join(timeout=5)
    assert not worker.is_alive() and len(failures) == 1
    (record,) = emu.image_requests()  # stop() waited for the woken handler to record it
    assert (record.status, record.fault) == (0, None)


def test_stop_with_idle_keep_alive_connection(http):
    emu = Emulator().start()
    assert openai(emu, http).status_code == 200  # leaves a pooled keep-alive connection open
    started = time.monotonic()
    emu.stop()
    assert time.monotonic() - started < 2
    with pytest.raises(httpx.TransportError):
        openai(emu, http)


def test_reset_and_wait_for_requests(emu, http):
    assert not emu.wait_for_requests(1, timeout=0.01)
    emu.add_fault(Fault(kind="server_error", times=-1))
    gemini(emu, http)
    assert emu.wait_for_requests(1, timeout=1)
    emu.reset()
    assert emu.requests == [] and emu.max_concurrent == 0 and emu.token_requests == 0
    assert gemini(emu, http).status_code == 200


def test_env_points_every_provider_at_the_emulator(emu):
    env = emu.env()
    assert env == {
        "GEMINI_API_KEY": emu.keys["google"],
        "GOOGLE_GEMINI_BASE_URL": emu.url,
        "OPENAI_API_KEY": emu.keys["openai"],
        "OPENAI_BASE_URL": f"{emu.url}/v1",
        "AZURE_OPENAI_ENDPOINT": f"{emu.url}/azure",
        "AZURE_OPENAI_API_KEY": emu.keys["foundry"],
    }
    assert emu.url.startswith("http://127.0.0.1:") and emu.port > 0
    assert emu.managed_identity_env()["IDENTITY_ENDPOINT"] == f"{emu.url}/msi/token"


def test_every_protocol_implements_the_interface(emu):
    apis = [api(emu) for api in APIS]
    assert all(isinstance(api, ProtocolApi) for api in apis)
    assert tuple(api.provider for api in apis) == PROVIDERS == tuple(emu.keys)
    env = {name: value for api in apis for name, value in api.env(emu.url, emu.keys[api.provider]).items()}
    assert env == emu.env()
    for api in apis:
        assert api.routes and all(route.handler is None or callable(getattr(api, route.handler))
                                  for route in api.routes)


def test_shared_models_path_goes_by_credentials(emu, http):
    """GET /v1/models is Gemini's with a Gemini key, OpenAI's otherwise; /v1beta is Gemini's only."""
    cases = [
        (f"{emu.url}/v1/models?key={emu.keys['google']}", {}, 200, "google"),
        (f"{emu.url}/v1/models", {"x-goog-api-key": emu.keys["google"]}, 200, "google"),
        (f"{emu.url}/v1/models", {"authorization": f"Bearer {emu.keys['openai']}"}, 200, "openai"),
        (f"{emu.url}/v1/models", {}, 401, "openai"),
        (f"{emu.url}/v1beta/models", {"authorization": f"Bearer {emu.keys['openai']}"}, 403, "google"),
    ]
    for url, headers, status, provider in cases:
        assert http.get(url, headers=headers).status_code == status, url
        assert (emu.requests[-1].provider, emu.requests[-1].kind) == (provider, "models")
    response = http.get(f"{emu.url}/nowhere")
    assert response.status_code == 404
    assert response.json() == {"error": {"code": "404", "message": "Resource not found"}}
    assert (emu.requests[-1].provider, emu.requests[-1].kind) == (None, "unknown")


def test_token_valid_and_wait_until_stopped(http):
    emu = Emulator().start()
    try:
        env = emu.managed_identity_env()
        response = http.get(env["IDENTITY_ENDPOINT"], headers={"x-identity-header": env["IDENTITY_HEADER"]},
                            params={"api-version": "2019-08-01", "resource": "https://cognitiveservices.azure.com"})
        token = response.json()["access_token"]
        assert emu.token_valid(token) and not emu.token_valid("emu-token-999")
        assert emu.requests[-1].provider == "msi" and emu.requests[-1].kind == "token"
        assert not emu.wait_until_stopped(timeout=0.01)
    finally:
        threading.Timer(0.05, emu.stop).start()
    assert emu.wait_until_stopped(timeout=5)


def test_run_prints_exports_and_stops_on_sigterm():
    port = free_port()
    code = f"from mkdocs_imagegen.emulator import run; run(port={port}, latency=0, extra_models=['openai:gpt-image-9'])"
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    try:
        exports = dict(process.stdout.readline().strip()[len("export "):].split("=", 1) for _ in range(6))
        assert exports["OPENAI_BASE_URL"] == f"http://127.0.0.1:{port}/v1"
        response = httpx.post(f"{exports['OPENAI_BASE_URL']}/images/generations",
                              headers={"authorization": f"Bearer {exports['OPENAI_API_KEY']}"},
                              json={"model": "gpt-image-9", "prompt": "cli"}, timeout=10)
        assert response.status_code == 200
        process.terminate()
        assert process.wait(timeout=10) == 0
        stderr = process.stderr.read()
        assert "emulator" in stderr and "also serving openai:gpt-image-9" in stderr
    finally:
        process.kill()
