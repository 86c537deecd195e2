"""Issue 14, defect 18: bad plugin option values stop the build at config time, in MkDocs' own format."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mkdocs_imagegen.plugin.config import _OPTION_KINDS, _provider_options

from sitekit import build, page, write_site


def _config_error(site_root: Path, options: dict[str, Any]) -> str:
    config = write_site(site_root, {"p.md": page("a prompt", title="P")}, options)
    result = build(config)
    assert result.returncode != 0, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("ERROR")]
    assert len(errors) == 1, result.stderr
    assert errors[0].startswith("ERROR   -  Config value 'plugins': Plugin 'imagegen' option"), errors
    return errors[0]


@pytest.mark.parametrize("value", [-5, 0, True, "soon"])
def test_timeout_must_be_a_positive_number_of_seconds(site_root: Path, value: object) -> None:
    error = _config_error(site_root, {"timeout": value})
    assert "Plugin 'imagegen' option 'timeout'" in error and "seconds" in error, error


@pytest.mark.parametrize("value", [2.5, 300])
def test_a_sane_timeout_builds(site_root: Path, value: float) -> None:
    config = write_site(site_root, {"p.md": page("a prompt", title="P")}, {"timeout": value})
    result = build(config)
    assert result.returncode == 0, result.stderr


def test_aliases_map_names_to_model_names_only(site_root: Path) -> None:
    error = _config_error(site_root, {"aliases": {"x": ["a"]}})
    assert "Plugin 'imagegen' option 'aliases'" in error, error


def test_foundry_deployments_map_models_to_names_only(site_root: Path) -> None:
    error = _config_error(site_root, {"providers": {"foundry": {"deployments": {"gpt-image-2": ["a"]}}}})
    assert "'deployments'" in error, error


def test_the_url_option_kind_wants_a_scheme() -> None:
    assert "url" in _OPTION_KINDS
    schema = _provider_options("demo", {"base_url": "url"})()
    schema.load_dict({"base_url": "api.openai.com/v1"})
    failed, _ = schema.validate()
    assert failed and "http://" in str(failed[0][1])
    schema = _provider_options("demo", {"base_url": "url"})()
    schema.load_dict({"base_url": "https://api.openai.com/v1"})
    failed, _ = schema.validate()
    assert not failed and schema["base_url"] == "https://api.openai.com/v1"


@pytest.mark.parametrize(("provider", "option"), [("openai", "base_url"), ("google", "base_url"),
                                                  ("foundry", "endpoint")])
def test_a_provider_url_without_a_scheme_is_refused_at_config_time(site_root: Path, provider: str,
                                                                   option: str) -> None:
    """Needs the provider table (providers/__init__.py) to give these options the "url" kind."""
    error = _config_error(site_root, {"providers": {provider: {option: "api.example.com/v1"}}})
    assert f"Sub-option '{option}'" in error and "scheme" in error, error
