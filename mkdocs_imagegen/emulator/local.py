"""OpenAI-compatible servers people run themselves, in three dialects, each under its own path prefix:

- ``/sdcpp/v1``: stable-diffusion.cpp's ``sd-server`` (examples/server/routes_openai.cpp, README.md of
  leejet/stable-diffusion.cpp, read 2026-12-07). ``POST /v1/images/generations`` takes JSON ``prompt``
  (required: 400 ``{"error": "prompt required"}``), ``n``, ``size`` ("WxH", default 512x512),
  ``output_format`` (png, jpeg, webp), ``output_compression``; every other field, ``model`` too, is
  ignored (one model is loaded). It answers ``{"created", "data": [{"b64_json"}], "output_format"}``.
  ``POST /v1/images/edits`` is multipart with ``image[]`` (or ``image``), png or jpeg out.
  ``GET /v1/models`` lists one model, ``sd-cpp-local``. No key. A failed generation is a 500
  ``{"error": "server_error", "message": ...}``.
- ``/localai/v1``: LocalAI (core/http/endpoints/openai/image.go and docs/content/features/image-generation.md
  of mudler/LocalAI, read 2026-12-07). The same route; the answer is ``data[0].url``, a PNG under
  ``{the request's own origin}/generated-images/``, unless ``response_format`` is ``b64_json``. Errors are
  ``{"error": {"code", "message", "type"}}``; a model it has not got is a 404 here (the issue's report).
- ``/litellm/v1``: a LiteLLM proxy (docs.litellm.ai/docs/image_generation and its proxy docs, read
  2026-12-07): the OpenAI shapes, behind ``Authorization: Bearer <master key>``; a wrong key is a 401
  ``auth_error``.

LocalAI and LiteLLM serve the models `Emulator.add_model("endpoints", NAME)` adds (none by default).
URL answers name the request's origin, or `LocalApi.foreign_origin` when a test sets it (a server whose
public URL points elsewhere). ``mkdocs-imagegen emulator`` serves these too, e.g. ``base_url:
http://127.0.0.1:8765/sdcpp/v1``.
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mkdocs_imagegen.catalogue.lookup import SizeRule
from mkdocs_imagegen.emulator import images
from mkdocs_imagegen.emulator.edits import average_colour, form_fields, uploaded_images
from mkdocs_imagegen.emulator.wire import (
    Call,
    Job,
    Peek,
    Rejected,
    Reply,
    Route,
    bearer,
    json_reply,
    response_id,
    retry_headers,
)

if TYPE_CHECKING:
    from mkdocs_imagegen.emulator.host import Host as Emulator

DEFAULT_KEY = "sk-emulator-gateway-000000000000"  # the LiteLLM dialect's master key
SDCPP_MODEL = "sd-cpp-local"  # the one model stable-diffusion.cpp's server lists
KEPT_IMAGES = 256  # LocalAI's generated images kept for their URLs (the oldest go first)
_PREFIX = r"/(?P<dialect>sdcpp|localai|litellm)/v1"


@dataclass
class LocalJob(Job):
    dialect: str = "sdcpp"
    origin: str = ""  # what a URL answer names: the request's own origin, or the test's foreign one
    answer: str = "b64_json"  # or "url"


class LocalApi:
    """The servers people run themselves (see the module docstring); one protocol, three dialects."""

    provider = "endpoints"
    default_key = DEFAULT_KEY
    size_kinds = ("custom", "fixed", "tiers")
    permissive_sizes = SizeRule()
    error_faults: frozenset[str] = frozenset()
    answer_faults: frozenset[str] = frozenset()
    routes = (
        Route("POST", re.compile(_PREFIX + r"/images/generations")),
        Route("POST", re.compile(_PREFIX + r"/images/edits")),
        Route("GET", re.compile(_PREFIX + r"/models/?"), "models", "list_models"),
        Route("GET", re.compile(r"/localai/generated-images/(?P<name>[\w.-]+)"), "file", "generated_image"),
    )

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        self.foreign_origin: str | None = None
        self._images: OrderedDict[str, bytes] = OrderedDict()
        self._lock = threading.Lock()

    @classmethod
    def of(cls, emulator: object) -> LocalApi:
        """The running emulator's instance of this protocol (to set `foreign_origin`)."""
        return next(api for api in vars(emulator)["_apis"] if isinstance(api, cls))

    def model_added(self, name: str) -> None:
        return None

    def env(self, url: str, key: str) -> dict[str, str]:
        return {}  # endpoints are configured in mkdocs.yml, never through the environment

    def claims(self, call: Call) -> bool:
        return True

    def peek(self, call: Call) -> Peek:
        prompt, model = call.object.get("prompt"), call.object.get("model")
        return Peek(prompt if isinstance(prompt, str) else None, model if isinstance(model, str) else None)

    # --- generation ----------------------------------------------------------------------------

    def accept(self, call: Call) -> Job:
        dialect = call.params["dialect"]
        self._authorize(call, dialect)
        edit = call.path.endswith("/images/edits")
        body = self._body(call, dialect, edit)
        prompt = body.get("prompt")
        if not isinstance(prompt, str) or not prompt:
            raise Rejected(self._error(dialect, 400, "prompt required"))
        model = body.get("model")
        if dialect == "sdcpp":  # the loaded model answers whatever is named (recorded as named)
            model = model if isinstance(model, str) and model else SDCPP_MODEL
        elif not isinstance(model, str) or self.emulator.models.get(self.provider, model) is None:
            raise Rejected(self._error(dialect, 404, f"model {model!r} not found"))
        width, height = self._size(body.get("size"), dialect)
        formats = ("png", "jpeg") if edit else ("png", "jpeg", "webp")
        fmt = body.get("output_format", "png") if dialect != "localai" else "png"
        if fmt not in formats:
            raise Rejected(self._error(dialect, 400, f"invalid output_format {fmt!r}"))
        answer = "url" if dialect == "localai" and body.get("response_format") != "b64_json" else "b64_json"
        job = LocalJob(self.provider, model, prompt, width, height, fmt, dialect=dialect, answer=answer,
                       origin=self.foreign_origin or f"http://{call.headers.get('host', '')}")
        if edit:
            pictures = uploaded_images(call, "image[]", "image")
            if not pictures:
                raise Rejected(self._error(dialect, 400, "at least one image[] required"))
            job.tint = average_colour(pictures, lambda index: Rejected(self._error(dialect, 400, "invalid image")))
            job.references = len(pictures)
        return job

    def _authorize(self, call: Call, dialect: str) -> None:
        if dialect != "litellm":
            return
        if bearer(call.headers) != self.emulator.keys[self.provider]:
            raise Rejected(json_reply(401, {"error": {
                "message": "Authentication Error, Invalid proxy server token passed. Received API Key = sk-...",
                "type": "auth_error", "param": "None", "code": "401"}}))

    def _body(self, call: Call, dialect: str, edit: bool) -> dict[str, Any]:
        if edit:
            if not call.form or call.body is None:
                raise Rejected(self._error(dialect, 400, "Content-Type must be multipart/form-data"))
            return form_fields(call, ("n", "output_compression"))
        if call.bad_json or not isinstance(call.body, dict):
            raise Rejected(self._error(dialect, 400, "empty body" if not call.body else "invalid JSON"))
        return call.body

    def _size(self, size: Any, dialect: str) -> tuple[int, int]:
        if size in (None, ""):
            return 512, 512
        found = re.fullmatch(r"(\d{2,4})x(\d{2,4})", size) if isinstance(size, str) else None
        if not found or not all(64 <= int(edge) <= 4096 for edge in found.groups()):
            raise Rejected(self._error(dialect, 400, "invalid params"))
        return int(found[1]), int(found[2])

    def error(self, kind: str, job: Job, retry_after: float) -> Reply:
        dialect = job.dialect if isinstance(job, LocalJob) else "sdcpp"
        if kind == "rate_limit":
            reply = self._error(dialect, 429, "too many requests")
            reply.headers.update(retry_headers(retry_after))
            return reply
        if kind == "overloaded":  # a model still loading
            return self._error(dialect, 503, "model is loading")
        # A crash behind the server's front: the bare text a web framework sends.
        return Reply(500, b"500 Internal Server Error", {"content-type": "text/plain"})

    def _error(self, dialect: str, status: int, message: str) -> Reply:
        if dialect == "sdcpp":
            return json_reply(status, {"error": message} if status < 500 else
                              {"error": "server_error", "message": message})
        if dialect == "localai":
            return json_reply(status, {"error": {"code": status, "message": message, "type": ""}})
        return json_reply(status, {"error": {"message": message, "type": "invalid_request_error",
                                             "param": None, "code": str(status)}})

    def success(self, job: Job, kind: str | None) -> Reply:
        assert isinstance(job, LocalJob)
        item: dict[str, Any]
        if job.answer == "url":
            name = f"b64{secrets.token_hex(6)}.png"
            with self._lock:
                self._images[name] = self._decoded(job, kind)
                while len(self._images) > KEPT_IMAGES:
                    self._images.popitem(last=False)
            item = {"embedding": None, "index": 0, "url": f"{job.origin}/localai/generated-images/{name}"}
        else:
            item = {"b64_json": job.image_b64(kind)}
        payload: dict[str, Any] = {"created": int(time.time()), "data": [item]}
        if job.dialect == "sdcpp":
            payload["output_format"] = job.fmt
        if job.dialect == "localai":
            payload["id"] = response_id()
            payload["usage"] = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
        return json_reply(200, payload)

    def _decoded(self, job: Job, kind: str | None) -> bytes:
        import base64

        if kind in ("bomb", "not_image"):
            return images.bomb_png() if kind == "bomb" else images.NOT_IMAGE
        return base64.b64decode(job.image_b64(None))

    # --- other routes --------------------------------------------------------------------------

    def list_models(self, call: Call) -> Reply:
        dialect = call.params["dialect"]
        self._authorize(call, dialect)
        names = [SDCPP_MODEL] if dialect == "sdcpp" else self.emulator.models.names(self.provider)
        owner = "local" if dialect == "sdcpp" else "openai"
        return json_reply(200, {"object": "list", "data": [{"id": name, "object": "model", "owned_by": owner}
                                                           for name in names]})

    def generated_image(self, call: Call) -> Reply:
        with self._lock:
            data = self._images.get(call.params["name"])
        if data is None:
            return Reply(404, b"Cannot GET", {"content-type": "text/plain"})
        return Reply(200, data, {"content-type": "image/png"})
