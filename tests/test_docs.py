"""The documentation a user reads: the README's front page, the docs site built as CI builds it, its generated
references against the code, and the troubleshooting entries the plugin's messages point to."""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner
from mkdocs.config import base
from mkdocs.config import config_options as c

from mkdocs_imagegen.catalogue.lookup import default_catalogue
from mkdocs_imagegen.pages.frontmatter import FIELDS
from mkdocs_imagegen.plugin.config import ImagegenConfig

from sitekit import build, page, warnings_of, write_site

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "mkdocs_imagegen"
SLUG = re.compile(r"see docs: troubleshooting#([a-z0-9-]+)")
# The causes a user can fix that the issue names; each must be named by at least one message.
REQUIRED_SLUGS = {"no-credentials", "refused-key", "retired-model", "model-not-served", "unverified-organization",
                  "reference-refused", "cache-entry-refused", "shared-store-down", "strict-mode"}
# Warnings whose text is another message, which names its own entry (checked where that message is made).
PASS_THROUGH = {"imagegen: %s"}


# --- the README -------------------------------------------------------------------------------------------


def test_readme_is_a_front_page_that_opens_with_what_a_new_user_runs() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.encode("utf-8")) <= 12 * 1024
    first = "\n".join(readme.splitlines()[:60])
    assert "pip install . mkdocs-material && mkdocs build -f example_site/mkdocs.yml" in first
    assert re.search(r"pip install -e '\.\[test\]' && python -m pytest -q", first)
    assert "pip install mkdocs-imagegen" in first
    assert "mkdocs-imagegen emulator --port 0 > emulator.env" in first
    assert "(issue" not in readme.lower()
    for link in re.findall(r"\]\(((?:docs/|example_site/|CHANGELOG|LICENSE)[^)#]*)", readme):
        assert (ROOT / link).is_file(), link


def test_the_docs_speak_to_users() -> None:
    for path in (ROOT / "docs").rglob("*.md"):
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"\(issues? \d+|issue \d+'s", text, re.IGNORECASE), path


# --- the site, built as CI builds it ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`mkdocs build --strict` of the docs site, with no provider keys (and so no network)."""
    pytest.importorskip("mkdocs_click", reason="the docs extra: pip install -e '.[docs]'")
    pytest.importorskip("mkdocstrings", reason="the docs extra: pip install -e '.[docs]'")
    out = tmp_path_factory.mktemp("docs-site")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "GOOGLE_", "GEMINI_", "OPENAI_"))}
    env["NO_MKDOCS_2_WARNING"] = "1"
    result = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-f", "mkdocs-docs.yml",
                             "-d", str(out)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert not warnings_of(result), result.stderr
    return out


