"""Reference images and a house style (`style`, `style_reference`, `banner_style`, `banner_reference`), end to end
against the emulator: what is sent where, what each banner looks like, what the cache keys on, what is refused."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
from pathlib import Path

import pytest
from PIL import Image

from mkdocs_imagegen.defaults import DEFAULT_MODEL

from sitekit import banner_file, build, page, write_site

HOUSE = (200, 30, 30)
BLUE = (30, 30, 200)
GREEN = (30, 200, 30)
STYLE = "flat pastel illustration, soft morning light"


def solid(path: Path, colour: tuple[int, int, int], size: tuple[int, int] = (64, 48), fmt: str = "PNG") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, colour).save(path, fmt)
    return path


def background(path: Path) -> tuple[int, int, int]:
    """The published banner's background colour (the emulator draws its answer on the references' mean colour)."""
    with Image.open(path) as image:
        rgb = image.convert("RGB")
        return rgb.getpixel((rgb.width - 4, rgb.height - 4))


def near(colour: tuple[int, int, int], expected: tuple[int, int, int], tolerance: int = 12) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(colour, expected, strict=True))


def series_site(root: Path) -> Path:
    """Five pages: the house reference on Gemini, MAI and Foundry; an own reference through OpenAI; two own
    references through Foundry; one page without the style text."""
    docs = root / "docs"
    solid(docs / "style" / "house.png", HOUSE)
    solid(docs / "art" / "blue.png", BLUE)
    solid(docs / "art" / "green.jpg", GREEN, fmt="JPEG")
    pages = {
        "posts/gemini.md": page("A lighthouse at dawn", title="Gemini"),
        "posts/openai.md": page("A harbour", title="OpenAI", banner_model="gpt-image-2", banner_provider="openai",
                                banner_reference="../art/blue.png"),
        "posts/plain.md": page("A boat", title="Plain", banner_model="gpt-image-2", banner_style=""),
        "posts/mai.md": page("A gull", title="MAI", banner_model="MAI-Image-2.5"),
        "posts/two.md": page("A pier", title="Two", banner_model="gpt-image-2", banner_provider="foundry",
                             banner_reference=["/art/blue.png", "/art/green.jpg"]),
    }
    return write_site(root, pages, {"style": STYLE, "style_reference": "style/house.png"})


def by_prompt(emulator, start: str):  # noqa: ANN001, ANN201
    found = [r for r in emulator.image_requests() if (r.prompt or "").startswith(start)]
    assert len(found) == 1, [r.prompt for r in emulator.image_requests()]
    return found[0]


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_a_series_shares_the_house_style_and_each_banner_shows_its_own_reference(site_root: Path, emulator) -> None:
    config = series_site(site_root)
    result = build(config, "--strict", env=emulator.env())
    assert result.returncode == 0, result.stderr
    house = sha((site_root / "docs/style/house.png").read_bytes())
    blue = sha((site_root / "docs/art/blue.png").read_bytes())
    green = sha((site_root / "docs/art/green.jpg").read_bytes())

    gemini = by_prompt(emulator, "A lighthouse")
    assert gemini.path.endswith(f"{DEFAULT_MODEL}:generateContent")
    parts = gemini.body["contents"][0]["parts"]
    inline = [part["inlineData"] for part in parts if "inlineData" in part]
    assert len(inline) == 1 and parts[-1]["text"] == f"A lighthouse at dawn\n\n{STYLE}"  # images, then the text
    assert sha(base64.urlsafe_b64decode(inline[0]["data"])) == house

    openai = by_prompt(emulator, "A harbour")
    assert (openai.provider, openai.path) == ("openai", "/v1/images/edits")
    assert openai.headers["content-type"].startswith("multipart/form-data")
    assert openai.body["prompt"] == f"A harbour\n\n{STYLE}"
    assert [part["sha256"] for part in openai.body["image"]] == [blue]  # its own reference, not the house one

    plain = by_prompt(emulator, "A boat")
    assert plain.path == "/azure/openai/v1/images/edits" and plain.body["prompt"] == "A boat"
    assert [part["sha256"] for part in plain.body["image"]] == [house]

    mai = by_prompt(emulator, "A gull")
    assert mai.path == "/azure/mai/v1/images/edits" and "width" not in mai.body
    assert mai.body["prompt"] == f"A gull\n\n{STYLE}"
    assert [part["sha256"] for part in mai.body["image"]] == [house]

    two = by_prompt(emulator, "A pier")
    assert two.path == "/azure/openai/v1/images/edits" and two.body["prompt"] == f"A pier\n\n{STYLE}"
    assert "input_fidelity" not in two.body  # gpt-image-2 refuses it
    assert [part["sha256"] for part in two.body["image[]"]] == [blue, green]

    assert near(background(banner_file(config, "posts/gemini")), HOUSE)
    assert near(background(banner_file(config, "posts/openai")), BLUE)
    assert near(background(banner_file(config, "posts/plain")), HOUSE)
    assert near(background(banner_file(config, "posts/mai")), HOUSE)
    mean = tuple(round((a + b) / 2) for a, b in zip(BLUE, GREEN, strict=True))
    assert near(background(banner_file(config, "posts/two")), mean)

    provenance = [json.loads(p.read_text()) for p in (site_root / ".banners" / "originals").glob("*.json")]
    two_record = next(record for record in provenance if record["prompt"] == "A pier")
    assert two_record["references"] == [{"sha256": blue, "path": "art/blue.png"},
                                        {"sha256": green, "path": "art/green.jpg"}]
    assert two_record["parameters"]["style"] == STYLE

    emulator.reset()
    assert build(config, "--strict", env=emulator.env()).returncode == 0
    assert emulator.image_requests() == []


def test_moving_a_reference_costs_nothing_and_one_pixel_regenerates_exactly_its_pages(site_root: Path,
                                                                                       emulator) -> None:
    config = series_site(site_root)
    assert build(config, "--strict", env=emulator.env()).returncode == 0
    docs = site_root / "docs"
    (docs / "brand").mkdir()
    os.rename(docs / "style" / "house.png", docs / "brand" / "house.png")
    (docs / "art" / "blue.png").rename(docs / "blue.png")
    text = config.read_text().replace("style/house.png", "/brand/house.png")
    config.write_text(text)
    for name, old, new in (("openai", "../art/blue.png", "../blue.png"), ("two", "/art/blue.png", "/blue.png")):
        path = docs / "posts" / f"{name}.md"
        path.write_text(path.read_text().replace(old, new))
    emulator.reset()
    result = build(config, "--strict", env=emulator.env())
    assert result.returncode == 0, result.stderr
    assert emulator.image_requests() == []

    with Image.open(docs / "blue.png") as image:
        image = image.convert("RGB")
        image.putpixel((0, 0), (31, 30, 200))
        image.save(docs / "blue.png")
    emulator.reset()
    assert build(config, "--strict", env=emulator.env()).returncode == 0
    assert sorted(r.prompt.split("\n")[0] for r in emulator.image_requests()) == ["A harbour", "A pier"]


def test_a_large_reference_is_downscaled_and_the_sent_bytes_are_the_hashed_ones(site_root: Path, emulator) -> None:
    docs = site_root / "docs"
    solid(docs / "big.png", GREEN, size=(6000, 3000))
    config = write_site(site_root, {"index.md": page("A field", banner_reference="big.png")})
    result = build(config, "--strict", env=emulator.env())
    assert result.returncode == 0, result.stderr
    assert "reference big.png is downscaled to 4096x2048" in result.stderr
    sent = by_prompt(emulator, "A field").body["contents"][0]["parts"][0]["inlineData"]
    data = base64.urlsafe_b64decode(sent["data"])
    with Image.open(io.BytesIO(data)) as image:
        assert image.size == (4096, 2048)
    record = json.loads(next((site_root / ".banners" / "originals").glob("*.json")).read_text())
    assert record["references"] == [{"sha256": sha(data), "path": "big.png"}]
    assert near(background(banner_file(config, "")), GREEN)


def _outside_link(root: Path) -> str:
    outside = solid(root / "outside.png", BLUE)
    (root / "docs").mkdir(parents=True, exist_ok=True)
    (root / "docs" / "link.png").symlink_to(outside)
    return "link.png"


def _sparse_file(root: Path) -> str:
    path = root / "docs" / "huge.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as handle:
        handle.truncate(51 * 1024 * 1024)
    return "huge.png"


def _bomb(root: Path) -> str:
    from mkdocs_imagegen.emulator.images import bomb_png

    path = root / "docs" / "bomb.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bomb_png())
    return "bomb.png"


def _not_image(root: Path) -> str:
    path = root / "docs" / "notes.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("just some notes, not a picture")
    return "notes.png"


def _other_format(root: Path, fmt: str) -> str:
    solid(root / "docs" / "scan.png", BLUE, fmt=fmt)
    return "scan.png"


def _four(root: Path) -> list[str]:
    return [solid(root / "docs" / f"r{i}.png", BLUE).name for i in range(4)]


BAD_INPUTS = {
    # case: (make the reference(s) under root -> what the page writes, model, expected words in the one line)
    "missing": (lambda root: "nowhere.png", None, "'nowhere.png': no such file"),
    "not an image": (_not_image, None, "'notes.png' is not a PNG, JPEG or WebP image"),
    "a TIFF named .png": (lambda root: _other_format(root, "TIFF"), None, "'scan.png' is not a PNG, JPEG or WebP"),
    "a BMP named .png": (lambda root: _other_format(root, "BMP"), None, "'scan.png' is not a PNG, JPEG or WebP"),
    "too many for the model": (_four, "gemini-2.5-flash-image", "names 4 images; model 'gemini-2.5-flash-image' "
                                                                "takes at most 3"),
    "over the size limit": (_sparse_file, None, "'huge.png' is 53,477,376 bytes; a reference may be at most"),
    "over the pixel limit": (_bomb, None, "'bomb.png' has too many pixels; a reference may have at most 64,000,000"),
    "leaves docs_dir": (lambda root: solid(root / "outside.png", BLUE) and "../outside.png", None,
                        "'../outside.png' is outside docs_dir"),
    "symlink out of docs_dir": (_outside_link, None, "'link.png' is a link to a file outside docs_dir"),
    "model takes none": (lambda root: solid(root / "docs" / "ok.png", BLUE).name, "MAI-Image-2",
                         "model 'MAI-Image-2' takes no reference images"),
}


@pytest.mark.parametrize("case", BAD_INPUTS)
def test_bad_reference_is_one_line_naming_page_and_key_and_nothing_is_paid(site_root: Path, emulator,
                                                                          case: str) -> None:
    make, model, words = BAD_INPUTS[case]
    written = make(site_root)
    front = {"banner_reference": written, **({"banner_model": model} if model else {})}
    config = write_site(site_root, {"page.md": page("A bad reference", **front)})
    result = build(config, env=emulator.env())
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if "Error" in line or "ERROR" in line]
    line = next(line for line in errors if "page.md" in line)
    assert "ERROR   -  page.md: front matter key 'banner_reference'" in line and words in line, result.stderr
    assert "Traceback" not in result.stderr
    assert emulator.requests == []


def test_an_eps_named_png_is_refused_without_running_ghostscript(site_root: Path, emulator, tmp_path: Path) -> None:
    tools = tmp_path / "bin"
    tools.mkdir()
    ran = tmp_path / "gs-ran"
    (tools / "gs").write_text(f"#!/bin/sh\ntouch {ran}\nexit 1\n")
    (tools / "gs").chmod(0o755)
    eps = site_root / "docs" / "art.png"
    eps.parent.mkdir(parents=True)
    eps.write_bytes(b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 64 48\n0 0 moveto 64 48 lineto stroke\n%%EOF\n")
    config = write_site(site_root, {"page.md": page("An EPS", banner_reference="art.png")})
    result = build(config, env={**emulator.env(), "PATH": f"{tools}{os.pathsep}{os.environ['PATH']}"})
    assert result.returncode == 1 and "'art.png' is not a PNG, JPEG or WebP image" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and not ran.exists() and emulator.requests == []


def test_a_bad_house_reference_names_the_option_and_how_a_page_drops_it(site_root: Path, emulator) -> None:
    config = write_site(site_root, {"post.md": page("A post")}, {"style_reference": ["brand/missing.png"]})
    result = build(config, env=emulator.env())
    assert result.returncode == 1
    assert ("post.md: plugin option 'style_reference' (the page sets no banner_reference): 'brand/missing.png': "
            "no such file (style_reference paths are relative to docs_dir)") in result.stderr
    assert emulator.requests == []


def test_house_references_are_dropped_for_a_model_only_by_banner_reference_empty(site_root: Path, emulator) -> None:
    solid(site_root / "docs" / "house.png", HOUSE)
    pages = {"a.md": page("Old model", banner_model="MAI-Image-2"),
             "b.md": page("Old model, no references", banner_model="MAI-Image-2", banner_reference=[])}
    config = write_site(site_root, pages, {"style_reference": "house.png"})
    result = build(config, env=emulator.env())
    assert result.returncode == 1
    assert ("a.md: plugin option 'style_reference' (the page sets no banner_reference): model 'MAI-Image-2' "
            "takes no reference images; set banner_reference: [] on this page to send none") in result.stderr
    (site_root / "docs" / "a.md").unlink()
    emulator.reset()
    result = build(config, "--strict", env=emulator.env())
    assert result.returncode == 0, result.stderr
    (request,) = emulator.image_requests()
    assert request.path == "/azure/mai/v1/images/generations"


def test_without_style_or_references_the_cache_key_is_unchanged() -> None:
    from mkdocs_imagegen.request import GenerationRequest, Reference, Size

    # Computed by the release before references existed (97cb2f3): a site without them must never repay.
    before = GenerationRequest("A cat", "gpt-image-2", Size(1792, 1024), "high", 3, style="")
    assert before.cache_key == "8cb8f96a1c2f3f62d0aed8f32a936e81987e6dc5641c075cd76706c997766294"
    plain = GenerationRequest("A cat", "gpt-image-2", Size(1792, 1024))
    styled = GenerationRequest("A cat", "gpt-image-2", Size(1792, 1024), style="ink")
    one = Reference(b"x", "image/png", sha(b"x"), path="a.png")
    moved = Reference(b"x", "image/png", sha(b"x"), path="elsewhere/a.png")
    other = Reference(b"y", "image/png", sha(b"y"), path="a.png")
    keyed = [GenerationRequest("A cat", "gpt-image-2", Size(1792, 1024), references=(r,)).cache_key
             for r in (one, moved, other)]
    assert len({plain.cache_key, styled.cache_key, keyed[0], keyed[2]}) == 4
    assert keyed[0] == keyed[1]  # a moved file: the same banner


# --- the emulator's edit endpoints: the providers' own error bodies ------------------------------------------


def png(colour: tuple[int, int, int] = BLUE) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (32, 32), colour).save(out, "PNG")
    return out.getvalue()


def post_edit(emulator, path: str, files: list, data: dict, headers: dict):  # noqa: ANN001, ANN201
    import httpx

    return httpx.post(emulator.url + path, data=data, files=files, headers=headers, timeout=10)


OPENAI_EDIT = ("/v1/images/edits", {"model": "gpt-image-2", "prompt": "x"}, "openai")
AZURE_EDIT = ("/azure/openai/v1/images/edits", {"model": "gpt-image-2", "prompt": "x"}, "foundry")


@pytest.mark.parametrize(("path", "data", "provider"), [OPENAI_EDIT, AZURE_EDIT])
def test_openai_protocol_edits_refuse_a_bad_image_and_too_many_images(emulator, path: str, data: dict,
                                                                      provider: str) -> None:
    key = emulator.keys[provider]
    headers = {"authorization": f"Bearer {key}"} if provider == "openai" else {"api-key": key}
    bad = post_edit(emulator, path, [("image", ("a.png", b"\x89PNG\r\n\x1a\nbroken", "image/png"))], data, headers)
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "invalid_image_file"
    assert bad.json()["error"]["message"].startswith("Invalid image file or mode for image 1")
    many = post_edit(emulator, path, [("image[]", (f"{i}.png", png(), "image/png")) for i in range(17)], data, headers)
    assert many.status_code == 400
    assert many.json()["error"]["code"] == "array_above_max_length"
    wrong_type = post_edit(emulator, path, [("image", ("a.txt", b"hello", "text/csv"))], data, headers)
    assert wrong_type.json()["error"]["code"] == "unsupported_file_mimetype"
    two = [("image[]", (f"{name}.png", png(), "image/png")) for name in "ab"]
    good = post_edit(emulator, path, two, data, headers)
    assert good.status_code == 200, good.text


def test_mai_edit_takes_one_jpeg_or_png(emulator) -> None:
    headers = {"api-key": emulator.keys["foundry"]}
    data = {"model": "MAI-Image-2.5", "prompt": "x"}
    path = "/azure/mai/v1/images/edits"
    two = post_edit(emulator, path, [("image", (f"{name}.png", png(), "image/png")) for name in "ab"], data, headers)
    assert two.status_code == 400 and "at most 1" in two.json()["error"]["message"]
    bad = post_edit(emulator, path, [("image", ("a.png", b"not a png", "image/png"))], data, headers)
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "InvalidImage"
    old = post_edit(emulator, path, [("image", ("a.png", png(), "image/png"))], {**data, "model": "MAI-Image-2"},
                    headers)
    assert old.status_code == 400 and "does not support image edits" in old.json()["error"]["message"]


def test_gemini_refuses_an_unreadable_inline_image_and_too_many(emulator) -> None:
    import httpx

    def ask(images: list[bytes]) -> httpx.Response:
        parts = [{"inlineData": {"mimeType": "image/png", "data": base64.b64encode(i).decode()}} for i in images]
        body = {"contents": [{"parts": [*parts, {"text": "x"}]}],
                "generationConfig": {"responseModalities": ["IMAGE"]}}
        return httpx.post(f"{emulator.url}/v1beta/models/gemini-2.5-flash-image:generateContent", json=body,
                          headers={"x-goog-api-key": emulator.keys["google"]}, timeout=10)

    bad = ask([b"garbage"])
    assert bad.status_code == 400
    assert bad.json()["error"]["message"].startswith("Unable to process input image")
    assert bad.json()["error"]["status"] == "INVALID_ARGUMENT"
    assert ask([png()] * 4).status_code == 400  # gemini-2.5-flash-image takes 3
    assert ask([png()] * 3).status_code == 200


def test_a_provider_refusing_a_reference_is_one_clear_line_and_not_retried(emulator, tmp_path: Path) -> None:
    """A reference our checks pass but the provider refuses: the provider's reason, quoted once, no retry."""
    from mkdocs_imagegen.errors import BadRequestError
    from mkdocs_imagegen.providers.base import ProviderContext
    from mkdocs_imagegen.providers.credentials import Credentials
    from mkdocs_imagegen.providers.openai import OpenAIProvider
    from mkdocs_imagegen.request import GenerationRequest, Reference, Size

    provider = OpenAIProvider(ProviderContext(credentials=Credentials(environ=emulator.env())))
    broken = Reference(b"\x89PNG\r\n\x1a\nbroken", "image/png", sha(b"broken"), "a.png")
    request = GenerationRequest("A cat", "gpt-image-2", Size(1024, 1024), references=(broken,))
    with pytest.raises(BadRequestError) as raised:
        provider.generate(request, timeout=10)
    assert "invalid_image_file: Invalid image file or mode for image 1" in raised.value.message
    assert len(emulator.image_requests()) == 1


