"""A hostile image provider on loopback: it speaks just enough of the Gemini, OpenAI and Azure OpenAI
image protocols to be believed, then misbehaves at the HTTP level.

    with HostileServer() as server:
        server.script("[slow]", Behaviour("trickle_body", interval=0.02))
        env = server.env("google")          # point a provider (or a build) at it

Each request is answered by the first scripted behaviour whose marker is in its prompt (else an
honest image answer). What it can do:

- ``ok``: a real PNG, the provider's success shape;
- ``retry_hint``: 429 with ``retry-after`` (OpenAI, Azure) or Gemini's ``RetryInfo`` of ``seconds``;
- ``trickle_body``: honest headers, then the body one byte every ``interval`` seconds;
- ``trickle_headers``: the status line and headers themselves one byte every ``interval``;
- ``redirect``: 307 to the same path on ``localhost`` (another host name) under ``/elsewhere``;
- ``huge``: a 200 answer of ``size`` bytes (a base64 field of "A"s), ``chunked`` or with Content-Length;
- ``gzip_bomb``: the same answer gzip-compressed (``content-encoding: gzip``), a few hundred kB on the wire;
- ``echo_text`` / ``echo_finish``: Gemini refusals that quote the key sent, over several lines.

Every error body quotes the key it was sent. It binds 127.0.0.1 only, every loop is bounded by
the bytes it has to send, and each stops when the client hangs up or the server stops.
"""

from __future__ import annotations

import base64
import io
import json
import threading
import zlib
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from PIL import Image

MIB = 1024 * 1024
KEYS = {  # canaries: distinctive enough to grep for
    "google": "AIzaSyCANARYhostile-Gx7Qm2Vb8Nc4Zr6Tp1",
    "openai": "sk-proj-CANARYhostile-Ox9Lm2Vb8Nc4Zr6Tp1",
    "foundry": "CANARYhostileAzure0f9e8d7c6b5a4f3e2d1c",
}
SIZE = (64, 36)


def png(colour: tuple[int, int, int] = (40, 90, 160)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", SIZE, colour).save(out, "PNG")
    return out.getvalue()


PNG_B64 = base64.b64encode(png()).decode()


@dataclass(frozen=True)
class Behaviour:
    kind: str = "ok"
    seconds: float = 99999.0  # retry_hint
    interval: float = 0.02  # trickle_*: seconds between bytes
    size: int = 200 * MIB  # huge
    chunked: bool = False  # huge: Transfer-Encoding: chunked instead of Content-Length


@dataclass
class Seen:
    """One request as the server saw it."""

    method: str
    path: str
    host: str
    headers: dict[str, str]
    prompt: str | None
    sent: int = 0  # body bytes written before the answer ended or the client hung up


@dataclass
class _State:
    script: list[tuple[str, Behaviour]] = field(default_factory=list)
    seen: list[Seen] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)


def _prompt(body: Any) -> str | None:
    if not isinstance(body, dict):
        return None
    if isinstance(body.get("prompt"), str):
        return body["prompt"]
    try:
        return str(body["contents"][0]["parts"][0]["text"])
    except (KeyError, IndexError, TypeError):
        return None


