"""Gemini Batch Mode with inlined requests, as the google-genai SDK speaks it (Gemini Developer API).

Wire format, read from the SDK's `batches.py` (python-genai 2.19, checked 2026-12-01):

    POST /v1/models/{model}:batchGenerateContent   (v1beta too)
         {"batch": {"displayName": ..., "inputConfig": {"requests": {"requests": [
             {"request": {GenerateContentRequest}, "metadata": {...}}, ...]}}}}
      -> an Operation: {"name": "batches/{id}", "metadata": {GenerateContentBatch}}
    GET  /v1/batches/{id}
      -> the same, `metadata.state` BATCH_STATE_PENDING | RUNNING | SUCCEEDED | ...; once done,
         `done: true` and `metadata.output.inlinedResponses.inlinedResponses`: one
         {"response": GenerateContentResponse, "metadata": ...} or {"error": Status, "metadata": ...}
         per request, in request order.

Each inlined request is validated exactly as a synchronous generateContent is (GeminiApi.accept);
one that fails gets its error in its result, as does one hit by a scripted `Fault` (a partial
failure). Results are delivered `delay` seconds after creation, on the emulator's `clock`
(`time.monotonic`, replaceable), or when `finish()` (or POST /_emulator/batches:finish) says so;
`delay=None` waits for that call, which is what tests use: no sleeps guessing at timing.
Google documents a 20 MB limit for the inlined requests of one batch: a larger body is refused.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from mkdocs_imagegen.emulator.faults import ERROR_KINDS
from mkdocs_imagegen.emulator.gemini import GeminiApi
from mkdocs_imagegen.emulator.wire import Call, Job, Rejected, Reply, Route, json_reply

if TYPE_CHECKING:
    from mkdocs_imagegen.emulator.host import Host as Emulator

MAX_INLINED_BYTES = 20_000_000  # "total request size under 20MB" (ai.google.dev/gemini-api/docs/batch-api)
_BATCH_TYPE = "type.googleapis.com/google.ai.generativelanguage.v1beta.GenerateContentBatch"
_OUTPUT_TYPE = "type.googleapis.com/google.ai.generativelanguage.v1beta.GenerateContentBatchOutput"
_VERSION = r"/(?P<version>v1|v1beta)"  # the SDK (2.19) sends v1 by default
# google.rpc.Code numbers for the per-request errors a fault kind stands for.
_RPC_ERRORS = {"rate_limit": (8, "Resource has been exhausted (e.g. check quota)."),
               "quota_zero": (8, "Resource has been exhausted (e.g. check quota)."),
               "overloaded": (14, "The model is overloaded. Please try again later."),
               "server_error": (13, "An internal error has occurred."),
               "reset": (13, "An internal error has occurred.")}


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass
class BatchJob:
    """One batch: its validated requests (a Job, or the error its validation gave) and when it finishes."""

    id: str
    model: str
    display_name: str
    entries: list[tuple[Job | None, dict[str, Any], dict[str, Any] | None]]  # (job, metadata, error)
    created: float
    created_text: str = field(default_factory=_now)
    polled: bool = False
    finished: bool = False
    cancelled: bool = False
    output: list[dict[str, Any]] | None = None


class GeminiBatchApi:
    """Batch Mode endpoints next to GeminiApi (same keys, same models, same validation)."""

    provider = GeminiApi.provider
    routes = (
        Route("POST", re.compile(_VERSION + r"/models/(?P<model>[^/:]+):batchGenerateContent"), "batch", "create"),
        Route("GET", re.compile(_VERSION + r"/batches/(?P<batch>[^/:]+)"), "batch", "get"),
        Route("GET", re.compile(_VERSION + r"/batches/?"), "batch", "list"),
        Route("POST", re.compile(_VERSION + r"/batches/(?P<batch>[^/:]+):cancel"), "batch", "cancel"),
        Route("DELETE", re.compile(_VERSION + r"/batches/(?P<batch>[^/:]+)"), "batch", "delete"),
        Route("POST", re.compile(r"/_emulator/batches:finish"), "control", "finish_call"),
    )

    def __init__(self, emulator: Emulator, gemini: GeminiApi) -> None:
        self.emulator = emulator
        self.gemini = gemini
        self.delay: float | None = 0.0  # seconds from creation to results; None: only when finish() is called
        self.clock: Callable[[], float] = time.monotonic
        self.jobs: dict[str, BatchJob] = {}
        self.peers: list[Any] = []  # other protocols' batch APIs (openai_batches.py): finish() ends theirs too
        self._lock = threading.Lock()

    def claims(self, call: Call) -> bool:
        """GET /v1/batches/ID is OpenAI's too: it is Gemini's when it carries a Gemini API key."""
        return self.gemini.claims(call) or call.path.startswith("/_emulator/")

    # -- control --------------------------------------------------------------------------------

    def finish(self, name: str | None = None) -> int:
        """Let one batch (`batches/ID` or ID), or every one, deliver its results now. Returns how many."""
        wanted = name.removeprefix("batches/") if name else None
        with self._lock:
            jobs = [job for job in self.jobs.values() if wanted in (None, job.id) and not job.finished]
            for job in jobs:
                job.finished = True
        return len(jobs) + sum(peer.finish(name) for peer in self.peers)

    def finish_call(self, call: Call) -> Reply:
        return json_reply(200, {"finished": self.finish(str(call.object.get("name") or "") or None)})

    # -- the API --------------------------------------------------------------------------------

    def create(self, call: Call) -> Reply:
        self.gemini.authorize(call)
        self.gemini.model(call)  # Google's 404 for a model it does not serve
        raw_size = len(json.dumps(call.body)) if call.body is not None else 0
        if call.bad_json or not isinstance(call.body, dict):
            raise _invalid("Invalid JSON payload received.")
        if raw_size > MAX_INLINED_BYTES:
            raise _invalid(f"Request payload size exceeds the limit: {MAX_INLINED_BYTES} bytes.")
        batch = call.body.get("batch")
        requests = _path(batch, "inputConfig", "requests", "requests")
        if not isinstance(batch, dict) or not isinstance(requests, list) or not requests:
            raise _invalid("* BatchGenerateContentRequest.batch.input_config: input_config is not specified")
        model = call.params["model"]
        entries = [self._entry(call, model, item) for item in requests]
        job = BatchJob(secrets.token_hex(8), model, str(batch.get("displayName") or ""), entries, self.clock())
        with self._lock:
            self.jobs[job.id] = job
        return json_reply(200, self._resource(job))

    def get(self, call: Call) -> Reply:
        job = self._job(call)
        job.polled = True
        return json_reply(200, self._resource(job), {"content-type": "application/json; charset=UTF-8"})

    def list(self, call: Call) -> Reply:
        """ListBatches: `{"operations": [...], "nextPageToken"}`, newest first, `pageSize` at a time."""
        self.gemini.authorize(call)
        size = call.query.get("pageSize") or "50"
        start = call.query.get("pageToken") or "0"
        if not size.isdigit() or not start.isdigit():
            raise _invalid(f"Invalid value at 'page_size' (TYPE_INT32), \"{size}\"" if not size.isdigit()
                           else "Invalid page token.")
        with self._lock:
            jobs = sorted(self.jobs.values(), key=lambda job: job.created, reverse=True)
        page = jobs[int(start):int(start) + max(1, min(int(size), 1000))]
        payload: dict[str, Any] = {"operations": [self._resource(job) for job in page]}
        if int(start) + len(page) < len(jobs):
            payload["nextPageToken"] = str(int(start) + len(page))
        return json_reply(200, payload, {"content-type": "application/json; charset=UTF-8"})

    def cancel(self, call: Call) -> Reply:
        """CancelBatch: a batch not yet done ends as BATCH_STATE_CANCELLED, with no results (an empty answer)."""
        job = self._job(call)
        with self._lock:
            if not self._done(job):
                job.cancelled = job.finished = True
        return json_reply(200, {}, {"content-type": "application/json; charset=UTF-8"})

    def delete(self, call: Call) -> Reply:
        """DeleteBatch: the batch is forgotten (an empty answer); a later GET is Google's 404."""
        job = self._job(call)
        with self._lock:
            self.jobs.pop(job.id, None)
        return json_reply(200, {}, {"content-type": "application/json; charset=UTF-8"})

    def _job(self, call: Call) -> BatchJob:
        self.gemini.authorize(call)
        with self._lock:
            job = self.jobs.get(call.params["batch"])
        if job is None:
            raise Rejected(_error(404, "NOT_FOUND", f"Batch batches/{call.params['batch']} not found."))
        return job

    # -- inside ---------------------------------------------------------------------------------

    def _entry(self, call: Call, model: str, item: Any) -> tuple[Job | None, dict[str, Any], dict[str, Any] | None]:
        metadata = item.get("metadata") if isinstance(item, dict) and isinstance(item.get("metadata"), dict) else {}
        request = item.get("request") if isinstance(item, dict) else None
        inner = Call("POST", call.path, {}, call.headers, request, not isinstance(request, dict),
                     {"version": call.params["version"], "model": model})
        try:
            return self.gemini.accept(inner), metadata, None
        except Rejected as rejected:
            error = json.loads(rejected.reply.body).get("error", {})
            return None, metadata, {"code": 3, "message": str(error.get("message", "invalid request"))}

    def _done(self, job: BatchJob) -> bool:
        if not job.finished and self.delay is not None and self.clock() - job.created >= self.delay:
            job.finished = True
        return job.finished

    def _resource(self, job: BatchJob) -> dict[str, Any]:
        done = self._done(job)
        count = len(job.entries)
        state = "CANCELLED" if job.cancelled else "SUCCEEDED" if done else "RUNNING" if job.polled else "PENDING"
        metadata: dict[str, Any] = {
            "@type": _BATCH_TYPE, "name": f"batches/{job.id}", "model": f"models/{job.model}",
            "displayName": job.display_name, "createTime": job.created_text, "updateTime": _now(),
            "state": f"BATCH_STATE_{state}",
        }
        resource: dict[str, Any] = {"name": f"batches/{job.id}", "metadata": metadata}
        if job.cancelled:
            metadata["batchStats"] = {"requestCount": str(count)}
            resource["done"] = True
            return resource
        if not done:
            metadata["batchStats"] = {"requestCount": str(count), "pendingRequestCount": str(count)}
            return resource
        output = self._output(job)
        failed = sum(1 for item in output if "error" in item)
        metadata["batchStats"] = {"requestCount": str(count), "successfulRequestCount": str(count - failed),
                                  "failedRequestCount": str(failed)}
        metadata["endTime"] = metadata["updateTime"]
        metadata["output"] = {"inlinedResponses": {"inlinedResponses": output}}
        resource["done"] = True
        resource["response"] = {"@type": _OUTPUT_TYPE, "inlinedResponses": {"inlinedResponses": output}}
        return resource

    def _output(self, job: BatchJob) -> list[dict[str, Any]]:
        """Each request's answer, made once (images drawn, faults taken) when the batch is first read done."""
        with self._lock:
            if job.output is None:
                job.output = [self._answer(*entry) for entry in job.entries]
            return job.output

    def _answer(self, request: Job | None, metadata: dict[str, Any], error: dict[str, Any] | None) -> dict[str, Any]:
        item: dict[str, Any] = {"metadata": metadata} if metadata else {}
        if request is None:
            return {**item, "error": error}
        fault = self.emulator._take_fault(self.provider, request.prompt)
        kind = fault.kind if fault else None
        if kind in ERROR_KINDS:
            code, message = _RPC_ERRORS.get(str(kind), (13, "An internal error has occurred."))
            return {**item, "error": {"code": code, "message": message}}
        reply = self.gemini.success(request, None if kind == "slow" else kind)
        return {**item, "response": json.loads(reply.body)}


def _path(mapping: Any, *names: str) -> Any:
    for name in names:
        if not isinstance(mapping, dict):
            return None
        mapping = mapping.get(name)
    return mapping


def _error(code: int, status: str, message: str) -> Reply:
    return json_reply(code, {"error": {"code": code, "message": message, "status": status}},
                      {"content-type": "application/json; charset=UTF-8"})


def _invalid(message: str) -> Rejected:
    return Rejected(_error(400, "INVALID_ARGUMENT", message))
