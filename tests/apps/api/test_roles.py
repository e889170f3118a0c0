"""Who may do what (issue #27 item 3): a `user` chats and rates; an `editor` also
manages documents, tests what questions find and follows the jobs; reindexing,
retraining, feedback review and API keys are an administrator's, retries included."""

from __future__ import annotations

import pytest

from bilingual_assistant.access.principal import ROLE_SCOPES
from bilingual_assistant.errors import ServiceError
from tests.apps.api.test_app import bearer, client, world  # noqa: F401
from tests.apps.api.test_ui import PUBLIC, signed_in

KNOWLEDGE_READS = [("GET", "/v1/documents"), ("GET", "/v1/jobs"), ("GET", "/v1/hit-tests"),
                   ("POST", "/v1/hit-tests")]


def test_the_roles_scopes():
    assert ROLE_SCOPES["user"] == {"chat", "feedback"}
    assert ROLE_SCOPES["editor"] == {"chat", "feedback", "knowledge:read", "knowledge:write"}
    assert "admin" in ROLE_SCOPES["admin"]


@pytest.mark.parametrize("method,path", KNOWLEDGE_READS)
def test_a_user_sees_no_documents_jobs_or_other_peoples_hit_tests(world, method, path):  # noqa: F811
    app, token = signed_in(world[0], ["user"])
    app.cookies.set("assistant_session", token)
    response = app.request(method, path, headers={"Origin": PUBLIC},
                           json={"questions": ["VPN?"]} if method == "POST" else None)
    assert response.status_code == 403, response.text


@pytest.mark.parametrize("method,path", KNOWLEDGE_READS)
def test_an_editor_does(world, method, path):  # noqa: F811
    app, token = signed_in(world[0], ["editor"])
    app.cookies.set("assistant_session", token)
    response = app.request(method, path, headers={"Origin": PUBLIC},
                           json={"questions": ["VPN?"]} if method == "POST" else None)
    assert response.status_code in (200, 201), response.text


def test_an_editor_cannot_reindex_retrain_or_review_feedback(world):  # noqa: F811
    app, token = signed_in(world[0], ["editor"])
    app.cookies.set("assistant_session", token)
    same_site = {"Origin": PUBLIC}
    assert app.post("/v1/documents/reindex", headers=same_site).status_code == 403
    assert app.post("/v1/model/retrain", headers=same_site).status_code == 403
    assert app.get("/v1/feedback").status_code == 403
    assert app.get("/v1/api-keys").status_code == 403


def test_retrying_a_job_needs_the_rights_submitting_it_needs(world):  # noqa: F811
    services = world[0]
    services.jobs.queue.failure = ServiceError("The job queue cannot be reached: start it.")
    admin = client(services, local_user=True)
    assert admin.post("/v1/documents/reindex").status_code == 503
    [failed] = admin.get("/v1/jobs").json()["jobs"]
    assert failed["kind"] == "reindex" and failed["state"] == "failed"
    services.jobs.queue.failure = None
    writer, _ = services.keys.issue("writer", ["knowledge:write", "knowledge:read"])
    boss, _ = services.keys.issue("boss", ["admin"])
    api = client(services)
    refused = api.post(f"/v1/jobs/{failed['id']}/retry", headers=bearer(writer))
    assert refused.status_code == 403
    assert api.post(f"/v1/jobs/{failed['id']}/retry", headers=bearer(boss)).status_code == 202


def test_a_user_opens_the_sources_an_answer_cites(world):  # noqa: F811
    app, token = signed_in(world[0], ["user"])
    app.cookies.set("assistant_session", token)
    assert app.get("/v1/documents/vpn.md").status_code == 200
    assert app.get("/v1/documents").status_code == 403


def test_deleting_is_for_uploads_unless_an_administrator_says_folder(world, tmp_path):  # noqa: F811
    services = world[0]
    (tmp_path / "uploads").mkdir()
    (tmp_path / "uploads" / "mine.md").write_text("# mine", encoding="utf-8")
    writer, _ = services.keys.issue("writer", ["knowledge:write", "knowledge:read"])
    boss, _ = services.keys.issue("boss", ["admin"])
    api = client(services)
    refused = api.delete("/v1/documents/vpn.md", headers=bearer(writer))
    assert refused.status_code == 403 and "uploads/" in refused.json()["error"]["message"]
    assert api.delete("/v1/documents/vpn.md?folder=true",
                      headers=bearer(writer)).status_code == 403
    assert api.delete("/v1/documents/vpn.md", headers=bearer(boss)).status_code == 403
    assert (tmp_path / "vpn.md").is_file()
    assert api.delete("/v1/documents/uploads/mine.md", headers=bearer(writer)).status_code == 202
    assert api.delete("/v1/documents/vpn.md?folder=true", headers=bearer(boss)).status_code == 202
    assert not (tmp_path / "vpn.md").exists()


def test_a_chat_token_names_the_callers_own_conversation(world):  # noqa: F811
    from bilingual_assistant.access.sender_tokens import SenderTokens

    services = world[0]
    user, record = services.keys.issue("script", ["chat"])
    reader, _ = services.keys.issue("reader", ["knowledge:read"])
    api = client(services)
    assert api.post("/v1/chat/token", headers=bearer(user), json={}).status_code == 404
    services.sender_tokens = SenderTokens("t" * 43)
    issued = api.post("/v1/chat/token", headers=bearer(user), json={"conversation": "c-2"})
    assert issued.status_code == 200, issued.text
    body = issued.json()
    assert body["sender"] == f"key:{record.id}:c-2" and body["expires_in"] == 300
    assert services.sender_tokens.sender(body["token"]) == f"key:{record.id}:c-2"
    assert api.post("/v1/chat/token", headers=bearer(reader), json={}).status_code == 403
    assert api.post("/v1/chat/token", headers=bearer(user),
                    json={"conversation": "../x"}).status_code == 422
