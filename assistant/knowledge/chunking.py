"""Chinese-aware chunking with overlap that keeps each chunk's titles."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import List, Text

from assistant.knowledge.documents import Document

# Sentence ends: Chinese full stops (no space follows them) and Latin ones
# followed by a space, plus line breaks.
_SENTENCE_END = re.compile(r"(?<=[。！？；!?;])|(?<=[.:])\s+|\n+")
_UNIT = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]|[A-Za-z0-9][A-Za-z0-9'’_.@-]*")


def text_units(text: Text) -> int:
    """Length in units: a Chinese character or a Latin word counts one."""
    return len(_UNIT.findall(text))


@dataclass(frozen=True)
class Chunk:
    """One indexed passage.

    Attributes:
        id: stable id from the source and the chunk index.
        source: the document's path relative to the knowledge folder.
        title: the document's title.
        heading: the section heading (may be empty).
        index: position of the chunk in its document.
        text: what is embedded and searched: titles, then the passage.
        content_hash: the document's hash (all its chunks share it).
    """

    id: Text
    source: Text
    title: Text
    heading: Text
    index: int
    text: Text
    content_hash: Text

    @property
    def passage(self) -> Text:
        """The passage without its title line."""
        return self.text.split("\n", 1)[1] if "\n" in self.text else self.text


def split_sentences(text: Text) -> List[Text]:
    """Splits text into sentences, keeping their punctuation."""
    return [s.strip() for s in _SENTENCE_END.split(text) if s and s.strip()]


def _hard_split(sentence: Text, size: int) -> List[Text]:
    """Cuts a sentence longer than `size` units into pieces of `size` units."""
    pieces: List[Text] = []
    matches = list(_UNIT.finditer(sentence))
    start = 0
    for i in range(size, len(matches), size):
        cut = matches[i].start()
        pieces.append(sentence[start:cut].strip())
        start = cut
    pieces.append(sentence[start:].strip())
    return [p for p in pieces if p]


def _join(sentences: List[Text]) -> Text:
    out = ""
    for s in sentences:
        if out and (out[-1].isascii() or s[0].isascii()):
            out += " "
        out += s
    return out


def chunk_document(document: Document, size: int = 200, overlap: int = 40) -> List[Chunk]:
    """Splits a document into passages of about `size` units, sections kept apart.

    Args:
        document: the document.
        size: target passage length in units (see `text_units`).
        overlap: units of trailing sentences repeated at the start of the next
            passage of the same section.

    Returns:
        The chunks, in document order; each starts with the document's title and
        its section heading.
    """
    if not 0 <= overlap < size:
        raise ValueError(f"overlap ({overlap}) must be >= 0 and smaller than size ({size}).")
    passages: List[tuple] = []
    for section in document.sections:
        sentences: List[Text] = []
        for sentence in split_sentences(section.text):
            sentences.extend(
                _hard_split(sentence, size) if text_units(sentence) > size else [sentence]
            )
        current: List[Text] = []
        current_units = 0
        for sentence in sentences:
            units = text_units(sentence)
            if current and current_units + units > size:
                passages.append((section.heading, _join(current)))
                carried: List[Text] = []
                carried_units = 0
                for previous in reversed(current):
                    u = text_units(previous)
                    if carried_units + u > overlap:
                        break
                    carried.insert(0, previous)
                    carried_units += u
                current, current_units = carried, carried_units
            current.append(sentence)
            current_units += units
        if current:
            passages.append((section.heading, _join(current)))
    chunks = []
    for index, (heading, passage) in enumerate(passages):
        titles = " — ".join(t for t in (document.title, heading) if t)
        chunk_id = hashlib.sha1(f"{document.source}#{index}".encode()).hexdigest()
        chunks.append(
            Chunk(
                id=chunk_id,
                source=document.source,
                title=document.title,
                heading=heading,
                index=index,
                text=f"{titles}\n{passage}",
                content_hash=document.content_hash,
            )
        )
    return chunks
