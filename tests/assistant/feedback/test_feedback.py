"""The review queue: thumbs down queued, corrections turned into training data,
curated answers and gaps; curated answers served before anything else."""

import pytest

from bilingual_assistant.answers.curated import CuratedAnswers
from bilingual_assistant.errors import InputError, NotFoundError
from bilingual_assistant.feedback.service import FeedbackService
from tests.fakes.in_memory import HashingEmbedder, InMemoryFeedbackStore, ListedExamples


@pytest.fixture
def reviews():
    return FeedbackService(InMemoryFeedbackStore(), ListedExamples("greet", "ask_question"))


def down(reviews, message="sure, go ahead", reason="it said goodbye"):
    return reviews.submit("oidc:1", "default", -1, reason, message, "Bye!",
                          [{"number": 1, "title": "T", "source": "s.md", "extra": "x"}],
                          intent="goodbye", confidence=0.63)


def test_a_thumbs_down_is_queued_with_what_was_understood(reviews):
    item = down(reviews)
    assert item.status == "open" and item.intent == "goodbye" and item.confidence == 0.63
    assert item.sources == [{"number": 1, "title": "T", "source": "s.md"}]
    assert reviews.queue() == [item]


def test_a_thumbs_up_is_kept_but_not_queued(reviews):
    up = reviews.submit("local", "default", 1, "", "年假有几天?", "15 天 [1]")
    assert up.status == "resolved" and reviews.queue() == []
    assert reviews.queue(None) == [up]


@pytest.mark.parametrize("rating, message, problem", [
    (0, "hi", "rating"), (2, "hi", "rating"), (-1, "  ", "message"), (-1, "x" * 4001, "longer"),
])
def test_bad_feedback_is_refused(reviews, rating, message, problem):
    with pytest.raises(InputError, match=problem):
        reviews.submit("local", "default", rating, "", message, "reply")


def test_a_corrected_intent_becomes_a_training_example_once(reviews):
    item = down(reviews)
    resolved = reviews.correct_intent(item.id, "greet", "admin")
    assert (resolved.status, resolved.resolution, resolved.detail) == (
        "resolved", "intent", "greet")
    assert reviews.examples.examples == {"greet": ["sure, go ahead"]}
    with pytest.raises(InputError, match="already resolved"):
        reviews.correct_intent(item.id, "greet", "admin")
    again = down(reviews)
    assert "already an example" in reviews.correct_intent(again.id, "greet", "admin").detail


def test_an_unknown_intent_or_feedback_is_refused(reviews):
    item = down(reviews)
    with pytest.raises(InputError, match="ask_question"):
        reviews.correct_intent(item.id, "transfer_money", "admin")
    with pytest.raises(NotFoundError):
        reviews.correct_intent("nope", "greet", "admin")
    assert reviews.queue() == [item]


def test_a_written_answer_is_curated_and_a_gap_is_listed(reviews):
    first = down(reviews, "What is the CEO's salary?")
    curated = reviews.write_answer(first.id, "That is confidential.", "admin")
    assert curated.question == "What is the CEO's salary?" and curated.language == "en"
    assert curated.feedback_id == first.id and reviews.store.answers() == [curated]
    second = down(reviews, "班车几点发车?")
    reviews.mark_gap(second.id, "no shuttle document", "admin")
    assert [g.message for g in reviews.gaps()] == ["班车几点发车?"]
    assert reviews.queue() == []


def test_curated_answers_match_the_same_question_or_a_paraphrase_in_its_language(reviews):
    reviews.add_answer("What is the CEO's salary?", "That is confidential.", "admin")
    reviews.add_answer("班车几点发车?", "班车 8:00 发车。", "admin")
    lookup = CuratedAnswers(reviews.store.answers, HashingEmbedder(256), similar=0.8)
    assert lookup.find("what is the CEO's salary", "en").answer == "That is confidential."
    assert lookup.find("What is the salary of the CEO?", "en") is not None
    assert lookup.find("班车几点发车", "zh").answer == "班车 8:00 发车。"
    assert lookup.find("What is the CEO's salary?", "zh") is None
    assert lookup.find("How many days of annual leave?", "en") is None


def test_new_curated_answers_are_seen_after_the_refresh(reviews):
    now = [0.0]
    lookup = CuratedAnswers(reviews.store.answers, HashingEmbedder(), refresh_seconds=5,
                            clock=lambda: now[0])
    assert lookup.find("Where is the canteen?", "en") is None
    reviews.add_answer("Where is the canteen?", "Floor 2.", "admin")
    assert lookup.find("Where is the canteen?", "en") is None  # not yet reloaded
    now[0] = 6.0
    assert lookup.find("Where is the canteen?", "en").answer == "Floor 2."


def test_a_curated_answer_is_served_only_to_the_people_of_its_groups(reviews):
    from bilingual_assistant.knowledge.access import EVERYONE, EVERYTHING, Reader

    reviews.add_answer("When are salaries paid?", "On the 25th.", "admin", groups=["hr"])
    lookup = CuratedAnswers(reviews.store.answers, HashingEmbedder(256))
    question = "When are salaries paid?"
    assert lookup.find(question, "en", Reader(frozenset({"hr", "it"}))).answer == "On the 25th."
    assert lookup.find(question, "en", EVERYTHING) is not None
    assert lookup.find(question, "en", Reader(frozenset({"it"}))) is None
    assert lookup.find(question, "en", EVERYONE) is None
    assert lookup.find(question, "en") is None


def test_no_one_group_for_all_the_cited_documents_is_an_input_error():
    from bilingual_assistant.errors import InputError
    from bilingual_assistant.knowledge.access import readers_of_all

    assert readers_of_all([(), ()]) == () and readers_of_all([]) == ()
    assert readers_of_all([("finance", "hr"), ("hr",), ()]) == ("hr",)
    with pytest.raises(InputError, match="name the groups"):
        readers_of_all([("hr",), ("it",)])
