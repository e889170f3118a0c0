"""The guard every user channel shares."""

import asyncio

import pytest
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage

from bilingual_assistant.turns import ConversationTurns
from channels.guard import (
    WORD_JOINER,
    RejectedInputError,
    channel_options,
    check_metadata,
    check_sender,
    check_text,
    clean_reply,
    guarded,
)


def test_senders_must_name_a_conversation_in_printable_characters():
    assert check_sender(42, "ex") == "42"
    for bad, says in [(None, "required"), ("", "1 to 128"), ("x" * 129, "1 to 128"),
                      ("a\nb", "control"), ("\x1b[31mred", "control"), ("a\u2028b", "control"),
                      (["x"], "string")]:
        with pytest.raises(RejectedInputError, match=says):
            check_sender(bad, "ex")


def test_a_leading_slash_is_text_unless_allowed():
    assert check_text("/restart", 100, False, "ex") == WORD_JOINER + "/restart"
    assert check_text("  /inform{}", 100, False, "ex").startswith(WORD_JOINER)
    assert check_text("/restart", 100, True, "ex") == "/restart"
    assert check_text("a/b", 100, False, "ex") == "a/b"
    with pytest.raises(RejectedInputError) as raised:
        check_text("x" * 101, 100, False, "ex")
    assert raised.value.status == 413


def test_metadata_keeps_only_allowed_keys_within_its_size():
    assert check_metadata({"locale": "zh", "admin": True}, ["locale"], 100) == {"locale": "zh"}
    assert check_metadata({"admin": True}, ["locale"], 100) is None
    with pytest.raises(RejectedInputError):
        check_metadata({"k": "v" * 200}, ["k"], 100)


def test_replies_lose_their_markup():
    reply = clean_reply({"text": "<b>Hi</b> <script>x</script>",
                         "buttons": [{"title": "<i>yes</i>", "payload": "/affirm"}]})
    assert reply == {"text": "Hi x", "buttons": [{"title": "yes", "payload": "/affirm"}]}
    answer = clean_reply({"text": "t", "answer": {"text": "<b>15</b> days",
                                                  "sources": [{"title": "<i>Leave</i>"}]}})
    assert answer["answer"] == {"text": "15 days", "sources": [{"title": "Leave"}]}


def test_options_are_checked_and_unknown_ones_named():
    assert channel_options({"max_wait_seconds": 5}, "rest", ())["max_wait_seconds"] == 5.0
    with pytest.raises(ValueError, match="rest: unknown option"):
        channel_options({"max_wait": 5}, "rest", ())
    with pytest.raises(ValueError, match="positive"):
        channel_options({"max_message_length": 0}, "rest", ())


async def test_a_guarded_channel_passes_literal_cut_messages_one_at_a_time():
    seen, running = [], []

    async def on_new_message(message):
        running.append(message.sender_id)
        assert running.count(message.sender_id) == 1  # never two at once
        seen.append(message.text)
        await asyncio.sleep(0.01)
        running.remove(message.sender_id)

    wrapped = guarded(on_new_message, ConversationTurns(5), max_message_length=10,
                      allow_intent_commands=False)
    messages = [UserMessage(text, CollectingOutputChannel(), "u1")
                for text in ("/restart", "x" * 50, "hello")]
    await asyncio.gather(*(wrapped(m) for m in messages))
    assert seen == [WORD_JOINER + "/restart", "x" * 10, "hello"]

