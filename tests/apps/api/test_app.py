"""The API's routes over in-memory services: access (local mode, API keys, scopes),
chat with structured sources, hit testing, documents, errors as JSON."""

import os
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest
from fastapi.testclient import TestClient

from apps.api.app import create_app
from apps.api.services import ApiServices
from apps.cli.reference import http_api_table
from bilingual_assistant.access.keys import ApiKeys
from bilingual_assistant.conversations.history import ChatHistory
from bilingual_assistant.errors import InputError, ServiceError
from bilingual_assistant.feedback.service import FeedbackService
from bilingual_assistant.jobs.service import Jobs
from bilingual_assistant.knowledge.hit_testing import HitTester
from bilingual_assistant.knowledge.ingest import ingest
from bilingual_assistant.knowledge.retrieval import Retriever
from tests.fakes.in_memory import (
    HashingEmbedder,
    InMemoryFeedbackStore,
    InMemoryHitTestLog,
    InMemoryJobStore,
    InMemoryKeyStore,
    InMemoryStore,
    InMemoryTurnStore,
    ListedExamples,
    RecordingQueue,
)

ANSWER = {"text": "Install Secure Connect. [1]", "mode": "llm", "language": "en",
          "cached": False, "query": "vpn?",
          "sources": [{"number": 1, "title": "VPN guide", "source": "en/it-vpn.md"}]}


class FakeRasa:
    """Rasa's REST channel as the API sees it: records turns, replies or fails."""

    def __init__(self) -> None:
        self.turns: List[Dict[str, Any]] = []
        self.readers: List[Any] = []  # who asked each turn (the documents they may read)
        self.failure: Optional[Exception] = None
        self.up = True

    async def send(self, sender, message, metadata=None, reader=None):
        self.turns.append({"sender": sender, "message": message})
        self.readers.append(reader)
        if self.failure:
            raise self.failure
        return [{"text": "Install Secure Connect. [1]\n\nSources: [1] VPN guide",
                 "answer": ANSWER},
                {"text": "Anything else?", "buttons": [{"title": "No", "payload": "/deny"}]}]

    async def ready(self):
        return self.up

    async def understand(self, text):
        return {"name": "goodbye", "confidence": 0.63} if self.up else None


@pytest.fixture
def world(tmp_path):
    (tmp_path / "vpn.md").write_text("# VPN\n\nInstall Northwind Secure Connect first.\n",
                                     encoding="utf-8")
    store, embedder = InMemoryStore(), HashingEmbedder()
    ingest(tmp_path, store, embedder)
    keys = ApiKeys(InMemoryKeyStore())
    rasa = FakeRasa()
    services = ApiServices(keys=keys, hit_tests=HitTester(Retriever(store, embedder),
                                                          InMemoryHitTestLog()),
                           chat=rasa, documents=store, local_user=False,
                           database_ready=lambda: True,
                           jobs=Jobs(InMemoryJobStore(), RecordingQueue()),
                           knowledge_dir=tmp_path, max_upload_bytes=1000,
                           feedback=FeedbackService(InMemoryFeedbackStore(),
                                                    ListedExamples("greet", "affirm")),
                           history=ChatHistory(InMemoryTurnStore()))
    return services, store, rasa


# Where `make run` serves the API; local mode answers only requests for this host.
LOCAL = "http://127.0.0.1:8000"


def client(services, local_user=False):
    services.local_user = local_user
    return TestClient(create_app(services), base_url=LOCAL, raise_server_exceptions=False)


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def test_health_and_the_versioned_openapi_document_need_no_credentials(world):
    api = client(world[0])
    assert api.get("/v1/health").json() == {"status": "ok"}
    spec = api.get("/v1/openapi.json").json()
    assert spec["info"]["version"] == "1"
    assert {"/v1/chat", "/v1/hit-tests", "/v1/documents", "/v1/api-keys"} <= set(spec["paths"])


