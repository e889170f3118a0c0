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
from tests.fakes.in_memory import InMemorySessionStore

PUBLIC = "https://assistant.example.com"


@pytest.fixture
def api(world, provider):  # noqa: F811
    services = world[0]
    store = InMemorySessionStore()
    oidc = OidcClient(OidcConfig(provider.issuer, "assistant", "s3cret",
                                 f"{PUBLIC}/v1/auth/callback",
                                 admins=frozenset({"boss@example.com"})), OidcHttp())
    services.sign_in = SignIn(oidc, Sessions(store), PUBLIC)
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
    assert api.post("/v1/auth/logout", headers={"Origin": PUBLIC}).status_code == 200
    assert api.get("/v1/me").status_code == 401


@pytest.mark.parametrize("headers", [{"Origin": "https://evil.example.com"}, {}])
def test_another_sites_page_cannot_sign_a_person_out(api, headers):
    sign_in(api)
    assert api.post("/v1/auth/logout", headers=headers).status_code == 403
    assert api.get("/v1/me").status_code == 200


def test_next_cannot_send_the_browser_to_another_site(api):
    assert sign_in(api, next_page="//evil.example.com/x").headers["location"] == "/"
    assert sign_in(api, next_page="https://evil.example.com").headers["location"] == "/"


LOGIN_COOKIE = "assistant_login"


def provider_callback(client):
    """Starts a sign-in in `client`'s browser; the provider's redirect back."""
    start = client.get("/v1/auth/login", follow_redirects=False)
    back = requests.get(start.headers["location"], allow_redirects=False, timeout=5)
    return back.headers["Location"].replace(PUBLIC, "")


def test_a_callback_opened_in_another_browser_signs_nobody_in(api):
    """Sign-in CSRF: the attacker's own callback URL, opened by a victim, must not
    sign the victim in as the attacker (issue #27 item 3)."""
    attacker = TestClient(api.app, base_url=PUBLIC, raise_server_exceptions=False)
    planted = provider_callback(attacker)
    response = api.get(planted, follow_redirects=False)
    assert response.status_code == 401 and "browser" in response.text
    assert COOKIE not in response.headers.get("set-cookie", "")
    assert api.get("/v1/me").status_code == 401
    # Nor when the victim has a sign-in of their own under way.
    provider_callback(api)
    response = api.get(planted, follow_redirects=False)
    assert response.status_code == 401 and api.get("/v1/me").status_code == 401


def test_the_login_cookie_is_http_only_short_lived_and_spent_by_the_callback(api):
    store = api.app.state.services.sign_in.sessions.store
    for _ in range(20):  # anonymous requests to start a sign-in write nothing
        api.get("/v1/auth/login", follow_redirects=False)
    assert store.sessions == {}
    start = api.get("/v1/auth/login", follow_redirects=False)
    cookie = start.headers["set-cookie"]
    assert "aesgcm1:" in cookie and "verifier" not in cookie  # sealed
    assert cookie.startswith(f"{LOGIN_COOKIE}=") and "HttpOnly" in cookie
    assert "Secure" in cookie and "Max-Age=600" in cookie and "Path=/v1/auth" in cookie
    back = requests.get(start.headers["location"], allow_redirects=False, timeout=5)
    done = api.get(back.headers["Location"].replace(PUBLIC, ""), follow_redirects=False)
    assert done.status_code == 302
    assert f'{LOGIN_COOKIE}=""' in done.headers["set-cookie"] or \
        f"{LOGIN_COOKIE}=;" in done.headers["set-cookie"]


def test_an_unverified_email_does_not_make_an_administrator(api, provider):
    provider.user.update(email="boss@example.com", email_verified=False, roles=[])
    sign_in(api)
    assert api.get("/v1/me").json()["roles"] == ["user"]
    assert api.get("/v1/api-keys").status_code == 403


def policy_api(world, provider, **policy):  # noqa: F811
    services = world[0]
    store = InMemorySessionStore()
    oidc = OidcClient(OidcConfig(provider.issuer, "assistant", "s3cret",
                                 f"{PUBLIC}/v1/auth/callback", **policy), OidcHttp())
    services.sign_in = SignIn(oidc, Sessions(store), PUBLIC)
    return TestClient(create_app(services), base_url=PUBLIC, raise_server_exceptions=False)


@pytest.mark.parametrize("user,admitted", [
    ({"email": "ann@example.com"}, True),
    ({"email": "ANN@Example.COM"}, True),
    ({"email": "mallory@gmail.com"}, False),
    ({"email": "mallory@example.com.evil.test"}, False),
    ({"email": "ann@example.com", "email_verified": False}, False),
    ({"email": None}, False),
])
def test_only_people_of_the_allowed_domains_get_in(world, provider, user, admitted):  # noqa: F811
    provider.user.update(user)
    api = policy_api(world, provider, allowed_domains=frozenset({"example.com"}))
    response = sign_in(api)
    assert (response.status_code == 302) == admitted
    if not admitted:
        assert response.status_code == 403 and "example.com" not in response.text
        assert "not allowed" in response.text and response.headers[
            "content-type"].startswith("text/html")
        assert api.get("/v1/me").status_code == 401


@pytest.mark.parametrize("groups,admitted", [(["helpdesk", "staff"], True), (["staff"], False),
                                              ("helpdesk", True), (None, False)])
def test_only_members_of_the_allowed_groups_get_in(world, provider, groups, admitted):  # noqa: F811
    provider.user.update(groups=groups)
    api = policy_api(world, provider, allowed_groups=frozenset({"helpdesk"}))
    assert (sign_in(api).status_code == 302) == admitted
