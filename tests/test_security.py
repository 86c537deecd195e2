"""Issue 7.5-7.7: no key ever leaks; nothing is written outside cache_dir and site_dir, and no file name
comes from user text; prompts of the full 32,000 characters in any script round-trip.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from mkdocs_imagegen.cache.store import CacheStore
from mkdocs_imagegen.emulator import Emulator, Fault
from mkdocs_imagegen.providers.credentials import KeyStore, config_dir, mask
from mkdocs_imagegen.request import GenerationRequest, Size

from sitekit import banner_file, banner_sources, build, build_process, page, warnings_of, write_site
from test_faults import (
    PUBLISHED_NAME,
    assert_cache_sound,
    assert_real_banner,
    build_in_process,
    files_under,
    provenance_records,
    use_env,
)

# --- 7.5 secrets -----------------------------------------------------------------------------------------

# Distinctive fake keys: the emulator rejects them (auth failures), or is told to accept them.
FAKE_ENV_KEYS = {
    "GEMINI_API_KEY": "AIzaSyFAKEgemini-7Qx9Lm2Vb8Nc4Zr6Tp1Kd",
    "AZURE_OPENAI_API_KEY": "FAKEazure6b1f0c9e8d7a4f3e2d1c0b9aQw",
}
FAKE_STORED_OPENAI = "sk-proj-FAKEstoredOpenai-4Hk8Wq2Ez7Ry5Ud3Jm9Xc"
GOOD_KEYS = {
    "google": "AIzaSyGOODgemini-Pz3Kq8Wn5Rt1Yv7Bm2Hs",
    "openai": "sk-proj-GOODopenai-9Jd4Lf6Gh2Sk8Qa1Zx5Cv",
    "foundry": "GOODazure0a9b8c7d6e5f4a3b2c1d0e9f8Rt",
}
CREDENTIAL_FIELD = re.compile(
    r"api[-_]?key|authori[sz]ation|secret|password|credential|bearer|access[-_]?token|^token$", re.IGNORECASE)

SECRET_PAGES = {
    "gemini.md": page("a gemini banner", title="Gemini"),
    "foundry.md": page("a foundry banner", title="Foundry", banner_model="gpt-image-2"),
    "openai.md": page("an openai banner", title="OpenAI", banner_model="gpt-image-2", banner_provider="openai"),
}


def needles(secret: str) -> list[bytes]:
    return [secret.encode(), secret[-8:].encode()]


def assert_nowhere(secrets: list[str], text: str, *roots: Path) -> None:
    """Neither a key nor its last 8 characters in `text` or any file under `roots`."""
    for secret in secrets:
        for needle in needles(secret):
            assert needle.decode() not in text, f"{needle!r} leaked into the build output"
            for root in roots:
                for path in files_under(root, skip=()):
                    assert needle not in path.read_bytes(), f"{needle!r} leaked into {path}"


def walk(value: Any) -> Iterator[tuple[str | None, Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield str(key), item
            yield from walk(item)
    elif isinstance(value, list):
        for item in value:
            yield None, item
            yield from walk(item)


def assert_provenance_clean(cache_dir: Path, secrets: list[str]) -> None:
    records = provenance_records(cache_dir)
    for record in records:
        for key, value in walk(record):
            assert key is None or not CREDENTIAL_FIELD.search(key), f"credential-like field {key!r} in provenance"
            assert not any(s in str(value) or s[-8:] in str(value) for s in secrets), f"key in provenance: {key}"


def test_rejected_keys_never_appear_anywhere(site_root: Path, tmp_path: Path) -> None:
    """Every provider rejects its key (env for Gemini and Azure, the key store for OpenAI); -v build."""
    KeyStore.default().set("openai", FAKE_STORED_OPENAI)
    config = write_site(site_root, SECRET_PAGES, {"size": "640x360", "retries": 1})
    with Emulator() as emulator:
        env = {k: v for k, v in emulator.env().items() if not k.endswith("_API_KEY")} | FAKE_ENV_KEYS
        result = build(config, "-v", env=env)
        seen = {r.provider: r.headers for r in emulator.image_requests()}
    # The keys really were sent (and rejected), so the test is not vacuous.
    assert seen["google"]["x-goog-api-key"] == FAKE_ENV_KEYS["GEMINI_API_KEY"]
    assert seen["foundry"]["api-key"] == FAKE_ENV_KEYS["AZURE_OPENAI_API_KEY"]
    assert seen["openai"]["authorization"] == f"Bearer {FAKE_STORED_OPENAI}"
    assert result.returncode == 0, result.stderr
    lines = warnings_of(result)
    assert len(lines) == 3, result.stderr
    for src, source in (("gemini.md", "GEMINI_API_KEY"), ("foundry.md", "AZURE_OPENAI_API_KEY"),
                        ("openai.md", "keys set openai")):
        [line] = [w for w in lines if src in w]
        assert "rejected" in line and source in line, line  # says which key to fix, never the key
    secrets = [*FAKE_ENV_KEYS.values(), FAKE_STORED_OPENAI]
    assert_nowhere(secrets, result.stdout + result.stderr, site_root / ".banners", site_root / "site")
    assert_provenance_clean(site_root / ".banners", secrets)


def test_accepted_keys_never_appear_anywhere_through_refusals_and_retries(site_root: Path) -> None:
    pages = {
        **SECRET_PAGES,
        "gemini-refused.md": page("a gemini banner that is refused", title="Gemini refused"),
        "foundry-refused.md": page("a foundry banner that is refused", title="F refused", banner_model="gpt-image-2"),
        "openai-refused.md": page("an openai banner that is refused", title="O refused", banner_model="gpt-image-2",
                                  banner_provider="openai"),
    }
    config = write_site(site_root, pages, {"size": "640x360", "retries": 1})
    with Emulator() as emulator:
        emulator.keys.update(GOOD_KEYS)
        emulator.add_fault(Fault(provider="google", kind="block_reason", times=-1, match="refused"))
        emulator.add_fault(Fault(provider="foundry", kind="content_policy_violation", times=-1, match="refused"))
        emulator.add_fault(Fault(provider="openai", kind="moderation_blocked", times=-1, match="refused"))
        for provider in ("google", "foundry", "openai"):  # the good prompt: one 429, then success
            emulator.add_fault(Fault(provider=provider, kind="rate_limit", times=1, retry_after=0.05))
        result = build(config, "-v", env=emulator.env())
        assert len(emulator.image_requests()) == 9
    assert result.returncode == 0, result.stderr
    assert "retry 1/1" in result.stderr and "DEBUG" in result.stderr
    assert len(warnings_of(result)) == 3, result.stderr
    secrets = list(GOOD_KEYS.values())
    assert_nowhere(secrets, result.stdout + result.stderr, site_root / ".banners", site_root / "site")
    assert_provenance_clean(site_root / ".banners", secrets)
    assert sorted(r["provider"] for r in provenance_records(site_root / ".banners")) == ["foundry", "google",
                                                                                          "openai"]


def test_entra_id_tokens_never_appear_anywhere(site_root: Path) -> None:
    """Azure via Entra ID (managed identity): neither the identity secret nor a bearer token leaks."""
    pages = {"ok.md": page("a foundry banner", title="OK", banner_model="gpt-image-2"),
             "refused.md": page("a refused foundry banner", title="Refused", banner_model="gpt-image-2")}
    config = write_site(site_root, pages, {"size": "640x360", "retries": 0})
    with Emulator() as emulator:
        emulator.identity_secret = "IDENTITYsecret-5Tg7Yh9Uj1Ik3Ol"
        emulator.add_fault(Fault(kind="content_policy_violation", times=-1, match="refused"))
        env = {k: v for k, v in emulator.env().items() if k != "AZURE_OPENAI_API_KEY"}
        result = build(config, "-v", env=env | emulator.managed_identity_env())
        tokens = sorted({r.headers["authorization"].removeprefix("Bearer ") for r in emulator.image_requests()})
    assert result.returncode == 0, result.stderr
    assert len(tokens) == 1 and tokens[0].startswith("emu-token-"), tokens  # the build really used Entra ID
    assert len(warnings_of(result)) == 1 and "content_policy_violation" in result.stderr
    secrets = [emulator.identity_secret, *tokens]
    assert_nowhere(secrets, result.stdout + result.stderr, site_root / ".banners", site_root / "site")
    assert_provenance_clean(site_root / ".banners", secrets)
    [record] = provenance_records(site_root / ".banners")
    assert "details" not in record  # provider echoes are not kept (issue 14, defect 5)


def test_cli_shows_keys_masked_at_most(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mkdocs_imagegen.cli import cli

    monkeypatch.chdir(tmp_path)  # `generate` keeps its cache, .banners, in the current folder

    runner = CliRunner()
    secret = GOOD_KEYS["openai"]
    stored = runner.invoke(cli, ["keys", "set", "openai"], input=secret + "\n")
    assert stored.exit_code == 0, stored.output
    listed = runner.invoke(cli, ["keys", "list"])
    doctor = runner.invoke(cli, ["doctor"], env={"GEMINI_API_KEY": GOOD_KEYS["google"]})
    for result in (stored, listed, doctor):
        assert secret not in result.output and secret[-8:] not in result.output, result.output
        assert GOOD_KEYS["google"][-8:] not in result.output
    assert mask(secret) in listed.output and mask(secret) == "…" + secret[-4:]
    assert mask("short") == "…"
    store = config_dir() / "keys.json"
    assert store.stat().st_mode & 0o777 == 0o600

    with Emulator() as emulator:
        env = {k: v for k, v in emulator.env().items() if k.startswith("OPENAI_")} | {"OPENAI_API_KEY": secret}
        failed = runner.invoke(cli, ["generate", "a banner", "-m", "gpt-image-2", "-o", str(tmp_path / "b.png")],
                               env=env)
    assert failed.exit_code == 1, failed.output
    assert "rejected" in failed.output and secret[-8:] not in failed.output and "Traceback" not in failed.output
    assert not (tmp_path / "b.png").exists()


# --- 7.6 paths -------------------------------------------------------------------------------------------

HOSTILE = [
    "../../../../../../tmp/pwned", "/etc/passwd", "..\\..\\windows\\system32", "a/b/../../../c", "nul\x00byte",
    "line\nbreak", "%2e%2e%2fescape", "~/.ssh/id_rsa", "$(touch /tmp/pwned) `id`", "{{ config }} {% raw %}",
    "<script>alert(1)</script>", "CON", ".", "..",
]
INJECTION = '"><img src=x onerror=alert(1)>'


def snapshot(*roots: Path) -> dict[Path, tuple[int, int]]:
    return {path: (path.stat().st_size, path.stat().st_mtime_ns) for root in roots for path in files_under(root)}


def test_nothing_is_written_outside_cache_and_site_and_no_name_comes_from_user_text(tmp_path: Path) -> None:
    project = tmp_path / "project"
    outside = tmp_path / "outside"
    for name in ("home", "tmp", "xdg-cache", "xdg-config", "xdg-data"):
        (outside / name).mkdir(parents=True)
    pages: dict[str, str] = {}
    for i, text in enumerate(HOSTILE):
        front: dict[str, Any] = {"title": text, "banner_alt": INJECTION}
        if i % 3 == 0:
            front |= {"banner_model": "gpt-image-2", "banner_provider": "openai"}
        elif i % 3 == 1:
            front |= {"banner_model": "gpt-image-2"}  # foundry
        else:
            front |= {"banner_provider": "placeholder"}
        pages[f"p{i}/index.md"] = page(f"{text} (prompt {i})", **front)
    pages["refused.md"] = page("../../refused/prompt", title="../../refused", banner_model="gpt-image-2")
    config = write_site(project, pages, {"size": "640x360", "retries": 0})
    user_config = config_dir()
    before = snapshot(tmp_path, user_config)
    pwned = Path("/tmp/pwned").exists()
    with Emulator() as emulator:
        emulator.add_fault(Fault(kind="content_policy_violation", times=-1, match="refused"))
        env = emulator.env() | {"HOME": str(outside / "home"), "TMPDIR": str(outside / "tmp"),
                                "XDG_CACHE_HOME": str(outside / "xdg-cache"),
                                "XDG_CONFIG_HOME": str(outside / "xdg-config"),
                                "XDG_DATA_HOME": str(outside / "xdg-data")}
        result = build_process(config, env=env)  # its own HOME and TMPDIR: a fresh interpreter reads them
    assert result.returncode == 0, result.stderr
    after = snapshot(tmp_path, user_config)
    changed = {path for path, stamp in after.items() if before.get(path) != stamp}
    allowed = (project / ".banners", project / "site")
    stray = sorted(str(p) for p in changed if not any(p.is_relative_to(root) for root in allowed))
    assert stray == [], stray
    assert set(before) <= set(after), "a build must not delete files outside site_dir"
    assert Path("/tmp/pwned").exists() == pwned

    # No file name is built from user text.
    assert_cache_sound(project / ".banners")
    published = sorted((project / "site" / "assets" / "banners").iterdir())
    assert published and all(PUBLISHED_NAME.match(p.name) for p in published), [p.name for p in published]
    for i in range(len(HOSTILE)):
        path = banner_file(config, f"p{i}")
        assert path.parent == project / "site" / "assets" / "banners", path
        assert path.name.startswith("placeholder-") == (i % 3 == 2)
    assert banner_file(config, "refused").name.startswith("placeholder-")
    # User text lands in HTML escaped, never as markup.
    for html in (project / "site").rglob("*.html"):
        text = html.read_text(encoding="utf-8")
        assert INJECTION not in text, html  # (the page's own Markdown heading is the author's business)
        assert all(src.startswith(("../assets/banners/", "assets/banners/")) for src in banner_sources(text))


@pytest.mark.parametrize(("option", "value"), [
    ("cache_dir", "../outside-cache"),
    ("cache_dir", "sub/../../outside-cache"),
    ("cache_dir", "link-to-outside"),
    ("output_dir", "../outside-site"),
    ("output_dir", "a/../../outside-site"),
])
def test_paths_leaving_the_project_are_refused(site_root: Path, tmp_path: Path, option: str, value: str) -> None:
    (tmp_path / "elsewhere").mkdir()
    site_root.mkdir()
    (site_root / "link-to-outside").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    config = write_site(site_root, {"p.md": page("a banner", title="P", banner_provider="placeholder")},
                        {option: value, "size": "64x32"})
    before = snapshot(tmp_path)
    run = build_in_process(config)
    assert run.error is not None
    assert len(run.errors) == 1 and option in run.errors[0] and value in run.errors[0], run.errors
    assert "\n" not in run.errors[0]
    assert not (tmp_path / "outside-cache").exists() and not (site_root.parent / "outside-site").exists()
    assert list((tmp_path / "elsewhere").iterdir()) == []
    assert set(snapshot(tmp_path)) == set(before)


def test_absolute_cache_dir_outside_the_project_is_allowed(site_root: Path, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    shared = tmp_path / "shared" / "banner-cache"
    config = write_site(site_root, {"p.md": page("a shared banner", title="P", banner_model="gpt-image-2")},
                        {"cache_dir": str(shared), "size": "640x360"})
    with Emulator() as emulator:
        use_env(monkeypatch, emulator.env())
        run = build_in_process(config, strict=True)
    assert run.error is None, run.errors + run.warnings
    assert_real_banner(config, "p", "a shared banner", (640, 360))
    assert [r["prompt"] for r in provenance_records(shared)] == ["a shared banner"]
    assert_cache_sound(shared)
    assert not (site_root / ".banners").exists()


# --- 7.7 long and non-Latin prompts ---------------------------------------------------------------------

LIMIT = 32000
GEMINI = "gemini-3.1-flash-image"
UNITS = {  # script -> (a phrase to repeat, the model and forced provider that carry it)
    "japanese": ("索引カードを積み重ねた灯台、柔らかな朝の光、フラットなイラスト。", GEMINI, None),
    "korean": ("색인 카드로 쌓아 올린 등대, 부드러운 아침 햇살, 평면 일러스트. ", "gpt-image-2", None),
    "hindi": ("अनुक्रमणिका कार्डों से बना प्रकाशस्तंभ, सुबह की कोमल रोशनी। ", "gpt-image-2", "openai"),
    "emoji": ("🏳️‍🌈🧠📇✨👩🏽‍💻🇯🇵 lighthouse 🗼 ", GEMINI, None),
    "ascii": ("a lighthouse made of stacked paper index cards, soft morning light. ", "gpt-image-2", "openai"),
}


def full_length(unit: str, length: int = LIMIT) -> str:
    """`length` characters (code points) of the phrase, ending in a non-space (the prompt is stripped)."""
    return (unit * (length // len(unit) + 1))[: length - 1] + "。"


def test_prompts_at_the_limit_in_any_script_round_trip(site_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    prompts: dict[str, tuple[str, str]] = {}  # page dir -> (prompt, model)
    pages = {}
    for script, (unit, model, provider) in UNITS.items():
        for label, prompt in (("long", full_length(unit)), ("short", unit.strip())):
            front = {"banner_model": model} | ({"banner_provider": provider} if provider else {})
            pages[f"{script}-{label}.md"] = page(prompt, title=f"{script} {label}", **front)
            prompts[f"{script}-{label}"] = (prompt, model)
    assert all(len(prompts[f"{s}-long"][0]) == LIMIT for s in UNITS)
    config = write_site(site_root, pages, {"size": "640x360"})
    with Emulator() as emulator:
        use_env(monkeypatch, emulator.env())
        run = build_in_process(config, strict=True)
        sent = sorted(r.prompt for r in emulator.image_requests())
    assert run.error is None, run.errors + run.warnings
    assert sent == sorted(prompt for prompt, _ in prompts.values()), "a prompt was altered on the wire"

    cache = CacheStore(site_root / ".banners")
    keys = {}
    for page_dir, (prompt, model) in prompts.items():
        key = GenerationRequest(prompt=prompt, model=model, size=Size(640, 360)).cache_key
        original = cache.original(key)
        assert original is not None, page_dir
        assert original.provenance["prompt"] == prompt and original.provenance["parameters"]["prompt"] == prompt
        assert original.provenance["key"] == key and original.path.name.startswith(key)
        assert_real_banner(config, page_dir, prompt, (640, 360))
        keys[page_dir] = key
    assert len(set(keys.values())) == len(prompts)
    assert_cache_sound(site_root / ".banners")
    # Provenance is readable UTF-8, not \\u escapes, so a reviewer can read a committed record.
    record = cache.provenance_path(keys["japanese-short"]).read_text(encoding="utf-8")
    assert UNITS["japanese"][0] in record


@pytest.mark.parametrize("script", ["ascii", "japanese"])
def test_a_prompt_over_the_limit_is_one_line_naming_the_page(site_root: Path, script: str) -> None:
    prompt = full_length(UNITS[script][0], LIMIT + 1)
    config = write_site(site_root, {"posts/too-long.md": page(prompt, title="Too long"),
                                    "fine.md": page("a fine banner", title="Fine")})
    result = build(config)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("ERROR")]
    assert len(errors) == 1, result.stderr
    assert "posts/too-long.md" in errors[0] and "'banner_prompt'" in errors[0], errors[0]
    assert "32,001" in errors[0] and "32,000" in errors[0], errors[0]
    assert len(errors[0]) < 300, "the error quotes the prompt"
    assert not (site_root / ".banners" / "originals").exists()


def test_front_matter_yaml_of_the_long_prompts_is_what_the_page_holds() -> None:
    """Guard for the test itself: sitekit's YAML keeps every code point of the prompts."""
    for unit, _, _ in UNITS.values():
        prompt = full_length(unit)
        assert yaml.safe_load(page(prompt).split("---\n")[1])["banner_prompt"] == prompt

