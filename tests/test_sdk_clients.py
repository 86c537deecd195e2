"""The official SDKs as the emulator's clients: openai (OpenAI and Azure) and google-genai accept its answers,
read a request id from every one, raise the right exception types, send the parameters they document without a
refusal, list and cancel batches; and `mkdocs-imagegen emulator --fault` sets a fault from the command line."""

from __future__ import annotations

import base64
import io
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image

openai = pytest.importorskip("openai")
from google import genai  # noqa: E402 - after the skip: the SDK under test comes first
from google.genai import errors as genai_errors  # noqa: E402
from google.genai import types  # noqa: E402

from mkdocs_imagegen.emulator import Emulator, Fault  # noqa: E402

AZURE_API_VERSION = "2025-04-01-preview"


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator() as emulator:
        yield emulator


def openai_client(emu: Emulator) -> openai.OpenAI:
    return openai.OpenAI(api_key=emu.keys["openai"], base_url=f"{emu.url}/v1", max_retries=0)


def azure_client(emu: Emulator) -> openai.AzureOpenAI:
    return openai.AzureOpenAI(api_key=emu.keys["foundry"], azure_endpoint=f"{emu.url}/azure",
                              api_version=AZURE_API_VERSION, max_retries=0)


def gemini_client(emu: Emulator) -> genai.Client:
    return genai.Client(api_key=emu.keys["google"], http_options=types.HttpOptions(base_url=emu.url))


def image_size(b64: str) -> tuple[int, int]:
    return Image.open(io.BytesIO(base64.b64decode(b64))).size


# --- request ids -----------------------------------------------------------------------------------------------


def test_openai_reads_a_request_id_from_answers_and_errors(emu: Emulator) -> None:
    client = openai_client(emu)
    answer = client.images.generate(model="gpt-image-2", prompt="a lighthouse", size="1536x1024")
    assert answer._request_id and answer._request_id.startswith("req_")
    assert image_size(answer.data[0].b64_json) == (1536, 1024)

    with pytest.raises(openai.BadRequestError) as refused:
        client.images.generate(model="gpt-image-2", prompt="a lighthouse", size="1000x1000")
    with pytest.raises(openai.NotFoundError) as missing:
        client.images.generate(model="gpt-image-9-nonexistent", prompt="a lighthouse")
    emu.add_fault(Fault(provider="openai", kind="rate_limit"))
    with pytest.raises(openai.RateLimitError) as limited:
        client.images.generate(model="gpt-image-2", prompt="a lighthouse")
    emu.add_fault(Fault(provider="openai", kind="moderation_blocked"))
    with pytest.raises(openai.BadRequestError) as blocked:
        client.images.generate(model="gpt-image-2", prompt="a lighthouse")
    ids = [error.value.request_id for error in (refused, missing, limited, blocked)]
    assert all(request_id and request_id.startswith("req_") for request_id in ids), ids
    assert len(set(ids)) == len(ids)
    assert blocked.value.code == "moderation_blocked"


def test_azure_answers_carry_a_request_id_too(emu: Emulator) -> None:
    client = azure_client(emu)
    answer = client.images.generate(model="gpt-image-2", prompt="a harbour", size="1024x1024")
    assert answer._request_id and answer._request_id.startswith("req_")
    with pytest.raises(openai.NotFoundError) as missing:
        client.images.generate(model="no-such-deployment", prompt="a harbour")
    assert missing.value.request_id and missing.value.code == "DeploymentNotFound"


def test_gemini_answers_and_errors_carry_a_request_id(emu: Emulator) -> None:
    client = gemini_client(emu)
    answer = client.models.generate_content(
        model="gemini-3-pro-image", contents="a lighthouse",
        config=types.GenerateContentConfig(image_config=types.ImageConfig(aspect_ratio="16:9", image_size="2K")))
    assert answer.sdk_http_response.headers["x-request-id"].startswith("req_")
    with pytest.raises(genai_errors.ClientError) as refused:
        client.models.generate_content(
            model="gemini-3-pro-image", contents="a lighthouse",
            config=types.GenerateContentConfig(image_config=types.ImageConfig(image_size="512")))
    assert refused.value.code == 400 and refused.value.status == "INVALID_ARGUMENT"
    assert refused.value.response.headers["x-request-id"].startswith("req_")


