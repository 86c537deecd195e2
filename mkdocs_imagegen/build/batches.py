"""Batch jobs recorded in the cache: what is pending where, what batches cost, and collecting results.

`backfill --batch` records every job it submits in `cache_dir/batches/<id>.json`, written with
`cache.atomic_write` right after the provider accepted it, so the command can exit and any later
`backfill`, `backfill --collect` or `mkdocs build` picks the results up. A banner in a recorded job
is pending: it is never submitted again, and a build gives it a placeholder (option
`wait_for_batch`). Records are committed and merged like the rest of the cache, so they are read as
untrusted input: each field is checked, and each entry's request must hash to its key, so a record
can never file an image under another banner's key. A finished job's results go through the same
commit path as a synchronous result (`Pipeline.commit_result`: checked, stored, rendered, published to
the shared store), then its record is removed; a failed entry is reported per page and is missing
again, so the next `backfill --batch` (or a build) makes it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mkdocs_imagegen.cache.files import KEY_PATTERN, atomic_write, folder_problem, json_object, read_regular
from mkdocs_imagegen.errors import BatchJobUnknownError, CacheEntryError, ImagegenError
from mkdocs_imagegen.pages.references import MIME_TYPES
from mkdocs_imagegen.request import MAX_STYLE_CHARS, QUALITIES, GenerationRequest, Reference, Size

if TYPE_CHECKING:
    from mkdocs_imagegen.build.pipeline import Pipeline
    from mkdocs_imagegen.cache.store import CacheStore
    from mkdocs_imagegen.catalogue.entries import ModelInfo
    from mkdocs_imagegen.catalogue.lookup import Catalogue
    from mkdocs_imagegen.providers.base import Provider, ProviderImage
    from mkdocs_imagegen.providers.registry import Registry

FOLDER = "batches"
RECORD_VERSION = 1
MAX_RECORD_BYTES = 64 << 20  # a 20 MB batch of 32,000-character prompts, with room to spare
_RECORD_NAME = re.compile(r"^[0-9a-f]{16}\.json$")


# --- what batches cost and where they exist --------------------------------------------------------


@dataclass(frozen=True)
class BatchTerms:
    provider: str
    families: tuple[str, ...]
    price_factor: float
    max_request_bytes: int  # the documented size limit of one job's requests
    job_name: re.Pattern[str]  # what the provider's job names look like (a name goes into a URL path)
    max_requests: int | None = None  # the documented count limit, if any
    models: tuple[str, ...] = ()  # when set, only these models of the families

    def covers(self, info: ModelInfo | None) -> bool:
        return info is not None and info.family in self.families and (not self.models or info.name in self.models)


def batch_terms(provider: str) -> BatchTerms | None:
    """The catalogue's `batch` entry for a provider whose batch API is covered here, else None."""
    from mkdocs_imagegen.catalogue.lookup import packaged_data

    raw = packaged_data().get("batch", {}).get(provider)
    if not isinstance(raw, dict) or not raw.get("families"):
        return None
    count = raw.get("max_requests")
    return BatchTerms(provider, tuple(raw["families"]), float(raw["price_factor"]), int(raw["max_request_bytes"]),
                      re.compile(raw["job_name"]), int(count) if count is not None else None,
                      tuple(raw.get("models", ())))


def batch_api(provider: Provider, info: ModelInfo | None) -> Any:
    """The provider's batch API for the model `info` describes, or None where none is covered here."""
    terms = batch_terms(provider.name)
    if terms is None or not terms.covers(info):
        return None
    api = provider.batches()
    return api if api is not None and api.unsupported() is None else None


# --- records ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BatchEntry:
    request: GenerationRequest
    pages: tuple[str, ...]

    @property
    def key(self) -> str:
        return self.request.cache_key


@dataclass(frozen=True)
class BatchRecord:
    id: str  # the record's own name, 16 hex characters
    provider: str
    model: str
    job: str  # the provider's job name, e.g. batches/abc123
    submitted: str
    entries: tuple[BatchEntry, ...]

    @classmethod
    def new(cls, provider: str, model: str, job: str, entries: list[BatchEntry]) -> BatchRecord:
        when = datetime.now(timezone.utc).isoformat(timespec="seconds")
        return cls(secrets.token_hex(8), provider, model, job, when, tuple(entries))

    def as_json(self) -> dict[str, Any]:
        return {"version": RECORD_VERSION, "provider": self.provider, "model": self.model, "job": self.job,
                "submitted": self.submitted, "entries": [
                    {"key": e.key, "pages": list(e.pages), "prompt": e.request.prompt, "model": e.request.model,
                     "size": str(e.request.size), "quality": e.request.quality, "variant": e.request.variant,
                     **_style_and_references(e.request)}
                    for e in self.entries]}


def _style_and_references(request: GenerationRequest) -> dict[str, Any]:
    """What else is in the key (the images only by hash: the record never holds their bytes)."""
    extra: dict[str, Any] = {}
    if request.style:
        extra["style"] = request.style
    if request.references:
        extra["references"] = [{"sha256": r.digest, "mime_type": r.mime_type, "path": r.path}
                               for r in request.references]
    return extra


