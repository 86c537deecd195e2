"""Issue 14, the page and config side: odd images, titles and options, and what a new user noticed.

Each test builds a real site (or feeds real image bytes through the imaging functions the pipeline
uses) and checks what a user sees: the published pixels, the HTML, the one line on stderr.
"""

from __future__ import annotations

import contextlib
import io
import re
import signal
import struct
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from PIL import Image

from mkdocs_imagegen.emulator import Emulator, Fault
from mkdocs_imagegen.errors import InvalidImageError
from mkdocs_imagegen.imaging import PUBLISH_FORMATS, encode, fit, load_source
from mkdocs_imagegen.request import Size

from sitekit import build, page, page_html, warnings_of, write_site

DOCS = Path(__file__).resolve().parent.parent / "docs"
OPENAI = {"model": "gpt-image-2", "providers": {"order": ["openai"]}}
WIDTH, HEIGHT = 256, 64


# -- 9. every colour mode a provider can send is published as the picture it is ------------------


def _gradient_values(top: int) -> list[int]:
    """A left-to-right ramp 0..top, row after row."""
    return [round(x / (WIDTH - 1) * top) for x in range(WIDTH)] * HEIGHT


def _png(image: Image.Image, **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG", **params)
    return buffer.getvalue()


def _sixteen_bit_png() -> bytes:
    image = Image.frombytes("I;16", (WIDTH, HEIGHT), struct.pack(f"<{WIDTH * HEIGHT}H", *_gradient_values(65535)))
    data = _png(image)
    with Image.open(io.BytesIO(data)) as check:
        assert check.mode == "I;16", "the fixture must be a 16-bit grey PNG"
    return data


def _grey_ramp() -> Image.Image:
    return Image.frombytes("L", (WIDTH, HEIGHT), bytes(_gradient_values(255)))


def _as_bytes(mode: str) -> bytes:
    ramp = _grey_ramp()
    if mode == "I;16":
        return _sixteen_bit_png()
    if mode == "LA":
        return _png(Image.merge("LA", (ramp, Image.new("L", ramp.size, 255))))
    if mode == "CMYK":
        buffer = io.BytesIO()
        ramp.convert("RGB").convert("CMYK").save(buffer, "JPEG", quality=95)
        return buffer.getvalue()
    return _png(ramp.convert(mode))


def _published_row(data: bytes, fmt: str) -> list[int]:
    """The grey level across the middle row of the banner the cache would publish from `data`."""
    source = load_source(data, provider="openai", model="gpt-image-2")
    published = encode(fit(source.image, Size(WIDTH // 2, HEIGHT // 2)), fmt)
    with Image.open(io.BytesIO(published)) as image:
        rgb = image.convert("RGB")
        return [sum(rgb.getpixel((x, HEIGHT // 4))) // 3 for x in range(0, WIDTH // 2, 8)]


def _assert_gradient(row: list[int]) -> None:
    assert row[0] < 30 and row[-1] > 225, row
    assert 90 < row[len(row) // 2] < 170, f"the middle of a 0..max ramp must be mid-grey, not {row}"
    assert all(b >= a - 6 for a, b in zip(row, row[1:], strict=False)), f"not a ramp: {row}"


@pytest.mark.parametrize("fmt", PUBLISH_FORMATS)
def test_a_sixteen_bit_png_is_published_as_its_gradient_not_white(fmt: str) -> None:
    _assert_gradient(_published_row(_sixteen_bit_png(), fmt))


@pytest.mark.parametrize("mode", ["I;16", "L", "LA", "P", "CMYK", "RGBA"])
def test_every_mode_pillow_opens_from_a_provider_file_keeps_the_picture(mode: str) -> None:
    _assert_gradient(_published_row(_as_bytes(mode), "png"))


@pytest.mark.parametrize("mode", ["I", "F", "I;16B", "I;16L"])
def test_wide_grey_images_handed_to_fit_are_scaled_not_clipped(mode: str) -> None:
    sixteen = Image.frombytes("I;16", (WIDTH, HEIGHT), struct.pack(f"<{WIDTH * HEIGHT}H", *_gradient_values(65535)))
    image = sixteen.convert("I") if mode == "I" else sixteen.convert("I").convert("F") if mode == "F" else (
        Image.frombytes(mode, (WIDTH, HEIGHT), struct.pack(f"{'>' if mode.endswith('B') else '<'}{WIDTH * HEIGHT}H",
                                                           *_gradient_values(65535))))
    fitted = fit(image, Size(WIDTH, HEIGHT))
    row = [fitted.getpixel((x, 0))[0] for x in range(0, WIDTH, 16)]
    _assert_gradient(row)


def test_transparent_pixels_are_flattened_onto_white_not_their_hidden_colour() -> None:
    palette = Image.new("P", (WIDTH, HEIGHT), 0)
    palette.putpalette([0, 0, 0] + [200, 30, 30] * 255)  # index 0: black, and transparent
    palette.paste(1, (WIDTH // 2, 0, WIDTH, HEIGHT))
    source = load_source(_png(palette, transparency=0))
    rgb = fit(source.image, Size(WIDTH, HEIGHT))
    assert rgb.getpixel((2, 2)) == (255, 255, 255), "a transparent pixel shows the page, not black"
    assert rgb.getpixel((WIDTH - 2, 2)) == (200, 30, 30)


def test_a_mode_that_cannot_be_converted_is_refused_naming_it() -> None:
    with pytest.raises(InvalidImageError, match="colour mode La"):
        fit(Image.new("La", (WIDTH, HEIGHT)), Size(WIDTH, HEIGHT))


# -- 10 and 11: titles from a heading ---------------------------------------------------------------


def _meta(html: str, name: str) -> list[str]:
    return re.findall(rf'<meta (?:property|name)="{re.escape(name)}" content="([^"]*)"', html)


def test_a_heading_title_is_escaped_once_in_alt_og_and_twitter(site_root: Path) -> None:
    pages = {"tips.md": "---\nbanner_prompt: a box of tools\n---\n\n# Tips & tricks\n\nText.\n"}
    config = write_site(site_root, pages)
    result = build(config)
    assert result.returncode == 0, result.stderr
    html = page_html(config, "tips")
    assert "&amp;amp;" not in html
    assert 'alt="Tips &amp; tricks"' in html
    assert _meta(html, "og:title") == ["Tips &amp; tricks"]
    assert _meta(html, "twitter:title") == ["Tips &amp; tricks"]
    assert _meta(html, "og:image:alt") == ["Tips &amp; tricks"]


def test_a_head_end_tag_in_a_heading_code_span_leaves_the_social_tags_in_the_head(site_root: Path) -> None:
    pages = {"index.md": "# Home\n",
             "close.md": "---\nbanner_prompt: a closing tag\n---\n\n# Use `</head>` last\n\nText.\n"}
    config = write_site(site_root, pages, extra={"theme": {"name": "material", "font": False}})
    result = build(config)
    assert result.returncode == 0, result.stderr
    html = page_html(config, "close")
    title = re.search(r"<title>.*?</title>", html, re.DOTALL)
    assert title is not None and "</head>" in title.group(0), "Material writes the code span as text in <title>"
    assert "<meta" not in title.group(0), f"social tags landed in the title: {title.group(0)[:300]}"
    head_end = html.index("</head>", title.end())
    og = html.index('property="og:image"')
    assert title.end() < og < head_end
    assert _meta(html, "og:title") == ["Use &lt;/head&gt; last"]
    assert 'alt="Use &lt;/head&gt; last"' in html


# -- 15 and 16: a bad cache_dir or output_dir is one line ------------------------------------------


def _one_error(result: subprocess.CompletedProcess[str], *words: str) -> str:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("ERROR")]
    assert len(errors) == 1, result.stderr
    for word in words:
        assert word in errors[0], errors[0]
    return errors[0]


def test_cache_dir_that_is_a_file_is_one_line(site_root: Path) -> None:
    config = write_site(site_root, {"p.md": page("a prompt", title="P")}, {"cache_dir": "notes.txt"})
    (site_root / "notes.txt").write_text("not a folder", encoding="utf-8")
    _one_error(build(config), "cache_dir 'notes.txt'", "is a file")


def test_output_dir_that_is_a_page_is_one_line(site_root: Path) -> None:
    pages = {"index.md": page("a prompt", title="Home"), "p.md": page("another", title="P")}
    config = write_site(site_root, pages, {"output_dir": "index.html"})
    _one_error(build(config), "output_dir 'index.html'", "index.md")


@pytest.mark.parametrize("output_dir", ["banners?v=2", "assets/#banners"])
def test_output_dir_with_a_url_delimiter_is_refused(site_root: Path, output_dir: str) -> None:
    config = write_site(site_root, {"p.md": page("a prompt", title="P")}, {"output_dir": output_dir})
    _one_error(build(config), f"output_dir '{output_dir}'")


@pytest.mark.parametrize("site_url", ["https://example.org/blog/?utm=1", "https://example.org/blog/#top"])
def test_site_url_with_a_query_or_fragment_gets_no_broken_social_urls_and_one_warning(
        site_root: Path, site_url: str) -> None:
    pages = {"a.md": page("a prompt", title="A"), "b.md": page("b prompt", title="B")}
    config = write_site(site_root, pages, site_url=site_url)
    result = build(config)
    assert result.returncode == 0, result.stderr
    said = [w for w in warnings_of(result) if "site_url" in w]
    assert len(said) == 1 and ("query" in said[0] or "fragment" in said[0]), result.stderr
    for page_dir in ("a", "b"):
        html = page_html(config, page_dir)
        assert _meta(html, "og:image") == [] and _meta(html, "twitter:image") == []


# -- 19: what a new user noticed ------------------------------------------------------------------


def test_banner_size_read_as_a_number_says_to_quote_it(site_root: Path) -> None:
    pages = {"p.md": "---\nbanner_prompt: a prompt\nbanner_size: 0x0\n---\n\n# P\n"}
    error = _one_error(build(write_site(site_root, pages)), "p.md", "banner_size")
    assert "number 0" in error and "quote" in error, error
    assert not error.endswith("got 0")


def test_social_meta_without_site_url_is_said_once(site_root: Path) -> None:
    pages = {"a.md": page("a prompt", title="A"), "b.md": page("b prompt", title="B")}
    config = write_site(site_root, pages, site_url=None)
    result = build(config)
    assert result.returncode == 0, result.stderr
    said = [line for line in result.stderr.splitlines() if "site_url" in line]
    assert len(said) == 1 and "og:" in said[0], result.stderr
    assert "og:image" not in page_html(config, "a")


def test_social_meta_off_without_site_url_says_nothing(site_root: Path) -> None:
    config = write_site(site_root, {"a.md": page("a prompt", title="A")}, {"social_meta": False}, site_url=None)
    result = build(config)
    assert result.returncode == 0 and "site_url" not in result.stderr, result.stderr


def test_progress_line_counts_failures_apart_from_ready_banners(tmp_path: Path,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    """The line a long build prints every few seconds, for one failed and one pending banner (no timing)."""
    import logging
    from concurrent.futures import Future

    from mkdocs_imagegen.build.jobs import Job, Outcome, Settled
    from mkdocs_imagegen.build.session import BannerSession
    from mkdocs_imagegen.build.settings import Settings
    from mkdocs_imagegen.errors import ImagegenError
    from mkdocs_imagegen.request import GenerationRequest

    session = BannerSession(Settings(model="gpt-image-2", size=Size(64, 64), quality="auto", fmt="webp",
                                     cache_dir=tmp_path / ".banners"), log=logging.getLogger("progress-test"))
    failed = Job(GenerationRequest("a", "gpt-image-2", Size(64, 64)), None,
                 Settled(Outcome(error=ImagegenError("server error 500"))))
    pending = Job(GenerationRequest("b", "gpt-image-2", Size(64, 64)), None, Future())
    with caplog.at_level(logging.INFO, logger="progress-test"):
        session._progress_logger(0.0, [failed, pending])(1, 2)  # what Pipeline.wait reports: 1 of 2 done
    [line] = caplog.messages
    assert re.search(r"imagegen: 0/2 banners ready \(1 failed\) after \d+s", line), line
    session.close()


HOOK = '''
import time
from pathlib import Path

def on_page_markdown(markdown, page, config, files):
    """Read the last page only once the first page's banner is generated (after its retry) and published."""
    if page.file.src_uri == "b.md":
        renditions = Path(config.config_file_path).parent / ".banners" / "renditions"
        deadline = time.monotonic() + 20
        while not (renditions.is_dir() and any(renditions.iterdir())) and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.3)  # the job's future settles just after its rendition lands
    return markdown
'''


def test_generating_is_announced_before_any_retry_and_counts_banners_already_done(
        site_root: Path, emulator: Emulator) -> None:
    pages = {"a.md": page("retried once", title="A"), "b.md": page("second banner", title="B")}
    emulator.add_fault(Fault(provider="openai", kind="rate_limit", match="retried once", retry_after=0.05))
    config = write_site(site_root, pages, OPENAI, extra={"hooks": ["hook.py"]})
    (site_root / "hook.py").write_text(HOOK, encoding="utf-8")
    result = build(config, env=emulator.env())
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    retry = next(i for i, line in enumerate(lines) if "retry 1/" in line)
    first = next((i for i, line in enumerate(lines) if "imagegen: generating" in line), None)
    assert first is not None and first < retry, result.stderr
    assert re.search(r"imagegen: generating 2 banner\(s\) now: 2 × gpt-image-2 via openai", result.stderr), (
        result.stderr)
    assert "2 generated" in result.stderr


def test_docs_and_help_show_that_keys_list_takes_no_provider() -> None:
    docs = "".join(path.read_text(encoding="utf-8") for path in DOCS.rglob("*.md"))
    assert "list\\|remove PROVIDER" not in docs and "mkdocs-imagegen keys list" in docs
    result = subprocess.run([sys.executable, "-m", "mkdocs_imagegen", "keys", "--help"], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0
    assert re.search(r"keys list\s+show every stored key", result.stdout), result.stdout
    assert "keys set PROVIDER" in result.stdout and "keys remove PROVIDER" in result.stdout


def _fetch(url: str) -> None:
    with contextlib.suppress(urllib.error.HTTPError):
        urllib.request.urlopen(url, timeout=10).close()  # noqa: S310 - loopback


def test_emulator_command_prints_a_line_per_request_and_a_count_on_exit() -> None:
    process = subprocess.Popen([sys.executable, "-m", "mkdocs_imagegen", "emulator", "--port", "0"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        exports = {}
        assert process.stdout is not None
        while "OPENAI_BASE_URL" not in exports:
            line = process.stdout.readline()
            assert line, "the emulator exited before printing its exports"
            name, _, value = line.removeprefix("export ").strip().partition("=")
            exports[name] = value.strip("'")
        base = exports["OPENAI_BASE_URL"].rstrip("/")
        _fetch(f"{base}/no-such-route?key=SECRET-IN-QUERY")
        _fetch(f"{base}/models")
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    lines = [line for line in stderr.splitlines() if line.startswith("#")]
    assert len(lines) == 2, stderr
    assert re.match(r"#1 GET /v1/no-such-route -> 404 in \d+\.\d\ds$", lines[0]), lines
    assert "SECRET-IN-QUERY" not in stderr
    assert "2 request(s) answered, 0 of them image generation(s)" in stderr


def test_emulator_built_by_tests_prints_nothing(capfd: pytest.CaptureFixture[str]) -> None:
    with Emulator() as emulator:
        _fetch(f"{emulator.url}/v1/nowhere")
        assert len(emulator.requests) == 1
    captured = capfd.readouterr()
    assert captured.out == "" and captured.err == ""
