"""Leases on a shared store: one machine pays for a banner while the others wait for it.

A lease is an object `.leases/<key>.json` beside the cache's folders (never under originals/ or
renditions/, so no reader and no `aws s3 sync --exclude '.leases/*'` takes it for a cache entry). It is
made with a conditional create, so of two machines racing for a key exactly one gets it; its holder
rewrites it every third of `lease_seconds` with a conditional overwrite on the version it wrote, and
deletes it (on that version) once the banner is in the store.

A waiter never trusts another machine's clock: it watches the lease's version on its own monotonic
clock, and a version unchanged for `lease_seconds` means its holder died (or lost the store). It takes
over by deleting that very version (conditional delete: of several waiters, one succeeds) and creating
the lease afresh (conditional create). A waiter gives up after `wait_seconds` and the banner gets a
placeholder with a warning; the next build finds it in the store.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from mkdocs_imagegen.cache.backends import Backend

LEASES = ".leases"


def lease_path(key: str) -> str:
    return f"{LEASES}/{key}.json"


@dataclass
class Held:
    key: str
    version: str
    lost: bool = False  # another machine took it over (this one stalled past the lease)


@dataclass
class Waiting:
    """A build waiting for another machine's lease: until when, and which version it saw since when."""

    deadline: float
    seen: tuple[str, float] | None = None
    delay: float = 0.0  # seconds until the next try: doubles from `poll` up to `max_poll`


class LeaseTimeout(Exception):
    """Another machine held the lease for longer than this build waits."""

    def __init__(self, key: str, holder: str) -> None:
        super().__init__(key, holder)
        self.key = key
        self.holder = holder


class Leases:
    def __init__(self, backend: Backend, lease_seconds: float, wait_seconds: float, stop: threading.Event, *,
                 poll: float | None = None, on_event: Callable[[str, str], None] | None = None) -> None:
        self.backend = backend
        self.lease_seconds = lease_seconds
        self.wait_seconds = wait_seconds
        self.poll = poll if poll is not None else min(0.25, lease_seconds / 4)
        # Many banners waited for at once cost a few store requests each per try: tries thin out to one
        # every 2 s (a quarter lease at most, so a takeover is never late by much).
        self.max_poll = max(self.poll, min(2.0, lease_seconds / 4))
        self.stop = stop
        self.on_event = on_event or (lambda event, key: None)
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self._held: dict[str, Held] = {}
        self._lock = threading.Lock()  # guards _held
        self._renewing = threading.Lock()  # one renewal or release on the wire at a time
        self._renewer: threading.Thread | None = None

    def _body(self, key: str) -> bytes:
        # Another machine reads this, so nothing but who holds it: no path, no credential.
        return json.dumps({"key": key, "holder": self.holder, "renewed": time.time(),
                           "lease_seconds": self.lease_seconds}).encode()

    def attempt(self, key: str, landed: Callable[[], bool], waiting: Waiting | None = None) -> Held | Waiting | None:
        """One try at the lease on `key`: Held; None once `landed()` says another machine stored the
        banner; or a Waiting to try again with in `poll` seconds (its holder is at work), which never
        keeps a thread of this build. A lease left unchanged for `lease_seconds` since this build first
        saw it is taken over. LeaseTimeout once the first try is `wait_seconds` old; store errors go
        through (the caller's outage)."""
        if waiting is None:
            waiting = Waiting(time.monotonic() + self.wait_seconds)
        elif landed():
            return None
        current = None
        for _ in range(2):  # once more at once if the lease was let go between the two calls
            version = self.backend.create(lease_path(key), self._body(key))
            if version is not None:
                return self._take(key, version, landed, "took")
            current = self.backend.version(lease_path(key))
            if current is not None:
                break
            if landed():
                return None
        now = time.monotonic()
        if current is None:
            pass  # let go twice in a row: looked at again next time
        elif waiting.seen is None or waiting.seen[0] != current:
            if waiting.seen is None:
                self.on_event("waiting", key)
            waiting.seen = (current, now)
        elif now - waiting.seen[1] >= self.lease_seconds and self.backend.delete(lease_path(key), current):
            self.on_event("expired", key)  # its holder stopped renewing it: ours to take
            version = self.backend.create(lease_path(key), self._body(key))
            if version is not None:
                return self._take(key, version, landed, "took over")
        if now >= waiting.deadline:
            raise LeaseTimeout(key, self._holder_of(key))
        if self.stop.is_set():
            raise LeaseTimeout(key, "nobody (the build is stopping)")
        waiting.delay = min(max(waiting.delay * 2, self.poll), self.max_poll)
        return waiting

    def _take(self, key: str, version: str, landed: Callable[[], bool], how: str) -> Held | None:
        if landed():  # its holder stored it and let go just before this build asked: nothing to pay
            self.backend.delete(lease_path(key), version)
            return None
        return self._hold(key, version, how)

    def _hold(self, key: str, version: str, how: str) -> Held:
        held = Held(key, version)
        with self._lock:
            self._held[key] = held
            if self._renewer is None:
                self._renewer = threading.Thread(target=self._renew_loop, name="imagegen-leases", daemon=True)
                self._renewer.start()
        self.on_event(how, key)
        return held

    def release(self, held: Held) -> None:
        with self._renewing:  # never while its renewal is on the wire: the version would be stale
            with self._lock:
                self._held.pop(held.key, None)
            if not held.lost:
                self.backend.delete(lease_path(held.key), held.version)

    def _renew_loop(self) -> None:
        while not self.stop.wait(self.lease_seconds / 3):
            with self._lock:
                keys = list(self._held)
            for key in keys:
                with self._renewing:
                    with self._lock:
                        lease = self._held.get(key)
                    if lease is not None:
                        self._renew(lease)

    def _renew(self, lease: Held) -> None:
        try:
            version = self.backend.replace(lease_path(lease.key), self._body(lease.key), lease.version)
        except Exception:  # noqa: BLE001 - the store is down: the caller meets it on its next call
            return
        if version is None:
            lease.lost = True  # taken over: this build stalled past the lease
            with self._lock:
                self._held.pop(lease.key, None)
        else:
            lease.version = version

    def _holder_of(self, key: str) -> str:
        try:
            record = json.loads(self.backend.read(lease_path(key), 4096))
            holder = str(record.get("holder", ""))
        except Exception:  # noqa: BLE001 - only for the message
            holder = ""
        # Another machine wrote it: into a log line goes a short name of safe characters only.
        holder = re.sub(r"[^A-Za-z0-9_.:@-]", "?", holder)[:80]
        return holder or "another build"
