"""An App Service style managed-identity endpoint issuing the Entra ID tokens Azure OpenAI accepts.

azure-identity (``ManagedIdentityCredential``, ``DefaultAzureCredential``) finds it through
``IDENTITY_ENDPOINT`` and ``IDENTITY_HEADER``; `AzureApi` asks `Emulator.token_valid` about bearers.
"""

from __future__ import annotations

import re
import threading
import time
from typing import TYPE_CHECKING

from mkdocs_imagegen.emulator.wire import Call, Reply, Route, json_reply

if TYPE_CHECKING:
    from mkdocs_imagegen.emulator.host import Host as Emulator

IDENTITY_SECRET = "emulator-identity-header-secret"
TOKEN_RESOURCE = "https://cognitiveservices.azure.com"
TOKEN_LIFETIME = 3600
TOKEN_PATH = "/msi/token"


class ManagedIdentity:
    """Issues tokens (api-version 2019-08-01, as azure-identity/msal call it) and checks them."""

    provider = "msi"
    routes = (Route("GET", re.compile(re.escape(TOKEN_PATH)), "token", "issue_token"),)

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator  # its identity_secret is read per request: tests change it
        self._lock = threading.Lock()
        self._tokens: dict[str, tuple[str, float]] = {}  # token -> (resource, expires_on)
        self._issued = 0
        self.token_requests = 0  # tokens issued since the last reset_count()

    def env(self, url: str) -> dict[str, str]:
        return {"IDENTITY_ENDPOINT": f"{url}{TOKEN_PATH}", "IDENTITY_HEADER": self.emulator.identity_secret}

    def claims(self, call: Call) -> bool:
        return True

    def issue_token(self, call: Call) -> Reply:
        if call.headers.get("x-identity-header") != self.emulator.identity_secret:
            return json_reply(401, {"statusCode": 401, "message": "Unauthorized: the X-IDENTITY-HEADER"
                                    " header is missing or does not match IDENTITY_HEADER."})
        if call.query.get("api-version") != "2019-08-01":
            return json_reply(400, {"statusCode": 400, "message": "Unsupported api-version"
                                    f" {call.query.get('api-version')!r}; expected 2019-08-01."})
        resource = call.query.get("resource")
        if not resource:
            return json_reply(400, {"statusCode": 400, "message": "Missing the resource parameter."})
        return json_reply(200, self._new_token(resource))

    def _new_token(self, resource: str) -> dict[str, str]:
        expires_on = int(time.time()) + TOKEN_LIFETIME
        with self._lock:
            self._issued += 1
            self.token_requests += 1
            token = f"emu-token-{self._issued}"
            self._tokens[token] = (resource.rstrip("/"), expires_on)
        return {
            "access_token": token,
            "expires_on": str(expires_on),
            "resource": resource,
            "token_type": "Bearer",
            "client_id": "00000000-0000-0000-0000-00000000e0e0",
        }

    def valid(self, token: str) -> bool:
        """Issued by us, for the Cognitive Services audience, and not expired."""
        with self._lock:
            resource, expires_on = self._tokens.get(token, ("", 0.0))
        return resource == TOKEN_RESOURCE and expires_on > time.time()

    def reset_count(self) -> None:
        """Zero `token_requests`; issued tokens stay valid."""
        with self._lock:
            self.token_requests = 0
