"""Locust users of the capacity benchmark (`benchmarks/capacity.py` runs Locust with
this file, headless, in Locust's own environment: `make benchmark-capacity`).

    locust -f benchmarks/locustfile.py --headless --host URL --targets URL1,URL2
        --pacing 10 --turns-file turns.json -u 80 -r 8 RestTurns

Each Locust user is one person: a conversation (a new one every
`--turns-per-conversation` messages) that sends one message every `--pacing`
seconds (Locust's `constant_pacing`: the wait is shortened by the reply's time), so
`users / pacing` messages a second arrive whatever the replies' latency, as long as a
reply takes less than `--pacing`. Each request goes to the next of `--targets` in
turn, as a round-robin load balancer sends a conversation's messages to the replicas.

Users (name one on the command line):
- `RestTurns`: Rasa's REST channel (`POST /webhooks/rest/webhook`), the turns of
  `--turns-file` (greetings, thanks, "what can you do", goodbyes: NLU and rules, no
  action server); a reply that is not one of the turn's expected texts is a failure.
- `ApiChat`: the same turns through the API (`POST /v1/chat`, `--api-key`).
- `KnowledgeQuestions`: the file's knowledge questions over the REST channel (the
  action server, retrieval, the LLM); a reply without an answer's sources, or the
  apology for a failed action, is a failure.

This file runs in Locust's environment, never imports the project, and reads its
settings from Locust's command line only.
"""

from __future__ import annotations

import itertools
import json
import random
import uuid
from typing import Any, Dict, List, Optional, Sequence, Text

from locust import FastHttpUser, constant_pacing, events, task

_next_request = itertools.count()  # one counter for all users: round-robin per request
_loaded: Dict[Text, Any] = {}


@events.init_command_line_parser.add_listener
def _options(parser: Any) -> None:
    parser.add_argument("--targets", default="",
                        help="base URLs, comma separated, taken in turn per request "
                             "(default: --host)")
    parser.add_argument("--pacing", type=float, default=10.0,
                        help="seconds between one user's messages (constant pacing)")
    parser.add_argument("--turns-file", default="",
                        help="JSON: turns (text and expected replies) and questions")
    parser.add_argument("--turns-per-conversation", type=int, default=5)
    parser.add_argument("--api-key", default="", help="ApiChat: the bearer key")


def _options_of(user: FastHttpUser) -> Any:
    return user.environment.parsed_options


def _script(user: FastHttpUser, key: Text) -> List[Dict[Text, Any]]:
    path = _options_of(user).turns_file
    if path not in _loaded:
        with open(path, encoding="utf-8") as handle:
            _loaded[path] = json.load(handle)
    return list(_loaded[path][key])


def _target(user: FastHttpUser) -> Text:
    options = _options_of(user)
    targets = [t for t in (options.targets or "").split(",") if t] or [user.host]
    return targets[next(_next_request) % len(targets)].rstrip("/")


def _pacing(user: FastHttpUser) -> float:
    pace = getattr(user, "_pace", None)
    if pace is None:
        pace = user._pace = constant_pacing(_options_of(user).pacing)
    return float(pace(user))


def check_replies(texts: Sequence[Text], expected: Sequence[Text]) -> Optional[Text]:
    """Why the replies are wrong, or None: one reply or more, each an expected text
    (any expected text when the turn lists none)."""
    if not texts:
        return "no reply"
    if expected:
        wrong = [t for t in texts if t not in expected]
        if wrong:
            return f"unexpected reply: {wrong[0][:80]!r}"
    return None


class _Conversation(FastHttpUser):
    abstract = True
    wait_time = _pacing
    key = "turns"

    def on_start(self) -> None:
        self.items = _script(self, self.key)
        self.position = random.randrange(len(self.items))
        self.sent = 0
        self.sender = ""

    def next_item(self) -> Dict[Text, Any]:
        if self.sent % max(1, _options_of(self).turns_per_conversation) == 0:
            self.sender = f"load-{uuid.uuid4().hex[:16]}"
        self.sent += 1
        item = self.items[self.position % len(self.items)]
        self.position += 1
        return dict(item)


class RestTurns(_Conversation):
    """NLU-and-rules turns through Rasa's REST channel."""

    @task
    def turn(self) -> None:
        item = self.next_item()
        url = f"{_target(self)}/webhooks/rest/webhook"
        with self.client.post(url, json={"sender": self.sender, "message": item["text"]},
                              name="rest", catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"HTTP {response.status_code}")
                return
            texts = [m.get("text") or "" for m in response.json()]
            problem = check_replies(texts, item.get("replies") or [])
            if problem:
                response.failure(problem)


class ApiChat(_Conversation):
    """The same turns through the API's `POST /v1/chat`."""

    @task
    def turn(self) -> None:
        item = self.next_item()
        headers = {"Authorization": f"Bearer {_options_of(self).api_key}"}
        with self.client.post(f"{_target(self)}/v1/chat", headers=headers,
                              json={"message": item["text"], "conversation": self.sender},
                              name="api", catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"HTTP {response.status_code}")
                return
            texts = [m.get("text") or "" for m in response.json().get("messages") or []]
            problem = check_replies(texts, item.get("replies") or [])
            if problem:
                response.failure(problem)


class KnowledgeQuestions(_Conversation):
    """Questions about the documents through the REST channel: the action server,
    retrieval and the (fake, fixed-time) LLM."""

    key = "questions"

    @task
    def ask(self) -> None:
        item = self.next_item()
        url = f"{_target(self)}/webhooks/rest/webhook"
        with self.client.post(url, json={"sender": self.sender, "message": item["text"]},
                              name="knowledge", catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"HTTP {response.status_code}")
                return
            replies = response.json()
            refused = set(item.get("refusals") or [])
            if not any(m.get("answer") for m in replies) or any(
                    (m.get("text") or "") in refused for m in replies):
                response.failure("no answer with sources")
