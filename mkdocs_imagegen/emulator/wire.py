"""What the server and the protocol modules share: requests, replies, records and the protocol interface.

A protocol module (gemini, openai, azure) implements `ProtocolApi`; the server knows nothing of
any protocol beyond that interface and the `Route` table each API declares.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
import secrets
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol, runtime_checkable
from urllib.parse import parse_qsl, unquote, urlsplit

from mkdocs_imagegen.catalogue.lookup import SizeRule
from mkdocs_imagegen.emulator import images

# ---------------------------------------------------------------------------------------------
# Requests and replies
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Upload:
    """A file part of a multipart/form-data request."""

    name: str
    filename: str | None
    content_type: str | None
    data: bytes = field(repr=False)

    def summary(self) -> dict[str, Any]:
        """What the request log keeps of it (the bytes only by their hash)."""
        return {"filename": self.filename, "content_type": self.content_type, "bytes": len(self.data),
                "sha256": hashlib.sha256(self.data).hexdigest()}


@dataclass
class Call:
    """An incoming HTTP request, parsed."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # names lower-cased
    body: Any  # parsed JSON (or a form's text fields, with each file part's summary), or None
    bad_json: bool
    params: dict[str, str] = field(default_factory=dict)  # from the route pattern
    files: dict[str, list[Upload]] = field(default_factory=dict)  # a multipart form's file parts, by field name
    form: bool = False  # the body was multipart/form-data

    @property
    def object(self) -> dict[str, Any]:
        return self.body if isinstance(self.body, dict) else {}


def parse_call(method: str, target: str, headers: dict[str, str], raw: bytes) -> Call:
    parts = urlsplit(target)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    content_type = headers.get("content-type", "")
    if content_type.lower().startswith("multipart/form-data"):
        form = parse_form(content_type, raw)
        if form is None:
            return Call(method, unquote(parts.path), query, headers, None, True, form=True)
        fields, files = form
        body = {**fields, **{name: [upload.summary() for upload in uploads] for name, uploads in files.items()}}
        return Call(method, unquote(parts.path), query, headers, body, False, files=files, form=True)
    body, bad_json = None, False
    if raw:
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            bad_json = True
    return Call(method, unquote(parts.path), query, headers, body, bad_json)


