"""The defaults users meet in more than one place (plugin options, CLI flags), kept import-free so
`mkdocs-imagegen --help` needs neither MkDocs nor the catalogue."""

# Nano Banana 2.1: the model Google names for migrating from gemini-3.1-flash-image (deprecated 2026-10-06).
DEFAULT_MODEL = "gemini-nano-banana-2.1"
# The models a page that names none (and a site with no `model:` option) was given before, newest first, each
# with the release that replaced it. Their cached banners stay that page's banner: a new default never repaints
# a site; only a page with no banner yet is made with the new one. Never remove an entry.
FORMER_DEFAULTS: tuple[tuple[str, str], ...] = (
    ("gemini-3.1-flash-image", "0.2.0"),  # the default between 0.1.0 and 0.2.0 (never released as one)
    ("gemini-3.1-flash-image-preview", "0.2.0"),  # 0.1.0's default (shut down by Google on 2026-06-25)
)
DEFAULT_SIZE = "1792x1024"
COMPARE_FOLDER = ".imagegen-compare"  # where `compare` writes its contact sheet, next to mkdocs.yml
SERVED_SHEET = ".imagegen/compare"  # where `mkdocs serve` shows that sheet: no page of docs_dir is in a dot folder
# The most bytes read for one image, from a provider or a shared store, before any of it is decoded: far above any
# real image answer (a 4K PNG in base64 is ~30 MB). Here, not beside the HTTP code, so the cache can use it without
# importing httpx.
MAX_RESPONSE_BYTES = 64 * 1024 * 1024
