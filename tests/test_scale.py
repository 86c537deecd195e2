"""Issue 4 at small scale: retries, refusals, max_new, deduplication, progress, interrupted builds.

Every build is MkDocs' own `mkdocs build` command against the loopback emulator, in this process but for
the killed build (a subprocess). No assertion is on how fast anything is, only on lower bounds the provider
sets (a retry hint) and on counts.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

from mkdocs_imagegen.build.session import PROGRESS_INTERVAL
from mkdocs_imagegen.emulator import Emulator, Fault

from sitekit import PROVIDER_VARIABLES, banner_file, build, page, warnings_of, write_site

# A model each provider serves; options() makes that provider the only one in providers.order.
MODELS = {"google": "gemini-3.1-flash-image", "foundry": "gpt-image-2", "openai": "gpt-image-2"}


def options(provider: str, **extra: object) -> dict[str, object]:
    """Plugin options that route every banner to `provider` (providers.order has only it)."""
    return {"model": MODELS[provider], "providers": {"order": [provider]}, **extra}


def posts(count: int, prefix: str = "post") -> dict[str, str]:
    return {f"{prefix}-{i:02d}.md": page(f"{prefix} banner {i:02d}: index cards in the wind", title=f"Post {i}")
            for i in range(count)}


def placeholders(site_root: Path) -> list[Path]:
    folder = site_root / "site" / "assets" / "banners"
    return sorted(folder.glob("placeholder-*")) if folder.is_dir() else []


# -- retries -------------------------------------------------------------------------------------


@pytest.mark.parametrize("provider", ["google", "foundry", "openai"])
def test_retry_hint_is_honoured(site_root: Path, emulator: Emulator, provider: str) -> None:
    """A 429 saying "retry in 1.5 s" (RetryInfo.retryDelay / retry-after-ms) is retried no sooner."""
    emulator.add_fault(Fault(provider=provider, kind="rate_limit", times=1, retry_after=1.5))
    config = write_site(site_root, {"p.md": page("a lighthouse of index cards", title="P")}, options(provider))
    result = build(config, "--strict", env=emulator.env())
    assert result.returncode == 0, result.stderr
    first, second = emulator.image_requests()
    assert (first.status, first.fault, second.status) == (429, "rate_limit", 200)
    assert second.started - first.finished >= 1.5, (first, second)
    assert not placeholders(site_root)


@pytest.mark.parametrize(("provider", "kind"), [
    ("openai", "moderation_blocked"), ("foundry", "content_policy_violation"), ("google", "image_safety")])
def test_refusal_is_not_retried(site_root: Path, emulator: Emulator, provider: str, kind: str) -> None:
    emulator.add_fault(Fault(provider=provider, kind=kind, times=-1, match="forbidden"))
    pages = {"refused.md": page("a forbidden prompt", title="Refused"), "fine.md": page("a fine prompt", title="Fine")}
    config = write_site(site_root, pages, options(provider))
    result = build(config, env=emulator.env())
    assert result.returncode == 0, result.stderr
    refused = [r for r in emulator.image_requests() if "forbidden" in (r.prompt or "")]
    assert len(refused) == 1, refused
    assert len(emulator.image_requests()) == 2
    warnings = [w for w in warnings_of(result) if "refused.md" in w]
    assert len(warnings) == 1, result.stderr
    assert "fine.md" not in " ".join(warnings_of(result))
    assert banner_file(config, "refused").name.startswith("placeholder-")
    assert build(config, "--strict", env=emulator.env()).returncode != 0


def test_gemini_zero_quota_fails_at_once(site_root: Path, emulator: Emulator) -> None:
    emulator.add_fault(Fault(provider="google", kind="quota_zero", times=-1))
    config = write_site(site_root, {"p.md": page("a prompt", title="P")}, options("google"))
    result = build(config, env=emulator.env())
    assert result.returncode == 0, result.stderr
    assert len(emulator.image_requests()) == 1
    [warning] = [w for w in warnings_of(result) if "p.md" in w]
    assert "quota" in warning.lower()


def test_rate_limited_provider_slows_the_build_instead_of_failing_it(site_root: Path, emulator: Emulator) -> None:
    """Only 2 requests admitted at once (429 + retry hint beyond that), 6 workers: all banners real."""
    emulator.latency, emulator.max_in_flight = 0.2, 2
    config = write_site(site_root, posts(10), options("openai", concurrency=6))
    result = build(config, "--strict", env=emulator.env())
    assert result.returncode == 0, result.stderr
    records = emulator.image_requests()
    assert sum(r.status == 200 for r in records) == 10
    assert all(r.status in (200, 429) for r in records)
    assert emulator.max_concurrent <= 2
    assert not placeholders(site_root)


# -- what a build pays for -----------------------------------------------------------------------


def test_max_new_caps_generations(site_root: Path, emulator: Emulator) -> None:
    config = write_site(site_root, posts(5), options("openai", max_new=2))
    result = build(config, "--strict", env=emulator.env())
    assert result.returncode != 0, "placeholders for skipped banners must fail --strict"
    assert len(emulator.image_requests()) == 2
    capped = [w for w in warnings_of(result) if "max_new" in w]
    assert len(capped) == 1, result.stderr
    assert re.search(r"\b3 banner\(s\) not generated", capped[0]), capped
    assert len(placeholders(site_root)) == 3
    # The next build continues where this one stopped.
    result = build(config, env=emulator.env())
    assert len(emulator.image_requests()) == 4
    assert len(placeholders(site_root)) == 1


def test_same_prompt_on_two_pages_is_generated_once(site_root: Path, emulator: Emulator) -> None:
    emulator.latency = 0.2  # both pages are read while the first request is still in flight
    prompt = "one shared lighthouse of index cards"
    pages = {"a.md": page(prompt, title="A"), "b.md": page(prompt, title="B"), "c.md": page("another", title="C")}
    config = write_site(site_root, pages, options("openai", concurrency=4))
    result = build(config, "--strict", env=emulator.env())
    assert result.returncode == 0, result.stderr
    assert sorted(r.prompt for r in emulator.image_requests()) == ["another", prompt]
    assert banner_file(config, "a") == banner_file(config, "b") != banner_file(config, "c")


# -- what the writer sees ------------------------------------------------------------------------


def test_start_and_summary_lines(site_root: Path, emulator: Emulator) -> None:
    config = write_site(site_root, posts(4), options("openai"))
    result = build(config, env=emulator.env())
    assert result.returncode == 0, result.stderr
    assert re.search(r"imagegen: generating 4 banner\(s\) now: 4 × gpt-image-2 via openai; 4 at a time", result.stderr)
    assert re.search(r"imagegen: 4 banner\(s\): 4 generated, 0 cached, 0 failed, 0 placeholder\(s\); "
                     r"estimated cost \$\d+\.\d\d", result.stderr), result.stderr
    result = build(config, env=emulator.env())
    assert "generating" not in result.stderr
    assert re.search(r"4 banner\(s\): 0 generated, 4 cached, 0 failed, 0 placeholder\(s\); estimated cost \$0\.00",
                     result.stderr), result.stderr


def test_progress_lines_on_a_long_build(site_root: Path, emulator: Emulator) -> None:
    """Many short requests one at a time: the build outlasts PROGRESS_INTERVAL, no request does."""
    count = 12
    emulator.latency = (PROGRESS_INTERVAL + 1.0) / count  # each request well under the interval
    config = write_site(site_root, posts(count), options("openai", concurrency=1))
    result = build(config, env=emulator.env())
    assert result.returncode == 0, result.stderr
    progress = re.findall(r"imagegen: (\d+)/(\d+) banners ready after \d+s, about \d+s left", result.stderr)
    assert progress, result.stderr
    assert all(total == str(count) and 0 < int(done) < count for done, total in progress), progress


# -- interrupted builds --------------------------------------------------------------------------


def _popen_build(config_file: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    full_env = {k: v for k, v in os.environ.items() if k not in PROVIDER_VARIABLES} | env
    return subprocess.Popen([sys.executable, "-m", "mkdocs", "build", "-f", str(config_file)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=full_env,
                            cwd=config_file.parent)


def _records(cache_dir: Path) -> list[Path]:
    return sorted((cache_dir / "originals").glob("*.json"))


def _wait_until(condition: Callable[[], bool], timeout: float) -> bool:
    """Poll a condition the build makes true (a file appearing); no guessing how long it takes."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def _check_cache(cache_dir: Path) -> tuple[int, list[Path]]:
    """Every committed file decodes; returns (complete originals, leftover temp files)."""
    temp = sorted(cache_dir.rglob(".tmp-*"))
    records = _records(cache_dir)
    for record in records:
        provenance = json.loads(record.read_text(encoding="utf-8"))
        with Image.open(cache_dir / "originals" / provenance["file"]) as image:
            image.load()
            assert image.size == (provenance["width"], provenance["height"])
    for folder in ("originals", "renditions"):
        for path in sorted((cache_dir / folder).glob("*")):
            if path.name.startswith(".tmp-") or path.suffix == ".json":
                continue
            with Image.open(path) as image:
                image.load()
    return len(records), temp