def test_the_http_api_reference_lists_every_route(world):
    """docs/reference/http-api.md's table is the app's own OpenAPI document; with
    REWRITE_REFERENCE=1 (`make readme`) the test writes it instead of comparing."""
    spec = client(world[0]).get("/v1/openapi.json").json()
    table = http_api_table(spec)
    assert "| POST | `/v1/chat` |" in table
    page = Path(__file__).resolve().parents[3] / "docs" / "reference" / "http-api.md"
    text = page.read_text(encoding="utf-8")
    begin, end = "<!-- routes: begin -->\n", "<!-- routes: end -->"
    head, _, rest = text.partition(begin)
    _, _, tail = rest.partition(end)
    wanted = head + begin + table + end + tail
    if os.environ.get("REWRITE_REFERENCE") == "1":
        page.write_text(wanted, encoding="utf-8")
        text = wanted
    assert text == wanted, "the API's routes changed: run `make readme`"


def test_readiness_names_what_is_not_ready(world):
    services, store, rasa = world
    api = client(services)
    assert api.get("/v1/ready").json()["status"] == "ready"
    rasa.up, store.failing = False, True
    response = api.get("/v1/ready")
    assert response.status_code == 503
    assert response.json()["checks"] == {"database": True, "knowledge": False, "rasa": False}


def test_without_local_mode_every_route_needs_a_key(world):
    api = client(world[0])
    for method, path in [("get", "/v1/me"), ("post", "/v1/chat"), ("get", "/v1/documents"),
                         ("get", "/v1/api-keys"), ("post", "/v1/hit-tests")]:
        response = api.request(method.upper(), path, json={} if method == "post" else None)
        assert response.status_code == 401, path
        assert response.headers["www-authenticate"] == "Bearer"
        assert "API key" in response.json()["error"]["message"]


@pytest.mark.parametrize("header", ["Basic abc", "Bearer", "Bearer ba_nope",
                                    "Bearer ba_000000000000_" + "x" * 43])
def test_bad_credentials_are_401_even_in_local_mode(world, header):
    response = client(world[0], local_user=True).get("/v1/me",
                                                     headers={"Authorization": header})
    assert response.status_code == 401
    assert response.json()["error"]["type"] == "unauthenticated"


def test_local_mode_is_labelled_and_acts_as_the_local_administrator(world):
    me = client(world[0], local_user=True).get("/v1/me").json()
    assert me["mode"] == "local single-user" and "admin" in me["scopes"]


def test_a_key_without_the_scope_gets_403_on_admin_routes(world):
    services = world[0]
    token, _ = services.keys.issue("chat only", ["chat"])
    api = client(services)
    response = api.get("/v1/api-keys", headers=bearer(token))
    assert response.status_code == 403
    assert "administrator" in response.json()["error"]["message"]
    assert api.post("/v1/hit-tests", json={"questions": ["vpn"]},
                    headers=bearer(token)).status_code == 403


def test_keys_are_made_listed_and_revoked_through_the_api(world):
    services = world[0]
    admin, _ = services.keys.issue("admin", ["admin"])
    api = client(services)
    made = api.post("/v1/api-keys", json={"name": "bot", "scopes": ["chat"], "days": 30},
                    headers=bearer(admin))
    assert made.status_code == 201
    key = made.json()
    assert key["key"].startswith("ba_") and key["state"] == "active"
    assert api.get("/v1/me", headers=bearer(key["key"])).json()["subject"] == f"key:{key['id']}"
    listed = api.get("/v1/api-keys", headers=bearer(admin)).json()["keys"]
    assert {k["id"] for k in listed} >= {key["id"]}
    assert all("key" not in k and "digest" not in k for k in listed)
    revoked = api.delete(f"/v1/api-keys/{key['id']}", headers=bearer(admin)).json()
    assert revoked["state"] == "revoked"
    response = api.get("/v1/me", headers=bearer(key["key"]))
    assert response.status_code == 401 and "revoked" in response.json()["error"]["message"]
    assert api.delete("/v1/api-keys/nope", headers=bearer(admin)).status_code == 404


