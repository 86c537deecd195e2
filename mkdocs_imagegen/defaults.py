"""The defaults users meet in more than one place (plugin options, CLI flags), kept import-free so
`mkdocs-imagegen --help` needs neither MkDocs nor the catalogue."""

DEFAULT_MODEL = "gemini-3.1-flash-image"  # Nano Banana 2; its retired -preview name still works
DEFAULT_SIZE = "1792x1024"
