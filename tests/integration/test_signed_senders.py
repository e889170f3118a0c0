"""The running stack with REST_CHANNEL_SECRET, walked as an outsider and as people
with API keys (issue #27 items 1 and 6): an outsider writes into no conversation,
the API's chat still works, each person only in their own conversation, and sees
only the documents of their groups."""

from __future__ import annotations

import subprocess

import pytest
import requests
import socketio

from bilingual_assistant.access.sender_tokens import SenderTokens
from tests.fakes.identity_provider import FakeIdentityProvider
from tests.integration.conftest import PROJECT, RASA_TOKEN, free_port, wait_until_up
from tests.integration.test_socketio import Client

pytestmark = pytest.mark.slow

SECRET = "integration-rest-channel-secret-0123456789"


def events(rasa_url, sender):
    response = requests.get(f"{rasa_url}/conversations/{sender}/tracker",
                            params={"token": RASA_TOKEN}, timeout=30)
    return [e for e in response.json()["events"] if e["event"] == "user"]


class SignedStack:
    """The signed Rasa's and API's URLs, and the identity provider people sign in
    with."""

    def __init__(self, rasa_url: str, api_url: str, provider: FakeIdentityProvider) -> None:
        self.rasa_url, self.api_url, self.provider = rasa_url, api_url, provider


@pytest.fixture(scope="module")
def signed_stack(servers, api, tmp_path_factory):
    """A second Rasa beside the suite's, same model and stores, requiring signed
    senders (restarting the suite's own twice cost two minutes), and an API that
    signs for it, with API keys and sign-in through a local identity provider."""
    provider = FakeIdentityProvider().start()
    rasa_url = servers.start_rasa("rasa-signed", free_port(), REST_CHANNEL_SECRET=SECRET)
    port = free_port()
    log = tmp_path_factory.mktemp("signed") / "api-signed.log"
    env = {**api.env, "REST_CHANNEL_SECRET": SECRET, "API_RASA_URL": rasa_url,
           "OIDC_ISSUER": provider.issuer, "OIDC_CLIENT_ID": provider.client_id,
           "OIDC_CLIENT_SECRET": provider.client_secret, "OIDC_ROLES_CLAIM": "roles",
           "API_PUBLIC_URL": f"http://127.0.0.1:{port}"}
    with log.open("a") as out:
        signed_api = subprocess.Popen([api.python, "-m", "apps.api", "--port", str(port)],
                                      cwd=PROJECT, env=env, stdout=out,
                                      stderr=subprocess.STDOUT)
    try:
        wait_until_up(f"http://127.0.0.1:{port}/v1/health", signed_api, log, 180)
        yield SignedStack(rasa_url, f"http://127.0.0.1:{port}", provider)
    finally:
        signed_api.terminate()
        signed_api.wait(timeout=20)
        servers.stop_rasa("rasa-signed")
        provider.stop()


def test_with_signed_senders_an_outsider_reaches_no_conversation(signed_stack, api):
    rasa_url, api_url = signed_stack.rasa_url, signed_stack.api_url
    webhook = f"{rasa_url}/webhooks/rest/webhook"
    victim = "key:victim:web"
    # The outsider: a body sender, a token of their own making, another's token.
    for headers in ({}, {"Authorization": "Bearer forged"},
                    {"Authorization": "Bearer " + SenderTokens("o" * 43).sign(victim)},
                    {"Authorization": "Bearer " + SenderTokens(SECRET).sign("mallory")}):
        refused = requests.post(webhook, json={"sender": victim, "message": "hi"},
                                headers=headers, timeout=60)
        assert refused.status_code == 401, refused.text
    assert events(rasa_url, victim) == []
    # A front end holding the secret speaks for its own conversation only.
    own = requests.post(webhook, json={"message": "hi"}, timeout=120, headers={
        "Authorization": "Bearer " + SenderTokens(SECRET).sign("front-end:ann")})
    assert own.status_code == 200 and own.json()
    # The API signs what it sends: its chat works unchanged.
    chat = requests.post(f"{api_url}/v1/chat", timeout=120,
                         json={"message": "年假有几天?"},
                         headers={"Authorization": f"Bearer {api.key}"})
    assert chat.status_code == 200, chat.text
    assert any(m["sources"] for m in chat.json()["messages"])
    # socket.io: no token, no connection; with the API's token, the session is
    # the token's conversation whatever the client claims.
    outsider = Client()
    with pytest.raises(socketio.exceptions.ConnectionError):
        outsider.connect(rasa_url)
    issued = requests.post(f"{api_url}/v1/chat/token", timeout=30,
                           json={"conversation": "socket"},
                           headers={"Authorization": f"Bearer {api.key}"}).json()
    person = Client()
    person.sio.connect(rasa_url, socketio_path="/socket.io",
                       transports=["polling"], auth={"token": issued["token"]},
                       wait_timeout=30)
    try:
        session = person.session(session_id=victim)
        assert session["session_id"] == issued["sender"]
        person.say("你好", victim)
        person.wait_for("bot_uttered")
        assert events(rasa_url, victim) == []
        assert [e["text"] for e in events(rasa_url, issued["sender"])] == ["你好"]
    finally:
        person.close()