@pytest.mark.parametrize("body", [
    {"name": "x", "scopes": ["root"]},
    {"name": "", "scopes": ["chat"]},
    {"name": "x", "scopes": []},
    {"name": "x", "scopes": ["chat"], "days": 0},
    {"scopes": ["chat"]},
])
def test_a_bad_key_request_is_422_with_the_field_named(world, body):
    services = world[0]
    response = client(services, local_user=True).post("/v1/api-keys", json=body)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["type"] == "invalid_request" and error["problems"][0]["field"]
    assert services.keys.list() == []


def test_chat_talks_as_the_caller_and_returns_sources_as_data(world):
    services, _, rasa = world
    token, record = services.keys.issue("bot", ["chat"])
    response = client(services).post("/v1/chat", headers=bearer(token),
                                      json={"message": " vpn? ", "conversation": "c-1"})
    assert response.status_code == 200
    assert rasa.turns == [{"sender": f"key:{record.id}:c-1", "message": "vpn?"}]
    first, second = response.json()["messages"]
    assert first["text"] == ANSWER["text"]  # the answer's text, not the display text
    assert first["sources"] == [{"number": 1, "title": "VPN guide", "source": "en/it-vpn.md"}]
    assert second["buttons"] == [{"title": "No", "payload": "/deny"}]


def test_each_caller_lists_only_their_own_conversations(world):
    services, _, rasa = world
    ann, _ = services.keys.issue("ann", ["chat"])
    bob, _ = services.keys.issue("bob", ["chat"])
    api = client(services)
    for token, conversation, message in [(ann, "c-1", "vpn?"), (ann, "c-1", "and wifi?"),
                                         (ann, "c-2", "hello"), (bob, "c-1", "bob's")]:
        assert api.post("/v1/chat", headers=bearer(token),
                        json={"message": message, "conversation": conversation}
                        ).status_code == 200
    listed = api.get("/v1/conversations", headers=bearer(ann)).json()["conversations"]
    assert [(c["conversation"], c["turns"], c["first_message"]) for c in listed] == [
        ("c-2", 1, "hello"), ("c-1", 2, "vpn?")]
    turns = api.get("/v1/conversations/c-1", headers=bearer(ann)).json()["turns"]
    assert [t["message"] for t in turns] == ["vpn?", "and wifi?"]
    assert turns[0]["replies"][0]["sources"][0]["source"] == "en/it-vpn.md"
    assert "subject" not in turns[0]
    bobs = api.get("/v1/conversations/c-1", headers=bearer(bob)).json()["turns"]
    assert [t["message"] for t in bobs] == ["bob's"]
    assert api.get("/v1/conversations/..%2Fx", headers=bearer(ann)).status_code in (404, 422)
    assert api.get("/v1/conversations").status_code == 401


def test_a_history_that_cannot_be_written_still_returns_the_reply(world):
    services, _, _ = world

    class Broken(InMemoryTurnStore):
        def add(self, turn):
            raise ServiceError("The API database failed (OperationalError); try again.")

    services.history = ChatHistory(Broken())
    response = client(services, local_user=True).post("/v1/chat", json={"message": "vpn?"})
    assert response.status_code == 200
    assert response.json()["messages"][0]["text"] == ANSWER["text"]


@pytest.mark.parametrize("body", [
    {}, {"message": ""}, {"message": "   "}, {"message": "x" * 4001},
    {"message": "hi", "conversation": "../other"}, {"message": ["hi"]},
])
def test_bad_chat_requests_are_422_and_never_reach_rasa(world, body):
    services, _, rasa = world
    response = client(services, local_user=True).post("/v1/chat", json=body)
    assert response.status_code == 422 and rasa.turns == []


def test_a_malformed_json_body_is_422_not_500(world):
    response = client(world[0], local_user=True).post(
        "/v1/chat", content=b"{not json", headers={"Content-Type": "application/json"})
    assert response.status_code == 422


