"""Drafting: `prompt_template` for pages without a prompt, and `brief` / `alt`, which have a text model draft
banner prompts and alt text for review in the front matter. Against the emulator's text models, over the
real provider code (google-genai, the Responses API, Azure's v1 route)."""

from __future__ import annotations

import base64
import difflib
import html
import json
import re
import shutil
import time
from pathlib import Path

import pytest
from test_cli import run

from mkdocs_imagegen.emulator import Emulator
from mkdocs_imagegen.emulator.text import TextFault
from mkdocs_imagegen.pages.excerpt import brief_text, plain_text
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


# --- what brief sends ------------------------------------------------------------------------------------


def test_the_excerpt_is_plain_text_without_code_html_or_markup() -> None:
    markdown = ("# Title\n\nSome **bold** and [a link](https://x.example/secret-path) and `code`.\n\n"
                "```python\nprint('hidden')\n```\n\n<div class=\"x\">kept <b>words</b></div>\n<!-- more -->\n"
                "![an image](img.png)\n\n- item one\n> quoted\n")
    assert plain_text(markdown) == "Title Some bold and a link and code. kept words item one quoted"
    text = brief_text({"title": "Title", "date": "2026-01-01", "secret_key": "s3cr3t", "tags": ["a", "b"]},
                      markdown, "x.md")
    assert text.splitlines()[0] == "Title: Title" and "Tags: a, b" in text
    assert "s3cr3t" not in text and "2026-01-01" not in text and "print" not in text and "x.example" not in text


def test_brief_on_the_example_blog_drafts_three_posts_writes_one_line_each_and_the_build_uses_them(
        tmp_path: Path, emulator: Emulator, env: dict[str, str]) -> None:
    config = example_copy(tmp_path / "blog", emulator)
    before = {name: (tmp_path / "blog" / POSTS / name).read_text(encoding="utf-8")
              for name in sorted(p.name for p in (tmp_path / "blog" / POSTS).iterdir())}

    planned = run("brief", "-f", str(config), "--dry-run")
    assert planned.exit_code == 0, planned.stderr
    listed = sorted(re.findall(r"^  draft +blog/posts/(\S+)", planned.stdout, re.MULTILINE))
    assert listed == sorted(STRIPPED)
    assert "3 page(s) to draft with gemini-3.1-flash-lite via Google Gemini, 0 cached" in planned.stdout
    assert emulator.text_requests() == [] and emulator.requests == []

    drafted = run("brief", "-f", str(config), "--write", "--yes")
    assert drafted.exit_code == 0, drafted.stderr
    requests = emulator.text_requests()
    assert len(requests) == 3 and {r.status for r in requests} == {200}
    for request in requests:
        sent = json.dumps(request.body)
        title = re.search(r"Title: ([^\\]+)", sent)
        assert title is not None and f'title: {title.group(1)}' in "\n".join(before.values())
        assert "Excerpt: " in sent
        for leaked in (SENTINEL, "2026-11-"):  # other front-matter values
            assert leaked not in sent
        (text,) = [part["text"] for part in request.body["contents"][0]["parts"]]
        fields = [line.partition(": ")[0] for line in text.splitlines()]
        assert fields == ["Title", "Categories", "Excerpt"]
    for name, text in before.items():
        after = (tmp_path / "blog" / POSTS / name).read_text(encoding="utf-8")
        if name in STRIPPED:
            lines = added_lines(text, after)
            assert len(lines) == 1 and lines[0].startswith("banner_prompt: ") and lines[0].endswith("\n")
        else:
            assert after == text

    emulator.reset()
    again = run("brief", "-f", str(config), "--yes")
    assert again.exit_code == 0, again.stderr
    assert emulator.requests == []

    built = build(config, "--strict", env=emulator.env())
    assert built.returncode == 0, built.stderr
    prompts = [r.prompt or "" for r in emulator.image_requests()]
    assert len(prompts) == 3 and all(p.startswith("A wide, quiet editorial scene about ") for p in prompts)


def test_a_second_brief_sends_nothing_even_before_the_drafts_are_written(
        site_root: Path, emulator: Emulator, env: dict[str, str]) -> None:
    config = write_site(site_root, {"a.md": page(title="Alpha", body="Words."), "b.md": page(title="Beta")})
    first = run("brief", "-f", str(config), "--yes")
    assert first.exit_code == 0, first.stderr
    assert len(emulator.text_requests()) == 2
    assert "a.md: banner_prompt: A wide, quiet editorial scene about Alpha" in first.stdout
    emulator.reset()
    second = run("brief", "-f", str(config), "--yes")
    assert second.exit_code == 0, second.stderr
    assert emulator.requests == [] and "0 page(s) to draft" in second.stdout and "2 cached" in second.stdout
    assert "a.md: banner_prompt: A wide, quiet editorial scene about Alpha" in second.stdout
    assert "banner_prompt" not in (site_root / "docs" / "a.md").read_text()


