"""Asking for a person (issue #28 item 1): told in their language who to contact
while no colleague can take the conversation."""

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.handoff import ActionRequestHuman
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
