"""OpenAI's Batch API for images: a JSONL file of `/v1/images/generations` requests, uploaded with
purpose `batch`, then `POST /v1/batches`; once `completed`, the output and error files are read a
line at a time, each image checked by the same strict decoder as a synchronous answer.

Facts (checked 2026-12-01): the Batch API takes `/v1/images/generations` and `/v1/images/edits`
(openai-python `BatchCreateParams.endpoint`, generated from OpenAI's OpenAPI spec); a batch holds
up to 50,000 requests in a file of up to 200 MB, with a 24-hour completion window, at 50% of the
synchronous price; OpenAI announced it for gpt-image-1.5, chatgpt-image-latest, gpt-image-1 and
gpt-image-1-mini (https://help.openai.com/en/articles/9197833-batch-api-faq; OpenAI Developers'
announcement, quoted at https://headsupai.io/updates/openai-batch-api-now-supports-gpt-image-models-at-half-cost).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any, Protocol

from mkdocs_imagegen.errors import (
    BadRequestError,
    BatchJobUnknownError,
    ImagegenError,
    InvalidImageError,
    TransientError,
)
from mkdocs_imagegen.providers import openai_common as common
from mkdocs_imagegen.providers.answers import scrub
from mkdocs_imagegen.providers.base import ProviderContext, ProviderImage
from mkdocs_imagegen.providers.batching import BatchPoll
from mkdocs_imagegen.request import GenerationRequest

if TYPE_CHECKING:
    import httpx

ENDPOINT = "/v1/images/generations"
MAX_RESULT_BYTES = 8 << 30  # a result file is read a line (an image) at a time; this only bounds the whole
MAX_LINE_CHARS = 96 << 20  # bytes in one line: one image answer, far above a 4K PNG in base64; longer is dropped
_FILE_ID = re.compile(r"^file-[A-Za-z0-9_-]{1,128}$")
_BATCH_ID = re.compile(r"^batch_[A-Za-z0-9_-]{1,128}$")
# OpenAI's batch status -> the SDK JobState names BatchPoll speaks.
_STATES = {"validating": "JOB_STATE_PENDING", "in_progress": "JOB_STATE_RUNNING", "finalizing": "JOB_STATE_RUNNING",
           "cancelling": "JOB_STATE_RUNNING", "completed": "JOB_STATE_SUCCEEDED", "failed": "JOB_STATE_FAILED",
           "expired": "JOB_STATE_EXPIRED", "cancelled": "JOB_STATE_CANCELLED"}


class OpenAIHost(Protocol):
    """What the Batch API uses of its provider (providers/openai.py): its name, base URL, catalogue, key, clients
    and error mapping."""

    name: str
    context: ProviderContext

    @property
    def base_url(self) -> str: ...
    def api_key(self, model: str) -> tuple[str, str]: ...
    def client(self) -> httpx.Client: ...
    def download_client(self, *, limit: int) -> httpx.Client: ...
    def error_for(self, response: httpx.Response, model: str, secret: str, source: str) -> ImagegenError: ...


class OpenAIBatches:
    def __init__(self, provider: OpenAIHost) -> None:
        self.provider = provider
        self._download: httpx.Client | None = None

    def unsupported(self) -> str | None:
        return None

    def takes(self, request: GenerationRequest) -> bool:
        """Whether the request can go in a job: one with reference images needs `images/edits`, whose multipart
        body a JSONL batch line cannot carry, so it is made synchronously."""
        return not request.references

    def _line(self, request: GenerationRequest) -> dict[str, Any]:
        size = common.wire_size(self.provider.context.catalogue.get(request.model), request.size)
        return {"custom_id": request.cache_key, "method": "POST", "url": ENDPOINT,
                "body": common.request_body(request, size, model=request.model)}

    def wire_size(self, request: GenerationRequest) -> int:
        """Bytes this request adds to the uploaded file (what the 200 MB limit counts)."""
        return len(json.dumps(self._line(request)).encode("utf-8")) + 1

    def submit(self, model: str, requests: list[GenerationRequest], display_name: str, *, timeout: float) -> str:
        """Upload the requests as a JSONL file and create the batch; its id (`batch_...`)."""
        secret, source = self.provider.api_key(model)
        content = "".join(json.dumps(self._line(request)) + "\n" for request in requests).encode("utf-8")
        client, base = self.provider.client(), self.provider.base_url
        headers = {"authorization": f"Bearer {secret}"}
        uploaded = _request(client, "POST", f"{base}/files", headers=headers, timeout=timeout, model=model,
                            provider=self.provider.name, data={"purpose": "batch"},
                            files={"file": ("mkdocs-imagegen-batch.jsonl", content, "application/jsonl")})
        file_id = self._field(uploaded, "id", _FILE_ID, model, secret, source)
        batch = {"input_file_id": file_id, "endpoint": ENDPOINT, "completion_window": "24h",
                 "metadata": {"description": display_name[:500]}}
        created = common.post_json(client, f"{base}/batches", headers=headers, timeout=timeout,
                                   provider=self.provider.name, model=model, body=batch)
        return self._field(created, "id", _BATCH_ID, model, secret, source)

    def _field(self, response: httpx.Response, name: str, pattern: re.Pattern[str], model: str, secret: str,
               source: str) -> str:
        if response.status_code != 200:
            raise self.provider.error_for(response, model, secret, source)
        try:
            value = response.json().get(name)
        except (ValueError, AttributeError):
            value = None
        if not isinstance(value, str) or not pattern.match(value):
            raise InvalidImageError(f"answered without a valid {name}", provider=self.provider.name, model=model)
        return value

    def poll(self, name: str, model: str, requests: list[GenerationRequest], *, timeout: float) -> BatchPoll:
        secret, source = self.provider.api_key(model)
        response = common.send(self.provider.client(), "GET", f"{self.provider.base_url}/batches/{name}",
                               headers={"authorization": f"Bearer {secret}"}, body=None, timeout=timeout,
                               provider=self.provider.name, model=model)
        if response.status_code == 404:
            raise BatchJobUnknownError(f"does not know batch job {name} (404): it was submitted under another key "
                                       "or project, or the record is not one of yours", provider=self.provider.name,
                                       model=model)
        if response.status_code != 200:
            raise self.provider.error_for(response, model, secret, source)
        try:
            batch = response.json()
            status = str(batch["status"])
        except (ValueError, KeyError, TypeError):
            raise InvalidImageError("answered a batch query that is not a batch", provider=self.provider.name,
                                    model=model) from None
        poll = BatchPoll(_STATES.get(status, "JOB_STATE_UNSPECIFIED"))
        if not poll.done:
            return poll
        files = [batch.get(field) for field in ("output_file_id", "error_file_id")]
        files = [file for file in files if isinstance(file, str) and _FILE_ID.match(file)]
        if not files:
            reason = _batch_errors(batch, secret) or f"ended {status} with no result file"
            error = TransientError(f"batch job {reason}", provider=self.provider.name, model=model)
            poll.results = dict.fromkeys((r.cache_key for r in requests), error)
            return poll
        by_key = {request.cache_key: request for request in requests}
        poll.stream = self._results(files, by_key, model, secret, source, timeout)
        return poll

    def _results(self, files: list[str], by_key: dict[str, GenerationRequest], model: str, secret: str,
                 source: str, timeout: float) -> Iterator[tuple[str, ProviderImage | ImagegenError]]:
        import httpx

        for file_id in files:
            url = f"{self.provider.base_url}/files/{file_id}/content"
            try:
                with self._downloads().stream("GET", url, headers={"authorization": f"Bearer {secret}"},
                                              timeout=httpx.Timeout(timeout)) as response:
                    if response.status_code != 200:
                        response.read()
                        raise self.provider.error_for(response, model, secret, source)
                    for line in bounded_lines(response.iter_bytes(), MAX_LINE_CHARS):
                        if line is None:  # too long to be an image answer: names no request, like a broken line
                            continue
                        found = self._result_line(line, by_key, secret, source)
                        if found is not None:
                            yield found
            except ImagegenError as error:
                error.provider, error.model = error.provider or self.provider.name, error.model or model
                raise
            except httpx.HTTPError as exc:
                raise TransientError(f"reading the batch results failed ({type(exc).__name__}: "
                                     f"{scrub(str(exc), secret)})", provider=self.provider.name, model=model) from None

    def _result_line(self, line: str, by_key: dict[str, GenerationRequest], secret: str,
                     source: str) -> tuple[str, ProviderImage | ImagegenError] | None:
        import httpx

        try:
            item = json.loads(line) if line.strip() else None
        except ValueError:
            return None  # a broken line names no request: its request ends up "no result"
        key = item.get("custom_id") if isinstance(item, dict) else None
        if not isinstance(key, str) or key not in by_key:
            return None
        request = by_key[key]
        answer, error = item.get("response"), item.get("error")
        if isinstance(error, dict):
            code, message = str(error.get("code") or ""), common.text_or_none(error.get("message")) or ""
            return key, BadRequestError(f"batch request failed ({code}: {scrub(message, secret)[:200]})",
                                        provider=self.provider.name, model=request.model)
        status = answer.get("status_code") if isinstance(answer, dict) else None
        if not isinstance(status, int) or not isinstance(answer.get("body"), dict):
            return key, InvalidImageError("returned a batch result line without a response",
                                          provider=self.provider.name, model=request.model)
        response = httpx.Response(status, json=answer["body"])  # read exactly as a synchronous answer is
        if status != 200:
            return key, self.provider.error_for(response, request.model, secret, source)
        try:
            (image,) = common.decode_images(response, provider=self.provider.name, model=request.model, count=1)
        except ImagegenError as failure:
            return key, failure
        size = self._line(request)["body"]["size"]
        return key, ProviderImage(data=image.data, provider=self.provider.name, model=request.model,
                                  mime_type=image.mime_type, requested={"size": size, "quality": request.quality,
                                             "output_format": common.OUTPUT_FORMAT}, details=image.details)

    def close(self) -> None:
        client, self._download = self._download, None
        if client is not None:
            client.close()

    def _downloads(self) -> httpx.Client:
        if self._download is None:
            self._download = self.provider.download_client(limit=MAX_RESULT_BYTES)
        return self._download


def bounded_lines(chunks: Iterable[bytes], limit: int) -> Iterator[str | None]:
    """The lines of a streamed body; a line longer than `limit` bytes is dropped as it streams (None in its
    place), so one runaway line neither fills memory nor hides the lines after it."""
    buffer = bytearray()
    dropping = False
    for chunk in chunks:
        start = 0
        while True:
            end = chunk.find(b"\n", start)
            if not dropping:
                buffer += chunk[start:] if end < 0 else chunk[start:end]
                if len(buffer) > limit:
                    buffer.clear()
                    dropping = True
            if end < 0:
                break
            yield None if dropping else buffer.decode("utf-8", errors="replace").rstrip("\r")
            buffer.clear()
            dropping = False
            start = end + 1
    if dropping or buffer:
        yield None if dropping else buffer.decode("utf-8", errors="replace").rstrip("\r")


def _request(client: httpx.Client, method: str, url: str, *, headers: dict[str, str], timeout: float, model: str,
             provider: str, **content: Any) -> httpx.Response:
    """One request with a non-JSON body (a multipart upload), with `common.send`'s error handling."""
    import httpx

    try:
        response = client.request(method, url, headers=headers, timeout=httpx.Timeout(timeout), **content)
    except ImagegenError as error:
        error.provider, error.model = error.provider or provider, error.model or model
        raise
    except httpx.TimeoutException as exc:
        raise TransientError(f"timed out after {timeout:g} s ({type(exc).__name__})", provider=provider,
                             model=model) from None
    except httpx.HTTPError as exc:
        raise TransientError(f"connection failed ({type(exc).__name__}: {scrub(str(exc), None)})",
                             provider=provider, model=model) from None
    if common.is_redirect(response.status_code):
        raise common.refused_redirect(response.status_code, response.headers.get("location"),
                                      secret=headers["authorization"].split()[-1],
                                      fix="check the configured base URL / endpoint", provider=provider, model=model)
    return response


def _batch_errors(batch: Any, secret: str) -> str | None:
    errors = batch.get("errors") if isinstance(batch, dict) else None
    data = errors.get("data") if isinstance(errors, dict) else None
    first = data[0] if isinstance(data, list) and data and isinstance(data[0], dict) else None
    if first is None:
        return None
    return f"failed ({first.get('code')}: {scrub(str(first.get('message') or ''), secret)[:200]})"
