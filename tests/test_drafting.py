"""Drafting: `prompt_template` for pages without a prompt, and text requests to each provider's text models
(against the emulator's, over the real provider code: google-genai, the Responses API, Azure's v1 route)."""

from __future__ import annotations

import difflib
import json
import re
import shutil
from pathlib import Path

import pytest
from test_cli import run

from mkdocs_imagegen.emulator import Emulator
from mkdocs_imagegen.emulator.text import TextFault
from mkdocs_imagegen.pages.template import glob_match, render

from sitekit import build, page, page_html, write_site

EXAMPLE = Path(__file__).resolve().parent.parent / "example_site"
POSTS = "docs/blog/posts"
STRIPPED = ("lighthouse-of-notes.md", "stacked-index-cards.md", "tiny-square-thoughts.md")
_PROMPT_BLOCK = re.compile(r"^banner_prompt:.*\n(?:[ \t]+.*\n)*", re.MULTILINE)
SENTINEL = "internal-note-never-sent"  # a front-matter value the docs do not list as sent


def example_copy(root: Path, emulator: Emulator) -> Path:
    """example_site, built once (so its banners are cached), then three posts' prompts taken out and a
    front-matter key no request may carry added to them."""
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns(".banners", "site", "*.png"))
    built = build(root / "mkdocs.yml", env=emulator.env())
    assert built.returncode == 0, built.stderr
    for name in STRIPPED:
        path = root / POSTS / name
        text = _PROMPT_BLOCK.sub("", path.read_text(encoding="utf-8"), count=1)
        path.write_text(text.replace("\ndate:", f"\nnote: {SENTINEL}\ndate:", 1), encoding="utf-8")
    emulator.reset()
    return root / "mkdocs.yml"


def added_lines(before: str, after: str) -> list[str]:
    diff = difflib.ndiff(before.splitlines(keepends=True), after.splitlines(keepends=True))
    changes = [line for line in diff if line[:1] in "+-"]
    assert all(line.startswith("+ ") for line in changes), changes
    return [line[2:] for line in changes]


def only(env: dict[str, str], monkeypatch: pytest.MonkeyPatch, prefix: tuple[str, ...]) -> None:
    """Leave only one provider's variables set, so routing picks it."""
    for name in list(env):
        if name.startswith(("GEMINI_", "GOOGLE_", "OPENAI_", "AZURE_")) and not name.startswith(prefix):
            monkeypatch.delenv(name, raising=False)


# --- prompt_template ----------------------------------------------------------------------------------


def test_glob_match_keeps_star_inside_one_folder() -> None:
    assert glob_match("blog/posts/*.md", "blog/posts/a.md")
    assert not glob_match("blog/posts/*.md", "blog/posts/2026/a.md")
    assert glob_match("blog/posts/**/*.md", "blog/posts/2026/a.md")
    assert glob_match("**/*.md", "index.md")
    assert render("Post {title}. {description}", {}, "# Heading here\n\ntext", "x.md") == "Post Heading here."


def test_prompt_template_gives_every_matching_post_a_banner_and_plan_shows_the_prompts(
        site_root: Path, emulator: Emulator) -> None:
    pages = {"blog/posts/one.md": page(title="Tide tables", description="Reading the sea."),
             "blog/posts/two.md": page(title="Lanterns"),
             "blog/posts/three.md": page("its own prompt", title="Own"),
             "about.md": page(title="About")}
    options = {"size": "320x180", "template_pages": ["blog/posts/*.md"],
               "prompt_template": "An editorial illustration for a post titled {title}. {description}"}
    config = write_site(site_root, pages, options)
    planned = run("plan", "-f", str(config))
    assert planned.exit_code == 0, planned.stderr
    assert "An editorial illustration for a post titled Tide tables. Reading the sea." in planned.stdout
    assert "An editorial illustration for a post titled Lanterns." in planned.stdout
    assert "its own prompt" not in planned.stdout and "about.md" not in planned.stdout
    built = build(config, "--strict", env=emulator.env())
    assert built.returncode == 0, built.stderr
    prompts = sorted(request.prompt or "" for request in emulator.image_requests())
    assert prompts == ["An editorial illustration for a post titled Lanterns.",
                       "An editorial illustration for a post titled Tide tables. Reading the sea.", "its own prompt"]
    assert 'class="imagegen-banner"' not in page_html(config, "about")


