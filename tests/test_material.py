"""Material for MkDocs with its blog plugin: the example site, post excerpts, and the social plugin.

Every build here is a real `mkdocs build` of a copy of `example_site/` (or of a throwaway site),
with no credentials or against the emulator; nothing writes into the repository.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from mkdocs.utils.meta import get_data

from sitekit import banner_sources, build, image_info, page, warnings_of, write_site

EXAMPLE = Path(__file__).resolve().parent.parent / "example_site"
SITE_URL = "https://example.org/index-cards/"
IMG = re.compile(r"<img\s[^>]*>", re.IGNORECASE)
META = re.compile(r"<meta\s[^>]*>", re.IGNORECASE)


@dataclass(frozen=True)
class Post:
    """A post of the example site with a banner, and what its built page must show."""

    name: str
    url_dir: str  # e.g. blog/2026/11/01/a-brain-made-of-stacked-index-cards
    title: str
    alt: str
    size: tuple[int, int]
    model: str | None


def example_config() -> dict[str, Any]:
    return yaml.safe_load((EXAMPLE / "mkdocs.yml").read_text(encoding="utf-8"))


def _plugin_options(config: dict[str, Any], name: str) -> dict[str, Any] | None:
    for entry in config.get("plugins", []):
        if entry == name:
            return {}
        if isinstance(entry, dict) and name in entry:
            return entry[name] or {}
    return None


def _slug(title: str) -> str:
    """The slug Material's blog derives from a post title (its default `post_slugify`)."""
    from pymdownx.slugs import slugify

    return slugify(case="lower")(title, "-")


def _size(text: str) -> tuple[int, int]:
    width, height = text.lower().split("x")
    return int(width), int(height)


def example_posts() -> list[Post]:
    """Posts of example_site with a `banner_prompt`, read from their front matter."""
    default_size = _size(str((_plugin_options(example_config(), "imagegen") or {}).get("size", "1792x1024")))
    posts = []
    for path in sorted((EXAMPLE / "docs" / "blog" / "posts").glob("*.md")):
        _, meta = get_data(path.read_text(encoding="utf-8"))
        if "banner_prompt" not in meta:
            continue
        when = meta["date"]
        when = when if isinstance(when, (date, datetime)) else datetime.fromisoformat(str(when))
        slug = meta.get("slug") or _slug(meta["title"])
        posts.append(Post(
            name=path.stem,
            url_dir=f"blog/{when:%Y/%m/%d}/{slug}",
            title=meta["title"],
            alt=meta.get("banner_alt") or meta["title"],
            size=_size(meta["banner_size"]) if "banner_size" in meta else default_size,
            model=meta.get("banner_model"),
        ))
    return posts


def copy_example(dest: Path) -> Path:
    """A copy of example_site without any built site or banner cache; returns its mkdocs.yml."""
    shutil.copytree(EXAMPLE, dest, ignore=shutil.ignore_patterns("site", ".banners", ".cache", "*.png"))
    return dest / "mkdocs.yml"


def meta_contents(html: str, key: str) -> list[str]:
    """`content` of every <meta property|name=key>, in document order."""
    found = []
    for tag in META.findall(html):
        if re.search(rf"""(?:property|name)\s*=\s*["']{re.escape(key)}["']""", tag):
            content = re.search(r"""content\s*=\s*["']([^"']*)["']""", tag)
            found.append(content.group(1) if content else "")
    return found


def html_of(site: Path, url_dir: str) -> str:
    return (site / url_dir / "index.html").read_text(encoding="utf-8")


def article(html: str) -> str:
    """The page's main content: Material puts it in <article class="md-content__inner ...">."""
    match = re.search(r'<article class="md-content__inner[^"]*">(.*?)</article>', html, re.DOTALL)
    assert match, "no Material article in the page"
    return match.group(1)


def assert_images_resolve(site: Path, url_dir: str, html: str) -> None:
    for tag in IMG.findall(html):
        src = re.search(r'src="([^"]+)"', tag)
        assert src, f"<img> without src on {url_dir}: {tag}"
        if re.match(r"^[a-z]+:", src.group(1)):
            continue
        target = (site / url_dir / src.group(1)).resolve()
        assert target.is_file(), f"broken image on {url_dir}: {src.group(1)}"


def check_post(site: Path, post: Post) -> str:
    """One banner, on top of the post, and exactly one og:image that is that banner."""
    html = html_of(site, post.url_dir)
    body = article(html)
    [src] = banner_sources(body)
    banner = (site / post.url_dir / src).resolve()
    assert banner.is_file(), f"{post.name}: banner {src} missing"
    assert image_info(banner)[0] == post.size
    img = re.search(r'<p class="imagegen-banner">(<img [^>]+>)', body).group(1)
    assert f'alt="{post.alt}"' in img
    assert f'width="{post.size[0]}"' in img and f'height="{post.size[1]}"' in img
    assert body.index("imagegen-banner") < body.index("<h1"), f"{post.name}: banner is not at the top"
    site_path = banner.relative_to(site.resolve()).as_posix()
    assert meta_contents(html, "og:image") == [SITE_URL + site_path], post.name
    assert meta_contents(html, "twitter:image") == [SITE_URL + site_path], post.name
    assert meta_contents(html, "og:image:alt") == [post.alt]
    return site_path


