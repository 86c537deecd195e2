"""Issue 7.1: every provider failure mode, against the emulator, for each provider's wire shape.

One site per shape (Gemini, OpenAI direct, Azure AI Foundry); every page of it is hit by a different
scripted fault (`Fault(match=<the page's prompt>)`), so one build covers the whole matrix:

- a transient fault once (429, 500, 503, connection reset, timeout, truncated base64, bytes that are
  not an image, a decompression bomb): a real banner after exactly one retry;
- the same fault forever: `retries + 1` requests, then one warning naming the page with the
  provider's reason, and a placeholder;
- each refusal: one request (never retried), one warning with the provider's reason;
- `--strict` fails on those warnings; cache_dir never holds a partial or undecodable file, and
  nothing of a failed prompt.

Builds run in-process (the google-genai import alone costs ~2 s per subprocess); one subprocess
build checks what a user sees on the terminal.

This module also holds the helpers the other issue-7 test modules share: `build_in_process` and
`assert_cache_sound`.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from hashlib import sha256
from pathlib import Path

import pytest
from mkdocs.exceptions import Abort
from PIL import Image

from mkdocs_imagegen.emulator import Emulator, Fault, prompt_colour

from sitekit import PROVIDER_VARIABLES, banner_file, build, build_process, image_info, page, warnings_of, write_site

# --- shared helpers ----------------------------------------------------------------------------------

ORIGINAL_NAME = re.compile(r"^[0-9a-f]{64}\.(png|jpeg|webp|json)$")
RENDITION_NAME = re.compile(r"^[0-9a-f]{16}-[0-9a-f]{12}\.(webp|png|jpg)$")
LOCK_NAME = re.compile(r"^[0-9a-f]{64}\.lock$")
PUBLISHED_NAME = re.compile(r"^(placeholder-[0-9a-f]{20}|[0-9a-f]{16}-[0-9a-f]{12})\.(webp|png|jpg)$")


@dataclass
class Run:
    """An in-process `mkdocs build`: what it logged, and the exception it ended with (if any)."""

    records: list[logging.LogRecord] = field(default_factory=list)
    error: BaseException | None = None

    def lines(self, level: int) -> list[str]:
        return [r.getMessage() for r in self.records if r.levelno == level]

    @property
    def warnings(self) -> list[str]:
        return self.lines(logging.WARNING)

    @property
    def errors(self) -> list[str]:
        return self.lines(logging.ERROR)

    @property
    def infos(self) -> list[str]:
        return self.lines(logging.INFO)


class _Collector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def build_in_process(config_file: Path, *, strict: bool = False, level: int = logging.INFO) -> Run:
    """`mkdocs build [--strict]` in this process, with the plugin shut down afterwards.

    Anything but `Abort` escaping MkDocs (what the CLI would print as a traceback) is re-raised.
    Provider credentials come from os.environ: set them with monkeypatch before calling.
    """
    from mkdocs.commands.build import build as mkdocs_build
    from mkdocs.config import load_config

    logger = logging.getLogger("mkdocs")
    collector = _Collector()
    previous_level = logger.level
    logger.addHandler(collector)
    logger.setLevel(level)
    run = Run(collector.records)
    config = None
    try:
        config = load_config(config_file=str(config_file), strict=strict)
        config.plugins.on_startup(command="build", dirty=False)
        try:
            mkdocs_build(config)
        except Abort as abort:
            run.error = abort
    finally:
        if config is not None:
            config.plugins.on_shutdown()
        logger.removeHandler(collector)
        logger.setLevel(previous_level)
    return run


def use_env(monkeypatch: pytest.MonkeyPatch, env: Mapping[str, str]) -> None:
    """Exactly these provider variables in os.environ (for in-process builds)."""
    for name in PROVIDER_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)


def provenance_records(cache_dir: Path) -> list[dict]:
    folder = cache_dir / "originals"
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted(folder.glob("*.json"))] if folder.is_dir() else []


def _decode_image(path: Path) -> tuple[int, int]:
    with Image.open(path) as image:
        image.load()
        return image.size


def assert_cache_sound(cache_dir: Path, *, allow_temp: bool = False) -> list[Path]:
    """Everything a reader of the committed cache can see decodes, and every record is consistent.

    Returns the scratch temp files (`.tmp-*`, git-ignored by the cache's own .gitignore) found;
    unless `allow_temp`, there must be none.
    """
    temps: list[Path] = []
    if not cache_dir.exists():
        return temps
    for path in sorted(cache_dir.rglob("*")):
        if path.is_dir():
            assert path.relative_to(cache_dir).parts[0] in ("originals", "renditions", ".locks"), path
            continue
        rel = path.relative_to(cache_dir)
        if path.name.startswith(".tmp-"):
            temps.append(path)
            continue
        if rel.parts[0] == ".locks":
            assert LOCK_NAME.match(path.name), path
            continue
        if rel == Path(".gitignore"):
            ignored = path.read_text(encoding="utf-8").splitlines()
            assert ".tmp-*" in ignored and ".locks/" in ignored, ignored
            continue
        assert len(rel.parts) == 2, f"unexpected file in the cache: {rel}"
        folder, name = rel.parts
        if folder == "originals":
            assert ORIGINAL_NAME.match(name), f"unexpected original name: {rel}"
            if name.endswith(".json"):
                record = json.loads(path.read_text(encoding="utf-8"))
                assert record["key"] == path.stem
                image = path.parent / record["file"]
                assert image.is_file(), f"{rel} names a missing image"
                assert sha256(image.read_bytes()).hexdigest() == record["sha256"], f"{rel}: digest mismatch"
                assert _decode_image(image) == (record["width"], record["height"])
            else:
                _decode_image(path)
        elif folder == "renditions":
            assert RENDITION_NAME.match(name), f"unexpected rendition name: {rel}"
            _decode_image(path)
        else:
            raise AssertionError(f"unexpected file in the cache: {rel}")
    assert allow_temp or not temps, f"scratch files left in the cache: {temps}"
    return temps


GIT_ENV = {"GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1", "HOME": os.devnull}
needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")


def git_init(project: Path) -> None:
    project.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "init", "-q", str(project)], check=True, env=os.environ | GIT_ENV)


def committable(project: Path, cache_dir: Path) -> list[Path]:
    """The files of cache_dir that `git add` would commit: what a reader of the committed cache sees."""
    listed = subprocess.run(
        ["git", "-C", str(project), "ls-files", "--others", "--exclude-standard", "-z", "--", str(cache_dir)],
        check=True, capture_output=True, env=os.environ | GIT_ENV).stdout.decode()
    return sorted(project / name for name in listed.split("\0") if name)


def assert_committable_decodes(project: Path, cache_dir: Path) -> int:
    """Every file git would commit from the cache is a finished original, record or rendition."""
    files = committable(project, cache_dir)
    for path in files:
        rel = path.relative_to(cache_dir)
        assert not path.name.startswith(".tmp-"), f"git would commit a scratch file: {rel}"
        if rel == Path(".gitignore"):
            continue
        assert rel.parts[0] in ("originals", "renditions") and len(rel.parts) == 2, f"git would commit {rel}"
        if path.suffix == ".json":
            json.loads(path.read_text(encoding="utf-8"))
        else:
            _decode_image(path)
    return len(files)


def corner_colour(path: Path) -> tuple[int, int, int]:
    with Image.open(path) as image:
        return image.convert("RGB").getpixel((2, 2))


def assert_real_banner(config: Path, page_dir: str, prompt: str, size: tuple[int, int], fmt: str = "webp") -> None:
    """The page shows the provider's final image for `prompt` (not a placeholder, not a draft)."""
    path = banner_file(config, page_dir)
    assert not path.name.startswith("placeholder-"), f"{page_dir}: placeholder instead of a banner"
    assert image_info(path) == (size, fmt)
    expected, actual = prompt_colour(prompt), corner_colour(path)
    assert max(abs(a - b) for a, b in zip(actual, expected, strict=True)) <= 12, (page_dir, actual, expected)


def files_under(root: Path, skip: Iterable[str] = ("__pycache__",)) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file() and not set(p.parts) & set(skip)}


