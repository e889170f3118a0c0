"""Asking for a person (issue #28 item 1): told in their language who to contact
while no colleague can take the conversation."""

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.conversation import ANSWER_KEY
from actions.handoff import ActionRequestHuman
from bilingual_assistant.errors import ServiceError
from tests.actions.test_answer import DOMAIN


def asking(language):
    return Tracker("telegram:1:1", {"language": language},
                   {"intent": {"name": "request_human"}, "text": "转人工"}, [], False,
                   None, {}, "action_listen")


async def test_the_person_is_told_who_to_contact_in_their_language():
    for language, contact, expected in (
            ("zh", "IT 服务台(分机 8000)", "请联系IT 服务台(分机 8000)。"),
            ("en", "", "Please contact the team in charge."),
            ("zh", "", "请联系负责的团队。")):
        dispatcher = CollectingDispatcher()
        events = await ActionRequestHuman(contact).run(dispatcher, asking(language), DOMAIN)
        assert events == []
        assert len(dispatcher.messages) == 1 and expected in dispatcher.messages[0]["text"]


class Helpdesk:
    """A `TicketSink` that keeps what it is sent, or fails as the webhook would."""

    def __init__(self, fail=False):
        self.tickets, self.fail = [], fail

    async def send(self, ticket):
        if self.fail:
            raise ServiceError("the helpdesk's webhook did not take the ticket")
        self.tickets.append(ticket)


def conversation():
    events = [{"event": "user", "text": "VPN 连不上"},
              {"event": "bot", "text": "抱歉…\n来源: …",
               "metadata": {ANSWER_KEY: {"text": "抱歉,文档中没有找到", "mode": "not_found"}}},
              {"event": "user", "text": "转人工", "input_channel": "telegram"}]
    return Tracker("telegram:1:1", {"language": "zh"},
                   {"intent": {"name": "request_human"}, "text": "转人工"}, events, False,
                   None, {}, "action_listen")


async def test_with_a_helpdesk_a_ticket_carries_the_conversation_and_its_number_is_told():
    helpdesk = Helpdesk()
    dispatcher = CollectingDispatcher()
    await ActionRequestHuman("IT 服务台", helpdesk).run(dispatcher, conversation(), DOMAIN)
    [ticket] = helpdesk.tickets
    assert (ticket.conversation, ticket.channel, ticket.language, ticket.reason) == (
        "telegram:1:1", "telegram", "zh", "asked")
    assert ticket.transcript == [{"author": "user", "text": "VPN 连不上"},
                                 {"author": "assistant", "text": "抱歉,文档中没有找到"},
                                 {"author": "user", "text": "转人工"}]
    [said] = dispatcher.messages
    assert f"编号 {ticket.id}" in said["text"] and "IT 服务台" in said["text"]


async def test_a_helpdesk_that_does_not_take_the_ticket_leaves_the_contact():
    dispatcher = CollectingDispatcher()
    await ActionRequestHuman("IT 服务台", Helpdesk(fail=True)).run(
        dispatcher, conversation(), DOMAIN)
    [said] = dispatcher.messages
    assert "请联系IT 服务台" in said["text"] and "编号" not in said["text"]
