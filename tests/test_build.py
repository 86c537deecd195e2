"""`mkdocs build` as a user runs it: banners from front matter, placeholders, cache, errors."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sitekit import (
    banner_file,
    banner_sources,
    build,
    build_process,
    image_info,
    page,
    page_html,
    warnings_of,
    write_site,
)

BLOG = {
    "index.md": page(title="Home", body="No banner here."),
    "gemini.md": page("a lighthouse made of index cards", title="Gemini post"),
    "gpt.md": page("a brain of stacked index cards", title="GPT post", banner_model="gpt-image-2"),
    "alt.md": page("a garden of linked notes", title="Alt post", banner_alt="Vines linking cards"),
    "square.md": page("a single sticky note", title="Square post", banner_size="1024x1024"),
}


def test_no_credentials_builds_placeholders_with_one_warning_per_provider(site_root: Path) -> None:
    config = write_site(site_root, BLOG, {"format": "webp"})
    result = build_process(config)  # once as a user runs it: `mkdocs build` in a fresh interpreter
    assert result.returncode == 0, result.stderr
    for page_dir, expected in [("gemini", (1792, 1024)), ("gpt", (1792, 1024)), ("alt", (1792, 1024)),
                               ("square", (1024, 1024))]:
        path = banner_file(config, page_dir)
        assert path.is_file()
        assert image_info(path) == (expected, "webp")
    assert banner_sources(page_html(config, "")) == []
    auth_warnings = [w for w in warnings_of(result) if "is not authenticated" in w]
    assert len(auth_warnings) == 2, auth_warnings  # Google, Azure AI Foundry (OpenAI named in its line): not per page
    assert any("GEMINI_API_KEY" in w for w in auth_warnings)
    assert any("OPENAI_API_KEY" in w for w in auth_warnings)
    assert any("AZURE_OPENAI_ENDPOINT" in w for w in auth_warnings)
    assert not (site_root / ".banners" / "originals").exists(), "placeholders must never be cached as banners"


def test_no_credentials_counts_each_page_once_under_the_provider_that_would_serve_it(site_root: Path) -> None:
    """Six Gemini pages and one gpt-image-2 page: the warnings add up to the summary's seven placeholders."""
    pages = {f"gemini-{n}.md": page(f"a lighthouse number {n}") for n in range(6)}
    config = write_site(site_root, {**pages, "gpt.md": page("a brain of index cards", banner_model="gpt-image-2")})
    result = build(config)
    assert result.returncode == 0, result.stderr
    auth_warnings = [w for w in warnings_of(result) if "is not authenticated" in w]
    counted = [int(re.search(r"so (\d+) page\(s\)", w).group(1)) for w in auth_warnings]
    summary = re.search(r"imagegen: (\d+) banner\(s\):.* (\d+) placeholder\(s\)", result.stderr)
    assert summary is not None and summary.groups() == ("7", "7"), result.stderr
    assert sum(counted) == 7, auth_warnings
    [gpt] = [w for w in auth_warnings if "gpt-image-2" in w]
    assert "Azure AI Foundry is not authenticated, so 1 page(s)" in gpt, gpt  # first in providers.order
    assert "OPENAI_API_KEY" in gpt, gpt  # the other provider that serves it is still named, with its fix


def test_strict_build_fails_on_placeholders(site_root: Path) -> None:
    config = write_site(site_root, BLOG)
    result = build_process(config, "--strict")  # the exit code of the real process
    assert result.returncode != 0
    assert "not authenticated" in result.stderr


