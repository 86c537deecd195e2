"""Routing, cache keys and image fitting, tested directly."""

from __future__ import annotations

import io
import re
from dataclasses import replace
from pathlib import Path

import pytest
from PIL import Image

from mkdocs_imagegen.build.session import BannerSession
from mkdocs_imagegen.build.settings import Settings
from mkdocs_imagegen.errors import ConfigError, InvalidImageError, UnknownModelError
from mkdocs_imagegen.imaging import encode, fit, load_source, render
from mkdocs_imagegen.plugin.markup import head_end, inject_head
from mkdocs_imagegen.providers.credentials import Credentials, KeyStore
from mkdocs_imagegen.providers.registry import Registry
from mkdocs_imagegen.request import GenerationRequest, Size


def registry(tmp_path: Path, env: dict[str, str], order: list[str] | None = None,
             aliases: dict[str, str] | None = None) -> Registry:
    credentials = Credentials(environ=env, store=KeyStore(tmp_path / "keys.json"))
    options = {"order": order} if order else None
    return Registry.from_options(options, aliases=aliases, credentials=credentials)


AZURE = {"AZURE_OPENAI_ENDPOINT": "http://127.0.0.1:9/azure", "AZURE_OPENAI_API_KEY": "azure-secret-key-0001"}
OPENAI = {"OPENAI_API_KEY": "sk-openai-secret-key-0001"}
GEMINI = {"GEMINI_API_KEY": "gemini-secret-key-0001"}


class TestRouting:
    def test_first_authenticated_provider_in_order_wins(self, tmp_path: Path) -> None:
        assert registry(tmp_path, AZURE | OPENAI).route("gpt-image-2").provider.name == "foundry"
        assert registry(tmp_path, OPENAI).route("gpt-image-2").provider.name == "openai"
        reordered = registry(tmp_path, AZURE | OPENAI, order=["openai", "foundry", "google"])
        assert reordered.route("gpt-image-2").provider.name == "openai"

    def test_model_decides_the_provider(self, tmp_path: Path) -> None:
        routes = registry(tmp_path, AZURE | OPENAI | GEMINI)
        assert routes.route("gemini-3.1-flash-image").provider.name == "google"
        # The retired preview name is sent as its GA successor (shut down 2026-06-25).
        assert routes.route("gemini-3.1-flash-image").model == "gemini-3.1-flash-image"

    def test_stored_key_authenticates_and_environment_wins(self, tmp_path: Path) -> None:
        store = KeyStore(tmp_path / "keys.json")
        store.set("openai", "sk-stored-key-000000001")
        reg = Registry.from_options(None, credentials=Credentials(environ={}, store=store))
        assert reg.route("gpt-image-2").provider.name == "openai"
        credentials = Credentials(environ={"OPENAI_API_KEY": "sk-env-key-0000000001"}, store=store)
        assert credentials.secret("openai", "OPENAI_API_KEY") == ("sk-env-key-0000000001", "OPENAI_API_KEY")

    def test_forced_provider(self, tmp_path: Path) -> None:
        routes = registry(tmp_path, AZURE | OPENAI)
        assert routes.route("gpt-image-2", forced="openai").provider.name == "openai"
        assert routes.route("gpt-image-2", forced="placeholder").is_placeholder
        with pytest.raises(ConfigError, match="does not serve"):
            routes.route("gpt-image-2", forced="google")
        with pytest.raises(ConfigError, match="not authenticated"):
            registry(tmp_path, AZURE).route("gpt-image-2", forced="openai")

    def test_unknown_model_lists_known_models(self, tmp_path: Path) -> None:
        with pytest.raises(UnknownModelError) as caught:
            registry(tmp_path, {}).route("stable-diffusion-9")
        message = str(caught.value)
        assert "stable-diffusion-9" in message
        for model in ("gpt-image-2", "gemini-3.1-flash-image", "gpt-image-1-mini"):
            assert model in message

    def test_alias(self, tmp_path: Path) -> None:
        routes = registry(tmp_path, OPENAI, aliases={"hero": "gpt-image-2", "cheap": "gpt-image-1-mini"})
        route = routes.route("hero")
        assert (route.model, route.provider.name) == ("gpt-image-2", "openai")
        with pytest.raises(UnknownModelError, match="alias"):
            registry(tmp_path, OPENAI, aliases={"hero": "stable-diffusion-9"}).route("hero")

    def test_nobody_authenticated_falls_back_to_placeholder_naming_candidates(self, tmp_path: Path) -> None:
        route = registry(tmp_path, {}).route("gpt-image-2")
        assert route.is_placeholder
        assert [p.name for p in route.unauthenticated] == ["foundry", "openai"]
        assert all("OPENAI" in p.auth_hint() or "AZURE" in p.auth_hint() for p in route.unauthenticated)


