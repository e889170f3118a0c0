"""Documents visible only to the people allowed (issue #27 item 6), through the API:
an upload names its groups; the list, a document, deletion and hit testing then
answer each caller as their groups allow (an administrator sees everything), and
a document they may not read is 404, as one that does not exist."""

import asyncio

import pytest
from fastapi.testclient import TestClient

from apps.api.app import create_app
from apps.api.services import SignIn
from bilingual_assistant.access.oidc import OidcClient, OidcConfig
from bilingual_assistant.access.principal import Principal
from bilingual_assistant.access.sessions import Sessions
from bilingual_assistant.adapters.oidc_http import OidcHttp
from bilingual_assistant.knowledge.ingest import ingest
from tests.apps.api.test_app import bearer, client, world  # noqa: F401
from tests.apps.api.test_sign_in import PUBLIC, sign_in
from tests.fakes.in_memory import InMemorySessionStore, RecordingQueue

SAME_SITE = {"Origin": PUBLIC}
PAY = "# Pay bands\n\nSalary bands for payroll are reviewed every March.\n"
QUESTION = "salary bands payroll March"


class WatchingQueue(RecordingQueue):
    """Records, at each job's queueing, which access files the uploads folder holds."""

    def __init__(self, folder) -> None:
        super().__init__()
        self.folder = folder
        self.access_files = []

    def enqueue(self, job):
        self.access_files.append(sorted(p.name for p in self.folder.glob("*.access.yml")))
        super().enqueue(job)


@pytest.fixture
def office(world, provider, tmp_path):  # noqa: F811
    """The API with sign-in, and a way to sign a person in with their own browser."""
    services, store, _ = world
    services.jobs.queue = WatchingQueue(tmp_path / "uploads")
    oidc = OidcClient(OidcConfig(provider.issuer, "assistant", "s3cret",
                                 f"{PUBLIC}/v1/auth/callback"), OidcHttp())
    services.sign_in = SignIn(oidc, Sessions(InMemorySessionStore()), PUBLIC)
    app = create_app(services)

    def person(sub, groups, roles=("editor",)):
        provider.user.update(sub=sub, email=f"{sub}@example.com", name=sub,
                             roles=list(roles), groups=groups)
        browser = TestClient(app, base_url=PUBLIC, raise_server_exceptions=False)
        done = sign_in(browser)
        assert done.status_code == 302, done.text
        return browser

    def index():
        """What the job worker does with the queued job: indexes the folder."""
        ingest(tmp_path, store, services.hit_tests.search.embedder)

    return services, person, index


def sources(response):
    return {hit["source"] for result in response.json()["results"] for hit in result["hits"]}


def test_an_hr_document_is_for_hr_and_administrators_only(office, tmp_path):
    services, person, index = office
    ann = person("ann", ["hr", "Everyone"])
    bob = person("bob", ["finance"])
    admin_key, _ = services.keys.issue("ops", ["admin"])
    admin = TestClient(ann.app, base_url=PUBLIC, raise_server_exceptions=False,
                       headers=bearer(admin_key))
    assert ann.get("/v1/me").json()["groups"] == ["Everyone", "hr"]
    assert bob.get("/v1/me").json()["groups"] == ["finance"]

    uploaded = ann.post("/v1/documents", headers=SAME_SITE, data={"groups": "hr"},
                        files=[("files", ("pay.md", PAY.encode(), "text/markdown"))])
    assert uploaded.status_code == 202, uploaded.text
    assert uploaded.json()["groups"] == ["hr"]
    # Named before the job was queued (and before the document was in place).
    assert services.jobs.queue.access_files == [["pay.md.access.yml"]]
    index()

    def listed(browser):
        return {d["source"]: d["groups"]
                for d in browser.get("/v1/documents").json()["documents"]}

    assert listed(ann) == {"uploads/pay.md": ["hr"], "vpn.md": []}
    assert listed(admin) == {"uploads/pay.md": ["hr"], "vpn.md": []}
    assert listed(bob) == {"vpn.md": []}

    assert ann.get("/v1/documents/uploads/pay.md").text == PAY
    assert admin.get("/v1/documents/uploads/pay.md").status_code == 200
    hidden, missing = (bob.get(f"/v1/documents/uploads/{name}") for name in ("pay.md", "no.md"))
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json()["error"]["message"].replace("pay", "no") == \
        missing.json()["error"]["message"]  # the same answer: existence is not revealed

    question = {"questions": [QUESTION], "mode": "bm25"}
    anns = ann.post("/v1/hit-tests", headers=SAME_SITE, json=question)
    assert "uploads/pay.md" in sources(anns)
    bobs = bob.post("/v1/hit-tests", headers=SAME_SITE, json=question)
    assert "uploads/pay.md" not in sources(bobs)
    assert "uploads/pay.md" in sources(admin.post("/v1/hit-tests", json=question))
    hybrid = bob.post("/v1/hit-tests", headers=SAME_SITE, json={"questions": [QUESTION]})
    assert "uploads/pay.md" not in sources(hybrid)

    # A run shows what its tester found: it is theirs (and an administrator's).
    assert [r["id"] for r in bob.get("/v1/hit-tests").json()["runs"]] == [
        hybrid.json()["id"], bobs.json()["id"]]
    assert bob.get(f"/v1/hit-tests/{anns.json()['id']}").status_code == 404
    assert ann.get(f"/v1/hit-tests/{anns.json()['id']}").json()["results"][0]["hits"]
    assert len(admin.get("/v1/hit-tests").json()["runs"]) == 4
    assert admin.get(f"/v1/hit-tests/{anns.json()['id']}").status_code == 200

    # Bob can neither replace it, nor delete it, nor give a document to hr.
    replaced = bob.post("/v1/documents", headers=SAME_SITE,
                        files=[("files", ("pay.md", b"# mine", "text/markdown"))])
    assert replaced.status_code == 403 and "rename" in replaced.json()["error"]["message"]
    assert bob.delete("/v1/documents/uploads/pay.md", headers=SAME_SITE).status_code == 404
    given = bob.post("/v1/documents", headers=SAME_SITE, data={"groups": "finance,hr"},
                     files=[("files", ("bobs.md", b"# bob's", "text/markdown"))])
    assert given.status_code == 403 and "'hr'" in given.json()["error"]["message"]
    assert (tmp_path / "uploads" / "pay.md").read_text("utf-8") == PAY
    assert not (tmp_path / "uploads" / "bobs.md").exists()
    assert len(services.jobs.queue.sent) == 1

    deleted = ann.delete("/v1/documents/uploads/pay.md", headers=SAME_SITE)
    assert deleted.status_code == 202
    assert list((tmp_path / "uploads").iterdir()) == []  # its access file went with it


