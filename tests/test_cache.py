"""The cache, seen from builds against the emulator: nobody pays twice, nothing is re-encoded."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sitekit import banner_file, build, image_info, page, write_site

PAGES = {
    "one.md": page("a brain made of stacked index cards", title="One"),
    "two.md": page("a lighthouse of notebooks", title="Two", banner_model="gpt-image-2"),
    "three.md": page("a garden of links", title="Three"),
}


def renditions(root: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in (root / ".banners" / "renditions").iterdir()}


def test_real_banners_are_cached_and_second_build_makes_no_request(site_root: Path, emulator) -> None:
    config = write_site(site_root, PAGES)
    first = build(config, "--strict", env=emulator.env())
    assert first.returncode == 0, first.stderr
    assert len(emulator.image_requests()) == 3
    for page_dir in ("one", "two", "three"):
        path = banner_file(config, page_dir)
        assert not path.name.startswith("placeholder-")
        assert image_info(path) == ((1792, 1024), "webp")
    provenance = [json.loads(p.read_text()) for p in (site_root / ".banners" / "originals").glob("*.json")]
    assert sorted(p["provider"] for p in provenance) == ["foundry", "google", "google"]
    for record in provenance:
        assert record["prompt"] and record["model"] and record["sha256"] and record["width"] > 0
        assert (site_root / ".banners" / "originals" / record["file"]).is_file()

    before = renditions(site_root)
    second = build(config, "--strict", env=emulator.env())
    assert second.returncode == 0, second.stderr
    assert len(emulator.image_requests()) == 3, "a warm build must not call any provider"
    assert renditions(site_root) == before, "a warm build must not re-encode anything"
    assert "3 cached" in second.stderr


def test_warm_build_needs_no_credentials(site_root: Path, emulator) -> None:
    config = write_site(site_root, PAGES)
    assert build(config, env=emulator.env()).returncode == 0
    offline = build(config, "--strict")  # no keys at all: a committed cache is enough
    assert offline.returncode == 0, offline.stderr
    assert not banner_file(config, "one").name.startswith("placeholder-")


def test_a_cached_banner_with_a_forced_provider_needs_no_credentials(site_root: Path, emulator) -> None:
    forced = {**PAGES, "four.md": page("a map of linked notes", title="Four", banner_model="gpt-image-2",
                                        banner_provider="openai")}
    config = write_site(site_root, forced)
    assert build(config, "--strict", env=emulator.env()).returncode == 0
    offline = build(config, "--strict")  # CI with a committed cache and no keys
    assert offline.returncode == 0, offline.stderr
    assert not banner_file(config, "four").name.startswith("placeholder-")
    (site_root / "docs" / "four.md").write_text(page("a map of linked notes, at night", title="Four",
                                                     banner_model="gpt-image-2", banner_provider="openai"))
    missing = build(config)  # a new prompt must be generated: now the forced provider's key is needed
    assert missing.returncode != 0
    assert "four.md: front matter key 'banner_provider': provider 'openai' is forced but not authenticated" \
        in missing.stderr


@pytest.mark.parametrize("forcing", ["a.md", "b.md"])
def test_every_page_forcing_a_provider_for_a_missing_banner_is_checked_in_any_order(
        site_root: Path, emulator, forcing: str) -> None:
    routed = "b.md" if forcing == "a.md" else "a.md"
    config = write_site(site_root, {
        routed: page("a shared lighthouse", title="Routed", banner_model="gpt-image-2"),
        forcing: page("a shared lighthouse", title="Forced", banner_model="gpt-image-2", banner_provider="openai"),
    })
    keyless_openai = {name: value for name, value in emulator.env().items() if name != "OPENAI_API_KEY"}
    result = build(config, env=keyless_openai)
    assert result.returncode != 0
    assert f"{forcing}: front matter key 'banner_provider': provider 'openai' is forced but not authenticated" \
        in result.stderr


def test_a_forced_provider_that_does_not_serve_the_model_fails_even_when_cached(site_root: Path, emulator) -> None:
    config = write_site(site_root, PAGES)
    assert build(config, env=emulator.env()).returncode == 0
    (site_root / "docs" / "two.md").write_text(page("a lighthouse of notebooks", title="Two",
                                                    banner_model="gpt-image-2", banner_provider="google"))
    result = build(config, env=emulator.env())
    assert result.returncode != 0
    assert "two.md: front matter key 'banner_provider': provider 'google' does not serve model 'gpt-image-2'" \
        in result.stderr


def test_changing_one_prompt_changes_only_that_banner(site_root: Path, emulator) -> None:
    config = write_site(site_root, PAGES)
    assert build(config, env=emulator.env()).returncode == 0
    names = {d: banner_file(config, d).name for d in ("one", "two", "three")}
    (site_root / "docs" / "three.md").write_text(page("a garden of links at night", title="Three"))
    assert build(config, env=emulator.env()).returncode == 0
    assert len(emulator.image_requests()) == 4
    after = {d: banner_file(config, d).name for d in ("one", "two", "three")}
    assert after["one"] == names["one"] and after["two"] == names["two"]
    assert after["three"] != names["three"]


def test_changing_format_rederives_without_generating(site_root: Path, emulator) -> None:
    config = write_site(site_root, PAGES, {"format": "webp"})
    assert build(config, env=emulator.env()).returncode == 0
    config = write_site(site_root, PAGES, {"format": "png"})
    result = build(config, "--strict")  # no credentials: re-deriving must not need a provider
    assert result.returncode == 0, result.stderr
    assert len(emulator.image_requests()) == 3
    for page_dir in ("one", "two", "three"):
        path = banner_file(config, page_dir)
        assert path.suffix == ".png" and image_info(path) == ((1792, 1024), "png")


def test_a_request_with_two_renditions_publishes_the_one_of_its_current_original(site_root: Path, emulator) -> None:
    config = write_site(site_root, PAGES)
    assert build(config, env=emulator.env()).returncode == 0
    current = banner_file(config, "one").name
    request_part = current.split("-")[0]
    # What an original generated again leaves behind: the old rendition, same request, other content.
    folder = site_root / ".banners" / "renditions"
    (folder / f"{request_part}-000000000000.webp").write_bytes((folder / current).read_bytes())
    result = build(config, "--strict")  # no credentials: the provenance tells which one is current
    assert result.returncode == 0, result.stderr
    assert banner_file(config, "one").name == current
    assert len(emulator.image_requests()) == 3


def test_renditions_named_the_old_way_are_derived_again_and_pruned(site_root: Path, emulator) -> None:
    from click.testing import CliRunner

    from mkdocs_imagegen.cli import cli

    config = write_site(site_root, PAGES)
    assert build(config, env=emulator.env()).returncode == 0
    folder = site_root / ".banners" / "renditions"
    old_names = []
    for path in sorted(folder.iterdir()):  # version 0.1 named renditions <20 hex>.<suffix>
        old_names.append(f"{path.name.replace('-', '')[:20]}{path.suffix}")
        path.rename(folder / old_names[-1])
    result = build(config, "--strict")
    assert result.returncode == 0, result.stderr
    assert len(emulator.image_requests()) == 3, "re-deriving must not call a provider"
    for page_dir in ("one", "two", "three"):
        assert "-" in banner_file(config, page_dir).name
    pruned = CliRunner().invoke(cli, ["prune", "-f", str(config)])
    assert pruned.exit_code == 0, pruned.output
    assert sorted(p.name for p in folder.iterdir() if p.name in old_names) == []
    assert len(list(folder.iterdir())) == 3
