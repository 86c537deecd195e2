"""The `mkdocs-imagegen` command line, end to end.

Generation and planning go through the real provider code over loopback to the emulator; nothing
of ours is patched to fake a provider. Every test runs with a clean environment (no provider
credentials unless the test sets them) and MKDOCS_IMAGEGEN_CONFIG_DIR in a temp dir.
"""

from __future__ import annotations

import inspect
import json
import os
import re
import stat
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from PIL import Image

from mkdocs_imagegen.catalogue.lookup import default_catalogue
from mkdocs_imagegen.cli import cli
from mkdocs_imagegen.cli import common as cli_module
from mkdocs_imagegen.defaults import DEFAULT_MODEL
from mkdocs_imagegen.emulator import Emulator, Fault
from mkdocs_imagegen.plugin.config import ImagegenConfig
from mkdocs_imagegen.providers.registry import PROVIDER_CHOICES
from mkdocs_imagegen.request import Size

PROMPT = "a brain made of stacked index cards"
CREDENTIAL_PREFIXES = ("GEMINI_", "GOOGLE_", "OPENAI_", "AZURE_", "IDENTITY_", "MSI_", "MKDOCS_IMAGEGEN_")
SMALL = "640x360"


# --- fixtures and helpers ---------------------------------------------------------------------------


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, str]:
    """No provider credentials, a private key store, cwd in tmp_path; returns the env for subprocesses."""
    for name in list(os.environ):
        if name.startswith(CREDENTIAL_PREFIXES):
            monkeypatch.delenv(name)
    monkeypatch.setenv("MKDOCS_IMAGEGEN_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("NO_MKDOCS_2_WARNING", "1")
    monkeypatch.chdir(tmp_path)
    return dict(os.environ)


@pytest.fixture(scope="module")
def server() -> Iterator[Emulator]:
    with Emulator() as emulator:
        yield emulator


@pytest.fixture
def emulator(server: Emulator, clean_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Emulator:
    """The emulator, freshly reset, with every provider pointed at it in os.environ."""
    server.reset()
    for name, value in server.env().items():
        monkeypatch.setenv(name, value)
    return server


def _runner() -> CliRunner:
    if "mix_stderr" in inspect.signature(CliRunner.__init__).parameters:  # click 8.1
        return CliRunner(mix_stderr=False)  # type: ignore[call-arg]
    return CliRunner()


def run(*args: str, input: str | None = None) -> Result:
    return _runner().invoke(cli, list(args), input=input, prog_name="mkdocs-imagegen", catch_exceptions=False)


def run_process(args: Sequence[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=60)


def error_lines(result: Result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.strip()]


def write_site(root: Path, pages: dict[str, str], options: str = "") -> Path:
    """A tiny MkDocs site: `pages` maps a file name to its front matter."""
    docs = root / "docs"
    docs.mkdir(parents=True, exist_ok=True)
    config = root / "mkdocs.yml"
    config.write_text("site_name: CLI test\nplugins:\n  - imagegen:\n      cache_dir: .banners\n"
                      f"      size: {SMALL}\n{options}", encoding="utf-8")
    for name, front in pages.items():
        body = f"---\n{front}---\n\n# {name}\n" if front else f"# {name}\n"
        (docs / name).write_text(body, encoding="utf-8")
    return config


PAGES = {
    "index.md": "banner_prompt: a lighthouse made of notebooks\n",
    "post.md": "banner_prompt: a garden of links\nbanner_model: gpt-image-2\n",
    "plain.md": "",
}


def estimate(model: str, size: str = SMALL, quality: str = "auto") -> float:
    info = default_catalogue().get(model)
    assert info is not None
    value = info.estimate(Size.parse(size), quality)
    assert value is not None
    return value


# --- help and wiring ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("command", "expected"), [
    ([], ["generate", "models", "doctor", "plan", "prune", "keys", "emulator", "0 success", "2 usage error"]),
    (["generate"], ["PROMPT", "--model", "--out", "--size", "--quality", "--provider", "last line on stdout",
                    DEFAULT_MODEL, "1792x1024"]),
    (["models"], ["--json", "--live", "--config-file", "no image, no cost"]),
    (["doctor"], ["no network call", "--live", "refused key", "missing deployment"]),
    (["plan"], ["--config-file", "--json", "no provider", "mkdocs.yml"]),
    (["prune"], ["--config-file", "--dry-run"]),
    (["keys"], ["set", "list", "remove", "0600", "Environment variables win"]),
    (["keys", "set"], ["PROVIDER", "hidden prompt", "stdin"]),
    (["keys", "list"], ["masked"]),
    (["keys", "remove"], ["PROVIDER"]),
    (["emulator"], ["--port", "--latency", "export"]),
])
def test_every_help_is_accurate(clean_env: dict[str, str], command: list[str], expected: list[str]) -> None:
    result = run(*command, "--help")
    assert result.exit_code == 0, result.output
    flat = " ".join(result.stdout.split())
    for text in expected:
        assert text in flat


def test_cli_constants_match_the_plugin() -> None:
    defaults = ImagegenConfig()
    options = {param.name: param for param in cli.commands["generate"].params}
    assert options["model"].default == DEFAULT_MODEL
    assert dict(defaults._schema)["model"].default is None  # unset: DEFAULT_MODEL, keeping former defaults' banners
    assert dict(defaults._schema)["size"].default == str(options["size"].default)
    assert list(options["provider"].type.choices) == list(PROVIDER_CHOICES)


# --- generate -----------------------------------------------------------------------------------------


def test_generate_routes_by_model_and_writes_the_exact_size(emulator: Emulator, tmp_path: Path) -> None:
    result = run("generate", PROMPT, "-m", "gpt-image-2", "-o", "banner.png")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1] == "banner.png"
    with Image.open(tmp_path / "banner.png") as image:
        assert (image.format, image.size) == ("PNG", (1792, 1024))
    [request] = emulator.image_requests()
    # gpt-image-2 is served by foundry and openai; foundry comes first in the default order.
    assert (request.provider, request.model, request.prompt) == ("foundry", "gpt-image-2", PROMPT)