def test_brief_asks_on_a_terminal_and_refuses_without_one(site_root: Path, emulator: Emulator,
                                                          env: dict[str, str]) -> None:
    config = write_site(site_root, {"a.md": page(title="Alpha")})
    refused = run("brief", "-f", str(config))
    assert refused.exit_code == 2
    assert "not a terminal: pass --yes to send 1 text request(s)" in refused.stderr
    assert emulator.requests == []


def test_alt_describes_each_cached_banner_and_the_build_shows_the_drafted_alt(
        tmp_path: Path, emulator: Emulator, env: dict[str, str]) -> None:
    config = example_copy(tmp_path / "blog", emulator)
    drafted = run("alt", "-f", str(config), "--write", "--yes")
    assert drafted.exit_code == 0, drafted.stderr
    requests = emulator.text_requests()
    # every post with a banner (the three without a prompt have none) but garden-of-links, which has a banner_alt
    assert len(requests) == 7 - 3 - 1
    for request in requests:
        parts = request.body["contents"][0]["parts"]
        image = next(part["inlineData"] for part in parts if "inlineData" in part)
        assert image.get("mimeType", image.get("mime_type")) == "image/jpeg"
        assert base64.urlsafe_b64decode(image["data"])[:3] == b"\xff\xd8\xff"
    written = dict(re.findall(r"^(\S+\.md): banner_alt: (.+)$", drafted.stdout, re.MULTILINE))
    assert len(written) == len(requests)
    emulator.reset()
    rebuilt = build(config, env=emulator.env())  # not --strict: two stripped posts keep a banner_model
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert emulator.image_requests() == []
    shown = set()
    for built_page in (config.parent / "site" / "blog").glob("20*/**/index.html"):  # Material's dated post URLs
        banner = re.search(r'<p class="imagegen-banner"><img [^>]*\balt="([^"]*)"', built_page.read_text("utf-8"))
        if banner is not None:
            shown.add(html.unescape(banner.group(1)))
    assert set(written.values()) <= shown and all(len(alt_text) <= 125 for alt_text in written.values())


# --- the three wire formats --------------------------------------------------------------------------------


@pytest.mark.parametrize(("keep", "model", "path"), [
    (("GEMINI_", "GOOGLE_"), "gemini-3.1-flash-lite", "/v1(beta)?/models/gemini-3.1-flash-lite:generateContent"),
    (("OPENAI_",), "gpt-5-mini", "/v1/responses"),
    (("AZURE_",), "gpt-5-mini", "/azure/openai/v1/responses"),
])
def test_each_provider_speaks_its_own_wire_format(site_root: Path, emulator: Emulator, env: dict[str, str],
                                                  monkeypatch: pytest.MonkeyPatch, keep: tuple[str, ...],
                                                  model: str, path: str) -> None:
    only(env, monkeypatch, keep)
    config = write_site(site_root, {"a.md": page(title="Alpha", description="First.")})
    drafted = run("brief", "-f", str(config), "--yes")
    assert drafted.exit_code == 0, drafted.stderr
    assert "a.md: banner_prompt: A wide, quiet editorial scene about Alpha" in drafted.stdout
    (request,) = emulator.text_requests()
    assert re.fullmatch(path, request.path) and request.status == 200
    body = request.body
    if keep[0] == "GEMINI_":
        assert body["contents"][0]["parts"][-1]["text"].startswith("Title: Alpha\nDescription: First.")
        assert "banner image" in body["systemInstruction"]["parts"][0]["text"]
    else:
        assert body["model"] == model and body["store"] is False and body["reasoning"] == {"effort": "minimal"}
        (message,) = body["input"]
        assert message["content"] == [{"type": "input_text", "text": message["content"][0]["text"]}]
        assert message["content"][0]["text"].startswith("Title: Alpha")


