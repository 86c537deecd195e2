"""The one httpx transport every provider sends through: a wall-clock deadline and a size cap.

httpx's timeouts are per phase and per read: a body trickled one byte a second never trips a
10 s read timeout. Here the request's timeout (the one httpx was given, from the provider's
`timeout`) is the wall-clock limit of the whole request: connecting, sending, the headers and
the body. Every blocking socket call is given only the time left (the network backend below),
and the body is checked between chunks. The body is also capped while it streams, before any
of it is decoded, and `gzip`/`deflate` answers are decoded here under the same cap, so a
compressed answer cannot expand past it either.

Provider-neutral, and imported only with the first request (it imports httpx).
"""

from __future__ import annotations

import threading
import time
import zlib
from collections.abc import Iterator
from typing import Any

import httpcore
import httpx

from mkdocs_imagegen.defaults import MAX_RESPONSE_BYTES
from mkdocs_imagegen.errors import ResponseTooLargeError

ACCEPT_ENCODING = "gzip, deflate"  # what GuardedTransport can decode under its cap

_local = threading.local()  # .deadline: time.monotonic() by which this thread's request must be done




def too_large(limit: int, detail: str) -> ResponseTooLargeError:
    return ResponseTooLargeError(f"sent {detail}; an image answer is capped at {limit / (1024 * 1024):g} MiB: "
                                 "dropped, and not asked for again")


def _time_left(timeout: float | None, error: type[Exception]) -> float | None:
    deadline = getattr(_local, "deadline", None)
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise error("the request's wall-clock deadline passed")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    """A socket stream whose every read and write waits at most until the thread's deadline."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _time_left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _time_left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        return _DeadlineStream(self._inner.start_tls(ssl_context, server_hostname,
                                                     _time_left(timeout, httpcore.ConnectTimeout)))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    def __init__(self, inner: httpcore.NetworkBackend) -> None:
        self._inner = inner

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Any = None) -> httpcore.NetworkStream:
        return _DeadlineStream(self._inner.connect_tcp(host, port, _time_left(timeout, httpcore.ConnectTimeout),
                                                       local_address, socket_options))

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Any = None) -> httpcore.NetworkStream:
        return _DeadlineStream(self._inner.connect_unix_socket(path, _time_left(timeout, httpcore.ConnectTimeout),
                                                               socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def bound_sockets(transport: httpx.BaseTransport) -> httpx.BaseTransport:
    """httpx's own transport (direct or through a proxy) with every socket call bounded by the thread's
    deadline; any other transport (a test's MockTransport) as it is."""
    pool = getattr(transport, "_pool", None)
    backend = getattr(pool, "_network_backend", None)
    if backend is not None and not isinstance(backend, _DeadlineBackend):  # else only the checks between
        pool._network_backend = _DeadlineBackend(backend)  # type: ignore[union-attr]  # body chunks bound it
    return transport


def guarded_client(transport: httpx.BaseTransport | None = None, *, limit: int = MAX_RESPONSE_BYTES,
                   **options: Any) -> httpx.Client:
    """An `httpx.Client` that never follows a redirect and sends everything through GuardedTransport,
    including the proxy transports httpx mounts from HTTP(S)_PROXY / NO_PROXY (honoured as httpx does).
    `limit` caps each answer's body (a batch's result file, read a line at a time, may take more)."""
    client = httpx.Client(transport=transport, follow_redirects=False, **options)
    client._transport = GuardedTransport(client._transport, limit=limit)
    client._mounts = {pattern: None if mounted is None else GuardedTransport(mounted, limit=limit)
                      for pattern, mounted in client._mounts.items()}
    return client


class _Deadline:
    """Run a blocking call with the thread's deadline set (and the previous one restored)."""

    def __init__(self, deadline: float | None) -> None:
        self.deadline = deadline

    def __enter__(self) -> None:
        self._previous = getattr(_local, "deadline", None)
        _local.deadline = self.deadline

    def __exit__(self, *_: object) -> None:
        _local.deadline = self._previous


def request_deadline(request: httpx.Request) -> float | None:
    """Now plus the request's timeout (httpx's per-phase values, all the provider's `timeout`)."""
    timeouts = request.extensions.get("timeout") or {}
    values = [value for value in timeouts.values() if value is not None]
    return time.monotonic() + max(values) if values else None


class _GuardedStream(httpx.SyncByteStream):
    def __init__(self, inner: httpx.SyncByteStream, deadline: float | None, limit: int,
                 encoding: str | None) -> None:
        self._inner = inner
        self._deadline = deadline
        self._limit = limit
        self._decoder = None if encoding is None else zlib.decompressobj(
            zlib.MAX_WBITS | 32 if encoding == "gzip" else zlib.MAX_WBITS)

    def __iter__(self) -> Iterator[bytes]:
        received = produced = 0
        chunks = iter(self._inner)
        while True:
            with _Deadline(self._deadline):
                chunk = next(chunks, None)
            if chunk is None:
                break
            if self._deadline is not None and time.monotonic() > self._deadline:
                raise httpx.ReadTimeout("the request's wall-clock deadline passed while the body arrived")
            received += len(chunk)
            if received > self._limit:
                raise too_large(self._limit, f"more than {self._limit / (1024 * 1024):g} MiB")
            if self._decoder is not None:
                chunk = self._decode(chunk, produced)
            produced += len(chunk)
            yield chunk
        if self._decoder is not None:
            tail = self._decoder.flush()
            if produced + len(tail) > self._limit:
                raise too_large(self._limit, "a compressed body that expands past that")
            if tail:
                yield tail

    def _decode(self, chunk: bytes, produced: int) -> bytes:
        assert self._decoder is not None
        room = self._limit - produced
        try:
            out = self._decoder.decompress(chunk, room + 1)
        except zlib.error as exc:
            raise httpx.DecodingError(f"invalid compressed body ({exc})") from None
        if len(out) > room or self._decoder.unconsumed_tail:
            raise too_large(self._limit, "a compressed body that expands past that")
        return out

    def close(self) -> None:
        self._inner.close()


class GuardedTransport(httpx.BaseTransport):
    """Wraps a transport (by default httpx's own): wall-clock deadline, size cap, decoding."""

    def __init__(self, inner: httpx.BaseTransport | None = None, *, limit: int = MAX_RESPONSE_BYTES) -> None:
        self._inner = bound_sockets(inner if inner is not None else httpx.HTTPTransport())
        self._limit = limit

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        deadline = request_deadline(request)
        request.headers["accept-encoding"] = ACCEPT_ENCODING
        with _Deadline(deadline):
            response = self._inner.handle_request(request)
        try:
            length = int(response.headers.get("content-length", ""))
        except ValueError:
            length = None
        if length is not None and length > self._limit:
            response.close()
            raise too_large(self._limit, f"a Content-Length of {length:,} bytes")
        encoding = response.headers.get("content-encoding", "identity").strip().lower()
        if encoding not in ("identity", "gzip", "deflate"):
            response.close()
            raise httpx.DecodingError(f"answered with content-encoding {encoding!r}, which was not asked for")
        if encoding != "identity":
            del response.headers["content-encoding"]  # decoded here, under the cap: httpx must not again
        assert isinstance(response.stream, httpx.SyncByteStream)
        response.stream = _GuardedStream(response.stream, deadline, self._limit,
                                         None if encoding == "identity" else encoding)
        return response

    def close(self) -> None:
        self._inner.close()
