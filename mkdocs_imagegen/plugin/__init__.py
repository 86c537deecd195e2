"""The MkDocs plugin: its events, its options, the HTML it writes and what it does under `mkdocs serve`."""

from mkdocs_imagegen.plugin.plugin import ImagegenPlugin

__all__ = ["ImagegenPlugin"]