@pytest.mark.parametrize("failure, status", [
    (ServiceError("The assistant cannot be reached; start it with `make run`."), 503),
    (InputError("message too long for the channel"), 400),
    (RuntimeError("secret internals at /srv/x"), 500),
])
def test_rasa_failures_are_json_with_a_clear_message(world, failure, status):
    services, _, rasa = world
    rasa.failure = failure
    response = client(services, local_user=True).post("/v1/chat", json={"message": "hi"})
    assert response.status_code == status
    message = response.json()["error"]["message"]
    assert "internals" not in message and message


def test_hit_testing_single_and_batch_with_history(world):
    services = world[0]
    token, record = services.keys.issue("reader", ["knowledge:read"])
    api = client(services)
    single = api.post("/v1/hit-tests", json={"questions": ["Secure Connect VPN"]},
                      headers=bearer(token))
    assert single.status_code == 201
    hit = single.json()["results"][0]["hits"][0]
    assert hit["source"] == "vpn.md" and hit["rank"] == 1 and hit["similarity"] > 0
    batch = api.post("/v1/hit-tests", headers=bearer(token), json={
        "questions": ["VPN install", "咖啡机在哪"], "mode": "bm25", "top_k": 3}).json()
    assert [r["answered"] for r in batch["results"]] == [True, False]
    assert batch["subject"] == f"key:{record.id}"
    history = api.get("/v1/hit-tests", headers=bearer(token)).json()["runs"]
    assert [r["id"] for r in history] == [batch["id"], single.json()["id"]]
    assert history[0]["questions"] == 2 and history[0]["answered"] == 1
    again = api.get(f"/v1/hit-tests/{batch['id']}", headers=bearer(token)).json()
    assert again == batch
    assert api.get("/v1/hit-tests/nope", headers=bearer(token)).status_code == 404


@pytest.mark.parametrize("body", [
    {"questions": []}, {"questions": [""]}, {"questions": ["q"] * 201},
    {"questions": ["q"], "mode": "fuzzy"}, {"questions": ["q"], "top_k": 0},
    {"questions": "q"},
])
def test_bad_hit_tests_are_422(world, body):
    response = client(world[0], local_user=True).post("/v1/hit-tests", json=body)
    assert response.status_code == 422


def test_documents_lists_the_indexed_documents_and_the_version(world):
    body = client(world[0], local_user=True).get("/v1/documents").json()
    assert [d["source"] for d in body["documents"]] == ["vpn.md"]
    assert body["version"]


def test_a_document_is_shown_as_plain_text_and_never_outside_the_folder(world, tmp_path):
    services, _, _ = world
    (tmp_path / "page.html").write_text("<script>alert(1)</script><p>Hi</p>", encoding="utf-8")
    (tmp_path.parent / "secret.md").write_text("secret", encoding="utf-8")
    api = client(services, local_user=True)
    page = api.get("/v1/documents/page.html")
    assert page.status_code == 200 and page.text == "<script>alert(1)</script><p>Hi</p>"
    assert page.headers["content-type"] == "text/plain; charset=utf-8"
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["content-security-policy"].startswith("sandbox")
    assert api.get("/v1/documents/vpn.md").text.startswith("# VPN")
    for source in ["../secret.md", "%2e%2e/secret.md", "nothing.md", "uploads"]:
        assert api.get(f"/v1/documents/{source}").status_code == 404, source


def test_a_store_that_fails_is_503(world):
    services, store, _ = world
    store.failing = True
    response = client(services, local_user=True).get("/v1/documents")
    assert response.status_code == 503 and response.json()["error"]["type"] == "unavailable"


def test_unknown_routes_are_json_404(world):
    response = client(world[0], local_user=True).get("/v1/nothing")
    assert response.status_code == 404 and response.json()["error"]["type"] == "not_found"