def test_api_keys_issued_for_groups_see_their_groups_documents(world, tmp_path):  # noqa: F811
    services, store, _ = world
    api = client(services, local_user=True)  # the local administrator issues the keys
    hr = api.post("/v1/api-keys", json={"name": "hr bot", "scopes": ["knowledge:read", "chat"],
                                        "groups": ["hr"]}).json()
    other = api.post("/v1/api-keys", json={"name": "other", "scopes": ["knowledge:read"]})
    assert hr["groups"] == ["hr"] and other.json()["groups"] == []
    assert [k["groups"] for k in api.get("/v1/api-keys").json()["keys"]] in (
        [["hr"], []], [[], ["hr"]])
    (tmp_path / "payroll").mkdir()
    (tmp_path / "payroll" / ".access.yml").write_text("groups: [hr]\n", encoding="utf-8")
    (tmp_path / "payroll" / "pay.md").write_text(PAY, encoding="utf-8")
    ingest(tmp_path, store, services.hit_tests.search.embedder)

    keyed = client(services)
    hrs, others = bearer(hr["key"]), bearer(other.json()["key"])
    assert keyed.get("/v1/me", headers=hrs).json()["groups"] == ["hr"]
    assert [d["source"] for d in keyed.get("/v1/documents", headers=hrs).json()[
        "documents"]] == ["payroll/pay.md", "vpn.md"]
    assert [d["source"] for d in keyed.get("/v1/documents", headers=others).json()[
        "documents"]] == ["vpn.md"]
    assert keyed.get("/v1/documents/payroll/pay.md", headers=hrs).status_code == 200
    assert keyed.get("/v1/documents/payroll/pay.md", headers=others).status_code == 404
    question = {"questions": [QUESTION], "mode": "bm25"}
    assert "payroll/pay.md" in sources(keyed.post("/v1/hit-tests", headers=hrs, json=question))
    assert "payroll/pay.md" not in sources(
        keyed.post("/v1/hit-tests", headers=others, json=question))


@pytest.mark.parametrize("groups", [["hr", "not a group"], ["x" * 129]])
def test_a_key_request_with_a_bad_group_is_422(world, groups):  # noqa: F811
    services = world[0]
    response = client(services, local_user=True).post(
        "/v1/api-keys", json={"name": "x", "scopes": ["chat"], "groups": groups})
    assert response.status_code == 422
    assert response.json()["error"]["problems"][0]["field"].endswith("groups")
    assert services.keys.list() == []


def access_file(tmp_path, name):
    path = tmp_path / "uploads" / f"{name}.access.yml"
    return path.read_text("utf-8") if path.exists() else None


def test_an_uploads_groups_are_kept_replaced_or_removed(world, tmp_path):  # noqa: F811
    """Absent: a replaced upload keeps its groups (a new one has none of its own);
    present: they are replaced; present and empty: removed, the folder decides."""
    api = client(world[0], local_user=True)

    def upload(text, **form):
        response = api.post("/v1/documents", data=form,
                            files=[("files", ("doc.md", text, "text/markdown"))])
        assert response.status_code == 202, response.text
        return response.json()["groups"]

    assert upload(b"# one") is None and access_file(tmp_path, "doc.md") is None
    assert upload(b"# two", groups="hr, finance") == ["finance", "hr"]
    assert access_file(tmp_path, "doc.md") == "groups:\n- finance\n- hr\n"
    assert upload(b"# three") is None
    assert access_file(tmp_path, "doc.md") == "groups:\n- finance\n- hr\n"
    assert upload(b"# four", groups="board") == ["board"]
    assert access_file(tmp_path, "doc.md") == "groups:\n- board\n"
    assert upload(b"# five", groups="") == []
    assert access_file(tmp_path, "doc.md") is None
    assert (tmp_path / "uploads" / "doc.md").read_bytes() == b"# five"


