"""The web UI, mounted in the API: the chat page at `/chat/` and the admin page at
`/admin/` (Gradio), doing what the routes do through the same `Operations`.

Text from a reply, a message or a document never becomes markup: it is escaped here
before Gradio renders Markdown, and Gradio's own sanitiser runs after that.
"""

from __future__ import annotations

import datetime as dt
import html
import logging
import uuid
from contextlib import ExitStack
from pathlib import Path
from typing import Any, BinaryIO, Callable, Dict, List, Optional, Text, Tuple
from urllib.parse import quote

import anyio
import gradio as gr
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware

from apps.api import errors
from apps.api.operations import Operations
from apps.api.routes.chat import ChatMessage
from bilingual_assistant.access.principal import Principal
from bilingual_assistant.errors import AssistantError, AuthenticationError
from bilingual_assistant.jobs.models import Job
from bilingual_assistant.knowledge.access import check_groups

logger = logging.getLogger("apps.api.ui")

CHAT, ADMIN = "/chat", "/admin"
JOB_POLL_SECONDS = 1.0
# System fonts: the pages fetch nothing from other sites (Gradio's default theme
# would load its fonts from Google's servers).
THEME = gr.themes.Soft(font=["system-ui", "sans-serif"],
                       font_mono=["ui-monospace", "monospace"])
CSS = """
.job progress { width: 100%; height: 1.1em; }
.job .what { font-size: 0.9em; }
footer { display: none !important; }
"""
# Ends the session (a POST from this page's origin) and says so.
SIGN_OUT = """() => fetch('/v1/auth/logout', {method: 'POST', credentials: 'same-origin'})
  .then(() => { document.body.textContent = 'Signed out. Open /chat/ to sign in again.'; })"""


def _escape(text: Text) -> Text:
    """Text shown as Markdown with no markup of its own (`<`, `>` and `&` escaped)."""
    return html.escape(text, quote=False)


def _link_text(text: Text) -> Text:
    return _escape(text).replace("[", "\\[").replace("]", "\\]")


def render_reply(message: ChatMessage) -> Text:
    """One reply as the chat shows it: the text, then its numbered sources as links
    to the documents."""
    parts = [_escape(message.text)] if message.text else []
    if message.sources:
        links = [f"{s.number}. [{_link_text(s.title or s.source)}]"
                 f"(/v1/documents/{quote(s.source)})" for s in message.sources]
        parts.append("**Sources**\n\n" + "\n".join(links))
    if message.buttons:
        parts.append("_" + " · ".join(_escape(str(b.get("title", ""))) for b in message.buttons)
                     + "_")
    return "\n\n".join(parts)


def job_html(job: Optional[Job]) -> Text:
    """A job's progress bar and state (every text escaped)."""
    if job is None:
        return "<div class='job'><span class='what'>No job running.</span></div>"
    percent = int(round(job.progress * 100))
    detail = job.error if job.state == "failed" and job.error else job.message
    return (f"<div class='job' data-job='{html.escape(job.id)}' "
            f"data-state='{html.escape(job.state)}'>"
            f"<progress max='100' value='{percent}'></progress>"
            f"<span class='what'>{html.escape(job.kind)} · {html.escape(job.state)} · "
            f"{percent}% · {html.escape(detail or '')}</span></div>")


def _when(seconds: float) -> Text:
    return dt.datetime.fromtimestamp(seconds).strftime("%Y-%m-%d %H:%M")


def _clip(text: Text, size: int = 160) -> Text:
    text = " ".join(text.split())
    return text if len(text) <= size else text[: size - 1] + "…"