# --- the fault matrix --------------------------------------------------------------------------------

RETRIES = 2
SIZE = (640, 360)
TIMEOUT = 1.0
SLOW = 2.5  # seconds the "slow" fault adds: well past TIMEOUT
RETRY_AFTER = 0.05
# At most this many connections at once: the emulator's listen backlog is socketserver's default 5, and
# a SYN dropped by a full backlog is only retried after 1 s, i.e. after TIMEOUT.
CONCURRENCY = 4

TRANSIENT: dict[str, str] = {  # fault kind -> what the warning must say (the provider's reason)
    "rate_limit": r"rate limited|429",
    "server_error": r"500",
    "overloaded": r"503",
    "reset": r"connection",
    "slow": r"timed out",
    "truncated_b64": r"truncated",
    "not_image": r"not a readable image|not PNG/JPEG/WebP",
    "bomb": r"pixel cap|DecompressionBomb",
}
REFUSALS: dict[str, dict[str, str]] = {  # shape -> refusal kind -> the provider's reason
    "google": {"block_reason": r"blockReason PROHIBITED_CONTENT", "image_safety": r"finishReason IMAGE_SAFETY",
               "text_only": r"text instead of an image: .*can't generate", "quota_zero": r"quota .* is 0"},
    "openai": {"moderation_blocked": r"moderation_blocked: Your request was rejected by the safety system"},
    "foundry": {"content_policy_violation": r"content_policy_violation \(ResponsibleAIPolicyViolation\)"},
}
MODEL = {"google": "gemini-3.1-flash-image", "openai": "gpt-image-2", "foundry": "gpt-image-2"}


