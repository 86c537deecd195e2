"""OpenAI's Batch API for `/v1/images/generations`: an uploaded JSONL file in, output and error files out.

    POST /v1/files            multipart: purpose=batch, file=<JSONL, one request per line>
    POST /v1/batches          {"input_file_id", "endpoint": "/v1/images/generations", "completion_window": "24h"}
    GET  /v1/batches/{id}     status validating | in_progress | completed | ...; output_file_id, error_file_id
    GET  /v1/files/{id}/content
    GET  /v1/batches (limit, after), POST /v1/batches/{id}/cancel, GET /v1/files/{id}, DELETE /v1/files/{id}

Each line is `{"custom_id", "method": "POST", "url": "/v1/images/generations", "body": {...}}`; each
output line `{"id", "custom_id", "response": {"status_code", "request_id", "body"}, "error"}` (shapes
from the openai-python types `Batch`, `BatchRequestInput`/`BatchRequestOutput`, checked 2026-12-01).
Bodies are validated exactly as a synchronous request (OpenAIApi.accept). Timing (delay, clock) and
`finish()` are the Gemini batch API's (batches.py), so one control ends every batch.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mkdocs_imagegen.emulator.faults import ERROR_KINDS
from mkdocs_imagegen.emulator.openai import OpenAIApi, openai_error
from mkdocs_imagegen.emulator.wire import Call, Job, Rejected, Reply, Route, bearer, json_reply, response_id

if TYPE_CHECKING:
    from mkdocs_imagegen.emulator.batches import GeminiBatchApi
    from mkdocs_imagegen.emulator.host import Host as Emulator

ENDPOINTS = ("/v1/responses", "/v1/chat/completions", "/v1/embeddings", "/v1/completions", "/v1/moderations",
             "/v1/images/generations", "/v1/images/edits", "/v1/videos")
SERVED_ENDPOINTS = ("/v1/images/generations",)
MAX_FILE_BYTES = 200 * 1000 * 1000  # "up to 200 MB in size"
MAX_REQUESTS = 50_000  # "can contain up to 50,000 requests"


@dataclass
class OpenAIBatch:
    id: str
    input_file_id: str
    entries: list[tuple[str, Job | None, Reply | None]]  # (custom_id, job, the error its validation gave)
    created: float
    created_at: int
    polled: bool = False
    finished: bool = False
    output_file_id: str | None = None
    error_file_id: str | None = None
    failed: int = 0
    cancelled_at: int | None = None


class OpenAIBatchApi:
    provider = OpenAIApi.provider
    routes = (
        Route("POST", re.compile(r"/v1/files"), "batch", "upload"),
        Route("GET", re.compile(r"/v1/files/(?P<file>[^/]+)/content"), "batch", "content"),
        Route("GET", re.compile(r"/v1/files/(?P<file>[^/]+)"), "batch", "retrieve_file"),
        Route("DELETE", re.compile(r"/v1/files/(?P<file>[^/]+)"), "batch", "delete_file"),
        Route("POST", re.compile(r"/v1/batches"), "batch", "create"),
        Route("GET", re.compile(r"/v1/batches/?"), "batch", "list"),
        Route("GET", re.compile(r"/v1/batches/(?P<batch>[^/]+)"), "batch", "get"),
        Route("POST", re.compile(r"/v1/batches/(?P<batch>[^/]+)/cancel"), "batch", "cancel"),
    )

    def __init__(self, emulator: Emulator, openai: OpenAIApi, timing: GeminiBatchApi) -> None:
        self.emulator = emulator
        self.openai = openai
        self.timing = timing  # its delay and clock
        self.files: dict[str, tuple[str, bytes]] = {}  # id -> (purpose, content)
        self.file_records: dict[str, dict[str, Any]] = {}  # id -> the File object the API answers with
        self.batches: dict[str, OpenAIBatch] = {}
        self._lock = threading.Lock()

    def claims(self, call: Call) -> bool:
        return bearer(call.headers) is not None

    def finish(self, name: str | None = None) -> int:
        with self._lock:
            batches = [b for b in self.batches.values() if name in (None, b.id) and not b.finished]
            for batch in batches:
                batch.finished = True
        return len(batches)

    # -- files ----------------------------------------------------------------------------------

    def upload(self, call: Call) -> Reply:
        self.openai.authorize(call)
        fields = _multipart(call)
        purpose, content = fields.get("purpose", b"").decode("utf-8", "replace"), fields.get("file")
        if content is None:
            raise Rejected(openai_error(400, "Missing required parameter: 'file'.", "missing_required_parameter",
                                        "file"))
        if purpose != "batch":
            raise Rejected(openai_error(400, f"Invalid value for 'purpose': '{purpose}'.", "invalid_value", "purpose"))
        if len(content) > MAX_FILE_BYTES:
            raise Rejected(openai_error(400, f"File is too large: {len(content)} bytes; the limit is "
                                             f"{MAX_FILE_BYTES} bytes.", "file_too_large", "file"))
        return json_reply(200, self._store_file("batch", content, "batch.jsonl"))

    def _store_file(self, purpose: str, content: bytes, name: str) -> dict[str, Any]:
        file_id = f"file-{secrets.token_hex(12)}"
        record = {"id": file_id, "object": "file", "bytes": len(content), "created_at": int(time.time()),
                  "filename": name, "purpose": purpose, "status": "processed"}
        with self._lock:
            self.files[file_id] = (purpose, content)
            self.file_records[file_id] = record
        return record

    def retrieve_file(self, call: Call) -> Reply:
        self.openai.authorize(call)
        return json_reply(200, self._file_record(call.params["file"]))

    def delete_file(self, call: Call) -> Reply:
        self.openai.authorize(call)
        self._file_record(call.params["file"])
        with self._lock:
            self.files.pop(call.params["file"], None)
            self.file_records.pop(call.params["file"], None)
        return json_reply(200, {"id": call.params["file"], "object": "file", "deleted": True})

    def _file_record(self, file_id: str) -> dict[str, Any]:
        with self._lock:
            record = self.file_records.get(file_id)
        if record is None:
            raise Rejected(openai_error(404, f"No such File object: {file_id}", None, "id"))
        return record

    def content(self, call: Call) -> Reply:
        self.openai.authorize(call)
        found = self.files.get(call.params["file"])
        if found is None:
            raise Rejected(openai_error(404, f"No such File object: {call.params['file']}", None, "id"))
        return Reply(200, found[1], {"content-type": "application/octet-stream"})

    # -- batches --------------------------------------------------------------------------------

    def create(self, call: Call) -> Reply:
        self.openai.authorize(call)
        body = call.object
        endpoint, file_id = body.get("endpoint"), body.get("input_file_id")
        if endpoint not in ENDPOINTS:
            raise Rejected(openai_error(400, f"Invalid value: '{endpoint}'. Supported values are: "
                                             + ", ".join(f"'{e}'" for e in ENDPOINTS) + ".", "invalid_value",
                                        "endpoint"))
        if body.get("completion_window") != "24h":
            raise Rejected(openai_error(400, "Invalid value for 'completion_window'.", "invalid_value",
                                        "completion_window"))
        found = self.files.get(str(file_id))
        if found is None:
            raise Rejected(openai_error(400, f"No such File object: {file_id}", None, "input_file_id"))
        lines = [line for line in found[1].decode("utf-8", "replace").splitlines() if line.strip()]
        if not lines or len(lines) > MAX_REQUESTS:
            raise Rejected(openai_error(400, f"The batch input file must hold 1 to {MAX_REQUESTS} requests.",
                                        "invalid_request", "input_file_id"))
        entries = [self._entry(call, str(endpoint), index, line) for index, line in enumerate(lines)]
        ids = [custom_id for custom_id, _, _ in entries]
        if len(set(ids)) != len(ids):
            raise Rejected(openai_error(400, "The custom_id of each request must be unique.", "duplicate_custom_id",
                                        "input_file_id"))
        batch = OpenAIBatch(f"batch_{secrets.token_hex(12)}", str(file_id), entries, self.timing.clock(),
                            int(time.time()))
        with self._lock:
            self.batches[batch.id] = batch
        return json_reply(200, self._resource(batch, str(endpoint)))

    def get(self, call: Call) -> Reply:
        self.openai.authorize(call)
        batch = self.batches.get(call.params["batch"])
        if batch is None:
            raise Rejected(openai_error(404, f"No batch found with id '{call.params['batch']}'.", None, "batch_id"))
        batch.polled = True
        return json_reply(200, self._resource(batch, "/v1/images/generations"))

    def list(self, call: Call) -> Reply:
        """Newest first, `limit` (1-100, default 20) at a time after the batch id `after`."""
        self.openai.authorize(call)
        limit = call.query.get("limit", "20")
        if not limit.isdigit() or not 1 <= int(limit) <= 100:
            raise Rejected(openai_error(400, f"Invalid 'limit': expected an integer between 1 and 100, but got "
                                             f"{limit!r} instead.", "invalid_value", "limit"))
        with self._lock:
            batches = sorted(self.batches.values(), key=lambda b: b.created, reverse=True)
        after = call.query.get("after")
        if after:
            ids = [batch.id for batch in batches]
            batches = batches[ids.index(after) + 1:] if after in ids else []
        page = batches[:int(limit)]
        data = [self._resource(batch, "/v1/images/generations") for batch in page]
        return json_reply(200, {"object": "list", "data": data, "first_id": data[0]["id"] if data else None,
                                "last_id": data[-1]["id"] if data else None, "has_more": len(batches) > len(page)})

    def cancel(self, call: Call) -> Reply:
        """A batch still running is cancelled (no results); a finished one is refused, as OpenAI does."""
        self.openai.authorize(call)
        batch = self.batches.get(call.params["batch"])
        if batch is None:
            raise Rejected(openai_error(404, f"No batch found with id '{call.params['batch']}'.", None, "batch_id"))
        resource = self._resource(batch, "/v1/images/generations")
        if resource["status"] in ("completed", "failed", "expired"):
            raise Rejected(openai_error(409, f"Cannot cancel a batch with status '{resource['status']}'.", None))
        with self._lock:
            batch.cancelled_at = batch.cancelled_at or int(time.time())
        return json_reply(200, self._resource(batch, "/v1/images/generations"))

    def _entry(self, call: Call, endpoint: str, index: int, line: str) -> tuple[str, Job | None, Reply | None]:
        try:
            item = json.loads(line)
        except ValueError:
            raise Rejected(openai_error(400, f"Line {index + 1} of the input file is not JSON.", "invalid_json",
                                        "input_file_id")) from None
        if not isinstance(item, dict) or not isinstance(item.get("custom_id"), str) or item.get("url") != endpoint \
                or item.get("method") != "POST":
            raise Rejected(openai_error(400, f"Line {index + 1}: each request needs a custom_id, method POST and "
                                             f"the batch's url {endpoint}.", "invalid_request", "input_file_id"))
        if endpoint not in SERVED_ENDPOINTS:
            return item["custom_id"], None, openai_error(400, f"{endpoint} is not emulated.", None)
        inner = Call("POST", endpoint, {}, call.headers, item.get("body"), not isinstance(item.get("body"), dict))
        try:
            return item["custom_id"], self.openai.accept(inner), None
        except Rejected as rejected:
            return item["custom_id"], None, rejected.reply

    def _resource(self, batch: OpenAIBatch, endpoint: str) -> dict[str, Any]:
        if batch.cancelled_at is not None:
            total = len(batch.entries)
            return {"id": batch.id, "object": "batch", "endpoint": endpoint, "errors": None,
                    "input_file_id": batch.input_file_id, "completion_window": "24h", "status": "cancelled",
                    "output_file_id": None, "error_file_id": None, "created_at": batch.created_at,
                    "cancelling_at": batch.cancelled_at, "cancelled_at": batch.cancelled_at,
                    "expires_at": batch.created_at + 86400,
                    "request_counts": {"total": total, "completed": 0, "failed": 0}, "metadata": None}
        done = batch.finished or (self.timing.delay is not None
                                  and self.timing.clock() - batch.created >= self.timing.delay)
        if done and batch.output_file_id is None and batch.error_file_id is None:
            self._complete(batch)
        batch.finished = done
        total = len(batch.entries)
        status = "completed" if done else "in_progress" if batch.polled else "validating"
        return {
            "id": batch.id, "object": "batch", "endpoint": endpoint, "errors": None,
            "input_file_id": batch.input_file_id, "completion_window": "24h", "status": status,
            "output_file_id": batch.output_file_id, "error_file_id": batch.error_file_id,
            "created_at": batch.created_at, "in_progress_at": batch.created_at if batch.polled else None,
            "completed_at": int(time.time()) if done else None, "expires_at": batch.created_at + 86400,
            "request_counts": {"total": total, "completed": total - batch.failed if done else 0,
                               "failed": batch.failed if done else 0},
            "metadata": None,
        }

    def _complete(self, batch: OpenAIBatch) -> None:
        """Answer every request once: successes into the output file, failures into the error file."""
        output, errors = [], []
        for custom_id, job, rejected in batch.entries:
            reply = rejected if job is None else self._answer(job)
            line = {"id": f"batch_req_{secrets.token_hex(8)}", "custom_id": custom_id,
                    "response": {"status_code": reply.status, "request_id": f"req_{response_id()[:16]}",
                                 "body": json.loads(reply.body)}, "error": None}
            (output if reply.status == 200 else errors).append(json.dumps(line))
        batch.failed = len(errors)
        if output:
            batch.output_file_id = self._store_file("batch_output", "\n".join(output).encode() + b"\n",
                                                    f"{batch.id}_output.jsonl")["id"]
        if errors:
            batch.error_file_id = self._store_file("batch_output", "\n".join(errors).encode() + b"\n",
                                                   f"{batch.id}_error.jsonl")["id"]

    def _answer(self, job: Job) -> Reply:
        fault = self.emulator._take_fault(self.provider, job.prompt)
        kind = fault.kind if fault else None
        if kind in ERROR_KINDS:
            return self.openai.error("server_error" if kind == "reset" else str(kind), job, 1.0)
        return self.openai.success(job, None if kind == "slow" else kind)


def _multipart(call: Call) -> dict[str, bytes]:
    """The fields of a multipart/form-data body, by name (a file field: its first file's bytes)."""
    if not call.form or call.body is None:
        raise Rejected(openai_error(400, "Expected a multipart/form-data body.", None))
    fields = {name: value.encode() for name, value in call.object.items() if isinstance(value, str)}
    fields.update({name: uploads[0].data for name, uploads in call.files.items() if uploads})
    return fields
