"""Issue 7.2 and 7.3: builds at once never pay twice; a build killed at any moment never breaks the cache.

Overlap is made certain, not hoped for: the test itself holds the cache's per-key locks while the
builds plan their banners, and lets go only once every build has announced it is generating them.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import queue
import random
import re
import signal
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from mkdocs_imagegen.build.pipeline import Pipeline
from mkdocs_imagegen.build.settings import PipelineSettings
from mkdocs_imagegen.cache.store import CacheStore
from mkdocs_imagegen.catalogue.lookup import default_catalogue
from mkdocs_imagegen.defaults import DEFAULT_MODEL
from mkdocs_imagegen.emulator import Emulator
from mkdocs_imagegen.errors import TransientError
from mkdocs_imagegen.providers.base import Provider, ProviderImage
from mkdocs_imagegen.providers.registry import Registry, Route
from mkdocs_imagegen.request import GenerationRequest, Size

from sitekit import PROVIDER_VARIABLES, banner_file, build, free_port, page, write_site
from test_faults import (
    assert_cache_sound,
    assert_committable_decodes,
    assert_real_banner,
    git_init,
    needs_git,
    provenance_records,
)

SIZE = (640, 360)


def cache_key(prompt: str, model: str, size: tuple[int, int] = SIZE) -> str:
    canonical = default_catalogue().canonical(model)
    assert canonical is not None
    return GenerationRequest(prompt=prompt, model=canonical, size=Size(*size)).cache_key


@contextlib.contextmanager
def holding_locks(cache_dir: Path, keys: list[str]) -> Iterator[None]:
    """Hold the cache's cross-process lock for each key (the same files CacheStore.lock uses)."""
    lock_dir = cache_dir / ".locks"
    lock_dir.mkdir(parents=True, exist_ok=True)
    handles = [open(lock_dir / f"{key}.lock", "a+b") for key in keys]  # noqa: SIM115 - closed below
    try:
        for handle in handles:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        yield
    finally:
        for handle in handles:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
            handle.close()


class Watched:
    """A subprocess whose merged output is read on a thread, so the test can wait for a line."""

    def __init__(self, args: list[str], cwd: Path, env: dict[str, str]) -> None:
        full_env = {k: v for k, v in os.environ.items() if k not in PROVIDER_VARIABLES} | env
        self.process = subprocess.Popen(args, cwd=cwd, env=full_env, stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, text=True)
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)
            self._queue.put(line)
        self._queue.put(None)

    def wait_for_line(self, pattern: str, timeout: float = 60) -> str:
        while True:
            try:
                line = self._queue.get(timeout=timeout)
            except queue.Empty:
                raise AssertionError(f"no line matching {pattern!r} within {timeout}s:\n{self.output}") from None
            if line is None:
                raise AssertionError(f"exited before a line matching {pattern!r}:\n{self.output}")
            if re.search(pattern, line):
                return line

    def wait(self, timeout: float = 90) -> int:
        code = self.process.wait(timeout=timeout)
        self._reader.join(timeout=10)
        return code

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def mkdocs(*args: str) -> list[str]:
    return [sys.executable, "-m", "mkdocs", *args]


GENERATED = re.compile(r"imagegen: \d+ banner\(s\): (\d+) generated, (\d+) cached, (\d+) failed")

# --- 7.2: two builds at once ----------------------------------------------------------------------------

PAGES = {
    "gemini-one.md": page("a lighthouse made of index cards", title="Gemini one"),
    "gemini-two.md": page("a brain of stacked paper cards", title="Gemini two"),
    "gpt-one.md": page("a garden of linked notes", title="GPT one", banner_model="gpt-image-2"),
    "gpt-two.md": page("a library shelf of tiny notebooks", title="GPT two", banner_model="gpt-image-2"),
    "same-prompt.md": page("a lighthouse made of index cards", title="Same prompt as Gemini one"),
}
DISTINCT = {
    "a lighthouse made of index cards": DEFAULT_MODEL,
    "a brain of stacked paper cards": DEFAULT_MODEL,
    "a garden of linked notes": "gpt-image-2",
    "a library shelf of tiny notebooks": "gpt-image-2",
}


