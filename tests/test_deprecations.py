"""Models that end: deprecated (still sent, builds name the successor), a default that moves without repainting
a site, a deprecation that gains a shutdown date, a model shut down at one provider only, new MAI limits, and no
request ever sending a parameter the catalogue says the model refuses."""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mkdocs_imagegen.catalogue.lookup import Catalogue, default_catalogue, packaged_data
from mkdocs_imagegen.defaults import DEFAULT_MODEL, FORMER_DEFAULTS
from mkdocs_imagegen.emulator import Emulator
from mkdocs_imagegen.emulator.mai import MAI_PATH

from sitekit import banner_file, build, image_info, page, warnings_of, write_site

DEPRECATED = "gemini-3.1-flash-image"
SIZE = "480x270"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mkdocs_imagegen", *args], capture_output=True, text=True,
                          timeout=120, env=env)


def process_env(emulator: Emulator) -> dict[str, str]:
    import os

    clean = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "GOOGLE_", "GEMINI_", "OPENAI_"))}
    return {**clean, **emulator.env()}


def info_lines(result: subprocess.CompletedProcess[str], text: str) -> list[str]:
    return [line for line in result.stderr.splitlines() if text in line]


# --- the catalogue ------------------------------------------------------------------------------------------------


def test_the_default_is_live_and_never_deprecated_and_every_former_default_still_resolves() -> None:
    catalogue = default_catalogue()
    found = catalogue.lookup(DEFAULT_MODEL)
    assert found is not None and found.retired is None and found.name == DEFAULT_MODEL
    assert catalogue.deprecated(DEFAULT_MODEL) is None and not found.info.shutdown
    assert DEFAULT_MODEL not in [model for model, _ in FORMER_DEFAULTS]
    assert all(catalogue.lookup(model) is not None and release == "0.2.0" for model, release in FORMER_DEFAULTS)
    assert catalogue.former_names_for(found, default=True) == (DEPRECATED, "gemini-3.1-flash-image-preview")
    assert catalogue.former_names_for(found) == ()  # a page that names the new model asks for new banners


def test_a_deprecated_model_that_gains_a_shutdown_date_retires_on_that_day_with_no_code_change() -> None:
    data = copy.deepcopy(packaged_data())
    data["models"][DEPRECATED]["shutdown"] = "2027-03-01"
    before = Catalogue.from_data(data, today=dt.date(2027, 2, 28))
    on_the_day = Catalogue.from_data(data, today=dt.date(2027, 3, 1))

    assert before.lookup(DEPRECATED).name == DEPRECATED and before.lookup(DEPRECATED).retired is None
    assert before.deprecated(DEPRECATED) is not None
    retired = on_the_day.lookup(DEPRECATED)
    assert retired.name == "gemini-nano-banana-2.1" and retired.retired.shutdown == "2027-03-01"
    assert on_the_day.deprecated(DEPRECATED) is None
    # Its banners, and those of the preview name it succeeded, are the successor's now.
    assert {DEPRECATED, "gemini-3.1-flash-image-preview"} <= set(on_the_day.former_names("gemini-nano-banana-2.1"))
    assert on_the_day.lookup("gemini-3.1-flash-image-preview").name == "gemini-nano-banana-2.1"


# --- acceptance 1: a default that changes without repainting ------------------------------------------------------


