"""The answer cache: normalised question + knowledge-base version -> answer.

An in-process LRU here; Redis, shared by every replica, in
`bilingual_assistant/adapters/redis_cache.py`. The knowledge base's version is part of every
key, so answers computed before the documents changed are never served;
`drop_other_versions` frees their space. A cache that fails (Redis down) counts as
a miss and never fails the answer.
"""

from __future__ import annotations

import copy
import hashlib
import re
import threading
import time
import unicodedata
from collections import OrderedDict
from dataclasses import dataclass
from typing import Optional, Protocol, Text, Tuple

from bilingual_assistant.answers.models import AnswerPayload
from bilingual_assistant.config import CacheSettings

_TRAILING = re.compile(r"[\s?？!！。.,，;；~～]+$")


def normalise_question(text: Text) -> Text:
    """Folds width and case, collapses spaces and drops trailing punctuation."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = " ".join(text.split())
    return _TRAILING.sub("", text)


def cache_key(question: Text, language: Text, version: Text) -> Text:
    """The key of a question's answer under a knowledge-base version."""
    digest = hashlib.sha256(f"{language}\n{normalise_question(question)}".encode()).hexdigest()
    return f"{version}:{digest[:32]}"


@dataclass
class CacheStats:
    """Hit and miss counters."""

    hits: int = 0
    misses: int = 0

    @property
    def hit_rate(self) -> float:
        """Share of lookups that hit."""
        total = self.hits + self.misses
        return self.hits / total if total else 0.0


class AnswerCache(Protocol):
    """Stores answers by key; never raises (a failure is a miss)."""

    async def get(self, key: Text) -> Optional[AnswerPayload]:
        """The cached answer, or None."""
        ...

    async def set(self, key: Text, value: AnswerPayload) -> None:
        """Stores an answer."""
        ...

    async def drop_other_versions(self, version: Text) -> int:
        """Removes answers of other knowledge-base versions; returns how many."""
        ...

    async def stats(self) -> CacheStats:
        """Hits and misses."""
        ...


class LRUAnswerCache:
    """In-process least-recently-used cache with a time to live."""

    def __init__(
        self,
        max_entries: int = CacheSettings.max_entries,
        ttl_seconds: float = CacheSettings.ttl_seconds,
    ) -> None:
        self.max_entries = max_entries
        self.ttl_seconds = ttl_seconds
        self._items: OrderedDict[Text, Tuple[float, AnswerPayload]] = OrderedDict()
        self._lock = threading.Lock()
        self._stats = CacheStats()

    async def get(self, key: Text) -> Optional[AnswerPayload]:
        """The cached answer, or None (expired entries are dropped)."""
        with self._lock:
            item = self._items.get(key)
            if item is None or item[0] < time.monotonic():
                if item is not None:
                    del self._items[key]
                self._stats.misses += 1
                return None
            self._items.move_to_end(key)
            self._stats.hits += 1
            return copy.deepcopy(item[1])

    async def set(self, key: Text, value: AnswerPayload) -> None:
        """Stores an answer, evicting the least recently used beyond the limit."""
        with self._lock:
            self._items[key] = (time.monotonic() + self.ttl_seconds, copy.deepcopy(value))
            self._items.move_to_end(key)
            while len(self._items) > self.max_entries:
                self._items.popitem(last=False)

    async def drop_other_versions(self, version: Text) -> int:
        """Removes answers computed under other knowledge-base versions."""
        with self._lock:
            stale = [k for k in self._items if not k.startswith(f"{version}:")]
            for key in stale:
                del self._items[key]
        return len(stale)

    async def stats(self) -> CacheStats:
        """Hits and misses since start."""
        return CacheStats(self._stats.hits, self._stats.misses)

    def __len__(self) -> int:
        return len(self._items)
