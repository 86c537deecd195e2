"""The answer to a request no route takes: each protocol's own 404, told apart by the path and credentials.

Shapes: OpenAI answers an unknown URL with `invalid_request_error` "Invalid URL (METHOD /path)"; Google with
its `{"error": {"code", "message", "status": "NOT_FOUND"}}` status; Azure with `{"error": {"code": "404",
"message": "Resource not found"}}` (also what any other path gets: the emulator's own routes are Azure's).
"""

from __future__ import annotations

import re

from mkdocs_imagegen.emulator.wire import Call, Reply, json_reply, not_found

_GOOGLE_PATH = re.compile(r"/(v1beta|v1alpha)/.*|/v1/(models/[^/]+:[A-Za-z]+|batches/[^/]+:[A-Za-z]+)")


def unknown_path(call: Call) -> Reply:
    """The 404 the service the path (or its credentials) belongs to answers."""
    path = call.path
    if path.startswith("/azure/"):
        return not_found()
    if _GOOGLE_PATH.fullmatch(path) or "x-goog-api-key" in call.headers or "key" in call.query:
        return json_reply(404, {"error": {"code": 404, "message": f"Method not found: {call.method} {path}.",
                                          "status": "NOT_FOUND"}},
                          {"content-type": "application/json; charset=UTF-8"})
    if path.startswith("/v1/") or path == "/v1":
        return json_reply(404, {"error": {"message": f"Invalid URL ({call.method} {path})",
                                          "type": "invalid_request_error", "param": None, "code": None}})
    return not_found()