# --- the parameters the SDK documents --------------------------------------------------------------------------


def test_openai_documented_parameters_are_taken_and_stream_partial_images(emu: Emulator) -> None:
    client = openai_client(emu)
    answer = client.images.generate(model="gpt-image-2", prompt="a kite", size="1024x1024",
                                    safety_identifier="user-7f3a", user="legacy-user")
    assert answer.data[0].b64_json

    events = list(client.images.generate(model="gpt-image-2", prompt="a kite", size="1536x1024", stream=True,
                                         partial_images=2, safety_identifier="user-7f3a"))
    assert [event.type for event in events] == ["image_generation.partial_image"] * 2 + ["image_generation.completed"]
    assert [event.partial_image_index for event in events[:2]] == [0, 1]
    assert image_size(events[-1].b64_json) == (1536, 1024) and events[-1].usage.output_tokens > 0
    request = emu.image_requests()[-1]
    assert request.status == 200 and request.body["stream"] is True and request.body["partial_images"] == 2

    with pytest.raises(openai.BadRequestError) as refused:
        client.images.generate(model="gpt-image-2", prompt="a kite", stream=True, partial_images=4)
    assert refused.value.param == "partial_images"


def test_azure_streams_an_edit_with_its_own_event_names(emu: Emulator) -> None:
    reference = io.BytesIO()
    Image.new("RGB", (64, 64), (200, 40, 40)).save(reference, "PNG")
    stream = azure_client(emu).images.edit(model="gpt-image-2", prompt="the same, at night",
                                           image=("ref.png", reference.getvalue(), "image/png"), stream=True)
    events = list(stream)
    assert [event.type for event in events] == ["image_edit.completed"]
    assert events[0].b64_json


# --- paths nobody serves ---------------------------------------------------------------------------------------


def test_an_unknown_path_answers_its_protocols_own_404_and_delete_is_no_html_page(emu: Emulator) -> None:
    client = openai_client(emu)
    for method in ("get", "delete"):
        with pytest.raises(openai.NotFoundError) as missing:
            getattr(client, method)("/no/such/thing", cast_to=httpx.Response)
        assert missing.value.body["message"] == f"Invalid URL ({method.upper()} /v1/no/such/thing)"
        assert missing.value.request_id
    gemini = httpx.delete(f"{emu.url}/v1beta/nothing", headers={"x-goog-api-key": emu.keys["google"]})
    assert gemini.status_code == 404 and gemini.json()["error"]["status"] == "NOT_FOUND"
    azure = httpx.delete(f"{emu.url}/azure/openai/nothing", headers={"api-key": emu.keys["foundry"]})
    assert azure.status_code == 404 and azure.json() == {"error": {"code": "404", "message": "Resource not found"}}
    assert all(answer.headers["content-type"].startswith("application/json") for answer in (gemini, azure))


# --- batches ---------------------------------------------------------------------------------------------------


def batch_file(model: str, prompts: list[str]) -> bytes:
    lines = [json.dumps({"custom_id": f"page-{index}", "method": "POST", "url": "/v1/images/generations",
                         "body": {"model": model, "prompt": prompt, "size": "1024x1024"}})
             for index, prompt in enumerate(prompts)]
    return ("\n".join(lines) + "\n").encode()