def test_a_cache_made_under_the_former_default_keeps_every_banner_and_only_new_pages_get_the_new_default(
        site_root: Path, emulator: Emulator) -> None:
    pages = {"a.md": page("a lighthouse of index cards", title="A"),
             "b.md": page("a harbour of notebooks", title="B")}
    # Main before this release: no `model:` meant gemini-3.1-flash-image. Its banners are keyed by that name.
    config = write_site(site_root, pages, {"size": SIZE, "model": DEPRECATED})
    first = build(config, "--strict", env=emulator.env())
    assert first.returncode == 0, first.stderr
    assert {(r.model, r.status) for r in emulator.image_requests()} == {(DEPRECATED, 200)}
    before = {name: sha256(banner_file(config, name.removesuffix(".md"))) for name in pages}

    emulator.reset()
    config = write_site(site_root, {**pages, "c.md": page("a new page about kites", title="C")}, {"size": SIZE})
    second = build(config, "--strict", env=emulator.env())

    assert second.returncode == 0, second.stderr
    assert [(r.model, r.prompt) for r in emulator.image_requests()] == [(DEFAULT_MODEL, "a new page about kites")]
    assert {name: sha256(banner_file(config, name.removesuffix(".md"))) for name in pages} == before
    assert "3 banner(s): 1 generated, 2 cached, 0 failed, 0 placeholder(s)" in second.stderr
    assert "deprecated" not in second.stderr and warnings_of(second) == []

    emulator.reset()
    third = build(config, "--strict", env=emulator.env())
    assert third.returncode == 0 and emulator.requests == []
    plan = cli("plan", "-f", str(config), "--json", env=process_env(emulator))
    assert json.loads(plan.stdout)["summary"]["generate"] == 0, plan.stdout
    prune = cli("prune", "--dry-run", "-f", str(config), env=process_env(emulator))
    assert "nothing to prune" in prune.stdout, prune.stdout


def test_a_site_that_names_the_new_model_asks_for_new_banners(site_root: Path, emulator: Emulator) -> None:
    pages = {"a.md": page("a lighthouse of index cards", title="A")}
    config = write_site(site_root, pages, {"size": SIZE, "model": DEPRECATED})
    assert build(config, "--strict", env=emulator.env()).returncode == 0
    emulator.reset()
    config = write_site(site_root, pages, {"size": SIZE, "model": DEFAULT_MODEL})
    result = build(config, "--strict", env=emulator.env())
    assert result.returncode == 0, result.stderr
    assert [r.model for r in emulator.image_requests()] == [DEFAULT_MODEL]


# --- acceptance 2: a page that names the deprecated model ---------------------------------------------------------


def test_a_deprecated_model_is_sent_as_written_with_one_info_line_and_doctor_models_and_plan_say_so(
        site_root: Path, emulator: Emulator) -> None:
    pages = {"x.md": page("a lighthouse of index cards", title="X", banner_model=DEPRECATED),
             "y.md": page("a harbour of notebooks", title="Y", banner_model="nano-banana-2"),  # its nickname
             "z.md": page("a garden of links", title="Z")}
    config = write_site(site_root, pages, {"size": SIZE})
    env = process_env(emulator)
    plan = cli("plan", "-f", str(config), env=env)
    [line] = [line for line in plan.stdout.splitlines() if line.startswith("  deprecated")]
    assert DEPRECATED in line and "2026-10-06" in line and "gemini-nano-banana-2.1" in line
    assert "x.md" in line and "y.md" in line and "z.md" not in line

    for _ in range(2):  # once per build, cached or not
        result = build(config, "--strict", env=emulator.env())
        assert result.returncode == 0, result.stderr
        [said] = info_lines(result, "was deprecated")
        assert said.startswith("INFO") and f"model '{DEPRECATED}' was deprecated by Google Gemini on 2026-10-06" in said
        assert "successor is 'gemini-nano-banana-2.1'" in said and "2 page(s) (x.md, y.md)" in said
        assert "new banner" in said
    assert sorted((r.model, r.prompt) for r in emulator.image_requests()) == [
        (DEPRECATED, "a harbour of notebooks"), (DEPRECATED, "a lighthouse of index cards"),
        (DEFAULT_MODEL, "a garden of links")]

    doctor = cli("doctor", "-f", str(config), env=env)
    assert doctor.returncode == 0, doctor.stderr
    [warning] = [line for line in doctor.stdout.splitlines() if line.startswith("warning:")]
    assert DEPRECATED in warning and "gemini-nano-banana-2.1" in warning and "x.md, y.md" in warning

    models = cli("models", env=env)
    [row] = [line for line in models.stdout.splitlines() if line.startswith(DEPRECATED + " ")]
    assert "deprecated 2026-10-06 (successor gemini-nano-banana-2.1)" in row
    rows = {row["model"]: row for row in json.loads(cli("models", "--json", env=env).stdout)["models"]}
    assert (rows[DEPRECATED]["deprecated"], rows[DEPRECATED]["successor"]) == ("2026-10-06", "gemini-nano-banana-2.1")
    assert rows[DEFAULT_MODEL]["deprecated"] is None and rows[DEFAULT_MODEL]["default"]


