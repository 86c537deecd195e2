"""The Python API: what `import mkdocs_imagegen` offers, and that `generate` shares its cache with a build.

Generation goes through the real provider code over loopback to the emulator."""

from __future__ import annotations

import inspect
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

import mkdocs_imagegen
from mkdocs_imagegen import errors

from sitekit import banner_file, build, page, write_site

EXPORTED = [
    "ArgumentError", "AuthenticationError", "BackfillStopped", "BatchJobUnknownError", "BadRequestError", "Banner",
    "CacheEntryError",
    "CatalogueError", "CommandStopped", "ConfigError", "ContentRefusedError", "EditError", "FrontMatterError",
    "GenerationRequest", "ImagegenError", "InvalidImageError", "ModelNotFoundError", "NotAuthenticatedError",
    "PageError", "PlannedBanner", "QUALITIES", "QuotaExhaustedError", "RateLimitedError", "Reference",
    "ReferenceProblem", "ResponseTooLargeError", "RetryHintTooLongError", "Size", "StoreSetupError", "SyncError",
    "TransientError", "UnknownModelError", "UnverifiedOrganizationError", "generate", "plan",
]
ACCEPTANCE = ("import mkdocs_imagegen as m; "
              "print(m.generate('a lighthouse at dusk', model='gpt-image-2', size='1200x640').size)")


def test_exported_members() -> None:
    assert sorted(mkdocs_imagegen.__all__) == sorted(EXPORTED)
    for name in mkdocs_imagegen.__all__:
        assert getattr(mkdocs_imagegen, name) is not None
    tree = {name for name, cls in inspect.getmembers(errors, inspect.isclass) if issubclass(cls, errors.ImagegenError)}
    assert tree <= set(mkdocs_imagegen.__all__), "every error of the tree is public"
    assert set(dir(mkdocs_imagegen)) >= set(EXPORTED)
    with pytest.raises(AttributeError):
        mkdocs_imagegen.not_a_name  # noqa: B018


def test_importing_the_plugin_imports_neither_the_api_nor_the_commands() -> None:
    code = ("import sys, mkdocs_imagegen.plugin; "
            "print([m for m in sys.modules if m.startswith(('mkdocs_imagegen.commands', 'mkdocs_imagegen.cli'))])")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.strip() == "[]"


def run_python(code: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=120)


def test_generate_then_the_same_call_then_a_build_pay_once(
        emulator, env: dict[str, str], tmp_path: Path) -> None:  # noqa: ANN001
    first = run_python(ACCEPTANCE, tmp_path, env)
    assert (first.returncode, first.stdout) == (0, "(1200, 640)\n"), first.stderr
    assert [(r.provider, r.model) for r in emulator.image_requests()] == [("foundry", "gpt-image-2")]
    assert [path.parent.name for path in (tmp_path / ".banners").rglob("*.webp")] == ["renditions"]

    again = run_python(ACCEPTANCE, tmp_path, env)
    assert (again.returncode, again.stdout) == (0, "(1200, 640)\n"), again.stderr
    assert len(emulator.image_requests()) == 1  # a cache hit

    config = write_site(tmp_path, {"index.md": page("a lighthouse at dusk", banner_model="gpt-image-2",
                                                    banner_size="1200x640")})
    built = build(config, env=emulator.env())
    assert built.returncode == 0, built.stderr
    assert len(emulator.image_requests()) == 1  # the page's banner is the one `generate` made
    with Image.open(banner_file(config, "")) as image:
        assert image.size == (1200, 640)


def test_a_banner_a_build_made_is_a_cache_hit_for_generate(
        emulator, env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    config = write_site(tmp_path, {"index.md": page("a harbour in fog", banner_model="gpt-image-2",
                                                    banner_size="640x360")}, {"cache_dir": "cache"})
    assert build(config, env=emulator.env()).returncode == 0
    assert len(emulator.image_requests()) == 1

    banner = mkdocs_imagegen.generate("a harbour in fog", model="gpt-image-2", size="640x360", config_file=config)
    assert (banner.size, banner.format, banner.provider, banner.cost) == ((640, 360), "webp", "cache", 0.0)
    assert banner.cache_path is not None and banner.cache_path.is_relative_to(tmp_path / "cache")
    assert banner.data == banner.cache_path.read_bytes()
    saved = banner.save(tmp_path / "harbour.png")
    with Image.open(saved) as image:
        assert (image.format, image.size) == ("PNG", (640, 360))

    monkeypatch.chdir(tmp_path)  # the command line: without a config file, the cache is .banners here
    from click.testing import CliRunner

    from mkdocs_imagegen.cli import cli

    made = CliRunner().invoke(cli, ["generate", "a harbour in fog", "-m", "gpt-image-2", "--size", "640x360",
                                    "-o", "fog.jpg"])
    assert made.exit_code == 0, made.output
    assert len(emulator.image_requests()) == 2  # another cache folder: made once more...
    rows = mkdocs_imagegen.plan(config)
    assert [(row.src, row.status) for row in rows] == [("index.md", "cached")]
    assert len(emulator.image_requests()) == 2  # ...and plan sends nothing


def test_generate_names_the_wrong_argument_and_the_missing_credentials(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(mkdocs_imagegen.ArgumentError) as wrong:
        mkdocs_imagegen.generate("a lighthouse", model="stable-diffusion-9")
    assert wrong.value.argument == "model" and "unknown model 'stable-diffusion-9'" in str(wrong.value)
    with pytest.raises(mkdocs_imagegen.ArgumentError) as size:
        mkdocs_imagegen.generate("a lighthouse", size="huge")
    assert size.value.argument == "size"
    with pytest.raises(mkdocs_imagegen.NotAuthenticatedError) as unset:
        mkdocs_imagegen.generate("a lighthouse", model="gpt-image-2")
    assert [hint.split(":")[0] for hint in unset.value.hints] == ["foundry", "openai"]
    placeholder = mkdocs_imagegen.generate("a lighthouse", size="320x200", provider="placeholder")
    assert (placeholder.size, placeholder.provider, placeholder.cache_path) == ((320, 200), "placeholder", None)