def test_an_upload_is_saved_under_uploads_and_queues_an_ingest_job(world, tmp_path):
    services = world[0]
    token, _ = services.keys.issue("writer", ["knowledge:write", "knowledge:read"])
    api = client(services)
    response = api.post("/v1/documents", headers=bearer(token), files=[
        ("files", ("停车 指南.md", "# 停车\n\n地下车库 7 点开门。".encode(), "text/markdown")),
        ("files", ("../../etc/passwd.txt", b"harmless", "text/plain"))])
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["saved"] == ["uploads/停车 指南.md", "uploads/passwd.txt"]
    assert (tmp_path / "uploads" / "停车 指南.md").read_text("utf-8").startswith("# 停车")
    assert not list(tmp_path.glob("uploads/.upload-*"))
    job = body["job"]
    assert job["kind"] == "ingest" and job["state"] == "queued"
    assert services.jobs.queue.sent[0].id == job["id"]
    seen = api.get(f"/v1/jobs/{job['id']}", headers=bearer(token)).json()
    assert seen["state"] == "queued" and "no worker is running" in seen["message"]
    assert [j["id"] for j in api.get("/v1/jobs", headers=bearer(token)).json()["jobs"]] == [
        job["id"]]


@pytest.mark.parametrize("name, content, problem", [
    ("virus.exe", b"MZ", "cannot be indexed"),
    ("big.txt", b"x" * 1001, "larger than"),
    ("empty.txt", b"", "empty"),
    (".md", b"x", "cannot be indexed"),
    ("../", b"x", "cannot be used"),
])
def test_bad_uploads_are_refused_and_leave_nothing_behind(world, tmp_path, name, content,
                                                         problem):
    services = world[0]
    response = client(services, local_user=True).post(
        "/v1/documents", files=[("files", (name, content, "application/octet-stream"))])
    assert response.status_code == 400 and problem in response.json()["error"]["message"]
    assert not list(tmp_path.glob("uploads/*")) and not list(tmp_path.glob("uploads/.*"))
    assert services.jobs.queue.sent == []


def test_an_upload_without_files_is_422(world):
    response = client(world[0], local_user=True).post("/v1/documents")
    assert response.status_code == 422


def test_a_reader_cannot_upload(world):
    services = world[0]
    token, _ = services.keys.issue("reader", ["knowledge:read"])
    response = client(services).post("/v1/documents", headers=bearer(token),
                                     files=[("files", ("a.md", b"# a", "text/markdown"))])
    assert response.status_code == 403


def test_deleting_a_document_removes_its_file_and_queues_the_index_change(world, tmp_path):
    services = world[0]
    (tmp_path / "uploads").mkdir()
    (tmp_path / "uploads" / "old.md").write_text("# old", encoding="utf-8")
    api = client(services, local_user=True)
    response = api.delete("/v1/documents/uploads/old.md")
    assert response.status_code == 202
    assert not (tmp_path / "uploads" / "old.md").exists()
    assert services.jobs.queue.sent[-1].params == {"delete": ["uploads/old.md"]}
    assert api.delete("/v1/documents/uploads/none.md").status_code == 404
    assert api.delete("/v1/documents/..%2F..%2Fetc%2Fpasswd").status_code in (400, 404)


def test_a_queue_that_is_down_is_503_and_the_failed_job_can_be_retried(world):
    services = world[0]
    services.jobs.queue.failure = ServiceError("The job queue cannot be reached: start it.")
    api = client(services, local_user=True)
    response = api.post("/v1/documents/reindex")
    assert response.status_code == 503 and "start it" in response.json()["error"]["message"]
    [failed] = api.get("/v1/jobs").json()["jobs"]
    assert failed["state"] == "failed"
    services.jobs.queue.failure = None
    again = api.post(f"/v1/jobs/{failed['id']}/retry")
    assert again.status_code == 202 and again.json()["attempt"] == 2
    assert api.post(f"/v1/jobs/{again.json()['id']}/retry").status_code == 400
    assert api.get("/v1/jobs/nope").status_code == 404