def test_example_site_is_a_material_blog() -> None:
    config = example_config()
    assert config["theme"]["name"] == "material"
    assert _plugin_options(config, "blog") is not None
    assert _plugin_options(config, "imagegen") is not None
    assert config["site_url"] == SITE_URL
    posts = example_posts()
    assert len(posts) >= 4
    assert any(post.model is None for post in posts), "a post on the default model"
    assert any(post.model == "gpt-image-2" for post in posts)
    assert any(post.alt != post.title for post in posts), "a post with banner_alt"
    assert any(post.size == (1024, 1024) for post in posts), "a square post"
    plain = [path.name for path in (EXAMPLE / "docs").rglob("*.md")
             if "banner_prompt" not in get_data(path.read_text(encoding="utf-8"))[1]]
    assert "about.md" in plain, "a page without a banner"


def test_example_site_builds_without_credentials(tmp_path: Path) -> None:
    """The README's first command: no keys, so every banner is a placeholder, and the build passes."""
    config = copy_example(tmp_path / "example_site")
    result = build(config)
    assert result.returncode == 0, result.stderr
    assert any("not authenticated" in line for line in warnings_of(result))
    site = tmp_path / "example_site" / "site"
    for post in example_posts():
        check_post(site, post)
    for url_dir in ["", "about"]:
        html = html_of(site, url_dir)
        assert banner_sources(html) == [] and meta_contents(html, "og:image") == []


def test_blog_views_show_each_excerpt_once_without_markers_or_broken_images(tmp_path: Path) -> None:
    """The blog index, archive and category pages render post excerpts from the posts' Markdown."""
    config = copy_example(tmp_path / "example_site")
    assert build(config).returncode == 0
    site = tmp_path / "example_site" / "site"
    views = [path.parent.relative_to(site).as_posix() for path in site.glob("blog/**/index.html")
             if not re.match(r"blog/\d{4}/\d\d/\d\d/", path.relative_to(site).as_posix())]
    assert "blog" in views and any(v.startswith("blog/archive") for v in views)
    assert any(v.startswith("blog/category") for v in views)
    for url_dir in views:
        html = html_of(site, url_dir)
        assert "<!-- mkdocs-imagegen" not in html, f"raw banner marker on {url_dir}"
        assert_images_resolve(site, url_dir, html)
    index = html_of(site, "blog")
    for post in example_posts():
        # Material links each excerpt's title; a second copy of the heading means the post's
        # own `# Title` was not recognised as its title.
        assert index.count(f">{post.title}</a></h2>") == 1, f"{post.title} shown {index.count(post.title)} times"
    for path in site.rglob("*.html"):
        assert "mkdocs-imagegen:banner" not in path.read_text(encoding="utf-8"), path


def test_example_site_with_real_banners(tmp_path: Path, emulator: Any) -> None:
    config = copy_example(tmp_path / "example_site")
    result = build(config, "--strict", env=emulator.env())
    assert result.returncode == 0, result.stderr
    assert warnings_of(result) == []
    posts = example_posts()
    assert len(emulator.image_requests()) == len(posts)
    site = tmp_path / "example_site" / "site"
    paths = {check_post(site, post) for post in posts}
    assert len(paths) == len(posts), "every post has its own banner"
    assert not any("placeholder" in path for path in paths)


def test_post_title_comes_from_its_heading(site_root: Path) -> None:
    """A post with a banner but no `title:` is still titled by its `# heading`."""
    pages = {
        "index.md": "# Home\n",
        "blog/index.md": "# Blog\n",
        "blog/posts/heading.md": "---\ndate: 2026-01-02\nbanner_prompt: a heading made of cards\n---\n\n"
                                 "# Heading only\n\nText.\n",
    }
    config = write_site(site_root, pages, extra={"theme": {"name": "material", "font": False},
                                                 "plugins": ["blog", "imagegen"]})
    assert build(config).returncode == 0
    html = html_of(site_root / "site", "blog/2026/01/02/heading-only")
    assert "<title>Heading only - Test site</title>" in html
    assert 'alt="Heading only"' in article(html)
    assert html_of(site_root / "site", "blog").count(">Heading only</a></h2>") == 1


# -- Material's social plugin ------------------------------------------------------------------

