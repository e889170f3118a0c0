"""Extractive answers: the sentences of the retrieved passages that answer the question."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence, Set, Text, Tuple

from bilingual_assistant.answers.answer_types import asked_types, holds_asked_type
from bilingual_assistant.text import (
    HAN_RANGE,
    STOP_WORDS,
    join_sentences,
    split_sentences,
    text_units,
    unit_matches,
)

_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'_.@-]*")
_HAN_RUN = re.compile(f"[{HAN_RANGE}]+")


def terms(text: Text) -> Set[Text]:
    """English words (minus stop words) and Chinese character bigrams (within a run of
    Chinese characters: a follow-up joined to its question, "…上班? 那周末呢?", must
    not make "班那" a term)."""
    lowered = text.lower()
    words = {w.strip(".") for w in _WORD.findall(lowered)} - STOP_WORDS
    bigrams = {run[i : i + 2] for run in _HAN_RUN.findall(lowered) for i in range(len(run) - 1)}
    return {t for t in words | bigrams if t}


def extract_answer(question: Text, passage: Text, max_units: int = 90) -> Text:
    """The sentences of `passage` that best match `question`, in their order.

    Args:
        question: what was asked (resolved against earlier turns).
        passage: the best retrieved passage (without its title line).
        max_units: length limit (Chinese characters or English words).

    Returns:
        One or more whole sentences; the passage's start if nothing matches.
    """
    sentences = split_sentences(passage)
    if not sentences:
        return passage.strip()
    wanted = terms(question)
    scored = [
        (len(terms(s) & wanted), -i, i, s) for i, s in enumerate(sentences) if text_units(s)
    ]
    chosen: List[int] = []
    units = 0
    for overlap, _, index, sentence in sorted(scored, reverse=True):
        if overlap == 0 and chosen:
            break
        size = text_units(sentence)
        if chosen and units + size > max_units:
            continue
        chosen.append(index)
        units += size
        if units >= max_units * 0.6:
            break
    return join_sentences([sentences[index] for index in sorted(chosen)])


# A question that asks for a quantity, a time or a limit: sentences with a number
# are more likely to answer it.
_ASKS_NUMBER = re.compile(
    r"几|多少|多久|多长|多大|多远|什么时候|何时|哪天|\bhow (many|much|long|often|far|soon)\b|"
    r"\bwhen\b|\bwhat time\b|\bhours?\b|\bdays?\b|\blimit\b|\bmax(imum)?\b",
    re.IGNORECASE)
_NUMBER = re.compile(r"\d|[一二两三四五六七八九十百千万半]")
# Sentences that say what the document covers ("本制度说明…", "This policy explains
# …") share most words with any question about it and answer none.
_ABOUT_THE_DOCUMENT = re.compile(
    r"本(制度|文|文档|指南|页|页面|政策)(说明|介绍|讲|规定了?哪些)|"
    r"^(this|the following) (policy|page|guide|document|article)s? "
    r"(explains|describes|covers|sets out|tells)",
    re.IGNORECASE)
MIN_SENTENCE_UNITS = 3  # headings and list markers are not answers
# Weights measured on the answer benchmark's tune half with the LLM off
# (`benchmarks/answer_accuracy.py --no-llm --split tune`, answerable questions, the
# retrieval threshold aside): meaning 8 against shared rare words gave 84.1 %;
# meaning 0.5 (the words deciding) 71.4 %; meaning alone, one sentence, 61 %.
MEANING_WEIGHT = 8.0
# Per passage rank: a later passage needs a clearly better sentence. Right quotes
# first on the tune halves (project / CMRC of 156 / 139, `benchmarks.sentence_choice`
# with the step patched, 2026-12-07): 0: 109 / 86, 0.5: 117 / 92, 1: 123 / 93,
# 1.5: 122 / 93, 2: 118 / 92.
RANK_STEP = 1.0
NUMBER_BONUS = 0.3
# A sentence holding the kind of value the question asks for (a clock time for "几点",
# a phone number for "call", a year for "哪一年": answer_types.py).
TYPE_BONUS = 3.0
# A quoted question is an example of asking ('Short questions work well: "How do I
# connect to the VPN?" is enough'), never an answer: it is left out of the scoring.
# Measured: the assistant guide's example question won "How do I connect to the VPN
# from home?" over the VPN guide's own sentences.
_QUOTED_QUESTION = re.compile(r"[\"“「『]([^\"”」』]*[?？])[\"”」』]?")
# Of `max_units`: 0.7 gave 84.1 % (about 67 units on average); 0.6, 81.7 %
# (62 units); two sentences at most, 76.2 % (42 units).
FILL = 0.7


def _shared_words(sentence_terms: Set[Text], wanted: Set[Text],
                  document_frequency: Dict[Text, int], sentences: int) -> float:
    """The question's key words in a sentence, each weighted by how rare it is among
    the candidate sentences (1 for a word only this sentence has)."""
    norm = math.log(1 + sentences)
    return sum(math.log(1 + sentences / document_frequency[t]) / norm
               for t in sentence_terms & wanted)


@dataclass(frozen=True)
class RankedSentence:
    """A sentence of a retrieved passage and how well it answers the question."""

    score: float
    passage: int  # index among the retrieved passages, best first
    position: int  # index among the passage's sentences
    text: Text
    cosine: float = 0.0  # the embedder's similarity with the question


def rank_sentences(
    question: Text,
    passages: Sequence[Text],
    similarity: Callable[[Text, Sequence[Text]], Sequence[float]],
    latest: Optional[Text] = None,
) -> List[RankedSentence]:
    """The sentences of the retrieved passages, best answer first.

    Each sentence is scored by its meaning (the embedder's cosine similarity with
    the question, weighted `MEANING_WEIGHT`), plus the question's key words it shares
    (rarer words count more), plus a bonus when the question asks for a number and
    the sentence holds one, or holds the question's own numbers, minus a step per
    passage rank. Sentences about the document itself, headings and list markers
    are left out.

    Args:
        question: what was asked (resolved against earlier turns).
        passages: the retrieved passages' texts, best first.
        similarity: cosine similarities of the question with each sentence.
        latest: for a follow-up joined to the question it follows, the follow-up
            itself ("and on weekends?"): its meaning counts half and its words
            double, or the earlier question's words decide the sentence.
    """
    # (passage, position, sentence, the sentence without quoted questions)
    candidates = [(p, i, s, scored) for p, passage in enumerate(passages)
                  for i, s in enumerate(split_sentences(passage))
                  for scored in [_QUOTED_QUESTION.sub(" ", s)]
                  if text_units(scored) >= MIN_SENTENCE_UNITS
                  and not _ABOUT_THE_DOCUMENT.search(s)]
    if not candidates:
        return []
    wanted = terms(question)
    stressed = terms(latest) if latest else set()
    numbers = set(re.findall(r"\d+", question))
    asks_number = bool(_ASKS_NUMBER.search(question))
    asked = asked_types(question)
    sentence_terms = [terms(scored) for _, _, _, scored in candidates]
    frequency: Dict[Text, int] = {}
    for found in sentence_terms:
        for term in found:
            frequency[term] = frequency.get(term, 0) + 1
    texts = [scored for _, _, _, scored in candidates]
    meaning = list(similarity(question, texts))
    if latest:
        meaning = [(a + b) / 2 for a, b in zip(meaning, similarity(latest, texts), strict=True)]
    ranked = []
    for (p, i, sentence, _), found, cosine in zip(candidates, sentence_terms, meaning,
                                               strict=True):
        score = (_shared_words(found, wanted, frequency, len(candidates))
                 + _shared_words(found, stressed, frequency, len(candidates))
                 + MEANING_WEIGHT * cosine - RANK_STEP * p)
        if asks_number and _NUMBER.search(sentence):
            score += NUMBER_BONUS
        if numbers and numbers & set(re.findall(r"\d+", sentence)):
            score += NUMBER_BONUS
        if asked and holds_asked_type(sentence, asked):
            score += TYPE_BONUS
        ranked.append(RankedSentence(score, p, i, sentence, cosine))
    ranked.sort(key=lambda r: -r.score)
    return ranked


def best_of_passage(ranked: Sequence[RankedSentence], passage: int, max_units: int,
                    fill: float = FILL) -> Text:
    """A passage's best sentences, in their order, up to `fill` of `max_units`."""
    chosen: Dict[int, Text] = {}
    units = 0
    for sentence in ranked:
        if sentence.passage != passage:
            continue
        size = text_units(sentence.text)
        if chosen and units + size > max_units:
            continue
        chosen[sentence.position] = sentence.text
        units += size
        if units >= max_units * fill:
            break
    return join_sentences([chosen[i] for i in sorted(chosen)])