class TestCacheKey:
    base = GenerationRequest(prompt="a lighthouse", model="gpt-image-2", size=Size(1792, 1024),
                             quality="auto", variant=0)

    def test_stable_and_hex(self) -> None:
        assert self.base.cache_key == replace(self.base).cache_key
        assert len(self.base.cache_key) == 64

    @pytest.mark.parametrize("change", [
        {"prompt": "a lighthouse!"}, {"model": "gpt-image-1.5"}, {"size": Size(1024, 1024)},
        {"quality": "high"}, {"variant": 1},
    ])
    def test_generation_parameters_change_it(self, change: dict[str, object]) -> None:
        assert replace(self.base, **change).cache_key != self.base.cache_key

    def test_provider_paths_concurrency_and_format_do_not(self, tmp_path: Path) -> None:
        def key_for(env: dict[str, str], **settings: object) -> str:
            base = Settings(model="gpt-image-2", size=Size(1792, 1024), quality="auto", fmt="webp",
                            cache_dir=tmp_path / "cache-a")
            session = BannerSession(replace(base, **settings), registry=registry(tmp_path, env))
            from mkdocs_imagegen.pages.frontmatter import BannerSpec

            planned = session.plan(BannerSpec(prompt="a lighthouse"), "posts/a.md")
            return planned.request.cache_key

        reference = key_for(AZURE)
        assert key_for(OPENAI) == reference  # another provider
        assert key_for(AZURE, cache_dir=tmp_path / "elsewhere") == reference  # another path
        assert key_for(AZURE, concurrency=16) == reference
        assert key_for(AZURE, fmt="png") == reference
        assert key_for(AZURE, offline=True) == reference


