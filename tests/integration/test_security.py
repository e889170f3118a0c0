"""Every port is authenticated or bound to loopback: each server's routes, taken
from its own router so that a new route is covered without editing this file, are
called without credentials, as `make run` starts the servers."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
from pathlib import Path
from typing import Dict, List, Set, Text, Tuple
from unittest import mock

import pytest
import requests

from tests.integration.conftest import LLM_KEY, PROJECT, RASA_TOKEN

# Answered without a token by Rasa itself, with no data: a greeting and the version.
RASA_PUBLIC = {"/", "/version"}
# User-facing channel endpoints: what users talk to (bound to loopback by default).
CHANNEL_PREFIXES = ("/webhooks/", "/socket.io")
REFUSED = (401, 403, 404)


def concrete(path: Text) -> Text:
    """A route's path with its parameters filled in."""
    return "/" + re.sub(r"<[^>]+>", "someone", path.strip("/"))


def rasa_routes(credentials: Path, env: Dict[Text, Text]) -> Set[Tuple[Text, Text]]:
    """The routes of Rasa's app as `rasa run` builds it (API and channels), with the
    channels' variables (`env`) as the running server has them."""
    from rasa.core.run import configure_app, create_http_input_channels
    from sanic import Sanic

    Sanic.test_mode = True  # built in this process only to read its router
    with mock.patch.dict(os.environ, env):
        channels = create_http_input_channels(None, str(credentials))
    app = configure_app(channels, cors=None, auth_token="x", enable_api=True)
    try:
        return {(concrete(route.path), method) for route in app.router.routes
                for method in route.methods}
    finally:
        Sanic._app_registry.pop(app.name, None)


def test_rasas_api_refuses_every_route_without_the_token(servers):
    routes = rasa_routes(servers.logs / "credentials.yml", servers.channel_env())
    api = {(path, method) for path, method in routes
           if not path.startswith(CHANNEL_PREFIXES) and path not in RASA_PUBLIC}
    assert {("/conversations/someone/tracker", "GET"), ("/model", "PUT"),
            ("/model/parse", "POST")} <= api
    for path, method in sorted(api):
        for params in ({}, {"token": "wrong"}):
            response = requests.request(method, servers.rasa_url + path, params=params,
                                        json={}, timeout=30)
            assert response.status_code in REFUSED, (method, path, params, response.text)
    granted = requests.get(f"{servers.rasa_url}/status", params={"token": RASA_TOKEN},
                           timeout=30)
    assert granted.status_code == 200


def test_rasa_sends_no_cors_headers_to_other_origins(servers):
    for method in ("OPTIONS", "GET"):
        response = requests.request(
            method, f"{servers.rasa_url}/conversations/someone/tracker",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
            timeout=30)
        assert "access-control-allow-origin" not in {k.lower() for k in response.headers}


def non_loopback_addresses() -> List[Text]:
    output = subprocess.run(["hostname", "-I"], capture_output=True, text=True).stdout
    return [a for a in output.split() if ":" not in a and not a.startswith("127.")]


def test_the_servers_listen_on_loopback_only(servers):
    addresses = non_loopback_addresses()
    if not addresses:
        pytest.skip("this machine has no address but loopback")
    for port in (servers.rasa_port, servers.action_port, servers.llm_port):
        with socket.socket() as probe:
            probe.settimeout(2)
            assert probe.connect_ex((addresses[0], port)) != 0, port


LIST_LLM_ROUTES = """
import json
from pathlib import Path

from apps.llm_server.guard import routes
from apps.llm_server.wiring import build_app
from bilingual_assistant.config import LocalLLMSettings

app = build_app(LocalLLMSettings(api_key="k"), Path("unused.gguf"), engine=object())
print(json.dumps(routes(app)))
"""