def test_two_builds_at_once_both_succeed_and_pay_once(site_root: Path) -> None:
    config = write_site(site_root, PAGES, {"size": f"{SIZE[0]}x{SIZE[1]}", "retries": 1})
    cache_dir = site_root / ".banners"
    keys = [cache_key(prompt, model) for prompt, model in DISTINCT.items()]
    with Emulator(latency=0.3) as emulator:
        builds: list[Watched] = []
        try:
            with holding_locks(cache_dir, keys):
                for name in ("site-a", "site-b"):
                    builds.append(Watched(mkdocs("build", "--strict", "-f", str(config), "-d", name),
                                          site_root, emulator.env()))
                for watched in builds:  # both planned every banner against an empty cache...
                    watched.wait_for_line(rf"generating {len(DISTINCT)} banner\(s\) now")
                assert emulator.image_requests() == []
            # ...and race for the locks only now.
            codes = [watched.wait() for watched in builds]
        finally:
            for watched in builds:
                watched.stop()
        assert codes == [0, 0], "\n\n".join(w.output for w in builds)
        assert Counter(r.prompt for r in emulator.image_requests()) == dict.fromkeys(DISTINCT, 1)

    outcomes = [tuple(int(n) for n in GENERATED.search(w.output).groups()) for w in builds]
    assert sum(generated for generated, _, _ in outcomes) == len(DISTINCT), outcomes
    assert all(generated + cached == len(DISTINCT) and failed == 0 for generated, cached, failed in outcomes)
    assert "Traceback" not in "".join(w.output for w in builds)
    assert_cache_sound(cache_dir)
    assert sorted(r["prompt"] for r in provenance_records(cache_dir)) == sorted(DISTINCT)
    assert sorted(p.stem for p in (cache_dir / ".locks").iterdir()) == sorted(keys)
    for name in ("site-a", "site-b"):
        for src in PAGES:
            path = (site_root / name / src.removesuffix(".md") / "index.html")
            assert path.is_file() and "placeholder-" not in path.read_text(encoding="utf-8")


def test_serve_and_build_at_once_pay_once(site_root: Path) -> None:
    pages = {name: text for name, text in PAGES.items() if name.startswith("gpt")}
    prompts = {p: m for p, m in DISTINCT.items() if m == "gpt-image-2"}
    config = write_site(site_root, pages, {"size": f"{SIZE[0]}x{SIZE[1]}", "retries": 1})
    cache_dir = site_root / ".banners"
    keys = [cache_key(prompt, model) for prompt, model in prompts.items()]
    with Emulator(latency=0.3) as emulator:
        serve = Watched(mkdocs("serve", "-f", str(config), "-a", f"127.0.0.1:{free_port()}"), site_root,
                        emulator.env())
        build_ = None
        try:
            with holding_locks(cache_dir, keys):
                serve.wait_for_line(rf"generating {len(prompts)} banner\(s\) in the background")
                build_ = Watched(mkdocs("build", "--strict", "-f", str(config)), site_root, emulator.env())
                build_.wait_for_line(rf"generating {len(prompts)} banner\(s\) now")
            assert build_.wait() == 0, build_.output
            # The build waited for every banner: each was generated by one of the two, and the other
            # found it in the cache after the lock, so the count is final now.
            assert Counter(r.prompt for r in emulator.image_requests()) == dict.fromkeys(prompts, 1)
            serve.process.send_signal(signal.SIGTERM)
            serve.wait(timeout=30)
        finally:
            serve.stop()
            if build_ is not None:
                build_.stop()
        assert Counter(r.prompt for r in emulator.image_requests()) == dict.fromkeys(prompts, 1)
    assert "Traceback" not in serve.output + build_.output, serve.output + build_.output
    assert_cache_sound(cache_dir)
    for src in pages:
        assert not banner_file(config, src.removesuffix(".md")).name.startswith("placeholder-")


# --- the lock, in one process: pipelines sharing a cache_dir ---------------------------------------------


class CountingProvider(Provider):
    """Counts calls; the first `failures` calls fail with a retryable error."""

    name = "openai"
    label = "Counting"

    def __init__(self, failures: int = 0) -> None:
        super().__init__()
        self.calls = 0
        self.failures = failures
        self._lock = threading.Lock()

    def is_authenticated(self) -> bool:
        return True

    def auth_hint(self) -> str:
        return "nothing to set"

    def generate(self, request: GenerationRequest, *, timeout: float) -> ProviderImage:
        with self._lock:
            self.calls += 1
            call = self.calls
        if call <= self.failures:
            raise TransientError("server error 500 (scripted)", provider=self.name, model=request.model)
        from mkdocs_imagegen.emulator import prompt_colour, render_image

        data = render_image(320, 180, prompt_colour(request.prompt), "x", "png")
        return ProviderImage(data=data, provider=self.name, model=request.model)