def test_openai_batches_are_listed_cancelled_and_their_files_retrieved_and_deleted(emu: Emulator) -> None:
    emu.batches.delay = None  # nothing finishes until told
    client = openai_client(emu)
    uploaded = client.files.create(file=("batch.jsonl", batch_file("gpt-image-2", ["a", "b"])), purpose="batch")
    assert client.files.retrieve(uploaded.id).bytes == uploaded.bytes
    first = client.batches.create(input_file_id=uploaded.id, endpoint="/v1/images/generations",
                                  completion_window="24h")
    second = client.batches.create(input_file_id=uploaded.id, endpoint="/v1/images/generations",
                                   completion_window="24h")

    listed = client.batches.list(limit=1)
    assert [batch.id for batch in listed.data] == [second.id] and listed.has_more
    assert {batch.id for batch in client.batches.list()} == {first.id, second.id}  # the SDK pages through

    cancelled = client.batches.cancel(first.id)
    assert cancelled.status == "cancelled" and cancelled._request_id
    assert client.batches.retrieve(first.id).status == "cancelled"
    emu.batches.finish()
    done = client.batches.retrieve(second.id)
    assert done.status == "completed"
    with pytest.raises(openai.ConflictError):
        client.batches.cancel(second.id)
    output = client.files.content(done.output_file_id).text.splitlines()
    assert len(output) == 2
    assert client.files.delete(done.output_file_id).deleted
    with pytest.raises(openai.NotFoundError):
        client.files.retrieve(done.output_file_id)


def test_gemini_batches_are_listed_cancelled_and_deleted(emu: Emulator) -> None:
    emu.batches.delay = None
    client = gemini_client(emu)
    requests = [{"contents": [{"parts": [{"text": "a lighthouse"}], "role": "user"}]}]
    first = client.batches.create(model="gemini-3-pro-image", src=requests)
    second = client.batches.create(model="gemini-3-pro-image", src=requests)
    assert {job.name for job in client.batches.list()} == {first.name, second.name}

    client.batches.cancel(name=first.name)
    assert client.batches.get(name=first.name).state == types.JobState.JOB_STATE_CANCELLED
    emu.batches.finish()
    assert client.batches.get(name=second.name).state == types.JobState.JOB_STATE_SUCCEEDED
    client.batches.delete(name=first.name)
    with pytest.raises(genai_errors.ClientError) as gone:
        client.batches.get(name=first.name)
    assert gone.value.code == 404
    assert [job.name for job in client.batches.list()] == [second.name]


# --- faults from the command line ------------------------------------------------------------------------------


def test_emulator_fault_from_the_command_line_refuses_the_matching_prompts_only(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "mkdocs_imagegen", "emulator", "--port", "0", "--fault", "rate_limit:hero"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        exports = _exports(process)
        client = openai.OpenAI(api_key=exports["OPENAI_API_KEY"], base_url=exports["OPENAI_BASE_URL"], max_retries=0)
        with pytest.raises(openai.RateLimitError) as limited:
            client.images.generate(model="gpt-image-2", prompt="the hero banner")
        assert limited.value.request_id
        with pytest.raises(openai.RateLimitError):  # every matching request, not just the first
            client.images.generate(model="gpt-image-2", prompt="another hero")
        assert client.images.generate(model="gpt-image-2", prompt="a quiet page").data[0].b64_json
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=20)
    assert "fault rate_limit for prompts containing 'hero'" in stderr
    assert "3 request(s) answered" in stderr


def test_a_malformed_fault_is_refused_before_anything_is_served() -> None:
    result = subprocess.run([sys.executable, "-m", "mkdocs_imagegen", "emulator", "--port", "0", "--fault",
                             "no_such_kind"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "Invalid value for '--fault': unknown fault kind 'no_such_kind'" in result.stderr
    assert "export" not in result.stdout


def _exports(process: subprocess.Popen[str], timeout: float = 30.0) -> dict[str, str]:
    """The `export NAME=VALUE` lines the emulator prints once it listens (read on a thread: the wait is bounded)."""
    found: dict[str, str] = {}
    ready = threading.Event()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            name, _, value = line.removeprefix("export ").strip().partition("=")
            found[name] = value.strip("'")
            if "OPENAI_BASE_URL" in found and "OPENAI_API_KEY" in found:
                ready.set()
        ready.set()

    threading.Thread(target=read, daemon=True).start()
    assert ready.wait(timeout) and "OPENAI_BASE_URL" in found, "the emulator printed no exports"
    return found
