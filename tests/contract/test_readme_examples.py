"""The README's headline questions about the documents, answered as it shows them,
and the questions #25 saw answered wrongly on a fresh `make run`: the sample
knowledge base, the real embedder, and the answerability model that `make setup`
trains (models/answerability.json), in the default `quote` style."""

from pathlib import Path

import pytest

from bilingual_assistant.answers.answerability import AnswerabilityModel
from bilingual_assistant.answers.cache import LRUAnswerCache
from bilingual_assistant.answers.models import Turn
from bilingual_assistant.answers.service import AnswerService
from bilingual_assistant.config import KnowledgeSettings
from bilingual_assistant.text import detect_language

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "models" / "answerability.json"

# (question, what the README shows the reply to hold, the question before it)
EXAMPLES = [
    ("IT服务台几点上班?", "周一至周五 08:30–18:00", None),
    ("那周末呢?", "周六和周日 09:00–17:00 拨打分机 7000", "IT服务台几点上班?"),
    ("how many days of annual leave do I get?",
     "Full-time employees receive 15 days of paid annual leave per year", None),
    ("and for contractors?", "Contractors do not get paid annual leave",
     "how many days of annual leave do I get?"),
]


@pytest.fixture(scope="module")
def answers(sample_kb, embedder):
    assert MODEL.exists(), "models/answerability.json is missing: run `make setup`"
    model = AnswerabilityModel.load(MODEL, KnowledgeSettings().embedding_model)
    return AnswerService(sample_kb, LRUAnswerCache(), lambda: "v1", None, embedder=embedder,
                         answer_style="quote", answerability=model)


def test_the_examples_are_the_readmes():
    readme = (ROOT / "README.md").read_text("utf-8")
    for question, shown, _ in EXAMPLES:
        assert question in readme and shown in readme, question
    # The README's example of a question the documents do not answer is tested below.
    assert f"{NO_CLAIM_EXAMPLE} " in readme and NO_CLAIM_EXAMPLE in NOT_ANSWERED


@pytest.mark.parametrize("question, shown, before", EXAMPLES, ids=[e[0] for e in EXAMPLES])
async def test_a_headline_example_is_answered_as_the_readme_shows(answers, question, shown,
                                                                  before):
    history = [Turn("user", before), Turn("assistant", "…")] if before else []
    language = detect_language(question + (before or ""))
    answer = await answers.answer(question, history, language)
    assert answer.mode in ("extractive", "llm"), (answer.mode, answer.text)
    assert shown in answer.text
    assert answer.text.endswith("[1]") and answer.sources[0].number == 1


# #25 "What was seen": questions the documents do not answer, each once answered
# with an unrelated passage presented as the answer (the wifi password with the
# remote-work rule, the bonus month and marriage leave with annual leave, paternity
# leave with annual leave).
NO_CLAIM_EXAMPLE = "婚假可以休几天?"
NOT_ANSWERED = [
    "办公室的wifi密码是多少?",
    "年终奖一般几月份发啊",
    "婚假可以休几天?",
    pytest.param("how many days of paternity leave do we get?", marks=pytest.mark.xfail(
        strict=True, reason="the annual-leave sentence shares days, leave and the asked "
        "quantity; only 'paternity' is missing (probability 0.63 against a threshold of "
        "0.49): the 'topic is here but not this detail' limit in docs/benchmarks/answers.md")),
]


@pytest.mark.parametrize("question", NOT_ANSWERED)
async def test_a_question_the_documents_do_not_answer_gets_no_claimed_answer(answers,
                                                                            question):
    answer = await answers.answer(question, [], detect_language(question))
    assert answer.mode not in ("extractive", "llm"), answer.text


@pytest.mark.xfail(strict=True, reason="the weekend on-call sentence (extension 7000) is "
                   "ranked above the list item with the outside number; the reply is an "
                   "honest 'not sure' with the right page as a lead, not a wrong answer")
async def test_the_helpdesk_number_from_a_mobile_is_the_outside_number(answers):
    # #25: once answered with the weekend closure.
    question = "whats the IT helpdesk number if im calling from my mobile"
    answer = await answers.answer(question, [], "en")
    assert answer.mode in ("extractive", "llm"), answer.text
    assert "+86 21 5555 6000" in answer.text
