"""Sign-in with OpenID Connect: the authorization-code flow with PKCE against any
standard provider (Keycloak, Authing, Azure AD, Google), its ID token checked
against the provider's published keys."""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, FrozenSet, List, Optional, Protocol, Sequence, Text
from urllib.parse import urlencode

import jwt

from bilingual_assistant.access.principal import ROLES, Principal
from bilingual_assistant.errors import (
    AuthenticationError,
    ConfigurationError,
    InputError,
    PermissionDeniedError,
    ServiceError,
)
from bilingual_assistant.knowledge.access import MAX_GROUPS, check_groups

ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "ES256", "ES384"]
LOGIN_SECONDS = 600  # from the redirect to the provider until the callback
CLOCK_SKEW_SECONDS = 60
METADATA_SECONDS = 3600  # discovery document and keys are fetched again after this


class Http(Protocol):
    """The two requests the flow makes (httpx in the service, a fake in tests)."""

    def get_json(self, url: Text) -> Dict[Text, Any]:
        """GET a JSON document; raises `ServiceError` when it cannot."""

    def post_form(self, url: Text, form: Dict[Text, Text]) -> Dict[Text, Any]:
        """POST a form and read JSON; raises `ServiceError` for a transport failure
        and returns the provider's error body for a 4xx."""


@dataclass(frozen=True)
class OidcConfig:
    """A provider and this client's registration."""

    issuer: Text
    client_id: Text
    client_secret: Text
    redirect_uri: Text  # …/v1/auth/callback, registered with the provider
    scopes: Text = "openid email profile"
    roles_claim: Text = "roles"  # a list or a space-separated string in the ID token
    admins: FrozenSet[Text] = frozenset()  # e-mails or subjects made administrators
    # Who may sign in at all: people whose verified e-mail is in one of these
    # domains, or who are in one of these groups; both empty: everyone the
    # provider signs in.
    allowed_domains: FrozenSet[Text] = frozenset()
    allowed_groups: FrozenSet[Text] = frozenset()
    groups_claim: Text = "groups"


@dataclass(frozen=True)
class LoginRequest:
    """What is kept between the redirect to the provider and its callback."""

    state: Text
    nonce: Text
    verifier: Text  # the PKCE code verifier (its S256 challenge went to the provider)
    created_at: float
    next_path: Text = "/"


