"""`backfill`: every missing banner of a site, planned like `plan`, then made synchronously or, with
`--batch`, as provider batch jobs at the batch price (batch_jobs.py records and collects them).

A backfill first collects recorded jobs that have finished, so the plan counts their banners as
cached and never submits a banner still pending in a job. With `--batch`, the banners of one model
go into as few jobs as the provider's documented request-size limit allows (Gemini: 20 MB of
inlined requests per job); each job is recorded the moment the provider accepts it. Models whose
provider has no batch API covered here are generated synchronously, at the price the plan shows.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mkdocs_imagegen.build.batches import (
    BatchEntry,
    BatchLedger,
    BatchRecord,
    Collected,
    batch_api,
    batch_terms,
)
from mkdocs_imagegen.build.planning import PlannedBanner, plan_banners
from mkdocs_imagegen.commands.modeltable import usd
from mkdocs_imagegen.errors import BackfillStopped as Stopped
from mkdocs_imagegen.errors import ImagegenError

if TYPE_CHECKING:
    from mkdocs_imagegen.commands.site import Site

Echo = Callable[[str], None]
ENVELOPE_BYTES = 4096  # the batch body around its requests (display name, field names), with room to spare


@dataclass
class Backfill:
    rows: list[PlannedBanner]
    batch: bool
    # (provider, model) -> the unique requests to submit as batch jobs, with the pages each serves
    batched: dict[tuple[str, str], list[BatchEntry]] = field(default_factory=dict)
    synchronous: list[PlannedBanner] = field(default_factory=list)  # first row of each banner made now

    @property
    def to_generate(self) -> list[PlannedBanner]:
        return [row for row in self.rows if row.status == "generate"]

    @property
    def count(self) -> int:
        return sum(len(entries) for entries in self.batched.values()) + len(self.synchronous)

    def cost(self, *, batch: bool) -> tuple[float, int]:
        """(estimated USD, banners whose price is unknown), through batch jobs or all synchronous."""
        total, unknown = 0.0, 0
        for row in self.to_generate:
            if row.reason and row.reason.startswith("same banner as"):
                continue
            price = row.batch_estimate if batch and row.batch_estimate is not None else row.estimate
            if price is None:
                unknown += 1
            total += price or 0.0
        return round(total, 4), unknown


def plan(site: Site, *, batch: bool) -> Backfill:
    """What a backfill would do, from the same rows `plan` prints."""
    rows = plan_banners(site.session, site.specs)
    found = Backfill(rows, batch)
    entries: dict[str, BatchEntry] = {}
    providers: dict[str, str] = {}  # cache key -> the provider its batch goes to
    for row in rows:
        if row.status != "generate":
            continue
        key = row.request.cache_key
        if key in entries:  # another page of a banner already in a job
            entries[key] = BatchEntry(entries[key].request, (*entries[key].pages, row.src))
            continue
        if row.reason and row.reason.startswith("same banner as"):
            continue
        if batch and row.batch_estimate is not None:
            entries[key] = BatchEntry(row.request, (row.src,))
            providers[key] = row.provider
        else:
            found.synchronous.append(row)
    for key, entry in entries.items():
        found.batched.setdefault((providers[key], entry.request.model), []).append(entry)
    return found


def plan_lines(site: Site, backfill: Backfill, pending: dict[str, BatchRecord]) -> list[str]:
    """The table: each banner not cached, its synchronous and batch price; then the totals."""
    rows = [row for row in backfill.rows if row.status != "cached"]
    width = max((len(row.src) for row in rows), default=0)
    lines = [f"{site.config_file}: {len(backfill.rows)} page(s) with a banner; cache {site.settings.cache_dir}"]
    for row in rows:
        head = f"  {row.status:<11}  {row.src:<{width}}  {row.request.model}"
        if row.status != "generate":
            lines.append(f"{head}: {row.reason or row.status}")
            continue
        how = "batch" if backfill.batch and row.batch_estimate is not None else "now"
        batch_price = f"{usd(row.batch_estimate)} batch" if row.batch_estimate is not None else "no batch API"
        note = f" ({row.reason})" if row.reason else ""
        lines.append(f"{head} via {row.provider} [{how}], {usd(row.estimate)} synchronous, {batch_price}{note}")
    cached = sum(1 for row in backfill.rows if row.status == "cached")
    sync_cost, unknown = backfill.cost(batch=False)
    batch_cost, _ = backfill.cost(batch=True)
    price_gap = f" ({unknown} price unknown)" if unknown else ""
    lines.append(f"{backfill.count} banner(s) to generate, {cached} cached, {len(pending)} pending in batch jobs; "
                 f"estimated ${sync_cost:.2f} synchronous, ${batch_cost:.2f} with --batch{price_gap}")
    return lines


def chunks(api: Any, entries: list[BatchEntry], limit: int, count: int | None = None) -> list[list[BatchEntry]]:
    """The entries in as few jobs as `limit` bytes (and `count` requests) per job allow, in order."""
    jobs: list[list[BatchEntry]] = [[]]
    size = ENVELOPE_BYTES
    for entry in entries:
        cost = api.wire_size(entry.request)
        if jobs[-1] and (size + cost > limit or (count is not None and len(jobs[-1]) >= count)):
            jobs.append([])
            size = ENVELOPE_BYTES
        jobs[-1].append(entry)
        size += cost
    return [job for job in jobs if job]


def submit(site: Site, backfill: Backfill, echo: Echo) -> list[BatchRecord]:
    """Submit every batched banner; each job recorded as soon as it is accepted. ImagegenError stops the
    rest (the jobs submitted so far stay recorded)."""
    ledger = BatchLedger(site.cache)
    with ledger.locked():
        return _submit(site, backfill, ledger, echo)


def _submit(site: Site, backfill: Backfill, ledger: BatchLedger, echo: Echo) -> list[BatchRecord]:
    pending = ledger.pending()  # read again under the lock: another backfill may have submitted since
    records = []
    for (provider_name, model), planned in backfill.batched.items():
        entries = [entry for entry in planned if entry.key not in pending and site.cache.original(entry.key) is None]
        if not entries:
            continue
        provider = site.session.registry.get(provider_name)
        info = site.session.registry.catalogue.get(model)
        api = batch_api(provider, info)
        terms = batch_terms(provider_name)
        assert api is not None and terms is not None
        parts = chunks(api, entries, terms.max_request_bytes, terms.max_requests)
        for number, part in enumerate(parts, 1):
            name = f"mkdocs-imagegen backfill {time.strftime('%Y-%m-%d %H:%M')} {model} {number}/{len(parts)}"
            job = api.submit(model, [entry.request for entry in part], name, timeout=site.settings.timeout)
            record = BatchRecord.new(provider_name, model, job, part)
            path = ledger.write(record)
            records.append(record)
            echo(f"submitted batch job {job}: {len(part)} banner(s) of {model} via {provider.label}; recorded in "
                 f"{path}")
    return records


def generate_now(site: Site, backfill: Backfill, echo: Echo) -> list[tuple[str, str]]:
    """The synchronous banners through a build's pipeline; (pages, error) for each that failed."""
    from collections import Counter

    session = site.session
    session.started_generating = True  # the count is said here, not "once every page is read" (no build follows)
    routes = Counter(f"{row.request.model} via {row.provider}" for row in backfill.synchronous)
    echo(f"backfill: generating {len(backfill.synchronous)} banner(s) now: "
         + ", ".join(f"{count} × {route}" for route, count in routes.items()))
    wanted = {row.src for row in backfill.synchronous}
    banners = [session.add(spec, src) for src, spec in site.specs if src in wanted]
    jobs = list({banner.job.key: banner.job for banner in banners if banner.job is not None}.values())
    started = time.monotonic()

    def progress(done: int, total: int) -> None:
        echo(f"backfill: {done}/{total} banner(s) ready after {time.monotonic() - started:.0f}s")

    session.pipeline.wait(jobs, progress, 5.0)
    failed = []
    for job in jobs:
        outcome = job.outcome()
        if outcome.error is not None:
            failed.append((", ".join(job.pages), outcome.error.message))
    return failed


