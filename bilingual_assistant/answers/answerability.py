"""Whether the retrieved sentences answer the question: one calibrated score.

The decision that matters most for trust (answer, say "not sure", or say "not in
the documents") rests on a probability from a small logistic model over measured
features of the question, the retrieved passages and the chosen sentences, never
on the embedded LLM's text, so it is the same whether the model is free, busy or
down. The model is trained by `python -m apps.cli.answerability` on questions
whose answers are known (the project's tune half, and public reading-comprehension
paragraphs where given, with unanswerable questions made by leaving their own
paragraph out of the index); its two thresholds are chosen on out-of-fold scores
of that data for stated rates (see `choose_thresholds`).
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Text, Tuple

from bilingual_assistant.answers.answer_types import asked_types, holds_asked_type
from bilingual_assistant.answers.extractive import RankedSentence, terms
from bilingual_assistant.errors import ModelFileError
from bilingual_assistant.knowledge.retrieval import RRF_K, Passage

# Characters of Chinese question and function words: a bigram holding one says
# how something is asked ("多少", "可以", "什么"), not what it is about.
_FUNCTION_HAN = set(
    "的了吗呢吧啊呀么什怎哪那几多少是否在有和与或及可以能会要请问如何为谁啥咋该把被给让从到对")
# Sentences around the best one that count as its context.
NEIGHBOURS = 1

BASE_FEATURES = (
    "dense_top",  # cosine similarity of the question with the best dense match
    "sentence_cosine",  # ... with the best-ranked sentence
    "sentence_score",  # the best sentence's ranking score (meaning + shared rare words)
    "score_margin",  # its lead over the second-best sentence
    "fused_top",  # the best sentence's passage's fused rank (2: first in both searches)
    "topic_coverage",  # share of the question's topic terms in the retrieved passages
    "passage_coverage",  # ... in the best sentence's passage
    "sentence_coverage",  # ... in the best sentence and its neighbours
    "missing_terms",  # topic terms found in no retrieved passage (log 1+n)
    "type_match",  # 1 if the question asks for a kind of value (answer_types.py) and
    # the sentence holds one
    "question_units",  # log of the question's length
)
# With a verifier (a cross-encoder that reads the question and each candidate
# sentence together) the model also chooses the sentence: each of the
# `RERANK_CANDIDATES` best-ranked sentences is scored as if it were quoted, with
# where it stood in the ranking and the verifier's probability for it, and the
# most probable one is quoted.
CANDIDATE_FEATURES = (
    "rank",  # log(1 + its place in the ranking), 0 for the best-ranked sentence
    "gap_to_top",  # the best-ranked sentence's score minus its own
    "passage_rank",  # its passage's place among the retrieved passages
)
VERIFIER_FEATURES = (
    "verifier_score",  # the verifier's probability that it answers the question
    "verifier_margin",  # ... minus the highest among the other candidates
)
FEATURES = BASE_FEATURES + CANDIDATE_FEATURES + VERIFIER_FEATURES
# Chosen on out-of-fold scores of the tune halves with the verifier
# (`python -m apps.cli.answerability --candidates N`, the verifier of `make
# verifier`): see docs/answers.md for the figures.
RERANK_CANDIDATES = 5


# English words that say how something is asked ("how many", "how long", "what's",
# "do I need"), not what it is about: counted as topic terms they were "missing" from
# the documents for right questions too ("how many days of annual leave do I get?"
# missed "many"), which blurred what a missing term means ("paternity").
_FUNCTION_EN = frozenset("""many much long often get gets got getting need needs needed
    what's whats i've ive i'm im i'd id it's there's don't can't someone somebody anyone
    anybody something anything happens happen now again also still please tell know
    want like""".split())


def topic_terms(question: Text) -> List[Text]:
    """The question's key terms without Chinese question-word bigrams and English
    question words."""
    return sorted(t for t in terms(question)
                  if t not in _FUNCTION_EN
                  and not (len(t) == 2 and (t[0] in _FUNCTION_HAN or t[1] in _FUNCTION_HAN)
                           and not t.isascii()))


def _coverage(wanted: Sequence[Text], text: Text) -> float:
    if not wanted:
        return 0.0
    found = terms(text)
    return sum(1 for t in wanted if t in found) / len(wanted)


def features(question: Text, passages: Sequence[Passage],
             ranked: Sequence[RankedSentence],
             verified: Optional[Sequence[float]] = None,
             candidate: int = 0) -> Dict[Text, float]:
    """The measured features of one retrieval with `ranked[candidate]` as the sentence
    to quote, by name (`BASE_FEATURES` and `CANDIDATE_FEATURES`, and
    `VERIFIER_FEATURES` when `verified` is given).

    Args:
        question: what was searched (resolved against earlier turns).
        passages: the retrieved passages, best first (may be empty).
        ranked: their sentences ranked as answers, best first (may be empty).
        verified: the verifier's probabilities of the first sentences of `ranked`,
            in that order, or None without a verifier.
        candidate: which of `ranked` would be quoted (0: the best-ranked).
    """
    ranked = reordered(ranked, candidate)
    wanted = topic_terms(question)
    asked = asked_types(question)
    texts = [p.chunk.passage for p in passages]
    everything = "\n".join(texts)
    best = ranked[0] if ranked else None
    passage_text = texts[best.passage] if best is not None else (texts[0] if texts else "")
    context = ""
    if best is not None:
        around = sorted((r for r in ranked if r.passage == best.passage
                         and abs(r.position - best.position) <= NEIGHBOURS),
                        key=lambda r: r.position)
        context = " ".join(r.text for r in around)
    found = terms(everything)
    missing = sum(1 for t in wanted if t not in found)
    similarities = [p.similarity for p in passages if p.similarity is not None]
    fused = passages[best.passage].score if best is not None else (
        passages[0].score if passages else 0.0)
    top_score = max((r.score for r in ranked), default=0.0)
    named = {
        "dense_top": max(similarities, default=0.0),
        "sentence_cosine": best.cosine if best is not None else 0.0,
        "sentence_score": best.score if best is not None else 0.0,
        "score_margin": (ranked[0].score - ranked[1].score) if len(ranked) > 1 else (
            best.score if best is not None else 0.0),
        "fused_top": min(fused * RRF_K, 2.0),
        "topic_coverage": _coverage(wanted, everything),
        "passage_coverage": _coverage(wanted, passage_text),
        "sentence_coverage": _coverage(wanted, context),
        "missing_terms": math.log1p(missing),
        "type_match": float(bool(asked) and best is not None
                            and holds_asked_type(best.text, asked)),
        "question_units": math.log1p(len(wanted)),
        "rank": math.log1p(candidate) if best is not None else 0.0,
        "gap_to_top": top_score - best.score if best is not None else 0.0,
        "passage_rank": float(best.passage) if best is not None else 0.0,
    }
    if verified is not None:
        own = float(verified[candidate]) if candidate < len(verified) else 0.0
        others = [float(v) for i, v in enumerate(verified) if i != candidate]
        named["verifier_score"] = own
        named["verifier_margin"] = own - max(others, default=0.0)
    return named


def reordered(ranked: Sequence[RankedSentence], candidate: int) -> List[RankedSentence]:
    """`ranked` with its `candidate`-th sentence first, the others in their order."""
    if not 0 < candidate < len(ranked):
        return list(ranked)
    return [ranked[candidate], *ranked[:candidate], *ranked[candidate + 1:]]


def vector(named: Mapping[Text, float], names: Sequence[Text] = BASE_FEATURES) -> List[float]:
    """The features in `names` order."""
    return [float(named[name]) for name in names]


# The three decisions, by probability: at least `answer_threshold` answers; below
# `not_found_threshold` says "not in the documents"; in between says "not sure"
# and offers the passages as leads.
ANSWER, UNSURE, NOT_FOUND = "answer", "unsure", "not_found"


@dataclass(frozen=True)
class AnswerabilityModel:
    """A logistic model over standardised features, and its two thresholds.

    Attributes:
        weights: one per feature, in `features` order.
        bias: the intercept.
        mean, scale: standardisation of each feature.
        answer_threshold: the probability from which the reply claims an answer.
        not_found_threshold: the probability below which it says "not in the
            documents"; at most `answer_threshold`.
        embedding_model: the embedder the features were measured with (cosines of
            another embedder mean something else).
        features: the feature names, as trained (`BASE_FEATURES`, or `FEATURES`
            with a verifier's).
        candidates: how many of the best-ranked sentences it chooses among (1:
            it judges the best-ranked one).
        routed_unsure_threshold: for a message the NLU took for off-topic or could
            not place, the probability from which it gets "not sure" with leads
            rather than the out-of-scope reply (None: only an answer or the
            out-of-scope reply).
        report: how it was trained and validated (counts, rates, the command).
    """

    weights: Tuple[float, ...]
    bias: float
    mean: Tuple[float, ...]
    scale: Tuple[float, ...]
    answer_threshold: float
    not_found_threshold: float
    embedding_model: Text
    features: Tuple[Text, ...] = BASE_FEATURES
    candidates: int = 1
    routed_unsure_threshold: Optional[float] = None
    report: Dict[Text, Any] = field(default_factory=dict, compare=False)

    def probability(self, named: Mapping[Text, float]) -> float:
        """P(the chosen sentences answer the question)."""
        z = self.bias + sum(
            w * (float(named[name]) - m) / s
            for w, name, m, s in zip(self.weights, self.features, self.mean, self.scale,
                                     strict=True))
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))

    def choose(self, scored: Sequence[Mapping[Text, float]]) -> Tuple[int, float]:
        """Which of the candidates' features (best-ranked first) to quote, and its
        probability: the most probable of the first `candidates` (ties: the
        better-ranked)."""
        best, best_p = 0, -1.0
        for index, named in enumerate(scored[:max(1, self.candidates)]):
            p = self.probability(named)
            if p > best_p:
                best, best_p = index, p
        return best, best_p

    def decide(self, probability: float) -> Text:
        """`ANSWER`, `UNSURE` or `NOT_FOUND`."""
        if probability >= self.answer_threshold:
            return ANSWER
        if probability < self.not_found_threshold:
            return NOT_FOUND
        return UNSURE

    def decide_routed(self, probability: float) -> Text:
        """For a routed-in message: `ANSWER`, `UNSURE` (in the "not sure" band and
        at least `routed_unsure_threshold`) or `NOT_FOUND` (the out-of-scope reply)."""
        decision = self.decide(probability)
        if decision == UNSURE and (self.routed_unsure_threshold is None
                                   or probability < self.routed_unsure_threshold):
            return NOT_FOUND
        return decision

    @property
    def uses_verifier(self) -> bool:
        """Whether it needs the verifier's features."""
        return set(VERIFIER_FEATURES) <= set(self.features)

    @property
    def fingerprint(self) -> Text:
        """Short hash of what decides (part of answer cache keys)."""
        decisive = json.dumps([self.features, self.weights, self.bias, self.mean, self.scale,
                               self.answer_threshold, self.not_found_threshold,
                               self.candidates, self.routed_unsure_threshold],
                              sort_keys=True)
        return hashlib.sha256(decisive.encode()).hexdigest()[:12]

    def save(self, path: Path) -> None:
        """Writes the model as JSON (a few hundred bytes, plus the report)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self), indent=2, ensure_ascii=False) + "\n",
                        encoding="utf-8")

    @classmethod
    def load(cls, path: Path, embedding_model: Optional[Text] = None) -> AnswerabilityModel:
        """Reads a saved model.

        Raises:
            ModelFileError: unreadable, of other features, or measured with another
                embedder than `embedding_model`; the message says how to retrain.
        """
        retrain = "retrain it with `make answerability`"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            model = cls(**{**data, "weights": tuple(data["weights"]),
                           "mean": tuple(data["mean"]), "scale": tuple(data["scale"]),
                           "features": tuple(data["features"])})
        except (OSError, ValueError, TypeError, KeyError) as error:
            raise ModelFileError(
                f"The answerability model {path} cannot be read ({error}): {retrain}."
            ) from error
        if model.features not in (BASE_FEATURES, FEATURES):
            raise ModelFileError(
                f"The answerability model {path} was trained on other features: {retrain}.")
        if embedding_model is not None and model.embedding_model != embedding_model:
            raise ModelFileError(
                f"The answerability model {path} was trained with the embedder "
                f"{model.embedding_model!r}, but EMBEDDING_MODEL is {embedding_model!r}: "
                f"{retrain}.")
        return model


def fit(rows: Sequence[Sequence[float]], labels: Sequence[int], l2: float = 1.0,
        iterations: int = 50, sample_weights: Optional[Sequence[float]] = None,
        ) -> Tuple[List[float], float, List[float], List[float]]:
    """Logistic regression by Newton's method on standardised features.

    Args:
        rows: feature vectors (`FEATURES` order).
        labels: 1 when the chosen sentences answer the question, else 0.
        l2: ridge penalty on the weights (not the intercept).
        iterations: Newton steps at most (it converges in about ten).
        sample_weights: how much each row counts (default 1 each).

    Returns:
        weights, bias, mean, scale.
    """
    import numpy as np

    x = np.asarray(rows, dtype=float)
    y = np.asarray(labels, dtype=float)
    w = np.ones(len(y)) if sample_weights is None else np.asarray(sample_weights, dtype=float)
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-9] = 1.0
    z = np.hstack([np.ones((len(x), 1)), (x - mean) / scale])
    beta = np.zeros(z.shape[1])
    penalty = np.eye(z.shape[1]) * l2
    penalty[0, 0] = 0.0
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-np.clip(z @ beta, -50, 50)))
        gradient = z.T @ (w * (p - y)) + penalty @ beta
        hessian = (z * (w * p * (1 - p))[:, None]).T @ z + penalty
        step = np.linalg.solve(hessian + np.eye(len(beta)) * 1e-9, gradient)
        beta -= step
        if np.abs(step).max() < 1e-8:
            break
    return list(beta[1:]), float(beta[0]), list(mean), list(scale)


def choose_thresholds(scores: Sequence[float], labels: Sequence[int],
                      unanswerable: Sequence[bool], claim_rate: float = 0.05,
                      miss_rate: float = 0.05) -> Tuple[float, float]:
    """The two thresholds, from validation scores.

    Args:
        scores: out-of-fold probabilities.
        labels: 1 when the chosen sentences answer the question.
        unanswerable: True for questions whose answer is not in the index.
        claim_rate: at most this share of unanswerable questions may score at or
            above the answer threshold (the goal: at least 95 % get no claimed
            answer).
        miss_rate: at most this share of questions with a right answer may score
            below the not-found threshold ("not in the documents" is rarely said
            of a question the documents answer).

    Returns:
        (answer_threshold, not_found_threshold), the second at most the first.
    """
    negatives = sorted((s for s, u in zip(scores, unanswerable, strict=True) if u),
                       reverse=True)
    positives = sorted(s for s, y in zip(scores, labels, strict=True) if y)
    answer = 0.5
    if negatives:
        allowed = int(math.floor(claim_rate * len(negatives)))
        # Just above the (allowed + 1)-th highest unanswerable score.
        answer = min(1.0, negatives[allowed] + 1e-6) if allowed < len(negatives) else 0.0
    not_found = 0.0
    if positives:
        allowed = int(math.floor(miss_rate * len(positives)))
        not_found = positives[allowed] if allowed < len(positives) else 1.0
    return answer, min(not_found, answer)


def routed_threshold(off_topic: Sequence[float], answer: float, not_found: float,
                     rate: float = 0.05) -> float:
    """The probability from which a routed-in message gets "not sure" rather than the
    out-of-scope reply: at most `rate` of the off-topic messages' probabilities reach
    it (and none that `not_found` would send away), never above `answer`."""
    ranked = sorted(off_topic, reverse=True)
    threshold = not_found
    if ranked:
        allowed = int(math.floor(rate * len(ranked)))
        if allowed < len(ranked):
            threshold = max(not_found, ranked[allowed] + 1e-6)
    return min(threshold, answer)


@dataclass(frozen=True)
class Example:
    """One labelled retrieval for training.

    Attributes:
        features: the measured features (`features`).
        answers: 1 when the chosen sentences hold the answer.
        unanswerable: the answer is not in the index at all.
        group: questions that share a paragraph or document share a fold.
        corpus: which document set it came from (reported apart).
        others: the features and label of the next best-ranked sentences as the
            one to quote (for a model that chooses among candidates).
    """

    features: Dict[Text, float]
    answers: int
    unanswerable: bool
    group: Text
    corpus: Text
    others: Tuple[Tuple[Dict[Text, float], int], ...] = ()

    def candidates(self, count: int) -> List[Tuple[Dict[Text, float], int]]:
        """The first `count` candidates' features and labels, best-ranked first."""
        return [(self.features, self.answers), *self.others][:max(1, count)]


def corpus_weights(examples: Sequence[Example]) -> List[float]:
    """Weights that give each corpus the same total (a public set with ten times the
    questions of a team's own would otherwise decide alone what the features mean)."""
    counts: Dict[Text, int] = {}
    for e in examples:
        counts[e.corpus] = counts.get(e.corpus, 0) + 1
    share = len(examples) / len(counts)
    return [share / counts[e.corpus] for e in examples]


def _fold(group: Text, folds: int) -> int:
    return int(hashlib.sha256(group.encode()).hexdigest(), 16) % folds


def _rows(examples: Sequence[Example], names: Sequence[Text], candidates: int
          ) -> Tuple[List[List[float]], List[int], List[float]]:
    """Every candidate of every example as a training row, its label, and its
    example's corpus weight."""
    weights = corpus_weights(examples)
    rows, labels, row_weights = [], [], []
    for example, weight in zip(examples, weights, strict=True):
        for named, label in example.candidates(candidates):
            rows.append(vector(named, names))
            labels.append(label)
            row_weights.append(weight)
    return rows, labels, row_weights


def out_of_fold(examples: Sequence[Example], folds: int = 5, l2: float = 1.0,
                names: Tuple[Text, ...] = BASE_FEATURES, balance: bool = False,
                candidates: int = 1) -> List[Tuple[float, int]]:
    """Each example's probability and the label of the sentence chosen, from a model
    fitted on the other folds (folds by group, so no paragraph is both trained on
    and scored)."""
    chosen: List[Tuple[float, int]] = [(0.0, 0)] * len(examples)
    for fold in range(folds):
        train = [e for e in examples if _fold(e.group, folds) != fold]
        held = [i for i, e in enumerate(examples) if _fold(e.group, folds) == fold]
        rows, labels, row_weights = _rows(train, names, candidates)
        if not held or len(set(labels)) < 2:
            continue
        weights, bias, mean, scale = fit(rows, labels, l2,
                                         sample_weights=row_weights if balance else None)
        model = AnswerabilityModel(tuple(weights), bias, tuple(mean), tuple(scale), 0.5, 0.5,
                                   "", names, candidates)
        for i in held:
            options = examples[i].candidates(candidates)
            index, probability = model.choose([named for named, _ in options])
            chosen[i] = (probability, options[index][1])
    return chosen


def rates(examples: Sequence[Example], scores: Sequence[float], answer: float,
          not_found: float) -> Dict[Text, Any]:
    """What the thresholds do to these examples: counts of each decision, for the
    questions the documents answer and for those they do not."""
    out: Dict[Text, Any] = {}
    for name, chosen in (("answerable", [not e.unanswerable for e in examples]),
                         ("unanswerable", [e.unanswerable for e in examples])):
        picked = [(e, s) for e, s, c in zip(examples, scores, chosen, strict=True) if c]
        claimed = [(e, s) for e, s in picked if s >= answer]
        out[name] = {
            "n": len(picked),
            "right": sum(e.answers for e, _ in picked),
            "claimed": len(claimed),
            "claimed_right": sum(e.answers for e, _ in claimed),
            "unsure": sum(1 for _, s in picked if not_found <= s < answer),
            "not_found": sum(1 for _, s in picked if s < not_found),
        }
    return out


# The ridge penalty, chosen on out-of-fold scores of the tune halves
# (`python -m apps.cli.answerability --examples F`, then `train` on F): 10 against 1
# answered 81 / 54 / 13 of the CMRC, project and SQuAD questions rightly (77 / 54 / 9)
# with as many unanswerable questions claimed (9 of 199); weighting each corpus
# equally changed nothing that mattered.
L2 = 10.0


def train(examples: Sequence[Example], embedding_model: Text, claim_rate: float = 0.05,
          miss_rate: float = 0.05, folds: int = 5, l2: float = L2,
          report: Optional[Dict[Text, Any]] = None, balance: bool = False,
          candidates: Optional[int] = None) -> AnswerabilityModel:
    """Fits the model on every example, with thresholds chosen on out-of-fold scores.
    With the verifier's features it chooses among `candidates` sentences (default
    `RERANK_CANDIDATES`; without them, it judges the best-ranked one).

    Raises:
        ValueError: with fewer than two labels among the examples.
    """
    if len({e.answers for e in examples}) < 2:
        raise ValueError("Training needs questions both answered and not answered.")
    verified = all(set(VERIFIER_FEATURES) <= set(e.features) for e in examples)
    names = FEATURES if verified else BASE_FEATURES
    candidates = (candidates or RERANK_CANDIDATES) if verified else 1
    chosen = out_of_fold(examples, folds, l2, names, balance, candidates)
    scores = [score for score, _ in chosen]
    labels = [label for _, label in chosen]
    answer, not_found = choose_thresholds(
        scores, labels, [e.unanswerable for e in examples], claim_rate, miss_rate)
    rows, row_labels, row_weights = _rows(examples, names, candidates)
    weights, bias, mean, scale = fit(rows, row_labels, l2,
                                     sample_weights=row_weights if balance else None)
    validation = {}
    for corpus in sorted({e.corpus for e in examples}):
        picked = [(e, s, y) for e, s, y in zip(examples, scores, labels, strict=True)
                  if e.corpus == corpus]
        validation[corpus] = rates([replace(e, answers=y) for e, _, y in picked],
                                   [s for _, s, _ in picked], answer, not_found)
        # How often a right quote was there to choose: first, or among the candidates.
        answerable = [e for e, _, _ in picked if not e.unanswerable]
        validation[corpus]["answerable"]["right_first"] = sum(e.answers for e in answerable)
        validation[corpus]["answerable"]["right_among_candidates"] = sum(
            any(y for _, y in e.candidates(candidates)) for e in answerable)
    return AnswerabilityModel(
        tuple(weights), bias, tuple(mean), tuple(scale), answer, not_found, embedding_model,
        names, candidates,
        report={**(report or {}), "examples": len(examples), "folds": folds, "l2": l2,
                "candidates": candidates, "claim_rate": claim_rate, "miss_rate": miss_rate,
                "balance": balance, "out_of_fold": validation})