def test_generate_defaults_to_a_hashed_png_name_and_the_default_model(emulator: Emulator, tmp_path: Path) -> None:
    result = run("generate", PROMPT, "--size", SMALL, "--quality", "low")
    assert result.exit_code == 0, result.output
    name = result.stdout.splitlines()[-1]
    assert re.fullmatch(r"banner-[0-9a-f]{8}\.png", name)
    with Image.open(tmp_path / name) as image:
        assert (image.format, image.size) == ("PNG", (640, 360))
    assert [(r.provider, r.model) for r in emulator.image_requests()] == [("google", DEFAULT_MODEL)]


@pytest.mark.parametrize(("out", "fmt"), [("a.jpg", "JPEG"), ("b.JPEG", "JPEG"), ("c.webp", "WEBP"), ("d.png", "PNG")])
def test_generate_format_follows_the_suffix_and_placeholder_needs_no_credentials(
        clean_env: dict[str, str], tmp_path: Path, out: str, fmt: str) -> None:
    result = run("generate", PROMPT, "--provider", "placeholder", "--size", "300x200", "-o", f"out/{out}")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1] == f"out/{out}"
    with Image.open(tmp_path / "out" / out) as image:
        assert (image.format, image.size) == (fmt, (300, 200))


def test_generate_without_credentials_fails_with_each_provider_fix(clean_env: dict[str, str], tmp_path: Path) -> None:
    result = run("generate", PROMPT, "-m", "gpt-image-2", "-o", "banner.png")
    assert result.exit_code == 1
    lines = error_lines(result)
    assert lines[0].startswith("Error: no provider that serves gpt-image-2 is authenticated")
    assert "--provider placeholder" in lines[0]
    assert lines[1].strip().startswith("foundry: ") and "AZURE_OPENAI_ENDPOINT" in lines[1]
    assert lines[2].strip().startswith("openai: ") and "OPENAI_API_KEY" in lines[2]
    assert len(lines) == 3
    assert not (tmp_path / "banner.png").exists()
    assert result.stdout == ""


