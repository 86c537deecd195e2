"""A cache shared by many machines on an object store (`cache_url`), beside the local `cache_dir`.

The local cache stays the working copy. The store holds exactly `cache_dir`'s layout
(originals/<key>.<format>, then originals/<key>.json, whose presence is the hit), so
`aws s3 sync .banners s3://bucket/prefix` (and back) moves a committed cache either way; only originals
and provenance are written to it, renditions are derived on each machine. Leases (leases.py) live in
`.leases/`, which no cache reader lists.

A build lists the store's originals/ once; a banner missing locally but listed there is fetched,
checked exactly as a local entry is (size caps, provenance fields, sha256, a decodable image of the
recorded size; `CacheStore.adopt_original`), and written locally. A banner missing in both is paid for
under a lease, then stored locally first and in the store second, image before provenance: each PUT is
atomic, so a writer killed at any point leaves at most an image with no provenance, which counts as
missing.

Any store error (unreachable, refused credentials, a bucket that is not there) gives one warning and
turns the store off for the rest of the build: banners still come from and go to the local cache, and
`--strict` fails on that warning. No backend's error text is repeated: it may quote a signed URL.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from mkdocs_imagegen.cache.backends import Backend, open_backend
from mkdocs_imagegen.cache.entries import Original
from mkdocs_imagegen.cache.leases import Held, Leases, LeaseTimeout, Waiting
from mkdocs_imagegen.cache.store import MAX_PROVENANCE_BYTES, CacheStore
from mkdocs_imagegen.defaults import MAX_RESPONSE_BYTES
from mkdocs_imagegen.errors import CacheEntryError, ImagegenError, StoreSetupError

T = TypeVar("T")
DEFAULT_LEASE_SECONDS = 60.0


@dataclass(frozen=True)
class Claim:
    original: Original | None = None  # the store had the banner: nothing to pay for
    held: Held | None = None  # this build holds the lease: pay, publish, release
    waiting: Waiting | None = None  # another machine holds it: claim again in a moment


class Unavailable(Exception):
    """The store failed; it is off for the rest of this build (already warned about)."""


class SharedCache:
    def __init__(self, url: str, backend: Backend | None, *, lease_seconds: float, wait_seconds: float,
                 stop: threading.Event, log: logging.Logger, problem: str | None = None) -> None:
        self.url = url.rstrip("/")
        self.backend = backend
        self.log = log
        self.stop = stop
        self.leases = Leases(backend, lease_seconds, wait_seconds, stop, on_event=self._lease_event) \
            if backend is not None else None
        self._listed: frozenset[str] = frozenset()
        self._unusable: set[str] = set()  # keys whose entry in the store was found unusable in this build
        self._down: str | None = problem  # why the store is off in this build
        self._setup_problem = problem
        self._warned = False
        self._lock = threading.Lock()

    @classmethod
    def open(cls, url: str, *, lease_seconds: float, wait_seconds: float, stop: threading.Event,
             log: logging.Logger, read_seconds: float) -> SharedCache:
        try:
            backend: Backend | None = open_backend(url, read_seconds)
            problem = None
        except StoreSetupError as error:
            backend, problem = None, str(error)
        return cls(url, backend, lease_seconds=lease_seconds, wait_seconds=wait_seconds, stop=stop, log=log,
                   problem=problem)

    # -- a build ---------------------------------------------------------------------------------

    def new_build(self) -> None:
        """List the store's originals once (a build's first call: an unreachable store is found here)."""
        with self._lock:
            self._down, self._warned = self._setup_problem, False
            self._unusable = set()
        if self._setup_problem is not None:
            self._warn()
            return
        try:
            names = self._call(lambda: self.backend.names("originals"))
        except Unavailable:
            return
        self._listed = frozenset(name[:-5] for name in names if name.endswith(".json"))

    @property
    def up(self) -> bool:
        return self._down is None

    def listed(self, key: str) -> bool:
        """The store had this key's provenance when the build began."""
        return self.up and key in self._listed

    # -- reading ---------------------------------------------------------------------------------

    def fetch(self, cache: CacheStore, key: str) -> Original | None:
        """The store's entry for `key`, checked and written to the local cache; None if it has none, it
        is unusable (warned about, naming the object), or the store is off."""
        if not self.up or key in self._unusable:
            return None
        try:
            return self._call(lambda: self._fetch(cache, key))
        except Unavailable:
            return None
        except CacheEntryError as error:
            self._unusable.add(key)  # named once; generated again, and the new one replaces it in the store
            self.log.warning("imagegen: %s: the banner counts as missing"
                             " (see docs: troubleshooting#cache-entry-refused)", error.message)
            return None

    def _fetch(self, cache: CacheStore, key: str) -> Original | None:
        backend = self.backend
        assert backend is not None
        provenance_name = f"originals/{key}.json"
        size = backend.size(provenance_name)
        if size is None:
            return None
        where = f"{self.url}/originals"
        if not 0 < size <= MAX_PROVENANCE_BYTES:
            raise CacheEntryError(f"shared cache object {where}/{key}.json is {size:,} bytes, not a provenance")
        provenance = backend.read(provenance_name, MAX_PROVENANCE_BYTES)
        if len(provenance) > MAX_PROVENANCE_BYTES:
            raise CacheEntryError(f"shared cache object {where}/{key}.json is too big to be ours")
        fmt = _format_of(provenance, f"{where}/{key}.json")
        image_name = f"originals/{key}.{fmt}"
        if backend.size(image_name) is None:
            raise CacheEntryError(f"shared cache object {where}/{key}.{fmt} is missing; its provenance is there")
        image = backend.read(image_name, MAX_RESPONSE_BYTES)
        if len(image) > MAX_RESPONSE_BYTES:
            raise CacheEntryError(f"shared cache object {where}/{key}.{fmt} is too big to be a banner")
        return cache.adopt_original(key, provenance, image, where)

    def landed(self, key: str) -> bool:
        """The store has this key's provenance now (another machine finished it)."""
        backend = self.backend
        return backend is not None and backend.size(f"originals/{key}.json") is not None

    # -- paying once -------------------------------------------------------------------------------

    def claim(self, cache: CacheStore, key: str, waiting: Waiting | None = None) -> Claim:
        """Before paying for `key`, missing locally: the store's copy if it has one, else its lease, else
        (another machine holds it) a Claim with `waiting` set, to claim again with after `waiting.delay` s;
        the banner comes from the store once that machine stores it. With the store off, an empty claim:
        the banner is generated for the local cache alone. ImagegenError when another machine holds the
        lease for longer than this build waits."""
        original = self.fetch(cache, key) if waiting is None else None
        if original is not None or not self.up or self.leases is None:
            return Claim(original)
        leases = self.leases
        try:
            result = self._call(lambda: leases.attempt(key, lambda: self.landed(key), waiting))
        except Unavailable:
            return Claim()
        except LeaseTimeout as timeout:
            raise ImagegenError(
                f"cache key {key}: the shared cache's lease on it is held by {timeout.holder} for longer than "
                f"this build waits ({leases.wait_seconds:g}s); a later build takes the banner from the shared "
                "cache") from None
        if isinstance(result, Waiting):
            return Claim(waiting=result)
        if result is None:  # another machine stored it while this build waited
            return Claim(self.fetch(cache, key))
        return Claim(None, result)

    def release(self, claim: Claim) -> None:
        leases, held = self.leases, claim.held
        if held is None or leases is None or not self.up:
            return
        with contextlib.suppress(Unavailable):
            self._call(lambda: leases.release(held))

    def publish(self, cache: CacheStore, original: Original) -> None:
        """Write a new original and its provenance (the local files, byte for byte) to the store."""
        if not self.up:
            return
        backend = self.backend
        assert backend is not None
        provenance_file = cache.provenance_path(original.key)

        def upload() -> None:
            backend.write(f"originals/{original.path.name}", original.path.read_bytes())
            backend.write(f"originals/{provenance_file.name}", provenance_file.read_bytes())

        with contextlib.suppress(Unavailable):
            self._call(upload)

    # -- failures --------------------------------------------------------------------------------

    def _call(self, work: Callable[[], T]) -> T:
        try:
            return work()
        except (CacheEntryError, LeaseTimeout):
            raise
        except Exception as error:  # noqa: BLE001 - any backend failure: the store is off, the build goes on
            with self._lock:
                if self._down is None:
                    self._down = _describe(error)
            self._warn()
            raise Unavailable from None

    def _warn(self) -> None:
        with self._lock:
            if self._warned:
                return
            self._warned = True
        self.log.warning("imagegen: shared cache %s cannot be used (%s): this build goes on with the local "
                         "cache only; banners it makes are kept locally, and are not in the shared cache"
                         " (see docs: troubleshooting#shared-store-down)",
                         self.url, self._down)

    def _lease_event(self, event: str, key: str) -> None:
        self.log.debug("imagegen: shared cache: %s the lease on %s", event, key)
        if event == "expired":
            self.log.info("imagegen: shared cache: the lease on %s was not renewed for %gs (its build stopped); "
                          "this build takes the banner over", key, self.leases.lease_seconds if self.leases else 0)


def _format_of(provenance: bytes, name: str) -> str:
    """The image format a provenance names, before it is checked in full (adopt_original checks it)."""
    import json

    try:
        fmt = json.loads(provenance.decode("utf-8")).get("format")
    except (UnicodeDecodeError, ValueError, AttributeError):
        fmt = None
    if fmt not in ("png", "jpeg", "webp"):
        raise CacheEntryError(f"shared cache object {name} names no image format (png, jpeg, webp)")
    return str(fmt)


def _describe(error: BaseException) -> str:
    """What went wrong, without the backend's text (it may quote a signed URL or an account)."""
    name = type(error).__name__
    if isinstance(error, PermissionError) or name in ("ClientAuthenticationError", "NoCredentialsError"):
        return f"{name}: credentials missing or refused; check the store's standard credential chain"
    if isinstance(error, FileNotFoundError):
        return f"{name}: no such bucket or container"
    if name == "FSTimeoutError":
        return f"{name}: no whole answer within the `timeout` option"
    return name
