"""Single-user local mode (`make run`) needs no credentials, so only this machine's
names reach it and only its own pages change anything (issue #27 item 4); every
response forbids framing."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from apps.api.app import create_app
from apps.api.middleware import host_name
from apps.api.ui import mount_ui
from tests.apps.api.test_app import LOCAL, bearer, client, world  # noqa: F401

UPLOAD = {"files": ("evil.md", b"# Injected\n\nText.", "text/markdown")}


def local(services, base_url=LOCAL):
    services.local_user = True
    return TestClient(create_app(services), base_url=base_url,
                      raise_server_exceptions=False)


@pytest.mark.parametrize("host", ["evil.example:8000", "attacker.test", "127.0.0.1.nip.io:8000",
                                  "0.0.0.0:8000", "192.168.1.20:8000"])
def test_another_host_name_is_refused_even_for_reading(world, host):  # noqa: F811
    """DNS rebinding: the attacker's name resolves to 127.0.0.1, the browser sends it."""
    api = local(world[0])
    response = api.get("/v1/me", headers={"Host": host})
    assert response.status_code == 403 and "127.0.0.1" in response.json()["error"]["message"]
    assert api.get("/v1/conversations", headers={"Host": host}).status_code == 403


@pytest.mark.parametrize("base", ["http://127.0.0.1:8000", "http://localhost:8000",
                                  "http://[::1]:8000", "http://localhost"])
def test_this_machines_names_are_answered(world, base):  # noqa: F811
    assert local(world[0], base).get("/v1/me").json()["subject"] == "local"


@pytest.mark.parametrize("headers", [
    {"Origin": "https://evil.example"},
    {"Origin": "null"},  # a sandboxed frame or a redirected form
    {"Origin": "http://localhost:8000"},  # another name for the same server is another origin
    {"Origin": "http://127.0.0.1:9999"},
    {"Sec-Fetch-Site": "cross-site"},
    {"Sec-Fetch-Site": "same-site"},
])
def test_a_change_from_another_sites_page_is_refused(world, headers):  # noqa: F811
    services, store, _ = world
    api = local(services)
    before = sorted(services.knowledge_dir.rglob("*"))
    upload = api.post("/v1/documents", files=UPLOAD, headers=headers)
    assert upload.status_code == 403, upload.text
    assert sorted(services.knowledge_dir.rglob("*")) == before
    assert api.post("/v1/api-keys", json={"name": "x", "scopes": ["admin"]},
                    headers=headers).status_code == 403
    assert services.keys.list() == []


def test_the_pages_own_changes_and_local_programs_pass(world):  # noqa: F811
    services = world[0]
    api = local(services)
    own_page = {"Origin": LOCAL, "Sec-Fetch-Site": "same-origin"}
    assert api.post("/v1/api-keys", json={"name": "page", "scopes": ["chat"]},
                    headers=own_page).status_code == 201
    # curl and scripts on this machine send neither Origin nor Sec-Fetch-Site.
    assert api.post("/v1/api-keys", json={"name": "script", "scopes": ["chat"]}
                    ).status_code == 201
    # Reading from another site's page is not refused here: the browser keeps the
    # answer from that page (no CORS headers), and the host check stops rebinding.
    assert api.get("/v1/me", headers={"Origin": "https://evil.example"}).status_code == 200


def test_with_api_keys_required_there_is_no_host_guard(world):  # noqa: F811
    services = world[0]
    token, _ = services.keys.issue("proxy", ["chat"])
    api = client(services, local_user=False)
    behind_proxy = {"Host": "assistant.example.com", **bearer(token)}
    assert api.get("/v1/me", headers=behind_proxy).status_code == 200


@pytest.mark.parametrize("path", ["/v1/health", "/v1/me", "/chat/", "/v1/nothing-here"])
def test_no_page_or_answer_may_be_framed_by_another_site(world, path):  # noqa: F811
    services = world[0]
    services.local_user = True
    api = TestClient(mount_ui(create_app(services)), base_url=LOCAL,
                     raise_server_exceptions=False)
    response = api.get(path)
    assert "frame-ancestors 'none'" in response.headers.get_list("content-security-policy")
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"


def test_a_page_of_another_site_cannot_reach_the_chat_page_by_another_name(world):  # noqa: F811
    services = world[0]
    services.local_user = True
    api = TestClient(mount_ui(create_app(services)), base_url="http://rebound.example:8000",
                     raise_server_exceptions=False)
    assert api.get("/chat/").status_code == 403
    assert api.post("/chat/gradio_api/upload", files=UPLOAD).status_code == 403


@pytest.mark.parametrize("raw,name", [("127.0.0.1:8000", "127.0.0.1"), ("LocalHost", "localhost"),
                                      ("[::1]:8000", "[::1]"), ("[::1]", "[::1]"),
                                      ("evil.example:80", "evil.example")])
def test_host_name_drops_the_port(raw, name):
    assert host_name(raw) == name


def test_only_the_admin_page_takes_large_uploads(world):  # noqa: F811
    services = world[0]
    services.local_user = True
    services.max_upload_bytes = 4 * 1024 * 1024
    api = TestClient(mount_ui(create_app(services)), base_url=LOCAL,
                     raise_server_exceptions=False)
    big = {"files": ("big.md", b"x" * (2 * 1024 * 1024), "text/markdown")}
    assert api.post("/chat/gradio_api/upload", files=big).status_code == 413
    assert api.post("/admin/gradio_api/upload", files=big).status_code != 413
