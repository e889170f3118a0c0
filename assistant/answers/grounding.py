"""What a generated answer may not invent: e-mail addresses, links, and numbers
(phone numbers, amounts, dates, counts) that none of its passages hold.

A model that was talked into "email your password to helpdesk@evil.example" or
that guesses a figure produces exactly such items; the answer is then not sent.
"""

from __future__ import annotations

import re
import unicodedata
from typing import List, Sequence, Set, Text

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_URL = re.compile(r"(?:https?://|www\.)[^\s<>()\[\]，。、]+", re.IGNORECASE)
_DIGITS = re.compile(r"\d+")
_CITATION = re.compile(r"\[\d+\]")


def _numbers(text: Text) -> Set[Text]:
    """Digit runs without leading zeros: "08:30" and "8:30" agree."""
    return {run.lstrip("0") or "0" for run in _DIGITS.findall(text)}


def _links(text: Text) -> Set[Text]:
    return {link.rstrip(".,;:!?").lower() for link in _URL.findall(text)}


def ungrounded(answer: Text, passages: Sequence[Text]) -> List[Text]:
    """The e-mail addresses, links and numbers of `answer` found in no passage.

    Args:
        answer: the generated answer (its citations, "[1]", are not figures).
        passages: the texts the answer was generated from.

    Returns:
        What the answer holds that the passages do not (empty: nothing invented).
    """
    answer = _CITATION.sub(" ", unicodedata.normalize("NFKC", answer))
    source = unicodedata.normalize("NFKC", "\n".join(passages))
    known_emails = {e.lower() for e in _EMAIL.findall(source)}
    invented = [e for e in _EMAIL.findall(answer) if e.lower() not in known_emails]
    without_emails = _EMAIL.sub(" ", answer)
    known_links = _links(_EMAIL.sub(" ", source))
    invented += [link for link in _links(without_emails)
                 if not any(link == known or known.startswith(link)
                            or link.startswith(known.rstrip("/") + "/")
                            for known in known_links)]
    known_numbers = _numbers(source)
    invented += sorted(n for n in _numbers(_URL.sub(" ", without_emails))
                       if n not in known_numbers)
    return invented