def test_feedback_goes_to_the_queue_and_an_admin_acts_on_it(world):
    services = world[0]
    user, _ = services.keys.issue("user", ["chat", "feedback"])
    api = client(services)
    given = api.post("/v1/feedback", headers=bearer(user), json={
        "rating": -1, "reason": "it said goodbye", "message": "sure, go ahead",
        "reply": "Bye!", "sources": []})
    assert given.status_code == 201, given.text
    item = given.json()
    assert item["intent"] == "goodbye" and item["status"] == "open"
    assert api.get("/v1/feedback", headers=bearer(user)).status_code == 403
    admin = client(services, local_user=True)
    assert [f["id"] for f in admin.get("/v1/feedback").json()["feedback"]] == [item["id"]]
    assert admin.get("/v1/intents").json()["intents"] == ["greet", "affirm"]
    fixed = admin.post(f"/v1/feedback/{item['id']}/intent", json={"intent": "affirm"})
    assert fixed.status_code == 200 and fixed.json()["resolution"] == "intent"
    assert services.feedback.examples.examples == {"affirm": ["sure, go ahead"]}
    assert admin.post(f"/v1/feedback/{item['id']}/gap", json={}).status_code == 400
    assert admin.get("/v1/feedback").json()["feedback"] == []


def test_a_written_answer_is_listed_and_can_be_deleted(world):
    services = world[0]
    api = client(services, local_user=True)
    item = api.post("/v1/feedback", json={"rating": -1, "message": "CEO salary?",
                                          "reply": "Expenses are refunded."}).json()
    curated = api.post(f"/v1/feedback/{item['id']}/answer",
                       json={"answer": "That is confidential."}).json()
    listed = api.get("/v1/curated-answers").json()["answers"]
    assert [a["id"] for a in listed] == [curated["id"]]
    assert api.delete(f"/v1/curated-answers/{curated['id']}").status_code == 200
    assert api.delete(f"/v1/curated-answers/{curated['id']}").status_code == 404


@pytest.mark.parametrize("body", [
    {"rating": 0, "message": "m", "reply": "r"},
    {"rating": -1, "message": "", "reply": "r"},
    {"rating": -1, "message": "m"},
    {"rating": "bad", "message": "m", "reply": "r"},
    {"rating": -1, "message": "m", "reply": "r", "conversation": "a/b"},
])
def test_bad_feedback_is_422(world, body):
    assert client(world[0], local_user=True).post("/v1/feedback", json=body).status_code == 422


def test_sql_and_markup_in_feedback_are_kept_as_text(world):
    api = client(world[0], local_user=True)
    text = "'; DROP TABLE feedback; -- <script>alert(1)</script>"
    item = api.post("/v1/feedback", json={"rating": -1, "reason": text, "message": text,
                                          "reply": text}).json()
    assert api.get("/v1/feedback").json()["feedback"][0]["reason"] == text == item["message"]


def test_bodies_larger_than_allowed_are_413_before_they_are_read(world):
    api = client(world[0], local_user=True)
    response = api.post("/v1/chat", content=b"{" + b" " * (1024 * 1024 + 10) + b"}",
                        headers={"Content-Type": "application/json"})
    assert response.status_code == 413 and response.json()["error"]["type"] == "too_large"
    huge = api.post("/v1/documents", content=b"x",
                    headers={"Content-Type": "multipart/form-data; boundary=x",
                             "Content-Length": str(200 * 1024 * 1024)})
    assert huge.status_code == 413


def test_a_chunked_body_is_cut_off_at_the_limit_and_leaves_nothing(world, tmp_path):
    services = world[0]
    api = client(services, local_user=True)

    def chunks():
        yield (b"--x\r\nContent-Disposition: form-data; name=\"files\"; "
               b"filename=\"huge.txt\"\r\nContent-Type: text/plain\r\n\r\n")
        for _ in range(200):  # 200 MB if it were all read
            yield b"x" * (1024 * 1024)
        yield b"\r\n--x--\r\n"

    response = api.post("/v1/documents", content=chunks(),
                        headers={"Content-Type": "multipart/form-data; boundary=x"})
    assert response.status_code == 413 and response.json()["error"]["type"] == "too_large"
    assert not list(tmp_path.glob("uploads/*")) and services.jobs.queue.sent == []
    chat = api.post("/v1/chat", content=(b" " * 65536 for _ in range(40)),
                    headers={"Content-Type": "application/json"})
    assert chat.status_code == 413