# A quoted answer's length in units: it is presented as the answer, so it holds the
# answering sentence and little else (a longer quote "holds" more facts by chance
# and reads as an unrelated passage). The best sentence, then the passage's next
# best ones while the quote stays within QUOTE_UNITS, until it reaches
# QUOTE_FILL of it; a best sentence longer than QUOTE_UNITS is cut to the run of
# its clauses that shares most of the question's words.
QUOTE_UNITS = 50
QUOTE_FILL = 0.5
_CLAUSE_END = re.compile(r"(?<=[，,、；;：:])")


def clause_window(sentence: Text, question: Text, max_units: int) -> Text:
    """The run of a long sentence's clauses, at most `max_units` long, that shares most
    of the question's key words (the first such run; the sentence's start if none)."""
    clauses = [c for c in _CLAUSE_END.split(sentence) if c]
    wanted = terms(question)
    best, best_score = "", -1.0
    for start in range(len(clauses)):
        units, end = 0, start
        while end < len(clauses) and units + text_units(clauses[end]) <= max_units:
            units += text_units(clauses[end])
            end += 1
        if end == start:
            continue
        window = "".join(clauses[start:end])
        score = len(terms(window) & wanted)
        if score > best_score:
            best, best_score = window, score
    if not best:  # one clause longer than the limit: its first units
        matches = unit_matches(sentence)
        cut = matches[max_units - 1].end() if len(matches) >= max_units else len(sentence)
        best = sentence[:cut]
    return best.strip().rstrip("，,、；;：:")


