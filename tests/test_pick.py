"""`mkdocs-imagegen pick`: the candidate's banner lines go into the page, every other byte stays, and the
next build publishes the candidate with no request."""

from __future__ import annotations

import difflib
import hashlib
import json
import os
from pathlib import Path

import pytest
from test_cli import run

from mkdocs_imagegen.emulator import Emulator
from mkdocs_imagegen.errors import EditError
from mkdocs_imagegen.pages.edit import set_keys

from sitekit import banner_file, build, page, write_site

MODEL = "gpt-image-2"
SIZE = "640x360"

PAGES = {
    "comments.md": (b"---\n# a comment before everything\ntitle: 'Comments: kept'   # trailing comment\n"
                    b"banner_prompt: \"a quoted prompt\"  # why this prompt\ntags: [a, b]\n---\n\n"
                    b"# Comments\n\nBody.\n"),
    "unquoted.md": (b"---\ntitle: Unquoted\nbanner_prompt: an unquoted prompt\nbanner_model: gemini-3.1-flash-image\n"
                    b"---\nBody\n"),
    "crlf.md": b"---\r\ntitle: CRLF\r\nbanner_prompt: >\r\n  a folded\r\n  prompt\r\n---\r\n\r\nBody\r\n",
    "bom.md": b"\xef\xbb\xbf---\ntitle: BOM\nbanner_prompt: a prompt after a BOM\n---\nBody\n",
    "variant.md": (b"---\ntitle: Variant\nbanner_prompt: 'single quoted'\nbanner_variant: 7  # bumped twice\n"
                   b"description: last key\n---\nBody without a final newline"),
}
BANNER_KEYS = ("banner_model:", "banner_variant:")


def changed_lines(before: bytes, after: bytes) -> list[str]:
    old = before.decode("utf-8-sig").splitlines(keepends=True)
    new = after.decode("utf-8-sig").splitlines(keepends=True)
    return [line for line in difflib.unified_diff(old, new, n=0) if line[:1] in "+-" and line[:3] not in ("+++", "---")]


@pytest.mark.parametrize("name", sorted(PAGES))
def test_set_keys_changes_only_the_banner_lines(name: str) -> None:
    before = PAGES[name]
    after = set_keys(before, {"banner_model": MODEL, "banner_variant": 2})
    assert after.startswith(b"\xef\xbb\xbf") == before.startswith(b"\xef\xbb\xbf")
    changes = changed_lines(before, after)
    assert changes and all(line[1:].startswith(BANNER_KEYS) for line in changes), changes
    if b"\r\n" in before:
        assert after.count(b"\r\n") == after.count(b"\n")
    assert after.endswith(before[before.rindex(b"\n") + 1:])  # the body, to its last byte
    assert set_keys(after, {"banner_model": MODEL, "banner_variant": 2}) == after  # picking twice changes nothing


def test_set_keys_keeps_quote_style_and_comment_of_an_existing_line() -> None:
    after = set_keys(PAGES["variant.md"], {"banner_model": MODEL, "banner_variant": 3})
    assert b"banner_variant: 3  # bumped twice\n" in after
    quoted = set_keys(b"---\nbanner_prompt: p\nbanner_model: 'old-model'  # mine\n---\n", {"banner_model": MODEL})
    assert quoted == b"---\nbanner_prompt: p\nbanner_model: 'gpt-image-2'  # mine\n---\n"


def test_set_keys_refuses_front_matter_it_cannot_edit_safely() -> None:
    with pytest.raises(EditError):
        set_keys(b"No front matter\n", {"banner_model": MODEL})
    with pytest.raises(EditError):
        set_keys(b"---\n{banner_prompt: p, banner_model: x}\n---\n", {"banner_model": MODEL})


def test_pick_round_trip_next_build_makes_no_request_and_publishes_the_candidate(
        site_root: Path, emulator: Emulator, env: dict[str, str]) -> None:
    config = write_site(site_root, {}, {"size": SIZE})
    docs = site_root / "docs"
    for name, data in PAGES.items():
        (docs / name).write_bytes(data)
    result = run("compare", "-f", str(config), "-m", MODEL, "-n", "2", "--yes")
    assert result.exit_code == 0, result.stderr
    folder = Path(result.stdout.splitlines()[-1])
    record = json.loads((folder / "candidates.json").read_text())["candidates"]
    assert len(record) == 10
    picked = {}
    for name, data in PAGES.items():
        candidate = next(c for c in record if c["page"] == name and c["variant"] == max(
            c2["variant"] for c2 in record if c2["page"] == name))
        picked[name] = candidate
        done = run("pick", "-f", str(config), str(docs / name), candidate["id"])
        assert done.exit_code == 0, done.stderr
        after = (docs / name).read_bytes()
        changes = changed_lines(data, after)
        assert changes and all(line[1:].startswith(BANNER_KEYS) for line in changes), changes
    emulator.reset()
    built = build(config, env=emulator.env())
    assert built.returncode == 0, built.stderr
    assert emulator.image_requests() == []
    for name, candidate in picked.items():
        published = banner_file(config, Path(name).stem)
        copy = folder / candidate["sheet_image"]
        assert hashlib.sha256(published.read_bytes()).hexdigest() == hashlib.sha256(copy.read_bytes()).hexdigest()


