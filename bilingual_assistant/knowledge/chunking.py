"""Chinese-aware chunking with overlap that keeps each chunk's titles."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import List, Text, Tuple

from bilingual_assistant.config import KnowledgeSettings
from bilingual_assistant.errors import ConfigurationError
from bilingual_assistant.knowledge.documents import Document
from bilingual_assistant.text import join_sentences, split_sentences, text_units, unit_matches


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
        readers: the groups that may read the document; empty: everyone.
    """

    id: Text
    source: Text
    title: Text
    heading: Text
    index: int
    text: Text
    content_hash: Text
    readers: Tuple[Text, ...] = ()

    @property
    def passage(self) -> Text:
        """The passage without its title line."""
        return self.text.split("\n", 1)[1] if "\n" in self.text else self.text


def _hard_split(sentence: Text, size: int) -> List[Text]:
    """Cuts a sentence longer than `size` units into pieces of `size` units."""
    pieces: List[Text] = []
    matches = unit_matches(sentence)
    start = 0
    for i in range(size, len(matches), size):
        cut = matches[i].start()
        pieces.append(sentence[start:cut].strip())
        start = cut
    pieces.append(sentence[start:].strip())
    return [p for p in pieces if p]


def chunk_document(
    document: Document,
    size: int = KnowledgeSettings.chunk_size,
    overlap: int = KnowledgeSettings.chunk_overlap,
) -> List[Chunk]:
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
        raise ConfigurationError(
            f"Chunk overlap ({overlap}) must be >= 0 and smaller than the chunk size ({size}): "
            "set CHUNK_OVERLAP below CHUNK_SIZE."
        )
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
                passages.append((section.heading, join_sentences(current)))
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
            passages.append((section.heading, join_sentences(current)))
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
                readers=document.readers,
            )
        )
    return chunks