def _recorded_references(raw: Any) -> tuple[Reference, ...]:
    """A record's references, checked (ValueError if any is not a hash, a known type and a printable path)."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ValueError("references")
    found = []
    for item in raw:
        digest, mime, path = (item.get(name) if isinstance(item, dict) else None
                              for name in ("sha256", "mime_type", "path"))
        if not (isinstance(digest, str) and KEY_PATTERN.match(digest) and mime in MIME_TYPES.values()
                and isinstance(path, str) and path.isprintable() and len(path) <= 1000):
            raise ValueError("references")
        found.append(Reference(b"", mime, digest, path))
    return tuple(found)


def _checked_record(path: Path, data: bytes) -> BatchRecord:
    def wrong(what: str) -> CacheEntryError:
        return CacheEntryError(f"batch record {path} {what}")

    raw = json_object(data, wrong)
    if raw.get("version") != RECORD_VERSION:
        raise wrong(f"is not a version {RECORD_VERSION} record")
    provider, model, job, submitted = (raw.get(name) for name in ("provider", "model", "job", "submitted"))
    terms = batch_terms(str(provider))
    if terms is None:
        raise wrong(f"names a provider without a covered batch API ({provider!r})")
    if not isinstance(model, str) or not model or not isinstance(job, str) or not terms.job_name.fullmatch(job):
        raise wrong("has no valid model or job name")
    entries = raw.get("entries")
    if not isinstance(entries, list) or not entries:
        raise wrong("lists no entries")
    checked = []
    for index, entry in enumerate(entries):
        try:
            style = entry.get("style", "")
            request = GenerationRequest(prompt=entry["prompt"], model=entry["model"], size=Size.parse(entry["size"]),
                                        quality=entry["quality"], variant=entry["variant"], style=style,
                                        references=_recorded_references(entry.get("references")))
            valid = (isinstance(entry["prompt"], str) and isinstance(style, str) and len(style) <= MAX_STYLE_CHARS
                     and entry["model"] == model and entry["quality"] in QUALITIES
                     and type(entry["variant"]) is int and isinstance(entry["pages"], list)
                     and all(isinstance(p, str) and p.isprintable() for p in entry["pages"])
                     and isinstance(entry["key"], str)
                     and KEY_PATTERN.match(entry["key"]) is not None and request.cache_key == entry["key"])
        except (KeyError, TypeError, ValueError):
            valid = False
        if not valid:
            raise wrong(f"entry {index} is not a valid request whose key matches it")
        checked.append(BatchEntry(request, tuple(entry["pages"])))
    if not isinstance(submitted, str) or len(submitted) > 40 or not submitted.isprintable():
        raise wrong("has no valid submission time")
    return BatchRecord(path.stem, str(provider), model, job, submitted, tuple(checked))


class BatchLedger:
    """The records in `cache_dir/batches/`."""

    def __init__(self, cache: CacheStore) -> None:
        self.cache = cache
        self.folder = cache.root / FOLDER

    def read(self) -> tuple[list[BatchRecord], list[str]]:
        """Every usable record, oldest first, and one problem line per unusable one (naming its file)."""
        problem = folder_problem(self.folder)
        if problem is not None:
            return [], [problem]
        try:
            names = sorted(os.listdir(self.folder))
        except OSError:
            return [], []
        records, problems = [], []
        for name in names:
            if not _RECORD_NAME.match(name):
                continue
            path = self.folder / name
            try:
                records.append(_checked_record(path, read_regular(path, MAX_RECORD_BYTES)))
            except FileNotFoundError:
                continue
            except CacheEntryError as error:
                problems.append(f"{error.message}: ignored, so its banners count as missing"
                                " (see docs: troubleshooting#cache-entry-refused)")
        records.sort(key=lambda record: (record.submitted, record.id))
        return records, problems

    def pending(self) -> dict[str, BatchRecord]:
        """Cache key -> the recorded job it is pending in."""
        return {entry.key: record for record in self.read()[0] for entry in record.entries}

    def write(self, record: BatchRecord) -> Path:
        path = self.folder / f"{record.id}.json"
        text = json.dumps(record.as_json(), indent=1, ensure_ascii=False) + "\n"
        atomic_write(path, text.encode("utf-8"), durable=True)
        return path

    def remove(self, record: BatchRecord) -> None:
        (self.folder / f"{record.id}.json").unlink(missing_ok=True)

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """One process at a time reads, submits and collects jobs (two backfills never submit a banner twice)."""
        with self.cache.locked("batches"):
            yield


# --- collecting ------------------------------------------------------------------------------------


@dataclass
class Collected:
    stored: list[tuple[BatchRecord, BatchEntry]] = field(default_factory=list)
    failed: list[tuple[BatchRecord, BatchEntry, str]] = field(default_factory=list)
    pending: list[tuple[BatchRecord, str]] = field(default_factory=list)  # (record, state)
    problems: list[str] = field(default_factory=list)


def collect(pipeline: Pipeline, registry: Registry, *, offline: bool,
            on_progress: Callable[[str], None] | None = None) -> Collected:
    """Ask each recorded job once for its state (through `registry`'s providers); commit the results of
    finished ones through `pipeline`, as a synchronous result is committed. Offline: nothing is asked."""
    ledger = BatchLedger(pipeline.cache)
    if not ledger.folder.exists():  # never used: no lock, no request
        return Collected()
    with ledger.locked():
        return _collect(pipeline, registry, ledger, offline, on_progress)


def _collect(pipeline: Pipeline, registry: Registry, ledger: BatchLedger, offline: bool,
             on_progress: Callable[[str], None] | None) -> Collected:
    found = Collected()
    records, found.problems = ledger.read()
    if not records or offline:
        found.pending = [(record, "not asked (offline)") for record in records]
        return found
    for record in records:
        provider = registry.get(record.provider)
        if not provider.is_authenticated():
            found.pending.append((record, f"not asked: {provider.label} is not set up ({provider.auth_hint()})"))
            continue
        api = batch_api(provider, registry.catalogue.get(record.model))
        if api is None:
            found.pending.append((record, f"not asked: {provider.label} takes no batch job for {record.model} here"))
            continue
        requests = [entry.request for entry in record.entries]
        try:
            poll = api.poll(record.job, record.model, requests, timeout=pipeline.settings.timeout)
        except BatchJobUnknownError as error:  # never answers: its banners stop waiting and are made again
            found.failed += [(record, entry, error.message) for entry in record.entries]
            ledger.remove(record)
            continue
        except ImagegenError as error:
            found.pending.append((record, f"could not ask: {error.message}"))
            continue
        if not poll.done:
            found.pending.append((record, poll.state.removeprefix("JOB_STATE_").lower()))
            continue
        by_key = {entry.key: entry for entry in record.entries}
        outcomes: dict[str, str | None] = {}
        unasked = 0
        try:
            for key, result in poll.items():  # a result file may stream: each stored as it is read
                unasked += key not in by_key
                if key in by_key and key not in outcomes:
                    outcomes[key] = _store(pipeline, by_key[key].request, result)
            if unasked:
                found.problems.append(f"batch job {record.job} answered {unasked} entry(ies) for banners it was "
                                      "not asked for; ignored")
        except ImagegenError as error:  # reading the results broke off: the record stays for the next collect
            found.problems.append(f"reading the results of batch job {record.job} failed ({error.message}); "
                                  "the next collect reads them again")
            found.stored += [(record, by_key[key]) for key, problem in outcomes.items() if problem is None]
            continue
        except OSError as error:  # the cache folder: the record stays, so the next collect tries again
            found.problems.append(f"cannot store the results of batch job {record.job} in {pipeline.cache.root}: "
                                  f"{error}")
            break
        for entry in record.entries:
            problem = outcomes.get(entry.key, "no result for it in the finished batch")
            if problem is None:
                found.stored.append((record, entry))
            else:
                found.failed.append((record, entry, problem))
        ledger.remove(record)
        if on_progress is not None:
            on_progress(f"{record.job}: {len(record.entries)} result(s) read")
    if found.stored:
        pipeline.cache.rescan()
    return found


def _store(pipeline: Pipeline, request: GenerationRequest, result: ProviderImage | ImagegenError | None) -> str | None:
    """One result through the pipeline's commit path; None when stored (or already cached), else why not."""
    if result is None:
        return "no result"
    if isinstance(result, ImagegenError):
        return result.message
    try:
        pipeline.commit_result(request, result)
    except ImagegenError as error:
        return error.message
    return None


def log_collected(found: Collected, log: logging.Logger) -> None:
    """What a build says about collected jobs: one line per job read, a warning per failed page."""
    for problem in found.problems:
        log.warning("imagegen: %s", problem)
    jobs: dict[str, int] = {}
    for record, _ in found.stored:
        jobs[record.job] = jobs.get(record.job, 0) + 1
    for job, count in jobs.items():
        log.info("imagegen: stored %d banner(s) from batch job %s in the cache", count, job)
    for record, entry, problem in found.failed:
        log.warning("imagegen: %s: batch job %s did not make this banner: %s; it is missing again, so this "
                    "build or the next `mkdocs-imagegen backfill --batch` makes it"
                    " (see docs: troubleshooting#batch-job-failed)", ", ".join(entry.pages),
                    record.job, problem)


def batch_estimate(catalogue: Catalogue, request: GenerationRequest, provider: Provider) -> float | None:
    """The catalogue price of `request` through the provider's batch API; None where it has none (or no price)."""
    info = catalogue.get(request.model)
    terms = batch_terms(provider.name)
    api = batch_api(provider, info) if terms is not None else None
    if info is None or terms is None or api is None or not api.takes(request):
        return None
    price = info.estimate(request.size, request.quality)
    return None if price is None else round(price * terms.price_factor, 6)
