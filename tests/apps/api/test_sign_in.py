"""Signing in to the API through a local OpenID Connect provider: the session
cookie, roles, sign-out, forged tokens, and pages of other sites."""

import pytest
import requests
from fastapi.testclient import TestClient

from apps.api.app import create_app
from apps.api.deps import COOKIE
from apps.api.services import SignIn
from bilingual_assistant.access.oidc import OidcClient, OidcConfig
from bilingual_assistant.access.sessions import Sessions
from bilingual_assistant.adapters.oidc_http import OidcHttp
from tests.apps.api.test_app import world  # noqa: F401 - the same in-memory services
from tests.fakes.identity_provider import FakeIdentityProvider
from tests.fakes.in_memory import InMemorySessionStore

PUBLIC = "https://assistant.example.com"


@pytest.fixture
def provider():
    running = FakeIdentityProvider().start()
    yield running
    running.stop()


@pytest.fixture
def api(world, provider):  # noqa: F811
    services = world[0]
    store = InMemorySessionStore()
    oidc = OidcClient(OidcConfig(provider.issuer, "assistant", "s3cret",
                                 f"{PUBLIC}/v1/auth/callback",
                                 admins=frozenset({"boss@example.com"})), OidcHttp())
    services.sign_in = SignIn(oidc, Sessions(store), store, PUBLIC)
    services.local_user = True  # ignored once sign-in is configured
    return TestClient(create_app(services), base_url=PUBLIC, raise_server_exceptions=False)


def sign_in(api, next_page="/admin"):
    start = api.get("/v1/auth/login", params={"next": next_page}, follow_redirects=False)
    assert start.status_code == 302
    back = requests.get(start.headers["location"], allow_redirects=False, timeout=5)
    callback = back.headers["Location"].replace(PUBLIC, "")
    return api.get(callback, follow_redirects=False)


def test_sign_in_sets_a_secure_http_only_cookie_and_returns_to_the_page(api):
    done = sign_in(api)
    assert done.status_code == 302 and done.headers["location"] == "/admin"
    cookie = done.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=") and "HttpOnly" in cookie
    assert "Secure" in cookie and "samesite=lax" in cookie.lower()
    me = api.get("/v1/me").json()
    assert me["subject"] == "oidc:u-1001" and me["roles"] == ["user"]
    assert me["mode"] == "signed in"


def test_without_a_session_nothing_is_allowed_even_though_local_mode_was_on(api):
    response = api.get("/v1/me")
    assert response.status_code == 401 and "Sign in" in response.json()["error"]["message"]


def test_a_user_may_chat_but_not_reach_admin_routes(api):
    sign_in(api)
    same_site = {"Origin": PUBLIC}
    assert api.post("/v1/chat", json={"message": "hi"}, headers=same_site).status_code == 200
    response = api.get("/v1/api-keys")
    assert response.status_code == 403 and response.json()["error"]["type"] == "forbidden"


def test_an_administrator_from_the_configured_list_reaches_admin_routes(api, provider):
    provider.user.update(email="boss@example.com", roles=[])
    sign_in(api)
    assert api.get("/v1/api-keys").status_code == 200


def test_a_page_of_another_site_cannot_use_the_session_to_change_anything(api):
    sign_in(api)
    for origin in ({"Origin": "https://evil.example.com"}, {}):
        response = api.post("/v1/chat", json={"message": "hi"}, headers=origin)
        assert response.status_code == 403


@pytest.mark.parametrize("tamper", ["expired", "audience", "forged", "issuer", "nonce"])
def test_a_bad_id_token_is_401_and_opens_no_session(api, provider, tamper):
    provider.tamper = tamper
    response = sign_in(api)
    assert response.status_code == 401
    assert COOKIE not in response.headers.get("set-cookie", "")
    assert api.get("/v1/me").status_code == 401


def test_a_callback_without_its_sign_in_or_replayed_is_401(api):
    assert api.get("/v1/auth/callback?state=made-up&code=x").status_code == 401
    start = api.get("/v1/auth/login", follow_redirects=False)
    back = requests.get(start.headers["location"], allow_redirects=False, timeout=5)
    callback = back.headers["Location"].replace(PUBLIC, "")
    assert api.get(callback, follow_redirects=False).status_code == 302
    assert api.get(callback, follow_redirects=False).status_code == 401


def test_sign_out_ends_the_session(api):
    sign_in(api)
    assert api.post("/v1/auth/logout").status_code == 200
    assert api.get("/v1/me").status_code == 401


def test_next_cannot_send_the_browser_to_another_site(api):
    assert sign_in(api, next_page="//evil.example.com/x").headers["location"] == "/"
    assert sign_in(api, next_page="https://evil.example.com").headers["location"] == "/"
