"""Retrieval-augmented answers: retrieve, ask the LLM, fall back to extraction, cache."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Protocol, Sequence, Text, Tuple

from bilingual_assistant.answers.answerability import (
    ANSWER,
    NOT_FOUND,
    RERANK_CANDIDATES,
    UNSURE,
    AnswerabilityModel,
    features,
    reordered,
)
from bilingual_assistant.answers.cache import AnswerCache, cache_key
from bilingual_assistant.answers.context import joined_retry, resolve_question
from bilingual_assistant.answers.curated import CuratedAnswers
from bilingual_assistant.answers.extractive import (
    RankedSentence,
    best_of_passage,
    quote,
    rank_sentences,
)
from bilingual_assistant.answers.grounding import echoes_question, ungrounded
from bilingual_assistant.answers.messages import message
from bilingual_assistant.answers.models import CLAIM_MODES, Answer, Source, Turn
from bilingual_assistant.answers.prompts import (
    PROMPT_VERSION,
    build_messages,
    says_not_found,
    stop_sequences,
)
from bilingual_assistant.answers.screening import screen
from bilingual_assistant.errors import (
    AssistantError,
    ConfigurationError,
    LLMError,
    ModelBusyError,
    StoreError,
)
from bilingual_assistant.knowledge.access import EVERYONE, Reader
from bilingual_assistant.knowledge.embedder import Embedder, similarities
from bilingual_assistant.knowledge.retrieval import Passage
from bilingual_assistant.llm.chat import ChatModel
from bilingual_assistant.metrics import NoRecorder, Recorder
from bilingual_assistant.text import HAN, LANGUAGES

logger = logging.getLogger(__name__)

_LATIN_WORD = re.compile(r"[A-Za-z]{2,}")
_BLANK_LINES = re.compile(r"\n\s*\n+")
_CITATION = re.compile(r"\[(\d+)\]")
VERSION_TTL_SECONDS = 2.0
# Passages given to the model.
MAX_PASSAGES = 2
# Of each passage given to the model, its best sentences up to this many units
# (Chinese characters or English words); None gives whole passages.
FOCUS_UNITS: Optional[int] = 60
# How the model takes part: `generate` (it writes the answer) or `quote` (it reads
# the passages and says whether they answer the question; the reply quotes the
# best-ranked sentences). Measured with the embedded 1.5B model on the answer
# benchmark's tune half: its own wording was right less often than the quote.
ANSWER_STYLES = ("generate", "quote")
# In `quote` style only the start of the reply is read ("I don't know.", "[1] 不知道。").
QUOTE_TOKENS = 16
# Passages offered as leads in an unsure reply.
LEADS = 2
# Best-ranked sentences the verifier reads (about 15 ms each on 2 cores, INT8).
VERIFY_CANDIDATES = 8


class SentenceVerifier(Protocol):
    """Reads a question and each candidate sentence together and scores whether the
    sentence answers it (`OnnxCrossEncoder` in production)."""

    def scores(self, question: Text, sentences: Sequence[Text]) -> List[float]:
        """A probability per sentence, in their order.

        Raises:
            EncoderLoadError: if its files are missing or broken.
        """
        ...


class PassageSearch(Protocol):
    """What answers need from retrieval (`Retriever` in production)."""

    def search(self, query: Text, *, reader: Reader = EVERYONE) -> List[Passage]:
        """The best passages `reader` may read, best first; empty when nothing is
        relevant.

        Raises:
            StoreError: if the knowledge store cannot be searched.
        """
        ...


def _usable(text: Text, language: Text) -> bool:
    """Rejects empty, wrong-language or looping model output."""
    if len(_CITATION.sub("", text).strip(" .。，,;；")) < 2:
        return False  # empty, or only citations
    if language == "zh" and not HAN.search(text) and len(_LATIN_WORD.findall(text)) >= 3:
        return False
    if language == "en" and len(HAN.findall(text)) > len(text) / 4:
        return False
    words = text.split()
    return not (len(words) > 12 and len(set(words)) < len(words) / 3)


def format_reply(answer: Answer) -> Text:
    """The answer with its numbered sources (or an unsure reply with its leads), as
    sent to the user."""
    if not answer.sources:
        return answer.text
    lines = [f"[{s.number}] {s.title} ({s.source})" for s in answer.sources]
    # One message: Rasa's output channels split a text at blank lines.
    if answer.mode == "unsure":  # the text ends with "These passages may help:"
        return f"{answer.text}\n" + "\n".join(lines)
    label = message("sources", answer.language)
    return f"{answer.text}\n{label}:\n" + "\n".join(lines)


@dataclass(frozen=True)
class Assessment:
    """What one retrieval found and how likely its best sentences answer.

    `ranked` starts with the sentence to quote (the model's choice among the
    candidates, else the best-ranked); `candidates` holds the features of each
    candidate as the one to quote, in ranking order (`ranked` before the choice:
    `unchosen`)."""

    passages: List[Passage]
    ranked: List[RankedSentence]
    features: Dict[Text, float]
    probability: Optional[float]  # None without an answerability model
    decision: Optional[Text]  # ANSWER, UNSURE or NOT_FOUND; None without a model
    candidates: List[Dict[Text, float]] = field(default_factory=list)
    unchosen: List[RankedSentence] = field(default_factory=list)


class AnswerService:
    """Answers questions from the knowledge base."""

    def __init__(
        self,
        retriever: PassageSearch,
        cache: AnswerCache,
        version: Callable[[], Text],
        llm: Optional[ChatModel] = None,
        llm_languages: Sequence[Text] = LANGUAGES,
        max_passages: int = MAX_PASSAGES,
        embedder: Optional[Embedder] = None,
        focus_units: Optional[int] = FOCUS_UNITS,
        answer_style: Text = "generate",
        clear_match: Optional[float] = None,
        curated: Optional[CuratedAnswers] = None,
        recorder: Optional[Recorder] = None,
        answerability: Optional[AnswerabilityModel] = None,
        verifier: Optional[SentenceVerifier] = None,
    ) -> None:
        """Args:
        retriever: finds passages.
        cache: the answer cache.
        version: returns the knowledge base's current version (cache keys use it);
            may raise `StoreError`.
        llm: the chat model; None answers extractively only.
        llm_languages: languages the model answers well; others are extractive.
        max_passages: passages given to the model.
        embedder: ranks sentences by meaning for extractive answers and for what
            the model reads; None ranks the best passage's sentences by shared words
            and gives the model whole passages.
        focus_units: with an embedder, the model reads the `max_passages` passages
            holding the best-ranked sentences, each cut to its best sentences up to
            this many units; None gives the best passages whole.
        answer_style: one of `ANSWER_STYLES`.
        clear_match: when the model says the passages do not answer but the best
            passage is at least this similar to the question (cosine), the best
            sentences are quoted anyway; None trusts the model's refusals.
        curated: administrators' answers, served before anything else for the same
            or a very similar question.
        recorder: where answers by mode, cache look-ups, retrieval time and errors go.
        answerability: decides from measured scores whether the best sentences
            answer (an answer), may not (leads, "not sure") or do not ("not in the
            documents"), whether or not the LLM is free; None (untrained) keeps the
            earlier rules: the LLM's refusal in `quote` and `generate` style, and
            `clear_match`; and turns every routed-in message away.
        verifier: reads each of the `VERIFY_CANDIDATES` best-ranked sentences with
            the question; its probabilities are features of an answerability model
            trained with them, which then chooses the sentence to quote among the
            best `RERANK_CANDIDATES`. None: the best-ranked sentence is judged.

        Raises:
            ConfigurationError: for an unknown answer style, or an answerability
                model trained with a verifier's scores when there is no verifier.
        """
        if answer_style not in ANSWER_STYLES:
            raise ConfigurationError(
                f"Unknown answer style {answer_style!r}: set ANSWER_STYLE to one of "
                f"{', '.join(ANSWER_STYLES)}.")
        self.retriever = retriever
        self.cache = cache
        self._version = version
        self.llm = llm
        self.llm_languages = tuple(llm_languages)
        self.max_passages = max_passages
        self.embedder = embedder
        self.focus_units = focus_units
        self.answer_style = answer_style
        self.clear_match = clear_match
        self.curated = curated
        self.recorder = recorder or NoRecorder()
        self.answerability = answerability
        self.verifier = verifier
        if answerability is not None and answerability.uses_verifier and verifier is None:
            raise ConfigurationError(
                "The answerability model was trained with the verifier's scores, but no "
                "verifier is configured: train the verifier (`make verifier`) or retrain "
                "the model without it (`make answerability`).")
        self._cached_version: Optional[Text] = None
        self._version_checked = 0.0

    async def version(self) -> Text:
        """The knowledge base's version, checked at most every two seconds.

        A new version drops the cache's answers of older versions.
        """
        now = time.monotonic()
        if self._cached_version is None or now - self._version_checked > VERSION_TTL_SECONDS:
            version = await asyncio.to_thread(self._version)
            if self._cached_version is not None and version != self._cached_version:
                dropped = await self.cache.drop_other_versions(version)
                logger.info("answers.kb_changed", extra={"version": version, "dropped": dropped})
            self._cached_version, self._version_checked = version, now
        return self._cached_version

    async def answer(self, question: Text, history: Sequence[Turn], language: Text,
                     routed: bool = False, reader: Reader = EVERYONE) -> Answer:
        """Answers a question; never raises for a service that is down.

        Args:
            question: the user's latest message.
            history: earlier turns, oldest first.
            language: `zh` or `en`, decided once per turn by the caller.
            routed: the NLU took the message for off-topic or could not place it:
                it is answered only when the documents clearly answer it, and gets
                the out-of-scope reply otherwise (never "not sure" or "not in the
                documents", which would treat small talk as a question).
            reader: who asks: only the documents they may read are searched, quoted
                or cited, and their answers are cached apart from other groups'.

        Returns:
            The answer, with sources unless nothing relevant was found; mode
            `unavailable` (and a polite text) when the knowledge store failed.
        """
        answer = await self._reply(question, history, language, routed, reader)
        self.recorder.count("assistant_answers_total", mode=answer.mode,
                            cached=str(answer.cached).lower())
        return answer

    async def _reply(self, question: Text, history: Sequence[Turn], language: Text,
                     routed: bool = False, reader: Reader = EVERYONE) -> Answer:
        """`answer` without counting it."""
        reason = screen(question)
        if reason is not None:
            logger.info("answers.declined", extra={"reason": reason, "characters": len(question)})
            return Answer(message(reason, language), mode="declined", language=language)
        query = resolve_question(question, history)
        if not query:
            return Answer(message("empty", language), language=language, query=query)
        curated = await self._curated(query, language, reader)
        if curated is not None:
            return curated
        if routed and self.answerability is None:
            # Untrained: no measured bar to clear, so the NLU's word stands.
            return self._out_of_scope(query, language)
        try:
            return await self._answer(query, language, joined_retry(question, history),
                                      question.strip(), routed, reader)
        except StoreError as error:
            logger.error("answers.store_unavailable", extra={"error": str(error)})
            self.recorder.count("assistant_errors_total", type=type(error).__name__,
                                where="answers")
            return Answer(message("unavailable", language), mode="unavailable",
                          language=language, query=query)

    def _out_of_scope(self, query: Text, language: Text) -> Answer:
        return Answer(message("out_of_scope", language), mode="out_of_scope",
                      language=language, query=query)

    async def _curated(self, query: Text, language: Text,
                       reader: Reader) -> Optional[Answer]:
        """An administrator's answer to this question, if there is one; a database
        that cannot be read is logged and skipped, never fails the answer."""
        if self.curated is None:
            return None
        try:
            found = await asyncio.to_thread(self.curated.find, query, language, reader)
        except AssistantError as error:
            logger.warning("answers.curated_unavailable", extra={"error": str(error)})
            return None
        if found is None:
            return None
        logger.info("answers.curated", extra={"language": language, "curated": found.id})
        return Answer(found.answer, [], "curated", language, False, query)

    def _cache_version(self, version: Text, routed: bool, reader: Reader) -> Text:
        """What besides the question decides an answer: the knowledge base, the
        prompt, the answerability model, whether the message was routed in, and
        which documents the asker may read."""
        model = self.answerability.fingerprint if self.answerability is not None else "rules"
        return (f"{version}.{PROMPT_VERSION}.{model}{'.routed' if routed else ''}"
                f".{reader.scope}")

    async def _answer(self, query: Text, language: Text, retry: Optional[Text] = None,
                      latest: Optional[Text] = None, routed: bool = False,
                      reader: Reader = EVERYONE) -> Answer:
        """The answer to `query`; `retry` (the query joined to the earlier question)
        is answered instead when `query` finds nothing. `latest` is the user's own
        message, when `query` joins it to an earlier question."""
        version = await self.version()
        key = cache_key(query, language, self._cache_version(version, routed, reader))
        cached = await self.cache.get(key)
        no_claim = ("not_found", "unsure", "out_of_scope")
        if cached is not None and not (retry and cached.get("mode") in no_claim):
            logger.info("answers.cache_hit", extra={"language": language})
            self.recorder.count("assistant_answer_cache_total", result="hit")
            answer = Answer.from_payload(cached)
            return Answer(answer.text, answer.sources, answer.mode, language, True, query)
        self.recorder.count("assistant_answer_cache_total", result="miss")
        passages = [] if cached is not None else await self._search(query, reader)
        if not passages and retry:
            logger.info("answers.retry_joined", extra={"language": language})
            return await self._answer(retry, language, latest=latest, routed=routed,
                                      reader=reader)
        lasting = True
        if not passages:
            answer = (self._out_of_scope(query, language) if routed else
                      Answer(message("not_found", language), language=language, query=query))
        else:
            assessment = await asyncio.to_thread(
                self._assess_passages, query, passages, latest)
            if (retry and assessment.decision is not None and assessment.decision != ANSWER):
                # "那周末呢?" alone finds passages about something else.
                joined = await self._answer(retry, language, latest=latest, routed=routed,
                                            reader=reader)
                if joined.mode in CLAIM_MODES:
                    return joined
            answer, lasting = await self._grounded(query, assessment, language, routed)
        if lasting:
            # Without the question: a cache shared by everyone holds no one's words
            # (a hit takes the asker's own query), so forgetting a person need not
            # reach it.
            await self.cache.set(key, {**answer.to_payload(), "query": ""})
        logger.info(
            "answers.answered",
            extra={"mode": answer.mode, "language": language, "passages": len(passages),
                   "sources": ",".join(s.source for s in answer.sources),
                   "cached": lasting, "routed": routed},
        )
        return answer

    async def assess(self, query: Text, latest: Optional[Text] = None,
                     reader: Reader = EVERYONE) -> Assessment:
        """Searches and scores without answering (the answerability model's training
        and benchmarks measure exactly what `answer` decides on).

        Args:
            query: what is searched (for a follow-up, joined to the earlier question:
                `resolve_question`).
            latest: for a follow-up, the user's own message, as `answer` passes it.

        Raises:
            StoreError: if the knowledge store cannot be searched.
        """
        passages = await self._search(query, reader)
        return await asyncio.to_thread(self._assess_passages, query, passages, latest)

    def _assess_passages(self, query: Text, passages: List[Passage],
                         latest: Optional[Text] = None) -> Assessment:
        # `latest` counts only when it differs from what was searched (a follow-up
        # joined to its question).
        ranked = self._rank(query, passages, latest if latest != query else None)
        verified: Optional[List[float]] = None
        if self.verifier is not None:  # nothing ranked: its features are 0
            verified = list(self.verifier.scores(
                query, [r.text for r in ranked[:VERIFY_CANDIDATES]])) if ranked else []
        if self.answerability is not None:
            count = self.answerability.candidates
        else:  # what a model trained on these assessments would choose among
            count = RERANK_CANDIDATES if verified is not None else 1
        scored = [features(query, passages, ranked, verified, i)
                  for i in range(max(1, min(count, len(ranked))))]
        if self.answerability is None or not passages:
            return Assessment(passages, ranked, scored[0], None,
                              None if passages or self.answerability is None else NOT_FOUND,
                              scored, ranked)
        index, probability = self.answerability.choose(scored)
        decision = self.answerability.decide(probability)
        logger.info("answers.assessed", extra={"probability": round(probability, 3),
                                               "decision": decision, "chosen": index})
        return Assessment(passages, reordered(ranked, index), scored[index], probability,
                          decision, scored, ranked)

    async def _search(self, query: Text, reader: Reader) -> List[Passage]:
        """The retriever's passages that `reader` may read, timed."""
        started = time.perf_counter()
        try:
            return await asyncio.to_thread(self.retriever.search, query, reader=reader)
        finally:
            self.recorder.observe("assistant_retrieval_seconds", time.perf_counter() - started)

    async def _grounded(self, query: Text, assessment: Assessment, language: Text,
                        routed: bool = False) -> Tuple[Answer, bool]:
        """The reply the assessment allows, and whether it may be cached (not when
        it fell back because the model could not be reached: that passes).

        With an answerability model: below its bar, "not in the documents"; in
        between, "not sure" with the passages as leads (a routed-in message gets
        the out-of-scope reply below its answer bar, except in the upper part of
        the "not sure" band, `decide_routed`); above it, the answer: the LLM's in `generate` style,
        else the best sentences quoted. Without one, the earlier rules
        (`_grounded_by_rules`)."""
        passages, ranked = assessment.passages, assessment.ranked
        if assessment.decision is None:
            return await self._grounded_by_rules(query, passages, ranked, language)
        if routed and assessment.decision != ANSWER:
            # Off-topic to the NLU: "not sure" with leads only in the band where
            # measured off-topic messages rarely score; the out-of-scope reply below.
            assert self.answerability is not None and assessment.probability is not None
            if self.answerability.decide_routed(assessment.probability) != UNSURE:
                return self._out_of_scope(query, language), True
        if assessment.decision != ANSWER:
            if assessment.decision == NOT_FOUND:
                return Answer(message("not_found", language), language=language,
                              query=query), True
            return self._unsure(query, passages, ranked, language), True
        lasting = True
        if (self.answer_style == "generate" and self.llm is not None
                and language in self.llm_languages):
            given = self._given(passages, ranked)
            try:
                completion = await self.llm.complete(
                    build_messages(query, given, language), stop=stop_sequences(language))
            except ModelBusyError:
                logger.info("answers.llm_busy", extra={"language": language})
                lasting = False
            except LLMError as error:
                logger.warning("answers.llm_failed", extra={"error": str(error)})
                self.recorder.count("assistant_errors_total", type=type(error).__name__,
                                    where="answers")
                lasting = False
            else:
                text = _BLANK_LINES.sub("\n", completion.text.strip())
                if says_not_found(text):
                    # The scores said yes, the model no: no claim either way.
                    return self._unsure(query, passages, ranked, language), True
                answer = self._checked(text, query, given, language)
                if answer is not None:
                    return answer, True
        return self._quoted(query, passages, ranked, language, "extractive"), lasting

    def _quoted(self, query: Text, passages: List[Passage], ranked: List[RankedSentence],
                language: Text, mode: Text) -> Answer:
        """The best-ranked sentences, quoted with their source."""
        index, text = quote(ranked, query, [p.chunk.passage for p in passages])
        # One source, so it is [1] whichever retrieved passage it was (a lone "[3]"
        # has the reader looking for 1 and 2).
        return Answer(f"{message('extractive_intro', language)} {text} [1]",
                      _renumbered(_sources(passages, [index + 1])), mode, language, False,
                      query)

    def _unsure(self, query: Text, passages: List[Passage], ranked: List[RankedSentence],
                language: Text) -> Answer:
        """No claim: the passages holding the best-ranked sentences, as leads."""
        order: List[int] = []
        for sentence in ranked:
            if sentence.passage not in order:
                order.append(sentence.passage)
        order = order or list(range(len(passages)))
        return Answer(message("unsure", language),
                      _renumbered(_sources(passages, [i + 1 for i in order])[:LEADS]),
                      "unsure", language, False, query)

    async def _grounded_by_rules(
        self, query: Text, passages: List[Passage], ranked: List[RankedSentence],
        language: Text,
    ) -> Tuple[Answer, bool]:
        """The earlier rules, without an answerability model: the LLM's refusal
        decides (overruled by `clear_match`), else the answer is sent.

        The model reads the passages holding the best-ranked sentences; an
        extractive answer may come from any retrieved passage (the answer sentence is
        in the third or fourth passage for 6 % of the answer benchmark's tune half)."""
        lasting = True
        mode = "extractive"
        if self.llm is not None and language in self.llm_languages:
            given = self._given(passages, ranked)
            quoting = self.answer_style == "quote"
            try:
                completion = await self.llm.complete(
                    build_messages(query, given, language), stop=stop_sequences(language),
                    max_tokens=QUOTE_TOKENS if quoting else None,
                )
            except ModelBusyError:
                # Answered from the passage at once; not cached, so the question gets
                # the model's answer once the model is free.
                logger.info("answers.llm_busy", extra={"language": language})
                lasting = False
            except LLMError as error:
                logger.warning("answers.llm_failed", extra={"error": str(error)})
                self.recorder.count("assistant_errors_total", type=type(error).__name__,
                                    where="answers")
                lasting = False
            else:
                # No blank lines: Rasa's channels would send each paragraph apart.
                text = _BLANK_LINES.sub("\n", completion.text.strip())
                if says_not_found(text):
                    best = max((p.similarity for p in passages if p.similarity is not None),
                               default=0.0)
                    if self.clear_match is None or best < self.clear_match:
                        return Answer(message("not_found", language), language=language,
                                      query=query), True
                    # The best sentences are quoted (mode `extractive`).
                    logger.info("answers.refusal_overruled", extra={"similarity": round(best, 3)})
                elif quoting:
                    mode = "quoted" if text else mode
                else:
                    answer = self._checked(text, query, given, language)
                    if answer is not None:
                        return answer, True
        return self._quoted(query, passages, ranked, language, mode), lasting

    def _rank(self, query: Text, passages: List[Passage],
              latest: Optional[Text] = None) -> List[RankedSentence]:
        """The passages' sentences ranked as answers (empty without an embedder)."""
        if self.embedder is None:
            return []
        embedder = self.embedder
        return rank_sentences(
            query, [p.chunk.passage for p in passages],
            lambda question, sentences: similarities(embedder, question, sentences),
            latest)

    def _given(self, passages: List[Passage], ranked: List[RankedSentence]) -> List[Passage]:
        """What the model reads: the best passages whole, or, with ranked sentences
        and `focus_units`, the passages holding the best sentences, cut to them."""
        if not ranked or self.focus_units is None:
            return passages[: self.max_passages]
        order: List[int] = []
        for sentence in ranked:
            if sentence.passage not in order:
                order.append(sentence.passage)
            if len(order) == self.max_passages:
                break
        given = []
        for index in order:
            passage = passages[index]
            titles = passage.chunk.text.split("\n", 1)[0]
            text = best_of_passage(ranked, index, self.focus_units, fill=1.0)
            given.append(dataclasses.replace(
                passage, chunk=dataclasses.replace(passage.chunk, text=f"{titles}\n{text}")))
        return given

    def _checked(
        self, text: Text, query: Text, passages: List[Passage], language: Text
    ) -> Optional[Answer]:
        """The model's answer if it can be sent, else None (extract instead)."""
        if not _usable(text, language):
            # Counts, never the text: a reply can repeat what the person typed.
            logger.info("answers.llm_output_rejected", extra={"characters": len(text)})
            return None
        invented = ungrounded(text, [p.chunk.text for p in passages])
        if invented:
            # An address, link, number or figure the documents do not hold: the
            # model made it up or obeyed an instruction it was given. Not sent.
            logger.warning("answers.llm_output_ungrounded", extra={"items": len(invented)})
            return None
        if echoes_question(text, query, [p.chunk.text for p in passages]):
            # Words the question dictated ("reply only with ..."), not the documents'.
            logger.warning("answers.llm_output_echoes_question",
                           extra={"characters": len(text)})
            return None
        cited = {int(n) for n in _CITATION.findall(text)} & set(range(1, len(passages) + 1))
        return Answer(text, _sources(passages, sorted(cited) or [1]), "llm", language, False,
                      query)


def _sources(passages: Sequence[Passage], numbers: Sequence[int]) -> List[Source]:
    """The passages behind the given citation numbers, one entry per document."""
    sources: List[Source] = []
    seen = set()
    for number in numbers:
        chunk = passages[number - 1].chunk
        if chunk.source in seen:
            continue
        seen.add(chunk.source)
        sources.append(Source(number, chunk.title, chunk.source))
    return sources


def _renumbered(sources: Sequence[Source]) -> List[Source]:
    """The sources numbered 1, 2, … in the order shown (for replies whose text cites
    no passage number but [1] or none)."""
    return [Source(number, s.title, s.source) for number, s in enumerate(sources, start=1)]
