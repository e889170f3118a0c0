"""The REST channel's collector: a knowledge answer travels as data beside its text."""

from channels.rest import SanitizingCollector

ANSWER = {"text": "<b>15</b> days. [1]", "mode": "llm", "language": "en", "cached": False,
          "query": "leave?", "sources": [{"number": 1, "title": "Leave", "source": "en/l.md"}]}


async def test_a_knowledge_answer_is_one_message_with_its_answer_as_data():
    collector = SanitizingCollector()
    await collector.send_response("u1", {"text": "15 days. [1]\n\nSources: [1] Leave",
                                         "answer": dict(ANSWER)})
    [message] = collector.messages
    assert message["text"] == "15 days. [1]\n\nSources: [1] Leave"
    assert message["answer"]["text"] == "15 days. [1]"  # markup removed here too
    assert message["answer"]["sources"] == ANSWER["sources"]


async def test_other_texts_are_collected_as_rasa_does():
    collector = SanitizingCollector()
    await collector.send_response("u1", {"text": "<i>hi</i>\n\nhow can I help?"})
    assert [m["text"] for m in collector.messages] == ["hi", "how can I help?"]
    assert all("answer" not in m for m in collector.messages)