def test_a_document_is_never_in_place_before_its_groups_are(world, tmp_path, monkeypatch):  # noqa: F811
    """Neither a new upload nor one replacing an older one is readable, even for a
    moment, under other groups than those named."""
    import apps.api.routes.documents as documents

    seen = []
    real = documents.write_readers

    def watch(path, groups):
        seen.append((path.name, path.exists()))
        return real(path, groups)

    monkeypatch.setattr(documents, "write_readers", watch)
    api = client(world[0], local_user=True)
    for text in (b"# first", b"# second"):
        assert api.post("/v1/documents", data={"groups": "hr"},
                        files=[("files", ("pay.md", text, "text/markdown"))]
                        ).status_code == 202
    assert seen == [("pay.md", False), ("pay.md", False)]
    assert (tmp_path / "uploads" / "pay.md").read_bytes() == b"# second"


@pytest.mark.parametrize("groups, problem", [
    ("hr,<b>", "not a group name"),
    (",".join(f"g{n}" for n in range(51)), "at most 50"),
])
def test_bad_groups_on_an_upload_are_400_and_leave_nothing(world, tmp_path, groups,  # noqa: F811
                                                          problem):
    services = world[0]
    response = client(services, local_user=True).post(
        "/v1/documents", data={"groups": groups},
        files=[("files", ("doc.md", b"# doc", "text/markdown"))])
    assert response.status_code == 400 and problem in response.json()["error"]["message"]
    assert not (tmp_path / "uploads").exists() and services.jobs.queue.sent == []


def test_an_access_file_is_not_a_document_to_read_or_delete(world, tmp_path):  # noqa: F811
    services = world[0]
    writer, _ = services.keys.issue("writer", ["knowledge:write", "knowledge:read"])
    api = client(services)
    (tmp_path / "uploads").mkdir()
    (tmp_path / "uploads" / "pay.md").write_text(PAY, encoding="utf-8")
    (tmp_path / "uploads" / "pay.md.access.yml").write_text("groups: [hr]\n", "utf-8")
    (tmp_path / "uploads" / ".access.yml").write_text("groups: []\n", "utf-8")
    for source in ("uploads/pay.md.access.yml", "uploads/.access.yml", "uploads/pay.md"):
        assert api.get(f"/v1/documents/{source}", headers=bearer(writer)).status_code == 404
        assert api.delete(f"/v1/documents/{source}",
                          headers=bearer(writer)).status_code == 404, source
    assert sorted(p.name for p in (tmp_path / "uploads").iterdir()) == [
        ".access.yml", "pay.md", "pay.md.access.yml"]


def test_an_unreadable_access_file_hides_the_document_from_all_but_administrators(
        world, tmp_path):  # noqa: F811
    services = world[0]
    (tmp_path / "vpn.md.access.yml").write_text("groups: {broken", encoding="utf-8")
    reader, _ = services.keys.issue("reader", ["chat"])
    api = client(services)
    assert api.get("/v1/documents/vpn.md", headers=bearer(reader)).status_code == 404
    assert client(services, local_user=True).get("/v1/documents/vpn.md").status_code == 200


def test_an_administrator_deleting_a_folder_document_removes_its_access_file(
        world, tmp_path):  # noqa: F811
    (tmp_path / "vpn.md.access.yml").write_text("groups: [it]\n", encoding="utf-8")
    api = client(world[0], local_user=True)
    assert api.delete("/v1/documents/vpn.md?folder=true").status_code == 202
    assert not (tmp_path / "vpn.md").exists()
    assert not (tmp_path / "vpn.md.access.yml").exists()


def test_the_admin_page_uploads_with_groups_through_the_same_operation(world, tmp_path):  # noqa: F811
    services = world[0]
    ops = create_app(services).state.operations
    ann = Principal("oidc:ann", "Ann", frozenset({"editor"}), frozenset(), "session",
                    groups=frozenset({"hr"}))

    def reader_of(data):
        chunks = [data, b""]

        async def read(size):
            return chunks.pop(0)
        return read

    saved, job = asyncio.run(ops.upload(ann, [("pay.md", reader_of(PAY.encode()))], ["hr"]))
    assert saved == ["uploads/pay.md"] and access_file(tmp_path, "pay.md") == "groups:\n- hr\n"
    with pytest.raises(Exception, match="not in the group 'board'"):
        asyncio.run(ops.upload(ann, [("b.md", reader_of(b"# b"))], ["board"]))
