"""Gemini Batch Mode through the google-genai SDK: inlined requests in, inlined responses out.

`client.batches.create(model=..., src=[inlined requests], config=...)` submits one job;
`client.batches.get(name=...)` reads its state and, once done, every request's answer in
`dest.inlined_responses` (each a GenerateContentResponse, or an error). Each answer is read by
the same strict reader as a synchronous one (gemini_answers.extract_image), so a batch result is
checked exactly like a synchronous result before it reaches the cache.

Facts (checked 2026-12-01): Batch Mode runs generateContent requests asynchronously at 50% of the
price, results within 24 hours, inlined requests up to 20 MB in total
(https://ai.google.dev/gemini-api/docs/batch-api); inlined requests are a Gemini Developer API
feature only (the SDK refuses them on Vertex AI). The wire format is the SDK's (python-genai
`batches.py`): POST models/{model}:batchGenerateContent, GET batches/{id}.
"""

from __future__ import annotations

import base64
import json
import math
import threading
from dataclasses import dataclass
from typing import Any, Protocol

from mkdocs_imagegen.errors import (
    BadRequestError,
    BatchJobUnknownError,
    ImagegenError,
    InvalidImageError,
    TransientError,
)
from mkdocs_imagegen.providers.answers import scrub
from mkdocs_imagegen.providers.base import ProviderImage
from mkdocs_imagegen.providers.batching import BatchPoll
from mkdocs_imagegen.providers.gemini_answers import extract_image, quote_text
from mkdocs_imagegen.request import GenerationRequest


class GeminiHost(Protocol):
    """What Batch Mode uses of its provider (providers/google.py): its name, size rules, credentials, request
    contents, error mapping and a client of its own."""

    name: str

    def vertex(self) -> tuple[str, str] | None: ...
    def requested(self, request: GenerationRequest) -> dict[str, Any]: ...
    def contents(self, request: GenerationRequest) -> Any: ...
    def secret(self) -> str | None: ...
    def error_for(self, exc: Exception, model: str, timeout: float) -> ImagegenError: ...
    def batch_client(self, model: str, *, limit: int) -> tuple[Any, Any]: ...

# A finished job's answer carries every image, base64 in JSON, read (and parsed by the SDK) at once. Google
# documents no limit for it; this cap (16 times a synchronous answer's) is only there to bound memory.
MAX_BATCH_ANSWER_BYTES = 1 << 30
_RETRYABLE_CODES = {4, 8, 10, 13, 14}  # google.rpc.Code: DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, ABORTED, INTERNAL...


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(word.title() for word in rest)


