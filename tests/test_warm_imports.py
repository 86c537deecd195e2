"""A warm build pays only for what it uses: with every banner cached and every provider's credentials set, a
`mkdocs build` imports no HTTP client, no provider SDK, no object-store library and no provider module.

Read from `python -X importtime` of a real `mkdocs build` process, which lists every module the process
imports, whenever it is imported (at start-up, during the build, or at exit).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from mkdocs_imagegen.emulator import Emulator
from mkdocs_imagegen.provider_table import PROVIDERS

from sitekit import PROVIDER_VARIABLES, build, page, write_site

# What a warm build never needs: the HTTP client every provider sends through, the two SDKs, the object stores.
NEVER_WARM = ("httpx", "httpcore", "h11", "google.genai", "google.auth", "azure.identity", "azure.core", "fsspec",
              "boto3", "botocore")
PROVIDER_MODULES = tuple(spec.provider.partition(":")[0] for spec in PROVIDERS)

PAGES = {
    "index.md": page("a lighthouse at dawn", title="Home"),  # the default model, through Google
    "gemini.md": page("a fox in snow", title="Gemini", banner_model="gemini-3.1-flash-image"),  # deprecated: a note
    "openai.md": page("a green hill", title="OpenAI", banner_model="gpt-image-2", banner_provider="openai"),
    "foundry.md": page("a calm sea", title="Foundry", banner_model="gpt-image-2", banner_provider="foundry"),
    "studio.md": page("a quiet harbour", title="Studio", banner_model="sd-turbo"),
}


def imported_modules(importtime: str) -> set[str]:
    """The module names `-X importtime` reported, from its `import time: self | cumulative | name` lines."""
    names = set()
    for line in importtime.splitlines():
        if line.startswith("import time:") and line.count("|") == 2:
            names.add(line.rsplit("|", 1)[1].strip())
    names.discard("imported package")  # the header
    return names


def loaded(modules: set[str], package: str) -> list[str]:
    return sorted(m for m in modules if m == package or m.startswith(f"{package}."))


def test_a_warm_build_with_every_credential_imports_no_client_sdk_or_provider(site_root: Path,
                                                                              emulator: Emulator) -> None:
    emulator.add_model("endpoints", "sd-turbo")
    options = {"providers": {"endpoints": {"studio": {"base_url": f"{emulator.url}/sdcpp/v1", "models": ["sd-turbo"],
                                                      "key_env": "STUDIO_KEY"}}}}
    config = write_site(site_root, PAGES, options)
    credentials = {**emulator.env(), "STUDIO_KEY": emulator.keys["endpoints"], "NO_MKDOCS_2_WARNING": "1"}
    cold = build(config, "--strict", env=credentials)
    assert cold.returncode == 0, cold.stderr
    assert "5 generated" in cold.stderr, cold.stderr
    emulator.reset()

    env = {k: v for k, v in os.environ.items() if k not in PROVIDER_VARIABLES}
    warm = subprocess.run([sys.executable, "-X", "importtime", "-m", "mkdocs", "build", "-f", str(config)],
                          capture_output=True, text=True, env={**env, **credentials}, cwd=site_root, timeout=120)
    assert warm.returncode == 0, warm.stderr[-3000:]
    assert "0 generated, 5 cached" in warm.stderr, warm.stderr[-3000:]
    assert emulator.requests == []
    # The deprecated model's note names its provider without making one.
    assert "was deprecated by Google Gemini" in warm.stderr, warm.stderr[-3000:]

    modules = imported_modules(warm.stderr)
    assert "mkdocs_imagegen.plugin.plugin" in modules  # the plugin ran in this process, and was reported
    assert [m for package in NEVER_WARM for m in loaded(modules, package)] == []
    assert [m for m in PROVIDER_MODULES if m in modules] == []
    assert "mkdocs_imagegen.providers.transport" not in modules


def test_a_providers_note_names_it_as_its_module_does() -> None:
    """Build notes name a provider from the provider table; its module names itself in its own messages."""
    from mkdocs_imagegen.providers.registry import Registry, provider_class

    registry = Registry.from_options({"endpoints": {"studio": {"base_url": "http://127.0.0.1:9/v1"}}})
    for spec in PROVIDERS:
        if not spec.named:
            assert registry.label(spec.name) == provider_class(spec.name).label
    assert registry.label("studio") == registry.get("studio").label
    assert registry.label("placeholder") == "placeholder"