def pkce_challenge(verifier: Text) -> Text:
    """The S256 code challenge of a PKCE verifier (RFC 7636)."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _names(claims: Dict[Text, Any], claim: Text) -> FrozenSet[Text]:
    """A claim holding a list of names or a space-separated string, as a set."""
    raw = claims.get(claim)
    if isinstance(raw, str):
        raw = raw.split()
    if not isinstance(raw, (list, tuple)):
        return frozenset()
    return frozenset(r for r in raw if isinstance(r, str))


def verified_email(claims: Dict[Text, Any]) -> Optional[Text]:
    """The e-mail, lower-cased, if the provider says it verified it."""
    email = claims.get("email")
    verified = claims.get("email_verified") in (True, "true")
    return email.strip().lower() if isinstance(email, str) and verified else None


def _roles(claims: Dict[Text, Any], config: OidcConfig) -> FrozenSet[Text]:
    roles = {r for r in _names(claims, config.roles_claim) if r in ROLES}
    names = {str(claims.get("sub", ""))}
    email = verified_email(claims)
    if email:  # an unverified address proves nothing about who signed in
        names.add(email)
    if names & {a.lower() for a in config.admins}:
        roles.add("admin")
    return frozenset(roles | {"user"})


def groups_of(claims: Dict[Text, Any], config: OidcConfig) -> FrozenSet[Text]:
    """The groups the ID token says the person is in (which documents they may
    read). A name that is not a group name is dropped rather than refusing the
    sign-in (a provider may send anything there), and at most `MAX_GROUPS` are kept,
    the first in sorted order."""
    kept: List[Text] = []
    for name in sorted(_names(claims, config.groups_claim)):
        try:
            kept.extend(check_groups([name], config.groups_claim))
        except InputError:
            continue
    return frozenset(kept[:MAX_GROUPS])


def admit(claims: Dict[Text, Any], config: OidcConfig) -> None:
    """Checks the access policy: a verified e-mail in an allowed domain, or
    membership of an allowed group, when either list is set.

    Raises:
        PermissionDeniedError: for anyone else (the message names no domain or group).
    """
    if not config.allowed_domains and not config.allowed_groups:
        return
    email = verified_email(claims)
    domain = email.rsplit("@", 1)[-1] if email and "@" in email else None
    if domain in {d.lower() for d in config.allowed_domains}:
        return
    if _names(claims, config.groups_claim) & config.allowed_groups:
        return
    raise PermissionDeniedError(
        "Your account is not allowed to use this assistant. Ask the team that runs it "
        "to give you access.")


class OidcClient:
    """Starts sign-ins and finishes them into a `Principal`."""

    def __init__(self, config: OidcConfig, http: Http,
                 clock: Callable[[], float] = time.time) -> None:
        self.config, self.http, self.clock = config, http, clock
        self._metadata: Optional[Dict[Text, Any]] = None
        self._keys: Optional[jwt.PyJWKSet] = None
        self._fetched_at = 0.0

    def metadata(self) -> Dict[Text, Any]:
        """The provider's discovery document (cached for an hour).

        Raises:
            ServiceError: when it cannot be fetched.
            ConfigurationError: when it is for another issuer or lacks an endpoint.
        """
        if self._metadata is None or self.clock() - self._fetched_at > METADATA_SECONDS:
            url = self.config.issuer.rstrip("/") + "/.well-known/openid-configuration"
            metadata = self.http.get_json(url)
            if metadata.get("issuer", "").rstrip("/") != self.config.issuer.rstrip("/"):
                raise ConfigurationError(
                    f"The provider at {url} says its issuer is {metadata.get('issuer')!r}, "
                    f"not OIDC_ISSUER {self.config.issuer!r}; set OIDC_ISSUER to it.")
            for endpoint in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
                if not isinstance(metadata.get(endpoint), str):
                    raise ConfigurationError(f"The provider's discovery document has no "
                                             f"{endpoint}; is OIDC_ISSUER right?")
            self._metadata, self._keys, self._fetched_at = metadata, None, self.clock()
        return self._metadata

    def _signing_keys(self, refresh: bool = False) -> jwt.PyJWKSet:
        if self._keys is None or refresh:
            try:
                self._keys = jwt.PyJWKSet.from_dict(self.http.get_json(self.metadata()["jwks_uri"]))
            except jwt.PyJWKSetError as error:
                raise ServiceError(f"The provider's signing keys cannot be read: {error}.") \
                    from None
        return self._keys

    def start(self, next_path: Text = "/") -> tuple[Text, LoginRequest]:
        """The provider's sign-in URL to redirect to, and what to keep until the
        callback (state, nonce, PKCE verifier)."""
        request = LoginRequest(secrets.token_urlsafe(24), secrets.token_urlsafe(24),
                               secrets.token_urlsafe(48), self.clock(),
                               next_path if next_path.startswith("/") and
                               not next_path.startswith("//") else "/")
        query = urlencode({
            "response_type": "code", "client_id": self.config.client_id,
            "redirect_uri": self.config.redirect_uri, "scope": self.config.scopes,
            "state": request.state, "nonce": request.nonce,
            "code_challenge": pkce_challenge(request.verifier),
            "code_challenge_method": "S256",
        })
        endpoint = self.metadata()["authorization_endpoint"]
        return f"{endpoint}{'&' if '?' in endpoint else '?'}{query}", request

    def finish(self, login: Optional[LoginRequest], state: Text, code: Text) -> Principal:
        """Exchanges the callback's code for tokens and checks the ID token.

        Raises:
            AuthenticationError: for a missing or stale login, a state that does not
                match, a refused code, or an ID token that is forged, expired, for
                another audience or issuer, or replayed (nonce).
            PermissionDeniedError: for a person outside the access policy.
            ServiceError: when the provider cannot be reached.
        """
        if login is None or self.clock() - login.created_at > LOGIN_SECONDS:
            raise AuthenticationError("The sign-in took too long or was not started here; "
                                      "sign in again.")
        if not secrets.compare_digest(state, login.state):
            raise AuthenticationError("The sign-in's state does not match; sign in again.")
        tokens = self.http.post_form(self.metadata()["token_endpoint"], {
            "grant_type": "authorization_code", "code": code,
            "redirect_uri": self.config.redirect_uri, "client_id": self.config.client_id,
            "client_secret": self.config.client_secret, "code_verifier": login.verifier,
        })
        if "error" in tokens or not isinstance(tokens.get("id_token"), str):
            raise AuthenticationError(
                f"The identity provider refused the sign-in "
                f"({tokens.get('error', 'no ID token')}); sign in again.")
        claims = self.verify(tokens["id_token"])
        if not secrets.compare_digest(str(claims.get("nonce", "")), login.nonce):
            raise AuthenticationError("The ID token was not issued for this sign-in.")
        admit(claims, self.config)
        name = str(claims.get("name") or claims.get("email") or claims["sub"])
        return Principal(subject=f"oidc:{claims['sub']}", name=name,
                         roles=_roles(claims, self.config), scopes=frozenset(), via="session",
                         groups=groups_of(claims, self.config))

    def verify(self, token: Text) -> Dict[Text, Any]:
        """The claims of an ID token signed by the provider for this client.

        Raises:
            AuthenticationError: forged, expired, not yet valid, or for another
                audience or issuer.
        """
        try:
            kid = jwt.get_unverified_header(token).get("kid")
        except jwt.PyJWTError:
            raise AuthenticationError("The ID token is malformed.") from None
        key = self._key(kid) or self._key(kid, refresh=True)  # the provider rotated
        if key is None:
            raise AuthenticationError("The ID token is signed with a key the provider "
                                      "does not publish.")
        try:
            return jwt.decode(token, key.key, algorithms=ALGORITHMS,
                              audience=self.config.client_id, issuer=self.metadata()["issuer"],
                              leeway=CLOCK_SKEW_SECONDS,
                              options={"require": ["exp", "iat", "sub", "aud", "iss"]})
        except jwt.ExpiredSignatureError:
            raise AuthenticationError("The ID token has expired; sign in again.") from None
        except jwt.InvalidAudienceError:
            raise AuthenticationError("The ID token is for another application.") from None
        except jwt.InvalidIssuerError:
            raise AuthenticationError("The ID token is from another issuer.") from None
        except jwt.PyJWTError as error:
            raise AuthenticationError(f"The ID token is not valid ({error}).") from None

    def _key(self, kid: Optional[Text], refresh: bool = False) -> Optional[jwt.PyJWK]:
        keys: List[jwt.PyJWK] = list(self._signing_keys(refresh).keys)
        matching = [k for k in keys if kid is None or k.key_id == kid]
        return matching[0] if len(matching) == 1 or (matching and kid) else None


def lower_names(raw: Sequence[Text]) -> FrozenSet[Text]:
    """A setting's comma-separated names (administrators, domains), lower-cased,
    without blanks."""
    return frozenset(a.strip().lower() for a in raw if a.strip())
