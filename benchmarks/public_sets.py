"""Public reading-comprehension sets as answer benchmarks (issue #25 item 6).

SQuAD-style JSON (`data[].paragraphs[].context`, `qas[].question`,
`qas[].answers[].text`, optional `is_impossible`) becomes a benchmark set: each
paragraph one Markdown document (titled with its article's title and the
paragraph's number), and items shaped as those of
benchmarks/data/answer_questions.yml.

    CMRC 2018 trial set (Chinese): DATASETS/cmrc2018/trial.json
    SQuAD 2.0 sample (English):    DATASETS/squad2-sample/sample.json

The data stays where it is (DATASETS defaults to ../shared/datasets beside the
repository); documents are written to a temporary folder for indexing.

Splits are deterministic (SHA-256 of the paragraph's id, never `hash()`):
- Four paragraphs or more (CMRC 2018): the paragraphs sorted by hash, half `tune`
  and half `test`; within each half, sorted by another hash, half INDEXED and half
  LEFT OUT. A question on an indexed paragraph is answerable; one on a left-out
  paragraph is unanswerable (its passage is not in the index), as is a question
  marked `is_impossible`. One index holds the indexed paragraphs of both halves
  (those of the other half are distractors); left-out paragraphs are never written.
- Fewer (the three-paragraph SQuAD sample): one index per paragraph, leaving it
  out and holding the others. In the index leaving out paragraph k, k's questions
  are asked as unanswerable and paragraph k+1's (cyclically) as answerable, so each
  question is asked twice, once each way, with each paragraph's questions
  unanswerable once. The questions (not the paragraphs: there are too few) are
  halved into `tune` and `test` by hash, so both halves read the same paragraphs.
- At most `max_questions` questions per half, chosen by the hash of their id.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, List, Sequence, Text, Tuple

ROOT = Path(__file__).resolve().parents[1]
DATASETS = ROOT.parent / "shared" / "datasets"
# name: (file under the datasets folder, language)
SETS: Dict[Text, Tuple[Text, Text]] = {
    "cmrc2018": ("cmrc2018/trial.json", "zh"),
    "squad2": ("squad2-sample/sample.json", "en"),
}
MAX_QUESTIONS = 200
SPLITS = ("tune", "test")


@dataclass(frozen=True)
class Question:
    """One question of a paragraph."""

    id: Text
    text: Text
    answers: Tuple[Text, ...]  # distinct answer spans, in the file's order
    impossible: bool = False


@dataclass(frozen=True)
class Paragraph:
    """One paragraph and its questions."""

    id: Text
    title: Text
    number: int  # 1-based, within its article
    context: Text
    questions: Tuple[Question, ...]

    @property
    def file_name(self) -> Text:
        """The document's file name: the id in ASCII letters, digits, '_' and '-'."""
        ascii_id = unicodedata.normalize("NFKD", self.id).encode("ascii", "ignore").decode()
        return re.sub(r"[^A-Za-z0-9_-]+", "_", ascii_id).strip("_") + ".md"

    def markdown(self, language: Text) -> Text:
        """The document: a title line, then the paragraph."""
        title = (f"{self.title} 第{self.number}段" if language == "zh"
                 else f"{self.title}, paragraph {self.number}")
        return f"# {title}\n\n{self.context.strip()}\n"


@dataclass
class BenchmarkSet:
    """What one index answers: its documents and the questions asked of it."""

    name: Text  # the public set (`cmrc2018`, `squad2`)
    index: Text  # which index of the set ("all", "paragraph 2 left out")
    language: Text
    documents: Dict[Text, Text] = field(default_factory=dict)  # file name: Markdown
    items: List[Dict[Text, Any]] = field(default_factory=list)
    left_out: List[Text] = field(default_factory=list)  # paragraph ids not indexed

    def write(self, folder: Path) -> List[Path]:
        """Writes the documents to index (only the indexed paragraphs) into `folder`."""
        folder.mkdir(parents=True, exist_ok=True)
        written = []
        for name, text in sorted(self.documents.items()):
            path = folder / name
            path.write_text(text, "utf-8")
            written.append(path)
        return written


def stable_hash(text: Text) -> int:
    """The same number for the same text in every run and on every machine."""
    return int(hashlib.sha256(text.encode("utf-8")).hexdigest(), 16)


def halves(ids: Sequence[Text], salt: Text) -> Tuple[List[Text], List[Text]]:
    """The ids sorted by their salted hash, cut in two (the first half the larger)."""
    ordered = sorted(ids, key=lambda i: stable_hash(f"{salt}:{i}"))
    cut = (len(ordered) + 1) // 2
    return ordered[:cut], ordered[cut:]


def load_squad(path: Path) -> List[Paragraph]:
    """The paragraphs of a SQuAD-style JSON file, in the file's order. A paragraph
    without an `id` is named by its article's title and number."""
    data = json.loads(Path(path).read_text("utf-8"))
    paragraphs = []
    for number_of_article, article in enumerate(data["data"], start=1):
        title = article.get("title") or f"article {number_of_article}"
        for number, paragraph in enumerate(article["paragraphs"], start=1):
            questions = []
            for qa in paragraph["qas"]:
                answers = tuple(dict.fromkeys(
                    a["text"].strip() for a in qa.get("answers") or [] if a["text"].strip()))
                questions.append(Question(str(qa["id"]), qa["question"].strip(), answers,
                                          bool(qa.get("is_impossible", False))))
            paragraphs.append(Paragraph(
                str(paragraph.get("id") or f"{title}-{number}"), title, number,
                paragraph["context"], tuple(questions)))
    return paragraphs


