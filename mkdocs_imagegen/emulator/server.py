"""The loopback HTTP server: lifecycle, routing to the protocol APIs, faults, in-flight limits, records.

`Emulator` builds its route table and `env()` from `apis.APIS` and the managed-identity endpoint;
everything provider-specific happens behind `ProtocolApi`.  What models each protocol serves is
`Emulator.models` (models.py: the catalogue's live models plus extras).  serve.py runs it from the
command line.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast

from mkdocs_imagegen.catalogue.lookup import Catalogue, ModelInfo
from mkdocs_imagegen.emulator.apis import APIS, DEFAULT_KEYS
from mkdocs_imagegen.emulator.batches import GeminiBatchApi
from mkdocs_imagegen.emulator.faults import ERROR_KINDS, Fault
from mkdocs_imagegen.emulator.gemini import GeminiApi
from mkdocs_imagegen.emulator.identity import IDENTITY_SECRET, ManagedIdentity
from mkdocs_imagegen.emulator.models import ExtraModels, ServedModels
from mkdocs_imagegen.emulator.openai import OpenAIApi
from mkdocs_imagegen.emulator.openai_batches import OpenAIBatchApi
from mkdocs_imagegen.emulator.text import TextService
from mkdocs_imagegen.emulator.unknown import unknown_path
from mkdocs_imagegen.emulator.wire import (
    Call,
    Endpoint,
    ProtocolApi,
    RecordedRequest,
    Rejected,
    Reply,
    Route,
    parse_call,
    request_id,
)

HOST = "127.0.0.1"

Handler = Callable[[Call, RecordedRequest], Reply]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # idle keep-alive connections must not hold up stop()
    allow_reuse_address = True
    request_queue_size = 128  # socketserver's default backlog of 5 drops connections under load tests

    def __init__(self, emulator: Emulator, port: int) -> None:
        self.emulator = emulator
        super().__init__((HOST, port), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], OSError):  # client went away, or we are stopping
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Real provider front ends answer without Nagle stalls: headers and body leave in one write, at once.
    disable_nagle_algorithm = True
    server_version = "imagegen-emulator/1.0"
    sys_version = ""
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.emulator.track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.emulator.track(self.connection, add=False)

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:  # batches and files are deleted; any other path gets its protocol's 404
        self._serve()

    do_PUT = do_PATCH = do_DELETE

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _serve(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        headers = {name.lower(): value for name, value in self.headers.items()}
        reply = self.server.emulator.handle(self.command, self.path, headers, raw)
        if reply.close:
            self._abort(rst=reply.close == "reset")
        else:
            self._send(reply)

    def _send(self, reply: Reply) -> None:
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("content-length", str(len(reply.body)))
        self._headers_buffer.append(b"\r\n")  # end_headers() without its flush: one write below
        self._headers_buffer.append(reply.body)
        self.flush_headers()

    def _abort(self, rst: bool) -> None:
        """Close without answering; with rst, an abortive close (the peer sees ECONNRESET)."""
        self.close_connection = True
        if rst:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        # The descriptor really closes once finish() closes rfile, which still holds a reference.
        self.connection.close()


class Emulator:
    """Loopback HTTP server speaking the Gemini, OpenAI and Azure OpenAI image protocols.

    Each protocol serves the models `catalogue` (default: the packaged one) says are live for its
    provider, plus `extra_models` ({PROVIDER: [NAME, ...]}, or "PROVIDER:NAME"
    strings) and any added later with `add_model`; every other name gets the provider's "not found".
    `deployments` (deployment name -> model) starts with every live Foundry model under its own name.
    """

    def __init__(self, latency: float = 0.0, max_in_flight: int | None = None, port: int = 0, *,
                 extra_models: ExtraModels | None = None, catalogue: Catalogue | None = None) -> None:
        self.latency = latency
        # Set to a cleared Event, answers to image requests wait until a test sets it: "the provider answers now".
        self.gate: threading.Event | None = None
        self.max_in_flight = max_in_flight
        self.port = port
        self.keys = dict(DEFAULT_KEYS)
        self.models = ServedModels(catalogue, extra_models)
        self.deployments: dict[str, str] = {}  # deployment name -> model, for protocols that deploy (Azure)
        self.identity_secret = IDENTITY_SECRET
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._records: list[RecordedRequest] = []
        self._faults: list[Fault] = []
        self._connections: set[socket.socket] = set()
        self._in_flight = 0
        self._max_concurrent = 0
        self._active = 0  # requests between arrival and being recorded
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._apis: list[ProtocolApi] = [api(self) for api in APIS]
        self._identity = ManagedIdentity(self)
        # Gemini Batch Mode (batches.py): `batches.delay`, `batches.clock` and `batches.finish()` control it.
        self.batches = GeminiBatchApi(self, next(api for api in self._apis if isinstance(api, GeminiApi)))
        self.openai_batches = OpenAIBatchApi(self, next(api for api in self._apis if type(api) is OpenAIApi),
                                             self.batches)  # OpenAI's Batch API: the same delay, clock and finish
        self.batches.peers.append(self.openai_batches)
        # Text models (emulator/text.py) first: Gemini's generateContent route is the image API's too.
        self.text = TextService(self)
        endpoints: list[Endpoint] = [*self.text.endpoints, *self._apis, self._identity, self.batches,
                                     self.openai_batches]
        self._routes = [(e, route, self._handler(e, route)) for e in endpoints for route in e.routes]

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> Emulator:
        if self._server is not None:
            return self
        self._stop.clear()
        self._server = _Server(self, self.port)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.01},
            name=f"imagegen-emulator:{self.port}", daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        self._stop.set()  # wakes handlers waiting on latency or "slow"
        server.shutdown()
        server.server_close()
        with self._cond:  # let woken handlers record their request, so records are final
            self._cond.wait_for(lambda: self._active == 0, timeout=2.0)
            connections = list(self._connections)
        for connection in connections:  # wake handlers blocked reading idle keep-alive connections
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=5)

    def wait_until_stopped(self, timeout: float | None = None) -> bool:
        """Block until stop() is called (True), or timeout seconds pass (False)."""
        return self._stop.wait(timeout)

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- configuration --------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def env(self) -> dict[str, str]:
        """Environment variables that point every provider at this emulator."""
        env: dict[str, str] = {}
        for api in self._apis:
            env.update(api.env(self.url, self.keys[api.provider]))
        return env

    def managed_identity_env(self) -> dict[str, str]:
        """Environment for azure-identity's App Service managed identity, served by this emulator."""
        return self._identity.env(self.url)

    def add_model(self, provider: str, name: str, info: ModelInfo | None = None) -> ModelInfo:
        """Serve `name` on `provider`'s protocol too (a Foundry model is also deployed under its name).

        Its rules are `info`, else its catalogue entry's, its family's, or permissive ones.
        """
        found = self.models.add(provider, name, info)
        for api in self._apis:
            if api.provider == provider:
                api.model_added(name)
        return found

    def served_models(self, provider: str) -> list[str]:
        """The names `provider`'s protocol serves now."""
        return self.models.names(provider)

    def add_fault(self, fault: Fault) -> None:
        with self._cond:
            self._faults.append(replace(fault))  # our copy counts down, not the caller's

    def clear_faults(self) -> None:
        with self._cond:
            self._faults.clear()

    def reset(self) -> None:
        """Forget requests, counters and faults (issued tokens stay valid)."""
        with self._cond:
            self._records.clear()
            self._faults.clear()
            self._max_concurrent = self._in_flight
            self._identity.reset_count()
            self._cond.notify_all()

    # -- observation ----------------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._cond:
            return list(self._records)

    def image_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.kind == "image"]

    def text_requests(self) -> list[RecordedRequest]:
        """Requests to text models (drafted prompts and alt text), answered or refused."""
        return [r for r in self.requests if r.kind == "text"]

    def retired_requests(self) -> list[RecordedRequest]:
        """Requests that named a model the catalogue retired, everywhere or at that provider (each answered with
        the provider's 404)."""
        return [r for r in self.requests
                if r.model is not None and r.provider is not None and self.models.is_retired(r.model, r.provider)]

    @property
    def max_concurrent(self) -> int:
        with self._cond:
            return self._max_concurrent

    @property
    def in_flight(self) -> int:
        with self._cond:
            return self._in_flight

    @property
    def token_requests(self) -> int:
        """Managed-identity tokens issued since the last reset()."""
        return self._identity.token_requests

    def token_valid(self, token: str) -> bool:
        """Whether a bearer token was issued here, for the Cognitive Services audience, and is unexpired."""
        return self._identity.valid(token)

    def wait_for_requests(self, n: int, timeout: float = 10.0) -> bool:
        """Block until at least n image requests have been answered (and recorded)."""
        with self._cond:
            return self._cond.wait_for(lambda: self._image_count() >= n, timeout)

    def wait_for_in_flight(self, n: int, timeout: float = 10.0) -> bool:
        """Block until at least n image requests are being worked on at once."""
        with self._cond:
            return self._cond.wait_for(lambda: self._in_flight >= n, timeout)

    def _image_count(self) -> int:
        return sum(1 for r in self._records if r.kind == "image")

    # -- request handling (entry points for the HTTP handler) -----------------------------------

    def track(self, connection: socket.socket, add: bool) -> None:
        """Note an open connection (add) or forget a closed one: stop() shuts down those left open."""
        with self._cond:
            if add:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    def handle(self, method: str, target: str, headers: dict[str, str], raw: bytes) -> Reply:
        """Answer one request (headers with lower-case names) and record it."""
        with self._cond:
            self._active += 1
        try:
            return self._answer(method, target, headers, raw)
        finally:
            with self._cond:
                self._active -= 1
                self._cond.notify_all()

    def _answer(self, method: str, target: str, headers: dict[str, str], raw: bytes) -> Reply:
        call = parse_call(method, target, headers, raw)
        kind, handler = self._route(call)
        body = call.body if isinstance(call.body, dict) else None
        record = RecordedRequest(None, method, call.path, call.query, headers, body,
                                 started=time.monotonic(), kind=kind)
        try:
            reply = handler(call, record)
        except Rejected as rejected:
            reply = rejected.reply
        except Exception:  # an emulator bug: answer 500 with the traceback, do not hang the client
            reply = Reply(500, traceback.format_exc().encode(), {"content-type": "text/plain"})
        if not reply.close:  # every answer carries a request id, as the providers' do (the SDKs read it)
            reply.headers.setdefault("x-request-id", request_id())
        record.status = 0 if reply.close else reply.status
        record.finished = time.monotonic()
        with self._cond:
            self._records.append(record)
            self._cond.notify_all()
        return reply

    def _route(self, call: Call) -> tuple[str, Handler]:
        """The first matching route whose endpoint claims the call, else the first matching route."""
        first: tuple[Route, Handler, dict[str, str]] | None = None
        for endpoint, route, handler in self._routes:
            found = route.pattern.fullmatch(call.path)
            if not found or route.method != call.method:
                continue
            call.params = {k: v for k, v in found.groupdict().items() if v is not None}
            if endpoint.claims(call):
                return route.kind, handler
            if getattr(endpoint, "fallback", True):  # an endpoint may answer only what it claims
                first = first or (route, handler, call.params)
        if first is None:
            return "unknown", lambda call, record: unknown_path(call)
        route, handler, call.params = first
        return route.kind, handler

    def _handler(self, endpoint: Endpoint, route: Route) -> Handler:
        if route.handler is None:  # image generation, driven through the API's ProtocolApi side
            api = cast(ProtocolApi, endpoint)
            return lambda call, record: self._generate(call, record, api)
        method: Callable[[Call], Reply] = getattr(endpoint, route.handler)

        def answer(call: Call, record: RecordedRequest) -> Reply:
            record.provider = endpoint.provider
            return method(call)

        return answer

    def _generate(self, call: Call, record: RecordedRequest, api: ProtocolApi) -> Reply:
        """Validate, apply faults and the in-flight limit, wait the latency, answer."""
        record.provider = api.provider
        record.prompt, record.model, record.deployment = api.peek(call)
        job = api.accept(call)
        record.model, record.deployment = job.model, job.deployment
        if not self._admit():
            record.fault = "max_in_flight"
            return api.error("rate_limit", job, 1.0)
        try:
            fault = self._take_fault(api.provider, job.prompt)
            record.fault = fault.kind if fault else None
            if fault and fault.kind == "reset":
                return Reply(0, close="reset")
            if fault and fault.kind in ERROR_KINDS:
                return api.error(fault.kind, job, fault.retry_after)
            wait = self.latency + (fault.delay if fault and fault.kind == "slow" else 0.0)
            if wait > 0 and self._stop.wait(wait):
                return Reply(0, close="drop")  # stopping: hang up rather than answer late
            if not self._through_gate():
                return Reply(0, close="drop")
            return api.success(job, fault.kind if fault else None)
        finally:
            self._release()

    def _through_gate(self) -> bool:
        """Wait for the gate, if one is set; False when the emulator stops first."""
        gate = self.gate
        while gate is not None and not gate.wait(0.05):
            if self._stop.is_set():
                return False
        return True

    def _admit(self) -> bool:
        with self._cond:
            limit = self.max_in_flight
            if limit is not None and self._in_flight >= limit:
                return False
            self._in_flight += 1
            self._max_concurrent = max(self._max_concurrent, self._in_flight)
            self._cond.notify_all()
            return True

    def _release(self) -> None:
        with self._cond:
            self._in_flight -= 1
            self._cond.notify_all()

    def _take_fault(self, provider: str, prompt: str) -> Fault | None:
        with self._cond:
            for fault in self._faults:
                if fault.applies(provider, prompt):
                    if fault.times > 0:
                        fault.times -= 1
                    if fault.times == 0:
                        self._faults.remove(fault)
                    return fault
        return None