def test_doctor_warns_when_the_sites_model_option_is_deprecated(site_root: Path, emulator: Emulator) -> None:
    config = write_site(site_root, {"a.md": page("a kite", title="A")}, {"size": SIZE, "model": DEPRECATED})
    doctor = cli("doctor", "-f", str(config), env=process_env(emulator))
    warnings = [line for line in doctor.stdout.splitlines() if line.startswith("warning:")]
    assert any(f"the site's `model:` option is '{DEPRECATED}', deprecated on 2026-10-06" in w for w in warnings)


def test_a_shutdown_date_in_a_models_entry_retires_it_and_its_cached_banners_stay(
        site_root: Path, emulator: Emulator) -> None:
    pages = {"p.md": page("a lighthouse of index cards", title="P", banner_model=DEPRECATED)}
    config = write_site(site_root, pages, {"size": SIZE})
    assert build(config, "--strict", env=emulator.env()).returncode == 0
    before = sha256(banner_file(config, "p"))
    emulator.reset()
    pages["q.md"] = page("a new page", title="Q", banner_model=DEPRECATED)
    config = write_site(site_root, pages, {"size": SIZE, "models": {DEPRECATED: {"shutdown": "2026-12-01"}}})
    result = build(config, "--strict", env=emulator.env())
    assert result.returncode == 0, result.stderr
    assert sha256(banner_file(config, "p")) == before
    assert [(r.model, r.prompt) for r in emulator.image_requests()] == [(DEFAULT_MODEL, "a new page")]
    [said] = info_lines(result, "was retired on 2026-12-01")
    assert "'gemini-nano-banana-2.1' is sent instead" in said and not info_lines(result, "was deprecated")


# --- acceptance 3: MAI-Image-2.7 ----------------------------------------------------------------------------------


@pytest.mark.parametrize("model", ["MAI-Image-2.7", "MAI-Image-2.7-Flash"])
def test_mai_image_2_7_makes_2048x1152_in_one_request_at_exactly_that_size(
        site_root: Path, emulator: Emulator, model: str) -> None:
    config = write_site(site_root, {"m.md": page("a harbour at dusk", title="M", banner_model=model,
                                                 banner_size="2048x1152")}, {"size": SIZE})
    result = build(config, "--strict", env=emulator.env())
    assert result.returncode == 0, result.stderr
    [request] = emulator.image_requests()
    assert (request.path, request.model, request.status) == (MAI_PATH, model, 200)
    assert (request.body["width"], request.body["height"]) == (2048, 1152)
    assert image_info(banner_file(config, "m"))[0] == (2048, 1152)
    assert "makes at most" not in result.stderr  # within its limits: nothing to say


def test_mai_image_2_7_is_never_sent_more_than_its_pixel_limit(site_root: Path, emulator: Emulator) -> None:
    rule = default_catalogue().get("MAI-Image-2.7").sizes
    config = write_site(site_root, {"m.md": page("a tall tower", title="M", banner_model="MAI-Image-2.7",
                                                 banner_size="2048x2064")}, {"size": SIZE})
    result = build(config, "--strict", env=emulator.env())
    assert result.returncode == 0, result.stderr
    [request] = emulator.image_requests()
    width, height = request.body["width"], request.body["height"]
    assert request.status == 200 and width * height <= rule.max_pixels == 4_194_304 and min(width, height) >= 768
    assert image_info(banner_file(config, "m"))[0] == (2048, 2064)
    lines = result.stderr.splitlines()
    [said] = [n for n, line in enumerate(lines) if "'MAI-Image-2.7' makes at most 4,194,304 pixels" in line]
    assert lines[said].startswith("INFO") and "m.md asks for 2048x2064" in lines[said]
    assert said < min(n for n, line in enumerate(lines) if "generating" in line)  # said before anything is sent


