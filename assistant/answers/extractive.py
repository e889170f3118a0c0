"""Extractive answers: the sentences of the retrieved passages that answer the question."""

from __future__ import annotations

import re
from typing import Callable, Dict, List, Sequence, Set, Text, Tuple

from assistant.text import HAN, STOP_WORDS, join_sentences, split_sentences, text_units

_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'_.@-]*")


def terms(text: Text) -> Set[Text]:
    """English words (minus stop words) and Chinese character bigrams."""
    lowered = text.lower()
    words = {w.strip(".") for w in _WORD.findall(lowered)} - STOP_WORDS
    han = "".join(HAN.findall(lowered))
    bigrams = {han[i : i + 2] for i in range(len(han) - 1)}
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
MIN_SENTENCE_UNITS = 3  # headings and list markers are not answers


def best_sentences(
    question: Text,
    passages: Sequence[Text],
    similarity: Callable[[Text, Sequence[Text]], Sequence[float]],
    max_units: int = 90,
) -> Tuple[int, Text]:
    """The sentences of the retrieved passages that answer the question.

    Each sentence is scored by the question's key words it shares, plus half its
    meaning (the embedder's cosine similarity with the question), plus a bonus when
    the question asks for a number and the sentence holds one, or holds the
    question's own numbers, minus a step per passage rank. The answer is the best
    sentence's passage's best sentences, in their order, up to about 60 % of
    `max_units`. Measured on the answer benchmark's tune half with the LLM off
    (`benchmarks/answer_accuracy.py --no-llm --split tune`): 67.0 % of answerable
    questions right against 64.3 % for shared words alone in the best passage;
    ranking by meaning first, one or two sentences, gave 51.8 %.

    Args:
        question: what was asked (resolved against earlier turns).
        passages: the retrieved passages' texts, best first.
        similarity: cosine similarities of the question with each sentence.
        max_units: length limit (Chinese characters or English words).

    Returns:
        The index of the passage the answer comes from, and the answer.
    """
    candidates = [(p, i, s) for p, passage in enumerate(passages)
                  for i, s in enumerate(split_sentences(passage))
                  if text_units(s) >= MIN_SENTENCE_UNITS]
    if not candidates:
        return 0, extract_answer(question, passages[0] if passages else "", max_units)
    wanted = terms(question)
    numbers = set(re.findall(r"\d+", question))
    asks_number = bool(_ASKS_NUMBER.search(question))
    meaning = similarity(question, [s for _, _, s in candidates])
    scored = []
    for (p, i, sentence), cosine in zip(candidates, meaning, strict=True):
        overlap = len(terms(sentence) & wanted)
        score = overlap + 0.5 * cosine - 0.5 * p
        if asks_number and _NUMBER.search(sentence):
            score += 0.3
        if numbers and numbers & set(re.findall(r"\d+", sentence)):
            score += 0.3
        scored.append((score, p, i, sentence))
    scored.sort(key=lambda item: -item[0])
    passage = scored[0][1]
    chosen: Dict[int, Text] = {}
    units = 0
    for _, p, i, sentence in scored:
        if p != passage:
            continue
        size = text_units(sentence)
        if chosen and units + size > max_units:
            continue
        chosen[i] = sentence
        units += size
        if units >= max_units * 0.6:
            break
    return passage, join_sentences([chosen[i] for i in sorted(chosen)])
