"""The defaults users meet in more than one place (plugin options, CLI flags), kept import-free so
`mkdocs-imagegen --help` needs neither MkDocs nor the catalogue."""

DEFAULT_MODEL = "gemini-3.1-flash-image"  # Nano Banana 2; its retired -preview name still works
DEFAULT_SIZE = "1792x1024"
COMPARE_FOLDER = ".imagegen-compare"  # where `compare` writes its contact sheet, next to mkdocs.yml
SERVED_SHEET = ".imagegen/compare"  # where `mkdocs serve` shows that sheet: no page of docs_dir is in a dot folder