class WebUi:
    """The two pages over `Operations`; every handler checks who is asking."""

    def __init__(self, ops: Operations) -> None:
        self.ops = ops
        self.services = ops.services

    # --- who is asking ----------------------------------------------------------------

    def principal(self, request: Optional[gr.Request], scope: Text) -> Principal:
        raw = getattr(request, "request", None) if request is not None else None
        if raw is None:
            raise AuthenticationError("Reload the page and sign in again.")
        principal = self.ops.identify(raw)
        principal.require(scope)
        return principal

    @staticmethod
    def shown(error: Exception) -> gr.Error:
        """An error as the page shows it (the message says what to do)."""
        if isinstance(error, AssistantError):
            status, _ = errors.status_of(error)
            if status < 500 or status == 503:
                return gr.Error(str(error))
        logger.exception("ui.failed")
        return gr.Error("Something went wrong; the API's log has the details.")

    async def blocking(self, function: Callable[..., Any], *args: Any) -> Any:
        return await anyio.to_thread.run_sync(function, *args)

    # --- the chat page ----------------------------------------------------------------

    def chat_page(self) -> gr.Blocks:
        with gr.Blocks(title="Assistant · chat", delete_cache=(3600, 3600)) as page:
            with gr.Row():
                gr.Markdown("## Assistant · 助手")
                sign_out = gr.Button("Sign out", size="sm", visible=False, scale=0,
                                     elem_id="sign-out")
            who = gr.Markdown(elem_id="who")
            conversation = gr.State("")
            turns = gr.State([])  # per chat message: what a rating of it sends
            chat = gr.Chatbot(label="Assistant", height=520, elem_id="chat",
                              sanitize_html=True, allow_tags=False,
                              buttons=["copy", "copy_all"],
                              group_consecutive_messages=False,
                              placeholder="Ask about the team's documents, the weather, "
                                          "or anything else · 问文档、天气或其他问题")
            with gr.Row():
                box = gr.Textbox(show_label=False, placeholder="Message · 消息",
                                 scale=8, elem_id="message", max_length=4000)
                send = gr.Button("Send", variant="primary", scale=1, elem_id="send")
            reason = gr.Textbox(label="Reason for a thumbs-down (optional, sent with it)",
                                max_length=1000, elem_id="reason")
            notice = gr.Markdown(elem_id="notice")
            with gr.Accordion("Your conversations", open=False):
                past = gr.Dropdown(label="Conversation", choices=[], elem_id="past")
                with gr.Row():
                    open_past = gr.Button("Open", elem_id="open-past")
                    fresh = gr.Button("New conversation", elem_id="new-conversation")

            async def start(request: gr.Request) -> Tuple[Any, ...]:
                principal = self._or_raise(request, "chat")
                mode = (" · **local single-user mode** (no sign-in configured; only this "
                        "computer can reach it)" if principal.via == "local" else "")
                admin = " · [Admin](/admin/)" if principal.allows("admin") else ""
                choices = await self._conversations(principal)
                return (f"Signed in as **{_link_text(principal.name)}**{mode}{admin}",
                        uuid.uuid4().hex[:16], [], [], gr.update(choices=choices, value=None),
                        gr.update(visible=principal.via == "session"))

            page.load(start, None, [who, conversation, chat, turns, past, sign_out])
            sign_out.click(None, js=SIGN_OUT)

            async def ask(message: Text, history: List[Dict[Text, Any]],
                          aligned: List[Any], conversation_id: Text,
                          request: gr.Request) -> Tuple[Any, ...]:
                principal = self._or_raise(request, "chat")
                message = (message or "").strip()
                if not message:
                    return history, aligned, "", ""
                try:
                    response = await self.ops.converse(principal, conversation_id, message)
                except Exception as error:  # noqa: BLE001 - shown to the person
                    raise self.shown(error) from None
                history = history + [{"role": "user", "content": _escape(message)}]
                aligned = aligned + [None]
                for reply in response.messages:
                    history.append({"role": "assistant", "content": render_reply(reply)})
                    aligned.append({"message": message, "reply": reply.text,
                                    "sources": [s.model_dump() for s in reply.sources]})
                return history, aligned, "", ""

            for trigger in (box.submit, send.click):
                trigger(ask, [box, chat, turns, conversation], [chat, turns, box, notice])

            async def rate(aligned: List[Any], conversation_id: Text, why: Text,
                           data: gr.LikeData, request: gr.Request) -> Tuple[Text, Text]:
                principal = self._or_raise(request, "feedback")
                index = data.index if isinstance(data.index, int) else data.index[0]
                turn = aligned[index] if 0 <= index < len(aligned) else None
                if not turn or data.liked is None:
                    return "", why
                rating = 1 if data.liked is True or data.liked == "Like" else -1
                try:
                    await self.ops.rate(principal, conversation_id, rating,
                                        (why or "").strip()[:1000], turn["message"],
                                        turn["reply"] or "(no text)", turn["sources"])
                except Exception as error:  # noqa: BLE001 - shown to the person
                    raise self.shown(error) from None
                return ("Thanks: sent to the review queue." if rating < 0
                        else "Thanks for the feedback."), ""

            chat.like(rate, [turns, conversation, reason], [notice, reason])

            async def reopen(choice: Optional[Text], request: gr.Request) -> Tuple[Any, ...]:
                principal = self._or_raise(request, "chat")
                if not choice:
                    raise gr.Error("Choose a conversation first.")
                history: List[Dict[Text, Any]] = []
                aligned: List[Optional[Dict[Text, Any]]] = []
                for turn in await self.blocking(self.ops.chat_history().turns,
                                                principal.subject, choice, 200):
                    history.append({"role": "user", "content": _escape(turn.message)})
                    aligned.append(None)
                    for reply in turn.replies:
                        shown = ChatMessage(**reply)
                        history.append({"role": "assistant",
                                        "content": render_reply(shown)})
                        aligned.append({"message": turn.message, "reply": shown.text,
                                        "sources": reply.get("sources", [])})
                return choice, history, aligned

            open_past.click(reopen, [past], [conversation, chat, turns])

            async def restart(request: gr.Request) -> Tuple[Any, ...]:
                principal = self._or_raise(request, "chat")
                return (uuid.uuid4().hex[:16], [], [],
                        gr.update(choices=await self._conversations(principal), value=None))

            fresh.click(restart, None, [conversation, chat, turns, past])
        return page

    async def _conversations(self, principal: Principal) -> List[Tuple[Text, Text]]:
        if self.services.history is None:
            return []
        found = await self.blocking(self.services.history.conversations,
                                    principal.subject, 50)
        return [(f"{_when(c.last_at)} · {_clip(c.first_message, 60)}", c.conversation)
                for c in found]

    def _or_raise(self, request: Optional[gr.Request], scope: Text) -> Principal:
        try:
            return self.principal(request, scope)
        except AssistantError as error:
            raise self.shown(error) from None

    # --- the admin page ---------------------------------------------------------------

    def admin_page(self) -> gr.Blocks:
        with gr.Blocks(title="Assistant · admin", delete_cache=(3600, 3600)) as page:
            gr.Markdown("## Assistant administration · [Chat](/chat/) · "
                        "[API docs](/v1/docs)")
            watched = gr.State("")
            progress = gr.HTML(job_html(None), elem_id="job")
            timer = gr.Timer(JOB_POLL_SECONDS, active=False)
            with gr.Tabs():
                with gr.Tab("Documents", id="documents"):
                    files = gr.File(label="Documents to index", file_count="multiple",
                                    type="filepath", elem_id="upload")
                    groups = gr.Textbox(
                        label="Only these groups may read them (hr, finance); empty: a "
                              "replaced document keeps its groups, a new one the folder's",
                        max_length=8000, elem_id="upload-groups")
                    upload = gr.Button("Upload and index", variant="primary",
                                       elem_id="upload-button")
                    documents = gr.Dataframe(headers=["Document", "Content hash", "Groups"],
                                             label="Indexed documents", interactive=False,
                                             elem_id="documents")
                    jobs = gr.Dataframe(headers=["Job", "Kind", "State", "Progress",
                                                 "Message", "Error", "Created"],
                                        label="Recent jobs", interactive=False,
                                        elem_id="jobs")
                with gr.Tab("Hit testing", id="hit-testing"):
                    questions = gr.Textbox(label="Questions, one per line", lines=4,
                                           elem_id="hit-questions")
                    with gr.Row():
                        mode = gr.Radio(["hybrid", "dense", "bm25"], value="hybrid",
                                        label="Retrieval")
                        top_k = gr.Slider(1, 20, value=5, step=1, label="Passages")
                    run = gr.Button("Test", variant="primary", elem_id="hit-run")
                    hits = gr.Dataframe(headers=["Question", "Rank", "Score", "Similarity",
                                                 "Document", "Heading", "Passage"],
                                        label="What the assistant would read",
                                        interactive=False, wrap=True, elem_id="hits")
                    runs = gr.Dataframe(headers=["Run", "When", "By", "Mode", "Questions",
                                                 "Found"], label="History",
                                        interactive=False, elem_id="hit-history")
                with gr.Tab("Feedback", id="feedback"):
                    queue = gr.Dataframe(headers=["Id", "When", "Rating", "Reason",
                                                  "Message", "Reply", "Understood as"],
                                         label="Review queue", interactive=False, wrap=True,
                                         elem_id="queue")
                    item = gr.Dropdown(label="Feedback to act on", choices=[],
                                       elem_id="feedback-item")
                    with gr.Row():
                        intent = gr.Dropdown(label="Right intent", choices=[],
                                             elem_id="intent")
                        fix_intent = gr.Button("Make it a training example",
                                               elem_id="fix-intent")
                    with gr.Row():
                        answer = gr.Textbox(label="Right answer", lines=2, max_length=4000,
                                            elem_id="answer")
                        fix_answer = gr.Button("Serve this answer", elem_id="fix-answer")
                    with gr.Row():
                        note = gr.Textbox(label="Note", max_length=1000)
                        gap = gr.Button("Not in the documents (a gap)", elem_id="gap")
                        dismiss = gr.Button("Dismiss", elem_id="dismiss")
                    done = gr.Markdown(elem_id="feedback-done")
                with gr.Tab("Model", id="model"):
                    gr.Markdown("Trains a model on the current data and the reviewed "
                                "examples, tests it beside the served one on the held-out "
                                "messages and test stories, and loads it only if it is not "
                                "worse. Rasa keeps answering meanwhile.")
                    retrain = gr.Button("Retrain and reload", variant="primary",
                                        elem_id="retrain")

            async def overview(request: gr.Request) -> Tuple[Any, ...]:
                self._or_raise(request, "admin")
                return await self._tables()

            tables = [documents, jobs, runs, queue, item, intent]
            page.load(overview, None, tables)

            async def submit_upload(paths: Optional[List[Text]], named: Text,
                                    request: gr.Request) -> Tuple[Any, ...]:
                principal = self._or_raise(request, "knowledge:write")
                try:
                    chosen = check_groups(named, "groups") if (named or "").strip() else None
                    with ExitStack() as files:
                        handles = [files.enter_context(open(p, "rb")) for p in paths or []]
                        _, job = await self.ops.upload(
                            principal, [(Path(h.name).name, _reader(h)) for h in handles],
                            chosen)
                except Exception as error:  # noqa: BLE001 - shown to the person
                    raise self.shown(error) from None
                return job.id, job_html(job), gr.Timer(active=True), None

            upload.click(submit_upload, [files, groups], [watched, progress, timer, files])

            async def start_retrain(request: gr.Request) -> Tuple[Any, ...]:
                principal = self._or_raise(request, "admin")
                job = await self._submit("retrain", principal)
                return job.id, job_html(job), gr.Timer(active=True)

            retrain.click(start_retrain, None, [watched, progress, timer])

            async def poll(job_id: Text, request: gr.Request) -> Tuple[Any, ...]:
                self._or_raise(request, "knowledge:read")
                if not job_id:
                    return (job_html(None), gr.Timer(active=False),
                            *[gr.skip() for _ in tables])
                job = await self.blocking(self.services.jobs.get, job_id)
                if job.state in ("queued", "running"):
                    return (job_html(job), gr.Timer(active=True),
                            *[gr.skip() for _ in tables])
                return (job_html(job), gr.Timer(active=False), *await self._tables())

            timer.tick(poll, [watched], [progress, timer, *tables])

            async def hit_test(text: Text, how: Text, k: float, request: gr.Request
                               ) -> Tuple[Any, ...]:
                principal = self._or_raise(request, "knowledge:read")
                lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
                if not lines:
                    raise gr.Error("Write at least one question.")
                try:
                    result = await self.blocking(self.services.hit_tests.run, lines,
                                                 principal.subject, how, int(k),
                                                 principal.reader)
                except Exception as error:  # noqa: BLE001 - shown to the person
                    raise self.shown(error) from None
                rows = []
                for question in result.results:
                    if not question.hits:
                        rows.append([question.question, "", "", "", "(nothing found)", "", ""])
                    for hit in question.hits:
                        rows.append([question.question, hit.rank, round(hit.score, 4),
                                     "" if hit.similarity is None else round(hit.similarity, 3),
                                     hit.source, hit.heading, _clip(hit.passage, 300)])
                return rows, await self._runs()

            run.click(hit_test, [questions, mode, top_k], [hits, runs])

            def resolver(action: Text) -> Callable[..., Any]:
                async def act(feedback_id: Optional[Text], value: Optional[Text],
                              request: gr.Request) -> Tuple[Any, ...]:
                    principal = self._or_raise(request, "admin")
                    if not feedback_id:
                        raise gr.Error("Choose the feedback to act on.")
                    reviews = self.ops.reviews()
                    call = {"intent": reviews.correct_intent, "answer": self.ops.write_answer,
                            "gap": reviews.mark_gap, "dismiss": reviews.dismiss}[action]
                    try:
                        await self.blocking(call, feedback_id, value or "", principal.subject)
                    except Exception as error:  # noqa: BLE001 - shown to the person
                        raise self.shown(error) from None
                    said = {"intent": f"Written to data/nlu/reviewed.yml as "
                                      f"`{_escape(value or '')}`; learnt at the next retrain.",
                            "answer": "This answer is served from now on for the question "
                                      "and very similar ones.",
                            "gap": "Listed as a gap in the documents.",
                            "dismiss": "Dismissed."}[action]
                    return (said, *await self._tables())
                return act

            fix_intent.click(resolver("intent"), [item, intent], [done, *tables])
            fix_answer.click(resolver("answer"), [item, answer], [done, *tables])
            gap.click(resolver("gap"), [item, note], [done, *tables])
            dismiss.click(resolver("dismiss"), [item, note], [done, *tables])
        return page

    async def _submit(self, kind: Text, principal: Principal) -> Job:
        try:
            return await self.blocking(self.services.jobs.submit, kind, {},
                                       principal.subject)
        except Exception as error:  # noqa: BLE001 - shown to the person
            raise self.shown(error) from None

    async def _runs(self) -> List[List[Any]]:
        return [[r.id[:8], _when(r.created_at), r.subject, r.mode, len(r.results),
                 sum(q.answered for q in r.results)]
                for r in await self.blocking(self.services.hit_tests.history, 20)]

    async def _tables(self) -> Tuple[Any, ...]:
        services = self.services
        try:
            indexed = await self.blocking(services.documents.indexed_documents)
            readers = await self.blocking(services.documents.document_readers)
            recent = await self.blocking(services.jobs.recent, 20)
            runs = await self._runs()
            reviews = self.ops.reviews()
            open_items = await self.blocking(reviews.queue, "open", 200)
            intents = await self.blocking(reviews.examples.intents)
        except Exception as error:  # noqa: BLE001 - shown to the person
            raise self.shown(error) from None
        documents = [[source, digest[:12], ", ".join(readers.get(source, ())) or "everyone"]
                     for source, digest in sorted(indexed.items())]
        jobs = [[j.id[:8], j.kind, j.state, f"{int(j.progress * 100)}%", _clip(j.message, 80),
                 _clip(j.error or "", 120), _when(j.created_at)] for j in recent]
        queue = [[f.id[:8], _when(f.created_at), "👍" if f.rating > 0 else "👎",
                  _clip(f.reason, 120), _clip(f.message, 120), _clip(f.reply, 160),
                  f"{f.intent} ({f.confidence:.2f})" if f.intent and f.confidence is not None
                  else (f.intent or "")] for f in open_items]
        choices = [(f"{f.id[:8]} · {_clip(f.message, 50)}", f.id) for f in open_items]
        return (documents, jobs, runs, queue, gr.update(choices=choices, value=None),
                gr.update(choices=list(intents)))