# --- generate --reference and plan ---------------------------------------------------------------------------


def cli(*args: str, env: dict[str, str], cwd: Path):  # noqa: ANN201
    import subprocess
    import sys

    from sitekit import PROVIDER_VARIABLES

    full = {k: v for k, v in os.environ.items() if k not in PROVIDER_VARIABLES} | env
    return subprocess.run([sys.executable, "-m", "mkdocs_imagegen", *args], capture_output=True, text=True,
                          env=full, cwd=cwd, timeout=60)


def test_generate_sends_each_reference_and_refuses_bad_ones_with_exit_2(emulator, tmp_path: Path) -> None:
    solid(tmp_path / "blue.png", BLUE)
    solid(tmp_path / "green.png", GREEN)
    result = cli("generate", "A kite", "-m", "gpt-image-2", "--provider", "openai", "--reference", "blue.png",
                 "--reference", "green.png", "-o", "kite.png", env=emulator.env(), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    (request,) = emulator.image_requests()
    assert request.path == "/v1/images/edits" and len(request.body["image[]"]) == 2
    mean = tuple(round((a + b) / 2) for a, b in zip(BLUE, GREEN, strict=True))
    assert near(background(tmp_path / "kite.png"), mean)
    for args, words in ((["--reference", "missing.png"], "'missing.png': no such file"),
                        (["-m", "MAI-Image-2", "--reference", "blue.png"], "takes no reference images"),
                        (["-m", "gemini-2.5-flash-image", *["--reference", "blue.png"] * 4], "takes at most 3")):
        refused = cli("generate", "A kite", *args, env=emulator.env(), cwd=tmp_path)
        assert refused.returncode == 2 and words in refused.stderr, refused.stderr
    assert len(emulator.image_requests()) == 1


def test_plan_shows_which_pages_send_references(site_root: Path, emulator) -> None:
    config = series_site(site_root)
    result = cli("plan", "-f", str(config), env=emulator.env(), cwd=site_root)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert any("posts/two.md" in line and "references art/blue.png, art/green.jpg" in line for line in lines)
    assert any("posts/gemini.md" in line and "references style/house.png" in line for line in lines)
    assert "  references   5 page(s) send reference images: art/blue.png, art/green.jpg, style/house.png" in lines
    rows = json.loads(cli("plan", "-f", str(config), "--json", env=emulator.env(), cwd=site_root).stdout)["pages"]
    plain = next(row for row in rows if row["page"] == "posts/plain.md")
    assert plain["style"] is None and [r["path"] for r in plain["references"]] == ["style/house.png"]
    assert emulator.requests == []


def test_front_matter_and_options_refuse_wrong_types_in_one_line(site_root: Path) -> None:
    config = write_site(site_root, {"a.md": page("A", banner_reference={"path": "x.png"})})
    result = build(config)
    assert result.returncode == 1
    assert "a.md: front matter key 'banner_reference': expected an image path or a list of paths, got dict" \
        in result.stderr
    config = write_site(site_root, {"a.md": page("A", banner_style=["ink"])})
    assert "a.md: front matter key 'banner_style': expected text, got list" in build(config).stderr
    config = write_site(site_root, {"a.md": page("A")}, {"style_reference": [3]})
    result = build(config)
    assert result.returncode == 1 and "option 'style_reference': expected image paths, got 3" in result.stderr


def test_serve_regenerates_when_the_house_reference_is_edited(site_root: Path, emulator) -> None:
    from test_serve import LATENCY, Server, wait_until

    emulator.latency = LATENCY  # as in test_serve: the banner lands once the preview watches the cache
    house = solid(site_root / "docs" / "house.png", HOUSE)
    write_site(site_root, {"post.md": page("A lantern", title="Post")}, {"style_reference": "house.png"},
               site_url=None)
    server = Server(site_root, emulator.env())
    try:
        wait_until(lambda: server.has_real_banner("post"), LATENCY + 30, "the first real banner")
        first = server.banner("post")
        solid(house, BLUE)  # the writer repaints the house reference while the preview runs
        wait_until(lambda: server.has_real_banner("post") and server.banner("post") != first, LATENCY + 30,
                   "the banner made from the edited reference")
    finally:
        print(server.stop())
    sent = [sha(base64.urlsafe_b64decode(r.body["contents"][0]["parts"][0]["inlineData"]["data"]))
            for r in emulator.image_requests()]
    assert len(sent) == 2 and sent[1] == sha(house.read_bytes()) != sent[0]


# --- what is sent: modes, orientation, formats, limits -------------------------------------------------------


def _cmyk(path: Path) -> None:
    Image.new("CMYK", (64, 48), (0, 200, 200, 40)).save(path.with_suffix(".jpg"), "JPEG")


def _palette(path: Path) -> None:
    Image.new("RGB", (64, 48), BLUE).convert("P", palette=Image.Palette.ADAPTIVE).save(path.with_suffix(".png"))


def _grey16(path: Path) -> None:
    Image.new("I;16", (64, 48), 32768).save(path.with_suffix(".png"))


def _rotated(path: Path) -> None:
    """Stored 80x40 with EXIF orientation 6: a viewer shows it 40x80, turned a quarter."""
    image = Image.new("RGB", (80, 40), GREEN)
    exif = image.getexif()
    exif[0x0112] = 6
    image.save(path.with_suffix(".jpg"), "JPEG", exif=exif)


@pytest.mark.parametrize(("make", "suffix", "colour"), [
    (_cmyk, ".jpg", None), (_palette, ".png", BLUE), (_grey16, ".png", (128, 128, 128)), (_rotated, ".jpg", GREEN),
])
def test_references_openai_would_refuse_are_sent_as_upright_8_bit_rgb(site_root: Path, emulator, make, suffix: str,
                                                                      colour) -> None:  # noqa: ANN001
    base = site_root / "docs" / "ref"
    base.parent.mkdir(parents=True, exist_ok=True)
    make(base)
    config = write_site(site_root, {"index.md": page("A mode", banner_model="gpt-image-2", banner_provider="openai",
                                                      banner_reference=f"ref{suffix}")})
    result = build(config, "--strict", env=emulator.env())  # the emulator refuses modes but RGB / RGBA, as OpenAI does
    assert result.returncode == 0, result.stderr
    sent = next((site_root / ".banners" / "originals").glob("*.json"))
    (request,) = emulator.image_requests()
    assert request.body["image"][0]["sha256"] == json.loads(sent.read_text())["references"][0]["sha256"]
    if colour is not None:
        assert near(background(banner_file(config, "")), colour, tolerance=16)


def test_a_sent_reference_is_the_fitted_bytes(tmp_path: Path) -> None:
    """Unit: what `fit_reference` returns for each case (mode, orientation, MAI's formats, a byte budget)."""
    from mkdocs_imagegen.catalogue.lookup import default_catalogue
    from mkdocs_imagegen.pages.references import ReferenceLoader, fit_reference, per_image_budget

    rotated = tmp_path / "r"
    _rotated(rotated)
    loader = ReferenceLoader(tmp_path)
    rule = default_catalogue().get("gpt-image-2").references
    (upright,) = loader.load(("r.jpg",), rule)
    with Image.open(io.BytesIO(upright.data)) as image:
        assert image.size == (40, 80) and image.mode == "RGB" and image.getexif().get(0x0112, 1) == 1

    webp = io.BytesIO()
    Image.new("RGB", (64, 48), BLUE).save(webp, "WEBP")
    mai = default_catalogue().get("MAI-Image-2.5").references
    converted = fit_reference(webp.getvalue(), "a.webp", mai, per_image_budget(mai, 1))
    assert converted.mime_type in ("image/png", "image/jpeg") and converted.data != webp.getvalue()
    kept = fit_reference(webp.getvalue(), "a.webp", rule, per_image_budget(rule, 1))
    assert kept.data == webp.getvalue() and kept.mime_type == "image/webp"

    noisy = Image.effect_noise((1200, 800), 90).convert("RGB")
    out = io.BytesIO()
    noisy.save(out, "PNG")
    gemini = default_catalogue().get("gemini-3-pro-image").references
    budget = 150_000
    fitted = fit_reference(out.getvalue(), "noise.png", gemini, budget)
    assert len(fitted.data) <= budget < len(out.getvalue()) and fitted.width < 1200
    assert fitted.digest == sha(fitted.data)
    # Fourteen images share Gemini's whole-request limit (inline data is base64, a third larger).
    assert 14 * per_image_budget(gemini, 14) * 4 / 3 < gemini.total_bytes
    assert per_image_budget(gemini, 1) == gemini.max_bytes


def test_gpt_image_1_5_on_foundry_is_sent_input_fidelity(site_root: Path, emulator) -> None:
    solid(site_root / "docs" / "ref.png", BLUE)
    config = write_site(site_root, {"index.md": page("A face", banner_model="gpt-image-1.5", banner_provider="foundry",
                                                      banner_reference="ref.png", banner_size="1536x1024")})
    result = build(config, "--strict", env=emulator.env())
    assert result.returncode == 0, result.stderr
    (request,) = emulator.image_requests()
    assert request.path.endswith("/images/edits") and request.body["input_fidelity"] == "high"


def test_links_inside_docs_dir_work_and_a_folder_is_refused(site_root: Path, emulator) -> None:
    real = solid(site_root / "docs" / "art" / "real.png", BLUE)
    (site_root / "docs" / "alias.png").symlink_to(real)
    (site_root / "docs" / "folder.png").mkdir()
    config = write_site(site_root, {"ok.md": page("Linked", banner_reference="alias.png")})
    assert build(config, "--strict", env=emulator.env()).returncode == 0
    record = json.loads(next((site_root / ".banners" / "originals").glob("*.json")).read_text())
    assert record["references"][0]["path"] == "art/real.png"
    emulator.reset()
    config = write_site(site_root, {"ok.md": page("Folder", banner_reference="folder.png")})
    result = build(config, env=emulator.env())
    assert result.returncode == 1 and "ok.md: front matter key 'banner_reference': 'folder.png' is not a file" \
        in result.stderr
    assert emulator.requests == []


def test_a_prompt_the_style_pushes_over_the_limit_is_one_line_and_nothing_is_sent(site_root: Path, emulator) -> None:
    config = write_site(site_root, {"long.md": page("x" * 31_990)}, {"style": "ink and watercolour"})
    result = build(config, env=emulator.env())
    assert result.returncode == 1
    assert ("long.md: front matter key 'style (plugin option)': banner_prompt and the style text make 32,011 "
            "characters; providers take at most 32,000") in result.stderr
    assert emulator.requests == []


def test_backfill_batch_sends_references_to_gemini_jobs_and_openai_ones_synchronously(site_root: Path,
                                                                                     emulator, env) -> None:  # noqa: ANN001
    from test_cli import run

    emulator.batches.delay = None  # the job finishes when the test says so
    solid(site_root / "docs" / "house.png", HOUSE)
    pages = {"a.md": page("A gemini page", size="512x288"),
             "b.md": page("An openai page", banner_model="gpt-image-2", banner_provider="openai")}
    config = write_site(site_root, pages, {"style": STYLE, "style_reference": "house.png", "size": "512x288"})
    result = run("backfill", "-f", str(config), "--batch", "--yes")
    assert result.exit_code == 0, result.stderr
    assert "b.md  gpt-image-2 via openai [now]" in result.stdout  # a JSONL line cannot carry images/edits' files
    (synchronous,) = emulator.image_requests()
    assert synchronous.path == "/v1/images/edits"
    ((job),) = emulator.batches.jobs.values()
    ((request, _, error),) = job.entries
    assert error is None and request.references == 1 and request.prompt == f"A gemini page\n\n{STYLE}"
    emulator.batches.finish()
    assert run("backfill", "-f", str(config), "--collect").exit_code == 0
    built = build(config, "--strict", env=env)
    assert built.returncode == 0 and "2 cached" in built.stderr, built.stderr
    assert near(background(banner_file(config, "a")), HOUSE)