def quote(ranked: Sequence[RankedSentence], question: Text, passages: Sequence[Text],
          max_units: int = QUOTE_UNITS) -> Tuple[int, Text]:
    """The best sentence, with its passage's next best sentences while the quote stays
    within `max_units` (until `QUOTE_FILL` of it), in the passage's order; the first
    passage's sentences sharing the question's words when nothing was ranked.

    Returns:
        The index of the passage the answer comes from, and the answer.
    """
    if not ranked:
        return 0, extract_answer(question, passages[0] if passages else "", max_units)
    first = ranked[0]
    if text_units(first.text) > max_units:
        return first.passage, clause_window(first.text, question, max_units)
    chosen = {first.position: first.text}
    units = text_units(first.text)
    for sentence in ranked[1:]:
        if units >= max_units * QUOTE_FILL:
            break
        if sentence.passage != first.passage:
            continue
        size = text_units(sentence.text)
        if units + size <= max_units:
            chosen[sentence.position] = sentence.text
            units += size
    return first.passage, join_sentences([chosen[i] for i in sorted(chosen)])


def best_sentences(
    question: Text,
    passages: Sequence[Text],
    similarity: Callable[[Text, Sequence[Text]], Sequence[float]],
    max_units: int = QUOTE_UNITS,
) -> Tuple[int, Text]:
    """The sentences of the retrieved passages that answer the question:
    `rank_sentences`, then `quote`.

    Args:
        question: what was asked (resolved against earlier turns).
        passages: the retrieved passages' texts, best first.
        similarity: cosine similarities of the question with each sentence.
        max_units: length limit (Chinese characters or English words).

    Returns:
        The index of the passage the answer comes from, and the answer.
    """
    return quote(rank_sentences(question, passages, similarity), question, passages, max_units)
