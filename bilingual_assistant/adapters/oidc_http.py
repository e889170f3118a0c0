"""The identity provider's HTTP endpoints (discovery, keys, token) over httpx."""

from __future__ import annotations

from typing import Any, Dict, Optional, Text

import httpx

from bilingual_assistant.errors import ServiceError


class OidcHttp:
    """`Http` for `OidcClient`."""

    def __init__(self, timeout_seconds: float = 10.0,
                 transport: Optional[httpx.BaseTransport] = None) -> None:
        self._client = httpx.Client(timeout=timeout_seconds, transport=transport,
                                    follow_redirects=False)

    def get_json(self, url: Text) -> Dict[Text, Any]:
        try:
            response = self._client.get(url, headers={"Accept": "application/json"})
            response.raise_for_status()
            body = response.json()
        except (httpx.HTTPError, ValueError) as error:
            raise ServiceError(f"The identity provider at {url} cannot be used "
                               f"({error.__class__.__name__}); check OIDC_ISSUER and that "
                               f"it is up.") from None
        if not isinstance(body, dict):
            raise ServiceError(f"The identity provider at {url} answered no JSON object.")
        return body

    def post_form(self, url: Text, form: Dict[Text, Text]) -> Dict[Text, Any]:
        try:
            response = self._client.post(url, data=form,
                                         headers={"Accept": "application/json"})
        except httpx.HTTPError as error:
            raise ServiceError(f"The identity provider's token endpoint cannot be reached "
                               f"({error.__class__.__name__}).") from None
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code >= 500 or not isinstance(body, dict):
            raise ServiceError(f"The identity provider's token endpoint failed "
                               f"(HTTP {response.status_code}).")
        return body
