"""The offline placeholder: deterministic, local, free. Never cached as a real banner."""

from __future__ import annotations

from mkdocs_imagegen.imaging import encode, placeholder_image
from mkdocs_imagegen.providers.base import Provider, ProviderImage
from mkdocs_imagegen.request import GenerationRequest


class PlaceholderProvider(Provider):
    name = "placeholder"
    label = "placeholder"

    def serves(self, model: str) -> bool:
        return True

    def models(self) -> list[str]:
        return []

    def is_authenticated(self) -> bool:
        return True

    def auth_hint(self) -> str:
        return "needs no credentials"

    def generate(self, request: GenerationRequest, *, timeout: float) -> ProviderImage:
        image = placeholder_image(request.prompt, request.size, request.prompt)
        return ProviderImage(data=encode(image, "png"), provider=self.name, model=request.model,
                             mime_type="image/png", requested={"size": str(request.size)})