@pytest.mark.parametrize(("args", "message"), [
    ([], "Missing argument 'PROMPT'"),
    (["  "], "PROMPT: must not be empty"),
    ([PROMPT, "-m", "stable-diffusion-9"], "unknown model 'stable-diffusion-9'; known models: "),
    ([PROMPT, "--size", "huge"], "expected a size like 1792x1024"),
    ([PROMPT, "--quality", "ultra"], "'ultra' is not one of"),
    ([PROMPT, "--provider", "midjourney"], "'midjourney' is not one of"),
    ([PROMPT, "-o", "banner.gif"], "must end in .png, .jpg, .jpeg or .webp"),
    ([PROMPT, "-m", "gpt-image-2", "--provider", "google"], "provider 'google' does not serve model 'gpt-image-2'"),
    ([PROMPT, "-m", "gpt-image-2", "--provider", "openai"], "provider 'openai' is forced but not authenticated"),
])
def test_generate_usage_errors_exit_2_with_one_line(clean_env: dict[str, str], args: list[str], message: str) -> None:
    result = run("generate", *args)
    assert result.exit_code == 2, result.output
    [line] = error_lines(result)
    assert line.startswith("Error: ") and message in line
    assert "Traceback" not in result.output


def test_generate_provider_failure_names_provider_model_and_reason(emulator: Emulator, tmp_path: Path) -> None:
    emulator.add_fault(Fault(provider="foundry", kind="content_policy_violation", times=-1))
    result = run("generate", PROMPT, "-m", "gpt-image-2", "--size", SMALL, "-o", "banner.png")
    assert result.exit_code == 1
    [line] = error_lines(result)
    assert line.startswith("Error: foundry could not generate gpt-image-2: ")
    assert len(line) > len("Error: foundry could not generate gpt-image-2: ") + 10
    assert emulator.keys["foundry"] not in result.output
    assert not (tmp_path / "banner.png").exists()


def test_generate_retries_rate_limits_and_tells_stderr(emulator: Emulator, tmp_path: Path) -> None:
    emulator.add_fault(Fault(provider="google", kind="rate_limit", times=1, retry_after=0.05))
    result = run("generate", PROMPT, "-m", "gemini-2.5-flash-image", "--size", SMALL, "-o", "b.webp")
    assert result.exit_code == 0, result.output
    assert "retry 1/4" in result.stderr
    assert len(emulator.image_requests()) == 2


def test_generate_shows_elapsed_time_when_stderr_is_a_terminal(
        emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli_module, "_stderr_is_terminal", lambda: True)
    result = run("generate", PROMPT, "-m", "gpt-image-2.5-flare", "--size", SMALL, "-o", "b.png")
    assert result.exit_code == 0, result.output
    assert re.search(r"gpt-image-2.5-flare via Azure AI Foundry: 640x360 png in \d+\.\ds", result.stderr)
    assert result.stdout.splitlines() == ["b.png"]


