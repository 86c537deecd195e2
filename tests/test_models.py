"""Models that stay current: the catalogue, retired names, names released tomorrow, near misses,
`models:` in mkdocs.yml, and falling through to the next provider when one has no such model."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import pytest

from mkdocs_imagegen.catalogue.lookup import Catalogue, default_catalogue, packaged_data
from mkdocs_imagegen.errors import UnknownModelError
from mkdocs_imagegen.providers.credentials import Credentials, KeyStore
from mkdocs_imagegen.providers.registry import Registry
from mkdocs_imagegen.request import Size

from sitekit import banner_file, build, page, warnings_of, write_site

TODAY = dt.date(2026, 12, 1)


def registry(tmp_path: Path, env: dict[str, str] | None = None, **options: object) -> Registry:
    credentials = Credentials(environ=env or {}, store=KeyStore(tmp_path / "keys.json"))
    aliases = options.pop("aliases", None)
    return Registry.from_options(options, aliases=aliases, credentials=credentials)  # type: ignore[arg-type]


def plan_json(config: Path, env: dict[str, str] | None = None) -> dict:
    result = subprocess.run([sys.executable, "-m", "mkdocs_imagegen", "plan", "--json", "-f", str(config)],
                            capture_output=True, text=True, timeout=60, env={**_base_env(), **(env or {})})
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _base_env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "GOOGLE_", "GEMINI_", "OPENAI_"))}


# --- the packaged catalogue ---------------------------------------------------------------------------


def test_every_fact_names_its_source_and_the_day_it_was_checked() -> None:
    data = packaged_data()
    for section in ("families", "models", "retired"):
        for name, entry in data[section].items():
            assert entry.get("source", "").startswith("https://"), f"{section}.{name} has no source"
            assert dt.date.fromisoformat(entry["checked"]), f"{section}.{name} has no checked date"


def test_retired_names_are_sent_as_their_documented_successor() -> None:
    catalogue = default_catalogue()
    expected = {
        "gemini-3.1-flash-image-preview": "gemini-3.1-flash-image",
        "gemini-3-pro-image-preview": "gemini-3-pro-image",
        "dall-e-3": "gpt-image-1",  # served by Foundry still: OpenAI's shutdown of gpt-image-1 is OpenAI's only
    }
    for written, sent in expected.items():
        found = catalogue.lookup(written)
        assert found is not None and found.name == sent and found.retired is not None, written
    # At OpenAI, gpt-image-1 (and so dall-e-3) is sent as OpenAI's successor, like a retired name.
    for written in ("gpt-image-1", "dall-e-3"):
        at_openai = catalogue.at_provider(catalogue.lookup(written), "openai")
        assert at_openai.name == "gpt-image-2.5-sunburst" and at_openai.retired is not None, written
        assert catalogue.at_provider(catalogue.lookup(written), "foundry").name == "gpt-image-1"


def test_a_shutdown_date_retires_a_model_on_that_day_and_not_before() -> None:
    before = Catalogue.from_data(packaged_data(), today=dt.date(2026, 11, 30))
    on_the_day = Catalogue.from_data(packaged_data(), today=TODAY)
    assert before.lookup("chatgpt-image-latest").name == "chatgpt-image-latest"
    assert on_the_day.lookup("chatgpt-image-latest").name == "gpt-image-2.6-sunburst"
    assert "chatgpt-image-latest" in on_the_day.former_names("gpt-image-2.6-sunburst")
    # OpenAI's shutdown of gpt-image-1.5 is OpenAI's: Foundry still serves it under its own name.
    assert before.get("gpt-image-1.5").providers == ("foundry", "openai")
    assert on_the_day.lookup("gpt-image-1.5").name == "gpt-image-1.5"
    assert on_the_day.get("gpt-image-1.5").providers == ("foundry",)
    # An announced but unconfirmed shutdown (gemini-2.5-flash-image) does not redirect anything.
    assert on_the_day.lookup("gemini-2.5-flash-image").name == "gemini-2.5-flash-image"


def test_nicknames_people_type_resolve_and_user_aliases_win_over_them(tmp_path: Path) -> None:
    plain = registry(tmp_path)
    assert plain.resolve("nano-banana-2") == "gemini-3.1-flash-image"
    assert plain.resolve("nano-banana-pro") == "gemini-3-pro-image"
    assert plain.resolve("nano-banana") == "gemini-2.5-flash-image"
    assert registry(tmp_path, aliases={"nano-banana-2": "gpt-image-2"}).resolve("nano-banana-2") == "gpt-image-2"


@pytest.mark.parametrize(("name", "providers"), [
    ("gpt-image-3", ("foundry", "openai")),
    ("chatgpt-image-2027", ("openai",)),
    ("gemini-4-flash-image", ("google",)),
    ("nano-banana-3", ("google",)),
    ("MAI-Image-3", ("foundry",)),
])
def test_a_name_released_tomorrow_is_routed_by_its_family(name: str, providers: tuple[str, ...]) -> None:
    found = default_catalogue().lookup(name)
    assert found is not None and found.name == name and not found.info.known
    assert found.info.providers == providers
    assert found.info.estimate(Size(1792, 1024), "auto") is None  # price unknown


@pytest.mark.parametrize(("name", "suggestion"), [
    ("GPT-Image-2", "'gpt-image-2'"),
    ("gemini-3.1-flash-imag", "'gemini-3.1-flash-image'"),
    ("mai-image-2e", "'MAI-Image-2e'"),
])
def test_a_name_no_family_claims_stops_with_did_you_mean(tmp_path: Path, name: str, suggestion: str) -> None:
    with pytest.raises(UnknownModelError) as caught:
        registry(tmp_path).resolve(name)
    message = str(caught.value)
    assert f"unknown model {name!r}; did you mean {suggestion}" in message
    assert "known models: " in message and "gpt-image-2.5-flare" in message and "`models:`" in message


def test_the_known_models_of_an_error_are_ones_a_provider_still_serves(tmp_path: Path) -> None:
    with pytest.raises(UnknownModelError) as caught:
        registry(tmp_path).resolve("stable-diffusion-9")
    known = str(caught.value).split("known models: ", 1)[1].split(";", 1)[0].split(", ")
    assert "gpt-image-2" in known and "gpt-image-1" in known  # still served by Azure AI Foundry
    assert "chatgpt-image-latest" not in known  # shut down everywhere on 2026-12-01: never a name to write


@pytest.mark.parametrize(("name", "suggestion"), [
    ("gemini-3.1-flsh-image", "'gemini-3.1-flash-image'"),  # a letter dropped: the gemini family claims it
    ("gpt-image-2.5-flair", "'gpt-image-2.5-flare'"),  # two letters swapped and changed: gpt-image-* claims it
    ("nano-banana-pr", "'nano-banana-pro'"),  # a nickname, cut short
    ("MAI-Image-2.7-Flahs", "'MAI-Image-2.7-Flash'"),  # two letters swapped
])
def test_a_near_miss_a_family_claims_stops_with_did_you_mean(tmp_path: Path, name: str, suggestion: str) -> None:
    """A typo of a known name is not sent (to 404 and become a placeholder) because a family pattern matches it."""
    with pytest.raises(UnknownModelError) as caught:
        registry(tmp_path).resolve(name)
    assert f"unknown model {name!r}; did you mean {suggestion}" in str(caught.value)


def test_a_near_miss_in_front_matter_stops_the_build_before_any_request(site_root: Path, emulator) -> None:
    pages = {"a.md": page("a lighthouse", title="A", banner_model="gemini-3.1-flsh-image"),
             "b.md": page("a garden", title="B", banner_model="gpt-image-3")}  # a new version: sent as written
    result = build(write_site(site_root, pages), env=emulator.env())
    assert result.returncode != 0
    assert ("a.md: front matter key 'banner_model': unknown model 'gemini-3.1-flsh-image'; "
            "did you mean 'gemini-3.1-flash-image'") in result.stderr, result.stderr
    assert "b.md" not in result.stderr
    assert emulator.image_requests() == []


def test_a_forced_provider_left_out_of_order_keeps_its_options(tmp_path: Path) -> None:
    routes = registry(tmp_path, {"AZURE_OPENAI_API_KEY": "k" * 32}, order=["google"],
                      foundry={"endpoint": "https://banners.openai.azure.com"})
    route = routes.route("gpt-image-2", "foundry")
    assert route.provider.name == "foundry"
    assert route.provider.endpoint == "https://banners.openai.azure.com"  # type: ignore[attr-defined]


# --- sites ----------------------------------------------------------------------------------------------


def test_plan_says_price_unknown_for_an_uncatalogued_model_and_models_option_sets_it(site_root: Path,
                                                                                      emulator) -> None:
    pages = {"new.md": page("a lighthouse", title="New", banner_model="gpt-image-3"),
             "old.md": page("a garden", title="Old", banner_model="gpt-image-2")}
    config = write_site(site_root, pages)
    rows = {row["page"]: row for row in plan_json(config, emulator.env())["pages"]}
    assert rows["new.md"]["model"] == "gpt-image-3" and rows["new.md"]["estimated_cost_usd"] is None
    text = subprocess.run([sys.executable, "-m", "mkdocs_imagegen", "plan", "-f", str(config)], capture_output=True,
                          text=True, timeout=60, env={**_base_env(), **emulator.env()}).stdout
    assert "new.md  gpt-image-3 via foundry" in text and "price unknown" in text

    declared = {"gpt-image-3": {"price": {"by": "flat", "price": 0.5}},
                "gpt-image-2": {"price": {"by": "flat", "price": 0.25}}}
    config = write_site(site_root, pages, {"models": declared})
    rows = {row["page"]: row for row in plan_json(config, emulator.env())["pages"]}
    assert rows["new.md"]["estimated_cost_usd"] == 0.5
    assert rows["old.md"]["estimated_cost_usd"] == 0.25
    assert len(emulator.image_requests()) == 0  # plan never asks a provider


def test_a_bad_models_entry_stops_the_build_in_one_line(site_root: Path) -> None:
    config = write_site(site_root, {"p.md": page("x", title="P")},
                        {"models": {"gpt-image-3": {"sizes": {"kind": "weird"}}}})
    result = build(config)
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if "plugin option 'models'" in line]
    assert errors == ["ERROR   -  imagegen: plugin option 'models': models.gpt-image-3.sizes.kind: expected one of "
                      "tiers, custom, fixed, got 'weird'"], result.stderr
    assert "Traceback" not in result.stderr


def test_an_unknown_model_in_front_matter_names_the_page_key_and_near_miss(site_root: Path) -> None:
    config = write_site(site_root, {"p.md": page("x", title="P", banner_model="GPT-Image-2")})
    result = build(config)
    assert result.returncode != 0
    assert "p.md: front matter key 'banner_model': unknown model 'GPT-Image-2'; did you mean 'gpt-image-2'" \
        in result.stderr
    assert "Traceback" not in result.stderr


def test_a_quality_the_model_does_not_take_names_the_page_and_the_key(site_root: Path) -> None:
    config = write_site(site_root, {"p.md": page("x", title="P", banner_model="gpt-image-2", banner_quality="max")})
    result = build(config)
    assert result.returncode != 0
    assert ("p.md: front matter key 'banner_quality': model 'gpt-image-2' does not take quality 'max'; "
            "it takes low, medium, high, auto") in result.stderr


def test_model_not_found_falls_through_to_the_next_provider_without_retrying(site_root: Path, emulator) -> None:
    config = write_site(site_root, {"p.md": page("a lighthouse", title="P", banner_model="gpt-image-2")},
                        {"providers": {"order": ["foundry", "openai"],
                                       "foundry": {"deployments": {"gpt-image-2": "not-deployed"}}}})
    result = build(config, "--strict", env=emulator.env())
    assert result.returncode == 0, result.stderr
    assert [(r.provider, r.status) for r in emulator.image_requests()] == [("foundry", 404), ("openai", 200)]
    assert "no deployment 'not-deployed'" in result.stderr and "trying OpenAI instead" in result.stderr
    assert "retry" not in result.stderr


def test_model_not_found_on_the_last_provider_is_one_warning_per_page(site_root: Path, emulator) -> None:
    pages = {"a.md": page("a lighthouse", title="A", banner_model="gemini-9-image"),
             "b.md": page("a garden", title="B", banner_model="gemini-9-image")}
    result = build(write_site(site_root, pages), env=emulator.env())
    assert result.returncode == 0, result.stderr
    warnings = [line for line in warnings_of(result) if "gemini-9-image" in line]
    assert len(warnings) == 2 and all("Google Gemini has no model 'gemini-9-image' (404 NOT_FOUND)" in line
                                      for line in warnings), warnings
    assert all("gemini-3.1-flash-image" in line and "models --live" in line for line in warnings)
    assert len(emulator.image_requests()) == 2  # one per page: a 404 is not retried
    assert "is not in the catalogue" in result.stderr  # the info line for a family name


def test_the_docs_models_tables_are_the_catalogue() -> None:
    """The docs' catalogue page is `models --markdown`, made by the docs hook at build time (tests/test_docs.py
    checks the built page names every model)."""
    docs = Path(__file__).parent.parent / "docs"
    page = (docs / "models" / "catalogue.md").read_text(encoding="utf-8")
    assert "<!-- imagegen:models -->" in page and "| `" not in page  # generated, never a pasted copy
    generated = subprocess.run([sys.executable, "-m", "mkdocs_imagegen", "models", "--markdown"],
                               capture_output=True, text=True, timeout=60, check=True).stdout
    for name in default_catalogue().models:
        assert f"`{name}`" in generated
    tomorrow = (docs / "models" / "new-models.md").read_text(encoding="utf-8")
    assert "# A model released tomorrow" in tomorrow and "models:" in tomorrow


# --- found in review: retirements, former names and `models:` entries -----------------------------------


def test_two_retired_names_that_lead_to_one_model_keep_their_own_banners(site_root: Path) -> None:
    from mkdocs_imagegen.emulator import Emulator

    yesterday = Catalogue.from_data(packaged_data(), today=dt.date(2026, 11, 30))
    pages = {"a.md": page("a lighthouse", title="A", banner_model="chatgpt-image-latest"),
             "b.md": page("a lighthouse", title="B", banner_model="gpt-image-1.5-2025-12-16")}
    back_then = {"chatgpt-image-latest": {"providers": ["openai"]},
                 "gpt-image-1.5-2025-12-16": {"family": "gpt-image", "providers": ["openai"]}}
    config = write_site(site_root, pages, {"models": back_then, "providers": {"order": ["openai"]}})
    with Emulator(catalogue=yesterday, extra_models={"openai": ["gpt-image-1.5-2025-12-16"]}) as emu:
        assert build(config, "--strict", env=emu.env()).returncode == 0
    made = {name: banner_file(config, name.removesuffix(".md")).name for name in pages}
    assert made["a.md"] != made["b.md"]

    config = write_site(site_root, pages, {"providers": {"order": ["openai"]}})  # today: both names retired
    result = build(config, "--strict")
    assert result.returncode == 0, result.stderr
    assert {name: banner_file(config, name.removesuffix(".md")).name for name in pages} == made
    pruned = subprocess.run([sys.executable, "-m", "mkdocs_imagegen", "prune", "--dry-run", "-f", str(config)],
                            capture_output=True, text=True, timeout=60, env=_base_env())
    assert "nothing to prune" in pruned.stdout, pruned.stdout


def test_a_models_entry_that_names_no_shutdown_brings_a_retired_model_back() -> None:
    from mkdocs_imagegen.catalogue.lookup import catalogue_with

    assert default_catalogue().lookup("chatgpt-image-latest").name == "gpt-image-2.6-sunburst"
    found = catalogue_with({"chatgpt-image-latest": {"providers": ["openai"]}}).lookup("chatgpt-image-latest")
    assert found.name == "chatgpt-image-latest" and found.retired is None


def test_a_partial_models_entry_keeps_the_fields_it_does_not_name() -> None:
    from mkdocs_imagegen.catalogue.lookup import catalogue_with

    mai = catalogue_with({"MAI-Image-2e": {"sizes": {"max_edge": 1024}}}).get("MAI-Image-2e").sizes
    assert (mai.max_edge, mai.min_edge, mai.max_pixels) == (1024, 768, 1_048_576)
    gemini = catalogue_with({"gemini-3.1-flash-image": {"sizes": {"image_sizes": ["1K", "2K"]}}}).get(
        "gemini-3.1-flash-image").sizes
    assert gemini.kind == "tiers" and gemini.image_sizes == ("1K", "2K") and "8:1" in gemini.aspect_ratios
    price = catalogue_with({"gpt-image-2": {"price": {"square": {"low": 0.01}}}}).get("gpt-image-2").price
    assert price["square"] == {"low": 0.01, "medium": 0.053, "high": 0.211} and price["landscape"]["high"] == 0.165


@pytest.mark.parametrize(("price", "message"), [
    ({"by": "flat"}, "models.gpt-image-9.price.price: expected a price in USD like 0.04, got None"),
    ({"by": "flat", "price": "cheap"}, "models.gpt-image-9.price.price: expected a price in USD like 0.04"),
    ({"by": "quality", "square": "cheap"}, "models.gpt-image-9.price.square: expected quality: price pairs"),
])
def test_a_bad_models_price_stops_the_build_before_anything_is_paid(site_root: Path, emulator, price: dict,
                                                                   message: str) -> None:
    config = write_site(site_root, {"p.md": page("x", title="P", banner_model="gpt-image-9")},
                        {"models": {"gpt-image-9": {"price": price}}})
    result = build(config, env=emulator.env())
    assert result.returncode != 0 and message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and emulator.image_requests() == []


def test_a_provider_without_the_model_is_asked_once_per_build_not_once_per_page(site_root: Path, emulator) -> None:
    emulator.add_model("openai", "gpt-image-9")  # served by OpenAI only; Foundry has no such deployment
    pages = {f"p{i}.md": page(f"a lighthouse number {i}", title=f"P{i}", banner_model="gpt-image-9")
             for i in range(4)}
    config = write_site(site_root, pages, {"providers": {"order": ["foundry", "openai"]}, "concurrency": 1})
    result = build(config, "--strict", env=emulator.env())
    assert result.returncode == 0, result.stderr
    asked = [(r.provider, r.status) for r in emulator.image_requests()]
    assert asked.count(("foundry", 404)) == 1 and asked.count(("openai", 200)) == 4, asked
    assert result.stderr.count("trying OpenAI instead") == 1
