"""One title rule for every reader of a page (the plugin, prompt_template, brief, sync), and it is MkDocs' own:
for each page, `page_title` says what MkDocs' own Page gives as its title."""

from __future__ import annotations

import html
from pathlib import Path

import pytest

from mkdocs_imagegen.pages.titles import page_title

from sitekit import write_site

PAGES = {
    "index.md": "Home page text.\n",
    "getting-started.md": "No heading here.\n",
    "API_Notes.md": "No heading either.\n",
    "guides/index.md": "A folder's index.\n",
    "heading.md": "```\n# not this one\n```\n\n# The *real* `title`\n\nText.\n",
    "snake.md": "# snake_case names\n",
    "later.md": "Text first.\n\n# A heading further down\n",
    "setext.md": "An underlined title\n===================\n\nText.\n",
    "titled.md": "---\ntitle: From front matter\n---\n\n# Not the heading\n",
}


@pytest.mark.parametrize("src", sorted(PAGES))
def test_page_title_is_the_title_mkdocs_gives(tmp_path: Path, src: str) -> None:
    from mkdocs.config import load_config
    from mkdocs.structure.files import get_files
    from mkdocs.structure.pages import Page

    config_file = write_site(tmp_path, {src: PAGES[src]})
    config = load_config(str(config_file))
    files = get_files(config)
    page = Page(None, files.get_file_from_path(src), config)
    page.read_source(config)
    page.render(config, files)  # MkDocs takes a heading title from the rendered page
    assert page_title(page.meta, page.markdown or "", src) == html.unescape(str(page.title))
