"""Sign-in against a local OpenID Connect provider speaking the standard endpoints
with real signed tokens: the code flow with PKCE, and every way an ID token can be
wrong."""

import pytest
import requests

from bilingual_assistant.access.oidc import OidcClient, OidcConfig
from bilingual_assistant.adapters.oidc_http import OidcHttp
from bilingual_assistant.errors import AuthenticationError, ConfigurationError, ServiceError
from tests.fakes.identity_provider import FakeIdentityProvider

REDIRECT = "http://127.0.0.1:8000/v1/auth/callback"


@pytest.fixture
def provider():
    running = FakeIdentityProvider().start()
    yield running
    running.stop()


def client(provider, **config):
    return OidcClient(OidcConfig(provider.issuer, "assistant", "s3cret", REDIRECT,
                                 **config), OidcHttp())


def sign_in(oidc, provider):
    """The browser's part: follow the provider's redirect back with the code."""
    url, pending = oidc.start("/admin")
    back = requests.get(url, allow_redirects=False, timeout=5)
    assert back.status_code == 302
    location = back.headers["Location"]
    assert location.startswith(REDIRECT)
    query = dict(p.split("=", 1) for p in location.split("?", 1)[1].split("&"))
    return pending, query["state"], query["code"]


def test_the_code_flow_with_pkce_signs_the_user_in_with_roles(provider):
    oidc = client(provider, admins=frozenset({"ann@example.com"}))
    url, _ = oidc.start()
    assert "code_challenge_method=S256" in url and "nonce=" in url
    principal = oidc.finish(*sign_in(oidc, provider))
    assert principal.subject == "oidc:u-1001" and principal.name == "Ann Lee"
    assert principal.roles == frozenset({"user", "admin"}) and principal.via == "session"


def test_roles_come_from_the_claim_and_unknown_ones_are_ignored(provider):
    provider.user["roles"] = ["admin", "superuser"]
    oidc = client(provider)
    assert oidc.finish(*sign_in(oidc, provider)).roles == frozenset({"user", "admin"})
    provider.user["roles"] = "user"
    assert oidc.finish(*sign_in(oidc, provider)).roles == frozenset({"user"})


@pytest.mark.parametrize("tamper, message", [
    ("expired", "expired"), ("audience", "another application"),
    ("issuer", "another issuer"), ("forged", "not valid"), ("nonce", "not issued for"),
])
def test_a_wrong_id_token_is_refused(provider, tamper, message):
    oidc = client(provider)
    pending, state, code = sign_in(oidc, provider)
    provider.tamper = tamper
    with pytest.raises(AuthenticationError, match=message):
        oidc.finish(pending, state, code)


def test_a_wrong_state_a_reused_code_and_a_stale_login_are_refused(provider):
    oidc = client(provider)
    pending, state, code = sign_in(oidc, provider)
    with pytest.raises(AuthenticationError, match="state"):
        oidc.finish(pending, "other", code)
    oidc.finish(pending, state, code)
    with pytest.raises(AuthenticationError, match="refused"):
        oidc.finish(pending, state, code)  # the provider takes a code once
    with pytest.raises(AuthenticationError, match="took too long"):
        oidc.finish(None, state, code)


def test_a_wrong_client_secret_is_refused_by_the_provider(provider):
    oidc = OidcClient(OidcConfig(provider.issuer, "assistant", "wrong", REDIRECT), OidcHttp())
    with pytest.raises(AuthenticationError, match="invalid_client"):
        oidc.finish(*sign_in(oidc, provider))


def test_a_provider_that_is_down_or_misnamed_says_so(provider):
    down = OidcClient(OidcConfig("http://127.0.0.1:1", "assistant", "s", REDIRECT),
                      OidcHttp(timeout_seconds=2))
    with pytest.raises(ServiceError, match="OIDC_ISSUER"):
        down.start()
    misnamed = OidcClient(OidcConfig(provider.issuer + "/realms/x", "assistant", "s",
                                     REDIRECT), OidcHttp())
    with pytest.raises((ConfigurationError, ServiceError)):
        misnamed.start()