FONT_CANDIDATES = {  # under /usr/share/fonts/truetype: Debian's fonts-dejavu-core, or fonts-liberation (chromium's)
    "Regular": ["dejavu/DejaVuSans.ttf", "liberation/LiberationSans-Regular.ttf",
                "liberation2/LiberationSans-Regular.ttf"],
    "Bold": ["dejavu/DejaVuSans-Bold.ttf", "liberation/LiberationSans-Bold.ttf", "liberation2/LiberationSans-Bold.ttf"],
}


def social_plugin_ready(root: Path) -> None:
    """Skip unless the social plugin can render cards here, offline.

    It needs `mkdocs-material[imaging]` (Pillow, CairoSVG) and the Cairo library, and it downloads
    its font from Google Fonts unless the font is in its cache: we seed that cache with a system font.
    """
    try:
        import cairosvg  # noqa: F401
    except (ImportError, OSError) as error:
        pytest.skip("Material's social plugin needs `pip install 'mkdocs-material[imaging]'` and the Cairo "
                    f"library (`apt-get install libcairo2`): {error}")
    fonts = root / ".cache" / "plugin" / "social" / "fonts" / "Test Sans"
    for style, candidates in FONT_CANDIDATES.items():
        found = next((Path("/usr/share/fonts/truetype", c) for c in candidates
                      if Path("/usr/share/fonts/truetype", c).is_file()), None)
        if found is None:
            pytest.skip("no DejaVu or Liberation font under /usr/share/fonts/truetype for the social cards "
                        "(apt-get install fonts-dejavu-core); the plugin would download one from Google Fonts")
        fonts.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(found, fonts / f"{style}.ttf")


SOCIAL_PAGES = {
    "index.md": page(title="Home", body="No banner."),
    "blog/index.md": "# Blog\n",
    "blog/posts/banner.md": page("a lighthouse of notebooks", title="Banner post", date=date(2026, 2, 1),
                                 banner_alt="A lighthouse"),
    "blog/posts/square.md": page("a sticky note", title="Square post", date=date(2026, 2, 2), banner_size="1024x1024"),
    "blog/posts/plain.md": page(title="Plain post", date=date(2026, 2, 3)),
    "own.md": page("own image prompt", title="Own", image="https://cdn.example.org/own.png"),
    "card.md": page("keeps its card", title="Card", social={"cards": True}),
}
SOCIAL = {"social": {"cards_layout_options": {"font_family": "Test Sans"}}}


def social_site(root: Path, order: list[Any], options: dict[str, Any] | None = None) -> Path:
    social_plugin_ready(root)
    plugins = [{"imagegen": options or {}} if p == "imagegen" else p for p in order]
    return write_site(root, SOCIAL_PAGES, site_url=SITE_URL,
                      extra={"theme": {"name": "material", "font": False}, "plugins": plugins})


def card_path(site: Path, url: str) -> Path:
    assert url.startswith(SITE_URL), url
    return site / url.removeprefix(SITE_URL)


@pytest.mark.parametrize("order", [["blog", "imagegen", SOCIAL], ["blog", SOCIAL, "imagegen"]],
                         ids=["imagegen-first", "social-first"])
def test_social_plugin_banner_pages_use_the_banner_others_keep_their_card(site_root: Path, order: list[Any]) -> None:
    config = social_site(site_root, order)
    result = build(config)
    assert result.returncode == 0, result.stderr
    site = site_root / "site"
    cards = site / "assets" / "images" / "social"
    for url_dir in ["blog/2026/02/01/banner-post", "blog/2026/02/02/square-post"]:
        html = html_of(site, url_dir)
        [src] = banner_sources(html)
        banner = (site / url_dir / src).resolve().relative_to(site.resolve()).as_posix()
        assert meta_contents(html, "og:image") == [SITE_URL + banner], url_dir
        assert meta_contents(html, "twitter:image") == [SITE_URL + banner], url_dir
        assert len(meta_contents(html, "twitter:card")) == 1
        assert not (cards / f"{url_dir}.png").exists(), f"a social card was rendered for {url_dir} despite its banner"
    own = html_of(site, "own")
    assert meta_contents(own, "og:image") == ["https://cdn.example.org/own.png"]
    for url_dir in ["", "blog", "blog/2026/02/03/plain-post", "card"]:
        html = html_of(site, url_dir)
        [og] = meta_contents(html, "og:image")
        assert "/assets/images/social/" in og and card_path(site, og).is_file(), (url_dir, og)
        assert meta_contents(html, "og:title"), f"{url_dir} lost its social card's tags"
    # A page that asks for its card in front matter keeps it, and still shows its banner.
    assert len(banner_sources(html_of(site, "card"))) == 1


def test_social_plugin_keeps_cards_when_social_meta_is_off(site_root: Path) -> None:
    config = social_site(site_root, ["blog", SOCIAL, "imagegen"], {"social_meta": False})
    assert build(config).returncode == 0
    html = html_of(site_root / "site", "blog/2026/02/01/banner-post")
    assert len(banner_sources(html)) == 1
    [og] = meta_contents(html, "og:image")
    assert "/assets/images/social/" in og