def test_metrics_need_the_token_and_time_routes_by_their_pattern(world):
    from prometheus_client.parser import text_string_to_metric_families

    from bilingual_assistant.adapters.prometheus import PrometheusRecorder

    services, _, rasa = world
    services.metrics, services.metrics_token = PrometheusRecorder("api"), "t0ken"
    api = client(services, local_user=True)
    assert api.post("/v1/chat", json={"message": "hi"}).status_code == 200
    rasa.failure = RuntimeError("internals")
    assert api.post("/v1/chat", json={"message": "hi"}).status_code == 500
    assert api.get("/v1/conversations/abc").status_code in (200, 404)
    assert api.get("/metrics").status_code == 401  # the test client is not loopback
    assert api.get("/metrics", headers=bearer("wrong")).status_code == 401
    response = api.get("/metrics", headers=bearer("t0ken"))
    assert response.status_code == 200
    found = {(s.name, tuple(sorted(s.labels.items()))): s.value
             for family in text_string_to_metric_families(response.text)
             for s in family.samples}
    chat = (("channel", "api"), ("method", "POST"), ("route", "/v1/chat"))
    assert found[("assistant_http_request_seconds_count", chat + (("status", "2xx"),))] == 1
    assert found[("assistant_http_request_seconds_count", chat + (("status", "5xx"),))] == 1
    assert found[("assistant_errors_total", (("type", "RuntimeError"), ("where", "api")))] == 1
    routes = {dict(labels)["route"] for name, labels in found
              if name == "assistant_http_request_seconds_count"}
    assert "/v1/conversations/{conversation}" in routes  # the pattern, not the path


def test_an_answer_written_from_a_restricted_reply_is_served_only_to_its_groups(world, tmp_path):
    """A reviewer's answer to a reply that cited hr's document takes the document's
    groups (issue #27 item 6); `groups` overrides; cited documents that no one
    group may read all of need the reviewer to say who."""
    services, store, _ = world
    for name, groups in (("pay.md", "[hr, finance]"), ("bonus.md", "[hr]"),
                         ("it.md", "[it]")):
        (tmp_path / name).write_text(f"# {name}\n\nText of {name}.\n", encoding="utf-8")
        (tmp_path / f"{name}.access.yml").write_text(f"groups: {groups}\n")
    ingest(tmp_path, store, HashingEmbedder())
    api = client(services, local_user=True)

    def rated(*sources):
        return api.post("/v1/feedback", json={
            "rating": -1, "message": "When are salaries paid?", "reply": "Not sure.",
            "sources": [{"number": n, "title": s, "source": s}
                        for n, s in enumerate(sources, start=1)]}).json()["id"]

    written = api.post(f"/v1/feedback/{rated('pay.md', 'bonus.md', 'vpn.md')}/answer",
                       json={"answer": "On the 25th."})
    assert written.status_code == 200 and written.json()["groups"] == ["hr"]
    public = api.post(f"/v1/feedback/{rated('vpn.md')}/answer", json={"answer": "Ask IT."})
    assert public.json()["groups"] == []
    disjoint = api.post(f"/v1/feedback/{rated('pay.md', 'it.md')}/answer",
                        json={"answer": "Both."})
    assert disjoint.status_code == 400 and "name the groups" in disjoint.json()["error"][
        "message"]
    named = api.post(f"/v1/feedback/{rated('pay.md', 'it.md')}/answer",
                     json={"answer": "Both.", "groups": ["managers"]})
    assert named.json()["groups"] == ["managers"]
    added = api.post("/v1/curated-answers", json={"question": "Pay day?", "answer": "25th",
                                                   "groups": ["hr"]})
    assert added.status_code == 201 and added.json()["groups"] == ["hr"]
    assert api.post("/v1/curated-answers", json={"question": "x?", "answer": "y",
                                                  "groups": ["../etc"]}).status_code == 400
