"""The handoff's rules (issue #28), over an in-memory store: the queue, a claim
that is the agent's alone, replies only by that agent, and how a handoff ends."""

import pytest

from bilingual_assistant.errors import ConflictError, InputError, NotFoundError
from bilingual_assistant.handoff.models import HandoffMessage
from bilingual_assistant.handoff.service import HandoffService, summary
from tests.fakes.in_memory import InMemoryHandoffStore


@pytest.fixture
def desk():
    clock = iter(float(n) for n in range(100, 1000))
    return HandoffService(InMemoryHandoffStore(), clock=lambda: next(clock))


def ask(desk, who="ann", reason="asked"):
    return desk.request(f"oidc:{who}:web", "rest", f"oidc:{who}", "zh", reason,
                        [HandoffMessage("", 0, 1.0, "user", "VPN 连不上"),
                         HandoffMessage("", 0, 2.0, "assistant", "文档中没有找到")])


def test_a_person_waits_in_the_queue_with_what_was_said_and_once_only(desk):
    first = ask(desk)
    assert first.state == "waiting" and first.reason == "asked"
    assert ask(desk, reason="misses").id == first.id  # asking again keeps the place
    assert [m.author for m in desk.messages(first.id)] == ["user", "assistant"]
    desk.user_said("oidc:ann:web", "还在吗?")
    assert desk.messages(first.id)[-1].text == "还在吗?"
    assert desk.user_said("oidc:bob:web", "hello") is None  # no handoff: not kept
    second = ask(desk, "bob")
    assert [h.id for h in desk.queue()] == [first.id, second.id]


def test_a_claimed_conversation_is_its_agents_alone(desk):
    handoff = ask(desk)
    with pytest.raises(ConflictError, match="Claim this conversation"):
        desk.reply(handoff.id, "alice", "你好")
    assert desk.claim(handoff.id, "alice").agent == "alice"
    assert desk.claim(handoff.id, "alice").agent == "alice"  # again: still hers
    with pytest.raises(ConflictError, match="alice has this conversation"):
        desk.claim(handoff.id, "bob")
    with pytest.raises(ConflictError, match="alice has this conversation"):
        desk.reply(handoff.id, "bob", "我来")
    reply = desk.reply(handoff.id, "alice", "  请重启客户端  ")
    assert (reply.author, reply.text, reply.by) == ("agent", "请重启客户端", "alice")
    assert desk.get(handoff.id).first_reply_at is not None
    for bad in ("", " ", "x" * 4001):
        with pytest.raises(InputError):
            desk.reply(handoff.id, "alice", bad)


def test_the_agent_hands_back_or_closes_and_the_person_may_cancel(desk):
    handoff = ask(desk)
    desk.claim(handoff.id, "alice")
    with pytest.raises(InputError):
        desk.close(handoff.id, "alice", "cancelled")
    ended = desk.close(handoff.id, "alice", "handed_back")
    assert (ended.state, ended.outcome) == ("closed", "handed_back")
    assert desk.open_for("oidc:ann:web") is None
    with pytest.raises(ConflictError, match="has ended"):
        desk.reply(handoff.id, "alice", "还有问题吗?")
    again = ask(desk)
    assert again.id != handoff.id
    assert desk.cancel("oidc:ann:web").outcome == "cancelled"
    assert desk.cancel("oidc:ann:web") is None
    assert desk.queue() == [] and len(desk.queue(["closed"])) == 2


def test_bad_names_and_unknown_handoffs_say_what_is_wrong(desk):
    with pytest.raises(InputError, match="reason"):
        desk.request("oidc:ann:web", "rest", "oidc:ann", "zh", "bored")
    with pytest.raises(InputError, match="state"):
        desk.queue(["lost"])
    with pytest.raises(NotFoundError):
        desk.claim("nope", "alice")


def test_the_queue_shows_how_long_each_person_has_waited(desk):
    handoff = ask(desk)  # created at 100
    assert summary(handoff, 130.0)["waiting_seconds"] == 30.0
    claimed = desk.claim(handoff.id, "alice")
    desk.reply(handoff.id, "alice", "在")
    replied = desk.get(handoff.id)
    assert summary(replied, 999.0)["waiting_seconds"] == replied.first_reply_at - 100.0
    assert summary(claimed, 999.0)["waiting_seconds"] == claimed.claimed_at - 100.0
