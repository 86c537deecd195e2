#!/usr/bin/env python3
"""A minimal image provider built on the standard library's http.server alone: not our emulator.

The benchmark's second opinion. The emulator (mkdocs_imagegen.emulator) is ours: it shares the
catalogue and the wire code with the plugin, and draws flat images that decode, resize and encode
faster than real ones, so a benchmark against it alone could flatter us. This server imports
nothing of mkdocs_imagegen and nothing outside the standard library; it runs in its own process
and answers from files rendered before it starts (bench_build.py renders photographic-looking
ones, photos.py), after a fixed latency. It speaks just enough for the real provider code (httpx
for OpenAI, the google-genai SDK for Gemini) to talk to it:

  POST /v1/images/generations                    OpenAI: `size` and `output_format` pick the file
                                                 openai-<W>x<H>.<png|jpeg|webp>; `n` copies of it
  POST /openai/v1/images/generations             Azure AI Foundry (v1 route), and
  POST /openai/deployments/<d>/images/generations  its dated route: as OpenAI, but PNG or JPEG only
                                                 (Foundry has no WebP), so the plugin encodes the WebP
  POST /v1beta/models/<model>:generateContent    Gemini (or /v1/...): generationConfig.imageConfig's aspectRatio
                                                 and imageSize pick gemini-<W>x<H>.jpeg by Google's
                                                 size table below
  GET  /_stats, POST /_reset                     requests answered and the most ever in flight

Anything it has no file for is answered 400, in the provider's error shape.

    python benchmarks/stdlib_server.py --answers DIR --latency 0.5 --port 0   # prints its URL
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

# Gemini's image sizes by aspect ratio and image_size tier (Google's "Nano Banana" size table).
GEMINI_SIZES = {
    "1:1": {"1K": (1024, 1024), "2K": (2048, 2048), "4K": (4096, 4096)},
    "3:2": {"1K": (1264, 848), "2K": (2528, 1696), "4K": (5056, 3392)},
    "16:9": {"1K": (1376, 768), "2K": (2752, 1536), "4K": (5504, 3072)},
    "21:9": {"1K": (1584, 672), "2K": (3168, 1344), "4K": (6336, 2688)},
}
MIME = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}
FOUNDRY_PATH = re.compile(r"^/openai/(?:v1|deployments/[^/]+)/images/generations$")
GEMINI_PATH = re.compile(r"^/v1(?:beta|alpha)?/models/([^/:]+):generateContent$")  # the SDK picks the version


def gemini_file(ratio: str, tier: str) -> str | None:
    size = GEMINI_SIZES.get(ratio, {}).get(tier)
    return f"gemini-{size[0]}x{size[1]}.jpeg" if size else None


class State:
    def __init__(self, answers: Path, latency: float) -> None:
        # Base64 once, at start: answering costs a dictionary look-up and a string join.
        self.encoded = {path.name: base64.b64encode(path.read_bytes()).decode("ascii")
                        for path in answers.iterdir() if path.is_file()}
        self.latency = latency
        self.lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0
        self.requests = 0

    def enter(self) -> None:
        with self.lock:
            self.in_flight += 1
            self.requests += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def leave(self) -> None:
        with self.lock:
            self.in_flight -= 1

    def reset(self) -> None:
        with self.lock:
            self.requests = 0
            self.max_in_flight = self.in_flight


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the real APIs
    server: Server

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        return None

    def do_GET(self) -> None:
        if self.path == "/_stats":
            state = self.server.state
            self.reply(200, {"requests": state.requests, "max_in_flight": state.max_in_flight})
        else:
            self.reply(404, {"error": {"message": "not found", "type": "invalid_request_error"}})

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        path = self.path.split("?", 1)[0]
        if path == "/_reset":
            self.server.state.reset()
            self.reply(200, {})
            return
        state = self.server.state
        state.enter()
        try:
            started = time.monotonic()
            try:
                request = json.loads(body or b"{}")
            except ValueError:
                request = None
            if not isinstance(request, dict):
                status, text = 400, json.dumps({"error": {"message": "invalid JSON", "type": "invalid_request_error"}})
            elif path == "/v1/images/generations":
                status, text = self.openai(request)
            elif FOUNDRY_PATH.match(path):
                status, text = self.openai(request, formats=("png", "jpeg"))
            elif GEMINI_PATH.match(path):
                status, text = self.gemini(GEMINI_PATH.match(path).group(1), request)
            else:
                status, text = 404, json.dumps({"error": {"message": f"no route {path}", "type": "not_found"}})
            time.sleep(max(0.0, state.latency - (time.monotonic() - started)))
            self.send(status, text.encode("ascii"))
        finally:
            state.leave()

    def openai(self, request: dict, formats: tuple[str, ...] = ("png", "jpeg", "webp")) -> tuple[int, str]:
        fmt = request.get("output_format") or "png"
        name = f"openai-{request.get('size')}.{fmt}"
        encoded = self.server.state.encoded.get(name) if fmt in formats else None
        if encoded is None:
            return 400, json.dumps({"error": {"message": f"Invalid value: no answer {name}", "type":
                                              "invalid_request_error", "param": "size", "code": "invalid_value"}})
        n = request.get("n") or 1
        items = ",".join(f'{{"b64_json":"{encoded}"}}' for _ in range(int(n)))
        return 200, (f'{{"created":{int(time.time())},"data":[{items}],"output_format":"{fmt}",'
                     f'"size":"{request.get("size")}","quality":"medium","background":"opaque",'
                     '"usage":{"input_tokens":20,"output_tokens":1056,"total_tokens":1076}}')

    def gemini(self, model: str, request: dict) -> tuple[int, str]:
        config = (request.get("generationConfig") or {}).get("imageConfig") or {}
        name = gemini_file(config.get("aspectRatio") or "1:1", config.get("imageSize") or "1K")
        encoded = self.server.state.encoded.get(name or "")
        if encoded is None:
            return 400, json.dumps({"error": {"code": 400, "status": "INVALID_ARGUMENT",
                                              "message": f"no answer for image config {config}"}})
        part = f'{{"inlineData":{{"mimeType":"{MIME["jpeg"]}","data":"{encoded}"}}}}'
        return 200, (f'{{"candidates":[{{"content":{{"role":"model","parts":[{part}]}},"finishReason":"STOP",'
                     f'"index":0}}],"usageMetadata":{{"promptTokenCount":20,"candidatesTokenCount":1120,'
                     f'"totalTokenCount":1140}},"modelVersion":"{model}","responseId":"stdlib"}}')

    def reply(self, status: int, payload: dict) -> None:
        self.send(status, json.dumps(payload).encode("ascii"))

    def send(self, status: int, data: bytes) -> None:
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, port: int, state: State) -> None:
        super().__init__(("127.0.0.1", port), Handler)
        self.state = state


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--answers", type=Path, required=True, help="folder of pre-rendered answer files")
    parser.add_argument("--latency", type=float, default=0.5, help="seconds before each answer")
    parser.add_argument("--port", type=int, default=0, help="0: any free port")
    args = parser.parse_args(argv)
    server = Server(args.port, State(args.answers, args.latency))
    print(f"http://127.0.0.1:{server.server_address[1]}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
