"""Issue 3 end to end: a real `mkdocs build` with one page per provider, against the emulator."""

from __future__ import annotations

from pathlib import Path

import pytest

from mkdocs_imagegen.defaults import DEFAULT_MODEL
from mkdocs_imagegen.emulator import Fault

from sitekit import banner_file, build, image_info, page, warnings_of, write_site

PAGES = {
    "gemini.md": page("a lighthouse of index cards", title="Gemini"),
    "foundry.md": page("a brain of stacked cards", title="Foundry", banner_model="gpt-image-2",
                       banner_provider="foundry", banner_quality="high"),
    "openai.md": page("a garden of linked notes", title="OpenAI", banner_model="gpt-image-2.5-flare",
                      banner_provider="openai", banner_size="1200x630", banner_quality="xhigh"),
}


def by_prompt(emulator, prompt: str):
    [request] = [r for r in emulator.image_requests() if r.prompt == prompt]
    return request


def test_one_page_per_provider(site_root: Path, emulator) -> None:
    config = write_site(site_root, PAGES, {"providers": {"foundry": {"deployments": {"gpt-image-2": "banner-prod"}}}})
    emulator.deployments["banner-prod"] = "gpt-image-2"
    result = build(config, "--strict", env=emulator.env())
    assert result.returncode == 0, result.stderr
    for page_dir, size in [("gemini", (1792, 1024)), ("foundry", (1792, 1024)), ("openai", (1200, 630))]:
        path = banner_file(config, page_dir)
        assert not path.name.startswith("placeholder-")
        assert image_info(path) == (size, "webp")

    gemini = by_prompt(emulator, "a lighthouse of index cards")
    assert gemini.provider == "google"
    assert gemini.path == f"/v1/models/{DEFAULT_MODEL}:generateContent"
    assert gemini.headers["x-goog-api-key"] == emulator.keys["google"]
    image_config = gemini.body["generationConfig"]["imageConfig"]
    assert image_config["aspectRatio"] == "16:9"  # nearest to 1792x1024
    assert image_config["imageSize"] == "2K"  # 1K (1376 wide) would be upscaled

    foundry = by_prompt(emulator, "a brain of stacked cards")
    assert foundry.path == "/azure/openai/v1/images/generations"  # Microsoft's documented route for images
    assert "api-version" not in foundry.query
    assert foundry.headers["api-key"] == emulator.keys["foundry"]
    assert foundry.body["model"] == "banner-prod"  # on the v1 route, the deployment goes in `model`
    assert "response_format" not in foundry.body
    assert foundry.body["size"] == "1792x1024" and foundry.body["quality"] == "high"

    openai = by_prompt(emulator, "a garden of linked notes")
    assert openai.path == "/v1/images/generations"
    assert openai.headers["authorization"] == f"Bearer {emulator.keys['openai']}"
    assert "response_format" not in openai.body
    assert openai.body["model"] == "gpt-image-2.5-flare" and openai.body["quality"] == "xhigh"
    assert openai.body["size"] == "1184x624"  # the accepted size nearest 1200x630; resized locally


def test_foundry_with_entra_id_through_managed_identity(site_root: Path, emulator) -> None:
    pages = {f"p{i}.md": page(f"prompt number {i}", title=f"P{i}", banner_model="gpt-image-2") for i in range(3)}
    config = write_site(site_root, pages)
    env = {k: v for k, v in emulator.env().items() if k != "AZURE_OPENAI_API_KEY"}
    env |= emulator.managed_identity_env()
    result = build(config, "--strict", env=env)
    assert result.returncode == 0, result.stderr
    requests = emulator.image_requests()
    assert len(requests) == 3 and {r.provider for r in requests} == {"foundry"}
    assert all(r.headers["authorization"].startswith("Bearer ") for r in requests)
    assert all("api-key" not in r.headers for r in requests)
    assert emulator.token_requests == 1, "the token must be fetched once and reused"


def test_thought_image_is_skipped(site_root: Path, emulator) -> None:
    emulator.add_fault(Fault(provider="google", kind="thought_images"))
    config = write_site(site_root, {"g.md": page("think first", title="G")})
    assert build(config, "--strict", env=emulator.env()).returncode == 0
    original = next((site_root / ".banners" / "originals").glob("*.jpeg"))
    assert image_info(original)[0] == (2752, 1536), "the final image, not the half-size thought draft"


REFUSALS = [
    ("google", "block_reason", {}, "PROHIBITED_CONTENT"),
    ("google", "image_safety", {}, "IMAGE_SAFETY"),
    ("google", "text_only", {}, "text"),
    ("openai", "moderation_blocked", {"banner_model": "gpt-image-2", "banner_provider": "openai"},
     "moderation_blocked"),
    ("foundry", "content_policy_violation", {"banner_model": "gpt-image-2"}, "content_policy_violation"),
]


@pytest.mark.parametrize(("provider", "kind", "front", "reason"), REFUSALS)
def test_refusal_is_one_warning_not_retried_not_cached(site_root: Path, emulator, provider: str, kind: str,
                                                       front: dict[str, str], reason: str) -> None:
    emulator.add_fault(Fault(provider=provider, kind=kind, times=-1))
    config = write_site(site_root, {"posts/refused.md": page("something refused", title="Refused", **front)})
    result = build(config, env=emulator.env())
    assert result.returncode == 0, result.stderr
    assert len(emulator.image_requests()) == 1, "a refusal must not be retried"
    [warning] = [w for w in warnings_of(result) if "refused" in w or "posts/refused.md" in w]
    assert "posts/refused.md" in warning and reason.lower() in warning.lower()
    assert banner_file(config, "posts/refused").name.startswith("placeholder-")
    originals = site_root / ".banners" / "originals"
    assert not originals.exists() or not any(originals.iterdir())
    assert build(config, "--strict", env=emulator.env()).returncode != 0


WRONG_KEYS = [
    ("GEMINI_API_KEY", {}, "AIzaWrongKeyForTestsOnly000000000001"),
    ("OPENAI_API_KEY", {"banner_model": "gpt-image-2", "banner_provider": "openai"}, "sk-wrong-key-for-tests-0000001"),
    ("AZURE_OPENAI_API_KEY", {"banner_model": "gpt-image-2"}, "azure-wrong-key-for-tests-00000001"),
]


@pytest.mark.parametrize(("variable", "front", "wrong"), WRONG_KEYS)
def test_wrong_key_names_the_variable_and_never_shows_the_key(site_root: Path, emulator, variable: str,
                                                              front: dict[str, str], wrong: str) -> None:
    config = write_site(site_root, {"p.md": page("any prompt", title="P", **front)})
    result = build(config, "-v", env=emulator.env() | {variable: wrong})
    lines = [w for w in warnings_of(result) if "p.md" in w]
    assert len(lines) == 1, result.stderr
    assert variable in lines[0]
    assert len(emulator.image_requests()) == 1, "an authentication error must not be retried"
    output = result.stdout + result.stderr
    assert wrong not in output and wrong[-8:] not in output
