"""Extractive answers: the sentences of the best passage that match the question."""

from __future__ import annotations

import re
from typing import List, Set, Text

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