@pytest.mark.parametrize("failures", [0, 1])
def test_pipelines_sharing_a_cache_generate_each_key_once(tmp_path: Path, failures: int) -> None:
    """Eight independent pipelines (as in eight processes) ask for one banner at the same moment.

    With a healthy provider it is generated once; when the first holder of the lock fails (retries
    off), the lock is released and the next one generates it: one failure, one success, nothing more.
    """
    provider = CountingProvider(failures=failures)
    request = GenerationRequest(prompt="one banner for everyone", model="gpt-image-2", size=Size(320, 180))
    pipelines = [Pipeline(CacheStore(tmp_path / "cache"), PipelineSettings(retries=0, concurrency=1))
                 for _ in range(8)]
    start = threading.Barrier(len(pipelines))
    jobs = []

    def submit(pipeline: Pipeline) -> None:
        start.wait()
        jobs.append(pipeline.submit(request, Route("gpt-image-2", provider), "page.md"))

    threads = [threading.Thread(target=submit, args=(p,)) for p in pipelines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        outcomes = [job.future.result(timeout=30) for job in jobs]
    finally:
        for pipeline in pipelines:
            pipeline.close()
    assert provider.calls == 1 + failures
    assert sum(o.error is not None for o in outcomes) == failures
    assert sum(o.generated for o in outcomes) == 1
    good = [o for o in outcomes if o.error is None]
    assert len({o.original.digest for o in good}) == 1 and len({o.rendition for o in good}) == 1
    assert_cache_sound(tmp_path / "cache")


# --- 7.3: SIGKILL at random moments -----------------------------------------------------------------------

TRIALS = 10
PAGES_PER_TRIAL = 3
KILL_SIZE = (800, 450)


def trial_pages(upto: int) -> dict[str, str]:
    """The site after `upto` trials: every trial adds pages with new prompts (new cache keys)."""
    return {f"t{t}/p{p}.md": page(f"trial {t} banner {p}: a lighthouse of notes", title=f"T{t} P{p}")
            for t in range(upto) for p in range(PAGES_PER_TRIAL)}


@needs_git
def test_sigkill_at_random_moments_never_leaves_a_broken_cache(site_root: Path) -> None:
    """After each kill, every file in cache_dir decodes except git-ignored scratch files (`.tmp-*`, whose
    writer is dead: the next build sweeps them), and what `git add` would commit decodes, full stop."""
    rng = random.Random(20260707)
    git_init(site_root)
    options = {"model": "gpt-image-2", "size": f"{KILL_SIZE[0]}x{KILL_SIZE[1]}", "format": "png",
               "concurrency": 2, "retries": 0}
    cache_dir = site_root / ".banners"
    leftovers: list[int] = []
    with Emulator(latency=0.1) as emulator:
        env = {k: v for k, v in emulator.env().items() if k.startswith("OPENAI_")}
        for trial in range(TRIALS):
            config = write_site(site_root, trial_pages(trial + 1), options)
            before = len(emulator.image_requests())
            process = subprocess.Popen(
                mkdocs("build", "-f", str(config)), cwd=site_root, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env={k: v for k, v in os.environ.items() if k not in PROVIDER_VARIABLES} | env)
            try:
                if trial % 2:  # just after the k-th answer left the emulator: inside the cache writes
                    emulator.wait_for_requests(before + rng.randint(1, PAGES_PER_TRIAL), timeout=30)
                    delay = rng.uniform(0.0, 0.15)
                else:  # anywhere from interpreter start-up to the middle of generation
                    delay = rng.uniform(0.2, 1.3)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(timeout=delay)
            finally:
                process.kill()
                process.wait()
            leftovers.append(len(assert_cache_sound(cache_dir, allow_temp=True)))
            assert_committable_decodes(site_root, cache_dir)

        # The next build sweeps the dead builds' scratch files (here also one planted as if a build had
        # been killed in the middle of writing an original) and completes every banner.
        planted = cache_dir / "originals" / ".tmp-999999999-killed"
        planted.parent.mkdir(parents=True, exist_ok=True)
        planted.write_bytes(b"\x89PNG\r\n\x1a\n half an image")
        config = write_site(site_root, trial_pages(TRIALS), options)
        final = build(config, "--strict", env=env)
        assert final.returncode == 0, final.stderr
    assert_cache_sound(cache_dir)  # no scratch files left either
    assert not planted.exists()
    records = provenance_records(cache_dir)
    # .gitignore, then per banner: original image, its record, one rendition (and never a lock file).
    assert assert_committable_decodes(site_root, cache_dir) == 1 + 3 * len(records)
    assert sorted(r["prompt"] for r in records) == sorted(
        f"trial {t} banner {p}: a lighthouse of notes" for t in range(TRIALS) for p in range(PAGES_PER_TRIAL))
    for t in (0, TRIALS - 1):
        for p in range(PAGES_PER_TRIAL):
            assert_real_banner(config, f"t{t}/p{p}", f"trial {t} banner {p}: a lighthouse of notes", KILL_SIZE,
                               fmt="png")
    print(f"scratch files left by each killed build (swept by the next one): {leftovers}")


class PreparingProvider(CountingProvider):
    """Records where `prepare` ran; with `fail`, preparing raises as a missing SDK would."""

    def __init__(self, fail: bool) -> None:
        super().__init__()
        self.fail = fail
        self.prepared: list[tuple[str, str]] = []

    def prepare(self, model: str) -> None:
        self.prepared.append((threading.current_thread().name, model))
        if self.fail:
            raise RuntimeError("cannot import the client library (scripted)")


@pytest.mark.parametrize("fail", [False, True])
def test_a_provider_is_prepared_once_on_the_submitting_thread(tmp_path: Path, fail: bool) -> None:
    """The client library is imported where pages are read, once; if that fails, generating still runs
    and reports for itself."""
    provider = PreparingProvider(fail)
    pipeline = Pipeline(CacheStore(tmp_path / "cache"), PipelineSettings(retries=0, concurrency=2))
    try:
        jobs = [pipeline.submit(GenerationRequest(prompt=f"banner {i}", model="gpt-image-2", size=Size(320, 180)),
                                Route("gpt-image-2", provider), f"page-{i}.md") for i in range(3)]
        outcomes = [job.future.result(timeout=30) for job in jobs]
    finally:
        pipeline.close()
    assert provider.prepared == [(threading.current_thread().name, "gpt-image-2")]
    assert provider.calls == 3 and all(outcome.generated for outcome in outcomes)


def test_a_placeholder_job_gives_way_once_the_banner_reaches_the_cache(tmp_path: Path) -> None:
    """Under `mkdocs serve` jobs outlive rebuilds: a banner another build (or a `git pull`) put in the
    cache must replace the placeholder at the next rebuild, without credentials here."""
    serving = Pipeline(CacheStore(tmp_path / "cache"), PipelineSettings(retries=0))
    request = GenerationRequest(prompt="a banner that lands from elsewhere", model="gpt-image-2", size=Size(320, 180))
    no_credentials = Route("gpt-image-2", Registry.from_options({}).placeholder)
    try:
        assert serving.submit(request, no_credentials, "page.md").kind == "placeholder"
        elsewhere = Pipeline(CacheStore(tmp_path / "cache"), PipelineSettings(retries=0))
        try:
            assert elsewhere.submit(request, Route("gpt-image-2", CountingProvider()), "page.md").future.result(
                timeout=30).generated
        finally:
            elsewhere.close()
        serving.cache.rescan()  # what the next rebuild's session does
        again = serving.submit(request, no_credentials, "page.md")
    finally:
        serving.close()
    assert again.kind == "cached" and again.future.result().rendition is not None


class SignallingProvider(CountingProvider):
    def __init__(self) -> None:
        super().__init__()
        self.started = threading.Event()

    def generate(self, request: GenerationRequest, *, timeout: float) -> ProviderImage:
        self.started.set()
        return super().generate(request, timeout=timeout)


class SlowToPrepareProvider(CountingProvider):
    name = "google"

    def __init__(self) -> None:
        super().__init__()
        self.preparing = threading.Event()
        self.release = threading.Event()

    def prepare(self, model: str) -> None:
        self.preparing.set()
        self.release.wait(timeout=30)


def test_preparing_one_provider_does_not_hold_up_requests_to_another(tmp_path: Path) -> None:
    """The Google SDK takes half a second to import: meanwhile banners already routed elsewhere go on."""
    cache = CacheStore(tmp_path / "cache")
    pipeline = Pipeline(cache, PipelineSettings(retries=0, concurrency=2))
    ready, slow = SignallingProvider(), SlowToPrepareProvider()
    first = GenerationRequest(prompt="routed to a ready provider", model="gpt-image-2", size=Size(320, 180))
    second = GenerationRequest(prompt="routed to a slow one", model="gemini-2.5-flash-image", size=Size(320, 180))
    try:
        with cache.lock(first.cache_key):  # holds the first job back until the second is preparing
            job = pipeline.submit(first, Route(first.model, ready), "first.md")
            submitter = threading.Thread(target=pipeline.submit, args=(second, Route(second.model, slow), "second.md"))
            submitter.start()
            assert slow.preparing.wait(timeout=30)
        assert ready.started.wait(timeout=30), "a request waited for another provider's prepare"
        slow.release.set()
        submitter.join(timeout=30)
        assert job.future.result(timeout=30).generated
    finally:
        slow.release.set()
        pipeline.close()