def shape_env(emulator: Emulator, shape: str) -> dict[str, str]:
    """Gemini: everything set. OpenAI: only the OpenAI variables. Foundry: Azure wins for gpt-image-2."""
    env = emulator.env()
    if shape == "openai":
        return {k: v for k, v in env.items() if k.startswith("OPENAI_")}
    return env


@dataclass(frozen=True)
class Case:
    kind: str
    mode: str  # once | always | refused | clean

    @property
    def page_dir(self) -> str:
        return f"{self.mode}-{self.kind}"

    @property
    def src(self) -> str:
        return f"{self.page_dir}.md"

    def prompt(self, shape: str) -> str:
        return f"{shape} banner [fault {self.kind} {self.mode}] a lighthouse of index cards"

    @property
    def fails(self) -> bool:
        return self.mode in ("always", "refused")


def cases(shape: str) -> list[Case]:
    found = [Case(kind, mode) for kind in TRANSIENT for mode in ("once", "always")]
    found += [Case(kind, "refused") for kind in REFUSALS[shape]]
    found.append(Case("none", "clean"))
    if shape == "google":
        found.append(Case("thought_images", "clean"))  # drafts first: the final image is the banner
    return found


def reason(shape: str, case: Case) -> str:
    return TRANSIENT[case.kind] if case.mode == "always" else REFUSALS[shape][case.kind]


def add_faults(emulator: Emulator, shape: str, matrix: list[Case]) -> None:
    for case in matrix:
        if case.kind == "none":
            continue
        times = 1 if case.mode in ("once", "clean") else -1
        emulator.add_fault(Fault(provider=shape, kind=case.kind, times=times, match=case.prompt(shape),
                                 retry_after=RETRY_AFTER, delay=SLOW))