def _reader(handle: BinaryIO) -> Callable[[int], Any]:
    """An async reader of a file Gradio saved from the browser's upload."""
    async def read(size: int) -> bytes:
        return await anyio.to_thread.run_sync(handle.read, size)
    return read


def mount_ui(app: FastAPI) -> FastAPI:
    """Mounts the chat and admin pages in `app` (made by `create_app`): a browser
    without a session is sent to sign in, a person who is not an administrator gets
    403 on the admin page."""
    ops: Operations = app.state.operations
    web = WebUi(ops)
    signs_in = ops.services.sign_in is not None

    def allowed(scope: Text) -> Callable[[Request], Optional[Text]]:
        def check(request: Request) -> Optional[Text]:
            try:
                principal = ops.identify(request)
            except AssistantError:
                return None
            return principal.subject if principal.allows(scope) else None
        return check

    async def pages(request: Request, call_next: Callable[[Request], Any]) -> Response:
        path = request.url.path
        page = next((p for p in (CHAT, ADMIN) if path == p or path == p + "/"), None)
        if page is not None and request.method == "GET":
            try:
                principal = ops.identify(request)
            except AssistantError:
                if signs_in:
                    return RedirectResponse(f"/v1/auth/login?next={page}/", status_code=302)
                return HTMLResponse(
                    "<p>This assistant's pages need sign-in, which is not configured "
                    "(OIDC_ISSUER), or local mode (API_LOCAL_USER) on 127.0.0.1.</p>",
                    status_code=401)
            if page == ADMIN and not principal.allows("admin"):
                return HTMLResponse("<p>The admin page is for administrators. "
                                    "<a href='/chat/'>Back to the chat</a></p>",
                                    status_code=403)
        response: Response = await call_next(request)
        return response

    # Innermost: the app's own middleware (the local mode's host and origin guard,
    # the security headers, the body limit, the timer) stays in front of the pages.
    app.user_middleware.append(Middleware(BaseHTTPMiddleware, dispatch=pages))

    @app.get("/", include_in_schema=False)
    async def home() -> RedirectResponse:
        return RedirectResponse(f"{CHAT}/", status_code=302)

    limit = ops.services.max_upload_bytes
    for path, blocks, scope in ((CHAT, web.chat_page(), "chat"),
                                (ADMIN, web.admin_page(), "admin")):
        app = gr.mount_gradio_app(app, blocks, path=path, auth_dependency=allowed(scope),
                                  footer_links=[], theme=THEME, css=CSS,
                                  max_file_size=limit, ssr_mode=False, show_error=True,
                                  enable_monitoring=False, pwa=False, mcp_server=False)
    logger.info("ui.mounted", extra={"chat": f"{CHAT}/", "admin": f"{ADMIN}/"})
    return app