def _png(width: int, height: int) -> bytes:
    image = Image.new("RGB", (width, height), (200, 30, 30))
    # A marker column in the middle: centre-cropping must keep it centred.
    for y in range(height):
        image.putpixel((width // 2, y), (0, 255, 0))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


class TestFit:
    @pytest.mark.parametrize("source", [(2752, 1536), (1024, 1536), (1024, 1024), (1376, 768), (640, 480)])
    @pytest.mark.parametrize("target", [Size(1792, 1024), Size(1024, 1024), Size(800, 1200), Size(1200, 630)])
    def test_exact_size_from_any_source(self, source: tuple[int, int], target: Size) -> None:
        published = Image.open(io.BytesIO(render(_png(*source), target, "png")))
        assert published.size == (target.width, target.height)

    @pytest.mark.parametrize("fmt", ["webp", "png", "jpeg"])
    def test_encodes_requested_format(self, fmt: str) -> None:
        published = Image.open(io.BytesIO(render(_png(1376, 768), Size(1792, 1024), fmt)))
        assert published.format.lower() == fmt

    def test_centre_crop_keeps_the_centre(self) -> None:
        fitted = fit(Image.open(io.BytesIO(_png(2000, 1000))), Size(1000, 1000))
        r, g, b = fitted.getpixel((500, 500))
        assert g > 150 and r < 150  # the green marker column is still in the middle
        assert fitted.getpixel((5, 500))[0] > 150

    def test_rejects_non_images_and_bombs(self) -> None:
        with pytest.raises(InvalidImageError):
            load_source(b"<html>not an image</html>")
        with pytest.raises(InvalidImageError):
            load_source(_png(1024, 1024)[:200])
        huge = Image.new("1", (8000, 8000))
        buffer = io.BytesIO()
        huge.save(buffer, "PNG")
        with pytest.raises(InvalidImageError, match="pixel cap"):
            load_source(buffer.getvalue())

    def test_encode_rejects_unknown_format(self) -> None:
        with pytest.raises(ValueError):
            encode(Image.new("RGB", (20, 20)), "gif")


def test_social_tags_go_before_the_first_head_end_in_any_case() -> None:
    html = "<HTML><HEAD><title>t</title></HEAD ><body><script>let s = '</head>';</script></body></HTML>"
    end = head_end(html)
    assert end == html.index("</HEAD >")
    assert inject_head(html, "<meta name=x>", end).index("<meta name=x>") < html.index("<body>")
    assert inject_head("<p>no head</p>", "<meta name=x>", head_end("<p>no head</p>")) == "<p>no head</p>"


def test_the_pipeline_names_the_provider_and_model_of_any_error_a_provider_raises() -> None:
    from mkdocs_imagegen.build.sending import generate_with_retries
    from mkdocs_imagegen.errors import BadRequestError, ImagegenError
    from mkdocs_imagegen.providers.base import Provider
    from mkdocs_imagegen.providers.registry import Route

    class Terse(Provider):  # a provider that says why, but not who or what
        name, label = "openai", "OpenAI"

        def is_authenticated(self) -> bool:
            return True

        def auth_hint(self) -> str:
            return ""

        def generate(self, request, *, timeout):  # noqa: ANN001, ANN201
            raise BadRequestError("size not accepted")

    request = GenerationRequest(prompt="p", model="gpt-image-2", size=Size(64, 64))
    with pytest.raises(ImagegenError) as caught:
        generate_with_retries(request, Route("gpt-image-2", Terse()), retries=0, timeout=1)
    assert str(caught.value) == "openai gpt-image-2: size not accepted"


def documented_tree() -> tuple[dict[str, str], set[str]]:
    """From the docstring of errors.py: each error's parent in the drawn tree, and the signals listed outside it."""
    from mkdocs_imagegen import errors

    tree, _, outside = (errors.__doc__ or "").partition("Signals outside the tree")
    parents: dict[str, str] = {}
    ancestors: list[str] = []
    for line in tree.splitlines():
        match = re.match(r"^    ([│ ]*)(?:[├└]── )?([A-Z]\w+Error|ImagegenError|[A-Z]\w+) {2,}", line)
        if match is None:
            continue
        depth = len(match.group(1)) // 4 + (1 if "──" in line else 0)
        ancestors[depth:] = [match.group(2)]
        parents[match.group(2)] = ancestors[depth - 1] if depth else ""
    signals = {match.group(1) for match in re.finditer(r"^    (\w+) {2,}", outside, re.MULTILINE)}
    return parents, signals


def test_every_error_class_is_in_the_documented_tree() -> None:
    """Every exception class any module defines is drawn in the tree under its parent, or named as a signal
    that never reaches a user."""
    import importlib
    import inspect
    import pkgutil

    import mkdocs_imagegen
    from mkdocs_imagegen.errors import ImagegenError

    parents, signals = documented_tree()
    assert parents["ImagegenError"] == "" and parents["RateLimitedError"] == "TransientError"
    found: dict[str, type[BaseException]] = {}
    for info in pkgutil.walk_packages(mkdocs_imagegen.__path__, "mkdocs_imagegen."):
        module = importlib.import_module(info.name)
        for name, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, BaseException) and cls.__module__ == module.__name__:
                found[f"{module.__name__}.{name}"] = cls
    outside = [where for where, cls in found.items() if not issubclass(cls, ImagegenError)
               and cls.__name__ not in signals]
    assert outside == [], f"exception classes outside the tree of errors.py: {outside}"
    for where, cls in found.items():
        if issubclass(cls, ImagegenError):
            assert cls.__name__ in parents, f"{where} is missing from the tree in errors.py"
            parent = cls.__bases__[0].__name__ if cls is not ImagegenError else ""
            assert parents[cls.__name__] == parent, f"{where}: the tree draws it under {parents[cls.__name__]}"
