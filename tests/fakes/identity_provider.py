"""A local OpenID Connect provider speaking the standard endpoints (discovery,
authorize, token, JWKS) with real RS256-signed ID tokens, written from the specs
(OpenID Connect Core 1.0, RFC 6749, RFC 7636), independent of the production code.

`/authorize` signs in the configured user at once (no login page) and redirects
back with a code; `/token` checks the client's secret, the code, the redirect URI
and the PKCE verifier. `tamper` makes the next ID token expired, for another
audience or issuer, signed by an unknown key, or with another nonce.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, Optional
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa


def _jwk(key: rsa.RSAPrivateKey, kid: str) -> Dict[str, Any]:
    numbers = key.public_key().public_numbers()

    def b64(value: int) -> str:
        raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    return {"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256",
            "n": b64(numbers.n), "e": b64(numbers.e)}


class FakeIdentityProvider:
    """An OIDC provider on 127.0.0.1 (start, stop)."""

    def __init__(self, client_id: str = "assistant", client_secret: str = "s3cret") -> None:
        self.client_id, self.client_secret = client_id, client_secret
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = "key-1"
        self.user: Dict[str, Any] = {"sub": "u-1001", "email": "ann@example.com",
                                     "email_verified": True, "name": "Ann Lee",
                                     "roles": ["user"]}
        self.codes: Dict[str, Dict[str, Any]] = {}
        self.tamper: Optional[str] = None
        self.token_requests = 0
        self._server: Optional[ThreadingHTTPServer] = None

    @property
    def issuer(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> FakeIdentityProvider:
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _json(self, status: int, body: Dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:  # noqa: N802
                url = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                if url.path == "/.well-known/openid-configuration":
                    self._json(200, provider.discovery())
                elif url.path == "/jwks":
                    self._json(200, {"keys": [_jwk(provider.key, provider.kid)]})
                elif url.path == "/authorize":
                    status, location = provider.authorize(query)
                    self.send_response(status)
                    if location:
                        self.send_header("Location", location)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                else:
                    self._json(404, {"error": "not_found"})

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length", "0"))
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                if urlsplit(self.path).path == "/token":
                    self._json(*provider.token(form))
                else:
                    self._json(404, {"error": "not_found"})

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    def discovery(self) -> Dict[str, Any]:
        return {"issuer": self.issuer, "authorization_endpoint": f"{self.issuer}/authorize",
                "token_endpoint": f"{self.issuer}/token", "jwks_uri": f"{self.issuer}/jwks",
                "response_types_supported": ["code"], "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "code_challenge_methods_supported": ["S256"]}

    def authorize(self, query: Dict[str, str]) -> tuple:
        if query.get("client_id") != self.client_id or query.get("response_type") != "code":
            return 400, None
        if query.get("code_challenge_method") != "S256" or not query.get("code_challenge"):
            return 400, None  # this provider requires PKCE
        code = secrets.token_urlsafe(16)
        self.codes[code] = {"challenge": query["code_challenge"], "nonce": query.get("nonce"),
                            "redirect_uri": query["redirect_uri"], "at": time.time()}
        back = urlencode({"code": code, "state": query.get("state", "")})
        return 302, f"{query['redirect_uri']}?{back}"

    def token(self, form: Dict[str, str]) -> tuple:
        self.token_requests += 1
        if form.get("client_id") != self.client_id or \
                form.get("client_secret") != self.client_secret:
            return 401, {"error": "invalid_client"}
        grant = self.codes.pop(form.get("code", ""), None)  # a code is used once
        if grant is None or form.get("redirect_uri") != grant["redirect_uri"]:
            return 400, {"error": "invalid_grant"}
        verifier = form.get("code_verifier", "")
        challenge = base64.urlsafe_b64encode(
            hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        if challenge != grant["challenge"]:
            return 400, {"error": "invalid_grant", "error_description": "PKCE"}
        return 200, {"access_token": secrets.token_urlsafe(16), "token_type": "Bearer",
                     "expires_in": 300, "id_token": self.id_token(grant["nonce"])}

    def id_token(self, nonce: Optional[str]) -> str:
        now = int(time.time())
        claims = {**self.user, "iss": self.issuer, "aud": self.client_id, "iat": now,
                  "exp": now + 300, "nonce": nonce}
        key, tamper, self.tamper = self.key, self.tamper, None
        if tamper == "expired":
            claims.update(iat=now - 3600, exp=now - 1800)
        elif tamper == "audience":
            claims["aud"] = "another-app"
        elif tamper == "issuer":
            claims["iss"] = "https://evil.example.com"
        elif tamper == "forged":
            key = self.other_key  # same kid, another key
        elif tamper == "nonce":
            claims["nonce"] = "replayed"
        return jwt.encode(claims, key, algorithm="RS256", headers={"kid": self.kid})