def test_the_emulator_refuses_mai_image_2_7_over_its_limit_with_azures_400(emulator: Emulator) -> None:
    import httpx

    body = {"model": "MAI-Image-2.7", "prompt": "a tower", "width": 2048, "height": 2064}
    answer = httpx.post(f"{emulator.url}{MAI_PATH}", json=body, headers={"api-key": emulator.keys["foundry"]})
    assert answer.status_code == 400 and "4,194,304" in answer.json()["error"]["message"]
    smaller = httpx.post(f"{emulator.url}{MAI_PATH}", json={**body, "width": 640, "height": 1024},
                         headers={"api-key": emulator.keys["foundry"]})
    assert smaller.status_code == 400 and "at least 768" in smaller.json()["error"]["message"]


# --- acceptance 4: gpt-image-1, shut down at OpenAI only ----------------------------------------------------------


def test_gpt_image_1_is_sent_as_written_to_a_foundry_deployment_and_redirected_at_openai(
        site_root: Path, emulator: Emulator) -> None:
    emulator.deployments["img1-prod"] = "gpt-image-1"
    foundry = {"providers": {"foundry": {"deployments": {"gpt-image-1": "img1-prod"}}}, "size": SIZE}
    config = write_site(site_root, {"f.md": page("a lighthouse", title="F", banner_model="gpt-image-1")}, foundry)
    result = build(config, "--strict", env=emulator.env())
    assert result.returncode == 0, result.stderr
    [request] = emulator.image_requests()
    assert (request.provider, request.model, request.deployment, request.status) == (
        "foundry", "gpt-image-1", "img1-prod", 200)
    assert emulator.retired_requests() == []

    emulator.reset()  # the same page forced to OpenAI keeps its banner (zero requests); a new one is redirected
    config = write_site(site_root, {name: page(prompt, title=name, banner_model="gpt-image-1", banner_provider="openai")
                                    for name, prompt in (("f.md", "a lighthouse"), ("g.md", "a harbour"))}, foundry)
    result = build(config, "--strict", env=emulator.env())
    assert result.returncode == 0, result.stderr
    [request] = emulator.image_requests()
    assert (request.provider, request.model, request.prompt, request.status) == (
        "openai", "gpt-image-2.5-sunburst", "a harbour", 200)
    [said] = info_lines(result, "model 'gpt-image-1' was retired on 2026-10-23")
    assert said.startswith("INFO") and "'gpt-image-2.5-sunburst' is sent instead" in said


def test_the_emulator_serves_gpt_image_1_at_foundry_and_404s_it_at_openai(emulator: Emulator) -> None:
    assert "gpt-image-1" in emulator.served_models("foundry")
    assert "gpt-image-1" not in emulator.served_models("openai")


# --- acceptance 5: nothing the model refuses is sent --------------------------------------------------------------


def refused_parameters(requests: list[Any], catalogue: Catalogue) -> list[str]:
    """Every request in the log that sent an image_size or input_fidelity the catalogue says its model refuses."""
    found = []
    for request in requests:
        info = catalogue.get(request.model) if request.model else None
        if info is None or request.body is None:
            continue
        config = request.body.get("generationConfig") or request.body.get("generation_config") or {}
        image = config.get("imageConfig") or config.get("image_config") or {}
        tier = image.get("imageSize") or image.get("image_size")
        if tier is not None and tier not in info.sizes.image_sizes:
            found.append(f"{request.model} sent image_size {tier}")
        if "input_fidelity" in request.body and not info.references.fidelity:
            found.append(f"{request.model} sent input_fidelity")
    return found


