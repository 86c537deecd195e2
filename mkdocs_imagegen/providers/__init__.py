"""The image providers. Their names, in the default routing order; kept import-free so the CLI's
`--help` and the config schema can use them without loading any provider."""

REAL_PROVIDERS = ("google", "foundry", "openai")
PROVIDER_CHOICES = (*REAL_PROVIDERS, "placeholder")