def _signed_in(stack, sub, groups):
    """A browser session of a person the provider says is in `groups`."""
    stack.provider.user = {"sub": sub, "email": f"{sub}@example.com",
                           "email_verified": True, "name": sub, "roles": ["user"],
                           "groups": groups}
    session = requests.Session()
    session.headers["Origin"] = stack.api_url
    landed = session.get(f"{stack.api_url}/v1/auth/login", params={"next": "/v1/me"},
                         timeout=60)
    assert landed.status_code == 200 and "assistant_session" in session.cookies, landed.url
    return session


def _asked(url, key, question, conversation="web"):
    """The reply's text and cited sources, for an API key or a signed-in session."""
    if isinstance(key, requests.Session):
        response = key.post(f"{url}/v1/chat", timeout=120,
                            json={"message": question, "conversation": conversation})
    else:
        response = requests.post(f"{url}/v1/chat", timeout=120,
                                 json={"message": question, "conversation": conversation},
                                 headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200, response.text
    messages = response.json()["messages"]
    return (" ".join(m["text"] for m in messages),
            {s["source"] for m in messages for s in m["sources"]})


def test_two_people_in_different_groups_ask_the_same_question(signed_stack, api):
    """Issue #27 item 6, on the running stack: the hr document (tests/integration/
    restricted/, `groups: [hr]`) answers a person in hr, with its source, and is
    neither quoted nor cited to a person in another group, through the API or on
    Rasa's channels with a token the API issued, even after hr's answer is cached."""
    rasa_url, api_url = signed_stack.rasa_url, signed_stack.api_url
    hr = api.new_key("hr-person", "chat", groups="hr")
    it = api.new_key("it-person", "chat", groups="it")
    signed_in_hr = _signed_in(signed_stack, "u-hr", ["hr"])
    signed_in_it = _signed_in(signed_stack, "u-it", ["it", "staff"])
    for question in ("When does Project Kestrel launch?", "Kestrel 项目什么时候发布?"):
        for person in (hr, signed_in_hr):
            text, sources = _asked(api_url, person, question)
            assert "kestrel.md" in sources, (question, text)
        # Another group's key and signed-in person, a key with no group.
        for outsider in (it, signed_in_it, api.key):
            text, sources = _asked(api_url, outsider, question)
            assert "kestrel.md" not in sources and "14" not in text, (question, text)
        # Straight to Rasa's REST channel, with a token the API issued to each.
        for key, allowed in ((hr, True), (it, False)):
            issued = requests.post(f"{api_url}/v1/chat/token", timeout=30,
                                   json={"conversation": "direct"},
                                   headers={"Authorization": f"Bearer {key}"}).json()
            replies = requests.post(f"{rasa_url}/webhooks/rest/webhook", timeout=120,
                                    json={"message": question},
                                    headers={"Authorization": f"Bearer {issued['token']}"})
            cited = {s["source"] for r in replies.json()
                     for s in (r.get("answer") or {}).get("sources", [])}
            assert ("kestrel.md" in cited) is allowed, (key == hr, replies.json())