def test_generate_as_a_real_process(emulator: Emulator, clean_env: dict[str, str], tmp_path: Path) -> None:
    env = {**clean_env, **emulator.env()}
    done = run_process(["-m", "mkdocs_imagegen", "generate", PROMPT, "-m", "gpt-image-2", "-o", "banner.png"],
                       env, tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "banner.png"
    assert "generating" not in done.stderr  # stderr is not a terminal here: no progress chatter
    with Image.open(tmp_path / "banner.png") as image:
        assert (image.format, image.size) == ("PNG", (1792, 1024))
    assert [(r.provider, r.model) for r in emulator.image_requests()] == [("foundry", "gpt-image-2")]


# --- models and doctor --------------------------------------------------------------------------------


def test_models_lists_every_model_with_providers_auth_and_price(
        clean_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-models-0000000000")
    result = run("models", "--json")
    assert result.exit_code == 0, result.output
    rows = {row["model"]: row for row in json.loads(result.stdout)["models"]}
    assert set(rows) == set(default_catalogue().names())
    assert rows["gpt-image-2"]["providers"] == [
        {"name": "foundry", "label": "Azure AI Foundry", "authenticated": False},
        {"name": "openai", "label": "OpenAI", "authenticated": True},
    ]
    assert rows["gpt-image-2"]["usable"] and not rows["gemini-3.1-flash-image"]["usable"]
    assert rows["gpt-image-2"]["price"]["estimate_usd"] == pytest.approx(estimate("gpt-image-2", "1792x1024"))
    text = run("models")
    assert text.exit_code == 0
    for model in rows:
        assert model in text.stdout
    assert "foundry (not set up), openai (ready)" in text.stdout
    assert "~$0.101 at 1792x1024" in text.stdout
    assert "sk-test-models" not in text.stdout + result.stdout


def test_doctor_without_credentials_gives_every_fix_and_exits_1(clean_env: dict[str, str]) -> None:
    result = run("doctor")
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[0].startswith("google ") and "GEMINI_API_KEY" in lines[0] and "keys set google" in lines[0]
    assert lines[1].startswith("foundry") and "AZURE_OPENAI_ENDPOINT" in lines[1] and "az login" in lines[1]
    assert "keys set foundry" in lines[1]
    assert lines[2].startswith("openai ") and "OPENAI_API_KEY" in lines[2] and "keys set openai" in lines[2]
    [error] = error_lines(result)
    assert error.startswith("Error: no image provider is set up")


def test_doctor_with_providers_ready_exits_0_without_a_network_call(emulator: Emulator) -> None:
    result = run("doctor")
    assert result.exit_code == 0, result.output
    for name, variable in (("google", "GEMINI_API_KEY"), ("foundry", "AZURE_OPENAI_API_KEY"),
                           ("openai", "OPENAI_API_KEY")):
        assert re.search(rf"^{name}\s+ready: key from {variable}; endpoint {re.escape(emulator.url)}", result.stdout,
                         re.MULTILINE)
    for secret in emulator.keys.values():
        assert secret not in result.output
    assert emulator.requests == []


def test_doctor_names_the_missing_foundry_endpoint(clean_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", "0123456789abcdef0123")
    result = run("doctor")
    assert result.exit_code == 1
    assert re.search(r"^foundry\s+not set up: set AZURE_OPENAI_ENDPOINT .*AZURE_OPENAI_API_KEY is set",
                     result.stdout, re.MULTILINE)


# --- keys ---------------------------------------------------------------------------------------------


def test_keys_set_list_remove_and_env_wins(clean_env: dict[str, str], tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    key = "sk-stored-openai-key-0123456789wxyz"
    result = run("keys", "set", "openai", input=f"{key}\n")
    assert result.exit_code == 0, result.output
    store = tmp_path / "config" / "keys.json"
    assert stat.S_IMODE(store.stat().st_mode) == 0o600
    assert json.loads(store.read_text()) == {"openai": key}
    assert key not in result.output and "…wxyz" in result.stdout

    listed = run("keys", "list")
    assert listed.exit_code == 0
    assert re.search(r"^openai\s+stored …wxyz\s+OPENAI_API_KEY would override it", listed.stdout, re.MULTILINE)
    assert re.search(r"^google\s+not stored\s+GOOGLE_API_KEY or GEMINI_API_KEY would override", listed.stdout,
                     re.MULTILINE)
    assert key not in listed.output

    assert "ready: the key stored by `mkdocs-imagegen keys set openai`" in run("doctor").stdout
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-the-environment-0000")
    assert "OPENAI_API_KEY is set and is used instead" in run("keys", "list").stdout
    assert "ready: key from OPENAI_API_KEY" in run("doctor").stdout

    assert run("keys", "remove", "openai").stdout.strip() == "removed the stored openai key"
    assert run("keys", "remove", "openai").stdout.strip() == "no openai key was stored"
    assert json.loads(store.read_text()) == {}


def test_keys_set_reads_a_hidden_prompt_on_a_terminal(clean_env: dict[str, str], tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli_module, "_stdin_is_terminal", lambda: True)
    key = "AIza-typed-at-the-prompt-5678"
    result = run("keys", "set", "google", input=f"{key}\n")
    assert result.exit_code == 0, result.output
    assert "google API key (input hidden)" in result.output
    assert key not in result.output
    assert json.loads((tmp_path / "config" / "keys.json").read_text()) == {"google": key}


@pytest.mark.parametrize(("args", "stdin"), [
    (["keys", "set", "openai"], ""),
    (["keys", "set", "openai"], "two words\n"),
    (["keys", "set", "bing"], "key\n"),
    (["keys", "list", "openai"], None),
    (["keys", "remove"], None),
])
def test_keys_usage_errors_exit_2(clean_env: dict[str, str], args: list[str], stdin: str | None) -> None:
    result = run(*args, input=stdin)
    assert result.exit_code == 2, result.output
    [line] = error_lines(result)
    assert line.startswith("Error: ")


def test_a_stored_key_is_used_by_generate(emulator: Emulator, monkeypatch: pytest.MonkeyPatch,
                                          tmp_path: Path) -> None:
    for name in ("OPENAI_API_KEY", "AZURE_OPENAI_ENDPOINT", "AZURE_OPENAI_API_KEY"):
        monkeypatch.delenv(name)
    assert run("keys", "set", "openai", input=emulator.keys["openai"]).exit_code == 0
    result = run("generate", PROMPT, "-m", "gpt-image-2", "--size", SMALL, "-o", "b.png")
    assert result.exit_code == 0, result.output
    assert [(r.provider, r.model) for r in emulator.image_requests()] == [("openai", "gpt-image-2")]


# --- plan ---------------------------------------------------------------------------------------------


def test_plan_as_a_real_process_lists_routes_and_cost_and_sends_nothing(
        emulator: Emulator, clean_env: dict[str, str], tmp_path: Path) -> None:
    config = write_site(tmp_path / "site", PAGES)
    env = {**clean_env, **emulator.env()}
    done = run_process(["-m", "mkdocs_imagegen", "plan", "-f", str(config), "--json"], env, tmp_path)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    pages = {page["page"]: page for page in report["pages"]}
    assert set(pages) == {"index.md", "post.md"}
    assert (pages["index.md"]["status"], pages["index.md"]["model"], pages["index.md"]["provider"]) == (
        "generate", DEFAULT_MODEL, "google")
    assert (pages["post.md"]["status"], pages["post.md"]["provider"]) == ("generate", "foundry")
    total = estimate(DEFAULT_MODEL) + estimate("gpt-image-2")
    assert report["summary"]["estimated_cost_usd"] == pytest.approx(total, abs=1e-4)
    assert report["summary"]["generate"] == 2 and report["summary"]["cached"] == 0
    assert emulator.requests == []  # not one request of any kind: no image, no model list, no token


def test_plan_lists_placeholders_with_the_reason(clean_env: dict[str, str], tmp_path: Path) -> None:
    config = write_site(tmp_path, PAGES)
    result = run("plan", "-f", str(config))
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    [index] = [line for line in lines if "index.md" in line]
    assert "placeholder" in index and f"no provider serving {DEFAULT_MODEL} is authenticated" in index
    assert "GEMINI_API_KEY" in index
    [post] = [line for line in lines if "post.md" in line]
    assert "AZURE_OPENAI_ENDPOINT" in post and "OPENAI_API_KEY" in post
    assert lines[-1].startswith("0 to generate, 0 cached, 2 placeholder(s)")


def test_plan_shares_one_generation_and_honours_max_new(emulator: Emulator, tmp_path: Path) -> None:
    pages = {f"p{i}.md": f"banner_prompt: prompt {i // 2}\n" for i in range(6)}  # three distinct banners
    config = write_site(tmp_path, pages, "      max_new: 2\n")
    result = run("plan", "-f", str(config), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert [page["status"] for page in report["pages"]] == ["generate"] * 4 + ["skipped"] * 2
    assert report["pages"][1]["reason"] == "same banner as p0.md, made once"
    assert report["summary"]["estimated_cost_usd"] == pytest.approx(2 * estimate(DEFAULT_MODEL))


@pytest.mark.parametrize(("front", "message"), [
    ("banner_prompt: x\nbanner_size: huge\n", "Error: bad.md: front matter key 'banner_size': expected a size"),
    ("banner_prompt: 42\n", "Error: bad.md: front matter key 'banner_prompt': expected text"),
    ("banner_prompt: x\nbanner_model: stable-diffusion-9\n",
     "Error: bad.md: front matter key 'banner_model': unknown model"),
])
def test_plan_front_matter_errors_exit_2_with_the_plugin_message(
        clean_env: dict[str, str], tmp_path: Path, front: str, message: str) -> None:
    config = write_site(tmp_path, {**PAGES, "bad.md": front})
    result = run("plan", "-f", str(config))
    assert result.exit_code == 2
    [line] = error_lines(result)
    assert line.startswith(message)


def test_plan_config_errors_exit_2(clean_env: dict[str, str], tmp_path: Path) -> None:
    config = write_site(tmp_path, PAGES)
    config.write_text(config.read_text().replace(f"size: {SMALL}", "size: huge"))
    result = run("plan", "-f", str(config))
    assert result.exit_code == 2
    [line] = error_lines(result)
    assert line.startswith(f"Error: {config}: Config value 'plugins': ") and "'size'" in line
    config.write_text(config.read_text().replace("size: huge", "model: stable-diffusion-9"))
    result = run("plan", "-f", str(config))
    assert result.exit_code == 2
    [line] = error_lines(result)
    assert "index.md: front matter key 'model (plugin option)': unknown model 'stable-diffusion-9'" in line


def test_plan_without_the_plugin_or_the_file_is_a_usage_error(clean_env: dict[str, str], tmp_path: Path) -> None:
    config = write_site(tmp_path, PAGES)
    config.write_text("site_name: no plugin\n")
    result = run("plan", "-f", str(config))
    assert result.exit_code == 2 and "the imagegen plugin is not enabled" in result.stderr
    missing = run("plan", "-f", str(tmp_path / "nope.yml"))
    assert missing.exit_code == 2 and "does not exist" in missing.stderr


# --- a real build, then plan and prune against its cache ----------------------------------------------


def test_build_then_plan_counts_cached_and_prune_keeps_what_pages_use(
        emulator: Emulator, clean_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = tmp_path / "site"
    config = write_site(site, {**PAGES, "draft.md": "banner_prompt: a draft banner\n"})
    config.write_text(config.read_text() + "draft_docs: |\n  draft.md\n")
    # The plugin reads the key stored by `keys set`: Gemini has no key in the build's environment.
    assert run("keys", "set", "google", input=emulator.keys["google"]).exit_code == 0
    env = {**clean_env, **emulator.env()}
    del env["GEMINI_API_KEY"]
    built = run_process(["-m", "mkdocs", "build", "-q", "-f", str(config)], env, site)
    assert built.returncode == 0, built.stderr
    assert sorted(r.provider for r in emulator.image_requests()) == ["foundry", "google"]  # the draft is not built
    emulator.reset()

    monkeypatch.delenv("GEMINI_API_KEY")
    cached = json.loads(run("plan", "-f", str(config), "--json").stdout)
    assert cached["summary"] == {"pages": 2, "generate": 0, "cached": 2, "placeholder": 0, "skipped": 0,
                                 "estimated_cost_usd": 0.0, "batch_estimated_cost_usd": 0.0}
    assert {page["provider"] for page in cached["pages"]} == {"google", "foundry"}

    # Change one prompt: that page needs a new banner, its old entry is now unused.
    post = site / "docs" / "post.md"
    post.write_text(post.read_text().replace("a garden of links", "a garden of cables"))
    text = run("plan", "-f", str(config))
    assert text.exit_code == 0
    assert re.search(r"^  generate\s+post\.md\s+gpt-image-2 via foundry", text.stdout, re.MULTILINE)
    assert "cached       1 page(s)" in text.stdout
    assert text.stdout.splitlines()[-1].startswith(
        f"1 to generate, 1 cached, 0 placeholder(s); estimated cost ${estimate('gpt-image-2'):.2f}")

    # A rendition in another format, and a stray rendition: nothing uses them.
    cache = site / ".banners"
    old_key = next(p.stem for p in (cache / "originals").glob("*.json")
                   if json.loads(p.read_text())["prompt"] == "a garden of links")
    used_key = next(p.stem for p in (cache / "originals").glob("*.json") if p.stem != old_key)
    stray = cache / "renditions" / "0123456789abcdef0123.png"
    stray.write_bytes(b"stray")
    before = sorted(p.relative_to(cache).as_posix() for p in cache.rglob("*") if p.is_file())

    dry = run("prune", "-f", str(config), "--dry-run")
    assert dry.exit_code == 0, dry.output
    listed = [line.removeprefix("would remove ") for line in dry.stdout.splitlines() if line.startswith("would remove ")
              and "file(s)" not in line]
    assert [name for name in listed if name.startswith("originals/")] == [
        f"originals/{old_key}.json", *(f"originals/{p.name}" for p in (cache / "originals").glob(f"{old_key}.*")
                                       if p.suffix != ".json")]
    assert "renditions/0123456789abcdef0123.png" in listed
    assert len([name for name in listed if name.startswith("renditions/")]) == 2  # the old banner's + the stray
    assert not any(used_key in name for name in listed)
    assert sorted(p.relative_to(cache).as_posix() for p in cache.rglob("*") if p.is_file()) == before

    pruned = run("prune", "-f", str(config))
    assert pruned.exit_code == 0, pruned.output
    assert [line.removeprefix("removed ") for line in pruned.stdout.splitlines()[:-1]] == listed
    assert not (cache / "originals" / f"{old_key}.json").exists() and not stray.exists()
    assert (cache / "originals" / f"{used_key}.json").exists()
    assert (cache / ".gitignore").exists()
    again = json.loads(run("plan", "-f", str(config), "--json").stdout)["summary"]
    assert (again["cached"], again["generate"]) == (1, 1)
    assert run("prune", "-f", str(config)).stdout.startswith("nothing to prune")
    assert emulator.requests == []


def test_prune_keeps_banners_of_draft_pages(clean_env: dict[str, str], tmp_path: Path) -> None:
    config = write_site(tmp_path, {"draft.md": "banner_prompt: a draft banner\n"})
    key = json.loads(run("plan", "-f", str(config), "--json").stdout)["pages"][0]["cache_key"]
    config.write_text(config.read_text() + "draft_docs: |\n  draft.md\n")
    assert json.loads(run("plan", "-f", str(config), "--json").stdout)["pages"] == []  # a build skips drafts...
    originals = tmp_path / ".banners" / "originals"
    originals.mkdir(parents=True)
    entry = [originals / f"{key}.json", originals / f"{key}.png", originals / f"{'0' * 64}.json"]
    for path in entry:
        path.write_text("{}")
    result = run("prune", "-f", str(config))  # ...but `mkdocs serve` shows them, so prune keeps their banners
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == f"removed originals/{'0' * 64}.json"
    assert entry[0].exists() and entry[1].exists() and not entry[2].exists()


# --- emulator -----------------------------------------------------------------------------------------


def test_emulator_command_prints_exports_and_stops_on_sigterm(clean_env: dict[str, str], tmp_path: Path) -> None:
    process = subprocess.Popen([sys.executable, "-m", "mkdocs_imagegen", "emulator", "--port", "0"],
                               env=clean_env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        exports = dict(process.stdout.readline().removeprefix("export ").strip().split("=", 1) for _ in range(6))
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert exports["GOOGLE_GEMINI_BASE_URL"].startswith("http://127.0.0.1:")
    assert not exports["GOOGLE_GEMINI_BASE_URL"].endswith(":0")
    assert {"GEMINI_API_KEY", "OPENAI_API_KEY", "OPENAI_BASE_URL", "AZURE_OPENAI_ENDPOINT"} <= set(exports)


def test_prune_reads_past_a_draft_whose_forced_provider_cannot_serve_its_model(
        clean_env: dict[str, str], tmp_path: Path) -> None:
    """The build skips the draft; prune reads every page for its key, and must not stop at its routing."""
    site = tmp_path / "site"
    config = write_site(site, {**PAGES, "draft.md": "banner_prompt: a draft\nbanner_model: gpt-image-2\n"
                                                    "banner_provider: google\n"})
    config.write_text(config.read_text() + "draft_docs: |\n  draft.md\n")
    result = run("prune", "-f", str(config), "--dry-run")
    assert result.exit_code == 0, result.output
    assert "nothing to prune" in result.stdout


# --- a page whose front matter cannot be read ---------------------------------------------------------


@pytest.mark.parametrize("command", [["prune"], ["prune", "--dry-run"], ["plan"], ["plan", "--json"],
                                     ["backfill", "--yes"], ["compare", "-m", "gpt-image-2", "--dry-run"],
                                     ["sync", "--check"], ["brief", "--dry-run"], ["alt", "--dry-run"]])
def test_a_page_with_unreadable_front_matter_stops_every_site_command(
        clean_env: dict[str, str], tmp_path: Path, command: list[str]) -> None:
    """Nothing acts on a partial site: the page is named, nothing is removed or planned without it."""
    config = write_site(tmp_path, {"index.md": "banner_prompt: a lighthouse made of notebooks\n",
                                   "post.md": "banner_prompt: a garden of links\n"})
    key = {page["page"]: page["cache_key"] for page in json.loads(run("plan", "-f", str(config), "--json").stdout)
           ["pages"]}["post.md"]
    originals = tmp_path / ".banners" / "originals"
    originals.mkdir(parents=True)
    kept = [originals / f"{key}.json", originals / f"{key}.png"]
    for path in kept:
        path.write_text("{}")
    (tmp_path / "docs" / "post.md").write_text("---\nbanner_prompt: [a garden of links\n---\n\n# Post\n")
    result = run(*command, "-f", str(config))
    assert result.exit_code != 0, result.output
    [line] = error_lines(result)
    assert line.startswith("Error: post.md: ") and "front matter" in line, line
    assert "Traceback" not in result.output
    assert all(path.exists() for path in kept)
