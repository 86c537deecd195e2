"""Today's models against an emulator that serves exactly what the catalogue says is live: one site
over every provider, live discovery, and the answers that say a model is not there."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mkdocs_imagegen.catalogue.lookup import default_catalogue
from mkdocs_imagegen.emulator import Emulator, Fault

from sitekit import PROVIDER_VARIABLES, banner_file, build, image_info, page, warnings_of, write_site

NEW_GEMINI = "gemini-4-flash-image"  # a family name no catalogue entry has, served by the emulator


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator(extra_models={"google": [NEW_GEMINI]}) as emulator:
        yield emulator


def cli(*args: str, env: dict[str, str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    import os

    base = {k: v for k, v in os.environ.items() if k not in PROVIDER_VARIABLES}
    return subprocess.run([sys.executable, "-m", "mkdocs_imagegen", *args], capture_output=True, text=True,
                          timeout=60, env={**base, **env}, cwd=cwd)


def test_one_site_of_todays_models_builds_strict_and_never_asks_for_a_retired_name(site_root: Path,
                                                                                   emu: Emulator) -> None:
    pages = {
        "default.md": page("a brain of index cards", title="Default"),
        "preview.md": page("a lighthouse of notebooks", title="Preview", banner_model="gemini-3.1-flash-image-preview"),
        "nickname.md": page("a garden of links", title="Nickname", banner_model="nano-banana-2"),
        "flare.md": page("a desk at dawn", title="Flare", banner_model="gpt-image-2.5-flare"),
        "mai.md": page("a harbour of paper boats", title="MAI", banner_model="MAI-Image-2e"),
        "tomorrow.md": page("a tree of cards", title="Tomorrow", banner_model=NEW_GEMINI),
    }
    config = write_site(site_root, pages)
    result = build(config, "--strict", env=emu.env())

    assert result.returncode == 0, result.stderr
    assert warnings_of(result) == []
    for page_dir in ("default", "preview", "nickname", "flare", "mai", "tomorrow"):
        path = banner_file(config, page_dir)
        assert not path.name.startswith("placeholder-"), page_dir
        assert image_info(path) == ((1792, 1024), "webp"), page_dir
    requests = emu.image_requests()
    assert len(requests) == 6 and all(r.status == 200 for r in requests)
    retired = set(default_catalogue().retired)
    named = {r.model for r in requests} | {r.path.rsplit("/", 1)[-1].split(":")[0] for r in requests}
    assert not named & retired, named & retired
    by_model = {r.model: r for r in requests}
    assert by_model["MAI-Image-2e"].path == "/azure/mai/v1/images/generations"
    assert by_model["gpt-image-2.5-flare"].provider == "foundry"
    assert by_model[NEW_GEMINI].provider == "google"
    assert "'gemini-3.1-flash-image-preview' was retired on 2026-06-25" in result.stderr
    assert f"model '{NEW_GEMINI}' is not in the catalogue" in result.stderr


def test_models_live_groups_what_each_provider_serves(emu: Emulator) -> None:
    result = cli("models", "--live", "--json", env=emu.env())
    assert result.returncode == 0, result.stderr
    live = {item["provider"]: item for item in json.loads(result.stdout)["live"]}
    assert set(live) == {"google", "foundry", "openai"} and all(item["ok"] for item in live.values())
    catalogue = default_catalogue()
    assert live["google"]["served_not_in_catalogue"] == [NEW_GEMINI]
    assert set(live["google"]["served_known"]) == {info.name for info in catalogue.live("google")}
    assert "chatgpt-image-latest" in live["openai"]["in_catalogue_not_served"]  # shut down 2026-12-01
    assert "MAI-Image-2e" in live["foundry"]["served_known"]
    text = cli("models", "--live", env=emu.env()).stdout
    assert "served, not in the catalogue: gemini-4-flash-image (usable by name" in text
    assert "chatgpt-image-latest (retired 2026-12-01)" in text


def test_doctor_live_reports_a_refused_key_in_one_line_without_the_key(emu: Emulator) -> None:
    wrong = "sk-wrong-key-0123456789abcdef0123"
    result = cli("doctor", "--live", env={**emu.env(), "OPENAI_API_KEY": wrong})
    assert result.returncode == 1
    output = result.stdout + result.stderr
    assert wrong not in output and wrong[-12:] not in output
    failed = [line for line in output.splitlines() if "live: FAILED" in line]
    assert len(failed) == 1 and "OpenAI rejected the API key from OPENAI_API_KEY (invalid_api_key)" in failed[0]
    assert sum("live: ok" in line for line in output.splitlines()) == 2
    assert "live check failed for openai" in result.stderr


def test_doctor_live_names_a_wrong_endpoint_and_a_missing_deployment(tmp_path: Path, emu: Emulator) -> None:
    config = write_site(tmp_path / "site", {"p.md": page("x", title="P")},
                        {"providers": {"foundry": {"deployments": {"gpt-image-2": "banners-prod"}}}})
    result = cli("doctor", "--live", "-f", str(config), env={**emu.env(), "GOOGLE_GEMINI_BASE_URL": "http://127.0.0.1:9"})
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert any("live: FAILED" in line and "GOOGLE_GEMINI_BASE_URL" in line for line in lines), result.stdout
    assert any("live: missing deployment gpt-image-2 -> banners-prod" in line for line in lines), result.stdout
    assert emu.image_requests() == []  # nothing was generated, nothing was paid for


def test_unverified_organization_is_one_line_not_retried_and_falls_through(site_root: Path, emu: Emulator) -> None:
    emu.add_fault(Fault(provider="openai", kind="unverified_org", times=-1))
    pages = {"p.md": page("a lighthouse", title="P", banner_model="gpt-image-2")}
    alone = write_site(site_root, pages, {"providers": {"order": ["openai"]}})
    result = build(alone, env=emu.env())
    assert result.returncode == 0, result.stderr
    [warning] = [line for line in warnings_of(result) if "p.md" in line]
    assert "verify yours at https://platform.openai.com/settings/organization/general" in warning
    assert len(emu.image_requests()) == 1 and "retry" not in result.stderr

    emu.reset()
    emu.add_fault(Fault(provider="openai", kind="unverified_org", times=-1))
    both = write_site(site_root, pages, {"providers": {"order": ["openai", "foundry"]}})
    result = build(both, "--strict", env=emu.env())
    assert result.returncode == 0, result.stderr
    assert [(r.provider, r.status) for r in emu.image_requests()] == [("openai", 403), ("foundry", 200)]


def test_doctor_live_names_a_wrong_api_version(tmp_path: Path, emu: Emulator) -> None:
    result = cli("doctor", "--live", env={**emu.env(), "AZURE_OPENAI_API_VERSION": "1999-01-01"})
    assert result.returncode == 1
    [failed] = [line for line in result.stdout.splitlines() if "live: FAILED" in line]
    assert "answered 404" in failed and "providers.foundry.api_version (1999-01-01)" in failed
    assert emu.keys["foundry"] not in result.stdout + result.stderr


def test_generate_with_a_retired_name_says_what_it_sends(tmp_path: Path, emu: Emulator) -> None:
    out = tmp_path / "banner.png"
    result = cli("generate", "a lighthouse", "-m", "gemini-3-pro-image-preview", "--size", "640x360", "-o", str(out),
                 env=emu.env(), cwd=tmp_path)  # its cache, .banners, is made in the current folder
    assert result.returncode == 0, result.stderr
    assert "model 'gemini-3-pro-image-preview' was retired on 2026-06-25, so its successor " \
           "'gemini-3-pro-image' is sent instead" in result.stderr
    assert [r.model for r in emu.image_requests()] == ["gemini-3-pro-image"] and out.is_file()


def test_an_endpoint_password_never_reaches_a_warning_or_doctor(site_root: Path, emu: Emulator) -> None:
    secret = "HUNTER2SECRET"
    with_password = {**emu.env(), "AZURE_OPENAI_ENDPOINT": emu.env()["AZURE_OPENAI_ENDPOINT"].replace(
        "http://", f"http://me:{secret}@"), "GOOGLE_GEMINI_BASE_URL": f"http://me:{secret}@127.0.0.1:{emu.port}/wrong"}
    config = write_site(site_root, {"p.md": page("x", title="P", banner_model="gpt-image-2")},
                        {"providers": {"order": ["foundry"], "foundry": {"deployments": {"gpt-image-2": "nope"}}}})
    result = build(config, env=with_password)
    assert "no deployment 'nope'" in result.stderr and secret not in result.stderr
    doctor = cli("doctor", "--live", env=with_password)
    assert "live: FAILED" in doctor.stdout and secret not in doctor.stdout + doctor.stderr


def test_a_password_in_a_base_url_httpx_refuses_is_never_shown(tmp_path: Path, emu: Emulator) -> None:
    secret = "HUNTER2SECRET"
    env = {"OPENAI_API_KEY": emu.env()["OPENAI_API_KEY"], "OPENAI_BASE_URL": f"ftp://me:{secret}@127.0.0.1/v1"}
    result = cli("generate", "a lighthouse", "-m", "gpt-image-2", "--provider", "openai", "--size", "640x360",
                 env=env, cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert result.stderr.startswith("Error: ") and "Traceback" not in result.stderr
    assert secret not in result.stdout + result.stderr and "127.0.0.1" in result.stderr


def test_a_url_is_printed_without_its_password_query_or_a_port_out_of_range() -> None:
    from mkdocs_imagegen.providers.base import safe_url

    assert safe_url("https://me:pw@gpu.local:8443/v1/images?key=abc") == "https://gpu.local:8443/v1/images"
    assert safe_url("http://me:pw@gpu.local:99999/x.png") == "http://gpu.local/x.png"  # never a ValueError