def expected_requests(case: Case) -> int:
    return {"once": 2, "always": RETRIES + 1, "refused": 1, "clean": 1}[case.mode]


@pytest.fixture
def fault_emulator() -> Iterator[Emulator]:
    with Emulator() as emulator:
        yield emulator


@pytest.fixture(autouse=True)
def quick_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process builds back off for milliseconds, not seconds (retry counts are what is tested)."""
    from mkdocs_imagegen.build import sending

    monkeypatch.setattr(sending, "BACKOFF_BASE", 0.01)


@pytest.mark.parametrize("shape", ["google", "openai", "foundry"])
def test_fault_matrix(shape: str, site_root: Path, fault_emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    emulator = fault_emulator
    matrix = cases(shape)
    pages = {case.src: page(case.prompt(shape), title=f"{case.mode} {case.kind}") for case in matrix}
    options = {"model": MODEL[shape], "size": f"{SIZE[0]}x{SIZE[1]}", "retries": RETRIES, "timeout": TIMEOUT,
               "concurrency": CONCURRENCY}
    config = write_site(site_root, pages, options)
    cache_dir = site_root / ".banners"
    use_env(monkeypatch, shape_env(emulator, shape))
    add_faults(emulator, shape, matrix)

    run = build_in_process(config, strict=True)

    # --strict fails on the warnings, and only on them.
    assert isinstance(run.error, Abort) and "strict" in str(run.error), run.error
    failing = [case for case in matrix if case.fails]
    assert len(run.warnings) == len(failing), "\n".join(run.warnings)
    for case in failing:
        said = [w for w in run.warnings if case.src in w]
        assert len(said) == 1, f"{case.src}: expected one warning, got {said}"
        assert "\n" not in said[0] and "Traceback" not in said[0]
        assert re.search(reason(shape, case), said[0]), f"{case.src}: reason missing from {said[0]!r}"
        assert shape in said[0] and MODEL[shape] in said[0], said[0]
        assert banner_file(config, case.page_dir).name.startswith("placeholder-")
    for case in matrix:
        if not case.fails:
            assert_real_banner(config, case.page_dir, case.prompt(shape), SIZE)

    # Each prompt cost exactly what its fault allows: one retry, retries + 1, or one request.
    total = sum(expected_requests(case) for case in matrix)
    assert emulator.wait_for_requests(total, timeout=SLOW * 4), "requests missing"  # "slow" ones land late
    sent = Counter(r.prompt for r in emulator.image_requests())
    assert {r.provider for r in emulator.image_requests()} == {shape}
    assert sent == {case.prompt(shape): expected_requests(case) for case in matrix}

    # The cache: only what succeeded, every file whole; nothing of a failed prompt.
    assert_cache_sound(cache_dir)
    stored = sorted(record["prompt"] for record in provenance_records(cache_dir))
    assert stored == sorted(case.prompt(shape) for case in matrix if not case.fails)

    # Once the provider recovers, the next build generates exactly the failed banners, once each.
    emulator.clear_faults()
    emulator.reset()
    healed = build_in_process(config, strict=True)
    assert healed.error is None, healed.warnings + healed.errors
    assert sorted(r.prompt for r in emulator.image_requests()) == sorted(c.prompt(shape) for c in failing)
    for case in matrix:
        assert_real_banner(config, case.page_dir, case.prompt(shape), SIZE)
    assert_cache_sound(cache_dir)
    assert len(provenance_records(cache_dir)) == len(matrix)


def test_failures_as_the_user_sees_them(site_root: Path, fault_emulator: Emulator) -> None:
    """The real CLI: --strict exits non-zero, one WARNING line per failed page with the reason."""
    emulator = fault_emulator
    pages = {
        "posts/refused.md": page("a refused openai banner", title="Refused"),
        "posts/down.md": page("an openai banner while the service is down", title="Down"),
        "posts/fine.md": page("a fine openai banner", title="Fine"),
    }
    config = write_site(site_root, pages, {"model": "gpt-image-2", "size": "640x360", "retries": 1})
    emulator.add_fault(Fault(kind="moderation_blocked", times=-1, match="refused"))
    emulator.add_fault(Fault(kind="overloaded", times=-1, match="down"))
    env = shape_env(emulator, "openai")

    strict = build_process(config, "--strict", env=env)
    assert strict.returncode == 1, strict.stderr
    assert "Traceback" not in strict.stderr
    assert "Aborted with 2 warnings in strict mode" in strict.stdout + strict.stderr
    lines = warnings_of(strict)
    assert len(lines) == 2, strict.stderr
    [refused] = [w for w in lines if "posts/refused.md" in w]
    [down] = [w for w in lines if "posts/down.md" in w]
    assert "moderation_blocked" in refused and "placeholder" in refused
    assert "503" in down and "overloaded" in down
    assert_cache_sound(site_root / ".banners")

    lenient = build(config, env=env)
    assert lenient.returncode == 0, lenient.stderr
    assert len(warnings_of(lenient)) == 2
    assert banner_file(config, "posts/refused").name.startswith("placeholder-")
    assert not banner_file(config, "posts/fine").name.startswith("placeholder-")
    assert "1 cached, 2 failed" in lenient.stderr
    assert_cache_sound(site_root / ".banners")


def test_a_bad_image_never_reaches_the_cache_even_with_retries_off(
        site_root: Path, fault_emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    """retries: 0 — every broken-image kind is refused on the first answer; nothing is written."""
    emulator = fault_emulator
    kinds = ["truncated_b64", "not_image", "bomb"]
    pages = {}
    for shape in ("google", "foundry"):
        for kind in kinds:
            pages[f"{shape}-{kind}.md"] = page(f"{shape} {kind} banner", title=kind, banner_model=MODEL[shape])
            emulator.add_fault(Fault(provider=shape, kind=kind, times=-1, match=f"{shape} {kind} banner"))
    config = write_site(site_root, pages, {"size": "640x360", "retries": 0, "concurrency": 6})
    use_env(monkeypatch, emulator.env())
    run = build_in_process(config)
    assert run.error is None
    assert len(emulator.image_requests()) == len(pages)
    assert len(run.warnings) == len(pages), run.warnings
    assert provenance_records(site_root / ".banners") == []
    assert_cache_sound(site_root / ".banners")
    assert not list((site_root / ".banners").rglob("*.png")) and not list((site_root / ".banners").rglob("*.jp*g"))


@needs_git
def test_a_build_in_which_every_banner_fails_leaves_nothing_for_git(
        site_root: Path, fault_emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    git_init(site_root)
    config = write_site(site_root, {"p.md": page("a refused banner", title="P", banner_model="gpt-image-2")},
                        {"size": "640x360"})
    fault_emulator.add_fault(Fault(kind="content_policy_violation", times=-1))
    use_env(monkeypatch, fault_emulator.env())
    run = build_in_process(config)
    assert run.error is None and len(run.warnings) == 1
    assert committable(site_root, site_root / ".banners") in ([], [site_root / ".banners" / ".gitignore"])


def test_temp_files_of_a_live_writer_are_left_alone_and_dead_ones_swept(site_root: Path) -> None:
    """The sweep at build start removes scratch files of dead writers only."""
    from mkdocs_imagegen.cache.store import CacheStore

    cache = CacheStore(site_root / ".banners")
    cache.originals.mkdir(parents=True)
    cache.renditions.mkdir(parents=True)
    dead = cache.originals / ".tmp-999999999-abc"  # no such pid
    live = cache.renditions / f".tmp-{os.getppid()}-abc"  # our parent: alive
    dead.write_bytes(b"\x89PNG half")
    live.write_bytes(b"RIFF half")
    assert cache.sweep_temp_files() == 1
    assert not dead.exists() and live.exists()