def test_alt_sends_the_banner_as_a_data_url_on_the_responses_api(site_root: Path, emulator: Emulator,
                                                                 env: dict[str, str],
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    only(env, monkeypatch, ("OPENAI_",))
    config = write_site(site_root, {"a.md": page("a lighthouse", title="Alpha")},
                        {"size": "1792x1024", "model": "gpt-image-2"})
    assert build(config, env=dict(env)).returncode == 0
    emulator.reset()
    drafted = run("alt", "-f", str(config), "--yes")
    assert drafted.exit_code == 0, drafted.stderr
    (request,) = emulator.text_requests()
    content = request.body["input"][0]["content"]
    assert content[0] == {"type": "input_text", "text": "Title: Alpha\nPrompt: a lighthouse"}
    assert content[1]["type"] == "input_image" and content[1]["image_url"].startswith("data:image/jpeg;base64,")
    assert re.search(r"a.md: banner_alt: A 1024x585 banner in #[0-9a-f]{6} for Alpha", drafted.stdout)


# --- bad answers --------------------------------------------------------------------------------------------


def test_bad_answers_each_give_one_line_naming_the_page_and_write_nothing(
        site_root: Path, emulator: Emulator, env: dict[str, str]) -> None:
    kinds = ("refusal", "empty", "too_long", "multiline", "server_error")
    pages = {f"{kind}.md": page(title=f"Page {kind}") for kind in kinds}
    pages["good.md"] = page(title="Page good")
    config = write_site(site_root, pages, {"retries": 0})
    before = {name: (site_root / "docs" / name).read_bytes() for name in pages}
    for kind in kinds:
        emulator.text.add_fault(TextFault(kind, match=f"Title: Page {kind}\n"))
    drafted = run("brief", "-f", str(config), "--write", "--yes")
    assert drafted.exit_code == 1
    lines = [line for line in drafted.stderr.splitlines() if line.startswith("not drafted: ")]
    assert sorted(line.split(":")[1].strip() for line in lines) == sorted(f"{kind}.md" for kind in kinds)
    assert any("refusal.md: the request was blocked (SAFETY); nothing was written" in line for line in lines)
    assert any("empty.md: the answer is empty" in line for line in lines)
    assert any("too_long.md: the answer is " in line and "the limit is 600" in line for line in lines)
    assert any("multiline.md: the answer has a line break" in line for line in lines)
    assert any("server_error.md: " in line and "server error" in line for line in lines)
    assert "Error: 5 of 6 page(s) got no usable draft" in drafted.stderr
    for name, data in before.items():
        after = (site_root / "docs" / name).read_bytes()
        assert (after != data) == (name == "good.md")


def test_a_refusal_on_the_responses_api_is_one_line_and_a_wrong_key_never_shows(
        site_root: Path, emulator: Emulator, env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    only(env, monkeypatch, ("OPENAI_",))
    config = write_site(site_root, {"a.md": page(title="Alpha"), "b.md": page(title="Beta")})
    emulator.text.add_fault(TextFault("refusal", match="Title: Alpha\n"))
    drafted = run("brief", "-f", str(config), "--yes", "--write")
    assert "not drafted: a.md: the model refused; nothing was written" in drafted.stderr
    assert "banner_prompt" in (site_root / "docs" / "b.md").read_text()
    secret = "sk-wrong-secret-that-must-never-show-0000"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    config = write_site(site_root, {"c.md": page(title="Gamma")})
    refused = run("brief", "-f", str(config), "--yes", "--write")
    assert refused.exit_code == 1
    assert "not drafted: c.md: OpenAI rejected the API key from OPENAI_API_KEY" in refused.stderr
    assert secret not in refused.stdout + refused.stderr
    for path in site_root.rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes()


def test_a_dry_run_needs_no_credentials_and_sending_without_them_says_what_to_set(site_root: Path) -> None:
    config = write_site(site_root, {"a.md": page(title="Alpha")})
    planned = run("brief", "-f", str(config), "--dry-run")
    assert planned.exit_code == 0, planned.stderr
    assert "1 page(s) to draft with gemini-3.1-flash-lite via Google Gemini" in planned.stdout
    refused = run("brief", "-f", str(config), "--yes")
    assert refused.exit_code == 1
    assert "Error: Google Gemini is not set up: set GEMINI_API_KEY (or GOOGLE_API_KEY)" in refused.stderr
    assert "banner_prompt" not in (site_root / "docs" / "a.md").read_text()
    nothing = run("alt", "-f", str(config), "--dry-run")
    assert nothing.exit_code == 0 and "nothing to describe" in nothing.stdout


def test_write_never_changes_a_file_outside_docs_dir_through_a_linked_page(
        site_root: Path, emulator: Emulator, env: dict[str, str]) -> None:
    config = write_site(site_root, {"a.md": page(title="Alpha")})
    outside = site_root.parent / "elsewhere.md"
    outside.write_text("---\ntitle: Elsewhere\n---\n\n# Elsewhere\n\nNot this site's page.\n", encoding="utf-8")
    before = outside.read_bytes()
    (site_root / "docs" / "linked.md").symlink_to(outside)
    drafted = run("brief", "-f", str(config), "--write", "--yes")
    assert outside.read_bytes() == before, "a file outside docs_dir was edited through a link"
    assert drafted.exit_code == 1
    assert "not written: linked.md: " in drafted.stderr and "outside docs_dir" in drafted.stderr
    assert "banner_prompt: " in (site_root / "docs" / "a.md").read_text(encoding="utf-8")  # the site's own page


def test_a_retry_hint_longer_than_a_draft_waits_ends_that_page_at_once(
        site_root: Path, emulator: Emulator, env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    only(env, monkeypatch, ("OPENAI_",))
    config = write_site(site_root, {"a.md": page(title="Alpha"), "b.md": page(title="Beta")})
    emulator.text.add_fault(TextFault("rate_limit", match="Title: Alpha\n", retry_after=86_400))
    started = time.monotonic()
    drafted = run("brief", "-f", str(config), "--yes", "--write")
    assert time.monotonic() - started < 30, "waited on a day-long retry hint"
    assert drafted.exit_code == 1
    assert "not drafted: a.md: " in drafted.stderr and "asked to wait 86,400 s" in drafted.stderr
    assert "banner_prompt" in (site_root / "docs" / "b.md").read_text(encoding="utf-8")
