"""Nothing already paid for is paid again when the catalogue changes under a committed cache.

The fixture in tests/fixtures/v0_1_0/ is a site and the cache that release 0.1.0 wrote for it.
0.1.0 sent the preview names that Google shut down on 2026-06-25 (and stored the GA spellings
under them), and two OpenAI models it used were shut down on 2026-12-01: today those pages
resolve to other models, and their banners must still be found.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

from sitekit import banner_file, build, warnings_of

FIXTURE = Path(__file__).parent / "fixtures" / "v0_1_0"
BANNER_PAGES = ("default", "ga-spelling", "pro", "pro-ga", "flash25", "gpt2", "gpt15", "mini", "alias")


def fixture_site(tmp_path: Path) -> Path:
    root = tmp_path / "site-0.1.0"
    shutil.copytree(FIXTURE, root)
    return root / "mkdocs.yml"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_cache_written_by_0_1_0_serves_every_banner_with_no_credentials(tmp_path: Path) -> None:
    config = fixture_site(tmp_path)
    committed = {sha256(path) for path in (FIXTURE / ".banners" / "renditions").iterdir()}
    originals_before = sorted(p.name for p in (config.parent / ".banners" / "originals").iterdir())

    result = build(config, "--strict")

    assert result.returncode == 0, result.stderr
    assert warnings_of(result) == []
    assert "9 banner(s): 0 generated, 9 cached, 0 failed, 0 placeholder(s)" in result.stderr
    published = {page: banner_file(config, page) for page in BANNER_PAGES}
    for page, path in published.items():
        assert not path.name.startswith("placeholder-"), page
        assert sha256(path) in committed, f"{page} published a banner 0.1.0 did not make"
    assert len({path.name for path in published.values()}) == len(BANNER_PAGES)
    # Nothing was generated or derived: the cache is exactly what 0.1.0 committed.
    assert sorted(p.name for p in (config.parent / ".banners" / "originals").iterdir()) == originals_before


def test_the_renamed_models_are_news_not_warnings(tmp_path: Path) -> None:
    result = build(fixture_site(tmp_path), "--strict")
    assert result.returncode == 0, result.stderr
    infos = [line for line in result.stderr.splitlines() if "was retired on" in line]
    assert any("'gemini-3-pro-image-preview' was retired on 2026-06-25" in line
               and "'gemini-3-pro-image'" in line for line in infos), infos
    assert all(line.startswith("INFO") for line in infos)
    shut = [line for line in result.stderr.splitlines() if "was shut down at OpenAI" in line]
    assert any("'gpt-image-1.5' was shut down at OpenAI on 2026-12-01" in line and "sent to foundry only" in line
               for line in shut), shut
    assert len(infos) == len(set(infos)), "one line per retired name, not per page"


def test_prune_keeps_banners_cached_under_a_former_model_name(tmp_path: Path) -> None:
    config = fixture_site(tmp_path)
    result = subprocess.run([sys.executable, "-m", "mkdocs_imagegen", "prune", "--dry-run", "-f", str(config)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "nothing to prune" in result.stdout and "kept 9 original(s) and 9 rendition(s) in use" in result.stdout, (
        result.stdout)