class GeminiBatches:
    """Batch Mode for one GoogleProvider: its credentials, size rules and error mapping, and an SDK client of
    its own whose answers may be larger (a finished job's inlined results hold every image at once)."""

    def __init__(self, provider: GeminiHost) -> None:
        self.provider = provider
        self._client: Any = None
        self._http: Any = None
        self._lock = threading.Lock()

    def _get_client(self, model: str) -> Any:
        with self._lock:
            if self._client is None:
                self._client, self._http = self.provider.batch_client(model, limit=MAX_BATCH_ANSWER_BYTES)
            return self._client

    def close(self) -> None:
        with self._lock:
            client, self._client = self._client, None
            http, self._http = self._http, None
        if client is not None:
            client.close()
        if http is not None:
            http.close()

    def unsupported(self) -> str | None:
        """Why this provider cannot take inlined batch jobs now, or None."""
        if self.provider.vertex() is not None:
            return "inlined batch requests are a Gemini Developer API feature; Vertex AI batch jobs read Cloud Storage"
        return None

    def takes(self, request: GenerationRequest) -> bool:
        """Every request goes in a job: reference images travel as inline parts, as synchronously."""
        return True

    def wire_size(self, request: GenerationRequest) -> int:
        """Bytes this request adds to the batch's JSON body (what the 20 MB limit counts)."""
        requested = {_camel(name): value for name, value in self.provider.requested(request).items()}
        images = [{"inlineData": {"data": base64.urlsafe_b64encode(reference.data).decode(),
                                  "mimeType": reference.mime_type}} for reference in request.references]
        item = {"request": {"model": f"models/{request.model}",
                            "contents": [{"parts": [*images, {"text": request.sent_prompt}], "role": "user"}],
                            "generationConfig": {"responseModalities": ["IMAGE"], "imageConfig": requested}},
                "metadata": {"key": request.cache_key}}
        return len(json.dumps(item).encode("utf-8")) + 2  # as the SDK encodes it (json.dumps), and a separator

    def submit(self, model: str, requests: list[GenerationRequest], display_name: str, *, timeout: float) -> str:
        """Submit one batch job; its name (`batches/...`)."""
        from google.genai import types

        src = [{"contents": self.provider.contents(request), "metadata": {"key": request.cache_key},
                "config": {"response_modalities": ["IMAGE"], "image_config": self.provider.requested(request)}}
               for request in requests]
        config = types.CreateBatchJobConfig(display_name=display_name, http_options=_http(timeout))
        try:
            job = self._get_client(model).batches.create(model=model, src=src, config=config)  # type: ignore[arg-type]
        except Exception as exc:
            raise self.provider.error_for(exc, model, timeout) from None
        name = str(job.name or "")
        if not name.startswith("batches/"):
            raise InvalidImageError("answered a batch submission without a job name", provider=self.provider.name,
                                    model=model)
        return name

    def poll(self, name: str, model: str, requests: list[GenerationRequest], *, timeout: float) -> BatchPoll:
        """The job's state; once done, each request's checked image or its error."""
        from google.genai import types

        try:
            job = self._get_client(model).batches.get(name=name, config=types.GetBatchJobConfig(
                http_options=_http(timeout)))
        except ImportError:
            raise
        except Exception as exc:
            if getattr(exc, "code", None) == 404:
                raise _unknown_job(name, self.provider.name, model) from None
            if type(exc).__name__ != "ValidationError":
                raise self.provider.error_for(exc, model, timeout) from None
            job, answers = self._entry_by_entry(name, model, timeout)  # one entry the SDK could not read
        else:
            answers = list(job.dest.inlined_responses or []) if job.dest is not None else []
        state = str(getattr(job.state, "value", job.state) or "JOB_STATE_UNSPECIFIED")
        poll = BatchPoll(state)
        if not poll.done:
            return poll
        self._file(poll, answers, requests)
        for request in requests:
            poll.results.setdefault(request.cache_key, self._missing(state, job, request))
        return poll

    def _entry_by_entry(self, name: str, model: str, timeout: float) -> tuple[Any, list[Any]]:
        """The job read again as the SDK reads it, but each answer on its own: an entry the SDK cannot read (bad
        base64, a wrong type) fails alone, as `_Unreadable`, and every other entry is still taken."""
        from google.genai import batches as sdk_batches
        from google.genai import types
        from pydantic import ValidationError

        try:  # the SDK's own request and wire-to-model conversion (google-genai's Batches.get), minus validation
            response = self._get_client(model)._api_client.request("get", name, {}, _http(timeout))
            converted = sdk_batches._BatchJob_from_mldev(json.loads(response.body or "{}"))
        except Exception as exc:  # noqa: BLE001 - mapped as any SDK failure is
            raise self.provider.error_for(exc, model, timeout) from None
        entries = (converted.get("dest") or {}).pop("inlined_responses", None) or []
        try:
            job = types.BatchJob._from_response(response=converted, kwargs={})
        except ValidationError as exc:
            raise InvalidImageError(f"returned a batch job that is not valid ({_first_line(exc)})",
                                    provider=self.provider.name, model=model) from None
        answers: list[Any] = []
        for entry in entries:
            try:
                answers.append(types.InlinedResponse._from_response(response=entry, kwargs={}))
            except ValidationError as exc:
                metadata = entry.get("metadata") if isinstance(entry, dict) else None
                answers.append(_Unreadable(metadata if isinstance(metadata, dict) else None, _first_line(exc)))
        return job, answers

    def _file(self, poll: BatchPoll, answers: list[Any], requests: list[GenerationRequest]) -> None:
        """Each answer under the banner its key names. An answer with a key nobody asked for is filed under that
        key (the collector ignores it, with a warning), never under another banner; answers are taken in request
        order only when none carries a key and there are as many as requests."""
        by_key = {request.cache_key: request for request in requests}
        keys = [_key_of(answer) for answer in answers]
        if not any(keys) and len(answers) == len(requests):
            keys = list(by_key)
        for key, answer in zip(keys, answers, strict=True):
            if key is None or key in poll.results:
                continue
            request = by_key.get(key)
            poll.results[key] = self._result(request, answer) if request is not None else InvalidImageError(
                "answered an entry for a banner it was not asked for", provider=self.provider.name)

    def _result(self, request: GenerationRequest, answer: Any) -> ProviderImage | ImagegenError:
        secret = self.provider.secret()
        if isinstance(answer, _Unreadable):
            return InvalidImageError(f"returned a batch result that is not valid ({answer.problem})",
                                     provider=self.provider.name, model=request.model)
        if answer.error is not None:
            code = int(answer.error.code or 0)
            message = quote_text(scrub(answer.error.message or "", secret), secret)
            kind = TransientError if code in _RETRYABLE_CODES else BadRequestError
            return kind(f"batch request failed (code {code}: {message})", provider=self.provider.name,
                        model=request.model)
        if answer.response is None:
            return InvalidImageError("returned a batch entry with neither an answer nor an error",
                                     provider=self.provider.name, model=request.model)
        payload = answer.response.model_dump(mode="json", by_alias=True, exclude_none=True)
        try:
            image = extract_image(payload, provider=self.provider.name, model=request.model, secret=secret)
        except ImagegenError as error:
            return error
        return ProviderImage(data=image.data, provider=self.provider.name, model=request.model,
                             mime_type=image.mime_type, requested=self.provider.requested(request),
                             details=image.details)

    def _missing(self, state: str, job: Any, request: GenerationRequest) -> ImagegenError:
        if state == "JOB_STATE_SUCCEEDED" or state == "JOB_STATE_PARTIALLY_SUCCEEDED":
            return InvalidImageError("returned no answer for this request in the finished batch",
                                     provider=self.provider.name, model=request.model)
        detail = f": {quote_text(scrub(job.error.message or '', self.provider.secret()))}" if job.error else ""
        return TransientError(f"batch job ended {state.removeprefix('JOB_STATE_')}{detail}",
                              provider=self.provider.name, model=request.model)


@dataclass(frozen=True)
class _Unreadable:
    """A batch entry the SDK could not read: only its metadata (its key) is used."""

    metadata: dict[str, Any] | None
    problem: str


def _key_of(answer: Any) -> str | None:
    metadata = answer.metadata if isinstance(answer.metadata, dict) else {}
    key = metadata.get("key")
    return key if isinstance(key, str) and key else None


def _unknown_job(name: str, provider: str, model: str) -> BatchJobUnknownError:
    return BatchJobUnknownError(f"does not know batch job {name} (404): it was submitted under another key or "
                                "project, or the record is not one of yours", provider=provider, model=model)


def _http(timeout: float) -> Any:
    from google.genai import types

    return types.HttpOptions(timeout=max(1, math.ceil(timeout * 1000)))


def _first_line(exc: Exception) -> str:
    lines = str(exc).splitlines()
    return lines[1].strip() if len(lines) > 1 else type(exc).__name__