def _item(name: Text, language: Text, split: Text, paragraph: Paragraph,
          question: Question, indexed: bool) -> Dict[Text, Any]:
    """An item shaped as answer_questions.yml's."""
    answerable = indexed and not question.impossible and bool(question.answers)
    return {
        "id": f"{name}-{question.id}-{'a' if answerable else 'u'}",
        "language": language,
        "kind": "answerable" if answerable else "unanswerable",
        "split": split,
        "previous": "",
        "question": question.text,
        "facts": [list(question.answers)] if answerable else [],
        "wrong": [],
        "sources": [paragraph.file_name] if answerable else [],
    }


def _capped(items: List[Dict[Text, Any]], split: Text, max_questions: int,
            salt: Text) -> List[Dict[Text, Any]]:
    """At most `max_questions` of the split's items, chosen by hash, in their order."""
    chosen = [i for i in items if i["split"] == split]
    if max_questions and len(chosen) > max_questions:
        keep = set(sorted((i["id"] for i in chosen),
                          key=lambda i: stable_hash(f"{salt}:{i}"))[:max_questions])
        chosen = [i for i in chosen if i["id"] in keep]
    return chosen


def _wanted(split: Text) -> Tuple[Text, ...]:
    return SPLITS if split == "all" else (split,)


def split_paragraphs(paragraphs: Sequence[Paragraph]) -> Dict[Text, Tuple[Text, bool]]:
    """For four paragraphs or more: each paragraph's id with its split and whether
    it is indexed."""
    ids = [p.id for p in paragraphs]
    placed: Dict[Text, Tuple[Text, bool]] = {}
    for split, part in zip(SPLITS, halves(ids, "split"), strict=True):
        indexed, left_out = halves(part, f"index-{split}")
        placed.update({i: (split, True) for i in indexed})
        placed.update({i: (split, False) for i in left_out})
    return placed


def halved_sets(name: Text, language: Text, paragraphs: Sequence[Paragraph], split: Text,
                max_questions: int) -> List[BenchmarkSet]:
    """One index: paragraphs split into halves, each half's indexed and left out."""
    placed = split_paragraphs(paragraphs)
    result = BenchmarkSet(name, "all", language)
    items = []
    for paragraph in paragraphs:
        part, indexed = placed[paragraph.id]
        if indexed:
            result.documents[paragraph.file_name] = paragraph.markdown(language)
        else:
            result.left_out.append(paragraph.id)
        items += [_item(name, language, part, paragraph, q, indexed)
                  for q in paragraph.questions]
    for part in _wanted(split):
        result.items += _capped(items, part, max_questions, f"questions-{part}")
    return [result]


def rotated_sets(name: Text, language: Text, paragraphs: Sequence[Paragraph], split: Text,
                 max_questions: int) -> List[BenchmarkSet]:
    """For a few paragraphs: one index per paragraph left out (see the module)."""
    tune_ids, _ = halves([q.id for p in paragraphs for q in p.questions], "questions")
    tune = set(tune_ids)
    items = []
    sets = []
    for k, left in enumerate(paragraphs):
        asked = paragraphs[(k + 1) % len(paragraphs)]
        one = BenchmarkSet(name, f"paragraph {k + 1} left out", language, left_out=[left.id])
        one.documents = {p.file_name: p.markdown(language) for p in paragraphs if p is not left}
        for paragraph, indexed in ((asked, True), (left, False)):
            for q in paragraph.questions:
                part = "tune" if q.id in tune else "test"
                item = _item(name, language, part, paragraph, q, indexed)
                items.append((k, item))
        sets.append(one)
    for part in _wanted(split):
        chosen = {i["id"] for i in _capped([i for _, i in items], part, max_questions,
                                           f"questions-{part}")}
        for k, item in items:
            if item["id"] in chosen:
                sets[k].items.append(item)
    return sets


def build_sets(name: Text, datasets: Path = DATASETS, split: Text = "test",
               max_questions: int = MAX_QUESTIONS) -> List[BenchmarkSet]:
    """The indexes of a public set, each with its documents and questions.

    Args:
        name: a key of `SETS`.
        datasets: the folder holding the sets' folders.
        split: `tune`, `test` or `all`.
        max_questions: at most this many questions per split (0: all).
    """
    relative, language = SETS[name]
    return sets_from_file(name, Path(datasets) / relative, language, split, max_questions)


def sets_from_file(name: Text, path: Path, language: Text, split: Text = "test",
                   max_questions: int = MAX_QUESTIONS) -> List[BenchmarkSet]:
    """`build_sets` for any SQuAD-style file."""
    paragraphs = load_squad(path)
    build = halved_sets if len(paragraphs) >= 4 else rotated_sets
    return build(name, language, paragraphs, split, max_questions)


def all_items(sets: Iterable[BenchmarkSet]) -> List[Dict[Text, Any]]:
    """Every item of the sets."""
    return [item for one in sets for item in one.items]