def parse_form(content_type: str, raw: bytes) -> tuple[dict[str, str], dict[str, list[Upload]]] | None:
    """(text fields, file parts) of a multipart/form-data body; None if it cannot be parsed."""
    from email import policy
    from email.parser import BytesParser

    message = BytesParser(policy=policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1", "replace") + b"\r\n\r\n" + raw)
    if not message.is_multipart():
        return None
    fields: dict[str, str] = {}
    files: dict[str, list[Upload]] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            return None
        data = part.get_payload(decode=True) or b""
        filename = part.get_filename()
        if filename is None and part.get_content_type() == "text/plain":
            fields[name] = data.decode("utf-8", "replace")
        else:
            files.setdefault(name, []).append(Upload(name, filename, part.get("content-type"), data))
    return fields, files


@dataclass
class Reply:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    close: str | None = None  # "reset": TCP RST, "drop": plain close; both without an answer


class Rejected(Exception):
    """Raised by request validation: carries the provider's error reply."""

    def __init__(self, reply: Reply) -> None:
        super().__init__(reply.status)
        self.reply = reply


def json_reply(status: int, payload: Any, headers: dict[str, str] | None = None) -> Reply:
    body = json.dumps(payload).encode()
    return Reply(status, body, {"content-type": "application/json", **(headers or {})})


def not_found() -> Reply:
    """Azure's bare 404 (a path under the Azure endpoint that no route matches)."""
    return json_reply(404, {"error": {"code": "404", "message": "Resource not found"}})


def event_stream(events: list[tuple[str, dict[str, Any]]]) -> Reply:
    """A `text/event-stream` answer: one `event:`/`data:` pair per (type, payload), as OpenAI streams images."""
    body = "".join(f"event: {kind}\ndata: {json.dumps(payload)}\n\n" for kind, payload in events)
    return Reply(200, body.encode(), {"content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache"})


def request_id() -> str:
    """A fresh request id, in OpenAI's `req_...` form (what `x-request-id` carries on every answer)."""
    return f"req_{secrets.token_hex(16)}"


@dataclass
class RecordedRequest:
    """One request the emulator answered.

    kind is "image" (image generation), "models", "token" or "unknown".  status is 0 when the
    connection was dropped without an answer ("reset" fault, or the emulator stopping).  fault is
    the fault kind applied, or "max_in_flight" when refused for exceeding ``max_in_flight``.
    """

    provider: str | None
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: dict[str, Any] | None
    prompt: str | None = None
    model: str | None = None
    status: int = 0
    started: float = 0.0
    finished: float = 0.0
    fault: str | None = None
    kind: str = "unknown"
    deployment: str | None = None


@dataclass
class Job:
    """A validated image-generation request."""

    provider: str
    model: str
    prompt: str
    width: int
    height: int
    fmt: str  # png | jpeg | webp
    quality: str = "medium"
    n: int = 1
    transparent: bool = False
    deployment: str | None = None
    api_version: str | None = None
    modalities: tuple[str, ...] = ("IMAGE",)
    tier: str | None = None  # Gemini's imageSize tier the image was made at
    route: str | None = None  # a provider-specific route, e.g. "mai" for Foundry's MAI models
    tint: tuple[int, int, int] | None = None  # the reference images' average colour: the image is drawn in it
    references: int = 0  # how many reference images came with the prompt
    stream: bool = False  # OpenAI's `stream: true`: the answer is server-sent events
    partial_images: int = 0  # OpenAI's `partial_images` (0-3): interim images streamed before the final one

    def image_b64(self, kind: str | None, index: int = 0, thought: bool = False) -> str:
        """Base64 of the image to return, broken as the fault kind asks."""
        if kind == "bomb":
            data = images.bomb_png()
        elif kind == "not_image":
            data = images.NOT_IMAGE
        else:
            data = self._draw(index, thought)
        text = base64.b64encode(data).decode()
        return text[: len(text) // 2] if kind == "truncated_b64" else text

    def _draw(self, index: int, thought: bool) -> bytes:
        colour = images.prompt_colour(f"{self.prompt}#{index}" if index else self.prompt)
        width, height, label = self.width, self.height, f"{self.model} {self.width}x{self.height}"
        if thought:  # an interim draft: inverted colour, half size
            colour = (255 - colour[0], 255 - colour[1], 255 - colour[2])
            width, height, label = max(16, width // 2), max(16, height // 2), f"{label} (thought)"
        if self.tint:  # the references' colour for the background, the prompt's for the shapes: one series
            return images.render_image(width, height, self.tint, label, self.fmt, self.transparent, shapes=colour)
        return images.render_image(width, height, colour, label, self.fmt, self.transparent)


# ---------------------------------------------------------------------------------------------
# The interface between the server and what it serves
# ---------------------------------------------------------------------------------------------


class Peek(NamedTuple):
    """What a generation request names, read before validation so rejected requests are recorded with it."""

    prompt: str | None
    model: str | None
    deployment: str | None = None


class Route(NamedTuple):
    """A request an endpoint answers: method and full-path regex (named groups land in `Call.params`).

    kind is what the request is recorded as.  "image" routes are driven by the server through the
    API's peek/accept/error/success (faults, in-flight limit, latency); any other route is answered
    by the endpoint's method named by handler, called as ``handler(call) -> Reply``.
    """

    method: str
    pattern: re.Pattern[str]
    kind: str = "image"
    handler: str | None = None


@runtime_checkable
class Endpoint(Protocol):
    """Anything the server routes requests to: a provider's API, or the managed-identity endpoint."""

    provider: str  # recorded as RecordedRequest.provider
    routes: tuple[Route, ...]

    def claims(self, call: Call) -> bool:
        """Whether a call on one of its routes is meant for it (say, it carries its credentials).

        Decides only when several endpoints' routes match one request (GET /v1/models is both
        Gemini's and OpenAI's): the first claimant answers, and if none claims, the first match.
        """
        ...


@runtime_checkable
class ProtocolApi(Endpoint, Protocol):
    """One provider's image API.  ``provider`` also names it in `Fault`, `Emulator.keys` and records."""

    default_key: str  # the fixed fake credential `Emulator.keys` starts with
    size_kinds: tuple[str, ...]  # the catalogue size rules it takes ("tiers", "custom", "fixed")
    permissive_sizes: SizeRule  # the rule for an extra model whose own rule it cannot take
    error_faults: frozenset[str]  # fault kinds of its own, answered at once with an error
    answer_faults: frozenset[str]  # fault kinds of its own, applied to a 200 answer

    def model_added(self, name: str) -> None:
        """`Emulator.add_model` made it serve `name` (Azure deploys it under its own name)."""
        ...

    def env(self, url: str, key: str) -> dict[str, str]:
        """The variables that point our provider at an emulator on url, with key."""
        ...

    def peek(self, call: Call) -> Peek:
        """(prompt, model, deployment) for the record, read before validation so rejected requests show them.

        model is the model the request means (for Azure, the deployment's model), so a test can search
        the records for retired names."""
        ...

    def accept(self, call: Call) -> Job:
        """Authorize and validate a generation request; raise `Rejected` with the provider's error."""
        ...

    def error(self, kind: str, job: Job, retry_after: float) -> Reply:
        """The error reply for a fault kind in ERROR_KINDS (not "reset"); "rate_limit" also for max_in_flight."""
        ...

    def success(self, job: Job, kind: str | None) -> Reply:
        """The 200 reply, its images broken or replaced as the fault kind (or None) asks."""
        ...


# ---------------------------------------------------------------------------------------------
# Helpers several protocols use
# ---------------------------------------------------------------------------------------------


def bearer(headers: dict[str, str]) -> str | None:
    value = headers.get("authorization", "")
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


def retry_headers(retry_after: float) -> dict[str, str]:
    return {
        "retry-after": str(max(1, math.ceil(retry_after))),
        "retry-after-ms": str(round(retry_after * 1000)),
    }


def seconds_text(seconds: float) -> str:
    """29.7 -> "29.7s", 2.0 -> "2s" (the google.protobuf.Duration JSON form)."""
    return f"{seconds:.6f}".rstrip("0").rstrip(".") + "s"


def response_id() -> str:
    return secrets.token_urlsafe(16)