def test_pick_refuses_a_candidate_not_in_the_cache_in_one_line(site_root: Path, env: dict[str, str]) -> None:
    config = write_site(site_root, {}, {"size": SIZE})
    page = site_root / "docs" / "a.md"
    page.write_bytes(PAGES["unquoted.md"])
    result = run("pick", "-f", str(config), str(page), f"{MODEL}/3")
    assert result.exit_code == 1
    assert len(result.stderr.strip().splitlines()) == 1 and "not in the cache" in result.stderr
    assert page.read_bytes() == PAGES["unquoted.md"]
    bad = run("pick", "-f", str(config), str(page), "no-variant")
    assert bad.exit_code == 2 and "MODEL/VARIANT" in bad.stderr


def test_pick_writes_through_a_linked_page_and_keeps_the_link(site_root: Path, env: dict[str, str]) -> None:
    from test_compare import OPENAI_MODEL, compare

    config = write_site(site_root, {"real.md": page("a lighthouse", title="Real")}, {"size": "640x360"})
    link = site_root / "docs" / "index.md"
    os.symlink("real.md", link)
    assert compare(config, "real.md", "-m", OPENAI_MODEL, "-n", "2", "--yes").exit_code == 0
    result = run("pick", "-f", str(config), str(link), f"{OPENAI_MODEL}/1")
    assert result.exit_code == 0, result.stderr
    assert link.is_symlink() and "banner_variant: 1" in (site_root / "docs" / "real.md").read_text()


@pytest.mark.parametrize("tail", [" " * 400_000, "\t" * 400_000, " " * 400_000 + "x", " # " * 100_000])
def test_set_keys_takes_linear_time_on_a_line_with_a_long_run_of_blanks(tail: str) -> None:
    """A page a build reads in about a second is edited in about as long, whatever its banner line ends with."""
    import subprocess
    import sys

    script = ("import sys; from mkdocs_imagegen.pages.edit import set_keys; data = sys.stdin.buffer.read(); "
              "sys.stdout.buffer.write(set_keys(data, {'banner_model': 'gpt-image-2'}))")
    page = f"---\nbanner_prompt: a lighthouse\nbanner_model: old-model{tail}\n---\nBody\n".encode()
    try:
        done = subprocess.run([sys.executable, "-c", script], input=page, capture_output=True, timeout=20)
    except subprocess.TimeoutExpired:
        pytest.fail("setting banner_model took over 20 s (a build reads this page in about one)")
    assert done.returncode == 0, done.stderr.decode()[-500:]
    assert b"banner_model: gpt-image-2" in done.stdout


def test_set_keys_keeps_an_indented_comment_after_a_banner_line() -> None:
    """A comment line indented under a key is a comment, not the rest of that key's value."""
    before = (b"---\ntitle: Comments\nbanner_prompt: a lighthouse\nbanner_model: gemini-3.1-flash-image\n"
              b"  # tried gpt-image-2: too dark\nbanner_variant: 1\n    # and variant 0 had a boat\n"
              b"description: last\n---\nBody\n")
    after = set_keys(before, {"banner_model": MODEL, "banner_variant": 2})
    assert b"  # tried gpt-image-2: too dark\n" in after and b"    # and variant 0 had a boat\n" in after, after
    changes = changed_lines(before, after)
    assert all(line[1:].startswith(BANNER_KEYS) for line in changes), changes
    folded = b"---\nbanner_prompt: a long\n  prompt\n  # why so long\nbanner_model: x\n---\n"
    assert set_keys(folded, {"banner_prompt": "short"}) == \
        b"---\nbanner_prompt: short\n  # why so long\nbanner_model: x\n---\n"
    block = (b"---\nbanner_prompt: |\n  a lighthouse\n  # part of the prompt\n\n  still the prompt\n"
             b"banner_model: x\n---\n")  # a block scalar's text, comment-like and blank lines included
    assert set_keys(block, {"banner_prompt": "short"}) == b"---\nbanner_prompt: short\nbanner_model: x\n---\n"


def test_pick_of_an_uncached_candidate_suggests_a_compare_that_makes_it(
        site_root: Path, emulator: Emulator, env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """The suggested command, run as printed, makes that very candidate, and pick then takes it."""
    import shlex

    config = write_site(site_root, {}, {"size": SIZE})
    page = site_root / "docs" / "a.md"
    cases = [(PAGES["unquoted.md"], f"{MODEL}/5", site_root, ()),  # no banner_variant: variants 0 to 5
             (PAGES["variant.md"], f"{MODEL}/9", site_root.parent, ("-f", str(config))),  # 7 to 9, from elsewhere
             (PAGES["variant.md"], f"{MODEL}/2", site_root, ())]  # below the page's 7: set banner_variant first
    for before, candidate, where, config_args in cases:
        page.write_bytes(before)
        monkeypatch.chdir(where)
        pick = ("pick", *config_args, str(page.relative_to(where)), candidate, "--quality", "low")
        result = run(*pick)
        assert result.exit_code == 1 and "not in the cache" in result.stderr, result.stderr
        [suggested] = [part for part in result.stderr.split("`")[1::2] if "compare" in part]
        if candidate.endswith("/2"):
            assert f"set banner_variant: 2 in {page.relative_to(where)}, then" in result.stderr, result.stderr
            page.write_bytes(set_keys(before, {"banner_variant": 2}))
        args = shlex.split(suggested)
        assert args[0] == "mkdocs-imagegen", suggested
        made = run(*args[1:], "--yes")
        assert made.exit_code == 0, (suggested, made.stderr)
        assert f"{candidate} " in made.stdout + made.stderr, (suggested, made.stdout + made.stderr)
        page.write_bytes(before)
        assert run(*pick).exit_code == 0