class _Page(HTMLParser):
    """Every id on a page, and the text of each table row, cell by cell."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.rows: list[list[str]] = []
        self._row: list[str] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.ids.update(value for name, value in attrs if name == "id" and value)
        if tag == "tr":
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._row is not None and self._cell is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.rows.append(self._row)
            self._row = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def parsed(site: Path, page_path: str) -> _Page:
    parser = _Page()
    parser.feed((site / page_path / "index.html").read_text(encoding="utf-8"))
    return parser


def _options(config_class: type[base.Config], prefix: str = "") -> Iterator[tuple[str, c.BaseConfigOption[Any]]]:
    for name, option in config_class._schema:  # noqa: SLF001 - MkDocs' own list of the schema's keys
        yield prefix + name, option
        if isinstance(option, c.SubConfig):
            yield from _options(option.config_class, f"{prefix}{name}.")
        elif getattr(option, "config_class", None) is not None:  # blocks the user names, each with these keys
            yield from _options(option.config_class, f"{prefix}{name}.<name>.")


def test_options_reference_lists_every_option_of_the_schema_with_its_default(site: Path) -> None:
    page_ = parsed(site, "reference/options")
    rows = {row[0]: row for row in page_.rows if row}
    names = list(_options(ImagegenConfig))
    assert len(names) > 30
    for name, option in names:
        assert name in rows, f"option {name} is missing from the options reference"
        assert name.replace(".<name>.", "-").replace(".", "-") in page_.ids  # linkable: options.md#cache_url
        if getattr(option, "config_class", None) is not None:
            continue
        default = option.default
        if isinstance(option, c.Optional) and default is None:
            default = option.option.default
        assert json.dumps(default) in rows[name][2], (name, rows[name])  # as written in mkdocs.yml


def test_front_matter_reference_lists_every_key(site: Path) -> None:
    page_ = parsed(site, "reference/front-matter")
    keys = [row[0] for row in page_.rows if row and row[0].startswith("banner_")]
    assert keys == list(FIELDS)
    assert set(FIELDS) <= page_.ids


def _commands(command: click.Command, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    yield path, command
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            yield from _commands(sub, (*path, name))


def test_cli_reference_lists_every_command_and_every_option_of_its_help(site: Path) -> None:
    from mkdocs_imagegen.cli import cli

    html = (site / "reference" / "cli" / "index.html").read_text(encoding="utf-8")
    headings = [(m.start(), m.group(1)) for m in re.finditer(r'<h\d id="(mkdocs-imagegen[a-z-]*)"', html)]
    sections = {anchor: html[start: headings[i + 1][0] if i + 1 < len(headings) else len(html)]
                for i, (start, anchor) in enumerate(headings)}
    assert "Sentinel" not in html and "banner-&lt;hash&gt;.png" in html  # as `--help` shows them
    commands = list(_commands(cli))
    assert len(commands) >= 14
    for path, _ in commands:
        anchor = "-".join(("mkdocs-imagegen", *path))
        assert anchor in sections, f"`mkdocs-imagegen {' '.join(path)}` is missing from the CLI reference"
        helped = CliRunner().invoke(cli, [*path, "--help"], prog_name="mkdocs-imagegen")
        assert helped.exit_code == 0, helped.output
        options = set(re.findall(r"(?<![\w-])(--?[a-z][a-z-]*)", helped.output.split("Options:", 1)[-1]))
        options -= {"--help", "-h"}
        for option in options:
            assert option in sections[anchor], f"{option} of `mkdocs-imagegen {' '.join(path)}` is not documented"


def test_catalogue_page_names_every_model(site: Path) -> None:
    html = (site / "models" / "catalogue" / "index.html").read_text(encoding="utf-8")
    for name in default_catalogue().models:
        assert f"<code>{name}</code>" in html, name


def test_python_api_page_documents_the_package_errors_and_requests(site: Path) -> None:
    ids = parsed(site, "reference/python").ids | parsed(site, "reference/errors").ids
    import mkdocs_imagegen

    for name in getattr(mkdocs_imagegen, "__all__", ()):
        assert f"mkdocs_imagegen.{name}" in ids, name
    assert {"mkdocs_imagegen.request.GenerationRequest", "mkdocs_imagegen.errors.AuthenticationError"} <= ids


def test_gallery_and_changelog_are_in_the_site(site: Path) -> None:
    for image in ("screenshot.png", "blog-index.png", "series.png", "compare-sheet.png"):
        assert (site / "assets" / "gallery" / image).is_file()
    changelog = (site / "changelog" / "index.html").read_text(encoding="utf-8")
    assert "0.2.0" in changelog and "0.1.0" in changelog


# --- troubleshooting: the messages' entries exist -----------------------------------------------------------


def _sources() -> Iterator[Path]:
    for path in PACKAGE.rglob("*.py"):
        if "emulator" not in path.relative_to(PACKAGE).parts:
            yield path


def _message_slugs() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for path in _sources():
        for slug in SLUG.findall(path.read_text(encoding="utf-8")):
            found.setdefault(slug, []).append(str(path.relative_to(ROOT)))
    return found


def test_every_troubleshooting_entry_a_message_names_is_in_the_built_site(site: Path) -> None:
    slugs = _message_slugs()
    anchors = parsed(site, "troubleshooting").ids
    missing = {slug: where for slug, where in slugs.items() if slug not in anchors}
    assert not missing, f"messages name troubleshooting entries the site lacks: {missing}"
    assert set(slugs) >= REQUIRED_SLUGS, REQUIRED_SLUGS - set(slugs)


def _literal(node: ast.AST) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(part.value if isinstance(part, ast.Constant) else "{}" for part in node.values)
    return None


def test_every_warning_the_plugin_logs_names_its_entry() -> None:
    unnamed = []
    for path in _sources():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "warning" and node.args):
                continue
            text = _literal(node.args[0])
            if text is None or text in PASS_THROUGH or SLUG.search(text):
                continue
            unnamed.append(f"{path.relative_to(ROOT)}:{node.lineno}: {text[:70]}")
    assert not unnamed, "warnings without a troubleshooting entry:\n" + "\n".join(unnamed)


def test_a_build_without_credentials_names_the_entry_that_says_what_to_set(site_root: Path) -> None:
    config = write_site(site_root, {"a.md": page("a lighthouse made of index cards"),
                                    "b.md": page("a brain of index cards", banner_model="gpt-image-2")})
    result = build(config)
    assert result.returncode == 0, result.stderr
    lines = [line for line in warnings_of(result) if "is not authenticated" in line]
    assert len(lines) == 2 and all(line.endswith("(see docs: troubleshooting#no-credentials)") for line in lines)


def test_a_refused_reference_is_one_line_naming_the_page_the_key_and_the_entry(site_root: Path) -> None:
    config = write_site(site_root, {"a.md": page("a harbour at night", banner_reference="art/missing.png")})
    result = build(config)
    assert result.returncode != 0
    line = next(line for line in result.stderr.splitlines() if "missing.png" in line)
    assert "a.md" in line and "banner_reference" in line and "troubleshooting#reference-refused" in line


def test_a_model_the_provider_does_not_serve_names_its_entry(site_root: Path, emulator: Any) -> None:
    config = write_site(site_root, {"a.md": page("a lighthouse", banner_model="gemini-9-image")},
                        {"providers": {"order": ["google"]}})
    result = build(config, env=emulator.env())
    assert result.returncode == 0, result.stderr
    lines = [line for line in warnings_of(result) if "gemini-9-image" in line]
    assert len(lines) == 1 and "troubleshooting#model-not-served" in lines[0], result.stderr
