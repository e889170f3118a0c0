"""The web pages' HTTP side over in-memory services: who may open which page, and
how replies, sources and jobs are turned into what the page shows (escaped). The
pages in a real browser: tests/integration/test_web_ui.py."""

import pytest
from fastapi.testclient import TestClient

from apps.api.app import create_app
from apps.api.deps import COOKIE
from apps.api.routes.chat import ChatMessage, Source
from apps.api.services import SignIn
from apps.api.ui import job_html, mount_ui, render_reply
from bilingual_assistant.access.oidc import OidcClient, OidcConfig
from bilingual_assistant.access.principal import Principal
from bilingual_assistant.access.sessions import Sessions
from bilingual_assistant.adapters.oidc_http import OidcHttp
from bilingual_assistant.jobs.models import Job
from tests.apps.api.test_app import world  # noqa: F401 - the same in-memory services
from tests.fakes.in_memory import InMemorySessionStore

PUBLIC = "http://127.0.0.1:8000"


def test_a_reply_is_escaped_and_its_sources_are_numbered_links():
    shown = render_reply(ChatMessage(
        text="Use <script>alert(1)</script> & **Secure Connect**",
        sources=[Source(number=1, title="VPN [guide]", source="en/it vpn.md"),
                 Source(number=2, title="", source="zh/年假.md")]))
    assert "<script>" not in shown and "&lt;script&gt;alert(1)&lt;/script&gt; &amp;" in shown
    assert "**Secure Connect**" in shown  # Markdown stays Markdown
    assert "1. [VPN \\[guide\\]](/v1/documents/en/it%20vpn.md)" in shown
    assert "2. [zh/年假.md](/v1/documents/zh/%E5%B9%B4%E5%81%87.md)" in shown


def test_buttons_are_listed_as_text():
    shown = render_reply(ChatMessage(text="Anything else?",
                                     buttons=[{"title": "<b>Yes</b>", "payload": "/affirm"}]))
    assert shown.endswith("_&lt;b&gt;Yes&lt;/b&gt;_")


def test_a_job_shows_its_progress_and_its_error_escaped():
    job = Job(id="j1", kind="ingest", params={}, state="failed", progress=0.5,
              message="2 of 4", error="<img src=x onerror=alert(1)> is not a PDF",
              created_at=0.0, created_by="local")
    shown = job_html(job)
    assert "<progress max='100' value='50'>" in shown and "data-state='failed'" in shown
    assert "<img" not in shown and "&lt;img src=x onerror=alert(1)&gt;" in shown
    assert "No job running" in job_html(None)


def signed_in(services, roles):
    store = InMemorySessionStore()
    oidc = OidcClient(OidcConfig("http://127.0.0.1:1", "assistant", "s3cret",
                                 f"{PUBLIC}/v1/auth/callback"), OidcHttp())
    services.sign_in = SignIn(oidc, Sessions(store), PUBLIC)
    app = TestClient(mount_ui(create_app(services)), base_url=PUBLIC,
                     raise_server_exceptions=False)
    token = services.sign_in.sessions.create(Principal(
        subject="oidc:u-1", name="Ann", roles=frozenset(roles), scopes=frozenset(),
        via="session"))
    return app, token


def test_pages_send_a_browser_without_a_session_to_sign_in(world):  # noqa: F811
    app, _ = signed_in(world[0], ["user"])
    for page in ("/chat/", "/chat", "/admin/"):
        response = app.get(page, follow_redirects=False)
        assert response.status_code == 302, page
        assert response.headers["location"] == f"/v1/auth/login?next={page.rstrip('/')}/"
    assert app.get("/chat/config").status_code == 401
    assert app.get("/", follow_redirects=False).headers["location"] == "/chat/"


def test_a_user_gets_the_chat_page_and_403_on_the_admin_page(world):  # noqa: F811
    app, token = signed_in(world[0], ["user"])
    app.cookies.set(COOKIE, token)
    assert app.get("/chat/").status_code == 200
    assert app.get("/chat/config").status_code == 200
    admin = app.get("/admin/")
    assert admin.status_code == 403 and "administrators" in admin.text
    assert app.get("/admin/config").status_code == 401  # Gradio's own routes too


def test_an_administrator_gets_both_pages(world):  # noqa: F811
    app, token = signed_in(world[0], ["admin"])
    app.cookies.set(COOKIE, token)
    assert app.get("/admin/").status_code == 200
    assert app.get("/admin/config").status_code == 200


def test_local_mode_opens_the_pages_without_sign_in(world):  # noqa: F811
    services = world[0]
    services.local_user = True
    app = TestClient(mount_ui(create_app(services)), base_url="http://127.0.0.1:8000",
                     raise_server_exceptions=False)
    assert app.get("/chat/").status_code == 200 and app.get("/admin/").status_code == 200


def test_without_sign_in_or_local_mode_the_pages_say_what_to_configure(world):  # noqa: F811
    app = TestClient(mount_ui(create_app(world[0])), raise_server_exceptions=False)
    response = app.get("/chat/")
    assert response.status_code == 401 and "OIDC_ISSUER" in response.text


@pytest.mark.parametrize("page", ["/chat/", "/admin/"])
def test_the_pages_load_nothing_from_other_sites(world, page):  # noqa: F811
    services = world[0]
    services.local_user = True
    app = TestClient(mount_ui(create_app(services)), base_url="http://127.0.0.1:8000",
                     raise_server_exceptions=False)
    html = app.get(page).text
    assert "fonts.googleapis" not in html and "cdn." not in html
