"""Issue 7.4: front-matter fuzzing. Any YAML value for any banner_* key gives either a banner or one
line naming the page file and the key, never a traceback.

Values are generated as Python objects and written with yaml.safe_dump (None, bools, huge and negative
ints, nan/inf, empty/blank/unicode/very long text, dates, bytes, nested lists and maps), plus raw YAML
snippets the dumper never writes (tags, anchors, sexagesimal and hex ints, broken documents).
They are read back the way MkDocs reads a page (mkdocs.utils.meta.get_data).

Hypothesis runs derandomized, so CI sees the same examples every time.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mkdocs.exceptions import Abort
from mkdocs.utils.meta import get_data

from mkdocs_imagegen.pages.frontmatter import KNOWN_KEYS, FrontMatterError, parse_banner

from sitekit import banner_sources, page_html, write_site
from test_faults import build_in_process

KEYS = sorted(KNOWN_KEYS)
PAGE = "posts/fuzz.md"
MODELS = ["gemini-3.1-flash-image-preview", "gemini-3.1-flash-image", "gpt-image-2", "gpt-image-1.5",
          "gpt-image-1-mini", "gemini-2.5-flash-image", "dall-e-3", "imagen-4", " gpt-image-2 "]

# Text that survives a trip through a UTF-8 file (no lone surrogates).
TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=True, allow_infinity=True),
    TEXT,
    st.sampled_from(["", " ", "\t", "\n", " \n\t ", "\x00", "\u200b", "\ufeff", "../../etc/passwd", "a\nb",
                     "x" * 32000, "x" * 32001, "é" * 40000, "1792x1024", "16x16", "8x8", "0x0", "1792X1024",
                     " 320 × 180 ", "99999x99999", "-1x-1", "low", "medium", "high", "auto", "ULTRA",
                     "google", "foundry", "openai", "placeholder", "Google", *MODELS]),
    st.builds(lambda w, h: f"{w}x{h}", st.integers(-20, 300), st.integers(-20, 300)),
    st.dates(),
    st.datetimes(),
    st.binary(max_size=16),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT | st.integers(), inner, max_size=3),
    max_leaves=8,
)
# YAML the dumper never writes. (Ints over Python's 4300-digit print limit and lists nested ~1000 deep
# have their own regression test below.)
RAW_YAML = [
    "~", "null", "yes", "Off", ".inf", "-.Inf", ".NaN", "0o777", "0b1010", "0x1F", "1_000_000", "190:20:30",
    "2001-12-14t21:59:43.10-05:00", "2024-02-30", "!!binary aGVsbG8=", "!!set {a: null}", "!!omap [a: 1, b: 2]",
    "!!pairs [a: 1, a: 2]", "!!str 123", "!!float 1", "!!timestamp 2001-12-14", "&a [*a]", "*undefined",
    "[1, 2", "{a: [1, {b: 2}]}", '"\\u0000"', "'   '", "|\n  multi\n  line", ">-\n  folded\n  text",
    "!!python/object/apply:os.system [echo pwned]", "? [a, b]\n: c", "0x" + "f" * 1000, "[" * 100 + "]" * 100,
    "1e400", "-0", "12:30", "'1792x1024'", "!!int '3'",
]


def document(key: str, value: Any, prompt: str | None = "a fuzzed banner") -> str:
    meta = {} if prompt is None or key == "banner_prompt" else {"banner_prompt": prompt}
    meta[key] = value
    return f"---\n{yaml.safe_dump(meta, allow_unicode=True)}---\n\n# Fuzz\n"


def raw_document(key: str, raw: str) -> str:
    prompt = "" if key == "banner_prompt" else "banner_prompt: a fuzzed banner\n"
    return f"---\n{prompt}{key}: {raw}\n---\n\n# Fuzz\n"


def check_parse(text: str, key: str) -> None:
    _, meta = get_data(text)
    try:
        spec, warnings = parse_banner(meta, PAGE)
    except FrontMatterError as error:
        message = str(error)
        assert "\n" not in message and message.startswith(f"{PAGE}: ") and f"'{key}'" in message, message
        return
    assert all("\n" not in w for w in warnings)
    if spec is not None:
        assert isinstance(spec.prompt, str) and 1 <= len(spec.prompt) <= 32000
        assert isinstance(spec.variant, int) and not isinstance(spec.variant, bool) and spec.variant >= 0


@pytest.mark.parametrize("key", KEYS)
@settings(max_examples=100, deadline=None, derandomize=True, database=None)
@given(value=VALUES)
def test_parse_banner_gives_a_spec_or_one_line_naming_file_and_key(key: str, value: Any) -> None:
    check_parse(document(key, value), key)


@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize("raw", RAW_YAML)
def test_parse_banner_on_raw_yaml(key: str, raw: str) -> None:
    check_parse(raw_document(key, raw), key)


# --- whole builds ------------------------------------------------------------------------------------


def check_build(site_root: Path, text: str, present: set[str]) -> None:
    """Build a one-page site (no credentials: banners are placeholders) in-process.

    build_in_process re-raises anything but MkDocs' Abort, so a traceback fails the example.
    """
    config = write_site(site_root, {PAGE: text}, {"size": "64x32"})
    run = build_in_process(config, level=logging.WARNING)
    _, meta = get_data(text)
    if run.error is None:
        try:
            spec, _ = parse_banner(meta, PAGE)
        except FrontMatterError as error:  # pragma: no cover - the build must have stopped
            raise AssertionError(f"build passed over invalid front matter: {error}") from None
        assert len(banner_sources(page_html(config, "posts/fuzz"))) == (spec is not None)
        return
    assert isinstance(run.error, Abort)
    # MkDocs' own "Error reading page '...':" wrapper is test_route_errors_are_one_line's business.
    lines = [line for line in run.errors if not line.startswith("Error reading page")]
    assert len(lines) == 1, run.errors
    line = lines[0]
    assert "\n" not in line and line.startswith(f"{PAGE}: front matter key '"), line
    named = line.removeprefix(f"{PAGE}: front matter key '").split("'", 1)[0]
    assert named in present, line


FUZZ = settings(max_examples=12, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.mark.parametrize("key", KEYS)
@FUZZ
@given(value=VALUES)
def test_build_with_any_value_for_a_key(site_root: Path, key: str, value: Any) -> None:
    check_build(site_root, document(key, value), {key, "banner_prompt"})


@settings(FUZZ, max_examples=30)
@given(front=st.dictionaries(st.sampled_from([*KEYS, "banner_colour", "banner_"]), VALUES, min_size=1))
def test_build_with_any_combination_of_keys(site_root: Path, front: dict[str, Any]) -> None:
    check_build(site_root, f"---\n{yaml.safe_dump(front, allow_unicode=True)}---\n\n# Fuzz\n", set(front))


@pytest.mark.parametrize("raw", ["&a [*a]", "0x" + "f" * 1000, "!!python/object/apply:os.system [echo pwned]"])
def test_build_with_raw_yaml(site_root: Path, raw: str) -> None:
    for key in KEYS:
        check_build(site_root, raw_document(key, raw), {key, "banner_prompt"})


def test_valid_front_matter_round_trips(site_root: Path) -> None:
    """The happy path of every key at once: the build uses exactly what the page asked for."""
    front = {"title": "All keys", "banner_prompt": "  a lighthouse  ", "banner_model": "gpt-image-2",
             "banner_provider": "placeholder", "banner_size": "320x160", "banner_quality": "low",
             "banner_alt": "Alt text", "banner_variant": 3, "date": dt.date(2026, 1, 2)}
    _, meta = get_data(f"---\n{yaml.safe_dump(front)}---\n")
    spec, warnings = parse_banner(meta, PAGE)
    assert warnings == [] and spec is not None
    assert (spec.prompt, spec.model, spec.provider, str(spec.size), spec.quality, spec.alt, spec.variant) == (
        "a lighthouse", "gpt-image-2", "placeholder", "320x160", "low", "Alt text", 3)
    check_build(site_root, f"---\n{yaml.safe_dump(front)}---\n\n# All keys\n", set(front))


# --- regressions: values whose repr() fails ----------------------------------------------------------

NESTED = 990
PATHOLOGICAL = [  # (key, raw YAML): each key once, each shape at least twice
    ("banner_prompt", "0x" + "f" * 4000),  # hex int over Python's 4300-digit print limit
    ("banner_variant", "0x" + "f" * 4000),
    ("banner_size", "0" + "7" * 6000),  # a YAML 1.1 octal int over the limit
    ("banner_quality", "[" + "0" + "7" * 6000 + "]"),
    # Nested as deep as YAML lets a page nest: PyYAML >= 6.0.4 refuses 1000 levels itself (and MkDocs then
    # drops the page's whole front matter); older ones build the value, and repr() of it fails at ~1000.
    ("banner_provider", "[" * NESTED + "]" * NESTED),
    ("banner_model", "[" * NESTED + "]" * NESTED),
    ("banner_alt", "{a: " * NESTED + "b" + "}" * NESTED),
]


@pytest.mark.parametrize(("key", "raw"), PATHOLOGICAL, ids=[key for key, _ in PATHOLOGICAL])
def test_values_too_big_to_print_are_one_line_errors(site_root: Path, key: str, raw: str) -> None:
    config = write_site(site_root, {PAGE: raw_document(key, raw)}, {"size": "64x32"})
    run = build_in_process(config, level=logging.WARNING)  # a ValueError/RecursionError escapes here
    assert isinstance(run.error, Abort)
    assert len(run.errors) == 1 and run.errors[0].startswith(f"{PAGE}: front matter key '{key}'"), run.errors


@pytest.mark.parametrize("key", ["banner_provider", "banner_alt"])
def test_values_nested_past_what_repr_can_print_are_one_line_errors(key: str) -> None:
    deep: Any = []
    for _ in range(1500):  # built in Python: no YAML parser lets a page nest this deep any more
        deep = [deep]
    with pytest.raises(FrontMatterError) as raised:
        parse_banner({"banner_prompt": "a banner", key: deep}, PAGE)
    message = str(raised.value)
    assert "\n" not in message and message.startswith(f"{PAGE}: front matter key '{key}'"), message


@pytest.mark.parametrize(("key", "value"), [("banner_model", "stable-diffusion-3"), ("banner_provider", "google"),
                                            ("banner_provider", "openai")])
def test_route_errors_are_one_line(site_root: Path, key: str, value: str) -> None:
    front = {"banner_prompt": "a banner", "banner_model": "gemini-3.1-flash-image-preview", key: value}
    config = write_site(site_root, {PAGE: f"---\n{yaml.safe_dump(front)}---\n\n# Fuzz\n"}, {"size": "64x32"})
    run = build_in_process(config, level=logging.WARNING)
    assert isinstance(run.error, Abort)
    assert len(run.errors) == 1, run.errors
    assert run.errors[0].startswith(f"{PAGE}: front matter key '{key}'"), run.errors
