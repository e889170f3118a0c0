"""Helpdesk tickets through the real webhook client against a local receiver that
checks the signature as a helpdesk would (issue #28 item 5): delivered, retried
after a 500, refused without retrying on a 4xx, and kept as a sealed dead letter
when it cannot be delivered."""

import hashlib
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bilingual_assistant.adapters.sql_handoff_store import SqlDeadLetters
from bilingual_assistant.adapters.sql_service_store import connect
from bilingual_assistant.adapters.webhook_tickets import WebhookTickets
from bilingual_assistant.encryption import Keyring, new_key_entry
from bilingual_assistant.errors import ServiceError
from bilingual_assistant.handoff.tickets import Ticket
from tests.contract.test_sql_service_store import every_stored_text

SECRET = "helpdesk-shared-secret"


class Receiver:
    """A helpdesk's webhook on 127.0.0.1: answers each POST with the next of
    `statuses` (the last one repeats), after checking the signature."""

    def __init__(self, statuses):
        self.statuses, self.received = list(statuses), []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                stamp = self.headers["X-Assistant-Timestamp"]
                expected = "sha256=" + hmac.new(SECRET.encode(), stamp.encode() + b"." + body,
                                                hashlib.sha256).hexdigest()
                signed = hmac.compare_digest(expected,
                                             self.headers["X-Assistant-Signature"])
                receiver.received.append((signed, json.loads(body)))
                status = receiver.statuses.pop(0) if len(receiver.statuses) > 1 \
                    else receiver.statuses[0]
                self.send_response(status if signed else 401)
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/ticket"

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def dead_letters(tmp_path):
    engine = connect(f"sqlite:///{tmp_path}/api.db")
    yield SqlDeadLetters(engine, Keyring.parse(new_key_entry("k1")))
    engine.dispose()


def ticket():
    return Ticket("t-1", "telegram:42:42", "telegram", "zh", "asked", 1700000000.0,
                  [{"author": "user", "text": "VPN 连不上 canary-77"},
                   {"author": "assistant", "text": "文档中没有找到"}])


async def no_wait(_):
    return None


@pytest.mark.parametrize("statuses, tries", [([200], 1), ([500, 503, 202], 3)])
async def test_a_ticket_is_delivered_signed_retrying_what_may_pass(dead_letters, statuses,
                                                                   tries):
    receiver = Receiver(statuses)
    try:
        await WebhookTickets(receiver.url, SECRET, dead_letters, sleep=no_wait).send(ticket())
    finally:
        receiver.stop()
    assert len(receiver.received) == tries
    assert all(signed for signed, _ in receiver.received)
    body = receiver.received[-1][1]
    assert body["type"] == "handoff.ticket" and body["id"] == "t-1"
    assert body["transcript"][0]["text"] == "VPN 连不上 canary-77"
    assert dead_letters.listed(10) == []


@pytest.mark.parametrize("statuses, tries, error", [([500], 3, "HTTP 500"),
                                                    ([400], 1, "HTTP 400")])
async def test_an_undeliverable_ticket_is_a_sealed_dead_letter(dead_letters, statuses, tries,
                                                               error):
    receiver = Receiver(statuses)
    try:
        with pytest.raises(ServiceError, match="dead letter"):
            await WebhookTickets(receiver.url, SECRET, dead_letters,
                                 sleep=no_wait).send(ticket())
    finally:
        receiver.stop()
    assert len(receiver.received) == tries
    [kept] = dead_letters.listed(10)
    assert (kept["error"], kept["attempts"]) == (error, tries)
    assert kept["ticket"]["transcript"][0]["text"] == "VPN 连不上 canary-77"
    assert "canary" not in every_stored_text(dead_letters.engine)


async def test_a_wrong_secret_is_refused_by_the_receiver_and_kept(dead_letters):
    receiver = Receiver([200])
    try:
        with pytest.raises(ServiceError):
            await WebhookTickets(receiver.url, "another-secret-entirely", dead_letters,
                                 sleep=no_wait).send(ticket())
    finally:
        receiver.stop()
    assert [signed for signed, _ in receiver.received] == [False]
    assert dead_letters.listed(10)[0]["error"] == "HTTP 401"


async def test_a_receiver_that_is_down_is_retried_then_kept(dead_letters):
    receiver = Receiver([200])
    url = receiver.url
    receiver.stop()
    with pytest.raises(ServiceError):
        await WebhookTickets(url, SECRET, dead_letters, sleep=no_wait).send(ticket())
    assert dead_letters.listed(10)[0]["attempts"] == 3