def test_the_llm_server_refuses_every_route_without_its_key(servers):
    listed = subprocess.run([str(servers.llm_python), "-c", LIST_LLM_ROUTES], cwd=PROJECT,
                            capture_output=True, text=True, timeout=120,
                            env={"PYTHONPATH": str(PROJECT), "PATH": "/usr/bin:/bin"})
    assert listed.returncode == 0, listed.stderr
    routes = json.loads(listed.stdout)
    paths = {path for path, _ in routes}
    assert "/v1/chat/completions" in paths and not paths & {"/docs", "/openapi.json"}
    url = f"http://127.0.0.1:{servers.llm_port}"
    for path, method in routes:
        for headers in ({}, {"Authorization": "Bearer wrong"}):
            response = requests.request(method, url + concrete(path), headers=headers,
                                        json={}, timeout=30)
            assert response.status_code in REFUSED, (method, path, response.text)
    for path in ("/docs", "/openapi.json", "/redoc"):
        assert requests.get(url + path, timeout=30).status_code == 401
        assert requests.get(url + path, timeout=30, headers={
            "Authorization": f"Bearer {LLM_KEY}"}).status_code == 404
    preflight = requests.options(f"{url}/v1/chat/completions", timeout=30, headers={
        "Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
    assert "access-control-allow-origin" not in {k.lower() for k in preflight.headers}
    granted = requests.get(f"{url}/v1/models", timeout=30,
                           headers={"Authorization": f"Bearer {LLM_KEY}"})
    assert granted.status_code == 200


def test_the_llm_server_refuses_oversized_bodies(servers):
    url = f"http://127.0.0.1:{servers.llm_port}/v1/chat/completions"
    response = requests.post(url, data=b"x" * (2 * 1024 * 1024), timeout=30, headers={
        "Authorization": f"Bearer {LLM_KEY}", "Content-Type": "application/json"})
    assert response.status_code == 413


def tracker(servers, sender):
    response = requests.get(f"{servers.rasa_url}/conversations/{sender}/tracker",
                            params={"token": RASA_TOKEN}, timeout=30)
    assert response.status_code == 200
    return response.json()


@pytest.mark.parametrize("command", ['/inform{"city": "Berlin"}', "/restart", "/nlu_fallback",
                                     "  /session_start"])
def test_channel_users_cannot_drive_intents_and_slots(servers, command):
    sender = f"commands-{abs(hash(command))}"
    servers.say(sender, "hi")
    servers.say(sender, command)
    events = tracker(servers, sender)["events"]
    user = [e for e in events if e["event"] == "user"][-1]
    parse = user["parse_data"]
    # The NLU read it as text (Rasa's `/intent{...}` shortcut gives one intent at
    # confidence 1 and entities "extracted" by RegexMessageHandler).
    assert len(parse["intent_ranking"]) > 1
    assert not any(e.get("extractor") == "RegexMessageHandler" for e in parse["entities"])
    assert [e["event"] for e in events].count("session_started") == 1
    assert not any(e["event"] == "restart" for e in events)


def test_replies_carry_no_markup(servers):
    sender = "markup-user"
    servers.say(sender, "what's the weather like?")
    replies = servers.say(sender, '<img src=x onerror="alert(1)">Atlantis<script>x</script>')
    assert replies and not any(re.search(r"<[a-zA-Z/!]", r) for r in replies), replies


def test_only_allowed_metadata_is_stored(servers):
    response = requests.post(f"{servers.rasa_url}/webhooks/rest/webhook", timeout=60, json={
        "sender": "metadata-user", "message": "hi", "input_channel": "trusted",
        "metadata": {"secret-flag": "x", "note": "y"}})
    assert response.status_code == 200
    user = [e for e in tracker(servers, "metadata-user")["events"] if e["event"] == "user"][-1]
    assert user["input_channel"] == "rest"
    assert not (user.get("metadata") or {}).keys() & {"secret-flag", "note"}


def send_all(servers, messages, workers):
    """Posts (sender, text) pairs at once; returns (status, replies) in the same order."""
    from concurrent.futures import ThreadPoolExecutor

    def post(item):
        sender, text = item
        response = requests.post(f"{servers.rasa_url}/webhooks/rest/webhook", timeout=300,
                                 json={"sender": sender, "message": text})
        return response.status_code, response.json(), response.headers.get("Retry-After")

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(post, messages))


def assert_every_turn_kept(servers, sender, sent, results):
    answered = [text for (_, text), (status, _, _) in zip(sent, results, strict=True)
                if status == 200]
    for status, body, retry_after in results:
        assert status in (200, 429), (status, body)
        if status == 200:
            assert body and body[0]["text"], "an empty 200"
        else:
            assert retry_after and "busy" in body["error"]
    events = tracker(servers, sender)["events"]
    said = [e["text"] for e in events if e["event"] == "user"]
    assert sorted(said) == sorted(answered)  # every accepted message, once
    # each message is answered before the next one is read: no interleaving
    kinds = [e["event"] for e in events if e["event"] in ("user", "bot")]
    for before, after in zip(kinds, kinds[1:], strict=False):
        assert not (before == "user" and after == "user"), kinds
    return len(answered)


@pytest.mark.parametrize("count", [20, 100])
def test_concurrent_messages_for_one_conversation_are_all_answered_in_turn(servers, count):
    sender = f"burst-{count}"
    sent = [(sender, f"hi number {n}") for n in range(count)]
    results = send_all(servers, sent, workers=count)
    answered = assert_every_turn_kept(servers, sender, sent, results)
    assert answered == count  # greetings are quick: none had to wait past the limit


def test_fifty_conversations_at_once(servers):
    sent = [(f"crowd-{n}", f"hello {m}") for m in range(2) for n in range(50)]
    results = send_all(servers, sent, workers=50)
    assert [status for status, _, _ in results] == [200] * len(sent)
    for n in range(0, 50, 7):
        sender = f"crowd-{n}"
        mine = [(s, t) for s, t in sent if s == sender]
        assert_every_turn_kept(servers, sender, mine,
                               [r for (s, _), r in zip(sent, results, strict=True) if s == sender])


def test_conversations_survive_a_restart_and_are_unreadable_on_disk(servers):
    from tests.integration.conftest import CONVERSATIONS

    canary = "canary-5e1d9b"
    servers.say("persistent-user", f"你好 {canary}")
    servers.stop_rasa()
    servers.start_rasa()
    texts = [e.get("text") or "" for e in tracker(servers, "persistent-user")["events"]]
    assert any(canary in text for text in texts)
    database = CONVERSATIONS / "conversations.db"
    assert database.is_file()
    for path in CONVERSATIONS.iterdir():  # the database and its journal files
        assert canary.encode() not in path.read_bytes(), path


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


# Rasa with the model loaded sits at about 1.3 GB here; hostile input may add
# little: what it reads is capped (body, message, metadata, tokens per message).
MEMORY_GROWTH_MB = 300


def test_hostile_input_keeps_rasas_memory_bounded(servers):
    pid = servers.processes["rasa"].pid
    url = servers.rasa_url
    before = rss_mb(pid)
    statuses = []
    for n in range(10):
        long_text = ("天气怎么样 weather " * 2000)[:20_000]
        statuses.append(requests.post(f"{url}/webhooks/rest/webhook", timeout=120, json={
            "sender": f"hostile-{n}", "message": long_text}).status_code)
        statuses.append(requests.post(f"{url}/webhooks/rest/webhook", timeout=120, json={
            "sender": "hostile", "message": "hi",
            "metadata": {"blob": "m" * 10_000_000}}).status_code)
        statuses.append(requests.post(f"{url}/model/parse", params={"token": RASA_TOKEN},
                                      json={"text": "北京 " * 300_000}, timeout=120).status_code)
        statuses.append(requests.post(f"{url}/model/parse", params={"token": RASA_TOKEN},
                                      json={"text": "明天北京 rain? " * 20_000},
                                      timeout=120).status_code)
    after = rss_mb(pid)
    print(f"\nRasa resident memory: {before:.0f} MB before, {after:.0f} MB after "
          f"{len(statuses)} hostile requests (statuses {sorted(set(statuses))})")
    assert set(statuses) <= {200, 413}
    assert statuses.count(413) >= 20  # the 10 MB metadata and the 1.2 MB parse body
    assert after - before < MEMORY_GROWTH_MB
    assert servers.say("after-hostile", "hi")[0].startswith("Hi!")