@pytest.mark.parametrize("size", ["3840x2160", "320x180"])
def test_no_request_sends_an_image_size_or_input_fidelity_the_model_refuses(
        site_root: Path, emulator: Emulator, size: str) -> None:
    models = ["gemini-2.5-flash-image", "gemini-3.1-flash-lite-image", "gemini-nano-banana-2.1",
              "gemini-3-pro-image", DEPRECATED]
    pages = {f"g{n}.md": page(f"tiers {n}", title=f"G{n}", banner_model=model) for n, model in enumerate(models)}
    (site_root / "docs").mkdir(parents=True)
    from PIL import Image

    Image.new("RGB", (64, 64), (20, 90, 200)).save(site_root / "docs" / "ref.png")
    pages["r.md"] = page("in this style", title="R", banner_model="gpt-image-2", banner_provider="openai",
                         banner_reference=["ref.png"])
    config = write_site(site_root, pages, {"size": size})
    result = build(config, "--strict", env=emulator.env())
    assert result.returncode == 0, result.stderr
    requests = emulator.image_requests()
    assert len(requests) == len(pages) and all(r.status == 200 for r in requests)
    assert refused_parameters(requests, default_catalogue()) == []
    tiers = {r.model: r.body["generationConfig"].get("imageConfig", {}).get("imageSize") for r in requests
             if r.provider == "google"}
    assert tiers["gemini-2.5-flash-image"] is None and tiers["gemini-3.1-flash-lite-image"] is None  # 1K only
    assert tiers["gemini-nano-banana-2.1"] in ("1K", "4K")  # never 512


def test_the_emulator_refuses_a_tier_or_fidelity_the_model_does_not_take(emulator: Emulator) -> None:
    import httpx

    key = {"x-goog-api-key": emulator.keys["google"]}
    for model, tier in (("gemini-nano-banana-2.1", "512"), ("gemini-3.1-flash-lite-image", "2K"),
                        ("gemini-2.5-flash-image", "4K")):
        body = {"contents": [{"parts": [{"text": "x"}]}],
                "generationConfig": {"imageConfig": {"aspectRatio": "16:9", "imageSize": tier}}}
        answer = httpx.post(f"{emulator.url}/v1beta/models/{model}:generateContent", json=body, headers=key)
        assert answer.status_code == 400 and answer.json()["error"]["status"] == "INVALID_ARGUMENT", model
        assert "image_size must be one of" in answer.json()["error"]["message"]
    edit = httpx.post(f"{emulator.url}/v1/images/edits", headers={"authorization": f"Bearer {emulator.keys['openai']}"},
                      data={"model": "gpt-image-2", "prompt": "x", "input_fidelity": "high"},
                      files={"image": ("r.png", _png(), "image/png")})
    assert edit.status_code == 400 and edit.json()["error"]["code"] == "invalid_input_fidelity_model"


def _png() -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (32, 32), (1, 2, 3)).save(buffer, "PNG")
    return buffer.getvalue()


# --- the maintainer's check before a release ----------------------------------------------------------------------

CHECK = Path(__file__).parent.parent / "benchmarks" / "check_catalogue.py"


def test_the_release_check_compares_the_catalogue_with_each_providers_live_list(tmp_path: Path) -> None:
    def check(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, str(CHECK)], capture_output=True, text=True, timeout=120, env=env,
                              cwd=tmp_path)

    with Emulator() as emulator:
        same = check(process_env(emulator))
    assert same.returncode == 0, same.stdout + same.stderr
    lines = same.stdout.splitlines()
    assert [line.split(": ", 1)[1] for line in lines[1:] if not line.startswith("  note")] == ["no difference"] * 3
    assert f"  note: deprecated, still served: {DEPRECATED}" in same.stdout

    with Emulator(extra_models=["google:gemini-4-flash-image"]) as emulator:
        newer = check(process_env(emulator))
    assert newer.returncode == 1
    assert "google (Google Gemini): served, not in the catalogue: gemini-4-flash-image" in newer.stdout

    import os

    nothing = check({k: v for k, v in os.environ.items()
                     if not k.startswith(("AZURE_", "GOOGLE_", "GEMINI_", "OPENAI_"))})
    assert nothing.returncode == 2 and "nothing compared" in nothing.stdout