def _key(headers: Any) -> str:
    for name in ("x-goog-api-key", "api-key"):
        if headers.get(name):
            return str(headers[name])
    return str(headers.get("authorization", "")).removeprefix("Bearer ")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 10  # a socket timeout: a write to a client that stopped reading cannot block for ever
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet
        pass

    # --- plumbing --------------------------------------------------------------------------------

    def _body(self) -> Any:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(min(length, 4 * MIB)) if length else b""
        try:
            return json.loads(raw or b"null")
        except ValueError:
            return None

    def _send(self, status: int, payload: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in {"content-type": "application/json", **(headers or {})}.items():
            self.send_header(name, value)
        self.send_header("content-length", str(len(payload)))
        self.send_header("connection", "close")
        self.end_headers()
        self.wfile.write(payload)
        self.seen.sent = len(payload)

    def _trickle(self, data: bytes, interval: float) -> None:
        """One byte at a time; bounded by len(data), ends early when the client or the server stops."""
        stop = self.server.state.stop
        for index in range(len(data)):
            if stop.is_set():
                return
            try:
                self.wfile.write(data[index:index + 1])
                self.wfile.flush()
            except OSError:
                return
            self.seen.sent = index + 1
            stop.wait(interval)

    # --- protocol --------------------------------------------------------------------------------

    def do_GET(self) -> None:
        self._record(None)
        self._send(404, b'{"error": {"message": "not here"}}')

    def do_POST(self) -> None:
        body = self._body()
        self._record(_prompt(body))
        gemini = ":generateContent" in self.path
        if self.path.startswith("/elsewhere"):
            self._send(200, self._image(gemini))  # where a followed redirect lands: it got the key
            return
        behaviour = self.server.behaviour(self.seen.prompt or "")
        getattr(self, f"_{behaviour.kind}")(behaviour, gemini)

    def _record(self, prompt: str | None) -> None:
        headers = {name.lower(): value for name, value in self.headers.items()}
        self.seen = Seen(self.command, self.path, headers.get("host", ""), headers, prompt)
        with self.server.state.lock:
            self.server.state.seen.append(self.seen)

    def _image(self, gemini: bool) -> bytes:
        if gemini:
            part = {"inlineData": {"mimeType": "image/png", "data": PNG_B64}}
            return json.dumps({"candidates": [{"content": {"parts": [part]}, "finishReason": "STOP"}]}).encode()
        return json.dumps({"created": 1, "data": [{"b64_json": PNG_B64}]}).encode()

    # --- behaviours ------------------------------------------------------------------------------

    def _ok(self, behaviour: Behaviour, gemini: bool) -> None:
        self._send(200, self._image(gemini))

    def _retry_hint(self, behaviour: Behaviour, gemini: bool) -> None:
        key = _key(self.headers)
        if gemini:
            error = {"code": 429, "status": "RESOURCE_EXHAUSTED",
                     "message": f"Resource has been exhausted (e.g. check quota) for {key}",
                     "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo",
                                  "retryDelay": f"{behaviour.seconds:g}s"}]}
            self._send(429, json.dumps({"error": error}).encode())
            return
        error = {"message": f"Rate limit reached for key {key}", "type": "requests", "code": "rate_limit_exceeded"}
        self._send(429, json.dumps({"error": error}).encode(), {"retry-after": f"{behaviour.seconds:g}"})

    def _trickle_body(self, behaviour: Behaviour, gemini: bool) -> None:
        payload = b" " * 256 + self._image(gemini)  # JSON allows leading whitespace: still a valid answer
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        self.send_header("connection", "close")
        self.end_headers()
        self.wfile.flush()
        self._trickle(payload, behaviour.interval)

    def _trickle_headers(self, behaviour: Behaviour, gemini: bool) -> None:
        payload = self._image(gemini)
        head = (f"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {len(payload)}\r\n"
                f"x-padding: {'p' * 200}\r\nconnection: close\r\n\r\n").encode()
        self._trickle(head + payload, behaviour.interval)

    def _redirect(self, behaviour: Behaviour, gemini: bool) -> None:
        port = self.server.server_address[1]
        location = f"http://localhost:{port}/elsewhere{self.path}"
        self._send(307, f'{{"error": {{"message": "moved, key {_key(self.headers)}"}}}}'.encode(),
                   {"location": location})

    @staticmethod
    def _huge_pieces(behaviour: Behaviour, gemini: bool) -> list[bytes]:
        """A 200 answer of about `size` bytes, in 1 MiB pieces (the same block object: no 200 MB in memory)."""
        head = (b'{"candidates": [{"content": {"parts": [{"inlineData": {"mimeType": "image/png", "data": "'
                if gemini else b'{"data": [{"b64_json": "')
        tail = b'"}}]}}]}' if gemini else b'"}]}'
        filler = max(0, behaviour.size - len(head) - len(tail)) // 4 * 4
        block = b"A" * MIB
        return [head, *([block] * (filler // MIB)), b"A" * (filler % MIB), tail]

    def _gzip_bomb(self, behaviour: Behaviour, gemini: bool) -> None:
        packer = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
        payload = b"".join(packer.compress(piece) for piece in self._huge_pieces(behaviour, gemini)) + packer.flush()
        self._send(200, payload, {"content-encoding": "gzip"})

    def _huge(self, behaviour: Behaviour, gemini: bool) -> None:
        self.send_response(200)
        self.send_header("content-type", "application/json")
        pieces = self._huge_pieces(behaviour, gemini)
        if behaviour.chunked:
            self.send_header("transfer-encoding", "chunked")
        else:
            self.send_header("content-length", str(sum(len(piece) for piece in pieces)))
        self.send_header("connection", "close")
        self.end_headers()
        stop = self.server.state.stop
        try:
            for piece in pieces:  # bounded: size / 1 MiB writes
                if stop.is_set():
                    return
                if behaviour.chunked:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece) if piece else b"")
                else:
                    self.wfile.write(piece)
                self.seen.sent += len(piece)
            if behaviour.chunked:
                self.wfile.write(b"0\r\n\r\n")
        except OSError:
            return

    def _echo_text(self, behaviour: Behaviour, gemini: bool) -> None:
        key = _key(self.headers)
        part = {"text": f"I can't draw that.\nYour request came with the key {key}\n\nTry again."}
        self._send(200, json.dumps({"candidates": [{"content": {"parts": [part]}, "finishReason": "STOP"}]}).encode())

    def _echo_finish(self, behaviour: Behaviour, gemini: bool) -> None:
        key = _key(self.headers)
        candidate = {"finishReason": "IMAGE_SAFETY", "finishMessage": f"Blocked.\nKey seen: {key}\nsorry"}
        self._send(200, json.dumps({"candidates": [candidate]}).encode())


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    state: _State

    def behaviour(self, prompt: str) -> Behaviour:
        with self.state.lock:
            for marker, behaviour in self.state.script:
                if marker in prompt:
                    return behaviour
        return Behaviour()


class HostileServer:
    """The hostile provider, started on entry and stopped on exit (its handlers told to stop at once)."""

    def __init__(self) -> None:
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.state = _State()
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="hostile-server", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> HostileServer:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.state.stop.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def script(self, marker: str, behaviour: Behaviour) -> None:
        """Answer every request whose prompt contains `marker` with `behaviour`."""
        with self._server.state.lock:
            self._server.state.script.append((marker, behaviour))

    def requests(self) -> list[Seen]:
        with self._server.state.lock:
            return list(self._server.state.seen)

    def env(self, provider: str) -> dict[str, str]:
        """The variables that point `provider` (and only it) at this server, with its canary key."""
        return {
            "google": {"GEMINI_API_KEY": KEYS["google"], "GOOGLE_GEMINI_BASE_URL": self.url},
            "openai": {"OPENAI_API_KEY": KEYS["openai"], "OPENAI_BASE_URL": f"{self.url}/v1"},
            "foundry": {"AZURE_OPENAI_API_KEY": KEYS["foundry"], "AZURE_OPENAI_ENDPOINT": f"{self.url}/azure"},
        }[provider]