def test_banner_markup_alt_size_and_social_meta(site_root: Path) -> None:
    config = write_site(site_root, BLOG, site_url="https://example.org/blog/")
    assert build(config).returncode == 0
    html = page_html(config, "alt")
    img = re.search(r'<p class="imagegen-banner">(<img [^>]+>)', html).group(1)
    assert 'alt="Vines linking cards"' in img and 'width="1792"' in img and 'height="1024"' in img
    title_alt = re.search(r'<p class="imagegen-banner">(<img [^>]+>)', page_html(config, "gemini")).group(1)
    assert 'alt="Gemini post"' in title_alt
    og = re.findall(r'<meta property="og:image" content="([^"]+)"', html)
    assert len(og) == 1 and og[0].startswith("https://example.org/blog/assets/banners/")
    assert (site_root / "site" / og[0].removeprefix("https://example.org/blog/")).is_file()
    assert 'name="twitter:image"' in html
    for prop, value in [("og:title", "Alt post"), ("og:url", "https://example.org/blog/alt/"), ("og:type", "article")]:
        assert re.findall(rf'<meta property="{prop}" content="([^"]+)"', html) == [value]
    # The banner comes first in the page body, before the page's own heading.
    assert html.index("imagegen-banner") < html.index('<h1 id="alt-post"')


def test_links_work_without_directory_urls(site_root: Path) -> None:
    config = write_site(site_root, {"blog/deep/post.md": page("a deep prompt", title="Deep")},
                        extra={"use_directory_urls": False})
    assert build(config).returncode == 0
    html = (site_root / "site" / "blog" / "deep" / "post.html").read_text()
    [src] = banner_sources(html)
    assert src.startswith("../../assets/banners/")
    assert (site_root / "site" / "blog" / "deep" / src).resolve().is_file()


def test_page_with_own_image_keeps_it_as_social_image(site_root: Path) -> None:
    pages = {"own.md": page("a prompt", title="Own", image="https://cdn.example.org/own.png")}
    config = write_site(site_root, pages)
    assert build(config).returncode == 0
    html = page_html(config, "own")
    assert re.findall(r'<meta property="og:image" content="([^"]+)"', html) == ["https://cdn.example.org/own.png"]
    assert len(banner_sources(html)) == 1


def test_no_social_meta_without_site_url(site_root: Path) -> None:
    config = write_site(site_root, {"p.md": page("x", title="P")}, site_url=None)
    assert build(config).returncode == 0
    assert "og:image" not in page_html(config, "p")


@pytest.mark.parametrize(
    ("key", "value"),
    [("banner_prompt", 123), ("banner_size", "big"), ("banner_quality", "ultra"), ("banner_variant", -1),
     ("banner_provider", "nope"), ("banner_variant", True), ("banner_prompt", "")],
)
def test_bad_front_matter_stops_the_build_naming_file_and_key(site_root: Path, key: str, value: object) -> None:
    front = {"title": "Bad", "banner_prompt": "fine prompt", key: value}
    config = write_site(site_root, {"posts/bad.md": page(**front)})
    result = build(config)
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if line.startswith("ERROR")]
    assert len(errors) == 1, result.stderr
    assert "posts/bad.md" in errors[0] and f"'{key}'" in errors[0]
    assert "Traceback" not in result.stderr


def test_unknown_banner_key_is_a_warning(site_root: Path) -> None:
    config = write_site(site_root, {"p.md": page("x", title="P", banner_colour="red")})
    result = build(config)
    assert result.returncode == 0
    assert any("banner_colour" in w and "p.md" in w for w in warnings_of(result))


def test_unknown_model_lists_known_models(site_root: Path) -> None:
    config = write_site(site_root, {"p.md": page("x", title="P", banner_model="stable-diffusion-9")})
    result = build(config)
    assert result.returncode != 0
    assert "p.md" in result.stderr and "banner_model" in result.stderr and "gpt-image-2" in result.stderr
    assert "Traceback" not in result.stderr


def test_cache_dir_outside_project_needs_absolute_path(site_root: Path) -> None:
    config = write_site(site_root, {"p.md": page("x", title="P")}, {"cache_dir": "../elsewhere"})
    result = build(config)
    assert result.returncode != 0 and "cache_dir" in result.stderr
