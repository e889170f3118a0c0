"""The web pages in a real headless Chromium (Debian's `chromium`, driven by
Playwright), in front of the real stack: sign in at a local OpenID Connect provider,
ask, see the answer's source and open it, rate it with a reason, then as an
administrator find the rating in the review queue, upload a document, watch its job
finish, and find it by hit testing. Markup in a message or a document is shown as
text and never runs. With SCREENSHOTS_DIR set, the pages are saved there (the
README's pictures)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Dict, Iterator, Text

import pytest
import requests

from tests.fakes.identity_provider import FakeIdentityProvider
from tests.integration.browser import chromium_path
from tests.integration.conftest import (
    PROJECT,
    RASA_TOKEN,
    Processes,
    Servers,
    free_port,
    wait_until_up,
)

pytestmark = pytest.mark.slow

playwright = pytest.importorskip("playwright.sync_api")
SHUTTLE = ("# Office shuttle\n\nThe office shuttle to Riverside station leaves at 08:15 and "
           "17:40 on weekdays.\n\n<script>window.__pwned = 'document'</script>\n"
           "<img src=x onerror=\"window.__pwned = 'image'\">\n")


class Stack:
    """The API (with its pages) and a job worker, sharing a Milvus Lite server and
    a copy of the knowledge folder, signed in through the fake provider."""

    def __init__(self, url: Text, provider: FakeIdentityProvider, knowledge: Path) -> None:
        self.url, self.provider, self.knowledge = url, provider, knowledge


@pytest.fixture(scope="module")
def stack(servers: Servers, work_dir: Path) -> Iterator[Stack]:
    if chromium_path() is None:
        pytest.fail("Debian's chromium is not installed: make browser")
    home = work_dir / "web"
    shutil.rmtree(home, ignore_errors=True)
    knowledge = home / "knowledge"
    shutil.copytree(PROJECT / "knowledge" / "zh", knowledge / "zh")
    provider = FakeIdentityProvider().start()
    provider.user = {"sub": "u-7", "email": "ann@example.com", "name": "Ann Lee",
                     "roles": ["admin"]}
    python = str(servers.actions_python)
    milvus_port, port = free_port(), free_port()
    url = f"http://127.0.0.1:{port}"
    env: Dict[Text, Text] = {
        **os.environ, "PYTHONPATH": str(PROJECT), "KNOWLEDGE_DIR": str(knowledge),
        "MILVUS_URI": f"http://127.0.0.1:{milvus_port}",
        "SERVICES_DB_URL": f"sqlite:///{home / 'api.db'}",
        "JOBS_BROKER_URL": f"sqla+sqlite:///{home / 'broker.db'}", "REDIS_URL": "",
        "API_RASA_URL": servers.rasa_url, "RASA_AUTH_TOKEN": RASA_TOKEN,
        "OIDC_ISSUER": provider.issuer, "OIDC_CLIENT_ID": provider.client_id,
        "OIDC_CLIENT_SECRET": provider.client_secret, "OIDC_ROLES_CLAIM": "roles",
        "API_PUBLIC_URL": url, "GRADIO_TEMP_DIR": str(home / "gradio")}
    processes = Processes(home, PROJECT, grace=20)
    try:
        processes.start("milvus", [str(Path(python).parent / "milvus-lite"), "server",
                                   "--data-dir", str(home / "milvus"), "--host", "127.0.0.1",
                                   "--port", str(milvus_port)], env)
        processes.start("worker", [python, "-m", "apps.worker", "--name", "web-ui"], env)
        api = processes.start("api", [python, "-m", "apps.api", "--port", str(port)], env)
        wait_until_up(f"{url}/v1/health", api, home / "api.log", 180)
        yield Stack(url, provider, knowledge)
    finally:
        processes.stop()
        provider.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with playwright.sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=chromium_path(),
                                          args=["--no-sandbox", "--disable-gpu"])
        yield launched
        launched.close()


def screenshot(page, name: Text) -> None:
    folder = os.environ.get("SCREENSHOTS_DIR")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / name), full_page=True)


def test_sign_in_ask_see_the_source_and_rate_it_then_review_upload_and_hit_test(
        stack, browser, tmp_path):
    expect = playwright.expect
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    elsewhere = []
    page.on("request", lambda r: elsewhere.append(r.url)
            if not r.url.startswith(("http://127.0.0.1", "data:", "blob:")) else None)

    # Signing in: the page sends the browser to the provider and back.
    page.goto(f"{stack.url}/chat/")
    expect(page.locator("#who")).to_contain_text("Signed in as Ann Lee", timeout=60_000)
    assert page.url == f"{stack.url}/chat/"
    cookie = next(c for c in context.cookies() if c["name"] == "assistant_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"

    # A question about the documents: the answer shows its numbered source as a link.
    page.locator("#message textarea").fill("年假有几天?")
    page.locator("#send").click()
    source = page.locator("#chat a[href='/v1/documents/zh/hr-annual-leave.md']")
    expect(source).to_be_visible(timeout=120_000)
    expect(page.locator("#chat")).to_contain_text("Sources")
    opened = context.request.get(f"{stack.url}/v1/documents/zh/hr-annual-leave.md")
    assert opened.status == 200 and opened.headers["content-type"].startswith("text/plain")

    # Markup in a message is shown as text and runs nothing.
    page.locator("#message textarea").fill('<img src=x onerror="window.__pwned=1"> hi')
    page.locator("#send").click()
    expect(page.locator("#chat [data-testid=user]").last).to_contain_text(
        '<img src=x onerror="window.__pwned=1"> hi', timeout=120_000)
    assert page.evaluate("window.__pwned") is None

    # A thumbs-down on the answer, with a reason.
    page.locator("#reason textarea").fill("It should say how many days new staff get")
    page.locator("#chat button[aria-label=Dislike]").first.click()
    expect(page.locator("#notice")).to_contain_text("review queue", timeout=30_000)
    screenshot(page, "chat.png")

    # The administrator finds it in the review queue.
    page.goto(f"{stack.url}/admin/")
    page.get_by_role("tab", name="Feedback").click()
    queue = page.locator("#queue")
    expect(queue).to_contain_text("how many days new staff get", timeout=30_000)
    expect(queue).to_contain_text("年假有几天?")

    # Upload a document and watch its job finish.
    page.get_by_role("tab", name="Documents").click()
    upload = tmp_path / "office-shuttle.md"
    upload.write_text(SHUTTLE, encoding="utf-8")
    page.locator("#upload input[type=file]").set_input_files(str(upload))
    expect(page.locator("#upload")).to_contain_text("office-shuttle.md", timeout=30_000)
    page.locator("#upload-button").click()
    job = page.locator("#job .job[data-state]")
    expect(job).to_be_visible(timeout=30_000)
    expect(job).to_have_attribute("data-state", "succeeded", timeout=180_000)
    assert page.locator("#job progress").get_attribute("value") == "100"
    expect(page.locator("#documents")).to_contain_text("uploads/office-shuttle.md",
                                                       timeout=30_000)
    assert (stack.knowledge / "uploads" / "office-shuttle.md").is_file()

    # Hit testing finds it, and the document's markup is shown as text.
    page.get_by_role("tab", name="Hit testing").click()
    page.locator("#hit-questions textarea").fill(
        "When does the office shuttle leave?\nWhat is the price of bitcoin today?")
    page.locator("#hit-run").click()
    hits = page.locator("#hits")
    expect(hits).to_contain_text("uploads/office-shuttle.md", timeout=60_000)
    expect(hits).to_contain_text("(nothing found)")
    screenshot(page, "admin.png")
    assert page.evaluate("window.__pwned") is None
    assert elsewhere == []  # nothing was fetched from another site
    context.close()


def test_a_person_who_is_not_an_administrator_gets_403_on_the_admin_page(stack, browser):
    stack.provider.user = {"sub": "u-8", "email": "bo@example.com", "name": "Bo",
                           "roles": ["user"]}
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(f"{stack.url}/chat/")
        playwright.expect(page.locator("#who")).to_contain_text("Signed in as Bo",
                                                                timeout=60_000)
        assert page.locator("#who a[href='/admin/']").count() == 0
        response = page.goto(f"{stack.url}/admin/")
        assert response is not None and response.status == 403
        assert context.request.get(f"{stack.url}/v1/feedback").status == 403
    finally:
        context.close()
        stack.provider.user["roles"] = ["admin"]


def test_pages_without_a_session_send_the_browser_to_sign_in(stack):
    for page in ("/chat/", "/admin/", "/chat"):
        response = requests.get(f"{stack.url}{page}", allow_redirects=False, timeout=10)
        assert response.status_code == 302, page
        assert response.headers["location"].startswith("/v1/auth/login?next=")
    # Gradio's own routes need the session too.
    config = requests.get(f"{stack.url}/chat/config", timeout=10)
    assert config.status_code in (401, 403), config.status_code