def test_without_template_pages_nothing_changes_and_a_title_change_is_a_new_banner(site_root: Path) -> None:
    pages = {"blog/posts/one.md": page(title="Tide tables")}
    config = write_site(site_root, pages, {"prompt_template": "A post titled {title}"})
    planned = run("plan", "-f", str(config), "--json")
    assert json.loads(planned.stdout)["pages"] == []
    config = write_site(site_root, pages, {"prompt_template": "A post titled {title}",
                                           "template_pages": ["blog/**"]})
    first = json.loads(run("plan", "-f", str(config), "--json").stdout)["pages"]
    write_site(site_root, {"blog/posts/one.md": page(title="Tide charts")}, {
        "prompt_template": "A post titled {title}", "template_pages": ["blog/**"]})
    second = json.loads(run("plan", "-f", str(config), "--json").stdout)["pages"]
    assert len(first) == len(second) == 1 and first[0]["cache_key"] != second[0]["cache_key"]


def test_a_template_with_an_unknown_field_stops_the_build_in_one_line(site_root: Path) -> None:
    config = write_site(site_root, {"a.md": page(title="A")}, {"prompt_template": "About {subject}",
                                                               "template_pages": ["*.md"]})
    built = build(config)
    assert built.returncode != 0
    assert "option 'prompt_template' has {subject}; the fields are {title}, {description}" in built.stderr


# --- text requests, on each provider's wire format ------------------------------------------------------------


PROVIDER_ENV = {"google": ("GEMINI_", "GOOGLE_"), "openai": ("OPENAI_",), "foundry": ("AZURE_",)}


@pytest.mark.parametrize("provider", sorted(PROVIDER_ENV))
def test_a_text_request_with_an_image_on_each_provider_and_its_refusal_and_empty_answer(
        provider: str, emulator: Emulator, env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    from PIL import Image

    from mkdocs_imagegen.providers.registry import Registry
    from mkdocs_imagegen.providers.text import TextRequest, ask, route

    only(env, monkeypatch, PROVIDER_ENV[provider])
    buffer = io.BytesIO()
    Image.new("RGB", (64, 32), (10, 120, 130)).save(buffer, "PNG")
    registry = Registry.from_options()
    try:
        text_route = route(registry, "alt", None)
        assert text_route.provider.name == provider
        model = text_route.model.name
        request = TextRequest("alt", model, "Describe the image.", "Title: Tides\nPrompt: sea", buffer.getvalue(),
                              "image/png", text_route.model.reasoning_effort)
        answer = ask(text_route, request, timeout=30)
        assert answer.text == "A 64x32 banner in #0a7882 for Tides" and answer.refusal is None
        assert answer.input_tokens and answer.input_tokens > 10 and answer.output_tokens
        for kind, expected in (("refusal", None), ("empty", "")):
            emulator.text.add_fault(TextFault(kind))
            faulty = ask(text_route, request, timeout=30)
            assert faulty.text == expected and (faulty.refusal is not None) == (kind == "refusal")
    finally:
        registry.close()
    assert [r.status for r in emulator.text_requests()] == [200, 200, 200]
    assert emulator.image_requests() == []


def test_an_image_model_or_an_unknown_name_is_no_text_model(emulator: Emulator, env: dict[str, str]) -> None:
    from mkdocs_imagegen.errors import UnknownModelError
    from mkdocs_imagegen.providers.registry import Registry
    from mkdocs_imagegen.providers.text import route

    registry = Registry.from_options()
    with pytest.raises(UnknownModelError, match="an image model: this needs a text model"):
        route(registry, "brief", "gemini-3.1-flash-image")
    with pytest.raises(UnknownModelError, match="known text models: gemini-3.1-flash-lite"):
        route(registry, "brief", "gpt-9")
