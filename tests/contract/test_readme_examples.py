"""The README's headline questions about the documents, answered as it shows them:
the sample knowledge base, the real embedder, and the answerability model that
`make setup` trains (models/answerability.json), in the default `quote` style."""

from pathlib import Path

import pytest

from assistant.answers.answerability import AnswerabilityModel
from assistant.answers.cache import LRUAnswerCache
from assistant.answers.models import Turn
from assistant.answers.service import AnswerService
from assistant.config import KnowledgeSettings
from assistant.text import detect_language

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


@pytest.mark.parametrize("question, shown, before", EXAMPLES, ids=[e[0] for e in EXAMPLES])
async def test_a_headline_example_is_answered_as_the_readme_shows(answers, question, shown,
                                                                  before):
    history = [Turn("user", before), Turn("assistant", "…")] if before else []
    language = detect_language(question + (before or ""))
    answer = await answers.answer(question, history, language)
    assert answer.mode in ("extractive", "llm"), (answer.mode, answer.text)
    assert shown in answer.text
    assert answer.text.endswith("[1]") and answer.sources[0].number == 1
