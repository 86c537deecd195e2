"""The image providers: one module each, the interface they share, credentials and routing by model name.

The table of providers is `mkdocs_imagegen.provider_table`, kept import-free below every layer.
"""