def collect_lines(found: Collected) -> list[str]:
    lines = [f"warning: {problem}" for problem in found.problems]
    jobs: dict[str, int] = {}
    for record, _ in found.stored:
        jobs[record.job] = jobs.get(record.job, 0) + 1
    lines += [f"collected batch job {job}: {count} banner(s) stored in the cache" for job, count in jobs.items()]
    lines += [f"failed: {', '.join(entry.pages)}: batch job {record.job}: {problem}; `backfill --batch` submits "
              "it again" for record, entry, problem in found.failed]
    lines += [f"pending: batch job {record.job} ({len(record.entries)} banner(s), submitted {record.submitted}): "
              f"{state}" for record, state in found.pending]
    return lines


def check_cost(backfill: Backfill, max_cost: float | None) -> str | None:
    """Why the backfill must not start under --max-cost, or None."""
    if max_cost is None:
        return None
    cost, unknown = backfill.cost(batch=backfill.batch)
    if unknown:
        return f"{unknown} banner(s) have no known price, so --max-cost ${max_cost:.2f} cannot be guaranteed"
    if cost > max_cost:
        return f"estimated ${cost:.2f} is over --max-cost ${max_cost:.2f}: nothing sent"
    return None


def run(site: Site, *, batch: bool, collect_only: bool, max_cost: float | None, yes: bool, terminal: bool,
        confirm: Callable[[str], None], echo: Echo, err: Echo) -> None:
    """The whole command: collect, plan, confirm (as `compare` does), submit or generate, report.
    Raises Stop with the last line and exit code when it does not end well."""
    found = site.session.collect_batches(log=False)  # its own lines, below
    for line in collect_lines(found):
        (err if line.startswith(("warning", "failed")) else echo)(line)
    if collect_only:
        if found.failed:
            raise Stopped(f"{len(found.failed)} banner(s) failed in batch jobs; `backfill --batch` submits them again",
                          1)
        if not found.stored and not found.pending and not found.problems:
            echo("no recorded batch jobs")
        return
    backfill = plan(site, batch=batch)
    pending = site.session.pending_batches()
    for line in plan_lines(site, backfill, pending):
        echo(line)
    if not backfill.count:
        echo("nothing to generate")
        return
    problem = check_cost(backfill, max_cost)
    if problem is not None:
        raise Stopped(problem, 2)
    cost, _ = backfill.cost(batch=batch)
    if not yes:
        if not terminal:
            raise Stopped(f"not a terminal: pass --yes to generate {backfill.count} banner(s) (estimated ${cost:.2f})",
                          2)
        confirm(f"Generate {backfill.count} banner(s) for about ${cost:.2f}?")
    try:
        records = submit(site, backfill, echo)
    except ImagegenError as error:
        raise Stopped(f"batch submission failed: {error.message} (jobs submitted before it are recorded)", 1) from None
    failed = generate_now(site, backfill, err) if backfill.synchronous else []
    for pages, message in failed:
        err(f"failed: {pages}: {message}")
    if backfill.synchronous:
        echo(f"{len(backfill.synchronous) - len(failed)} banner(s) generated now and stored in the cache")
    if records:
        count = sum(len(record.entries) for record in records)
        echo(f"{count} banner(s) pending in {len(records)} batch job(s); this command exits now. "
             f"`mkdocs-imagegen backfill --collect` (or the next backfill or build) stores them when they finish "
             "(within 24 hours)")
    if failed:
        raise Stopped(f"{len(failed)} banner(s) not generated", 1)