def test_killed_build_leaves_no_partial_file_and_the_next_generates_only_what_is_missing(
        site_root: Path, emulator: Emulator) -> None:
    count, concurrency, landed = 16, 2, 4
    emulator.latency = 0.4
    config = write_site(site_root, posts(count), options("openai", concurrency=concurrency))
    child = _popen_build(config, emulator.env())
    try:
        assert emulator.wait_for_requests(landed, timeout=60)
        assert _wait_until(lambda: len(_records(site_root / ".banners")) >= landed, timeout=60)
        child.send_signal(signal.SIGKILL)
        killed_at = time.monotonic()
    finally:
        child.kill()
        _, stderr = child.communicate(timeout=30)
    assert child.returncode == -signal.SIGKILL, stderr
    asked = len(emulator.image_requests())
    assert asked < count, "the build finished before it was killed"

    committed, temp = _check_cache(site_root / ".banners")
    assert landed <= committed < count
    print(f"killed after {asked} answered requests: {committed} originals committed, "
          f"{len(temp)} temp file(s) left: {[p.name for p in temp]}")

    result = build(config, "--strict", env=emulator.env())
    assert result.returncode == 0, result.stderr
    # Requests the killed build still had in flight may be recorded late: count the new build's only.
    assert len([r for r in emulator.image_requests() if r.started > killed_at]) == count - committed
    assert _check_cache(site_root / ".banners") == (count, [])  # the next build swept the temp files
    assert not placeholders(site_root)
